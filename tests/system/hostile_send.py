#!/usr/bin/python3
"""Hostile frames for the guest, sent from inside a test namespace.

Run as root inside the namespace (`ip netns exec NS /usr/bin/python3
hostile_send.py CLASS`); it writes frames on tap0 addressed to the guest's
MAC and prints one JSON object: what it sent and what it saw come back.
Every class is a bounded number of frames. Some classes drive TCP by hand
from "phantom" peers: addresses on the test subnet that no host owns. The
guest learns their MAC (the tap's) from an ARP request they send, so its
answers reach the tap, where this script reads them, and the namespace's
kernel drops them (not its address) instead of resetting the connection.
"""

import json
import random
import re
import subprocess
import sys
import time

from scapy.layers.inet import UDPerror
from scapy.all import (ARP, ICMP, IP, UDP, TCP, AsyncSniffer, Ether, ICMPv6EchoReply, ICMPv6EchoRequest,
                       ICMPv6PacketTooBig, IPOption, IPv6, IPv6ExtHdrFragment, Raw, conf, get_if_hwaddr)

conf.verb = 0
IFACE = "tap0"
GUEST_MAC = "52:54:00:12:34:56"
GUEST = "10.0.2.15"
HOST = "10.0.2.2"
GUEST_LL = "fe80::5054:ff:fe12:3456"
HOST_MAC = get_if_hwaddr(IFACE)
HOST_LL = "fe80::" + ":".join("%x" % int(HOST_MAC.replace(":", "")[i:i + 4], 16) for i in (0, 4, 8))  # not EUI-64: any on-link address will do
rnd = random.Random(int(sys.argv[2]) if len(sys.argv) > 2 else 1)
_sock = None


def send(frames, gap=0.0):
    """Write frames (scapy packets or bytes) on the tap; returns how many."""
    global _sock
    if _sock is None:
        _sock = conf.L2socket(iface=IFACE)
    n = 0
    for f in frames:
        _sock.send(f if not isinstance(f, (bytes, bytearray)) else Raw(f))
        n += 1
        if gap:
            time.sleep(gap)
    return n


def eth(etype=0x0800):
    return Ether(dst=GUEST_MAC, src=HOST_MAC, type=etype)


def ip4(**kw):
    return IP(src=kw.pop("src", HOST), dst=GUEST, **kw)


def raw_frame(etype, payload):
    return bytes(eth(etype)) + bytes(payload)


class Sniffer:
    """Frames the guest sends that match a BPF filter, readable while it runs."""

    def __init__(self, bpf):
        self.frames = []
        self.s = AsyncSniffer(iface=IFACE, filter=bpf, store=False, prn=self.frames.append)
        self.s.start()
        time.sleep(0.5)  # the socket is open before the first frame goes out

    def stop(self, settle=1.0):
        time.sleep(settle)
        self.s.stop()
        return self.frames


def sniffer(bpf):
    return Sniffer(bpf)


def stop(s, settle=1.0):
    return s.stop(settle)


# ---------------------------------------------------------------------------
# classes

def truncated():
    sent = {}
    udp = bytes(ip4(proto=17) / UDP(sport=4000, dport=7) / (b"x" * 8))
    tcp = bytes(ip4() / TCP(sport=4000, dport=80, flags="S"))
    icmp = bytes(ip4() / ICMP() / b"abcd")
    ip6 = bytes(IPv6(src=HOST_LL, dst=GUEST_LL) / UDP(sport=4000, dport=7) / (b"x" * 8))
    cases = {
        # Ethernet header cut short (the device may pad the frame to 60 bytes).
        "ethernet": [bytes(eth())[:n] for n in (1, 6, 12, 13, 14)],
        # IPv4 header cut inside its 20 bytes.
        "ipv4": [raw_frame(0x0800, udp[:n]) for n in (1, 8, 12, 19)],
        "ipv6": [raw_frame(0x86DD, ip6[:n]) for n in (1, 20, 39)],
        # IP header whole, transport header cut (IP total length says so too).
        "tcp": [raw_frame(0x0800, bytes(ip4(proto=6, len=20 + n)) [:20] + tcp[20:20 + n]) for n in (1, 8, 12, 19)],
        "udp": [raw_frame(0x0800, bytes(ip4(proto=17, len=20 + n))[:20] + udp[20:20 + n]) for n in (1, 4, 7)],
        "icmp": [raw_frame(0x0800, bytes(ip4(proto=1, len=20 + n))[:20] + icmp[20:20 + n]) for n in (1, 2, 3)],
        # TCP data offset beyond the segment; UDP length beyond the datagram.
        "tcp-offset": [eth() / ip4() / TCP(sport=4000, dport=80, flags="S", dataofs=15)],
        "udp-length": [eth() / ip4() / UDP(sport=4000, dport=7, len=400) / (b"x" * 8)],
        "ipv6-payload-length": [raw_frame(0x86DD, bytes(IPv6(src=HOST_LL, dst=GUEST_LL, plen=500) / UDP(sport=4000, dport=7) / (b"x" * 8)))],
    }
    for name, frames in cases.items():
        sent[name] = send(frames * 10)
    return {"sent": sent}


def with_bad_checksum(pkt, layer):
    pkt = pkt.__class__(bytes(pkt))
    field = "cksum" if layer is ICMPv6EchoRequest else "chksum"
    setattr(pkt[layer], field, (getattr(pkt[layer], field) + 0x1111) & 0xFFFF or 1)
    return pkt


def checksums():
    cases = {
        "ip": with_bad_checksum(eth() / ip4() / ICMP(id=7, seq=1) / b"bad-ip", IP),
        "tcp": with_bad_checksum(eth() / ip4() / TCP(sport=4001, dport=80, flags="S", seq=1), TCP),
        "udp": with_bad_checksum(eth() / ip4() / UDP(sport=4001, dport=7) / b"bad-udp", UDP),
        "icmp": with_bad_checksum(eth() / ip4() / ICMP(id=7, seq=2) / b"bad-icmp", ICMP),
        "udp6": with_bad_checksum(eth(0x86DD) / IPv6(src=HOST_LL, dst=GUEST_LL) / UDP(sport=4001, dport=7) / b"bad", UDP),
        "icmp6": with_bad_checksum(eth(0x86DD) / IPv6(src=HOST_LL, dst=GUEST_LL) / ICMPv6EchoRequest(id=7, seq=3), ICMPv6EchoRequest),
    }
    s = sniffer(f"ether src {GUEST_MAC} and (udp port 7 or icmp or icmp6 or tcp port 4001)")
    sent = {name: send([f] * 20) for name, f in cases.items()}
    answers = stop(s)
    # None of these may be answered: an answer means the checksum was not checked.
    answered = [p.summary() for p in answers
                if (ICMP in p and p[ICMP].type == 0) or (UDP in p and p[UDP].sport == 7) or TCP in p
                or (IPv6 in p and p[IPv6].nh == 58 and bytes(p[IPv6].payload)[:1] == b"\x81")]
    return {"sent": sent, "answered": answered}


def lengths():
    base = eth() / ip4() / UDP(sport=4002, dport=7) / (b"y" * 32)
    frames = []
    for ihl in (0, 1, 4, 15):   # shorter than the fixed header, or longer than the packet
        p = base.copy()
        p[IP].ihl = ihl
        frames.append(p)
    for total in (0, 10, 19, 21, 400, 1500, 65535):  # below the header, inside it, past the frame
        p = base.copy()
        p[IP].len = total
        frames.append(p)
    p = base.copy()
    p[IP].version = 5
    frames.append(p)
    return {"sent": send(frames * 5)}


def options():
    opts = [
        [IPOption(b"\x01\x01\x01\x01")],                        # NOPs
        [IPOption(b"\x07\x0b\x04" + b"\x00" * 8 + b"\x00")],     # record route
        [IPOption(b"\x44\x0c\x05\x00" + b"\x00" * 8)],           # timestamp
        [IPOption(b"\x83\x07\x04\x0a\x00\x02\x02\x00")],         # loose source route via ourselves
        [IPOption(b"\x94\x04\x00\x00")],                         # router alert
        [IPOption(b"\x07\x00\x00\x00")],                         # option length 0
        [IPOption(b"\x44\xff\x05\x00")],                         # option length past the header
        [IPOption(b"\x00" * 40)],                               # 40 bytes of end-of-list
    ]
    s = sniffer(f"ether src {GUEST_MAC} and icmp")
    frames = [eth() / IP(src=HOST, dst=GUEST, options=o) / ICMP(id=9, seq=i) / b"opts" for i, o in enumerate(opts)]
    sent = send(frames, gap=0.05)
    replies = {p[ICMP].seq for p in stop(s) if ICMP in p and p[ICMP].type == 0 and p[ICMP].id == 9}
    return {"sent": sent, "echo_replies": len(replies)}


def frag(ident, offset8, payload, mf, proto=17):
    flags = "MF" if mf else 0
    return eth() / IP(src=HOST, dst=GUEST, id=ident, proto=proto, flags=flags, frag=offset8) / Raw(payload)


def fragments():
    result = {}
    s = sniffer(f"ether src {GUEST_MAC} and udp and src port 7")
    # Tiny: a 200-byte UDP echo request in 8-byte fragments; it must come back.
    body = bytes(ip4(id=0x100) / UDP(sport=4100, dport=7) / (b"t" * 192))[20:]
    tiny = [frag(0x100, i // 8, body[i:i + 8], i + 8 < len(body)) for i in range(0, len(body), 8)]
    result["tiny_sent"] = send(tiny)
    # Overlapping: the second fragment rewrites part of the first.
    body = bytes(ip4(id=0x101) / UDP(sport=4101, dport=7) / (b"o" * 64))[20:]
    result["overlap_sent"] = send([frag(0x101, 0, body[:48], True), frag(0x101, 2, b"X" * 40, True),
                                   frag(0x101, 5, body[40:], False)])
    # Oversized: fragments that would reassemble past 65535 bytes.
    big = [frag(0x102, 0, body[:1400], True)] + [frag(0x102, (65528 - 8 * k) // 8, b"z" * 1400, k != 0)
                                                 for k in range(1)]
    big.append(frag(0x103, 8189, b"w" * 200, False))  # a lone last fragment ending at 65712
    result["oversized_sent"] = send(big)
    # Never complete: first fragments of 40 datagrams (more than lwIP keeps at once).
    result["incomplete_sent"] = send([frag(0x200 + i, 0, b"i" * 64, True) for i in range(40)])
    # IPv6: overlapping and incomplete fragments.
    fh = lambda ident, off, m: IPv6ExtHdrFragment(id=ident, offset=off, m=m, nh=17)
    v6 = eth(0x86DD) / IPv6(src=HOST_LL, dst=GUEST_LL)
    result["ipv6_sent"] = send([v6 / fh(0x300, 0, 1) / Raw(b"a" * 64), v6 / fh(0x300, 4, 1) / Raw(b"b" * 64),
                                v6 / fh(0x301, 0, 1) / Raw(b"c" * 64)] +
                               [v6 / fh(0x400 + i, 0, 1) / Raw(b"d" * 32) for i in range(20)])
    answers = stop(s)
    result["tiny_echoed"] = sum(1 for p in answers if UDP in p and p[UDP].dport == 4100)
    result["overlap_echoed"] = sum(1 for p in answers if UDP in p and p[UDP].dport == 4101)
    return result


def tcp_flags():
    """Every combination of the eight TCP flags at each port, from one source port per port."""
    ports = [80, 7, 9]
    s = sniffer(f"ether src {GUEST_MAC} and tcp")
    frames = []
    for port in ports:
        for flags in range(256):
            frames.append(eth() / ip4() / TCP(sport=20000 + port, dport=port, flags=flags,
                                              seq=rnd.getrandbits(32), ack=rnd.getrandbits(32), window=1024)
                          / (b"d" if flags & 0x08 else b""))
    sent = send(frames)
    answers = stop(s, settle=2.0)
    by_flags = {}
    for p in answers:
        if TCP in p:
            key = str(p[TCP].flags)
            by_flags[key] = by_flags.get(key, 0) + 1
    return {"sent": sent, "answers": by_flags}


def syn_fin():
    """SYNs that also carry a FIN, at each listener, from fresh ports: Linux
    and FreeBSD drop them (lwIP answered with a SYN-ACK and lost the FIN).
    With an ACK too, the listener answers with a reset. A plain SYN from the
    same port afterwards still opens a connection."""
    result = {}
    for port in (80, 7):
        sport = rnd.randrange(30000, 60000)
        seq = rnd.getrandbits(32)
        # From the listener only: the random port may be one an earlier class's
        # connection used, which the guest may still be retransmitting to.
        s = sniffer(f"ether src {GUEST_MAC} and tcp src port {port} and (dst port {sport} or dst port {sport + 1})")
        send([eth() / ip4() / TCP(sport=sport, dport=port, flags="SF", seq=seq, window=1024) for _ in range(3)]
             + [eth() / ip4() / TCP(sport=sport + 1, dport=port, flags="SFA", seq=seq, ack=1, window=1024)])
        first = [p[TCP] for p in stop(s, settle=1.5) if TCP in p]
        s = sniffer(f"ether src {GUEST_MAC} and tcp src port {port} and dst port {sport}")
        send([eth() / ip4() / TCP(sport=sport, dport=port, flags="S", seq=seq, window=1024)])
        then = [p[TCP] for p in stop(s, settle=1.0) if TCP in p]
        send([eth() / ip4() / TCP(sport=sport, dport=port, flags="R", seq=(seq + 1) % 2**32)])  # the half-open one
        result[str(port)] = {
            "answers_to_syn_fin": [str(t.flags) for t in first if t.dport == sport],
            "reset_to_syn_fin_ack": any(t.dport == sport + 1 and t.flags.R for t in first),
            "syn_ack_to_plain_syn": any(t.flags.S and t.flags.A for t in then),
        }
    return result


def resets():
    """Segments no connection takes, each from its own port: an ACK and a
    FIN with data at a closed port, a SYN whose acknowledgment field holds
    a number (as nmap's T5 and T7 probes), an ACK at a listener. What each
    reset answering them carries: flags, sequence and acknowledgment
    numbers, window."""
    cases = {  # name: (port, flags, seq, ack, payload)
        "ack_at_closed_port": (81, "A", 1000, 0x12345678, b""),
        "syn_with_an_ack_number": (81, "S", 2000, 0xDEADBEEF, b""),
        "fin_with_data_at_closed_port": (81, "FP", 3000, 0, b"hello"),
        "ack_at_listener": (80, "A", 4000, 0x0BADF00D, b""),
    }
    base = rnd.randrange(30000, 60000)
    s = sniffer(f"ether src {GUEST_MAC} and tcp and dst portrange {base}-{base + len(cases) - 1}")
    send([eth() / ip4() / TCP(sport=base + i, dport=port, flags=flags, seq=seq, ack=ack, window=1024) / payload
          for i, (port, flags, seq, ack, payload) in enumerate(cases.values())])
    answers = [p[TCP] for p in stop(s, settle=1.0) if TCP in p]
    out = {}
    for i, name in enumerate(cases):
        got = [t for t in answers if t.dport == base + i]
        out[name] = [{"flags": str(t.flags), "seq": t.seq, "ack": t.ack, "window": t.window} for t in got]
    return out


def teach_mac(sock, addr):
    """Teach the guest our MAC for `addr`, an address no one owns: it records
    the sender of an ARP request for itself."""
    sock.send(Ether(dst="ff:ff:ff:ff:ff:ff", src=HOST_MAC) / ARP(op=1, hwsrc=HOST_MAC, psrc=addr, pdst=GUEST))
    time.sleep(0.2)


class Phantom:
    """A TCP peer driven by hand from an address no one owns."""

    def __init__(self, addr, dport, window=8192):
        self.addr, self.dport, self.window = addr, dport, window
        self.sport = rnd.randrange(30000, 60000)
        self.seq = rnd.getrandbits(32)
        self.sock = conf.L2socket(iface=IFACE)
        self.sniff = sniffer(f"ether src {GUEST_MAC} and tcp and dst host {addr} and dst port {self.sport}")
        teach_mac(self.sock, addr)

    def segment(self, flags, payload=b"", seq=None, ack=None, window=None, options=()):
        return (eth() / IP(src=self.addr, dst=GUEST) /
                TCP(sport=self.sport, dport=self.dport, flags=flags, seq=self.seq if seq is None else seq,
                    ack=self.rcv if ack is None else ack, window=self.window if window is None else window,
                    options=list(options))
                / payload)

    def packets(self):
        return [p for p in list(self.sniff.frames) if TCP in p]

    def wait_for(self, pred, timeout=5.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for p in self.packets():
                if pred(p[TCP]):
                    return p[TCP]
            time.sleep(0.2)
        return None

    def connect(self, options=()):
        """The handshake; the SYN-ACK stays in self.synack."""
        self.rcv = 0
        self.sock.send(self.segment("S", options=options))
        synack = self.synack = self.wait_for(lambda t: t.flags.S and t.flags.A)
        if not synack:
            return False
        self.seq += 1
        self.rcv = (synack.seq + 1) & 0xFFFFFFFF
        self.sock.send(self.segment("A"))
        return True

    def send_data(self, data, window=None):
        self.sock.send(self.segment("PA", data, window=window))
        self.seq = (self.seq + len(data)) & 0xFFFFFFFF

    def received(self):
        """Payload bytes the guest sent us, in sequence order, deduplicated."""
        chunks = {}
        for p in self.packets():
            t = p[TCP]
            if len(t.payload):
                chunks[t.seq] = bytes(t.payload)
        return chunks

    def close(self):
        self.sock.send(self.segment("R"))
        self.sniff.stop(settle=0)
        self.sock.close()


def rst_storm():
    """A live echo connection gets 600 resets with every sequence number but
    the right one (in-window ones earn a challenge ACK), 200 out-of-window data
    segments and 100 segments acknowledging data never sent; it must still echo."""
    p = Phantom("10.0.2.201", 7)
    if not p.connect():
        return {"connected": False}
    p.send_data(b"before\n")
    ok_before = p.wait_for(lambda t: bytes(t.payload) == b"before\n") is not None
    p.rcv = (p.rcv + 7) & 0xFFFFFFFF
    p.sock.send(p.segment("A"))
    rsts = []
    for i in range(600):
        if i % 3 == 0:
            off = rnd.randrange(1, 8192)                   # inside the window, not exact
        elif i % 3 == 1:
            off = rnd.randrange(70000, 1 << 31)            # beyond any 16-bit window
        else:
            off = -rnd.randrange(1, 1 << 31)               # behind rcv_nxt
        rsts.append(p.segment("R", seq=(p.seq + off) & 0xFFFFFFFF, ack=0))
    send(rsts)
    junk = [p.segment("PA", b"J" * 100, seq=(p.seq + rnd.randrange(70000, 1 << 31)) & 0xFFFFFFFF) for _ in range(200)]
    junk += [p.segment("A", ack=(p.rcv + rnd.randrange(100000, 1 << 31)) & 0xFFFFFFFF) for _ in range(100)]
    send(junk)
    time.sleep(1.0)
    p.send_data(b"after\n")
    ok_after = p.wait_for(lambda t: bytes(t.payload) == b"after\n") is not None
    challenge_acks = sum(1 for q in p.packets() if q[TCP].flags == "A" and not len(q[TCP].payload))
    resets = sum(1 for q in p.packets() if q[TCP].flags.R)
    p.close()
    return {"connected": True, "echo_before": ok_before, "echo_after": ok_after, "rsts_sent": len(rsts),
            "junk_sent": len(junk), "acks_back": challenge_acks, "resets_back": resets}


def insane_offset():
    """A one-byte segment and a bare FIN at exactly rcv_nxt + 2^31 on a live
    echo connection: lwIP 2.1.3's tcp_receive asserts on them (found by the
    rx_path fuzzer); the guest must drop both and keep echoing."""
    p = Phantom("10.0.2.205", 7)
    if not p.connect():
        return {"connected": False}
    p.send_data(b"before\n")
    ok_before = p.wait_for(lambda t: bytes(t.payload) == b"before\n") is not None
    p.rcv = (p.rcv + 7) & 0xFFFFFFFF
    far = (p.seq + (1 << 31)) & 0xFFFFFFFF
    send([p.segment("PA", b"X", seq=far), p.segment("FA", seq=far)])
    time.sleep(1.0)
    p.send_data(b"after\n")
    ok_after = p.wait_for(lambda t: bytes(t.payload) == b"after\n") is not None
    p.close()
    return {"connected": True, "echo_before": ok_before, "echo_after": ok_after, "sent": 2}


def zero_window():
    """A client that asks for /hello while advertising a zero window: the guest
    may send nothing but window probes until the window opens, then the page."""
    p = Phantom("10.0.2.202", 80, window=0)
    if not p.connect():
        return {"connected": False}
    p.send_data(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
    time.sleep(4.0)
    data_while_closed = sum(len(v) for v in p.received().values())
    p.window = 8192
    p.sock.send(p.segment("A"))
    got = p.wait_for(lambda t: b"hello\n" in bytes(t.payload), timeout=10.0)
    p.close()
    # A one-byte zero-window probe is allowed; a response is not.
    return {"connected": True, "bytes_while_closed": data_while_closed, "response_after_open": got is not None}


def sack():
    """Out-of-order data at the echo service (RFC 2018). From a client whose
    SYN offered SACK: the SYN-ACK offers it back, and the ACKs for data
    after a hole carry SACK blocks naming what arrived (two holes: two
    blocks, the newest first), so the client resends only the holes. From
    one that did not offer it: neither. Every byte is echoed once the holes
    are filled."""
    out = {}
    for offered, addr in ((True, "10.0.2.211"), (False, "10.0.2.212")):
        p = Phantom(addr, 7, window=65535)
        opts = [("MSS", 1460), ("SAckOK", b"")] if offered else [("MSS", 1460)]
        if not p.connect(opts):
            return {"connected": False}
        syn_ack_options = [o[0] for o in p.synack.options]
        base, rcv = p.seq, p.rcv
        data = bytes(rnd.getrandbits(8) for _ in range(500))
        piece = lambda i: data[100 * i:100 * (i + 1)]

        def echoed():
            got = bytearray(len(data))
            for seq, v in p.received().items():  # retransmissions may cut the stream differently
                off = (seq - rcv) & 0xFFFFFFFF
                got[off:off + len(v)] = v
            return bytes(got)

        def send_piece(i):  # acknowledging the echo so far, which Nagle's rule waits for
            ack = rcv + max((((seq - rcv) & 0xFFFFFFFF) + len(v) for seq, v in p.received().items()), default=0)
            p.sock.send(p.segment("PA", piece(i), seq=(base + 100 * i) & 0xFFFFFFFF, ack=ack & 0xFFFFFFFF))
            time.sleep(0.3)

        send_piece(1)
        send_piece(3)
        blocks = []
        for q in p.packets():
            for name, value in q[TCP].options:
                if name == "SAck":
                    blocks.append([((v - base) & 0xFFFFFFFF) for v in value])
        acks = [(q[TCP].ack - base) & 0xFFFFFFFF for q in p.packets() if q[TCP].flags.A and not q[TCP].flags.S]
        for i in (0, 2, 4):
            send_piece(i)
        time.sleep(0.5)
        got = echoed()
        p.seq = (base + len(data)) & 0xFFFFFFFF  # the reset at rcv_nxt, or the guest keeps the connection
        p.close()
        out["offered" if offered else "not_offered"] = {
            "syn_ack_options": syn_ack_options, "sack_blocks": blocks, "acks_before_fill": acks,
            "echoed_exact": got == data}
    return out


def tail_probe():
    """A client asks for /stats (several segments) and then acknowledges
    nothing, as if every ACK of the flight were lost: before its
    retransmission timer the guest sends one segment to learn what arrived
    (RFC 8985 7's tail loss probe), and no other until the client speaks."""
    p = Phantom("10.0.2.213", 80, window=65535)
    if not p.connect([("MSS", 1460)]):
        return {"connected": False}
    p.send_data(b"GET /stats HTTP/1.1\r\nHost: x\r\n\r\n")
    time.sleep(3.0)
    seqs = [(q[TCP].seq - p.rcv) & 0xFFFFFFFF for q in p.packets() if len(q[TCP].payload)]
    p.close()
    return {"connected": True, "data_segments": len(seqs), "offsets": seqs}


def guest_stats(*names):
    """Values of /stats metrics (summed over labels), fetched over a normal connection."""
    import socket
    from test_services import parse_prometheus  # the tests' own reader of the page
    with socket.create_connection((GUEST, 80), timeout=10) as c:
        c.sendall(b"GET /stats HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := c.recv(65536):
            data += chunk
    samples = parse_prometheus(data.split(b"\r\n\r\n", 1)[1].decode())
    return {name: sum(v for (n, _), v in samples.items() if n == name) for name in names}


def tiny_pipeline():
    """An HTTP client that reads nothing (zero window) asks for /stats 12
    times, so the guest's send buffer fills and its requests wait, then sends
    1,500 more pipelined bytes one per segment. Each segment would hold a 2 KiB
    receive buffer; the guest must keep them compacted, not pinned."""
    held = ("virtio_net_rx_buffers_held", "netif_rx_copied_total")
    before = guest_stats(*held)
    p = Phantom("10.0.2.206", 80, window=0)
    if not p.connect():
        return {"connected": False}
    p.send_data(b"GET /stats HTTP/1.1\r\nHost: x\r\n\r\n" * 12)
    time.sleep(1.0)
    # 8 KiB in full segments fill the request buffer; what follows is held.
    tail = b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n" * 400  # 12,800 bytes
    for off in range(0, 8400, 1400):
        p.send_data(tail[off:off + 1400])
    start = p.seq
    frames = [p.segment("PA", tail[8400 + i:8401 + i], seq=(start + i) & 0xFFFFFFFF) for i in range(1500)]
    p.seq = (start + 1500) & 0xFFFFFFFF
    sent = send(frames)
    # The tap may drop some of a burst: send again from what the guest acknowledged.
    for _ in range(10):
        time.sleep(0.5)
        acks = ((q[TCP].ack - start) & 0xFFFFFFFF for q in p.packets() if q[TCP].flags.A)
        acked = max((a for a in acks if a <= 1500), default=0)
        if acked >= 1500:
            break
        sent += send(frames[acked:])
    during = guest_stats(*held)
    p.close()
    return {"connected": True, "sent": sent, "all_acked": acked == 1500, "before": before, "during": during}


def timewait_lower_isn():
    """A client behind a NAT: an HTTP/1.0 request, which the guest answers and
    closes first (so it holds the 4-tuple in TIME_WAIT), then a new SYN from
    the same address and port with an ISN below the old connection's end, as
    another host behind the NAT would pick. The guest answers it with a bare
    ACK; the client answers that with an RST at its acknowledgment (RFC 9293
    3.10.7.3) and sends its SYN again a second later."""
    p = Phantom("10.0.2.208", 80, window=65535)
    if not p.connect():
        return {"connected": False}
    p.send_data(b"GET /hello HTTP/1.0\r\n\r\n")
    fin = p.wait_for(lambda t: t.flags.F, timeout=5.0)
    if not fin:
        return {"connected": True, "guest_fin": False}
    p.rcv = (fin.seq + len(fin.payload) + 1) & 0xFFFFFFFF
    p.sock.send(p.segment("FA"))  # acknowledges the response and the FIN, and closes: the guest is in TIME_WAIT
    p.seq = (p.seq + 1) & 0xFFFFFFFF
    time.sleep(0.5)
    old_end = p.seq
    isn = (old_end - 100000) & 0xFFFFFFFF

    def answer_to_syn(timeout):
        t = p.wait_for(lambda t: t.flags.S and t.flags.A and t.ack == (isn + 1) & 0xFFFFFFFF, timeout=timeout)
        if t:
            return "syn-ack", t
        t = p.wait_for(lambda t: t.flags == "A" and t.ack == old_end, timeout=0.1)
        return ("ack", t) if t else (None, None)

    p.sniff.frames.clear()
    p.sock.send(p.segment("S", seq=isn, ack=0))
    first, ack = answer_to_syn(2.0)
    if first == "ack":
        p.sock.send(p.segment("R", seq=ack.ack, ack=0))  # what Linux in SYN-SENT sends back
    time.sleep(1.0)
    p.sniff.frames.clear()
    p.sock.send(p.segment("S", seq=isn, ack=0))
    second, _ = answer_to_syn(2.0)
    p.seq, p.rcv = isn, 0
    p.close()
    return {"connected": True, "guest_fin": True, "first_syn": first, "syn_after_rst": second}


def isn_spread():
    """SYNs to the HTTP port from 16 consecutive ports of one phantom, 50 ms
    apart, then a second SYN from the first port a second after its first:
    the ISNs of the SYN-ACKs (each handshake reset after its SYN-ACK), and
    the seconds between the two SYNs of the first port."""
    addr, base = "10.0.2.210", rnd.randrange(30000, 60000)
    sock = conf.L2socket(iface=IFACE)
    s = sniffer(f"ether src {GUEST_MAC} and tcp and dst host {addr} and src port 80")
    teach_mac(sock, addr)

    def syn(port, seq):
        sock.send(eth() / IP(src=addr, dst=GUEST) / TCP(sport=port, dport=80, flags="S", seq=seq, window=65535))

    def synack_of(port, after):
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline:
            for p in list(s.frames)[after:]:
                t = p[TCP]
                if t.dport == port and t.flags.S and t.flags.A:
                    sock.send(eth() / IP(src=addr, dst=GUEST) / TCP(sport=port, dport=80, flags="R", seq=t.ack))
                    return t.seq
            time.sleep(0.02)
        return None

    isns = []
    first_at = time.monotonic()
    for i in range(16):
        syn(base + i, 1000 + i)
        isns.append(synack_of(base + i, 0))
        time.sleep(0.05)
    time.sleep(max(0.0, first_at + 1.0 - time.monotonic()))
    again_at, seen = time.monotonic(), len(s.frames)
    syn(base, 50000000)
    again = synack_of(base, seen)
    stop(s, settle=0.2)
    sock.close()
    return {"isns": isns, "again": again, "seconds": again_at - first_at}


def isn_reopened():
    """A client reads /stats (about 26 KB) with Connection: close and, as soon
    as its socket is gone, connects again from the same port, so the guest,
    holding the 4-tuple in TIME_WAIT, reopens it (net/tcp_timewait_reuse.h).
    What the guest's FIN and SYN-ACKs said, and the two responses' starts."""
    import socket
    port = rnd.randrange(30000, 60000)
    s = sniffer(f"ether src {GUEST_MAC} and tcp and src port 80 and dst port {port}")
    starts = []
    for _ in range(2):
        deadline = time.monotonic() + 5.0
        while True:
            c = socket.socket()
            c.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            c.settimeout(10)
            try:
                c.bind((HOST, port))
                c.connect((GUEST, 80))
                break
            except OSError:  # the old socket waits for the guest's ACK of its FIN
                c.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.005)
        c.sendall(b"GET /stats HTTP/1.1\r\nHost: guest\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := c.recv(65536):
            data += chunk
        c.close()
        starts.append(data[:12].decode(errors="replace"))
    frames = [p[TCP] for p in stop(s, settle=0.5)]
    synacks = [t.seq for t in frames if t.flags.S and t.flags.A]
    fins = [(t.seq + len(t.payload) + 1) & 0xFFFFFFFF for t in frames if t.flags.F]
    return {"responses": starts, "synacks": synacks, "first_end": fins[0] if fins else None}


def vanish():
    """Two echo clients that disappear: one mid-transfer (sends 16 KiB, then
    never acknowledges the echo), one idle (sends a few bytes and
    acknowledges their echo). Neither sends anything again, not even a reset."""
    out = {}
    for name, addr, data in (("mid_transfer", "10.0.2.203", b"v" * 16384), ("idle", "10.0.2.204", b"hi\n")):
        p = Phantom(addr, 7, window=65535)
        if not p.connect():
            return {"connected": False}
        for off in range(0, len(data), 1400):
            p.send_data(data[off:off + 1400])
        time.sleep(1.0)
        echoed = p.received()
        out[name] = sum(len(v) for v in echoed.values())
        if name == "idle" and echoed:
            p.rcv = max(seq + len(v) for seq, v in echoed.items()) & 0xFFFFFFFF
            p.sock.send(p.segment("A"))  # nothing left in flight: only keepalive can find it gone
        p.sniff.stop(settle=0)
        p.sock.close()
    return out


def arp_flood():
    """5000 ARP requests and replies from random addresses and MACs on the subnet, plus malformed ones."""
    frames = []
    for i in range(5000):
        mac = "02:%02x:%02x:%02x:%02x:%02x" % tuple(rnd.getrandbits(8) for _ in range(5))
        src = f"10.0.2.{rnd.randrange(16, 250)}"
        op = 1 if i % 2 else 2
        frames.append(Ether(dst="ff:ff:ff:ff:ff:ff" if op == 1 else GUEST_MAC, src=mac) /
                      ARP(op=op, hwsrc=mac, psrc=src, hwdst=GUEST_MAC if op == 2 else "00:00:00:00:00:00",
                          pdst=GUEST if i % 3 else f"10.0.2.{rnd.randrange(16, 250)}"))
    bad = [Ether(dst=GUEST_MAC, src=HOST_MAC) / ARP(hwlen=9, plen=4, psrc=HOST, pdst=GUEST),
           Ether(dst=GUEST_MAC, src=HOST_MAC) / ARP(ptype=0x86DD, psrc=HOST, pdst=GUEST),
           Ether(dst=GUEST_MAC, src=HOST_MAC) / ARP(op=77, psrc=HOST, pdst=GUEST),
           bytes(Ether(dst=GUEST_MAC, src=HOST_MAC) / ARP(psrc=HOST, pdst=GUEST))[:20]]
    # Someone claiming the guest's own address.
    bad.append(Ether(dst="ff:ff:ff:ff:ff:ff", src="02:00:00:00:00:99") / ARP(op=2, hwsrc="02:00:00:00:00:99", psrc=GUEST, pdst=GUEST))
    n = send(frames) + send(bad * 10)
    # Put the host's own entry back (the flood may have evicted or mislearned it).
    send([Ether(dst=GUEST_MAC, src=HOST_MAC) / ARP(op=1, hwsrc=HOST_MAC, psrc=HOST, pdst=GUEST)])
    return {"sent": n}


def jumbo():
    """Frames longer than the 1500-byte MTU (the tap's MTU is raised for this):
    ICMP echo requests and UDP echo datagrams of 1600 to 60000 bytes, unfragmented."""
    s = sniffer(f"ether src {GUEST_MAC} and (icmp or udp src port 7)")
    sizes = [1600, 3000, 9000, 20000, 40000, 60000]
    frames = []
    for n in sizes:
        frames.append(eth() / ip4(flags="DF") / ICMP(id=11, seq=n & 0xFFFF) / (b"j" * (n - 28)))
        frames.append(eth() / ip4(flags="DF") / UDP(sport=4200, dport=7) / (b"u" * (n - 28)))
    sent = send(frames, gap=0.1)
    answers = stop(s, settle=2.0)
    return {"sent": sent, "sizes": sizes,
            "answers": len([p for p in answers if (ICMP in p and p[ICMP].id == 11) or UDP in p])}


def smuggle():
    """One 38986-byte frame: twenty 2 KiB receive buffers with mergeable
    buffers, more than the driver takes for one frame. Its last buffer starts
    with what looks like a virtio-net header (num_buffers 1) followed by an
    ICMP echo request. If the driver drops the oversized frame but leaves its
    other buffers on the ring, it reads them as frames of their own and the
    inner ping, never sent as a frame, is answered."""
    inner = bytes(eth() / ip4() / ICMP(id=0x5A5A, seq=1) / (b"s" * 32))
    header = bytes(10) + (1).to_bytes(2, "little")
    last = 2036 + 18 * 2048            # frame offset of the 20th buffer (12-byte header in the first)
    outer = bytearray(bytes(eth() / ip4(flags="DF", proto=17)) + bytes(last + len(header) + len(inner) - 34))
    outer[last:last + 12] = header
    outer[last + 12:] = inner
    s = sniffer(f"ether src {GUEST_MAC} and icmp")
    send([bytes(outer)], gap=0.5)
    answers = stop(s, settle=2.0)
    return {"sent": 1, "frame_bytes": len(outer),
            "smuggled_answers": sum(1 for p in answers if ICMP in p and p[ICMP].type == 0 and p[ICMP].id == 0x5A5A)}


def udp_closed():
    """200 datagrams to closed ports: each should earn an ICMP port unreachable."""
    s = sniffer(f"ether src {GUEST_MAC} and icmp")
    frames = [eth() / ip4() / UDP(sport=5000 + i, dport=1000 + i) / b"anyone?" for i in range(200)]
    sent = send(frames, gap=0.005)
    answers = stop(s, settle=2.0)
    unreach = {p[UDPerror].sport for p in answers
               if ICMP in p and p[ICMP].type == 3 and p[ICMP].code == 3 and UDPerror in p}
    return {"sent": sent, "port_unreachable": len(unreach)}


def packet_too_big():
    """ICMPv6 Packet Too Big messages no router sends, about the host's own
    address: a path MTU above the link's and five below IPv6's 1280 (down to
    0, and 50, where a fragment would hold no data). RFC 8201 (section 4):
    none may change the path MTU. Then five pings of 1400 bytes (1448-byte
    packets): each answer must leave whole."""
    # From the tap's own link-local address: this namespace's kernel answers
    # the guest's neighbour solicitations for it (and ignores the answers).
    addr = subprocess.run(["ip", "-6", "addr", "show", "dev", IFACE], capture_output=True, text=True).stdout
    host_ll = re.search(r"inet6 (fe80::[0-9a-f:]+)/64", addr).group(1)
    v6 = eth(0x86DD) / IPv6(src=host_ll, dst=GUEST_LL)
    s = sniffer(f"ether src {GUEST_MAC} and ip6")
    send([v6 / ICMPv6EchoRequest(id=9, seq=0)])  # the guest's destination cache gets the host
    time.sleep(0.5)
    inner = IPv6(src=GUEST_LL, dst=host_ll) / ICMPv6EchoReply(id=9, seq=0) / (b"p" * 1400)
    sent = send([v6 / ICMPv6PacketTooBig(mtu=m) / inner for m in (9000, 1279, 1000, 0, 56, 50)], gap=0.05)
    time.sleep(0.5)
    send([v6 / ICMPv6EchoRequest(id=9, seq=i) / (b"p" * 1400) for i in range(1, 6)], gap=0.05)
    answers = stop(s, settle=2.0)
    whole = {p[ICMPv6EchoReply].seq for p in answers if ICMPv6EchoReply in p and p[ICMPv6EchoReply].id == 9
             and IPv6ExtHdrFragment not in p and len(p[ICMPv6EchoReply].data) == 1400}
    fragments = sum(1 for p in answers if IPv6ExtHdrFragment in p)
    return {"sent": sent, "whole_replies": len(whole - {0}), "fragments": fragments}


def rst_at(sport, dport, count):
    """`count` resets at a live connection of ours (host sport -> guest dport) with
    random sequence numbers: in-window ones earn a challenge ACK, none may kill it."""
    frames = [eth() / ip4() / TCP(sport=sport, dport=dport, flags="R", seq=rnd.getrandbits(32))
              for _ in range(count)]
    return {"sent": send(frames, gap=0.001)}


CLASSES = {f.__name__.replace("_", "-"): f for f in
           (truncated, checksums, lengths, options, fragments, tcp_flags, syn_fin, resets, sack, tail_probe, rst_storm, insane_offset,
            zero_window, tiny_pipeline,
            timewait_lower_isn, isn_spread, isn_reopened,
            arp_flood,
            jumbo, smuggle, udp_closed, vanish, packet_too_big)}

if __name__ == "__main__":
    name = sys.argv[1]
    if name == "rst-at":
        out = rst_at(int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
    else:
        out = CLASSES[name]()
    print(json.dumps(out))
