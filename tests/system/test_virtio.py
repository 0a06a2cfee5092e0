"""The virtio core against QEMU's virtio-net: transports (modern, transitional,
legacy-only), feature negotiation and the interrupt vector fallback chain."""

import re

import pytest

from qemu import TIMESTAMP

NIC_SLOT = {"q35": "00:02.0", "pc": "00:03.0"}
QUEUES = r"rx 256 entries, tx 256 entries"
HEX = r"0x[0-9a-f]+"

DEVICE_MODES = {
    # name: (device properties, transport, features that must be negotiated)
    # QEMU's user network has no vnet header, so QEMU offers no checksum offload here.
    "modern": (",disable-legacy=on", "modern", "MAC MRG_RXBUF STATUS INDIRECT_DESC EVENT_IDX VERSION_1"),
    "transitional": ("", "modern", "MAC MRG_RXBUF STATUS INDIRECT_DESC EVENT_IDX VERSION_1"),
    "legacy": (",disable-modern=on", "legacy", "MAC MRG_RXBUF STATUS ANY_LAYOUT INDIRECT_DESC EVENT_IDX"),
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


def test_ring_features_can_be_switched_off(guest):
    g = boot(guest, cmdline="indirect=off event_idx=off")
    virtio_line(g, "q35", rf"modern transport, features {HEX} of {HEX} offered: MAC MRG_RXBUF STATUS VERSION_1")
