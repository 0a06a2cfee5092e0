"""The clients scripts/bench drives the guests with. Every load is bounded in
count and in time, and every one runs inside the bench's namespace (programs
through a setns preexec, Python sockets in a thread that entered it)."""

import re
import selectors
import socket
import statistics
import threading
import time
from pathlib import Path

from bench_guests import GUEST_ADDR, GUEST_LL, TAP, BenchError, in_netns, run_in_netns

HTTP_PORT = 80
ECHO_PORT = 7
LINUX_STATS_PORT = 8080  # the Linux peer's counters (scripts/bench_linux.py)


# -- HTTP ------------------------------------------------------------------------------------

def http_get(path="/", timeout=2.0, port=HTTP_PORT):
    """One HTTP/1.0 GET (call inside the namespace); returns (status, body) or None."""
    try:
        with socket.create_connection((GUEST_ADDR, port), timeout=timeout) as s:
            return _exchange(s, path)
    except OSError:
        return None


def _exchange(s, path):
    """GET path on a connected socket: (status, body) or None."""
    s.sendall(f"GET {path} HTTP/1.0\r\nHost: {GUEST_ADDR}\r\n\r\n".encode())
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    # The end of the head: a blank line, CRLF or (from some CGI scripts) bare LF.
    m = re.search(rb"\r?\n\r?\n", data)
    head, body = (data[:m.start()], data[m.end():]) if m else (data, b"")
    m = re.match(rb"HTTP/1\.[01] (\d{3})", head)
    return (int(m.group(1)), body) if m else None


def first_http_ok(stop, t0, timeout, interval=0.02, patience=1.0):
    """Seconds from launch (t0) to the first 200 for GET /, or None. A new
    connection is opened every `interval`, each given `patience` to connect
    while the next ones start: a SYN sent before the guest could answer waits
    for TCP's retransmission (1 s), which would otherwise set the resolution.
    The first connection that connects sends GET /. Call inside the namespace;
    at most patience / interval connections are pending at once."""
    deadline = time.monotonic() + timeout
    pending = {}  # socket -> when to give up on it
    sel = selectors.DefaultSelector()
    next_try = time.monotonic()
    try:
        while not stop.is_set() and time.monotonic() < deadline:
            now = time.monotonic()
            if now >= next_try:
                s = socket.socket()
                s.setblocking(False)
                s.connect_ex((GUEST_ADDR, HTTP_PORT))
                sel.register(s, selectors.EVENT_WRITE)
                pending[s] = now + patience
                next_try = now + interval
            for key, _ in sel.select(max(0.0, next_try - time.monotonic())):
                s = key.fileobj
                sel.unregister(s)
                del pending[s]
                with s:
                    if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) != 0:
                        continue
                    s.setblocking(True)
                    s.settimeout(2.0)
                    try:
                        r = _exchange(s, "/")
                    except OSError:
                        continue
                    if r and r[0] == 200:
                        return time.monotonic() - t0
            now = time.monotonic()
            for s in [s for s, until in pending.items() if until < now]:
                sel.unregister(s)
                del pending[s]
                s.close()
        return None
    finally:
        for s in pending:
            s.close()
        sel.close()


class HttpProbe:
    """First successful GET, polled from QEMU launch on, in a background thread."""

    def __init__(self, netns, t0, timeout):
        self.stop = threading.Event()
        self.result = None
        self.thread = threading.Thread(target=self._run, args=(netns, t0, timeout), daemon=True)
        self.thread.start()

    def _run(self, netns, t0, timeout):
        self.result = in_netns(netns, first_http_ok, self.stop, t0, timeout)

    def wait(self, timeout):
        self.thread.join(timeout)
        self.stop.set()
        self.thread.join(5)
        return self.result


def page(netns, path="/", port=HTTP_PORT):
    r = in_netns(netns, http_get, path, 5.0, port)
    if not r or r[0] != 200:
        raise BenchError(f"GET {path} failed: {r and r[0]}")
    return r[1]


# -- ping ---------------------------------------------------------------------------------------

def ping(netns, count, interval=0.01):
    """count pings at `interval`: (min, avg, max) ms and the loss in percent."""
    p = run_in_netns(netns, ["ping", "-q", "-n", "-c", str(count), "-i", str(interval), "-W", "1",
                             "-w", str(int(count * interval) + 20), GUEST_ADDR], timeout=count * interval + 40)
    m = re.search(r"= ([\d.]+)/([\d.]+)/([\d.]+)/", p.stdout)
    loss = re.search(r"([\d.]+)% packet loss", p.stdout)
    if not m:
        raise BenchError(f"ping gave no RTT line (status {p.returncode}):\n{p.stdout}{p.stderr}")
    return {"min": float(m.group(1)), "avg": float(m.group(2)), "max": float(m.group(3)),
            "loss": float(loss.group(1)) if loss else None}


# -- wrk ---------------------------------------------------------------------------------------

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _ms(text):
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    return round(float(m.group(1)) * _UNITS[m.group(2)], 6)


def wrk(netns, connections, seconds, close=False, path="/"):
    """wrk (one thread: the other core runs QEMU) for a bounded time; requests/s,
    p50/p99 latency (ms), errors. close: a new connection per request."""
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "2s"]
    if close:
        cmd += ["-H", "Connection: close"]
    cmd.append(f"http://{GUEST_ADDR}{path}")
    p = run_in_netns(netns, cmd, timeout=seconds + 30)
    out = p.stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    total = re.search(r"(\d+) requests in", out)
    if p.returncode != 0 or not (rps and total):
        raise BenchError(f"wrk failed (status {p.returncode}): {' '.join(cmd)}\n{out}{p.stderr}")
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    result = {"rps": float(rps.group(1)), "requests": int(total.group(1)),
              "p50_ms": _ms(p50.group(1)) if p50 else None, "p99_ms": _ms(p99.group(1)) if p99 else None,
              "connect_errors": int(errors.group(1)) if errors else 0,
              "read_errors": int(errors.group(2)) if errors else 0,
              "write_errors": int(errors.group(3)) if errors else 0,
              "timeouts": int(errors.group(4)) if errors else 0,
              "non_2xx": int(non2xx.group(1)) if non2xx else 0}
    if int(total.group(1)) == 0:
        raise BenchError(f"wrk completed no request: {' '.join(cmd)}\n{out}")
    return result


def wrk_failures(r):
    """Requests that did not end well in a wrk result: timeouts, socket errors
    and answers other than 2xx/3xx."""
    return r["timeouts"] + r["connect_errors"] + r["read_errors"] + r["write_errors"] + r["non_2xx"]


# -- one large file -------------------------------------------------------------------------------

def download(netns, path, expected, out, timeout=120, ipv6=False):
    """GET path over one new connection with curl into `out`; the body must be
    `expected`, byte for byte. MB/s (10^6) from connect to the last byte.
    ipv6: to the guest's link-local address instead of its IPv4 one."""
    host = f"[{GUEST_LL}%25{TAP}]" if ipv6 else GUEST_ADDR
    cmd = ["curl", "-sS", "--globoff", "--max-time", str(timeout), "-o", str(out),
           "-w", "%{http_code} %{size_download} %{time_total}", f"http://{host}{path}"]
    p = run_in_netns(netns, cmd, timeout=timeout + 10)
    fields = p.stdout.split()
    if p.returncode != 0 or len(fields) != 3:
        raise BenchError(f"curl {path} failed (status {p.returncode}): {p.stdout}{p.stderr}")
    code, size, seconds = int(fields[0]), int(fields[1]), float(fields[2])
    body = Path(out).read_bytes()
    Path(out).unlink()
    if code != 200 or body != expected:
        raise BenchError(f"GET {path}: status {code}, {len(body)} bytes, "
                         f"{'the same' if body == expected else 'not the'} bytes as the file ({len(expected)})")
    return {"bytes": size, "seconds": seconds, "MBps": size / seconds / 1e6}


# -- echo ----------------------------------------------------------------------------------------

def _tcp_echo(nbytes, timeout):
    chunk = bytes(range(256)) * 256  # 64 KiB of a known pattern
    double = chunk * 2
    s = socket.create_connection((GUEST_ADDR, ECHO_PORT), timeout=10)
    s.settimeout(timeout)
    sent_error = []

    def sender():
        try:
            left = nbytes
            while left > 0:
                n = min(left, len(chunk))
                s.sendall(chunk[:n])
                left -= n
        except OSError as e:
            sent_error.append(e)
    start = time.monotonic()
    t = threading.Thread(target=sender, daemon=True)
    t.start()
    received, pos, bad = 0, 0, 0
    deadline = start + timeout
    try:
        while received < nbytes:
            if time.monotonic() > deadline:
                raise BenchError(f"TCP echo: {received} of {nbytes} bytes back after {timeout} s")
            data = s.recv(len(chunk))
            if not data:
                raise BenchError(f"TCP echo: connection closed after {received} of {nbytes} bytes")
            if data != double[pos:pos + len(data)]:  # what comes back is what was sent
                bad += 1
            received += len(data)
            pos = received % len(chunk)
    except socket.timeout:
        raise BenchError(f"TCP echo stalled: {received} of {nbytes} bytes back, nothing for {timeout} s")
    finally:
        elapsed = time.monotonic() - start
        s.close()
        t.join(5)
    if sent_error:
        raise BenchError(f"TCP echo: sending failed: {sent_error[0]}")
    if bad:
        raise BenchError(f"TCP echo: {bad} reads differ from what was sent")
    return {"bytes": nbytes, "seconds": elapsed, "MBps": nbytes / elapsed / 1e6}


def tcp_echo(netns, nbytes, timeout=120):
    """Send nbytes to echo port 7 while reading them back; MB/s (10^6) for the round trip."""
    return in_netns(netns, _tcp_echo, nbytes, timeout)


def _udp_echo(seconds, window, size):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect((GUEST_ADDR, ECHO_PORT))
    s.settimeout(0.2)
    payload = b"u" * size
    sent = replies = lost_windows = inflight = 0
    start = time.monotonic()
    end = start + seconds
    while time.monotonic() < end:
        while inflight < window:
            s.send(payload)
            sent += 1
            inflight += 1
        try:
            data = s.recv(65536)
            if data == payload:
                replies += 1
            inflight -= 1
        except socket.timeout:
            lost_windows += 1
            inflight = 0  # what is still out is presumed lost
    elapsed = time.monotonic() - start
    # Late replies after the end are not counted.
    s.close()
    return {"pps": replies / elapsed, "sent": sent, "replies": replies, "seconds": elapsed,
            "timeouts": lost_windows}


def udp_echo(netns, seconds, window=16, size=64):
    """Echoed UDP datagrams per second with `window` in flight, for `seconds`."""
    r = in_netns(netns, _udp_echo, seconds, window, size)
    if r["replies"] == 0:
        raise BenchError(f"UDP echo: no reply to {r['sent']} datagrams")
    return r


# -- interrupt counters ---------------------------------------------------------------------------

def ours_counters(netns):
    """virtio-net interrupts and frames from our /stats (Prometheus text)."""
    text = page(netns, "/stats").decode()
    def total(name):
        vals = re.findall(rf"^{name}(?:{{[^}}]*}})? (\d+)$", text, re.M)
        if not vals:
            raise BenchError(f"/stats has no {name}")
        return sum(int(v) for v in vals)
    rx, tx = total("virtio_net_rx_packets_total"), total("virtio_net_tx_packets_total")
    return {"interrupts": total("virtio_net_rx_interrupts_total") + total("virtio_net_tx_interrupts_total"),
            "packets": rx + tx, "rx_packets": rx, "tx_packets": tx,
            "kicks": total("virtqueue_kicks_total"), "polls": total("virtio_net_polls_total"),
            "all_interrupts": total("kernel_interrupts_total")}


def linux_counters(netns):
    """virtio-net interrupts (/proc/interrupts) and eth0 frames (/proc/net/dev)
    from the Linux peer's /cgi-bin/stats."""
    text = page(netns, "/cgi-bin/stats", LINUX_STATS_PORT).decode()
    irqs = re.findall(r"^\s*\d+:\s+(\d+)\s.*virtio\d+-(?:input|output)", text, re.M)
    dev = re.search(r"^\s*eth0:\s*(.*)$", text, re.M)
    if not irqs or not dev:
        raise BenchError(f"Linux stats page lacks virtio interrupts or eth0:\n{text[:2000]}")
    f = dev.group(1).split()
    return {"interrupts": sum(int(v) for v in irqs), "packets": int(f[1]) + int(f[9]),
            "rx_packets": int(f[1]), "tx_packets": int(f[9])}


def per_packet(before, after):
    packets = after["packets"] - before["packets"]
    if packets <= 0:
        raise BenchError("no packets between the two counter readings")
    out = {"interrupts_per_packet": (after["interrupts"] - before["interrupts"]) / packets, "packets": packets}
    for key in ("rx_packets", "tx_packets"):
        out[key] = after[key] - before[key]
    for key in ("kicks", "polls", "all_interrupts"):
        if key in before:
            out[f"{key}_per_packet"] = (after[key] - before[key]) / packets
    return out


def median(values):
    return statistics.median(values) if values else None


def spread(values):
    """(max - min) / median of repeated measurements; None for fewer than two."""
    if len(values) < 2 or not statistics.median(values):
        return None
    return (max(values) - min(values)) / abs(statistics.median(values))
