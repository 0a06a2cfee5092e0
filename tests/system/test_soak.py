"""The soak (issue 9, item 2): mixed load for SOAK_SECONDS, then the guest must
be back where it started. `make soak` runs it for 600 s; `make test` runs the
same code for 20 s so that it keeps working.

Load, all from the test namespace and bounded in time: curl with a new
connection per request (/, /hello, /stats), a keep-alive client, TCP echo of
random sizes up to 2 MiB checked by sha256, UDP echo, and ping. At the end:
no PANIC, no echoed byte wrong, no request failed, and once the load stops
lwIP's pools and heap and the driver's held receive buffers return to their
idle values from before the load (no leak).
"""

import hashlib
import os
import random
import socket
import threading
import time

import pytest

from netns import GUEST_ADDR, PrivateNetwork, have_root
from test_services import HttpClient, connect, inside, run, start_guest, stats, wait_ready

pytestmark = pytest.mark.skipif(not have_root(), reason="needs root for network namespaces and tap devices")

SOAK_SECONDS = float(os.environ.get("SOAK_SECONDS", "20"))
PROGRESS_EVERY = 30.0
SETTLE_TIMEOUT = 30.0  # the clients close first (no TIME_WAIT in the guest); keepalive frees an idle vanished peer in ~20 s


class Load:
    """Counts per kind of work; the first few errors kept word for word."""

    def __init__(self, deadline):
        self.deadline = deadline
        self.lock = threading.Lock()
        self.done = {}
        self.failed = {}
        self.errors = []

    def running(self):
        return time.monotonic() < self.deadline

    def count(self, kind, ok, error=None):
        with self.lock:
            table = self.done if ok else self.failed
            table[kind] = table.get(kind, 0) + 1
            if not ok and len(self.errors) < 10:
                self.errors.append(f"{kind}: {error}")


def curl_worker(load, net):
    paths = ["/", "/hello", "/stats"]
    i = 0
    while load.running():
        path = paths[i % len(paths)]
        i += 1
        r = run(net, "curl", "-sS", "--noproxy", "*", "--max-time", "10", "-o", "/dev/null",
                "-w", "%{http_code}", f"http://{GUEST_ADDR}{path}", timeout=30)
        code = r.stdout.decode().strip()
        load.count("curl", r.returncode == 0 and code == "200", f"{path}: exit {r.returncode} status {code!r} "
                   f"{r.stderr.decode(errors='replace').strip()}")


def keepalive_worker(load, net):
    client = None
    while load.running():
        try:
            if client is None:
                client = HttpClient(connect(net))
            client.send(f"GET /hello HTTP/1.1\r\nHost: {GUEST_ADDR}\r\n\r\n".encode())
            r = client.response(timeout=10.0)
            load.count("keep-alive", r.status == 200 and r.body == b"hello\n", repr(r))
        except (OSError, EOFError, TimeoutError, AssertionError) as e:
            load.count("keep-alive", False, repr(e))
            client = None
    if client:
        client.close()


def tcp_echo_worker(load, net, seed):
    rnd = random.Random(seed)
    while load.running():
        size = rnd.choice([1, 100, 1460, 4096, 65536, 300_000, 2 << 20])
        data = rnd.randbytes(size)
        try:
            sock = connect(net, (GUEST_ADDR, 7), timeout=10)
        except OSError as e:
            load.count("tcp-echo", False, f"connect: {e!r}")
            continue
        received = bytearray()
        writer_error = []

        def write():
            try:
                sock.sendall(data)
                sock.shutdown(socket.SHUT_WR)
            except OSError as e:
                writer_error.append(e)

        t = threading.Thread(target=write, daemon=True)
        t.start()
        try:
            while True:
                chunk = sock.recv(1 << 20)
                if not chunk:
                    break
                received += chunk
        except OSError as e:
            writer_error.append(e)
        t.join(timeout=30)
        sock.close()
        ok = not writer_error and hashlib.sha256(received).digest() == hashlib.sha256(data).digest()
        load.count("tcp-echo", ok, f"{size} bytes sent, {len(received)} back, errors {writer_error}")
        if ok:
            with load.lock:
                load.done["tcp-echo-bytes"] = load.done.get("tcp-echo-bytes", 0) + size


def udp_echo_worker(load, net, seed):
    rnd = random.Random(seed)
    with inside(net):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(2.0)
    with sock:
        while load.running():
            payload = rnd.randbytes(rnd.randint(1, 1472))
            sock.sendto(payload, (GUEST_ADDR, 7))
            try:
                while True:
                    data, _ = sock.recvfrom(2048)
                    if data == payload:
                        break
            except socket.timeout:
                # UDP may be lost under load; it is counted, not failed.
                load.count("udp-lost", True)
                continue
            load.count("udp-echo", True)
            time.sleep(0.005)


def ping_worker(load, net):
    while load.running():
        r = run(net, "ping", "-q", "-c", "20", "-i", "0.05", "-W", "2", GUEST_ADDR, timeout=60)
        load.count("ping-rounds", r.returncode == 0, r.stdout.decode(errors="replace")[-200:])


def idle_state(g, net):
    """What must come back after the load: pool use, heap use, held buffers."""
    samples = stats(g, net)
    keep = ("lwip_pool_used", "lwip_heap_used_bytes", "virtio_net_rx_buffers_held")
    return {f"{name}{labels}": v for (name, labels), v in samples.items() if name in keep}


def test_soak_mixed_load_leaves_nothing_behind(tmp_path):
    with PrivateNetwork() as net:
        g = start_guest(tmp_path, net, snaplen=96)
        try:
            wait_ready(g)
            idle_state(g, net)  # the first /stats request allocates what every later one reuses
            time.sleep(3)       # its connection's TIME_WAIT
            baseline = idle_state(g, net)
            start = time.monotonic()
            load = Load(start + SOAK_SECONDS)
            workers = [threading.Thread(target=curl_worker, args=(load, net)),
                       threading.Thread(target=keepalive_worker, args=(load, net)),
                       threading.Thread(target=tcp_echo_worker, args=(load, net, 1)),
                       threading.Thread(target=tcp_echo_worker, args=(load, net, 2)),
                       threading.Thread(target=udp_echo_worker, args=(load, net, 3)),
                       threading.Thread(target=ping_worker, args=(load, net))]
            for w in workers:
                w.daemon = True
                w.start()
            next_report = start + PROGRESS_EVERY
            while any(w.is_alive() for w in workers):
                time.sleep(1)
                if time.monotonic() >= next_report:
                    next_report += PROGRESS_EVERY
                    print(f"soak: {time.monotonic() - start:.0f}/{SOAK_SECONDS:.0f} s, done {load.done}, "
                          f"failed {load.failed}", flush=True)
                if time.monotonic() > load.deadline + 120:
                    g.fail(f"load threads still running 120 s after the end: {load.done} {load.failed}")
            print(f"soak: finished after {time.monotonic() - start:.0f} s: done {load.done}, failed {load.failed}")

            assert "PANIC" not in g.serial(), g.report("PANIC during the soak")
            if load.failed:
                g.fail(f"failures during the soak: {load.failed}; first errors: {load.errors}")
            for kind in ("curl", "keep-alive", "tcp-echo", "udp-echo", "ping-rounds"):
                assert load.done.get(kind, 0) > 0, g.report(f"no {kind} work completed: {load.done}")

            deadline = time.monotonic() + SETTLE_TIMEOUT
            while True:
                now_state = idle_state(g, net)
                # Both read during a /stats request of their own, so that request's pcb counts alike.
                leaked = {k: (baseline.get(k), v) for k, v in now_state.items() if v != baseline.get(k)}
                if not leaked:
                    break
                if time.monotonic() > deadline:
                    g.fail(f"{SETTLE_TIMEOUT:g} s after the load, not back at idle (baseline, now): {leaked}")
                time.sleep(2)
        finally:
            g.kill()
