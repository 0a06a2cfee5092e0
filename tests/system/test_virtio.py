"""The virtio core against QEMU's virtio-net: transports (modern, transitional,
legacy-only), feature negotiation, the interrupt vector fallback chain, and
packed rings (VIRTIO_F_RING_PACKED): negotiated whenever a modern device
offers them unless packed=off, never on the legacy interface, and serving
the network in every interrupt mode and ring toggle on q35, pc and behind a
PCIe root port (the packed matrix needs root for its namespace)."""

import re
import socket

import pytest

from netns import GUEST_ADDR, GUEST_STATIC_CMDLINE, TAP, PrivateNetwork, have_root
from qemu import KERNEL, TIMESTAMP
from test_services import (CURL, CapturedGuest, check_healthy, connect, expect, inside, ll_scope, name_pcap, ping,
                           run, stats, tcp_echo, udp_echo, wait_ipv6, wait_ready, GUEST_LL)

NIC_SLOT = {"q35": "00:02.0", "pc": "00:03.0"}
QUEUES = r"rx 256 entries, tx 256 entries, ctrl 64 entries"
HEX = r"0x[0-9a-f]+"

# The network features negotiated everywhere here, in bit order (QEMU's user
# network has no vnet header, so QEMU offers no checksum offload here).
NET = "MAC MRG_RXBUF STATUS CTRL_VQ CTRL_RX GUEST_ANNOUNCE"
DEVICE_MODES = {
    # name: (device properties, transport, features that must be negotiated)
    "modern": (",disable-legacy=on", "modern", f"{NET} INDIRECT_DESC EVENT_IDX VERSION_1"),
    "transitional": ("", "modern", f"{NET} INDIRECT_DESC EVENT_IDX VERSION_1"),
    "legacy": (",disable-modern=on", "legacy", f"{NET} ANY_LAYOUT INDIRECT_DESC EVENT_IDX"),
    # Packed rings when offered: on the modern transport only (the legacy
    # interface has 32 feature bits; bit 34 cannot be offered there).
    "modern-packed": (",disable-legacy=on,packed=on", "modern", f"{NET} INDIRECT_DESC EVENT_IDX VERSION_1 RING_PACKED"),
    "transitional-packed": (",packed=on", "modern", f"{NET} INDIRECT_DESC EVENT_IDX VERSION_1 RING_PACKED"),
    "legacy-packed": (",disable-modern=on,packed=on", "legacy", f"{NET} ANY_LAYOUT INDIRECT_DESC EVENT_IDX"),
    # A device that reaches memory through the platform (QEMU refuses
    # FEATURES_OK unless the driver accepts ACCESS_PLATFORM).
    "modern-access-platform": (",disable-legacy=on,iommu_platform=on", "modern",
                               f"{NET} INDIRECT_DESC EVENT_IDX VERSION_1 ACCESS_PLATFORM"),
}


def boot(guest, machine="q35", props="", cmdline=None):
    g = guest(machine, cmdline=cmdline,
              nic=("-netdev", "user,id=n0,restrict=on", "-device", f"virtio-net-pci,netdev=n0{props}"))
    g.wait_for("init: done")
    return g


def virtio_line(g, machine, body):
    slot = re.escape(NIC_SLOT[machine])
    match = re.search(rf"^{TIMESTAMP}virtio: {slot}: {body}$", g.serial(), re.MULTILINE)
    if not match:
        g.fail(f"no line 'virtio: {NIC_SLOT[machine]}: {body}'")
    return match


@pytest.mark.parametrize("machine", ["q35", "pc"])
@pytest.mark.parametrize("mode", DEVICE_MODES)
def test_device_reaches_driver_ok(guest, machine, mode):
    props, transport, features = DEVICE_MODES[mode]
    g = boot(guest, machine, props)
    virtio_line(g, machine, rf"{transport} transport, features {HEX} of {HEX} offered: {features}")
    virtio_line(g, machine, rf"MSI-X per queue \(vectors {HEX} {HEX} {HEX}\), {QUEUES}")
    status = virtio_line(g, machine, r"DRIVER_OK \(status (0x[0-9a-f]+)\)").group(1)
    # ACKNOWLEDGE | DRIVER | DRIVER_OK, plus FEATURES_OK on the modern transport.
    assert status == ("0xf" if transport == "modern" else "0x7"), status
    assert re.search(rf"virtio-net: {re.escape(NIC_SLOT[machine])}: mac 52:54:00:12:34:56, .*, link up", g.serial()), \
        g.report("no virtio-net line with the MAC and link up")
    assert "broken" not in g.serial() and "FAILED" not in g.serial()


@pytest.mark.parametrize("machine", ["q35", "pc"])
@pytest.mark.parametrize("vectors,expected", [
    ("", rf"MSI-X per queue \(vectors {HEX} {HEX} {HEX}\)"),
    (",vectors=2", rf"MSI-X shared \(vectors {HEX} {HEX}\)"),
    (",vectors=0", rf"INTx \(vectors {HEX}\)"),
])
def test_vector_fallback_chain(guest, machine, vectors, expected):
    g = boot(guest, machine, vectors)
    virtio_line(g, machine, rf"{expected}, {QUEUES}")


@pytest.mark.parametrize("irq,expected", [
    ("shared", rf"MSI-X shared \(vectors {HEX} {HEX}\)"),
    ("intx", rf"INTx \(vectors {HEX}\)"),
    ("poll", r"none \(polling\)"),
])
def test_irq_mode_forced_from_command_line(guest, irq, expected):
    g = boot(guest, cmdline=f"irq={irq}")
    virtio_line(g, "q35", rf"{expected}, {QUEUES}")


def test_access_platform_behind_an_iommu(guest):
    """The device behind QEMU's vIOMMU (intel-iommu, iommu_platform=on, ats=on),
    under OVMF: ACCESS_PLATFORM is accepted, the IOMMU's translation stays off,
    so the physical addresses the driver gives are the device's DMA addresses.
    A DHCP lease from QEMU's user network proves both directions."""
    g = guest("q35,kernel-irqchip=split", cmdline="ip=dhcp",
              nic=("-device", "intel-iommu,intremap=off", "-netdev", "user,id=n0,restrict=on",
                   "-device", "virtio-net-pci,netdev=n0,disable-legacy=on,iommu_platform=on,ats=on"))
    g.wait_for(r"net: en0 up, ipv4 10\.0\.2\.15 netmask 255\.255\.255\.0 .*\(DHCP\)$", timeout=90)
    virtio_line(g, "q35", rf"modern transport, features {HEX} of {HEX} offered: .* VERSION_1 ACCESS_PLATFORM")
    assert "acpi: XSDT tables: " in g.serial() and " DMAR" in g.serial(), g.report("no DMAR table: no vIOMMU")
    assert "broken" not in g.serial() and "FAILED" not in g.serial()


def test_ring_and_control_features_can_be_switched_off(guest):
    g = boot(guest, cmdline="indirect=off event_idx=off ctrl=off")
    virtio_line(g, "q35", rf"modern transport, features {HEX} of {HEX} offered: MAC MRG_RXBUF STATUS VERSION_1")
    virtio_line(g, "q35", r"MSI-X per queue \(vectors 0x[0-9a-f]+ 0x[0-9a-f]+ 0x[0-9a-f]+\), rx 256 entries, tx 256 entries")
    assert "receive filter" not in g.serial(), g.report("a receive filter set with ctrl=off")


def test_packed_rings_can_be_switched_off(guest):
    """packed=off: a device that offers packed rings gets split ones."""
    g = boot(guest, props=",disable-legacy=on,packed=on", cmdline="packed=off")
    offered = virtio_line(g, "q35", rf"modern transport, features ({HEX}) of ({HEX}) offered: "
                                    rf"{NET} INDIRECT_DESC EVENT_IDX VERSION_1")
    assert int(offered.group(2), 16) & (1 << 34), g.report("the device did not offer VIRTIO_F_RING_PACKED")
    assert not int(offered.group(1), 16) & (1 << 34), g.report("VIRTIO_F_RING_PACKED negotiated with packed=off")
    virtio_line(g, "q35", r"DRIVER_OK \(status 0xf\)")


# -- packed rings on the network: the matrix ------------------------------------

ROOT_PORT = ("-device", "pcie-root-port,id=rp1,bus=pcie.0,addr=7,chassis=1")
PACKED_DEVICE = ",disable-legacy=on,packed=on"
# Each interrupt mode and each ring toggle at least once, each machine and the
# root port at least once, without a boot per combination (a boot costs ~3 s
# of firmware under TCG):
#   name: (machine, behind a root port, command line, device properties, interrupt mode line)
PACKED_CELLS = {
    "q35-msix": ("q35", False, "irq=msix", "", "MSI-X per queue"),
    "pc-shared-indirect-off": ("pc", False, "irq=shared indirect=off", "", "MSI-X shared"),
    "rootport-intx-event_idx-off": ("q35", True, "irq=intx event_idx=off", ",vectors=0", "INTx"),
    "pc-poll-both-off": ("pc", False, "irq=poll indirect=off event_idx=off", "", r"none \(polling\)"),
}
NIC_SLOTS = {("q35", False): "00:02.0", ("pc", False): "00:03.0", ("q35", True): "01:00.0"}


def expect_features(g, slot, cmdline):
    """The feature line names RING_PACKED, and each ring toggle exactly when it is on."""
    m = re.search(rf"virtio: {re.escape(slot)}: modern transport, features {HEX} of {HEX} offered: (.*)$", g.serial(),
                  re.MULTILINE)
    expect(g, m, f"no feature line for {slot}")
    names = m.group(1).split()
    expect(g, "RING_PACKED" in names, f"RING_PACKED not negotiated: {names}")
    for name, key in (("INDIRECT_DESC", "indirect"), ("EVENT_IDX", "event_idx")):
        expect(g, (name in names) == (f"{key}=off" not in cmdline), f"{name} with {cmdline!r}: {names}")


@pytest.mark.skipif(not have_root(), reason="needs root for network namespaces and tap devices")
@pytest.mark.parametrize("cell", PACKED_CELLS)
def test_packed_ring_serves(request, tmp_path, cell):
    """A modern device with packed rings: ping over IPv4 and IPv6, curl, a
    byte-exact TCP echo of 1 MiB and UDP echo, then no queue broken."""
    if not KERNEL.is_file():
        pytest.skip(f"{KERNEL} is not built; run 'make' (make test builds it first)")
    machine, root_port, cmdline, props, irq_line = PACKED_CELLS[cell]
    slot = NIC_SLOTS[(machine, root_port)]
    with PrivateNetwork() as net:
        nic = net.nic(props=PACKED_DEVICE + props + (",bus=rp1" if root_port else ""))
        g = CapturedGuest(tmp_path, machine=machine, cmdline=f"{GUEST_STATIC_CMDLINE} {cmdline}",
                          nic=(ROOT_PORT if root_port else ()) + nic, prefix=net.prefix, snaplen=160)
        request.addfinalizer(g.kill)
        g.start()
        name_pcap(request, g)
        wait_ready(g)
        expect_features(g, slot, cmdline)
        expect(g, re.search(rf"virtio: {re.escape(slot)}: {irq_line}", g.serial()), f"interrupt mode is not {irq_line}")
        ping(g, net, GUEST_ADDR, count=10)
        wait_ipv6(g, net)
        ping(g, net, "-6", f"{GUEST_LL}%{TAP}", count=5)
        r = run(net, *CURL, "-o", "/dev/null", "-w", "%{http_code} %{size_download}", f"http://{GUEST_ADDR}/")
        expect(g, r.returncode == 0 and r.stdout.startswith(b"200 "), f"curl /: {r.stdout!r} {r.stderr!r}")
        with connect(net, (GUEST_ADDR, 7), g=g) as s:
            tcp_echo(g, s, 1 << 20, seed=18)
        with inside(net):
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        with u:
            losses, missing = udp_echo(g, u, [1, 64, 512, 1472, 4000], seed=18, addr=(GUEST_ADDR, 7))
        expect(g, not missing, f"UDP echo: sizes {missing} never came back")
        with connect(net, (GUEST_LL, 7, 0, ll_scope(net)), family=socket.AF_INET6, g=g) as s:
            tcp_echo(g, s, 64 << 10, seed=19)
        broken = sum(v for (name, _), v in stats(g, net).items() if name == "virtqueue_broken")
        expect(g, broken == 0, f"/stats: {broken} virtqueues broken")
        check_healthy(g, "at the end")



# Each transport's device configuration, as QEMU's memory trace shows the
# guest's reads of it: (machine, device and options, region name, offsets from
# the lowest address read in that region of the MAC's bytes, of the 16-bit
# status and of the 16-bit MTU). The legacy I/O BAR's configuration follows a
# header of 20 bytes, 24 once MSI-X is on: each field has two places there, and
# 18 and 19 are the 8-bit device status and ISR registers.
CONFIG_LAYOUTS = {
    "mmio-legacy": ("microvm", "virtio-net-device", (), "virtio-mmio", range(0x100, 0x106), {0x106}, {0x10a}),
    "mmio-modern": ("microvm", "virtio-net-device", ("-global", "virtio-mmio.force-legacy=off"), "virtio-mmio",
                    range(0x100, 0x106), {0x106}, {0x10a}),
    "pci-modern": ("q35", "virtio-net-pci,disable-legacy=on,romfile=", (), "virtio-pci-device-virtio-net",
                   range(0, 6), {6}, {10}),
    "pci-legacy": ("q35", "virtio-net-pci,disable-modern=on,romfile=", (), "virtio-pci",
                   range(18, 30), {26, 30}, {30, 34}),
}
TRACE_READ = re.compile(r"memory_region_ops_read .* addr (0x[0-9a-f]+) value (0x[0-9a-f]+) size (\d) name '([^']+)'")


@pytest.mark.parametrize("layout", CONFIG_LAYOUTS)
def test_config_fields_are_read_at_their_own_width(guest, tmp_path, layout):
    """Virtio 1.2, 4.1.3.1 and 4.2.2.2: a 16-bit field of the device's
    configuration (the status, the MTU) is read by one 16-bit access, not
    byte by byte (which QEMU takes, a strict device may not, and which may
    tear); the MAC's bytes one by one. Seen in QEMU's trace of the guest's reads."""
    machine, device, extra, region, mac, status, mtu = CONFIG_LAYOUTS[layout]
    trace = tmp_path / "reads.trace"
    g = guest(machine, boot="pvh", cmdline=GUEST_STATIC_CMDLINE,
              nic=("-netdev", "user,id=n0,restrict=on", "-device", f"{device},netdev=n0,host_mtu=1400"),
              extra_args=(*extra, "-trace", f"memory_region_ops_read,file={trace}"))
    wait_ready(g)
    g.proc.terminate()  # QEMU writes its trace out as it exits
    g.proc.wait(timeout=30)
    reads = [(int(a, 16), int(v, 16), int(s)) for a, v, s, name in TRACE_READ.findall(trace.read_text())
             if name == region]
    if not reads:
        g.fail(f"no reads of '{region}' in QEMU's trace")
    base = min(a for a, _, _ in reads)
    reads = [(a - base, v, s) for a, v, s in reads if a - base >= mac.start]  # virtio-mmio: not its registers
    bytewise = sorted({o for o, _, s in reads if s == 1} - set(mac))
    assert not bytewise, f"{layout}: 1-byte reads at {[hex(o) for o in bytewise]}, outside the MAC"
    assert any(o in mtu and v == 1400 and s == 2 for o, v, s in reads), f"{layout}: no 16-bit read of the MTU"
    assert any(o in status and v & 1 and v != 1400 and s == 2 for o, v, s in reads), \
        f"{layout}: no 16-bit read of the status (link up)"
