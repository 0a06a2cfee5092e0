"""Under KVM, where this machine's /dev/kvm works (the rest of the suite runs
under TCG, which has no x2APIC and delivers each level-triggered interrupt
once). QEMU's microvm is mostly run under KVM: the PVH kernel boots there, and
on q35 through SeaBIOS (INTx through KVM's in-kernel IOAPIC, and MSI-X), with
the x2APIC, serves everything (ping v4 and v6, curl, TCP and UDP echo), and
its line interrupt raises no warnings. KVM here delivers a level-triggered
interrupt a second time after the device was acknowledged, so about half of
them find InterruptStatus 0: they are counted in
kernel_interrupts_unclaimed_total, not reported (docs/interrupts.md).
QEMU's microvm documentation starts it with no PIT and no RTC: the TSC rate
then comes from kvmclock, and so does the wall clock for HTTP's Date.
kernel.efi is not run here: OVMF guests die under this host's KVM ("KVM
internal error", at an x87 instruction). Where the KVM is kvm_pvm (docs/boot.md,
"Choices") the guest runs far slower than under TCG, so the timeouts here are
generous. Needs root and a usable /dev/kvm."""

import fcntl
import functools
import os
import re
import subprocess

import pytest

import ktap
from netns import GUEST_ADDR, GUEST_STATIC_CMDLINE, PrivateNetwork, have_root
from qemu import EXIT_SUCCESS, PVH_KERNEL, QEMU, Guest
from test_pvh import serves
from test_services import CapturedGuest, curl_i, expect, expect_hosts_date, name_pcap, stats, wait_ready

KVM_GET_API_VERSION = 0xAE00


def kvm_usable():
    """Whether /dev/kvm answers (KVM_GET_API_VERSION is 12 on every KVM)."""
    try:
        fd = os.open("/dev/kvm", os.O_RDWR)
    except OSError:
        return False
    try:
        return fcntl.ioctl(fd, KVM_GET_API_VERSION) == 12
    except OSError:
        return False
    finally:
        os.close(fd)


@functools.cache
def host_cpu():
    """-cpu host, as QEMU's microvm documentation gives it, where QEMU can
    start with it. QEMU 7.2 cannot on a KVM that refuses the
    IA32_ARCH_CAPABILITIES value it reported (seen under kvm_pvm, a KVM without
    hardware virtualization: "failed to set MSR 0x10a", then an assertion,
    before the guest's first instruction); there the same CPU without that MSR,
    which no part of the kernel reads."""
    probe = subprocess.run([QEMU, "-machine", "microvm", "-accel", "kvm", "-cpu", "host", "-m", "16",
                            "-nodefaults", "-display", "none", "-S", "-monitor", "stdio"],
                           input="quit\n", capture_output=True, text=True, timeout=60)
    if "failed to set MSR 0x10a" in probe.stdout + probe.stderr:
        print("QEMU cannot start -cpu host under this KVM (MSR 0x10a): using host,-arch-capabilities")
        return ("-cpu", "host,-arch-capabilities")
    return ("-cpu", "host")


pytestmark = [
    pytest.mark.skipif(not have_root(), reason="needs root for network namespaces and tap devices"),
    pytest.mark.skipif(not kvm_usable(), reason="no usable /dev/kvm on this machine"),
    pytest.mark.skipif(not PVH_KERNEL.is_file(), reason=f"{PVH_KERNEL} is not built; run 'make'"),
]


# case -> (machine, NIC device and properties, command line extra, the interrupt line the console names)
CASES = {
    "microvm": ("microvm", "virtio-net-device", "", "",
                r"virtio: (mmio@[0-9a-f]+): interrupt line \(GSI \d+, level, active high, vector (0x[0-9a-f]+)\)"),
    # q35 under KVM has the in-kernel IOAPIC (kernel-irqchip=on): INTx goes through it.
    "q35-intx": ("q35", "virtio-net-pci", ",vectors=0,romfile=", " irq=intx", r"virtio: (\S+): INTx \(vectors (0x[0-9a-f]+)\)"),
    "q35-msix": ("q35", "virtio-net-pci", ",romfile=", "", None),
}


@pytest.mark.parametrize("case", CASES)
def test_pvh_under_kvm_serves_without_interrupt_warnings(request, tmp_path, case):
    machine, device, props, more_cmdline, line_re = CASES[case]
    with PrivateNetwork() as net:
        g = CapturedGuest(tmp_path, machine=machine, boot="pvh", memory=64, cmdline=GUEST_STATIC_CMDLINE + more_cmdline,
                          nic=net.nic(device=device, props=props), prefix=net.prefix, snaplen=160, accel="kvm")
        g.start()
        request.addfinalizer(g.kill)
        name_pcap(request, g)
        wait_ready(g, timeout=60)
        log = g.serial()
        expect(g, re.search(r"lapic: x2APIC \(MSRs\), id 0, ", log), "KVM offers the x2APIC, yet it was not used")
        line = re.search(line_re, log) if line_re else None
        expect(g, line or not line_re, "the NIC did not take its interrupt line")
        serves(g, net)
        if line:
            s = stats(g, net)
            vector = f'{{vector="{line.group(2)}"}}'
            delivered = s.get(("kernel_interrupts_total", vector), 0)
            unclaimed = s.get(("kernel_interrupts_unclaimed_total", vector))
            expect(g, delivered > 0, "the NIC's line delivered no interrupt: the transfers were polled")
            expect(g, unclaimed is not None, "/stats has no kernel_interrupts_unclaimed_total for the NIC's vector")
            expect(g, unclaimed < delivered, f"every one of {delivered} interrupts was unclaimed")
        warnings = re.findall(r"^.*irq: .*$", g.serial(), re.MULTILINE)
        expect(g, not warnings, f"interrupt warnings on the console: {warnings}")


def test_microvm_as_qemu_documents_it_takes_the_tsc_rate_from_kvmclock(tmp_path):
    """QEMU's docs/system/i386/microvm.rst starts it with pit=off, pic=off and
    rtc=off under KVM with -cpu host: nothing to measure the TSC against, so
    its rate comes from kvmclock (before it, the kernel assumed 1 GHz and its
    clock ran 2.6 times fast here). 2 s by the guest clock (selftest=timer)
    must take about 2 s: like test_interrupts', this catches a clock off by a
    factor, not a small drift."""
    with Guest(tmp_path, machine="microvm,x-option-roms=off,pit=off,pic=off,rtc=off", boot="pvh",
               cmdline="selftest=timer", nic=(), memory=64, accel="kvm", extra_args=host_cpu()) as g:
        host_seconds, status, results = ktap.run_timed_timer(g)
        assert re.search(r"boot: tsc \d+\.\d{3} MHz from kvmclock", g.serial()), g.report("the TSC rate is not kvmclock's")
        assert results.get("timer", (False, ""))[0], g.report("timer self-test failed")
        assert status == EXIT_SUCCESS, g.report(f"exit status {status}")
        assert 1.0 <= host_seconds <= 6.0, g.report(f"2 s of guest time took {host_seconds:.2f} s of host time")


def test_microvm_without_an_rtc_dates_its_responses_from_kvmclock(request, tmp_path):
    """Firecracker's machine has no CMOS RTC, nor has microvm with rtc=off:
    under KVM the wall clock comes from kvmclock's wall-clock MSR, so
    responses still carry Date (RFC 9110, 6.6.1), the host's UTC."""
    with PrivateNetwork() as net:
        g = CapturedGuest(tmp_path, machine="microvm,rtc=off", boot="pvh", memory=64, cmdline=GUEST_STATIC_CMDLINE,
                          nic=net.nic(device="virtio-net-device"), prefix=net.prefix, accel="kvm",
                          extra_args=host_cpu())
        g.start()
        request.addfinalizer(g.kill)
        wait_ready(g, timeout=60)
        expect(g, "net: wall clock from kvmclock, taken as UTC: " in g.serial(), "the wall clock is not kvmclock's")
        expect_hosts_date(g, curl_i(g, net, f"http://{GUEST_ADDR}/hello"), "/hello")
