"""Device faults in the middle of a transfer (issue 9, item 3): the NIC asks
for a reset (NEEDS_RESET), a legacy device silently stops, a queue breaks on a
used entry naming a descriptor that does not exist, and the link goes down and
up. Each time a TCP echo transfer that was running must finish byte-exact, the
guest must go on answering ping and HTTP, and /stats must count what happened.

The faults come from the guest itself, on request (faults=on opens UDP port
9999, net/fault_port.c): a transmit chain QEMU's device must reject (QEMU then
calls virtio_error()), or a used entry planted in the transmit ring. The
recovery under test is the driver's: drivers/virtio/virtio_net.c, "recovery".
The broken queue and NEEDS_RESET run with packed rings too: the same
defences and the same recovery, whichever ring the queue has.
"""

import re
import socket
import threading
import time

import pytest

from netns import GUEST_ADDR, GUEST_STATIC_CMDLINE, PrivateNetwork, have_root
from test_services import HttpClient, connect, inside, ping, start_guest, stats, tcp_echo, wait_ready

pytestmark = pytest.mark.skipif(not have_root(), reason="needs root for network namespaces and tap devices")

FAULT_PORT = 9999
PACKED = ",disable-legacy=on,packed=on"
ECHO_BYTES = 8 << 20
NIC = "00:02.0"


class Transfer:
    """A TCP echo of ECHO_BYTES in a thread, read slowly for its first seconds
    so that it is surely still running when the fault comes."""

    def __init__(self, g, net, seed):
        self.g, self.error = g, None
        self.sock = connect(net, (GUEST_ADDR, 7), g=g)
        self.thread = threading.Thread(target=self._run, args=(seed,), daemon=True)
        self.thread.start()

    def _run(self, seed):
        try:
            tcp_echo(self.g, self.sock, ECHO_BYTES, seed, slow_for=3.0, timeout=180)
        except BaseException as e:  # noqa: B902 -- reported by finish()
            self.error = e

    def finish(self):
        self.thread.join(timeout=200)
        self.sock.close()
        if self.thread.is_alive():
            self.g.fail("the echo transfer did not end")
        if self.error:
            raise self.error


def inject(net, fault):
    """Asks the guest for a fault; returns its reply, or None if the reply
    was lost (the fault may take the frame carrying it with it)."""
    with inside(net):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.settimeout(2.0)
        s.sendto(fault.encode(), (GUEST_ADDR, FAULT_PORT))
        try:
            return s.recv(200).decode()
        except socket.timeout:
            return None
    finally:
        s.close()


def nic_stats(g, net, nic=NIC):
    samples = stats(g, net)
    label = f'{{nic="{nic}"}}'
    value = {name: v for (name, labels), v in samples.items() if labels == label}
    value["broken"] = sum(v for (name, _), v in samples.items() if name == "virtqueue_broken")
    return value


def still_serves(g, net):
    ping(g, net, GUEST_ADDR, count=5)
    c = HttpClient(connect(net, g=g), g)
    try:
        c.send(f"GET /hello HTTP/1.1\r\nHost: {GUEST_ADDR}\r\n\r\n".encode())
        r = c.response()
    finally:
        c.close()
    assert r.status == 200 and r.body == b"hello\n", g.report(f"/hello after the fault: {r}")
    assert "PANIC" not in g.serial(), g.report("PANIC")


def boot(tmp_path, net, props="", cmdline=GUEST_STATIC_CMDLINE + " faults=on"):
    g = start_guest(tmp_path, net, cmdline=cmdline, props=props, snaplen=128)
    wait_ready(g)
    if "packed=on" in props:
        assert re.search(r"virtio: 00:02\.0: modern transport, .* RING_PACKED$", g.serial(), re.MULTILINE), \
            g.report("packed rings not negotiated")
    return g


def check_recovery(g, net, transfer, reason_line, counters, nic=NIC):
    g.wait_for(reason_line, timeout=30)
    g.wait_for(rf"virtio-net: {re.escape(nic)}: reset done in \d+ us, \d+ receive buffers posted, \d+ frames in "
               r"flight dropped", timeout=30)
    transfer.finish()
    still_serves(g, net)
    stats = nic_stats(g, net, nic)
    for name, want in {**counters, "virtio_net_device_resets_total": 1, "broken": 0}.items():
        assert stats.get(name) == want, g.report(f"/stats {name} = {stats.get(name)}, expected {want}")
    assert len(re.findall(r"resetting the device", g.serial())) == 1, g.report("more than one reset")


@pytest.mark.parametrize("irq,ring", [("msix", "split"), ("shared", "split"), ("intx", "split"), ("msix", "packed")])
def test_needs_reset_mid_transfer(tmp_path, irq, ring):
    """A modern device that hit an error sets NEEDS_RESET and raises a
    configuration interrupt (MSI-X entry 0, or the ISR's config bit on INTx);
    the driver resets it, puts the MSI-X entries back and goes on."""
    props = (",vectors=0" if irq == "intx" else "") + (PACKED if ring == "packed" else "")
    with PrivateNetwork() as net:
        g = boot(tmp_path, net, props=props, cmdline=f"{GUEST_STATIC_CMDLINE} faults=on irq={irq}")
        try:
            transfer = Transfer(g, net, seed=1)
            time.sleep(1.0)
            reply = inject(net, "device-error")
            assert reply in (None, f"ok device-error on {NIC}\n"), g.report(f"fault port replied {reply!r}")
            check_recovery(g, net, transfer, r"virtio-net: 00:02\.0: device set NEEDS_RESET: resetting the device",
                           {"virtio_net_needs_reset_total": 1, "virtio_net_tx_timeouts_total": 0,
                            "virtio_net_queues_broken_total": 0})
        finally:
            g.kill()


def test_legacy_device_that_stops_is_reset_by_the_transmit_timeout(tmp_path):
    """A legacy device has no NEEDS_RESET: after the same error QEMU just
    stops it. Frames stay in flight with no completion for 2 s, and the
    transmit watchdog resets the device."""
    with PrivateNetwork() as net:
        g = boot(tmp_path, net, props=",disable-modern=on")
        try:
            transfer = Transfer(g, net, seed=2)
            time.sleep(1.0)
            inject(net, "device-error")
            check_recovery(g, net, transfer, r"virtio-net: 00:02\.0: transmit timed out \(no completion for 2 s\): "
                           r"resetting the device",
                           {"virtio_net_needs_reset_total": 0, "virtio_net_tx_timeouts_total": 1})
        finally:
            g.kill()


@pytest.mark.parametrize("ring", ["split", "packed"])
def test_broken_queue_is_reported_and_recovered(tmp_path, ring):
    """A used entry (packed: a used descriptor) with an out-of-range id: the
    virtqueue's defensive check marks the queue broken and says so on
    serial; the driver resets."""
    with PrivateNetwork() as net:
        g = boot(tmp_path, net, props=PACKED if ring == "packed" else "")
        try:
            transfer = Transfer(g, net, seed=3)
            time.sleep(1.0)
            inject(net, "bad-used-id")
            g.wait_for(r"virtqueue 00:02\.0/tx: broken: used id 263 out of range \(queue size 256\)", timeout=30)
            check_recovery(g, net, transfer, r"virtio-net: 00:02\.0: transmit queue broken: resetting the device",
                           {"virtio_net_queues_broken_total": 1, "virtio_net_needs_reset_total": 0})
        finally:
            g.kill()


def test_link_down_and_up_mid_transfer(tmp_path):
    """The link goes away for 2 s under a running transfer: no reset, the
    transfer resumes and finishes byte-exact. Without faults=on the fault
    port is closed."""
    with PrivateNetwork() as net:
        g = boot(tmp_path, net, cmdline=GUEST_STATIC_CMDLINE)
        try:
            transfer = Transfer(g, net, seed=4)
            time.sleep(1.0)
            g.monitor("set_link n0 off")
            g.wait_for(r"net: en0 link down", timeout=20)
            time.sleep(2.0)
            mark = len(g.serial())  # "link up" is on the boot log too
            g.monitor("set_link n0 on")
            g.wait_for(r"net: en0 link up", timeout=20, after=mark)
            transfer.finish()
            still_serves(g, net)
            stats = nic_stats(g, net)
            assert stats["virtio_net_device_resets_total"] == 0, g.report("a link flap reset the device")
            with inside(net):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            with s:
                s.settimeout(3.0)
                s.connect((GUEST_ADDR, FAULT_PORT))
                s.send(b"device-error")
                with pytest.raises(ConnectionRefusedError):
                    s.recv(200)
            assert "fault injection" not in g.serial(), g.report("fault injection ran without faults=on")
        finally:
            g.kill()
