"""Segmentation offloads (issue 16). On a tap backend QEMU offers
GUEST_TSO4/6, GUEST_ECN and HOST_TSO4/6 and the guest takes them: TCP echo
moves through 64 KiB segments both ways (counted in /stats), byte for byte,
also with 1% of the frames lost on the namespace's tap (tc netem towards the
guest and, through an ifb device, from it; nftables where the kernel has no
netem), and with event_idx=off. On
QEMU's user network nothing is offered and everything works as before.
The IPv4 identifications of a download's packets, as the device cuts them,
are never reused, and one host's do not move with another's; nor do the
IPv6 fragment identifications of one host's answers. The tap tests need
root."""

import collections
import re
import shutil
import socket
import struct
import subprocess
import time

import pytest

from netns import GUEST_ADDR, TAP, PrivateNetwork, have_root
from tap_sniffer import TapSniffer
from test_services import (GUEST_LL, check_healthy, connect, expect, free_port, inside, name_pcap, start_guest, stats,
                           tcp_echo, wait_ipv6, wait_ready)

needs_root = pytest.mark.skipif(not have_root(), reason="needs root for network namespaces and tap devices")
NIC = 'nic="00:02.0"'
OFFLOADS = ("GUEST_TSO4", "GUEST_TSO6", "GUEST_ECN", "HOST_TSO4", "HOST_TSO6")
# Frames per MiB echoed, each direction: about 1,500 without offloads (MTU-sized
# frames); the Linux guest moved 84 both ways together (docs/BENCHMARKS.md),
# and the goal is at most twice Linux's per direction.
MAX_FRAMES_PER_MIB = 84


def features_line(g):
    m = re.search(r"virtio: 00:02\.0: \S+ transport, features \S+ of \S+ offered: (.*)$", g.serial(), re.MULTILINE)
    if not m:
        g.fail("no features line on the console")
    return m.group(1).split()


def nic_counter(s, name):
    return s.get((name, "{" + NIC + "}"), 0)


def echo_and_count(g, net, mib, seed, stall=5.0):
    """Echo `mib` MiB byte for byte; (MiB/s, counter deltas over it)."""
    before = stats(g, net)
    with connect(net, (GUEST_ADDR, 7), g=g) as s:
        rate = tcp_echo(g, s, mib << 20, seed=seed, timeout=300, stall=stall)
    after = stats(g, net)
    return rate, {k: after[k] - before.get(k, 0) for k in after}


@pytest.fixture
def net():
    with PrivateNetwork() as n:
        yield n


def boot(request, tmp_path, net, cmdline=""):
    g = start_guest(tmp_path, net, cmdline=f"ip={GUEST_ADDR}/24 gw=10.0.2.2 {cmdline}".strip(), snaplen=128)
    request.addfinalizer(g.kill)
    name_pcap(request, g)
    return wait_ready(g)


@needs_root
@pytest.mark.parametrize("event_idx", ["on", "off"])
def test_large_segments_both_ways(request, tmp_path, net, event_idx):
    g = boot(request, tmp_path, net, f"event_idx={event_idx}")
    features = features_line(g)
    missing = [f for f in OFFLOADS if f not in features]
    assert not missing, g.report(f"offloads offered by QEMU's tap backend not negotiated: {missing}")
    assert "large segments in, large segments out" in g.serial(), g.report("no 'large segments' on the NIC's line")
    mib = 16
    rate, d = echo_and_count(g, net, mib, seed=16)
    rx, tx = nic_counter(d, "virtio_net_rx_packets_total"), nic_counter(d, "virtio_net_tx_packets_total")
    rx_gso, tx_gso = nic_counter(d, "virtio_net_rx_gso_total"), nic_counter(d, "virtio_net_tx_gso_total")
    segs = nic_counter(d, "netif_tx_gso_segments_total")
    print(f"event_idx={event_idx}: {mib} MiB echoed at {rate:.1f} MiB/s; {rx / mib:.0f} frames/MiB in "
          f"({rx_gso} large), {tx / mib:.0f} out ({tx_gso} large, {segs / max(tx_gso, 1):.1f} segments each)")
    assert rx_gso > 0 and tx_gso > 0, g.report(f"no large segments: {rx_gso} in, {tx_gso} out")
    assert rx / mib <= MAX_FRAMES_PER_MIB and tx / mib <= MAX_FRAMES_PER_MIB, g.report(
        f"{rx / mib:.0f} frames/MiB in, {tx / mib:.0f} out: more than {MAX_FRAMES_PER_MIB}")
    for name in ("virtio_net_rx_drop_gso_type_total", "virtio_net_rx_drop_gso_size_total",
                 "virtio_net_rx_drop_bad_header_total", "netif_rx_drop_oversize_total", "netif_tx_dropped_total"):
        assert nic_counter(d, name) == 0, g.report(f"{name} +{nic_counter(d, name)} during the echo")
    check_healthy(g, "after the echo")


class IdSniffer(TapSniffer):
    """The IPv4 identifications of the packets the guest sends, by
    destination and protocol, in order: a large segment the device cuts
    (its gso_size in the socket's virtio header) counts as the packets it
    becomes, numbered up from its own, as the device numbers them."""

    def __init__(self, net):
        self.ids = collections.defaultdict(list)
        self.large = 0
        super().__init__(net, vnet_hdr=True)

    def take(self, data):
        gso_type, gso_size = data[1], struct.unpack("<H", data[4:6])[0]
        frame = data[10:]
        if len(frame) < 34 or frame[12:14] != b"\x08\x00" or frame[26:30] != bytes(map(int, GUEST_ADDR.split("."))):
            return
        ihl = (frame[14] & 0x0F) * 4
        total, ident = struct.unpack("!HH", frame[16:20])
        proto, dst = frame[23], ".".join(map(str, frame[30:34]))
        packets = 1
        if gso_type and gso_size and proto == 6:
            payload = total - ihl - (frame[14 + ihl + 12] >> 4) * 4
            packets = max(1, -(-payload // gso_size))
            self.large += packets > 1
        self.ids[(dst, proto)] += [(ident + i) & 0xFFFF for i in range(packets)]


@needs_root
def test_ipv4_identifications_are_not_reused_by_a_download(request, tmp_path, net):
    """The guest never sets DF, so a router on a smaller-MTU path fragments
    its packets, and the receiver joins fragments by identification: no two
    packets to one host may carry the same one while both can be in flight.
    lwIP numbered every packet from one counter, one a packet, while the
    device numbers the packets of a large segment up from its own: each
    next segment reused all but one of the last one's numbers. And one
    counter for all destinations: replies to a second host moved the
    first's numbers on (nmap's idle scan reads that). net/ip_id.h."""
    g = boot(request, tmp_path, net)
    sniffer = IdSniffer(net)
    try:
        echo_and_count(g, net, 4, seed=4)
    finally:
        sniffer.close()
    sent = sniffer.ids[("10.0.2.2", 6)]
    reused = sum(n - 1 for n in collections.Counter(sent).values() if n > 1)
    print(f"{len(sent)} TCP packets to 10.0.2.2, {sniffer.large} of lwIP's segments cut by the device, "
          f"{reused} identifications reused")
    expect(g, sniffer.large >= 10, f"only {sniffer.large} large segments: the download did not test TSO")
    expect(g, len(sent) < 60000, f"{len(sent)} packets: the 16-bit identifications wrapped, test too long")
    expect(g, reused == 0, f"{reused} of {len(sent)} identifications to 10.0.2.2 reused within one download")

    # A second host on the tap: UDP echoes from the two in turn. (Not ping:
    # lwIP sends an echo reply with the request's identification.)
    net.run("ip", "addr", "add", "10.0.2.3/24", "dev", TAP, check=True)
    with inside(net):
        socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(2)]
    for sock, addr in zip(socks, ("10.0.2.2", "10.0.2.3")):
        sock.bind((addr, 0))
        sock.settimeout(2)
    sniffer = IdSniffer(net)
    try:
        for i in range(40):
            sock = socks[i % 2]
            sock.sendto(b"id %d" % i, (GUEST_ADDR, 7))
            expect(g, sock.recv(64) == b"id %d" % i, f"UDP echo {i} not answered")
    finally:
        sniffer.close()
        for sock in socks:
            sock.close()
    first = sniffer.ids[("10.0.2.2", 17)]
    steps = collections.Counter((b - a) & 0xFFFF for a, b in zip(first, first[1:]))
    expect(g, len(first) == 20, f"{len(first)} UDP echoes to 10.0.2.2 seen, not 20")
    expect(g, steps == {1: 19}, f"10.0.2.2's UDP echoes moved by {dict(steps)}, not one each: "
           "another host's packets take its numbers")
    check_healthy(g, "at the end")


class Frag6Sniffer(TapSniffer):
    """The identification of each IPv6 packet the guest fragments, by
    destination, from its first fragment."""

    def __init__(self, net):
        self.ids = collections.defaultdict(list)
        super().__init__(net)

    def take(self, frame):
        if len(frame) < 62 or frame[12:14] != b"\x86\xdd" or frame[20] != 44 or frame[22:38] != GUEST_LL_BYTES:
            return
        offset = struct.unpack("!H", frame[56:58])[0] >> 3
        if offset == 0:
            self.ids[socket.inet_ntop(socket.AF_INET6, frame[38:54])].append(struct.unpack("!I", frame[58:62])[0])


GUEST_LL_BYTES = socket.inet_pton(socket.AF_INET6, GUEST_LL)


@needs_root
def test_ipv6_fragment_identifications_are_per_destination(request, tmp_path, net):
    """lwIP's ip6_frag numbered the packets it fragments from one counter,
    from 1 at boot: a host reading its own fragments' numbers saw how many
    the guest fragmented for others (RFC 7739). Two link-local addresses
    on the tap take turns at 3,000-byte UDP echoes, each answer three
    fragments: each address's numbers count up by one. net/ip_id.h."""
    g = boot(request, tmp_path, net)
    wait_ipv6(g, net)
    hosts = ("fe80::2", "fe80::3")
    for addr in hosts:
        net.run("ip", "-6", "addr", "add", f"{addr}/64", "dev", TAP, "nodad", check=True)
    with inside(net):
        scope = socket.if_nametoindex(TAP)
        socks = [socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) for _ in hosts]
    for sock, addr in zip(socks, hosts):
        sock.bind((addr, 0, 0, scope))
        sock.settimeout(2)
    sniffer = Frag6Sniffer(net)
    try:
        for i in range(20):
            sock = socks[i % 2]
            data = (b"%05d" % i) * 600
            sock.sendto(data, (GUEST_LL, 7, 0, scope))
            expect(g, sock.recv(4096) == data, f"UDP echo {i} of 3,000 bytes not answered whole")
    finally:
        sniffer.close()
        for sock in socks:
            sock.close()
    for addr in hosts:
        ids = sniffer.ids[addr]
        steps = collections.Counter((b - a) & 0xFFFFFFFF for a, b in zip(ids, ids[1:]))
        expect(g, len(ids) == 10, f"{len(ids)} fragmented answers to {addr} seen, not 10")
        expect(g, steps == {1: 9}, f"{addr}'s fragment identifications moved by {dict(steps)}, not one each: "
               "another host's packets take its numbers")
    check_healthy(g, "at the end")


NFT_LOSS = """
table netdev loss {{
    chain to_guest {{ type filter hook egress device "tap0" priority 0; numgen random mod 1000 < {pm} counter drop; }}
{from_guest}}}
"""
NFT_FROM_GUEST = '    chain from_guest {{ type filter hook ingress device "tap0" priority 0; numgen random mod 1000 < {pm} counter drop; }}\n'


def add_loss(net, percent, both_ways):
    """Loses `percent` of the frames the tap sends the guest (and with
    both_ways of those it gets from it): tc netem as the issue asks (ingress
    through an ifb device), or, on a kernel built without sch_netem, an
    nftables rule at the same two places (netdev egress and ingress hooks,
    numgen random). Returns what did it."""
    r = net.run("tc", "qdisc", "add", "dev", "tap0", "root", "netem", "loss", f"{percent}%")
    if r.returncode == 0:
        if both_ways:
            net.run("ip", "link", "add", "ifb0", "type", "ifb", check=True)
            net.run("ip", "link", "set", "ifb0", "up", check=True)
            net.run("tc", "qdisc", "add", "dev", "tap0", "handle", "ffff:", "ingress", check=True)
            net.run("tc", "filter", "add", "dev", "tap0", "parent", "ffff:", "matchall", "action", "mirred", "egress",
                    "redirect", "dev", "ifb0", check=True)
            net.run("tc", "qdisc", "add", "dev", "ifb0", "root", "netem", "loss", f"{percent}%", check=True)
        return "tc netem"
    if "unknown" not in r.stderr:
        pytest.fail(f"tc netem failed: {r.stderr}")
    if not shutil.which("nft"):
        pytest.skip("this kernel has no sch_netem and nft (Debian's nftables) is not installed")
    pm = int(percent * 10)
    rules = NFT_LOSS.format(pm=pm, from_guest=NFT_FROM_GUEST.format(pm=pm) if both_ways else "")
    subprocess.run([*net.prefix, "nft", "-f", "-"], input=rules, text=True, check=True, capture_output=True, timeout=30)
    return "nftables (this kernel has no sch_netem)"


def lost_frames(net):
    """Frames the nftables rules dropped (None with netem, which counts elsewhere)."""
    out = net.run("nft", "list", "table", "netdev", "loss").stdout
    counts = [int(n) for n in re.findall(r"counter packets (\d+)", out)]
    return sum(counts) if counts else None


@needs_root
@pytest.mark.parametrize("both_ways", [False, True], ids=["to-guest", "both-ways"])
def test_echo_with_one_percent_loss(request, tmp_path, net, both_ways):
    """Retransmission, window and congestion accounting stay lwIP's own
    (a large segment lost goes again whole, or in the MSS the window allows:
    net/tcp_large_send.h). Towards the guest (what the issue asks:
    netem on the tap's root qdisc) 64 MiB; both ways 16 MiB, because a frame
    lost on its way from the guest costs lwIP a retransmission timeout (about
    a second): it has no SACK, and counts only ACKs without data as
    duplicates, while the host's ACKs ride on its own echo data.
    Silences of several seconds are part of that: a retransmission lost
    again waits lwIP's backoff (1, 2, 3 ... times the timeout), and a window
    update lost while echo's window is shut waits the host's persist timer,
    which doubles from 200 ms. One run in about fifty went 5 s without a
    byte (a CI run, December 2026; its capture was not kept, so which of the
    two is not known), so the stall allowed here is 30 s; the whole echo
    still has 300 s."""
    g = boot(request, tmp_path, net)
    how = add_loss(net, 1, both_ways)
    mib = 16 if both_ways else 64
    rate, d = echo_and_count(g, net, mib, seed=mib, stall=30.0)
    lost = lost_frames(net)
    sent = d.get(("lwip_packets_sent_total", '{proto="tcp"}'), 0)
    print(f"{how}: 1% lost {'both ways' if both_ways else 'towards the guest'}"
          f"{'' if lost is None else f' ({lost} frames)'}: {mib} MiB byte-exact at "
          f"{rate:.1f} MiB/s ({rate * 1.048576:.1f} MB/s); lwIP sent {sent} TCP segments (data, most of "
          f"them large, retransmissions and pure ACKs), large segments in "
          f"{nic_counter(d, 'virtio_net_rx_gso_total')}, out {nic_counter(d, 'virtio_net_tx_gso_total')}")
    check_healthy(g, "after the echo under loss")


def test_user_network_offers_no_offloads(request, tmp_path):
    """QEMU's user network has no vnet header: none of the offloads is
    offered, the NIC says nothing of large segments, and echo works."""
    for attempt in range(3):
        echo_port = free_port()
        nic = ("-netdev", f"user,id=n0,hostfwd=tcp:127.0.0.1:{echo_port}-:7", "-device", "virtio-net-pci,netdev=n0")
        g = start_guest(tmp_path / f"guest{attempt}", nic=nic, cmdline=f"ip={GUEST_ADDR}/24 gw=10.0.2.2")
        request.addfinalizer(g.kill)
        time.sleep(0.5)
        if g.running or "host forwarding" not in g.stderr_path.read_text(errors="replace"):
            break
    wait_ready(g)
    features = features_line(g)
    assert not [f for f in OFFLOADS if f in features], g.report(f"offloads negotiated on the user network: {features}")
    assert "large segments" not in g.serial(), g.report("'large segments' on the user network")
    with connect(None, ("127.0.0.1", echo_port), timeout=10, g=g) as s:
        rate = tcp_echo(g, s, 4 << 20, seed=4)
    print(f"user network: 4 MiB echoed at {rate:.1f} MiB/s")
    check_healthy(g, "at the end")
