"""Small machines (issue 14, item 5): the PVH kernel on microvm at -m 8 and
kernel.efi under OVMF at -m 40 boot, size their receive pools from the memory
that is free, and serve a bounded load with no error: wrk for 5 s and a 4 MiB
TCP echo, byte for byte, and as many connections at once as lwIP has TCP
PCBs, which it sizes from the memory too; under OVMF also at -m 37, on q35
and pc. At -m 40 OVMF itself needs room for the whole image, .bss included;
with lwIP's unused PBUF_POOL at 64 it had none and never started the kernel.
Network tests need root."""

import re
import socket
import time

import pytest

from netns import GUEST_ADDR, PrivateNetwork, have_root
from test_exhaustion import open_many
from test_services import (HELLO, HttpClient, check_healthy, connect, expect, get, name_pcap, start_guest, stats,
                           tcp_echo, wait_ready, wrk_hello)
from test_services import request as http_request

needs_root = pytest.mark.skipif(not have_root(), reason="needs root for network namespaces and tap devices")

# case -> (machine, boot, memory in MiB)
CASES = {
    "microvm-pvh-8MiB": ("microvm", "pvh", 8),
    "q35-efi-40MiB": ("q35", "efi", 40),
    # The least OVMF loads the kernel in. Before boot services' memory was released ahead of the kernel's page tables,
    # OVMF left them too few pages there ("out of memory mapping RAM" on pc, "no page for the top-level
    # page table" on q35; with one vCPU, pc also at -m 38 and 40).
    "q35-efi-37MiB": ("q35", "efi", 37),
    "pc-efi-37MiB": ("pc", "efi", 37),
}


def lwip_tcp_pcbs(g):
    """The TCP PCB count the console reports, checked against the rule of
    net/lwip_pools.h: one per 24 KiB free, from 64 to 1024."""
    m = re.search(r"net: lwIP pools \d+ KiB from the heap: (\d+) TCP pcbs \(for (\d+) MiB free\)", g.serial())
    expect(g, m, "no lwIP pool sizes on the console")
    pcbs, mib = int(m.group(1)), int(m.group(2))
    low, high = (max(64, min(1024, x * 1024 // 24)) for x in (mib, mib + 1))
    expect(g, low <= pcbs <= high, f"{pcbs} TCP pcbs for {mib} MiB free: expected {low}-{high}")
    print(f"{pcbs} TCP pcbs for {mib} MiB free")
    return pcbs


@needs_root
@pytest.mark.parametrize("case", CASES)
def test_small_memory_serves(request, tmp_path, case):
    machine, boot, memory = CASES[case]
    with PrivateNetwork() as net:
        g = start_guest(tmp_path, net, machine=machine, boot=boot, memory=memory)
        request.addfinalizer(g.kill)
        name_pcap(request, g)
        wait_ready(g, timeout=120)
        pool = re.search(r"virtio-net: .* (\d+) receive buffers \((\d+) KiB\)", g.serial())
        expect(g, pool, "no receive pool on the console")
        print(f"{case}: {pool.group(1)} receive buffers, {pool.group(2)} KiB")
        pcbs = lwip_tcp_pcbs(g)

        # As many connections as there are PCBs, each with a request answered and kept open: the
        # heap holds every connection's buffers (net/lwip_pools.h sizes the pool so that it does).
        held, refused, timed_out = open_many(net, pcbs, 80, timeout=30, first=get("/hello"))
        try:
            expect(g, len(held) == pcbs, f"{len(held)} of {pcbs} connections opened ({refused} refused, "
                                         f"{timed_out} timed out)")
            for i, s in enumerate(held):
                r = HttpClient(s, g).response(timeout=30)
                expect(g, r.status == 200 and r.body == HELLO, f"connection {i} of {pcbs}: {r}")
        finally:
            for s in held:
                s.close()

        wrk_hello(g, net, threads=1, connections=4, seconds=5)

        sock = connect(net, (GUEST_ADDR, 7), g=g)
        try:
            tcp_echo(g, sock, 4 << 20, seed=memory)
        finally:
            sock.close()
        check_healthy(g, f"after the load at -m {memory}")


@needs_root
def test_pipelining_clients_that_never_read_at_8MiB(request, tmp_path):
    """12 clients each pipeline 256 KiB of requests and never read their
    answers. What the HTTP server holds past its buffers is capped for all
    connections together (a sixteenth of the memory free, at least a
    window): without the cap the guest held 2 MB of the 5 MB free. And a
    connection whose answers wait for its window answers no more pipelined
    requests past 64 queued pbufs: without that the 12 took every pbuf of
    lwIP's pool and another client got no answer. Then all is given back."""
    with PrivateNetwork() as net:
        g = start_guest(tmp_path, net, machine="microvm", boot="pvh", memory=8)
        request.addfinalizer(g.kill)
        wait_ready(g, timeout=120)
        before = stats(g, net)
        data = get("/hello") * (256 * 1024 // len(get("/hello")))
        socks = []
        try:
            for _ in range(12):
                s = connect(net, (GUEST_ADDR, 80), g=g)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                s.setblocking(False)
                socks.append([s, 0])
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                for e in socks:
                    try:
                        e[1] += e[0].send(data[e[1]:e[1] + 65536])
                    except BlockingIOError:
                        pass
                time.sleep(0.01)
            during = stats(g, net)
            held, most = during[("http_input_held_bytes", "")], during[("http_input_held_max_bytes", "")]
            grew = during[("kernel_heap_bytes", "")] - before[("kernel_heap_bytes", "")]
            print(f"12 clients sent {sum(e[1] for e in socks)} bytes; held {held} of at most {most}; "
                  f"heap +{grew}; deferred {during[('http_input_deferred_total', '')]}")
            expect(g, held <= most <= 1 << 20, f"held {held} bytes, at most {most}")
            expect(g, grew < 1 << 20, f"the heap grew by {grew} bytes")
            r, c = http_request(g, net, get("/hello"))
            c.close()
            expect(g, r.status == 200 and r.body == HELLO, f"another client while they hold: {r}")
        finally:
            for e in socks:
                e[0].close()
        deadline = time.monotonic() + 30
        while stats(g, net)[("http_input_held_bytes", "")] and time.monotonic() < deadline:
            time.sleep(1)
        expect(g, not stats(g, net)[("http_input_held_bytes", "")], "held input not given back 30 s after the close")
        check_healthy(g, "after the clients that never read")
