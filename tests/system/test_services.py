"""The services on the network: HTTP on TCP 80 and echo (RFC 862) on TCP and
UDP 7, over IPv4 and IPv6, checked from a client in a private namespace (and,
without root, through QEMU's user-mode network the way `make run` serves).

Every guest here records its traffic with QEMU's filter-dump into
traffic.pcap beside its serial.log; a failing test names that file (in its
message when the harness reports it, and in a "traffic capture" section of
the report in every case). pytest keeps tmp_path, so the file outlives the run.

Guests are shared where checks are independent (one guest for the HTTP
checks, one for echo, one for load); a per-test fixture checks that the shared
guest is alive before and after each test, so a crash is blamed on the test
that caused it."""

import contextlib
import ctypes
import email.utils
import hashlib
import http.client
import ipaddress
import os
import random
import re
import socket
import struct
import subprocess
import threading
import time

import pytest

from netns import GUEST_ADDR, GUEST_STATIC_CMDLINE, TAP, PrivateNetwork, have_root
from qemu import KERNEL, PVH_KERNEL, REPO, Guest
from qemu_args import nic_device

needs_root = pytest.mark.skipif(not have_root(), reason="needs root for network namespaces and tap devices")

MAC = "52:54:00:12:34:56"
GUEST_LL = "fe80::5054:ff:fe12:3456"
READY = (r"^READY ip=10\.0\.2\.15 mac=52:54:00:12:34:56 gw=10\.0\.2\.2 ip6=FE80::5054:FF:FE12:3456 "
         r"http=80 echo=7 t=\d+\.\d{3}ms$")
STATIC_UP = r"net: en0 up, ipv4 10\.0\.2\.15 netmask 255\.255\.255\.0 gw 10\.0\.2\.2$"
DHCP_UP = r"net: en0 up, ipv4 10\.0\.2\.15 netmask 255\.255\.255\.0 gw 10\.0\.2\.2 \(DHCP\)$"
FALLBACK = r"net: no DHCP answer within 10 s, falling back to 10\.0\.2\.15/24 gw 10\.0\.2\.2$"
HELLO = b"hello\n"
CURL = ("curl", "-sS", "--noproxy", "*", "--max-time", "10")
PROMTOOL = REPO / "third_party" / "tools" / "promtool"
IP_RECVTTL = 12  # Linux's <linux/in.h>; Python's socket module lacks it


# -- guests that record their traffic ----------------------------------------

class CapturedGuest(Guest):
    """A Guest whose NIC (netdev n0) traffic goes to workdir/traffic.pcap and
    whose failure reports name that file."""

    def __init__(self, workdir, snaplen=None, **options):
        super().__init__(workdir, **options)
        self.pcap_path = self.workdir / "traffic.pcap"
        dump = f"filter-dump,id=f0,netdev=n0,file={self.pcap_path}"
        if snaplen:
            dump += f",maxlen={snaplen}"  # bulk transfers: keep the headers, not megabytes of payload
        self.extra_args += ("-object", dump)

    def report(self, message):
        return super().report(f"{message}\nguest traffic capture: {self.pcap_path}")

    def kill(self):
        was_started = self.proc is not None
        super().kill()
        if was_started and self.pcap_path.exists():
            strip_vnet_headers(self.pcap_path)


_ETHERTYPES = {b"\x08\x00", b"\x08\x06", b"\x86\xdd"}


def _frame_offset(frame, guesses):
    """Where the Ethernet frame starts in a record: the first guess that
    leaves a known EtherType and a destination or source that is the guest
    or a broadcast/multicast address."""
    mac = bytes.fromhex(MAC.replace(":", ""))
    for off in guesses:
        eth = frame[off:off + 14]
        if len(eth) == 14 and eth[12:14] in _ETHERTYPES and (eth[0:6] == mac or eth[6:12] == mac or eth[0] & 1):
            return off
    return 0


def strip_vnet_headers(path):
    """QEMU 7.2's filter-dump writes each frame as the tap backend carries it:
    behind a virtio-net header (10 bytes, 12 once the guest negotiates
    mergeable buffers or VERSION_1) when the tap uses vnet_hdr, which no
    pcap reader expects. Rewrite the file as plain Ethernet in place.
    (Frames the guest sent with checksum offload show partial TCP/UDP
    checksums: they are completed by the host, not in the guest.)"""
    data = path.read_bytes()
    if len(data) < 24:
        return
    out = [data[:24]]
    off, last, changed = 24, 0, False
    while off + 16 <= len(data):
        ts, us, incl, orig = struct.unpack("<IIII", data[off:off + 16])
        frame = data[off + 16:off + 16 + incl]
        off += 16 + incl
        skip = _frame_offset(frame, (last, 12, 10, 0))
        last = skip
        changed |= skip != 0
        out.append(struct.pack("<IIII", ts, us, len(frame) - skip, max(orig - skip, 0)) + frame[skip:])
    if changed:
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(b"".join(out))
        tmp.replace(path)


def name_pcap(request, g):
    """Name the guest's capture in the test's report (shown when it fails)."""
    request.node.add_report_section("setup", "traffic capture", f"guest traffic: {g.pcap_path}\n")


def start_guest(workdir, net=None, machine="q35", cmdline=None, props="", nic=None, snaplen=None, boot="efi",
                memory=256, initrd=None):
    kernel = KERNEL if boot == "efi" else PVH_KERNEL
    if not kernel.is_file():
        pytest.skip(f"{kernel} is not built; run 'make' (make test builds it first)")
    if net is not None:
        if cmdline is None:
            cmdline = GUEST_STATIC_CMDLINE
        nic = net.nic(props=props, device=nic_device(machine))
        g = CapturedGuest(workdir, machine=machine, cmdline=cmdline, nic=nic, prefix=net.prefix, snaplen=snaplen,
                          boot=boot, memory=memory, initrd=initrd)
    else:
        g = CapturedGuest(workdir, machine=machine, cmdline=cmdline, nic=nic, snaplen=snaplen, boot=boot,
                          memory=memory, initrd=initrd)
    return g.start()


def wait_ready(g, timeout=90):
    line = g.wait_for(r"^READY .*\n", timeout=timeout).group(0).rstrip("\n")
    if not re.fullmatch(READY, line):
        g.fail(f"READY line {line!r} does not match /{READY}/")
    ready_lines = re.findall(r"^READY ", g.serial(), re.MULTILINE)
    if len(ready_lines) != 1:
        g.fail(f"{len(ready_lines)} READY lines, expected exactly one")
    return g


def check_healthy(g, when):
    if not g.running:
        g.fail(f"the guest is not running {when}")
    log = g.serial()
    for bad in ("PANIC", "broken"):
        if bad in log:
            g.fail(f"'{bad}' in the serial log {when}")
    if len(re.findall(r"^READY ", log, re.MULTILINE)) != 1:
        g.fail(f"not exactly one READY line {when}")


@contextlib.contextmanager
def shared_guest(tmp_path_factory, name, snaplen=None):
    """A booted guest in its own namespace, for a class of tests."""
    if not have_root():
        pytest.skip("needs root for network namespaces and tap devices")
    with PrivateNetwork() as net:
        g = start_guest(tmp_path_factory.mktemp(name), net, snaplen=snaplen)
        try:
            wait_ready(g)
            yield g, net
        finally:
            g.kill()


def answers_ping(net, tries=3):
    return any(run(net, "ping", "-c", "1", "-W", "1", GUEST_ADDR, timeout=10).returncode == 0
               for _ in range(tries))


@contextlib.contextmanager
def attributed(request, gn):
    """Per test on a shared guest: fail at once if an earlier test left it dead
    or deaf, and blame this test (in its teardown) if that happens during it."""
    g, net = gn
    name_pcap(request, g)
    if getattr(g, "broken_by", None):
        pytest.fail(f"the shared guest stopped serving during {g.broken_by} (see that failure); "
                    f"guest traffic capture: {g.pcap_path}", pytrace=False)
    yield
    g.broken_by = request.node.name
    check_healthy(g, f"after {request.node.name}")
    if not answers_ping(net):
        g.fail(f"the guest stopped answering ping during {request.node.name}")
    g.broken_by = None


# -- clients inside the namespace -----------------------------------------------

_libc = ctypes.CDLL(None, use_errno=True)
_CLONE_NEWNET = 0x40000000


@contextlib.contextmanager
def inside(net):
    """Run this thread in the namespace: sockets created here belong to it
    (and keep belonging to it after the block, in any thread)."""
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(f"/run/netns/{net.name}", os.O_RDONLY)
    try:
        if _libc.setns(target, _CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns into {net.name}")
        try:
            yield
        finally:
            if _libc.setns(own, _CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns back to the test's own namespace")
    finally:
        os.close(own)
        os.close(target)


def connect(net, addr=(GUEST_ADDR, 80), timeout=5.0, family=socket.AF_INET, g=None):
    """A TCP connection made from inside the namespace (net None: from here);
    with g, a failure to connect fails the test with the guest's report."""
    with inside(net) if net else contextlib.nullcontext():
        s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(addr)
    except OSError as e:
        s.close()
        if g:
            g.fail(f"cannot connect to {addr}: {e!r}")
        raise
    return s


def run(net, *cmd, timeout=60):
    """A command inside the namespace (net None: here); output as bytes."""
    prefix = net.prefix if net else ()
    return subprocess.run([*prefix, *cmd], capture_output=True, timeout=timeout)


def ll_scope(net):
    with inside(net):
        return socket.if_nametoindex(TAP)


# -- HTTP, spoken by hand -------------------------------------------------------

class Response:
    def __init__(self, status_line, headers, body):
        self.status_line = status_line
        parts = status_line.split(" ", 2)
        self.version = parts[0]
        self.status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
        self.headers = headers  # [(lower-case name, value)]
        self.body = body

    def all(self, name):
        return [v for n, v in self.headers if n == name]

    def header(self, name):
        values = self.all(name)
        return values[0] if len(values) == 1 else None

    def __repr__(self):
        return f"<{self.status_line!r} {self.headers!r} body {self.body[:200]!r}{'...' if len(self.body) > 200 else ''}>"


def parse_head(head):
    lines = head.decode("latin-1").split("\r\n")
    headers = []
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        assert sep, f"response header line without a colon: {line!r}"
        headers.append((name.strip().lower(), value.strip()))
    return lines[0], headers


class HttpClient:
    """One connection; reads responses exactly (Content-Length framing)."""

    def __init__(self, sock, g=None):
        self.sock = sock
        self.buf = b""
        self.g = g  # when set, a broken response fails the test with the guest's report

    def send(self, data):
        self.sock.sendall(data)

    def _more(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"no complete response in time; have {self.buf[:300]!r}")
        self.sock.settimeout(left)
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError(f"connection closed in the middle of a response; have {self.buf[:300]!r}")
        self.buf += chunk

    def response(self, head_request=False, timeout=5.0):
        try:
            return self._response(head_request, timeout)
        except (OSError, EOFError, AssertionError) as e:
            if self.g is None:
                raise
            self.g.fail(f"no complete HTTP response ({len(self.buf)} bytes received: {self.buf[:200]!r}): {e!r}")

    def _response(self, head_request, timeout):
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in self.buf:
            self._more(deadline)
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        status_line, headers = parse_head(head)
        lengths = [v for n, v in headers if n == "content-length"]
        assert len(lengths) == 1 and lengths[0].isdigit(), f"need one Content-Length: {status_line} {headers}"
        length = 0 if head_request else int(lengths[0])
        while len(self.buf) < length:
            self._more(deadline)
        body, self.buf = self.buf[:length], self.buf[length:]
        return Response(status_line, headers, body)

    def closed_by_server(self, timeout=2.0):
        """True when the server closes (EOF or reset) within timeout with nothing more sent."""
        deadline = time.monotonic() + timeout
        while not self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return False
            except ConnectionResetError:
                return True
            if not chunk:
                return True
            self.buf += chunk
        return False  # it sent more bytes

    def close(self):
        self.sock.close()


def request(g, net, raw, head_request=False, addr=(GUEST_ADDR, 80), timeout=5.0):
    """One raw request on a new connection, connected and answered within
    `timeout` s each; returns (response, client)."""
    c = HttpClient(connect(net, addr, timeout=timeout, g=g), g)
    try:
        c.send(raw)
    except OSError as e:
        g.fail(f"sending {raw[:100]!r}: {e!r}")
    try:
        return c.response(head_request, timeout=timeout), c
    except AssertionError as e:
        raise AssertionError(f"request {raw[:100]!r}{'...' if len(raw) > 100 else ''}:\n{e}") from None


def get(path, version="1.1", extra=""):
    return f"GET {path} HTTP/{version}\r\nHost: {GUEST_ADDR}\r\n{extra}\r\n".encode()


def expect(g, cond, message):
    if not cond:
        g.fail(message)


def refused_and_closed(g, net, raw, status, what):
    """`raw` is answered `status` with Connection: close, and the server closes."""
    r, c = request(g, net, raw)
    check_framing(g, r, status, "close")
    expect(g, c.closed_by_server(), f"{what}: the server kept the connection after {status}")
    c.close()


def check_framing(g, r, status, connection):
    """What every response carries: HTTP/1.1, the status, Content-Length (checked
    against the body by the reader), Content-Type and the Connection verdict."""
    expect(g, r.version == "HTTP/1.1", f"version {r.version!r}: {r}")
    expect(g, r.status == status, f"status {r.status}, expected {status}: {r}")
    expect(g, r.header("content-type") is not None, f"no single Content-Type: {r}")
    expect(g, r.header("connection") == connection, f"Connection {r.all('connection')}, expected {connection!r}: {r}")


def expect_hosts_date(g, r, what):
    """The response carries Date, an IMF-fixdate within two minutes of the host's clock."""
    date = r.header("date")
    expect(g, date, f"{what}: no Date: {r}")
    sent = email.utils.parsedate_to_datetime(date).timestamp()
    expect(g, date.endswith(" GMT") and abs(sent - time.time()) < 120,
           f"{what}: Date {date!r} is not the host's UTC (now {time.time():.0f})")


def curl_i(g, net, url, *args):
    """curl -i: (status line, headers, body) of one response."""
    result = run(net, *CURL, "-i", *args, url, timeout=30)
    if result.returncode != 0:
        g.fail(f"curl {url} failed ({result.returncode}): {result.stderr.decode(errors='replace')}")
    head, sep, body = result.stdout.partition(b"\r\n\r\n")
    expect(g, sep, f"curl -i output has no header end: {result.stdout[:500]!r}")
    return Response(*parse_head(head), body)


# -- Prometheus text format -----------------------------------------------------

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
SAMPLE = re.compile(rf"^({NAME})(\{{{LABEL}(?:,{LABEL})*\}})? (\d+(?:\.\d+)?)$")
HELP = re.compile(rf"^# HELP ({NAME}) \S.*$")
TYPE = re.compile(rf"^# TYPE ({NAME}) (counter|gauge|histogram|summary|untyped)$")


def parse_prometheus(text):
    """{(name, labels): int or float}, after checking the exposition format:
    every sample line well formed with a decimal value, every family introduced
    by one # HELP and one # TYPE, a family's lines together, no series twice."""
    assert text.endswith("\n"), "the page does not end with a newline"
    helped, typed, done, samples = set(), set(), set(), {}
    current = None
    for number, line in enumerate(text.split("\n")[:-1], 1):
        where = f"line {number}: {line!r}"
        if line.startswith("#"):
            m = HELP.match(line) or TYPE.match(line)
            assert m, f"malformed comment, {where}"
            family = m.group(1)
            seen = helped if line.startswith("# HELP") else typed
            assert family not in seen, f"second {line.split()[1]} for {family}, {where}"
            seen.add(family)
        else:
            m = SAMPLE.match(line)
            assert m, f"not 'name{{labels}} value' with a decimal value, {where}"
            family = m.group(1)
            assert family in helped and family in typed, f"sample before its # HELP and # TYPE, {where}"
            key = (family, m.group(2) or "")
            assert key not in samples, f"series repeated, {where}"
            value = m.group(3)
            samples[key] = float(value) if "." in value else int(value)
        if family != current:
            assert family not in done, f"family {family} split in two groups, {where}"
            if current:
                done.add(current)
            current = family
    families = {name for name, _ in samples}
    assert helped == typed == families, f"HELP {helped ^ families} / TYPE {typed ^ families} without samples"
    return samples


def fetch_stats(g, c):
    c.send(get("/stats"))
    r = c.response()
    check_framing(g, r, 200, "keep-alive")
    expect(g, r.header("content-type").startswith("text/plain; version=0.0.4"), f"Content-Type of /stats: {r}")
    try:
        return parse_prometheus(r.body.decode())
    except (AssertionError, UnicodeDecodeError) as e:
        g.fail(f"/stats is not valid Prometheus text: {e}\n----- /stats -----\n{r.body.decode(errors='replace')}")


def stats(g, net):
    """/stats over a connection of its own, parsed: {(name, labels): value}."""
    c = HttpClient(connect(net, g=g), g)
    try:
        return fetch_stats(g, c)
    finally:
        c.close()


# -- echo ------------------------------------------------------------------------

def tcp_echo(g, sock, size, seed, slow_for=0.0, timeout=120.0, stall=5.0, before_reading=None):
    """Send `size` random bytes from a writer thread while this thread reads
    them back (slowly, 4 KiB every 10 ms, for the first `slow_for` seconds;
    not at all until `before_reading()` returns, when given); compare byte
    for byte; then the server must close after our FIN; nothing back for
    `stall` seconds fails (the writer's sends too). Returns the throughput
    in MiB/s."""
    data = random.Random(seed).randbytes(size)
    errors = []

    def writer():
        try:
            view = memoryview(data)
            for off in range(0, size, 65536):
                sock.sendall(view[off:off + 65536])
            sock.shutdown(socket.SHUT_WR)
        except OSError as e:
            errors.append(e)

    received = bytearray()
    start = time.monotonic()
    deadline = start + timeout
    sock.settimeout(stall)
    t = threading.Thread(target=writer, daemon=True)
    t.start()
    eof = False
    try:
        if before_reading:
            before_reading()
        while len(received) < size:
            if time.monotonic() > deadline:
                g.fail(f"echo of {size} bytes: only {len(received)} back after {timeout:g} s")
            slow = time.monotonic() - start < slow_for
            try:
                chunk = sock.recv(4096 if slow else 1 << 20)
            except socket.timeout:
                g.fail(f"echo of {size} bytes: nothing for {stall:g} s after {len(received)} bytes "
                       f"(writer errors {errors})")
            except OSError as e:
                g.fail(f"echo of {size} bytes: {e!r} after {len(received)} bytes (writer errors {errors})")
            if not chunk:
                eof = True
                break
            received += chunk
            if slow:
                time.sleep(0.01)
        elapsed = time.monotonic() - start
        if not eof:
            try:
                eof = sock.recv(1 << 16) == b""
            except socket.timeout:
                eof = False
    finally:
        t.join(timeout=10)
    expect(g, not errors, f"echo writer failed: {errors}")
    if bytes(received) != data:
        first = next((i for i, (a, b) in enumerate(zip(received, data)) if a != b), min(len(received), size))
        g.fail(f"echo of {size} bytes came back as {len(received)} bytes, first difference at offset {first}; "
               f"sha256 sent {hashlib.sha256(data).hexdigest()} received {hashlib.sha256(received).hexdigest()}")
    expect(g, eof, f"echo: the server did not close within 5 s after our FIN ({size} bytes echoed)")
    return size / elapsed / 2**20


def udp_echo(g, sock, sizes, seed, addr):
    """Each datagram back identical; up to 3 tries each, losses counted.
    Returns (losses, sizes that never came back); gives up early when three
    sizes in a row never come back (a dead guest costs 9 s, not minutes)."""
    rnd = random.Random(seed)
    sock.settimeout(1.0)
    losses, missing, in_a_row, sent_before = 0, [], 0, set()
    for size in sizes:
        payload = rnd.randbytes(size)
        for attempt in range(3):
            sock.sendto(payload, addr)
            try:
                while True:
                    data, peer = sock.recvfrom(65536)
                    if data == payload:
                        break
                    expect(g, data in sent_before, f"UDP echo of {size} bytes: got {len(data)} other bytes")
            except socket.timeout:
                losses += 1
                continue
            expect(g, peer[:2] == addr[:2], f"UDP echo answered from {peer}, expected {addr}")
            in_a_row = 0
            break
        else:
            missing.append(size)
            in_a_row += 1
            if in_a_row == 3:
                g.fail(f"UDP echo: sizes {missing[-3:]} in a row never came back in 3 tries each; giving up "
                       f"({len(missing)} sizes missing, {losses} losses so far)")
        sent_before.add(payload)
    return losses, missing


UDP_SIZES = sorted(set(range(1, 65)) | set(range(64, 1473, 37)) | {1471, 1472})


def wrk_hello(g, net, threads, connections, seconds):
    """wrk on /hello from the namespace; fails the test on any error or no
    request at all. Returns wrk's output."""
    r = run(net, "wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "2s",
            f"http://{GUEST_ADDR}/hello", timeout=60)
    out = r.stdout.decode(errors="replace") + r.stderr.decode(errors="replace")
    expect(g, r.returncode == 0, f"wrk failed ({r.returncode}):\n{out}")
    m = re.search(r"(\d+) requests in ([\d.]+)s", out)
    expect(g, m and int(m.group(1)) > 0, f"wrk made no requests:\n{out}")
    expect(g, "Socket errors" not in out, f"wrk saw socket errors:\n{out}")
    expect(g, "Non-2xx" not in out, f"wrk saw non-2xx responses:\n{out}")
    rate = re.search(r"Requests/sec:\s*([\d.]+)", out)
    print(f"wrk: {m.group(1)} requests in {m.group(2)} s, {rate.group(1) if rate else '?'} requests/s")
    return out


def ping(g, net, *args, count=5):
    result = run(net, "ping", "-q", "-c", str(count), "-i", "0.2", "-W", "2", "-w", "20", *args, timeout=60)
    out = result.stdout.decode(errors="replace")
    m = re.search(r"(\d+) packets transmitted, (\d+) received", out)
    if not m or int(m.group(1)) != count or int(m.group(2)) != count:
        g.fail(f"ping {' '.join(args)}: expected {count} of {count} answered\n{out}{result.stderr.decode()}")


def wait_ipv6(g, net, timeout=10.0):
    """The guest's link-local address answers once both sides finished DAD."""
    deadline = time.monotonic() + timeout
    while True:
        r = run(net, "ping", "-6", "-c", "1", "-W", "1", f"{GUEST_LL}%{TAP}", timeout=10)
        if r.returncode == 0:
            return
        if time.monotonic() > deadline:
            g.fail(f"{GUEST_LL}%{TAP} did not answer ping within {timeout:g} s of READY\n"
                   f"{r.stdout.decode()}{r.stderr.decode()}")
        time.sleep(0.5)


# =============================================================================
# HTTP, on one shared guest
# =============================================================================

@pytest.fixture(scope="class")
def _http_guest(tmp_path_factory):
    with shared_guest(tmp_path_factory, "http") as gn:
        yield gn


@needs_root
class TestHttp:
    @pytest.fixture
    def gn(self, request, _http_guest):
        with attributed(request, _http_guest):
            yield _http_guest

    def test_ping_ipv4_and_ipv6(self, gn):
        g, net = gn
        ping(g, net, GUEST_ADDR)
        wait_ipv6(g, net)
        ping(g, net, "-6", f"{GUEST_LL}%{TAP}")

    def test_hop_limit_is_64(self, gn):
        """Linux's default TTL and hop limit (lwIP's own is 255): in ping's
        replies, IPv4 and IPv6, and in a UDP echo's datagram."""
        g, net = gn
        wait_ipv6(g, net)
        for args in ((GUEST_ADDR,), ("-6", f"{GUEST_LL}%{TAP}")):
            out = run(net, "ping", "-c", "1", "-W", "2", *args, timeout=10).stdout.decode(errors="replace")
            expect(g, re.search(r"\bttl=64\b", out), f"ping {' '.join(args)}: {out}")
        with inside(net):
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        with sock:
            sock.setsockopt(socket.IPPROTO_IP, IP_RECVTTL, 1)
            sock.settimeout(2.0)
            for _ in range(3):
                sock.sendto(b"ttl?", (GUEST_ADDR, 7))
                try:
                    data, ancillary, _, _ = sock.recvmsg(64, socket.CMSG_SPACE(4))
                    break
                except socket.timeout:
                    continue
            else:
                g.fail("UDP echo: no answer in 3 tries")
            ttls = [int.from_bytes(d[:4], "little") for level, kind, d in ancillary
                    if level == socket.IPPROTO_IP and kind == socket.IP_TTL]
            expect(g, data == b"ttl?" and ttls == [64], f"UDP echo {data!r}, TTL {ttls}")

    def test_curl_over_ipv6(self, gn):
        g, net = gn
        wait_ipv6(g, net)
        for url, extra in ((f"http://[{GUEST_LL}%25{TAP}]/hello", ()),
                           (f"http://[{GUEST_LL}]/hello", ("--interface", TAP))):
            r = curl_i(g, net, url, "-g", *extra)
            check_framing(g, r, 200, "keep-alive")
            expect(g, r.body == HELLO, f"curl {url}: body {r.body!r}")

    def test_index(self, gn):
        g, net = gn
        r = curl_i(g, net, f"http://{GUEST_ADDR}/")
        check_framing(g, r, 200, "keep-alive")
        expect(g, r.header("content-type").startswith("text/html"), f"Content-Type: {r}")
        expect(g, r.header("content-length") == str(len(r.body)), f"Content-Length vs body of {len(r.body)}: {r}")
        expect(g, r.body.lstrip().lower().startswith(b"<!doctype html>") and b"</html>" in r.body, f"not HTML: {r}")

    def test_hello(self, gn):
        g, net = gn
        r = curl_i(g, net, f"http://{GUEST_ADDR}/hello")
        check_framing(g, r, 200, "keep-alive")
        expect(g, r.body == HELLO and r.header("content-length") == "6", f"/hello: {r}")

    def test_date_is_the_hosts_utc(self, gn):
        """RFC 9110, 6.6.1: a server with a clock sends Date. QEMU's RTC keeps
        the host's UTC (-rtc base=utc, its default), read once at boot."""
        g, net = gn
        for path, status in (("/hello", 200), ("/nope", 404)):
            r = curl_i(g, net, f"http://{GUEST_ADDR}{path}")
            expect(g, r.status == status, f"{path}: {r}")
            expect_hosts_date(g, r, path)

    def test_stats_is_prometheus_text_and_counts(self, gn):
        g, net = gn
        c = HttpClient(connect(net, g=g), g)
        first = fetch_stats(g, c)
        second = fetch_stats(g, c)
        c.close()
        for family in ("http_requests_total", "http_connections_total", "virtio_net_rx_packets_total"):
            expect(g, any(name == family for name, _ in first), f"/stats lacks {family}")
        key = ("http_requests_total", "")
        expect(g, second[key] > first[key], f"http_requests_total {first[key]} then {second[key]}: no increase")
        rx = [k for k in first if k[0] == "virtio_net_rx_packets_total"]
        expect(g, all(second[k] > first[k] for k in rx), "virtio_net_rx_packets_total did not increase")
        uptime = ("kernel_uptime_seconds", "")
        expect(g, 0 < first.get(uptime, -1) <= second.get(uptime, -1) < 3600,
               f"kernel_uptime_seconds {first.get(uptime)} then {second.get(uptime)}")

    def test_stats_passes_promtool(self, gn):
        """Prometheus's own checker, as someone scraping /stats would run it:
        the format and its naming rules (base units, counters' _total)."""
        if not PROMTOOL.is_file():
            pytest.skip(f"{PROMTOOL} is missing (scripts/setup --test unpacks it from Debian's prometheus)")
        g, net = gn
        body = run(net, *CURL, f"http://{GUEST_ADDR}/stats", timeout=30).stdout
        expect(g, body.startswith(b"# HELP "), f"/stats: {body[:200]!r}")
        r = subprocess.run([str(PROMTOOL), "check", "metrics"], input=body, capture_output=True, timeout=60)
        expect(g, r.returncode == 0 and not r.stdout.strip() and not r.stderr.strip(),
               f"promtool check metrics: exit {r.returncode}: {(r.stdout + r.stderr).decode(errors='replace')}")

    def test_several_urls_one_connection_curl(self, gn):
        g, net = gn
        urls = [f"http://{GUEST_ADDR}{p}" for p in ("/", "/hello", "/stats", "/hello", "/nope")]
        outputs = [a for _ in urls for a in ("-o", "/dev/null")]
        r = run(net, *CURL, "-w", "%{http_code}:%{num_connects} ", *outputs, *urls, timeout=30)
        got = r.stdout.decode().split()
        expect(g, got == ["200:1", "200:0", "200:0", "200:0", "404:0"],
               f"curl status:new-connections per URL {got}, expected one connection for all; "
               f"{r.stderr.decode(errors='replace')}")

    def test_five_requests_one_connection_http_client(self, gn):
        g, net = gn
        connects = []

        class Conn(http.client.HTTPConnection):
            def connect(self):
                self.sock = connect(net, (self.host, self.port), timeout=self.timeout)
                connects.append(self.sock.getsockname())

        conn = Conn(GUEST_ADDR, 80, timeout=5)
        try:
            for i, path in enumerate(["/hello", "/", "/hello", "/stats", "/hello"]):
                try:
                    conn.request("GET", path)
                    resp = conn.getresponse()
                    body = resp.read()
                except (OSError, http.client.HTTPException) as e:
                    g.fail(f"http.client request {i} {path}: {e!r}")
                expect(g, resp.status == 200 and resp.getheader("Connection") == "keep-alive",
                       f"request {i} {path}: {resp.status} {resp.getheaders()}")
                expect(g, path != "/hello" or body == HELLO, f"request {i}: body {body!r}")
        finally:
            conn.close()
        expect(g, len(connects) == 1, f"{len(connects)} TCP connections for 5 requests: {connects}")

    def test_pipelining(self, gn):
        g, net = gn
        c = HttpClient(connect(net, g=g), g)
        c.send(get("/hello") + get("/") + get("/missing"))
        rs = [c.response() for _ in range(3)]
        expect(g, [r.status for r in rs] == [200, 200, 404], f"pipelined responses out of order: {rs}")
        expect(g, rs[0].body == HELLO and b"<html" in rs[1].body, f"pipelined bodies: {rs}")
        for r in rs:
            check_framing(g, r, r.status, "keep-alive")
        expect(g, not c.buf, f"bytes after the third response: {c.buf[:200]!r}")
        c.send(get("/hello"))  # and the connection is still good
        expect(g, c.response().body == HELLO, "request after the pipelined ones failed")
        c.close()

    def test_head(self, gn):
        g, net = gn
        for path in ("/", "/hello", "/missing"):
            c = HttpClient(connect(net, g=g), g)
            c.send(get(path))
            full = c.response()
            # HEAD, then GET on the same connection: if HEAD had a body, the
            # second response would start with it.
            c.send(get(path).replace(b"GET", b"HEAD", 1) + get("/hello"))
            head = c.response(head_request=True)
            after = c.response()
            c.close()
            check_framing(g, head, full.status, "keep-alive")
            expect(g, head.header("content-length") == str(len(full.body)),
                   f"HEAD {path}: Content-Length {head.header('content-length')}, GET body {len(full.body)}")
            expect(g, after.status == 200 and after.body == HELLO, f"HEAD {path} sent a body: next response {after}")

    def test_absolute_form_target(self, gn):
        """What a client configured with a proxy sends (RFC 9112, 3.2.2: servers MUST accept it)."""
        g, net = gn
        r, c = request(g, net, get(f"http://{GUEST_ADDR}/hello"))
        check_framing(g, r, 200, "keep-alive")
        expect(g, r.body == b"hello\n", f"body {r.body!r}")
        c.close()

    def test_not_found(self, gn):
        g, net = gn
        for path in ("/missing", "/hello/", "/HELLO", "/" + "x" * 254):
            r, c = request(g, net, get(path))
            check_framing(g, r, 404, "keep-alive")
            c.close()

    @pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "OPTIONS"])
    def test_method_not_allowed(self, gn, method):
        g, net = gn
        r, c = request(g, net, f"{method} /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n".encode())
        check_framing(g, r, 405, "close")
        allow = {m.strip() for m in (r.header("allow") or "").split(",")}
        expect(g, allow == {"GET", "HEAD"}, f"Allow {r.all('allow')}: {r}")
        expect(g, c.closed_by_server(), f"{method}: the server kept the connection after 405")
        c.close()

    # What the client sent and this server does not read (a body, the rest of a
    # refused request, requests after one that closes): the whole response, then
    # an orderly close (FIN), never a reset -- a reset can reach the client
    # before it has read the response, and it then sees none (curl: "Recv
    # failure: Connection reset by peer"). name -> (first send, later parts,
    # status); each part goes out 0.3 s after the one before, so some land
    # after the response is sent.
    BODIES = {
        "form-post": (b"POST /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", [], 405),
        "form-post-then-more": (b"POST /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhel", [b"lo"], 405),
        "body-after-the-response": (b"PUT /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n",
                                    [b"", b"0123456789"], 405),
        "chunked": (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
                    [b"5\r\nhello\r\n", b"0\r\n\r\n"], 405),
        "one-mebibyte-upload": (b"PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 1048576\r\n\r\n",
                                [bytes(1048576)], 405),
        "more-after-a-400": (b"GET / HTTP/1.1\r\nHost x\r\n\r\n", [b"", b"whatever comes next\r\n"], 400),
        # Requests after one that asked to close are not answered (RFC 9112, 9.6), nor reset.
        "pipelined-after-close": (b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\n",
                                  [], 200),
    }

    @pytest.mark.parametrize("name", BODIES)
    def test_unread_request_bodies_get_the_response_and_a_clean_close(self, gn, name):
        g, net = gn
        head, parts, status = self.BODIES[name]
        c = HttpClient(connect(net, g=g), g)
        c.send(head)

        send_errors = []

        def send_parts():
            for part in parts:
                time.sleep(0.3)
                try:
                    c.sock.sendall(part)
                except OSError as e:
                    send_errors.append(e)
                    return
        writer = threading.Thread(target=send_parts)
        writer.start()
        r = c.response(timeout=10)
        check_framing(g, r, status, "close")
        writer.join(30)
        expect(g, not send_errors, f"{name}: the rest of the request could not be sent: {send_errors}")
        c.sock.settimeout(10)
        try:
            while True:
                more = c.sock.recv(65536)
                expect(g, not more and not c.buf, f"{name}: bytes after the response: {(c.buf + more)[:100]!r}")
                break
        except ConnectionResetError:
            g.fail(f"{name}: the server reset the connection instead of closing it")
        except socket.timeout:
            g.fail(f"{name}: the server did not close the connection within 10 s")
        finally:
            c.close()
        check_healthy(g, f"after {name}")
        r, c = request(g, net, get("/hello"))
        check_framing(g, r, 200, "keep-alive")
        c.close()

    BAD_REQUESTS = {
        "garbage": b"\x16\x03\x01\x00\xa5\x01\x00\x00\r\n\r\n",
        "no-spaces": b"HELLO\r\n\r\n",
        "missing-version": b"GET /\r\nHost: x\r\n\r\n",
        # HTTP/0.9's whole request, as `echo "GET /" | nc` sends it: no empty line follows.
        "http-0.9-request": b"GET /\n",
        "bad-version-syntax": b"GET / HTTP/1\r\n\r\n",
        "lowercase-version": b"GET / http/1.1\r\n\r\n",
        "space-in-target": b"GET /a b HTTP/1.1\r\nHost: x\r\n\r\n",
        "header-without-colon": b"GET / HTTP/1.1\r\nHost x\r\n\r\n",
        "space-before-colon": b"GET / HTTP/1.1\r\nHost : x\r\n\r\n",
        "folded-header": b"GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n 2\r\n\r\n",
        "differing-content-lengths": b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        "request-line-over-8224": b"GET /a HTTP/1.1" + b" " * 8300 + b"\r\nHost: x\r\n\r\n",
        "bare-cr-ends-a-line": b"GET / HTTP/1.1\rHost: x\r\n\r\n",
        # RFC 9112, 3.2: Host is owed by HTTP/1.1, once, and must be a host.
        "http-1.1-without-host": b"GET / HTTP/1.1\r\n\r\n",
        "two-hosts": b"GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n",
        "host-with-a-path": b"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n",
    }

    @pytest.mark.parametrize("name", BAD_REQUESTS)
    def test_bad_request(self, gn, name):
        g, net = gn
        refused_and_closed(g, net, self.BAD_REQUESTS[name], 400, name)

    # A request-target of 8 KiB or more, or its path of 1024 bytes or more: 414
    # (RFC 9112, 3), known before the line ends.
    TOO_LONG = {
        "path-1024": b"GET /" + b"a" * 1023 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
        "path-without-end": b"GET /" + b"a" * 2000,
        "target-8192": b"GET /hello?" + b"q" * (8192 - len("/hello?")) + b" HTTP/1.1\r\nHost: x\r\n\r\n",
        "query-without-end": b"GET /hello?" + b"q" * 9000,
    }

    @pytest.mark.parametrize("name", TOO_LONG)
    def test_uri_too_long(self, gn, name):
        g, net = gn
        refused_and_closed(g, net, self.TOO_LONG[name], 414, name)

    # Header fields over 32 KiB or 100 lines: 431 (RFC 6585, 5), in one write
    # or in a stream that never ends its header.
    TOO_LARGE = {
        "101-header-lines": b"GET / HTTP/1.1\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(101)) + b"\r\n",
        "33-KiB-of-headers": (b"GET / HTTP/1.1\r\n" + b"".join(b"X-%02d: %s\r\n" % (i, b"z" * 760) for i in range(44))
                              + b"\r\n"),
        "64-KiB-cookie": b"GET / HTTP/1.1\r\nCookie: " + b"c" * 65536,
    }

    @pytest.mark.parametrize("name", TOO_LARGE)
    def test_header_fields_too_large(self, gn, name):
        g, net = gn
        refused_and_closed(g, net, self.TOO_LARGE[name], 431, name)

    def test_limits_just_inside(self, gn):
        """The largest accepted target (1023) and 100 header lines of ~32 KiB in all."""
        g, net = gn
        for raw in (b"GET /" + b"a" * 1022 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
                    b"GET /hello HTTP/1.1\r\nHost: x\r\n"
                    + b"".join(b"X-%03d: %s\r\n" % (i, b"z" * 318) for i in range(99))
                    + b"\r\n"):
            assert len(raw) <= 32768
            r, c = request(g, net, raw)
            expect(g, r.status in (200, 404), f"a request inside the limits ({len(raw)} bytes) got {r}")
            c.close()

    @pytest.mark.parametrize("version", ["2.0", "0.9", "3.0"])
    def test_http_version_not_supported(self, gn, version):
        g, net = gn
        refused_and_closed(g, net, f"GET / HTTP/{version}\r\nHost: x\r\n\r\n".encode(), 505, f"HTTP/{version}")

    def test_query_is_not_part_of_the_page(self, gn):
        """The built-in pages ignore a query, as the site's files and nginx
        do: /?v=2 is the index, /hello?x=1 the hello page."""
        g, net = gn
        for target, want in (("/hello?x=1", HELLO), ("/hello?", HELLO), ("/?v=2", b"<html"),
                             ("/index.html?a=b&c", b"<html"), ("/?/../hello", b"<html"), ("/stats?x", b"# TYPE")):
            r, c = request(g, net, get(target))
            check_framing(g, r, 200, "keep-alive")
            expect(g, r.body == want if want == HELLO else want in r.body, f"{target}: {r}")
            c.close()

    def test_long_query_served(self, gn):
        """A query of several KiB (a token, tracking parameters, a form sent
        with GET) is served, as nginx serves a request line up to 8 KiB: the
        page is found by its path, and the connection goes on."""
        g, net = gn
        c = HttpClient(connect(net, g=g), g)
        longest = "/hello?q=" + "a" * (8191 - len("/hello?q="))
        c.send(get(longest) + get("/?v=" + "b" * 4000) + get("/hello"))
        rs = [c.response() for _ in range(3)]
        expect(g, [r.status for r in rs] == [200, 200, 200], f"with long queries: {rs}")
        expect(g, rs[0].body == HELLO and b"<html" in rs[1].body and rs[2].body == HELLO, f"bodies: {rs}")
        c.close()

    def test_large_cookie_served(self, gn):
        """A 20 KiB Cookie (single sign-on tokens, many trackers) is served, as
        nginx serves up to 4 x 8 KiB: the header gets a larger buffer while it
        is parsed, and the connection goes on with its own 8 KiB."""
        g, net = gn
        before = stats(g, net)
        c = HttpClient(connect(net, g=g), g)
        c.send(get("/hello", extra="Cookie: " + "k" * 20480 + "\r\n") + get("/") + get("/hello"))
        rs = [c.response() for _ in range(3)]
        expect(g, [r.status for r in rs] == [200, 200, 200], f"with a 20 KiB cookie: {rs}")
        expect(g, rs[0].body == HELLO and rs[2].body == HELLO, f"bodies: {rs}")
        c.close()
        key = ("http_large_header_buffers_total", "")
        expect(g, stats(g, net)[key] == before[key] + 1, "the large header was not counted once")

    def test_large_header_buffers_are_bounded(self, gn):
        """16 clients part-way through a 9 KiB header hold the 16 large
        buffers there are; a 17th gets 431 at once, not memory. The 16 are
        served when their headers end."""
        g, net = gn
        part = get("/hello", extra="Cookie: " + "k" * 9216 + "\r\n")[:-2]  # all but the final CRLF
        holders = [HttpClient(connect(net, g=g), g) for _ in range(16)]
        for h in holders:
            h.send(part)
        time.sleep(1)
        refused_and_closed(g, net, part, 431, "the 17th large header")
        for h in holders:
            h.send(b"\r\n")
            r = h.response()
            expect(g, r.status == 200 and r.body == HELLO, f"a held large header, completed: {r}")
            h.close()

    def test_later_http1_minor_version_served_as_11(self, gn):
        """RFC 9110, 2.5: HTTP/1.2 is answered as the highest 1.x this server has."""
        g, net = gn
        r, c = request(g, net, b"GET /hello HTTP/1.2\r\nHost: x\r\n\r\n")
        check_framing(g, r, 200, "keep-alive")
        c.close()

    def test_lone_lf_line_ends(self, gn):
        """RFC 9112, 2.2: lines that end in LF alone (printf into nc), and an
        empty line before a request line, are taken as nginx takes them."""
        g, net = gn
        c = HttpClient(connect(net, g=g), g)
        c.send(b"GET /hello HTTP/1.1\nHost: x\n\n\r\nGET / HTTP/1.0\nConnection: close\r\n\n")
        rs = [c.response() for _ in range(2)]
        check_framing(g, rs[0], 200, "keep-alive")
        check_framing(g, rs[1], 200, "close")
        expect(g, rs[0].body == HELLO and b"<html" in rs[1].body, f"bodies: {rs}")
        expect(g, c.closed_by_server(), "the server kept the connection after Connection: close")
        c.close()

    def test_many_pipelined_requests_in_one_write(self, gn):
        """3,000 requests (120 KB) in one write, read while they are sent:
        more than the 8 KiB request buffer holds arrives in one segment, with
        a request split across its end. Every one is answered, in order."""
        g, net = gn
        count = 3000
        c = HttpClient(connect(net, g=g), g)
        sender = threading.Thread(target=c.send, args=(get("/hello") * count,), daemon=True)
        sender.start()
        deadline = time.monotonic() + 30
        for i in range(count):
            r = c.response(timeout=max(0.1, deadline - time.monotonic()))
            if r.status != 200 or r.body != HELLO:
                g.fail(f"response {i + 1} of {count} pipelined: {r}")
        sender.join(5)
        c.send(get("/hello"))
        expect(g, c.response().body == HELLO, "request after the pipelined ones failed")
        c.close()

    def test_connection_close_honoured(self, gn):
        g, net = gn
        r, c = request(g, net, get("/hello", extra="Connection: close\r\n"))
        check_framing(g, r, 200, "close")
        expect(g, r.body == HELLO, f"body {r.body!r}")
        expect(g, c.closed_by_server(2.0), "Connection: close: the server did not close within 2 s")
        c.close()

    def test_http10(self, gn):
        g, net = gn
        r, c = request(g, net, get("/hello", version="1.0"))
        check_framing(g, r, 200, "close")
        expect(g, c.closed_by_server(2.0), "HTTP/1.0: the server did not close within 2 s")
        c.close()
        r, c = request(g, net, get("/hello", version="1.0", extra="Connection: keep-alive\r\n"))
        check_framing(g, r, 200, "keep-alive")
        c.send(get("/", version="1.0", extra="Connection: Keep-Alive\r\n"))
        check_framing(g, c.response(), 200, "keep-alive")
        c.close()

    def test_idle_connections_closed_after_15s(self, gn):
        g, net = gn
        silent = HttpClient(connect(net, g=g), g)         # never says anything
        used = HttpClient(connect(net, g=g), g)           # one request, then idle
        used.send(get("/hello"))
        used.response()
        start = time.monotonic()
        closed = {}
        for c, name in ((silent, "silent"), (used, "idle after a request")):
            ok = c.closed_by_server(timeout=start + 20 - time.monotonic())
            closed[name] = (ok, time.monotonic() - start)
            c.close()
        for name, (ok, when) in closed.items():
            expect(g, ok, f"{name} connection still open after 20 s")
            expect(g, 14.0 <= when, f"{name} connection closed after {when:.1f} s, before the 15 s idle timeout")
        c = HttpClient(connect(net, g=g), g)
        stats = fetch_stats(g, c)
        c.close()
        expect(g, stats[("http_idle_timeouts_total", "")] >= 2, "http_idle_timeouts_total did not count them")

    def test_header_trickled_past_20s_gets_408(self, gn):
        """A byte of header every 2 s never trips the 15 s idle timeout, but
        the header must be whole 20 s after it began: 408 and a close."""
        g, net = gn
        c = HttpClient(connect(net, g=g), g)
        start = time.monotonic()
        c.send(b"GET /hello HTTP/1.1\r\nHost: x\r\n")
        while time.monotonic() - start < 40 and not c.buf:
            c.sock.settimeout(2)
            try:
                chunk = c.sock.recv(65536)
            except socket.timeout:
                c.send(b"X")
                continue
            expect(g, chunk, f"closed without a response after {time.monotonic() - start:.1f} s")
            c.buf += chunk
        when = time.monotonic() - start
        r = c.response()
        expect(g, r.status == 408 and r.header("connection") == "close", f"after {when:.1f} s of trickled header: {r}")
        expect(g, 19.0 <= when, f"408 after {when:.1f} s, before the header's 20 s")
        expect(g, c.closed_by_server(timeout=10), "still open 10 s after the 408 (the client sent no more)")
        c.close()

    def test_32_concurrent_curls(self, gn, tmp_path):
        g, net = gn
        n = 32
        args = []
        for i in range(n):
            args += ["-o", str(tmp_path / f"body{i}"), f"http://{GUEST_ADDR}/hello"]
        r = run(net, *CURL, "--parallel", "--parallel-immediate", "--parallel-max", str(n),
                "-w", "%{http_code} %{num_connects}\n", *args, timeout=60)
        lines = r.stdout.decode().split("\n")[:-1]
        expect(g, r.returncode == 0 and len(lines) == n,
               f"curl --parallel: status {r.returncode}, {len(lines)} transfers: {r.stderr.decode(errors='replace')}")
        codes = [line.split()[0] for line in lines]
        connects = sum(int(line.split()[1]) for line in lines)
        expect(g, codes == ["200"] * n, f"statuses {codes}")
        bodies = [(tmp_path / f"body{i}").read_bytes() for i in range(n)]
        expect(g, all(b == HELLO for b in bodies), f"bodies {bodies}")
        print(f"32 parallel transfers over {connects} connections")
        expect(g, connects >= n // 2, f"only {connects} connections for {n} parallel transfers: not concurrent")


# =============================================================================
# Echo, on one shared guest
# =============================================================================

@pytest.fixture(scope="class")
def _echo_guest(tmp_path_factory):
    with shared_guest(tmp_path_factory, "echo", snaplen=160) as gn:
        yield gn


@needs_root
class TestEcho:
    @pytest.fixture
    def gn(self, request, _echo_guest):
        with attributed(request, _echo_guest):
            yield _echo_guest

    @pytest.mark.parametrize("mib", [1, 16])
    def test_tcp_echo(self, gn, mib):
        g, net = gn
        with connect(net, (GUEST_ADDR, 7), g=g) as s:
            rate = tcp_echo(g, s, mib << 20, seed=mib)
        print(f"TCP echo {mib} MiB: {rate:.1f} MiB/s each way")

    def test_tcp_echo_slow_reader(self, gn):
        g, net = gn
        with connect(net, (GUEST_ADDR, 7), g=g) as s:
            tcp_echo(g, s, 4 << 20, seed=7, slow_for=2.0)
        # The server is still fine afterwards.
        with connect(net, (GUEST_ADDR, 7), g=g) as s:
            tcp_echo(g, s, 1000, seed=8)

    def test_tcp_echo_many_small_writes(self, gn):
        g, net = gn
        with connect(net, (GUEST_ADDR, 7), g=g) as s:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for i in range(200):
                msg = b"line %d\n" % i
                s.sendall(msg)
                got = b""
                while len(got) < len(msg):
                    chunk = s.recv(100)
                    expect(g, chunk, f"echo closed at message {i}")
                    got += chunk
                expect(g, got == msg, f"message {i}: sent {msg!r}, got {got!r}")

    def test_udp_echo_every_size_class(self, gn):
        g, net = gn
        with inside(net):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        with s:
            losses, missing = udp_echo(g, s, UDP_SIZES, seed=1, addr=(GUEST_ADDR, 7))
        expect(g, not missing, f"UDP echo: sizes {missing} never came back in 3 tries")
        expect(g, losses == 0, f"UDP echo: {losses} datagrams of {len(UDP_SIZES)} lost (came back on a retry)")

    def test_udp_echo_fragmented(self, gn):
        """Datagrams over the MTU: reassembled by the guest, fragmented on the way back."""
        g, net = gn
        with inside(net):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        with s:
            losses, missing = udp_echo(g, s, [1473, 2000, 2961, 4000, 8000, 16000, 32000, 48000, 65507], seed=2,
                                       addr=(GUEST_ADDR, 7))
        expect(g, not missing and losses == 0, f"fragmented UDP echo: sizes {missing} never back, {losses} losses")

    @pytest.mark.parametrize("family", ["ipv4", "ipv6"])
    def test_udp_echo_to_a_peer_not_yet_resolved(self, gn, family):
        """The guest's answer to a peer whose MAC it does not know yet waits for
        the ARP reply (IPv6: the NA), all of it: the host knows the guest (a
        ping), then sends the largest datagram from an address of its own the
        guest has never heard from. lwIP's default kept only the last packet
        waiting, so only the last of 45 fragments went out and the first
        answer was lost."""
        g, net = gn
        v6 = family == "ipv6"
        if v6:
            wait_ipv6(g, net)
        ping(g, net, *(["-6", f"{GUEST_LL}%{TAP}"] if v6 else [GUEST_ADDR]), count=1)
        new_addr = "fe80::3" if v6 else "10.0.2.3"
        ip_addr = ["ip", "-6", "addr"] if v6 else ["ip", "addr"]
        prefix = f"{new_addr}/{64 if v6 else 24}"
        net.run(*ip_addr, "add", prefix, "dev", TAP, *(["nodad"] if v6 else []), check=True)
        try:
            with inside(net):
                s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_DGRAM)
            with s:
                scope = ll_scope(net) if v6 else None
                s.bind((new_addr, 0, 0, scope) if v6 else (new_addr, 0))
                # The largest each answers: IPv6 allows 65527, but lwIP counts a
                # packet, its IPv6 header included, in 16 bits (docs/services.md).
                size = 65487 if v6 else 65507
                losses, missing = udp_echo(g, s, [size], seed=9,
                                           addr=(GUEST_LL, 7, 0, scope) if v6 else (GUEST_ADDR, 7))
            expect(g, not missing and losses == 0,
                   f"{size}-byte UDP echo to a peer not yet resolved: {losses} lost, {'never back' if missing else 'back'}")
        finally:
            net.run(*ip_addr, "del", prefix, "dev", TAP)

    def test_echo_over_ipv6(self, gn):
        g, net = gn
        wait_ipv6(g, net)
        scope = ll_scope(net)
        addr = (GUEST_LL, 7, 0, scope)
        with connect(net, addr, family=socket.AF_INET6, g=g) as s:
            tcp_echo(g, s, 256 << 10, seed=6)
        with inside(net):
            s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        with s:
            losses, missing = udp_echo(g, s, [1, 2, 100, 1000, 1451, 1452], seed=3, addr=addr)
        expect(g, not missing and losses == 0, f"UDP echo over IPv6: sizes {missing} never back, {losses} losses")


# =============================================================================
# Load, on one shared guest
# =============================================================================

@pytest.fixture(scope="class")
def _load_guest(tmp_path_factory):
    with shared_guest(tmp_path_factory, "load", snaplen=128) as gn:
        yield gn


@needs_root
class TestLoad:
    @pytest.fixture
    def gn(self, request, _load_guest):
        with attributed(request, _load_guest):
            yield _load_guest

    def test_10000_sequential_connections(self, gn):
        g, net = gn
        n, per_request, budget = 10_000, 2.0, 300.0
        raw = get("/hello")
        slowest = 0.0
        c = HttpClient(connect(net, g=g), g)
        before = fetch_stats(g, c)[("http_connections_total", "")]
        c.close()
        start = time.monotonic()
        with inside(net):
            for i in range(n):
                t0 = time.monotonic()
                try:
                    s = socket.create_connection((GUEST_ADDR, 80), timeout=per_request)
                    c = HttpClient(s)
                    c.send(raw)
                    r = c.response(timeout=per_request - (time.monotonic() - t0))
                    s.close()
                except (OSError, EOFError, AssertionError) as e:
                    g.fail(f"request {i} of {n} failed after {time.monotonic() - t0:.3f} s: {e!r}")
                took = time.monotonic() - t0
                slowest = max(slowest, took)
                if r.status != 200 or r.body != HELLO:
                    g.fail(f"request {i} of {n}: {r}")
                if took > per_request:
                    g.fail(f"request {i} of {n} took {took:.3f} s (limit {per_request} s)")
                if time.monotonic() - start > budget:
                    g.fail(f"only {i + 1} of {n} requests in {budget:g} s")
        elapsed = time.monotonic() - start
        print(f"{n} sequential connections in {elapsed:.1f} s: {n / elapsed:.0f} requests/s, "
              f"slowest {slowest * 1000:.0f} ms")
        c = HttpClient(connect(net, g=g), g)
        after = fetch_stats(g, c)[("http_connections_total", "")]
        c.close()
        # The server saw every one of them as its own connection (and this last one).
        expect(g, after - before == n + 1, f"http_connections_total went from {before} to {after}, expected +{n + 1}")

    def test_wrk_10s(self, gn):
        g, net = gn
        out = wrk_hello(g, net, threads=2, connections=8, seconds=10)
        # Still serving, and the server's books balance once the load is gone.
        try:
            c = HttpClient(connect(net))
            stats = fetch_stats(g, c)
            c.close()
        except (OSError, EOFError) as e:
            answered = run(net, "ping", "-c", "3", "-i", "0.3", "-W", "1", GUEST_ADDR).returncode == 0
            g.fail(f"after wrk the guest no longer serves: GET /stats failed with {e!r}; "
                   f"ping {'is still answered' if answered else 'is not answered either'}\n{out}")
        expect(g, stats[("http_connections_active", "")] <= 1,
               f"{stats[('http_connections_active', '')]} HTTP connections still active after wrk ended")


# =============================================================================
# One guest each
# =============================================================================

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_user_network_with_dhcp(request, tmp_path):
    """The way `make run` serves: QEMU user networking (DHCP from QEMU) with
    host ports forwarded to the guest's HTTP and echo. Needs no root.
    (Not restrict=on: QEMU's DHCP then offers no router, and this is the
    network `make run` gives; the guest starts no traffic of its own.)"""
    for attempt in range(3):
        http_port, echo_port = free_port(), free_port()
        nic = ("-netdev", f"user,id=n0,hostfwd=tcp:127.0.0.1:{http_port}-:80,"
                          f"hostfwd=tcp:127.0.0.1:{echo_port}-:7",
               "-device", "virtio-net-pci,netdev=n0")
        g = start_guest(tmp_path / f"guest{attempt}", nic=nic)
        request.addfinalizer(g.kill)
        name_pcap(request, g)
        time.sleep(0.5)
        if g.running or "host forwarding" not in g.stderr_path.read_text(errors="replace"):
            break  # else another run took a port between our check and QEMU's bind
    wait_ready(g)
    expect(g, re.search(DHCP_UP, g.serial(), re.MULTILINE), "no 'net: en0 up ... (DHCP)' line")
    expect(g, g.serial().index("(DHCP)") < g.serial().index("READY "), "READY came before the DHCP address")
    expect(g, not re.search(FALLBACK, g.serial(), re.MULTILINE), "fell back to the static address under user-net")
    r = curl_i(g, None, f"http://127.0.0.1:{http_port}/")
    check_framing(g, r, 200, "keep-alive")
    expect(g, b"<html" in r.body and r.header("content-length") == str(len(r.body)), f"/: {r}")
    with connect(None, ("127.0.0.1", echo_port), timeout=10, g=g) as s:
        tcp_echo(g, s, 256 << 10, seed=5)
    check_healthy(g, "at the end")


@needs_root
@pytest.mark.parametrize("rtc,expected", [("base=2020-01-01T00:00:00", "Wed, 01 Jan 2020 00:0"), ("off", None)],
                         ids=["rtc-2020", "no-rtc"])
def test_date_comes_from_the_rtc(request, tmp_path, rtc, expected):
    """The Date field is the RTC's time (QEMU's -rtc base= sets it), carried
    on by the kernel clock; on a machine without an RTC (microvm,rtc=off) no
    Date at all, as RFC 9110 asks of a server without a clock."""
    with PrivateNetwork() as net:
        machine, args = ("microvm,rtc=off", ()) if rtc == "off" else ("microvm", ("-rtc", rtc))
        g = CapturedGuest(tmp_path, machine=machine, boot="pvh", memory=64, cmdline=GUEST_STATIC_CMDLINE,
                          extra_args=args, nic=net.nic(device="virtio-net-device"), prefix=net.prefix).start()
        request.addfinalizer(g.kill)
        wait_ready(g)
        r = curl_i(g, net, f"http://{GUEST_ADDR}/hello")
        if expected:
            expect(g, (r.header("date") or "").startswith(expected), f"Date is not the RTC's 2020: {r}")
        else:
            expect(g, r.header("date") is None, f"a Date without a clock: {r}")
            expect(g, "net: no wall clock (no RTC with a valid time, no kvmclock): HTTP responses carry no Date" in g.serial(),
                   "no console line about the missing clock")


def router_advertisement(net, prefix):
    """Send one RFC 4861 router advertisement on the tap, from its link-local
    address (a host must ignore one from any other), with hop limit 255, for
    prefix/64 with the on-link and autonomous flags: what radvd sends."""
    mac = bytes.fromhex(net.run("cat", f"/sys/class/net/{TAP}/address", check=True).stdout.strip().replace(":", ""))
    ra = struct.pack("!BBHBBHII", 134, 0, 0, 64, 0, 1800, 0, 0)  # type, code, sum (the kernel's), hop limit, lifetime
    ra += struct.pack("!BB6s", 1, 1, mac)  # source link-layer address
    ra += struct.pack("!BBBBIII16s", 3, 4, 64, 0xC0, 86400, 14400, 0, socket.inet_pton(socket.AF_INET6, prefix))
    with inside(net):
        s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    with s:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
        s.sendto(ra, ("ff02::1", 0, 0, ll_scope(net)))


@needs_root
def test_slaac_address_from_a_router_advertisement(request, tmp_path):
    """IPv6 stateless autoconfiguration (RFC 4862): after a router
    advertisement for 2001:db8:5::/64 the guest takes the address its MAC
    gives (EUI-64) and serves on it, to a client off the link too (through
    the advertising router, its default route)."""
    with PrivateNetwork() as net:
        g = start_guest(tmp_path, net, machine="microvm", boot="pvh", memory=64)
        request.addfinalizer(g.kill)
        wait_ready(g)
        wait_ipv6(g, net)  # the tap's link-local address is usable too: the advertisement's source
        net.run("ip", "-6", "addr", "add", "2001:db8:5::1/64", "dev", TAP, "nodad", check=True)
        router_advertisement(net, "2001:db8:5::")
        addr = "2001:db8:5::5054:ff:fe12:3456"
        deadline = time.monotonic() + 15  # lwIP's duplicate address detection first: a second or so
        while net.run("ping", "-6", "-c", "1", "-W", "1", addr, timeout=10).returncode != 0:
            expect(g, time.monotonic() < deadline, f"{addr} did not answer within 15 s of the advertisement")
        r = curl_i(g, net, f"http://[{addr}]/hello", "-g")
        expect(g, r.status == 200 and r.body == HELLO, f"curl over the SLAAC address: {r}")
        logged = re.findall(r"net: en0 ipv6 ([0-9A-Fa-f:]+) valid \(SLAAC\)", g.serial())
        expect(g, [ipaddress.ip_address(a) for a in logged] == [ipaddress.ip_address(addr)],
               f"console lines for SLAAC addresses: {logged}, expected {addr} once")
        with connect(net, (addr, 7), family=socket.AF_INET6, g=g) as s:
            tcp_echo(g, s, 64 << 10, seed=9)
        # A client off the link: the answer goes through the advertising router.
        net.run("ip", "-6", "addr", "add", "2001:db8:99::1/128", "dev", "lo", check=True)
        r = curl_i(g, net, f"http://[{addr}]/hello", "-g", "--interface", "2001:db8:99::1")
        expect(g, r.status == 200 and r.body == HELLO, f"curl from off the link, through the router: {r}")
        check_healthy(g, "after SLAAC")


def mld_reports(pcap, mac):
    """(time, group address) of each MLDv1 report (ICMPv6 type 131, after
    the hop-by-hop header with its router alert) from `mac` in a pcap file."""
    data, reports, off = pcap.read_bytes(), [], 24
    while off + 16 <= len(data):
        sec, usec, caplen, _ = struct.unpack_from("<IIII", data, off)
        frame = data[off + 16:off + 16 + caplen]
        off += 16 + caplen
        if len(frame) < 14 + 40 + 8 or frame[6:12] != mac or frame[12:14] != b"\x86\xdd" or frame[20] != 0:
            continue
        icmp = 14 + 40 + 8 * (frame[14 + 40 + 1] + 1)
        if frame[14 + 40] == 58 and len(frame) >= icmp + 24 and frame[icmp] == 131:
            reports.append((sec + usec / 1e6, ipaddress.ip_address(frame[icmp + 8:icmp + 24])))
    return reports


@needs_root
def test_an_idle_guest_sleeps_and_still_reports_its_groups(request, tmp_path):
    """An idle guest took about twelve LAPIC timer interrupts a second (each a
    VM exit on a hypervisor): lwIP ran MLD's timer every 100 ms and DHCP's
    every 500 ms whatever they had to do (scripts/lwip-mld-timer-on-demand.patch,
    scripts/lwip-dhcp-timer-on-demand.patch now run them only while a report
    or request waits), and the LAPIC, its rate known to about 0.1 %, fired a
    1 s sleep a millisecond early, before anything was due, so each sleep took
    a second interrupt (arch/x86_64/lapic.c now never arms it short). Idle,
    the guest wakes about once a second for lwIP's one-second timers: under
    42 interrupts in 20 s with the two /stats requests (TCP's 40 ms timer
    runs while their connections do: about a dozen), and no more interrupts
    than timers run, give or take three. MLD still works: the
    solicited-node group of its link-local address is reported on joining
    and again within the join's delay (RFC 2710, 4: 2 reports)."""
    with PrivateNetwork() as net:
        g = start_guest(tmp_path, net, machine="microvm", boot="pvh", memory=64)
        request.addfinalizer(g.kill)
        wait_ready(g)
        wait_ipv6(g, net)

        def timer_counts():
            r = curl_i(g, net, f"http://{GUEST_ADDR}/stats")
            irqs = re.search(rb'^kernel_interrupts_total\{vector="0xf0"\} (\d+)$', r.body, re.MULTILINE)
            runs = re.search(rb'^kernel_timers_fired_total (\d+)$', r.body, re.MULTILINE)
            expect(g, irqs and runs, "no LAPIC timer or timer counts in /stats")
            return int(irqs.group(1)), int(runs.group(1))

        irqs, runs = timer_counts()
        time.sleep(20)
        irqs2, runs2 = timer_counts()
        woke, ran = irqs2 - irqs, runs2 - runs
        print(f"idle 20 s: {woke} timer interrupts, {ran} timers run")
        expect(g, woke < 42, f"{woke} timer interrupts in 20 s idle ({ran} timers run), expected under 42")
        expect(g, woke <= ran + 3, f"{woke} timer interrupts for {ran} timers run in 20 s: interrupts before their deadline")
        g.kill()  # the capture is complete once QEMU is gone
        group = ipaddress.ip_address("ff02::1:ff12:3456")
        times = [t for t, a in mld_reports(g.pcap_path, bytes.fromhex("525400123456")) if a == group]
        expect(g, len(times) >= 2 and times[1] - times[0] < 2.0,
               f"MLD reports for {group}: {len(times)}, {[round(t - times[0], 3) for t in times]} s after the first")


@needs_root
def test_dhcp_falls_back_to_static(request, tmp_path):
    """No DHCP server in the namespace: ip=dhcp must give up after 10 s, take
    10.0.2.15/24 gw 10.0.2.2, then print READY and serve."""
    with PrivateNetwork() as net:
        g = start_guest(tmp_path, net, cmdline="ip=dhcp")
        request.addfinalizer(g.kill)
        name_pcap(request, g)
        g.wait_for(FALLBACK, timeout=90)
        wait_ready(g, timeout=30)
        log = g.serial()
        expect(g, "DHCP started" in log, "no 'DHCP started' line")
        expect(g, log.index("falling back") < log.index("READY "), "READY came before the fallback")
        expect(g, re.search(STATIC_UP, log, re.MULTILINE) and "(DHCP)" not in log, "no static 'net: en0 up' line")
        ping(g, net, GUEST_ADDR, count=3)
        r = curl_i(g, net, f"http://{GUEST_ADDR}/hello")
        expect(g, r.status == 200 and r.body == HELLO, f"/hello after the fallback: {r}")
        check_healthy(g, "at the end")


CORE_MODES = {
    "msix": ("irq=msix", "", "MSI-X per queue"),
    "intx": ("irq=intx", ",vectors=0", "INTx"),
}


@needs_root
@pytest.mark.parametrize("mode", CORE_MODES)
@pytest.mark.parametrize("machine", ["q35", "pc"])
def test_core_services(request, tmp_path, machine, mode):
    """Ping, curl / and a 1 MiB echo on each machine, with MSI-X and with INTx."""
    irq, props, expected = CORE_MODES[mode]
    with PrivateNetwork() as net:
        g = start_guest(tmp_path, net, machine=machine, cmdline=f"{GUEST_STATIC_CMDLINE} {irq}", props=props,
                        snaplen=160)
        request.addfinalizer(g.kill)
        name_pcap(request, g)
        wait_ready(g)
        log = g.serial()
        expect(g, re.search(rf"virtio: \S+: {expected}", log), f"interrupt mode is not {expected}")
        expect(g, re.search(STATIC_UP, log, re.MULTILINE) and "DHCP" not in log, "not the static address path")
        ping(g, net, GUEST_ADDR)
        r = curl_i(g, net, f"http://{GUEST_ADDR}/")
        check_framing(g, r, 200, "keep-alive")
        expect(g, b"<html" in r.body and r.header("content-length") == str(len(r.body)), f"/: {r}")
        with connect(net, (GUEST_ADDR, 7), g=g) as s:
            tcp_echo(g, s, 1 << 20, seed=9)
        check_healthy(g, "at the end")
