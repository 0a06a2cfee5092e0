"""The guest on a network: ping over a tap device in a private namespace, in
every interrupt mode, on q35 and pc, with the device modern and legacy-only;
a flood; the lost-wake-up regression; link down and up. Needs root."""

import re
import time

import pytest

from netns import GUEST_ADDR, GUEST_STATIC_CMDLINE, PrivateNetwork, have_root

pytestmark = pytest.mark.skipif(not have_root(), reason="needs root for network namespaces and tap devices")

READY = r"^READY ip=10\.0\.2\.15 mac=52:54:00:12:34:56 "
MODES = {
    # name: (command line, device properties, expected interrupt mode line)
    "msix": ("irq=msix", "", "MSI-X per queue"),
    "shared": ("irq=shared", "", "MSI-X shared"),
    "intx": ("irq=intx", ",vectors=0", "INTx"),
    "poll": ("irq=poll", "", r"none \(polling\)"),
}
DEVICES = {"modern": ",disable-legacy=on", "legacy": ",disable-modern=on"}


@pytest.fixture
def net():
    with PrivateNetwork() as n:
        yield n


def boot(guest, net, machine="q35", cmdline="", props="", **options):
    g = guest(machine, cmdline=f"{GUEST_STATIC_CMDLINE} {cmdline}".strip(), nic=net.nic(props=props),
              prefix=net.prefix, **options)
    g.wait_for(READY, timeout=90)
    return g


def ping(g, net, count, interval="0.01", flood=False, deadline=60):
    args = ["ping", "-q", "-c", str(count), "-W", "2", "-w", str(deadline)]
    args += ["-f"] if flood else ["-i", interval]
    result = net.run(*args, GUEST_ADDR, timeout=deadline + 30)
    match = re.search(r"(\d+) packets transmitted, (\d+) received", result.stdout)
    if not match:
        g.fail(f"ping printed no summary:\n{result.stdout}\n{result.stderr}")
    return int(match.group(1)), int(match.group(2)), result.stdout


def expect_no_loss(g, net, count, **kw):
    sent, received, out = ping(g, net, count, **kw)
    if sent != count or received != count:
        g.fail(f"ping: {sent} sent, {received} received, expected {count} of {count}\n{out}")


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("machine", ["q35", "pc"])
@pytest.mark.parametrize("mode", MODES)
def test_ping_every_mode(guest, net, mode, machine, device):
    cmdline, props, expected = MODES[mode]
    g = boot(guest, net, machine, cmdline, props + DEVICES[device])
    assert re.search(rf"virtio: \S+: {expected}", g.serial()), g.report(f"interrupt mode is not {expected}")
    expect_no_loss(g, net, 100)
    assert "PANIC" not in g.serial() and "broken" not in g.serial()


def nic_stats(g, net):
    """The NIC's counters from /stats: {name without _total: value}."""
    text = net.run("curl", "-s", "--max-time", "20", f"http://{GUEST_ADDR}/stats").stdout
    found = dict(re.findall(r'^virtio_net_(\w+?)(?:_total)?\{nic="00:02\.0"\} (\d+)$', text, re.MULTILINE))
    if not found:
        g.fail(f"no virtio_net counters in /stats:\n{text[:2000]}")
    return {k: int(v) for k, v in found.items()}


def expect_no_lost_wakeup(g, net, what):
    """The receive path never needed the transmit watchdog: every received
    frame was announced by an interrupt or found by a poll that was running
    anyway. A lost wake-up (frames waiting, callbacks on, no poll coming)
    is only ever rescued by the watchdog, and counted (watchdog_rx_polls)."""
    s = nic_stats(g, net)
    print(f"{what}: watchdog started {s['watchdog_polls']} polls, {s['watchdog_rx_polls']} of them found "
          f"{s['watchdog_rx_frames']} received frames; it reaped {s['watchdog_tx_reaped']} transmit completions")
    assert s["watchdog_rx_polls"] == 0, g.report(
        f"{what}: the watchdog rescued {s['watchdog_rx_frames']} received frames in {s['watchdog_rx_polls']} polls: "
        f"a lost wake-up on the receive queue")


def test_flood_ping(guest, net):
    g = boot(guest, net, cmdline="log=debug")
    expect_no_loss(g, net, 2000, flood=True)
    expect_no_loss(g, net, 20)
    expect_no_lost_wakeup(g, net, "ping flood")
    # The driver's counters (printed every 5 s at log=debug) must show the traffic.
    stats = g.wait_for(r"virtio-net: 00:02\.0: rx (\d+) pkts \d+ B (\d+) irqs, tx (\d+) pkts", timeout=15)
    time.sleep(6)
    last = re.findall(r"virtio-net: 00:02\.0: rx (\d+) pkts \d+ B (\d+) irqs, tx (\d+) pkts", g.serial())[-1]
    rx, irqs, tx = map(int, last)
    assert rx >= 2020 and tx >= 2020, g.report(f"counters rx {rx} tx {tx} after 2020 pings")
    print(f"flood: rx {rx} packets, {irqs} rx interrupts ({irqs / rx:.3f} per packet), tx {tx}; first stats {stats.group(0)}")


# Bursts of 20 datagrams 0.5 ms apart: from three senders at once they run
# the receive ring dry again and again; QEMU then holds the datagrams that
# did not fit and delivers them the moment the guest's refill notifies it,
# while the poll still has the queue's interrupt off. That is the moment a
# driver that does not look at the ring again after re-enabling it misses
# (measured with the re-check removed: 6 and 14 lost wake-ups in two 10 s
# runs; one continuous sender: none).
UDP_FLOOD = """
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
end = time.monotonic() + {seconds}
n = 0
payload = bytes(1200)
while time.monotonic() < end and n < 2_000_000:
    for _ in range(20):
        try:
            s.sendto(payload, ("{addr}", 9))
            n += 1
        except OSError:
            pass
    time.sleep(0.0005)
print(n)
"""
UDP_SENDERS = 3


@pytest.mark.parametrize("ring", ["split", "packed"])
def test_lost_wakeup_regression(guest, net, ring):
    """The smallest rings QEMU allows, overrun by a bounded UDP and ICMP flood;
    afterwards every ping must still be answered, and the receive path must
    never have needed the transmit watchdog (a driver that re-arms the
    interrupt after checking the ring loses wake-ups; with EVENT_IDX each
    would stall reception until the watchdog's next look, which counts it).
    The guest has one CPU on a -smp 1,maxcpus=2 machine (qemu_args.py), so
    QEMU 7.2's TCG keeps the barriers that handshake needs. Split and packed
    rings: each has its own event suppression to get right."""
    packed = ",disable-legacy=on,packed=on" if ring == "packed" else ""
    g = boot(guest, net, props=",rx_queue_size=256,tx_queue_size=256" + packed)
    if packed:
        assert re.search(r"features .* RING_PACKED$", g.serial(), re.MULTILINE), g.report("packed rings not negotiated")
    udp = [subprocess_popen(net, ["python3", "-c", UDP_FLOOD.format(seconds=10, addr=GUEST_ADDR)])
           for _ in range(UDP_SENDERS)]
    ping(g, net, 1_000_000, flood=True, deadline=10)
    for u in udp:
        u.wait(timeout=60)
    expect_no_loss(g, net, 100)
    assert "PANIC" not in g.serial() and "broken" not in g.serial()
    # Every frame went up as pbufs over driver buffers; once lwIP freed them all,
    # each buffer is back with the driver: nothing leaked through pbuf_free.
    stats = net.run("curl", "-s", "--max-time", "20", f"http://{GUEST_ADDR}/stats").stdout
    rx = re.search(r'^virtio_net_rx_packets_total\{nic="00:02.0"\} (\d+)$', stats, re.MULTILINE)
    held = re.search(r'^virtio_net_rx_buffers_held\{nic="00:02.0"\} (\d+)$', stats, re.MULTILINE)
    assert rx and held, g.report(f"no receive counters in /stats:\n{stats[:2000]}")
    assert int(rx.group(1)) > 10_000, g.report(f"only {rx.group(1)} frames received in the flood")
    assert int(held.group(1)) == 0, g.report(f"{held.group(1)} receive buffers still held after the flood")
    expect_no_lost_wakeup(g, net, "UDP and ICMP flood")


def test_link_down_and_up(guest, net):
    g = boot(guest, net)
    expect_no_loss(g, net, 5)
    g.monitor("set_link n0 off")
    g.wait_for(r"virtio-net: 00:02\.0: link down", timeout=20)
    g.wait_for(r"net: en0 link down", timeout=20)
    sent, received, _ = ping(g, net, 3, interval="0.2", deadline=3)
    assert received == 0, g.report(f"{received} pings answered while the link was down")
    mark = len(g.serial())  # "link up" is on the boot log too
    g.monitor("set_link n0 on")
    g.wait_for(r"virtio-net: 00:02\.0: link up", timeout=20, after=mark)
    g.wait_for(r"net: en0 link up", timeout=20, after=mark)
    expect_no_loss(g, net, 20)


def subprocess_popen(net, cmd):
    import subprocess
    return subprocess.Popen([*net.prefix, *cmd], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
