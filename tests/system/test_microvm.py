"""The virtio-mmio transport on QEMU's microvm (build/kernel-pvh.elf): the NIC
found in the ACPI DSDT (ACPI on) or on the command line QEMU appends
(acpi=off, with the MP table for the interrupt controllers), on the version 2
interface (-global virtio-mmio.force-legacy=off) and the legacy version 1
(QEMU 7.2's default for virtio-mmio), with its interrupt line and with
irq=poll. Each: boot, ping v4 and v6, curl, TCP echo byte-exact, UDP echo.
The driver's recovery over the transport (a reset, the queues placed again)
under a running transfer: NEEDS_RESET through the configuration bit of
InterruptStatus on version 2, the legacy device that just stops, a broken
queue, and a link flap. Then windows that hold no NIC (an empty transport
slot, nothing at all, a malformed word) are refused with a line and the real
NIC still comes up. Network tests need root."""

import re
import time

import pytest

from netns import GUEST_ADDR, GUEST_STATIC_CMDLINE, PrivateNetwork, have_root
from qemu import PVH_KERNEL, Guest
from test_device_faults import Transfer, check_recovery, inject, nic_stats, still_serves
from test_pvh import serves
from test_services import CapturedGuest, connect, expect, name_pcap, tcp_echo, wait_ready

needs_root = pytest.mark.skipif(not have_root(), reason="needs root for network namespaces and tap devices")
needs_pvh = pytest.mark.skipif(not PVH_KERNEL.is_file(), reason=f"{PVH_KERNEL} is not built; run 'make'")
pytestmark = [needs_pvh]

MODERN = ("-global", "virtio-mmio.force-legacy=off")
LEGACY = ("-global", "virtio-mmio.force-legacy=on")
HEX = r"0x[0-9a-f]+"

# case -> (machine, extra QEMU arguments, command line extra, where the window comes from, version, interrupts,
#          NIC properties)
CASES = {
    "acpi-v2": ("microvm", MODERN, "", "ACPI", 2, "line", ""),
    "acpi-v1-legacy": ("microvm", LEGACY, "", "ACPI", 1, "line", ""),
    "cmdline-v2": ("microvm,acpi=off", MODERN, "", "cmdline", 2, "line", ""),
    "cmdline-v1-legacy": ("microvm,acpi=off", LEGACY, "", "cmdline", 1, "line", ""),
    "acpi-v2-poll": ("microvm", MODERN, " irq=poll", "ACPI", 2, "poll", ""),
    # The packed ring (issue 18) on the transport microVMs use: version 2 only.
    "acpi-v2-packed": ("microvm", MODERN, "", "ACPI", 2, "line", ",packed=on"),
    "cmdline-v2-packed-poll": ("microvm,acpi=off", MODERN, " irq=poll", "cmdline", 2, "poll", ",packed=on"),
    # A device that reaches memory through the platform: ACCESS_PLATFORM accepted.
    "acpi-v2-access-platform": ("microvm", MODERN, "", "ACPI", 2, "line", ",iommu_platform=on"),
}


def start_microvm(tmp_path, net, machine, extra_args, cmdline, props=""):
    g = CapturedGuest(tmp_path, machine=machine, boot="pvh", memory=64, cmdline=cmdline, extra_args=extra_args,
                      nic=net.nic(device="virtio-net-device", props=props), prefix=net.prefix, snaplen=160)
    return g.start()


@needs_root
@pytest.mark.parametrize("case", CASES)
def test_microvm_virtio_mmio_serves(request, tmp_path, case):
    machine, extra, more_cmdline, source, version, irq, props = CASES[case]
    with PrivateNetwork() as net:
        g = start_microvm(tmp_path, net, machine, extra, GUEST_STATIC_CMDLINE + more_cmdline, props)
        request.addfinalizer(g.kill)
        name_pcap(request, g)
        wait_ready(g, timeout=60)
        log = g.serial()
        window = re.search(rf"virtio-mmio: 1 window: ({HEX})\+0x200 GSI (\d+) level/high \({source}\)", log)
        expect(g, window, f"no virtio-mmio window from {source}")
        base = int(window.group(1), 16)
        name = f"mmio@{base:x}"
        expect(g, re.search(rf"virtio: {name}: virtio-mmio version {version}, device id 1, ", log),
               f"{name} is not a version {version} network device")
        features = re.search(rf"virtio: {name}: mmio version {version} .*transport, features .* offered: (.*)", log)
        expect(g, features, "no feature line")
        expect(g, ("RING_PACKED" in features.group(1).split()) == ("packed=on" in props),
               f"the ring negotiated does not follow the device ({props or 'split only'})")
        # No PCI here (pcie=off): nothing to route, so no chipset to warn about.
        expect(g, "pci: 0 functions" in log and "pci: unknown chipset" not in log,
               "a machine without PCI found functions or warned about its chipset")
        if source == "cmdline":
            expect(g, "acpi: no RSDP" in log, "acpi=off, yet ACPI was found")
            expect(g, re.search(r"mptable: MP 1\.4 table at 0x9fc10: LAPIC at 0xfee00000, 1 CPU, 1 IOAPIC", log),
                   "the interrupt controllers did not come from qboot's MP table")
        if irq == "line":
            gsi = window.group(2)
            expect(g, re.search(rf"virtio: {name}: interrupt line \(GSI {gsi}, level, active high, vector {HEX}\)",
                                log), "the NIC's interrupt line was not routed as declared")
        else:
            expect(g, re.search(rf"virtio: {name}: none \(polling\)", log), "irq=poll took an interrupt")
        serves(g, net)


# The NIC microvm's DSDT describes: transport 23, the last slot with the second IOAPIC.
ACPI_NIC = "mmio@feb02e00"

# fault -> (QEMU arguments, what the guest is asked, the line that says why it resets, counters)
FAULTS = {
    "v2-needs-reset": (MODERN, "device-error", "device set NEEDS_RESET",
                       {"virtio_net_needs_reset_total": 1, "virtio_net_queues_broken_total": 0}),
    "v1-legacy-stops": (LEGACY, "device-error", r"transmit timed out \(no completion for 2 s\)",
                        {"virtio_net_needs_reset_total": 0, "virtio_net_tx_timeouts_total": 1}),
    "v2-broken-queue": (MODERN, "bad-used-id", "transmit queue broken",
                        {"virtio_net_queues_broken_total": 1, "virtio_net_needs_reset_total": 0}),
}


@needs_root
@pytest.mark.parametrize("fault", FAULTS)
def test_microvm_recovers_mid_transfer(request, tmp_path, fault):
    extra, ask, why, counters = FAULTS[fault]
    with PrivateNetwork() as net:
        g = start_microvm(tmp_path, net, "microvm", extra, GUEST_STATIC_CMDLINE + " faults=on")
        request.addfinalizer(g.kill)
        wait_ready(g, timeout=60)
        transfer = Transfer(g, net, seed=14)
        time.sleep(1.0)
        reply = inject(net, ask)
        assert reply in (None, f"ok {ask} on {ACPI_NIC}\n"), g.report(f"fault port replied {reply!r}")
        check_recovery(g, net, transfer, rf"virtio-net: {ACPI_NIC}: {why}: resetting the device", counters,
                       nic=ACPI_NIC)


@needs_root
@pytest.mark.parametrize("extra", [MODERN, LEGACY], ids=["v2", "v1-legacy"])
def test_microvm_link_flap_is_a_configuration_interrupt(request, tmp_path, extra):
    """set_link raises InterruptStatus bit 1 on the device's line: the link
    goes down and up under a transfer, with no reset."""
    with PrivateNetwork() as net:
        g = start_microvm(tmp_path, net, "microvm", extra, GUEST_STATIC_CMDLINE)
        request.addfinalizer(g.kill)
        wait_ready(g, timeout=60)
        transfer = Transfer(g, net, seed=15)
        time.sleep(1.0)
        g.monitor("set_link n0 off")
        g.wait_for(r"net: en0 link down", timeout=20)
        time.sleep(2.0)
        mark = len(g.serial())  # "link up" is on the boot log too
        g.monitor("set_link n0 on")
        g.wait_for(r"net: en0 link up", timeout=20, after=mark)
        transfer.finish()
        still_serves(g, net)
        stats = nic_stats(g, net, ACPI_NIC)
        assert stats["virtio_net_device_resets_total"] == 0, g.report("a link flap reset the device")


@needs_root
def test_microvm_link_down_while_the_peer_reads_nothing(request, tmp_path):
    """The peer stops reading: its window closes and the guest's echo probes
    it (the persist timer). The link then goes down for 3 s, so the probes
    cannot leave. lwIP retried a probe that could not leave at every slow
    tick (80 ms here) and counted each, and 12 ended the connection a second
    into the outage: once the link was back, the peer got a reset. Now a
    probe that cannot leave backs off as a sent one does."""
    with PrivateNetwork() as net:
        g = start_microvm(tmp_path, net, "microvm", MODERN, GUEST_STATIC_CMDLINE)
        request.addfinalizer(g.kill)
        wait_ready(g, timeout=60)

        def outage():
            time.sleep(2.0)  # nothing read: the windows close both ways
            g.monitor("set_link n0 off")
            g.wait_for(r"net: en0 link down", timeout=20)
            time.sleep(3.0)
            g.monitor("set_link n0 on")
            deadline = time.monotonic() + 20
            while g.serial().count("net: en0 link up") < 2 and time.monotonic() < deadline:
                time.sleep(0.1)
        with connect(net, (GUEST_ADDR, 7), g=g) as s:
            # The writer blocks through the outage: a stall limit past it.
            tcp_echo(g, s, 2 << 20, seed=16, stall=30.0, before_reading=outage)
        still_serves(g, net)


def refusal_lines(tmp_path, cmdline):
    """Boot microvm,acpi=off with a NIC that has no backend (no traffic leaves
    QEMU) and extra windows on the command line; returns the serial log at READY."""
    nic = ("-device", "virtio-net-device")
    with Guest(tmp_path, machine="microvm,acpi=off", boot="pvh", memory=64, cmdline=cmdline, nic=nic,
               extra_args=MODERN) as g:
        g.wait_for(r"^READY ", timeout=60)
        log = g.serial()
        assert "PANIC" not in log, g.report("PANIC")
        return g, log


def test_microvm_windows_without_a_nic_are_refused(tmp_path):
    """microvm's transport 0 is empty (QEMU puts the NIC in the last slot),
    nothing answers at 0xd0000000, a word is malformed: each one line, and the
    NIC QEMU appended still comes up."""
    g, log = refusal_lines(tmp_path, f"{GUEST_STATIC_CMDLINE} virtio_mmio.device=512@0xfeb00000:5 "
                                     "virtio_mmio.device=4K@0xd0000000:6 virtio_mmio.device=512@feb00000")
    assert "cmdline: virtio_mmio.device=512@feb00000 is not SIZE@BASE:IRQ[:ID], ignored" in log, \
        g.report("the malformed word was not reported")
    assert "virtio: mmio@feb00000: device id 0: an empty transport slot, skipped" in log, \
        g.report("the empty slot was not reported")
    assert re.search(r"virtio: mmio@d0000000: magic 0x[0-9a-f]+ is not \"virt\" \(0x74726976\): no virtio-mmio "
                     r"device, skipped", log), g.report("the window with nothing behind it was not reported")
    assert re.search(r"virtio-net: mmio@feb00e00: mac 52:54:00:", log), g.report("the real NIC is missing")
    assert len(re.findall(r"virtio-net: mmio@\S+: mac ", log)) == 1, g.report("more than one NIC")
