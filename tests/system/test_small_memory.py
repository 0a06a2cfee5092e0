"""Small machines (issue 14, item 5): the PVH kernel on microvm at -m 8 and
kernel.efi under OVMF at -m 40 boot, size their receive pools from the memory
that is free, and serve a bounded load with no error: wrk for 5 s and a 4 MiB
TCP echo, byte for byte, and as many connections at once as lwIP has TCP
PCBs, which it sizes from the memory too. At -m 40 OVMF itself needs room for
the whole image, .bss included; with lwIP's unused PBUF_POOL at 64 it had none
and never started the kernel. Network tests need root."""

import re

import pytest

from netns import GUEST_ADDR, PrivateNetwork, have_root
from test_exhaustion import open_many
from test_services import (HELLO, HttpClient, check_healthy, connect, expect, get, name_pcap, start_guest, tcp_echo,
                           wait_ready, wrk_hello)

needs_root = pytest.mark.skipif(not have_root(), reason="needs root for network namespaces and tap devices")

# case -> (machine, boot, memory in MiB)
CASES = {
    "microvm-pvh-8MiB": ("microvm", "pvh", 8),
    "q35-efi-40MiB": ("q35", "efi", 40),
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
