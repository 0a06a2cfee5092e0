#!/usr/bin/python3
"""Writes the seed corpus of the rx_path harness (tests/fuzz/corpus/rx_path/).

Each seed is a short conversation of a peer (10.0.2.2, fe80::5055:aff:fe00:202)
with the guest (10.0.2.15, fe80::5054:ff:fe12:3456), in the harness's input
format (see fuzz_rx_path.c): records of u16 big-endian length, a control byte,
then a 12-byte virtio_net_hdr and an Ethernet frame. Frames carry correct
checksums; most records also ask the harness to recompute them (bits 0-1) so
that mutated frames still get past the checksum checks, and TCP records after
the SYN ask it to acknowledge what the guest sent (bit 2): its initial
sequence number is not predictable.

Standard library only. Usage: gen_rx_path_seeds.py [output directory]
"""
import os
import struct
import sys

GUEST_MAC = bytes.fromhex("525400123456")
PEER_MAC = bytes.fromhex("52550a000202")
GUEST_IP = bytes([10, 0, 2, 15])
PEER_IP = bytes([10, 0, 2, 2])
GUEST_IP6 = bytes.fromhex("fe80000000000000505400fffe123456")
PEER_IP6 = bytes.fromhex("fe8000000000000050550afffe000202")
ALL_NODES6 = bytes.fromhex("ff020000000000000000000000000001")

FIX_IP = 1
FIX_L4 = 2
FIX_ACK = 4
ONE_SHORT = 8
NEEDS_CSUM = 1
DATA_VALID = 2
PEER_SEQ = 1000


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def finish(s):
    return struct.pack("!H", ~s & 0xFFFF)


def eth(dst, ethertype, payload):
    return dst + PEER_MAC + struct.pack("!H", ethertype) + payload


def ipv4(proto, payload, src=PEER_IP, dst=GUEST_IP, ident=1, frag=0x4000, total=None):
    total = 20 + len(payload) if total is None else total
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, ident, frag, 64, proto, 0, src, dst)
    return hdr[:10] + finish(csum(hdr)) + hdr[12:] + payload


def pseudo4(proto, length, src=PEER_IP, dst=GUEST_IP):
    return src + dst + struct.pack("!BBH", 0, proto, length)


def pseudo6(proto, length, src=PEER_IP6, dst=GUEST_IP6):
    return src + dst + struct.pack("!IxxxB", length, proto)


def ipv6(next_header, payload, src=PEER_IP6, dst=GUEST_IP6, hop_limit=64):
    return struct.pack("!IHBB", 6 << 28, len(payload), next_header, hop_limit) + src + dst + payload


def with_csum(segment, at, pseudo):
    s = csum(pseudo + segment)
    return segment[:at] + finish(s) + segment[at + 2:]


def tcp(sport, dport, seq, ack, flags, data=b"", v6=False, window=65535, options=b""):
    off = (20 + len(options)) // 4
    seg = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, off << 4, flags, window, 0, 0) + options + data
    pseudo = pseudo6(6, len(seg)) if v6 else pseudo4(6, len(seg))
    return with_csum(seg, 16, pseudo)


def udp(sport, dport, data, v6=False):
    seg = struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data
    pseudo = pseudo6(17, len(seg)) if v6 else pseudo4(17, len(seg))
    return with_csum(seg, 6, pseudo)


def icmp_echo(ident, seq, data):
    msg = struct.pack("!BBHHH", 8, 0, 0, ident, seq) + data
    return msg[:2] + finish(csum(msg)) + msg[4:]


def icmp6(msg, src=PEER_IP6, dst=GUEST_IP6):
    return with_csum(msg, 2, pseudo6(58, len(msg), src, dst))


def vhdr(flags=0, csum_start=0, csum_offset=0, num_buffers=1, gso_type=0, hdr_len=0, gso_size=0):
    return struct.pack("<BBHHHHH", flags, gso_type, hdr_len, gso_size, csum_start, csum_offset, num_buffers)


def rec(frame, control=FIX_IP | FIX_L4, header=None):
    body = (header if header is not None else vhdr()) + frame
    return struct.pack("!HB", len(body), control) + body


def v4_frame(proto, payload, **kw):
    return eth(GUEST_MAC, 0x0800, ipv4(proto, payload, **kw))


def v6_frame(next_header, payload, dst_mac=GUEST_MAC, **kw):
    return eth(dst_mac, 0x86DD, ipv6(next_header, payload, **kw))


def arp_request():
    arp = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, PEER_MAC, PEER_IP, bytes(6), GUEST_IP)
    return rec(eth(b"\xff" * 6, 0x0806, arp), control=0)


def neighbor_solicitation():
    target = GUEST_IP6
    solicited = bytes.fromhex("ff0200000000000000000001ff") + target[13:]
    msg = struct.pack("!BBHI", 135, 0, 0, 0) + target + bytes([1, 1]) + PEER_MAC
    frame = v6_frame(58, icmp6(msg, dst=solicited), dst_mac=bytes.fromhex("3333ff") + target[13:], dst=solicited,
                     hop_limit=255)
    return rec(frame)


def router_advertisement():
    prefix = bytes.fromhex("fd000000000000020000000000000000")
    info = struct.pack("!BBBBIII", 3, 4, 64, 0xC0, 86400, 14400, 0) + prefix
    mtu = struct.pack("!BBHI", 5, 1, 0, 1500)
    msg = struct.pack("!BBHBBHII", 134, 0, 0, 64, 0, 1800, 0, 0) + bytes([1, 1]) + PEER_MAC + mtu + info
    frame = v6_frame(58, icmp6(msg, dst=ALL_NODES6), dst_mac=bytes.fromhex("333300000001"), dst=ALL_NODES6,
                     hop_limit=255)
    return rec(frame)


def tcp_conversation(port, requests, v6=False, sport=None, isn=PEER_SEQ):
    """SYN, ACK, each request as one segment, FIN, and the last ACK."""
    sport = 40000 + port if sport is None else sport
    frame = (lambda seg: v6_frame(6, seg)) if v6 else (lambda seg: v4_frame(6, seg))
    mss = bytes([2, 4, 0x05, 0xB4])
    out = [rec(frame(tcp(sport, port, isn, 0, 0x02, v6=v6, options=mss)))]
    seq = isn + 1
    out.append(rec(frame(tcp(sport, port, seq, 0, 0x10, v6=v6)), control=FIX_IP | FIX_L4 | FIX_ACK))
    for data in requests:
        out.append(rec(frame(tcp(sport, port, seq, 0, 0x18, data, v6=v6)), control=FIX_IP | FIX_L4 | FIX_ACK))
        seq += len(data)
        # The peer acknowledges the answer a tick later.
        out.append(rec(frame(tcp(sport, port, seq, 0, 0x10, v6=v6)), control=0x10 | FIX_IP | FIX_L4 | FIX_ACK))
    out.append(rec(frame(tcp(sport, port, seq, 0, 0x11, v6=v6)), control=FIX_IP | FIX_L4 | FIX_ACK))
    out.append(rec(frame(tcp(sport, port, seq + 1, 0, 0x10, v6=v6)), control=0x10 | FIX_IP | FIX_L4 | FIX_ACK))
    return out


def needs_csum_udp():
    """UDP to 7 with the checksum left partial, as a device with GUEST_CSUM may hand it over."""
    data = b"partial checksum"
    length = 8 + len(data)
    seg = struct.pack("!HHHH", 40007, 7, length, 0) + data
    partial = csum(pseudo4(17, length))
    seg = seg[:6] + struct.pack("!H", partial) + seg[8:]
    header = vhdr(flags=NEEDS_CSUM, csum_start=14 + 20, csum_offset=6)
    return rec(v4_frame(17, seg), control=0, header=header)


def data_valid_udp():
    """DATA_VALID: the device vouches for the checksum, so a wrong one is not looked at."""
    seg = struct.pack("!HHHH", 40007, 7, 8 + 5, 0xBEEF) + b"valid"
    return rec(v4_frame(17, seg), control=0, header=vhdr(flags=DATA_VALID))


def fragmented_echo():
    msg = icmp_echo(0x4242, 1, bytes(range(256)) * 2)
    first, rest = msg[:256], msg[256:]
    return [rec(eth(GUEST_MAC, 0x0800, ipv4(1, first, ident=77, frag=0x2000, total=20 + len(first))), control=FIX_IP),
            rec(eth(GUEST_MAC, 0x0800, ipv4(1, rest, ident=77, frag=256 // 8, total=20 + len(rest))), control=FIX_IP)]


def merged_echo():
    """A 1400-byte echo request spread over two receive buffers (num_buffers = 2)."""
    frame = v4_frame(1, icmp_echo(0x4343, 1, bytes(i & 0xFF for i in range(1400))))
    return rec(frame, header=vhdr(num_buffers=2))


def echo_tcp_gso():
    """A 20000-byte TCP segment to echo as a host's tap hands it over with
    GUEST_TSO4 (gso_type TCPV4, gso_size 1448, the partial checksum, ten full
    buffers), echoed back through large segments, acknowledged a tick later."""
    sport, data = 40070, bytes((i * 7) & 0xFF for i in range(20000))
    mss = bytes([2, 4, 0x05, 0xB4])
    out = [rec(v4_frame(6, tcp(sport, 7, PEER_SEQ, 0, 0x02, options=mss)))]
    seq = PEER_SEQ + 1
    out.append(rec(v4_frame(6, tcp(sport, 7, seq, 0, 0x10)), control=FIX_IP | FIX_L4 | FIX_ACK))
    frame = v4_frame(6, tcp(sport, 7, seq, 0, 0x18, data))
    header = vhdr(flags=NEEDS_CSUM, csum_start=34, csum_offset=16, num_buffers=(12 + len(frame) + 2047) // 2048,
                  gso_type=1, hdr_len=54, gso_size=1448)
    out.append(rec(frame, control=FIX_IP | FIX_L4 | FIX_ACK, header=header))
    seq += len(data)
    for _ in range(8):
        out.append(rec(v4_frame(6, tcp(sport, 7, seq, 0, 0x10)), control=0x10 | FIX_IP | FIX_L4 | FIX_ACK))
    return out


def echo6():
    msg = struct.pack("!BBHHH", 128, 0, 0, 0x4444, 1) + b"ping6"
    return rec(v6_frame(58, icmp6(msg)))


CLOSE = b"GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"


def timewait_reuse():
    """The guest closes first and holds the 4-tuple in TIME_WAIT; a new SYN
    on it beyond the old sequence space reopens it (net/tcp_timewait_reuse.h)."""
    return tcp_conversation(80, [CLOSE]) + tcp_conversation(80, [CLOSE], isn=PEER_SEQ + 100000)


def syn_cookie():
    """16 half-open connections fill the listener's share; the next client is
    answered with a SYN cookie and its ACK makes the connection
    (net/tcp_listen_cookies.h)."""
    half_open = [rec(v4_frame(6, tcp(41000 + i, 80, PEER_SEQ, 0, 0x02))) for i in range(16)]
    return half_open + tcp_conversation(80, [CLOSE], sport=41100)


SEEDS = {
    "arp-request": [arp_request()],
    "icmp-echo": [arp_request(), rec(v4_frame(1, icmp_echo(0x4141, 1, b"ping")))],
    "icmp-echo-merged": [arp_request(), merged_echo()],
    "icmp-echo-fragments": [arp_request()] + fragmented_echo(),
    "tcp-syn-80": [arp_request(), rec(v4_frame(6, tcp(40080, 80, PEER_SEQ, 0, 0x02)))],
    "http-get": [arp_request()] + tcp_conversation(80, [b"GET / HTTP/1.1\r\nHost: 10.0.2.15\r\n\r\n"]),
    "http-keepalive-stats": [arp_request()] + tcp_conversation(80, [
        b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n", b"GET /stats HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"]),
    "http-timewait-reuse": [arp_request()] + timewait_reuse(),
    "http-syn-cookie": [arp_request()] + syn_cookie(),
    "echo-tcp": [arp_request()] + tcp_conversation(7, [b"hello, echo\n"]),
    "echo-udp": [arp_request(), rec(v4_frame(17, udp(40007, 7, b"hello, udp echo")))],
    "echo-tcp-gso": [arp_request()] + echo_tcp_gso(),
    "udp-needs-csum": [arp_request(), needs_csum_udp()],
    "udp-data-valid": [arp_request(), data_valid_udp()],
    "ipv6-ns": [neighbor_solicitation()],
    "ipv6-echo": [neighbor_solicitation(), echo6()],
    "ipv6-ra-slaac": [router_advertisement()],
    "ipv6-http-get": [neighbor_solicitation()] + tcp_conversation(80, [b"GET /hello HTTP/1.1\r\nHost: [fe80::5054:ff:fe12:3456]\r\n\r\n"], v6=True),
    "ipv6-echo-udp": [neighbor_solicitation(), rec(v6_frame(17, udp(40007, 7, b"udp6", v6=True)))],
}


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "rx_path")
    os.makedirs(out, exist_ok=True)
    for name, records in SEEDS.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(b"".join(records))
    print("wrote %d seeds to %s" % (len(SEEDS), out))


if __name__ == "__main__":
    main()
