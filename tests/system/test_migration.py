"""A guest saved and restored, as snapshots are taken and restored for fast
starts (Firecracker's snapshots, QEMU's migration to a file): QEMU stops the
guest, writes its whole state to a file and ends; a new QEMU loads it and
continues. The guest must go on as if nothing happened: a keep-alive HTTP
connection and an echo connection opened before still work, new clients are
served, and, with GUEST_ANNOUNCE, the guest announces its addresses when the
device asks after the move (virtio 1.2, 5.1.6.5.4), so that switches learn
where it now is. Needs root (the namespace and its tap)."""

import re
import time

import pytest

from netns import GUEST_ADDR, GUEST_STATIC_CMDLINE, PrivateNetwork, have_root
from qemu import KERNEL, PVH_KERNEL, Guest
from qemu_args import nic_device
from test_services import HELLO, HttpClient, connect, expect, get, ping

pytestmark = pytest.mark.skipif(not have_root(), reason="needs root for network namespaces and tap devices")

MACHINES = [("pvh", "microvm"), ("pvh", "q35"), ("efi", "q35")]


def guest(workdir, net, boot, machine, extra_args=()):
    return Guest(workdir, machine=machine, boot=boot, cmdline=GUEST_STATIC_CMDLINE, prefix=net.prefix,
                 nic=net.nic(device=nic_device(machine)), extra_args=extra_args)


def wait_monitor(g, command, pattern, timeout=60.0):
    deadline = time.monotonic() + timeout
    while True:
        out = g.monitor(command)
        if re.search(pattern, out):
            return out
        if time.monotonic() > deadline:
            g.fail(f"'{command}' never said /{pattern}/ in {timeout:.0f} s; last: {out!r}")
        time.sleep(0.2)


def hello(g, client, when):
    client.g = g  # a broken response fails the test with this guest's report
    client.send(get("/hello"))
    r = client.response()
    expect(g, r.version == "HTTP/1.1" and r.status == 200 and r.body == HELLO, f"{when}: {r.status_line} {r.body!r}")


def echo(g, conn, payload, when):
    conn.sendall(payload)
    data = b""
    while len(data) < len(payload):
        chunk = conn.recv(65536)
        expect(g, chunk, f"{when}: the echo connection closed after {len(data)} bytes")
        data += chunk
    expect(g, data == payload, f"{when}: echo of {len(payload)} bytes came back different")


@pytest.mark.parametrize("boot,machine", MACHINES, ids=[f"{b}-{m}" for b, m in MACHINES])
def test_saved_and_restored_guest_goes_on(tmp_path, boot, machine):
    kernel = KERNEL if boot == "efi" else PVH_KERNEL
    if not kernel.is_file():
        pytest.skip(f"{kernel} is not built; run 'make'")
    state = tmp_path / "state.bin"
    with PrivateNetwork() as net:
        with guest(tmp_path / "before", net, boot, machine) as g1:
            g1.wait_for(r"^READY ", timeout=90)
            web, echoes = HttpClient(connect(net, g=g1)), connect(net, (GUEST_ADDR, 7), g=g1)
            hello(g1, web, "before")
            echo(g1, echoes, bytes(range(256)) * 64, "before")
            g1.monitor("stop")
            g1.monitor(f"migrate exec:cat>{state}")
            wait_monitor(g1, "info migrate", r"Migration status: completed")
        # QEMU ended (the tap is free for the next); the guest exists only in the file.
        with guest(tmp_path / "after", net, boot, machine, ("-incoming", f"exec:cat {state}")) as g2:
            wait_monitor(g2, "info migrate", r"Migration status: completed")
            wait_monitor(g2, "info status", r"VM status: paused")  # as it was saved
            g2.monitor("cont")
            wait_monitor(g2, "info status", r"VM status: running")
            try:
                hello(g2, web, "after the restore")
                echo(g2, echoes, bytes(range(255, -1, -1)) * 64, "after the restore")
            except OSError as e:
                g2.fail(f"a connection made before the save failed after the restore: {e!r}")
            web.sock.close()
            echoes.close()
            ping(g2, net, GUEST_ADDR, count=3)
            fresh = HttpClient(connect(net, g=g2))
            hello(g2, fresh, "a new connection after the restore")
            fresh.sock.close()
            g2.wait_for(r"announced the addresses, as the device asked", timeout=20)
            log = g2.serial()
            expect(g2, "PANIC" not in log and "broken" not in log, f"after the restore:\n{log}")
