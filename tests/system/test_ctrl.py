"""virtio-net's control queue (issue 18): the receive filter it sets
(promiscuous off: a frame for another MAC never reaches the guest, while
without the control queue QEMU's default promiscuous mode lets it in; the MAC
table lets IPv6 neighbour discovery's multicast through), and GUEST_ANNOUNCE:
after QEMU's monitor command announce_self the guest sends a gratuitous ARP
and an unsolicited neighbour advertisement, seen by a packet socket on the
tap inside the namespace, and acknowledges. Needs root."""

import re
import socket
import struct
import subprocess
import time

import pytest

from netns import GUEST_ADDR, GUEST_STATIC_CMDLINE, HOST_ADDR, TAP, PrivateNetwork, have_root
from tap_sniffer import TapSniffer
from test_services import (GUEST_LL, MAC, check_healthy, expect, name_pcap, ping, start_guest, stats, wait_ipv6,
                           wait_ready)

pytestmark = pytest.mark.skipif(not have_root(), reason="needs root for network namespaces and tap devices")

OTHER_MAC = bytes.fromhex("525400aabbcc")
GUEST_MAC = bytes.fromhex(MAC.replace(":", ""))
FILTER_LINE = r"virtio-net: 00:02\.0: receive filter: promiscuous off, all-multicast off, MAC table 1 unicast \+ 0 multicast"


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def echo_request_frame(src_mac, dst_mac, ident, seq):
    icmp = struct.pack("!BBHHH", 8, 0, 0, ident, seq) + b"wrong-mac-probe!"
    icmp = icmp[:2] + struct.pack("!H", checksum(icmp)) + icmp[4:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(icmp), seq, 0, 64, 1, 0,
                     socket.inet_aton(HOST_ADDR), socket.inet_aton(GUEST_ADDR))
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    return dst_mac + src_mac + b"\x08\x00" + ip + icmp


class Sniffer(TapSniffer):
    """Every frame on the tap, inside the namespace, from now until close()."""

    def __init__(self, net):
        self.frames = []
        super().__init__(net)

    def take(self, data):
        self.frames.append(data)


def tap_mac(net):
    out = subprocess.run([*net.prefix, "cat", f"/sys/class/net/{TAP}/address"], capture_output=True, text=True,
                         timeout=10).stdout.strip()
    return bytes.fromhex(out.replace(":", ""))


def answered_wrong_mac_pings(net, count=5):
    """Echo requests to the guest's IP but another MAC; how many got an answer."""
    sniffer = Sniffer(net)
    try:
        src = tap_mac(net)
        for seq in range(count):
            sniffer.send(echo_request_frame(src, OTHER_MAC, 0x1818, seq))
            time.sleep(0.2)
        time.sleep(1.0)
    finally:
        sniffer.close()
    replies = set()
    for f in sniffer.frames:
        if len(f) >= 42 and f[12:14] == b"\x08\x00" and f[6:12] == GUEST_MAC and f[23] == 1:
            ihl = (f[14] & 0x0F) * 4
            icmp = f[14 + ihl:]
            if len(icmp) >= 8 and icmp[0] == 0 and struct.unpack("!H", icmp[4:6])[0] == 0x1818:
                replies.add(struct.unpack("!H", icmp[6:8])[0])
    return len(replies)


def boot(request, tmp_path, net, cmdline="", props=""):
    g = start_guest(tmp_path, net, cmdline=f"{GUEST_STATIC_CMDLINE} {cmdline}".strip(), props=props, snaplen=160)
    request.addfinalizer(g.kill)
    name_pcap(request, g)
    wait_ready(g)
    return g


@pytest.mark.parametrize("ctrl", ["on", "off", "device-off"])
def test_receive_filter(request, tmp_path, ctrl):
    """ctrl=on: promiscuous off, so a frame for another MAC is dropped by the
    device; the MAC table holds the multicast groups, so IPv6 works. ctrl=off:
    QEMU stays promiscuous and lwIP answers the misaddressed ping (the check
    that the probe would see a leak). device-off: QEMU's ctrl_vq=off, which
    still offers CTRL_RX and GUEST_ANNOUNCE; neither may be accepted without
    CTRL_VQ (virtio 1.2, 5.1.3.1), and the guest works as with ctrl=off."""
    with PrivateNetwork() as net:
        if ctrl == "device-off":
            g = boot(request, tmp_path, net, props=",ctrl_vq=off")
        else:
            g = boot(request, tmp_path, net, f"ctrl={ctrl}")
        log = g.serial()
        features = re.search(r"offered: (.*)$", log, re.MULTILINE).group(1).split()
        ctrl_features = {"CTRL_VQ", "CTRL_RX", "GUEST_ANNOUNCE"} & set(features)
        expect(g, ctrl_features == ({"CTRL_VQ", "CTRL_RX", "GUEST_ANNOUNCE"} if ctrl == "on" else set()),
               f"features {features}")
        expect(g, bool(re.search(FILTER_LINE, log, re.MULTILINE)) == (ctrl == "on"), "receive filter line")
        ping(g, net, GUEST_ADDR, count=3)  # the guest learns the host's MAC
        wait_ipv6(g, net)
        # Neighbour solicitations go to the guest's solicited-node group: they
        # pass the filter only because the MAC table holds it.
        ping(g, net, "-6", f"{GUEST_LL}%{TAP}", count=3)
        answered = answered_wrong_mac_pings(net)
        if ctrl == "on":
            expect(g, answered == 0, f"{answered} pings to another MAC answered: the device is promiscuous")
        else:
            expect(g, answered > 0, "no ping to another MAC answered without a filter: the probe cannot see a leak")
        if ctrl == "device-off":
            g.monitor("announce_self")  # QEMU announces for a guest without GUEST_ANNOUNCE
            time.sleep(1.0)
            expect(g, "announced the addresses" not in g.serial(), "an announcement acknowledged with no control queue")
        ping(g, net, GUEST_ADDR, count=3)
        check_healthy(g, "at the end")


def test_guest_announce(request, tmp_path):
    """announce_self: a gratuitous ARP and an unsolicited NA from the guest, and the ack."""
    with PrivateNetwork() as net:
        g = boot(request, tmp_path, net)
        wait_ipv6(g, net)
        features = re.search(r"offered: (.*)$", g.serial(), re.MULTILINE).group(1).split()
        expect(g, "GUEST_ANNOUNCE" in features, f"GUEST_ANNOUNCE not negotiated: {features}")
        sniffer = Sniffer(net)
        try:
            g.monitor("announce_self")
            g.wait_for(r"virtio-net: 00:02\.0: announced the addresses, as the device asked", timeout=20)
            time.sleep(1.0)
        finally:
            sniffer.close()
        garp = na = 0
        guest_ip = socket.inet_aton(GUEST_ADDR)
        guest_ll = socket.inet_pton(socket.AF_INET6, GUEST_LL)
        for f in sniffer.frames:
            if f[6:12] != GUEST_MAC:
                continue
            if f[12:14] == b"\x08\x06" and len(f) >= 42 and f[28:32] == guest_ip and f[38:42] == guest_ip:
                garp += 1  # sender and target both the guest: gratuitous
            if f[12:14] == b"\x86\xdd" and len(f) >= 78 and f[20] == 58 and f[54] == 136:
                target = f[62:78]
                dst = f[38:54]
                if target == guest_ll and dst == socket.inet_pton(socket.AF_INET6, "ff02::1") and not f[58] & 0x40:
                    na += 1  # unsolicited (S clear) to all nodes
        expect(g, garp >= 1, f"no gratuitous ARP from the guest after announce_self ({len(sniffer.frames)} frames)")
        expect(g, na >= 1, f"no unsolicited neighbour advertisement from the guest ({len(sniffer.frames)} frames)")
        expect(g, re.search(r"net: en0: announced: [2-9] frame", g.serial()), "no 'announced' line from the stack")
        counters = {name: v for (name, _), v in stats(g, net).items() if name.startswith("virtio_net_")}
        expect(g, counters.get("virtio_net_announces_total", 0) >= 1 and counters.get("virtio_net_ctrl_failures_total") == 0
               and counters.get("virtio_net_ctrl_commands_total", 0) >= 4, f"/stats: {counters}")
        ping(g, net, GUEST_ADDR, count=3)
        check_healthy(g, "at the end")
