"""The PVH entry (build/kernel-pvh.elf, no OVMF): boots and serves on q35 and
pc through SeaBIOS's PVH option ROM (the whole PCI path, MSI-X and INTx), on
microvm's PCI Express host (pcie=on), and on QEMU microvm: the start_info
hand-off, the clock without port 0x61, small memory. Each machine: boot,
ping v4 and v6, curl, TCP echo byte-exact, UDP echo. Network tests need
root."""

import re
import socket

import pytest

from netns import GUEST_ADDR, GUEST_STATIC_CMDLINE, TAP, PrivateNetwork, have_root
import ktap
from qemu import EXIT_PANIC, EXIT_SUCCESS, PVH_KERNEL, Guest
from test_services import (GUEST_LL, CapturedGuest, check_healthy, connect, curl_i, expect, inside, name_pcap,
                           ping, start_guest, tcp_echo, udp_echo, wait_ipv6, wait_ready)

needs_root = pytest.mark.skipif(not have_root(), reason="needs root for network namespaces and tap devices")
needs_pvh = pytest.mark.skipif(not PVH_KERNEL.is_file(), reason=f"{PVH_KERNEL} is not built; run 'make'")
pytestmark = [needs_pvh]

INIT_DONE = r"init: done in (\d+)\.(\d{3}) ms since PVH entry"


def serves(g, net, echo_bytes=1 << 20):
    """Everything a user does with the guest, each checked."""
    ping(g, net, GUEST_ADDR)
    wait_ipv6(g, net)
    ping(g, net, "-6", f"{GUEST_LL}%{TAP}")
    r = curl_i(g, net, f"http://{GUEST_ADDR}/")
    expect(g, r.status == 200 and b"<html" in r.body, f"curl /: {r}")
    with connect(net, (GUEST_ADDR, 7), g=g) as s:
        tcp_echo(g, s, echo_bytes, seed=14)
    with inside(net):
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with u:
        losses, missing = udp_echo(g, u, [1, 100, 1000, 1472], seed=14, addr=(GUEST_ADDR, 7))
    expect(g, not missing, f"UDP echo: sizes {missing} never came back")
    check_healthy(g, "after serving")


PCI_MODES = {
    "msix": ("irq=msix", "", "MSI-X per queue"),
    "intx": ("irq=intx", ",vectors=0", "INTx"),
}


@needs_root
@pytest.mark.parametrize("mode", PCI_MODES)
@pytest.mark.parametrize("machine", ["q35", "pc"])
def test_pvh_on_seabios_serves(request, tmp_path, machine, mode):
    """SeaBIOS loads the PVH kernel; the PCI path is the one OVMF boots use."""
    irq, props, expected = PCI_MODES[mode]
    with PrivateNetwork() as net:
        g = start_guest(tmp_path, net, machine=machine, cmdline=f"{GUEST_STATIC_CMDLINE} {irq}",
                        props=props + ",romfile=", boot="pvh", snaplen=160)
        request.addfinalizer(g.kill)
        name_pcap(request, g)
        wait_ready(g)
        log = g.serial()
        expect(g, re.search(r"boot: PVH: \d+ memory ranges, 0 modules, ACPI RSDP at 0x[0-9a-f]+", log),
               "no PVH hand-off line with an RSDP")
        expect(g, re.search(rf"virtio: \S+: {expected}", log), f"interrupt mode is not {expected}")
        serves(g, net)


@needs_root
def test_pvh_pc_without_acpi_takes_pci_intx_as_level(request, tmp_path):
    """pc with -no-acpi: SeaBIOS leaves an MP table, and INTx reaches an ISA
    IRQ through the PIIX's PIRQ lines. PCI interrupts are level-triggered
    (SeaBIOS's MP entries for the PCI bus say so, as QEMU's MADT does with
    ACPI); the ISA default the IRQ had without an override, edge, loses an
    interrupt that comes while a line shared with another device is still
    high."""
    with PrivateNetwork() as net:
        g = CapturedGuest(tmp_path, machine="pc", cmdline=f"{GUEST_STATIC_CMDLINE} irq=intx", boot="pvh",
                          nic=net.nic(props=",vectors=0,romfile="), prefix=net.prefix, snaplen=160,
                          extra_args=("-no-acpi",))
        request.addfinalizer(g.kill)
        g.start()
        name_pcap(request, g)
        wait_ready(g)
        log = g.serial()
        expect(g, "acpi: no RSDP: the platform has no ACPI tables" in log and "mptable: MP 1.4 table" in log,
               "not booted without ACPI from an MP table")
        expect(g, re.search(r"pci: 00:03\.0: INTx pin A -> GSI 1[01] \(level, active high\) -> vector", log),
               "the NIC's INTx is not level-triggered, active high")
        serves(g, net)


# microvm,pcie=on: a PCI Express host that only the DSDT describes (no MCFG:
# ECAM from the host bridge's _CBA), with no firmware to place BARs or number
# bridges (qboot knows only the 0xCF8 ports, which microvm lacks), and INTx
# through _PRT's link devices: GSI 16-19 on the second IOAPIC's machine,
# 12-15 with one. On the root bus the NIC sits at 00:01.0, so its pin A
# reaches link (1 + 0) % 4; behind a root port at slot 2 it is 01:00.0 (only
# modern there), and its pin A arrives at the port's slot as pin A: link 2.
ROOT_PORT_AT_2 = ("-device", "pcie-root-port,id=rp1,bus=pcie.0,addr=2,chassis=1")
MICROVM_PCIE = {
    #  name: (machine, command line, device properties, interrupt mode line, NIC, its GSI, behind a root port)
    "msix": ("microvm,pcie=on", "irq=msix", "", "MSI-X per queue", "00:01.0 1af4:1000", 17, False),
    "intx": ("microvm,pcie=on", "irq=intx", ",vectors=0", "INTx", "00:01.0 1af4:1000", 17, False),
    "intx-one-ioapic": ("microvm,pcie=on,ioapic2=off", "irq=intx", ",vectors=0", "INTx", "00:01.0 1af4:1000", 13,
                        False),
    "intx-behind-root-port": ("microvm,pcie=on", "irq=intx", ",vectors=0,bus=rp1", "INTx", "01:00.0 1af4:1041", 18,
                              True),
}


@needs_root
@pytest.mark.parametrize("case", MICROVM_PCIE)
def test_pvh_microvm_pcie_serves(request, tmp_path, case):
    machine, irq, props, expected, nic, gsi, root_port = MICROVM_PCIE[case]
    with PrivateNetwork() as net:
        g = CapturedGuest(tmp_path, machine=machine, cmdline=f"{GUEST_STATIC_CMDLINE} {irq}", boot="pvh",
                          nic=(ROOT_PORT_AT_2 if root_port else ()) + net.nic(props=props + ",romfile="),
                          prefix=net.prefix, snaplen=160)
        request.addfinalizer(g.kill)
        g.start()
        name_pcap(request, g)
        wait_ready(g)
        log = g.serial()
        expect(g, "pci: config access through ECAM at 0xe0000000 (buses 0-255) from the host bridge's _CBA" in log,
               "ECAM not taken from the host bridge's _CBA")
        expect(g, re.search(rf"pci: {nic} .*bar4=mem64p@0xc[0-9a-f]{{7}}/16K intA=gsi{gsi}$", log, re.MULTILINE),
               f"the NIC's BAR is not in the host bridge's window or its pin A is not on GSI {gsi}")
        if root_port:
            expect(g, "pci: 00:02.0: bridge given bus 1-1, memory window 0xc0100000-0xc01fffff" in log,
                   "the root port was not numbered with a window over the NIC's BARs")
        else:
            expect(g, "pci: 00:01.0: BAR0 (io, 32 bytes) stays off: no I/O window" in log,
                   "the legacy I/O BAR was not reported off")
        expect(g, re.search(rf"virtio: \S+: {expected}", log), f"interrupt mode is not {expected}")
        serves(g, net)


def test_pvh_microvm_boots_without_port_0x61(tmp_path):
    """microvm has a PIT but no speaker port: channel 0 calibrates the clock;
    with no NIC the guest still finishes init, saying so."""
    with Guest(tmp_path, machine="microvm", boot="pvh", cmdline="ip=10.0.2.15/24", nic=(), memory=64) as g:
        g.wait_for(INIT_DONE, timeout=60)
        log = g.serial()
        assert re.search(r"boot: tsc \d+\.\d{3} MHz from PIT channel 0", log), g.report("clock not from PIT channel 0")
        assert "net: no network interface" in log, g.report("no line about the missing NIC")
        assert "pic: 8259s remapped to vectors 0x20-0x2f and masked" in log, g.report("microvm's PIC not found")
        assert "PANIC" not in log, g.report("PANIC")


def test_pvh_microvm_without_acpi_or_pit_still_boots(tmp_path):
    """Nothing to calibrate against but the RTC, no ACPI: console lines, not a hang."""
    with Guest(tmp_path, machine="microvm,acpi=off,pit=off", boot="pvh", cmdline="", nic=(), memory=64) as g:
        g.wait_for(INIT_DONE, timeout=60)
        log = g.serial()
        assert re.search(r"boot: tsc \d+\.\d{3} MHz from the RTC", log), g.report("clock not from the RTC")
        assert "PANIC" not in log, g.report("PANIC")


def test_pvh_microvm_without_pit_or_rtc_times_by_the_lapic_timer(tmp_path):
    """QEMU's documented microvm line (pit=off, pic=off, rtc=off) without KVM:
    no PIT, RTC, CPUID frequency or kvmclock. The TSC's rate then comes from
    the LAPIC timer, which QEMU clocks at 1 GHz; before, the kernel assumed a
    1 GHz TSC and its clock ran 2.6 times fast on a 2.6 GHz host. 2 s by the
    guest clock (selftest=timer) must take about 2 s: a clock off by a
    factor, not a small drift (as test_kvm's kvmclock case)."""
    with Guest(tmp_path, machine="microvm,x-option-roms=off,pit=off,pic=off,rtc=off", boot="pvh",
               cmdline="selftest=timer", nic=(), memory=64) as g:
        host_seconds, status, results = ktap.run_timed_timer(g)
        assert 1.2 <= host_seconds <= 6.0, g.report(f"2 s of guest time took {host_seconds:.2f} s of host time")
        assert re.search(r"boot: tsc \d+\.\d{3} MHz from the LAPIC timer", g.serial()), g.report("rate not from the LAPIC timer")
        assert results.get("timer", (False, ""))[0], g.report("timer self-test failed")
        assert status == EXIT_SUCCESS, g.report(f"exit status {status}")


@pytest.mark.parametrize("machine,cpu", [("microvm", "qemu32"), ("pc", "pentium3"), ("q35", "qemu64,-lm")])
def test_pvh_on_a_cpu_without_long_mode_says_so(tmp_path, machine, cpu):
    """A 32-bit CPU model (a wrong -cpu) is refused by the 32-bit entry with a
    PANIC line and status 37; before, the first 64-bit step faulted and QEMU
    ended with an empty console."""
    with Guest(tmp_path, machine=machine, boot="pvh", nic=(), memory=64, extra_args=("-cpu", cpu)) as g:
        status = g.wait_exit(timeout=60)
        assert "PANIC: this CPU has no long mode (x86-64), which the kernel needs\n" in g.serial(), \
            g.report("no PANIC line about long mode")
        assert status == EXIT_PANIC, g.report(f"exit status {status}, expected {EXIT_PANIC}")


@pytest.mark.parametrize("machine", ["microvm", "q35"])
def test_pvh_on_a_cpu_without_a_local_apic_says_so(tmp_path, machine):
    """-cpu qemu64,-apic: the MADT still names a LAPIC, but nothing answers
    there, so no interrupt can arrive. A PANIC that says so; before, the
    guest printed READY and then served nothing."""
    with Guest(tmp_path, machine=machine, boot="pvh", nic=(), memory=64, extra_args=("-cpu", "qemu64,-apic")) as g:
        status = g.wait_exit(timeout=60)
        assert re.search(r"^PANIC: init: LAPIC at 0x[0-9a-f]+: the CPU has none$", g.serial(), re.MULTILINE), \
            g.report("no PANIC line about the missing LAPIC")
        assert "READY" not in g.serial(), g.report("READY without a LAPIC")
        assert status == EXIT_PANIC, g.report(f"exit status {status}, expected {EXIT_PANIC}")


def test_pvh_microvm_without_a_pic_says_so(tmp_path):
    """microvm,pic=off (QEMU's documented minimal microvm): the 8259 pair is
    probed (a mask must read back), not assumed remapped."""
    with Guest(tmp_path, machine="microvm,pic=off", boot="pvh", cmdline="ip=10.0.2.15/24", nic=(), memory=64) as g:
        g.wait_for(INIT_DONE, timeout=60)
        log = g.serial()
        assert "pic: none (its mask register does not read back)" in log, g.report("no line about the missing PIC")
        assert "pic: 8259s remapped" not in log, g.report("a PIC that is not there was said to be remapped")
        assert "PANIC" not in log, g.report("PANIC")


@needs_root
def test_pvh_microvm_takes_a_linux_command_line(request, tmp_path):
    """A command line written for a Linux guest, as Firecracker's guides give
    it (no ACPI, the NIC on the command line QEMU appends): Linux's ip= form
    sets the static address with its netmask and gateway, console=ttyS0 is
    taken silently, pci=off leaves PCI unprobed (panic=1 and reboot=k:
    test_boot), and the words for Linux's modules of Firecracker's default
    line are counted in one line, not reported one by one."""
    cmdline = ("console=ttyS0 reboot=k panic=1 pci=off nomodule 8250.nr_uarts=0 i8042.noaux i8042.nomux "
               "i8042.nopnp i8042.dumbkbd ip=10.0.2.15::10.0.2.2:255.255.255.128::eth0:off")
    with PrivateNetwork() as net:
        g = start_guest(tmp_path, net, machine="microvm,acpi=off", boot="pvh", cmdline=cmdline, memory=64)
        request.addfinalizer(g.kill)
        wait_ready(g)
        log = g.serial()
        expect(g, "net: en0 up, ipv4 10.0.2.15 netmask 255.255.255.128 gw 10.0.2.2\n" in log,
               "the static address of Linux's ip= form is not what came up")
        said = re.findall(r"cmdline: (.*)", log)  # QEMU appends virtio_mmio.device= to the line
        expect(g, len(said) == 2 and said[0].startswith(f'"{cmdline} virtio_mmio.device=') and
               said[1] == "6 words for Linux's modules ignored (nomodule, module.param)", f"cmdline lines: {said}")
        expect(g, "pci: none probed (pci=off)\n" in log and "pci: 0 functions" not in log, "pci=off not taken")
        serves(g, net, echo_bytes=1 << 16)


@needs_root
def test_pvh_microvm_pci_and_mmio_nics_together(request, tmp_path):
    """Both transports at once on microvm,pcie=on: en0 is the PCI NIC on the
    tap (static address), en1 a virtio-mmio NIC on QEMU's user network, whose
    DHCP server hands out the same 10.0.2.15. Both come up, en0 answers, and
    the console says the two share an address: lwIP routes by the first
    interface that matches, so the other would receive and never answer."""
    with PrivateNetwork() as net:
        user_nic = ("-netdev", "user,id=n1,restrict=on", "-device", "virtio-net-device,netdev=n1")
        g = CapturedGuest(tmp_path, machine="microvm,pcie=on", cmdline=GUEST_STATIC_CMDLINE, boot="pvh",
                          nic=net.nic(props=",romfile=") + user_nic, prefix=net.prefix, snaplen=160)
        request.addfinalizer(g.kill)
        g.start()
        name_pcap(request, g)
        wait_ready(g)
        g.wait_for(r"net: en1 up, ipv4 10\.0\.2\.15 netmask 255\.255\.255\.0 gw \S+ \(DHCP\)\n", timeout=30)
        g.wait_for(r"net: en1 and en0 both have 10\.0\.2\.15: replies leave by one of them only\n", timeout=5)
        log = g.serial()
        expect(g, "net: en0 on 00:01.0, mac 52:54:00:12:34:56" in log, "en0 is not the PCI NIC")
        expect(g, re.search(r"net: en1 on mmio@feb0[0-9a-f]{4}, mac 52:54:00:12:34:57", log), "en1 is not the mmio NIC")
        ping(g, net, GUEST_ADDR)
