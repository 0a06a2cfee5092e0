"""Small machines (issue 14, item 5): the PVH kernel on microvm at -m 8 and
kernel.efi under OVMF at -m 40 boot, size their receive pools from the memory
that is free, and serve a bounded load with no error: wrk for 5 s and a 4 MiB
TCP echo, byte for byte. At -m 40 OVMF itself needs room for the whole
image, .bss included; with lwIP's unused PBUF_POOL at 64 it had none and
never started the kernel. Network tests need root."""

import re

import pytest

from netns import GUEST_ADDR, PrivateNetwork, have_root
from test_services import check_healthy, connect, expect, name_pcap, start_guest, tcp_echo, wait_ready, wrk_hello

needs_root = pytest.mark.skipif(not have_root(), reason="needs root for network namespaces and tap devices")

# case -> (machine, boot, memory in MiB)
CASES = {
    "microvm-pvh-8MiB": ("microvm", "pvh", 8),
    "q35-efi-40MiB": ("q35", "efi", 40),
}


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

        wrk_hello(g, net, threads=1, connections=4, seconds=5)

        sock = connect(net, (GUEST_ADDR, 7), g=g)
        try:
            tcp_echo(g, sock, 4 << 20, seed=memory)
        finally:
            sock.close()
        check_healthy(g, f"after the load at -m {memory}")
