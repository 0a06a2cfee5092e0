"""Jumbo frames (VIRTIO_NET_F_MTU, issue 18): a device with host_mtu=9000 on a
tap whose MTU is 9000. The guest runs at MTU 9000: 8972-byte pings with DF
set come back whole over IPv4 (and 8952-byte ones over IPv6), and a TCP echo
runs in 8960-byte segments both ways, as a packet socket on the tap inside
the namespace sees them, with 8960 as the MSS the guest advertises. With and
without MRG_RXBUF (without it each receive buffer holds a whole frame), and
with packed rings. Needs root."""

import re
import socket
import struct
import subprocess

import pytest

from netns import GUEST_ADDR, GUEST_STATIC_CMDLINE, TAP, PrivateNetwork, have_root
from tap_sniffer import TapSniffer
from test_services import (GUEST_LL, check_healthy, connect, expect, inside, name_pcap, ping, start_guest, stats,
                           tcp_echo, udp_echo, wait_ipv6, wait_ready)

pytestmark = pytest.mark.skipif(not have_root(), reason="needs root for network namespaces and tap devices")

JUMBO = 9000
MSS = JUMBO - 40
CELLS = {
    # name: device properties
    "mergeable": "",
    "mrg_rxbuf-off": ",mrg_rxbuf=off",
    "packed": ",disable-legacy=on,packed=on",
}


class TcpSniffer(TapSniffer):
    """The payload size of every IPv4 TCP segment on the tap to or from
    port 7, and the MSS option of each SYN.
    With segmentation offloads (issue 16) the tap carries large segments
    whole; the socket's virtio header gives their gso_size, and each counts
    as the segments the wire carries: gso_size bytes each, the rest last."""

    def __init__(self, net):
        self.to_guest, self.from_guest, self.syn_mss = [], [], {}
        super().__init__(net, vnet_hdr=True)

    def take(self, data):
        gso_type, gso_size = data[1], struct.unpack("<H", data[4:6])[0]
        frame = data[10:]
        if len(frame) < 34 or frame[12:14] != b"\x08\x00" or frame[23] != 6:
            return
        ihl = (frame[14] & 0x0F) * 4
        total = struct.unpack("!H", frame[16:18])[0]
        tcp = frame[14 + ihl:14 + total]
        if len(tcp) < 20:
            return
        sport, dport = struct.unpack("!HH", tcp[:4])
        if 7 not in (sport, dport):
            return
        doff = (tcp[12] >> 4) * 4
        payload = len(tcp) - doff
        sizes = self.from_guest if sport == 7 else self.to_guest
        if gso_type and gso_size:
            sizes += [gso_size] * (payload // gso_size) + ([payload % gso_size] if payload % gso_size else [])
        else:
            sizes.append(payload)
        if tcp[13] & 0x02:  # SYN: find the MSS option
            opts, i = tcp[20:doff], 0
            while i < len(opts) and opts[i] != 0:
                if opts[i] == 1:
                    i += 1
                    continue
                if opts[i] == 2 and i + 4 <= len(opts):
                    self.syn_mss["guest" if sport == 7 else "host"] = struct.unpack("!H", opts[i + 2:i + 4])[0]
                i += max(opts[i + 1] if i + 1 < len(opts) else 1, 2)



def sniffed_echo(g, net, addr, size, seed):
    """A TCP echo of `size` bytes with `addr`, seen by a TcpSniffer (returned, closed)."""
    sniffer = TcpSniffer(net)
    try:
        with connect(net, (addr, 7), g=g) as s:
            tcp_echo(g, s, size, seed=seed)
    finally:
        sniffer.close()
    return sniffer


def udp_echo_from(g, net, family, sizes, seed, addr, src=None):
    """udp_echo (losses, sizes missing) from a socket of the test namespace,
    bound to `src` when given."""
    with inside(net):
        u = socket.socket(family, socket.SOCK_DGRAM)
    with u:
        if src:
            u.bind(src)
        return udp_echo(g, u, sizes, seed=seed, addr=addr)


@pytest.mark.parametrize("cell", CELLS)
def test_jumbo_frames(request, tmp_path, cell):
    with PrivateNetwork() as net:
        subprocess.run([*net.prefix, "ip", "link", "set", TAP, "mtu", str(JUMBO)], check=True, timeout=30)
        g = start_guest(tmp_path, net, cmdline=GUEST_STATIC_CMDLINE, props=f",host_mtu={JUMBO}{CELLS[cell]}",
                        snaplen=160)
        request.addfinalizer(g.kill)
        name_pcap(request, g)
        wait_ready(g)
        log = g.serial()
        features = re.search(r"virtio: \S+: \w+ transport, features \S+ of \S+ offered: (.*)$", log, re.MULTILINE)
        expect(g, features and "MTU" in features.group(1).split(), "VIRTIO_NET_F_MTU not negotiated")
        expect(g, re.search(rf"virtio-net: \S+: mac \S+, mtu {JUMBO}, ", log), f"the driver does not run at mtu {JUMBO}")
        expect(g, re.search(rf"net: en0 on \S+, mac \S+, mtu {JUMBO}", log), f"the netif's MTU is not {JUMBO}")
        if "mrg_rxbuf=off" in cell:
            expect(g, "(mergeable)" not in log, "MRG_RXBUF negotiated with mrg_rxbuf=off")
        # The largest ICMP payloads that fit, with fragmentation forbidden.
        ping(g, net, "-M", "do", "-s", str(JUMBO - 28), GUEST_ADDR, count=5)
        wait_ipv6(g, net)
        ping(g, net, "-6", "-M", "do", "-s", str(JUMBO - 48), f"{GUEST_LL}%{TAP}", count=5)
        sniffer = sniffed_echo(g, net, GUEST_ADDR, 2 << 20, seed=9000)
        expect(g, sniffer.syn_mss.get("guest") == MSS, f"the guest's SYN-ACK advertises MSS {sniffer.syn_mss}")
        for side, sizes in (("to the guest", sniffer.to_guest), ("from the guest", sniffer.from_guest)):
            expect(g, sizes and max(sizes) == MSS, f"largest TCP segment {side}: {max(sizes, default=None)}, not {MSS}")
            full = sum(1 for n in sizes if n == MSS)
            expect(g, full >= 20, f"only {full} segments of {MSS} bytes {side}")
        print(f"{cell}: {len(sniffer.to_guest)} segments to the guest, {len(sniffer.from_guest)} from it, "
              f"{sum(1 for n in sniffer.from_guest if n == MSS)} of {MSS} bytes from it")
        check_healthy(g, "at the end")


@pytest.mark.parametrize("cell", ["mergeable", "mrg_rxbuf-off"])
def test_a_device_mtu_above_what_the_guest_sends_is_still_received(request, tmp_path, cell):
    """host_mtu=9216 on a tap of MTU 9216: the guest sends at most 9000 (its
    cap) but takes frames up to the device's MTU, as the spec asks of a
    driver that accepts VIRTIO_NET_F_MTU (5.1.4.2). A 9188-byte ping with DF
    (a 9216-byte packet) gets its answer, which the guest fragments at
    9000. Its receive buffers were sized for 9000: without MRG_RXBUF QEMU
    dropped the frame, with it the driver did (too many buffers)."""
    device_mtu = 9216
    with PrivateNetwork() as net:
        subprocess.run([*net.prefix, "ip", "link", "set", TAP, "mtu", str(device_mtu)], check=True, timeout=30)
        g = start_guest(tmp_path, net, cmdline=GUEST_STATIC_CMDLINE, props=f",host_mtu={device_mtu}{CELLS[cell]}")
        request.addfinalizer(g.kill)
        name_pcap(request, g)
        wait_ready(g)
        expect(g, re.search(rf"virtio-net: \S+: mac \S+, mtu {JUMBO}, ", g.serial()), f"the driver does not send at {JUMBO}")
        expect(g, f"frames up to {device_mtu} taken" in g.serial(), "no console line for the capped MTU")
        ping(g, net, "-M", "do", "-s", str(device_mtu - 28), GUEST_ADDR, count=3)
        ping(g, net, "-s", "1000", GUEST_ADDR, count=3)
        check_healthy(g, "after the pings")


@pytest.mark.parametrize("cell", ["mergeable", "mrg_rxbuf-off"])
def test_a_device_mtu_below_1500_still_takes_standard_frames(request, tmp_path, cell):
    """host_mtu=1400 on a tap of MTU 1500, as a host that lowers the guest's
    MTU for a tunnel but not its own link's: the guest sends at most 1400,
    but QEMU still passes it 1514-byte frames. They are taken, as Linux's
    driver takes them: a 1472-byte ping with DF and a 1472-byte UDP echo
    get their answers (fragmented at 1400). Before, the netif dropped every
    frame past 1400 + 18 and neither was answered."""
    with PrivateNetwork() as net:
        g = start_guest(tmp_path, net, cmdline=GUEST_STATIC_CMDLINE, props=f",host_mtu=1400{CELLS[cell]}")
        request.addfinalizer(g.kill)
        name_pcap(request, g)
        wait_ready(g)
        expect(g, re.search(r"virtio-net: \S+: mac \S+, mtu 1400, ", g.serial()), "the driver does not send at 1400")
        ping(g, net, "-M", "do", "-s", "1472", GUEST_ADDR, count=3)
        _, missing = udp_echo_from(g, net, socket.AF_INET, [1372, 1472], seed=26, addr=(GUEST_ADDR, 7))
        expect(g, not missing, f"UDP echo: sizes {missing} never came back")
        with connect(net, (GUEST_ADDR, 7), g=g) as s:
            tcp_echo(g, s, 1 << 20, seed=26)
        check_healthy(g, "at the end")


def test_the_largest_datagrams_echo_at_the_smallest_mtu(request, tmp_path):
    """host_mtu=576, the least MTU DHCP may give: a 65,507-byte UDP echo
    leaves as 119 fragments (65,487 bytes over IPv6: 125), each holding one of
    lwIP's FRAG_PBUFs until the driver reaps its frame. The pool had 48 (45
    fragments at MTU 1500): every echo of 30,000 bytes and more went
    unanswered at 576, and of 65,507 at 1280. An answer to a peer the
    guest has not resolved yet waits for its ARP reply or NA, every fragment
    of it: only the last 48 (IPv6: 64) were kept, so the first answer to a
    new peer never came. And a host at MTU 576 sends it 119 fragments: the
    guest held at most 64 for reassembly, so none over about 35,000 bytes."""
    with PrivateNetwork() as net:
        g = start_guest(tmp_path, net, cmdline=GUEST_STATIC_CMDLINE, props=",host_mtu=576")
        request.addfinalizer(g.kill)
        name_pcap(request, g)
        wait_ready(g)
        wait_ipv6(g, net)
        with inside(net):
            scope = socket.if_nametoindex(TAP)
        for family, addr, largest in ((socket.AF_INET, (GUEST_ADDR, 7), 65507),
                                      (socket.AF_INET6, (GUEST_LL, 7, 0, scope), 65487)):
            _, missing = udp_echo_from(g, net, family, [30000, largest, largest, 1000, largest], seed=27, addr=addr)
            expect(g, not missing, f"UDP echo at MTU 576 ({addr[0]}): sizes {missing} never came back")
        # New peers: the host knows the guest's MAC, the guest not theirs.
        net.run("ip", "addr", "add", "10.0.2.3/24", "dev", TAP, check=True)
        net.run("ip", "-6", "addr", "add", "fe80::3/64", "dev", TAP, "nodad", check=True)
        for family, src, addr, largest in ((socket.AF_INET, ("10.0.2.3", 0), (GUEST_ADDR, 7), 65507),
                                           (socket.AF_INET6, ("fe80::3", 0, 0, scope), (GUEST_LL, 7, 0, scope), 65487)):
            losses, missing = udp_echo_from(g, net, family, [largest], seed=28, addr=addr, src=src)
            expect(g, not missing and not losses, f"UDP echo from a new peer {src[0]}: {losses} tries lost")
        # The host at MTU 576 too: the guest reassembles 119 fragments
        # (the tap's IPv6 goes with an MTU under 1280, so IPv4 only).
        net.run("ip", "link", "set", TAP, "mtu", "576", check=True)
        _, missing = udp_echo_from(g, net, socket.AF_INET, [30000, 65507, 65507], seed=29, addr=(GUEST_ADDR, 7))
        expect(g, not missing, f"UDP echo from a host at MTU 576: sizes {missing} never came back")
        s = stats(g, net)
        for pool in ("FRAG_PBUF", "ARP_QUEUE", "ND6_QUEUE"):
            expect(g, s[("lwip_pool_errors_total", f'{{pool="{pool}"}}')] == 0, f"{pool} ran out")
        check_healthy(g, "at the end")
