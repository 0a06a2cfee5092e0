"""The user's own site (issue 19): a newc cpio archive handed over as the
initrd -- PVH's first start_info module (q35 through SeaBIOS, fast), OVMF's
-initrd (LoadFile2), a disk's site.cpio (test_image.py) -- served as static
files over HTTP/1.1.

A generated site (tests/system/site_gen.py: nested directories, 200+ files,
binary files, a 16 MiB file, index.html everywhere, a .gz variant, names
with spaces and UTF-8) is mirrored with `wget -m` and compared byte for
byte, mtimes included; curl checks each header rule; malformed and
oversized archives are refused on the console and the built-in pages
served instead. Network tests run in a private namespace (root)."""

import concurrent.futures
import gzip
import hashlib
import io
import lzma
import os
import random
import re
import socket
import struct
import subprocess
import tarfile
import time
import urllib.parse
from pathlib import Path

import pytest

import site_gen
from netns import GUEST_ADDR, PrivateNetwork, have_root
from qemu import PVH_KERNEL, Guest
from test_services import (CURL, GUEST_LL, MAC, TAP, HttpClient, attributed, check_healthy, connect, curl_i, expect,
                           fetch_stats, get, inside, name_pcap, run, start_guest, wait_ipv6, wait_ready)

needs_root = pytest.mark.skipif(not have_root(), reason="needs root for network namespaces and tap devices")
needs_pvh = pytest.mark.skipif(not PVH_KERNEL.is_file(), reason=f"{PVH_KERNEL} is not built; run 'make'")

URL = f"http://{GUEST_ADDR}"
SITE_LINE = r"site: (\d+) files \((\d+) KiB\) in (\d+) listed directories, from a (\d+) KiB archive"
IMF_FIXDATE = re.compile(r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
                         r"\d{4} \d\d:\d\d:\d\d GMT$")
GUEST_MEMORY = 128  # MiB: the 17 MiB archive, the kernel and room to spare


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """(source directory, {path: bytes}, archive path)."""
    base = tmp_path_factory.mktemp("site")
    files = site_gen.generate(base / "src")
    return base / "src", files, site_gen.pack(base / "src", base / "site.cpio")


def boot_with_site(workdir, net, archive, boot="pvh", machine="q35", props=""):
    if boot == "pvh":
        props += ",romfile="  # SeaBIOS need not run the NIC's iPXE ROM
    g = start_guest(workdir, net, machine=machine, boot=boot, props=props, snaplen=160, memory=GUEST_MEMORY,
                    initrd=archive)
    wait_ready(g)
    return g


@pytest.fixture(scope="module")
def _pvh_site_guest(tmp_path_factory, site):
    if not have_root():
        pytest.skip("needs root for network namespaces and tap devices")
    with PrivateNetwork() as net:
        g = boot_with_site(tmp_path_factory.mktemp("pvh-site"), net, site[2])
        try:
            yield g, net
        finally:
            g.kill()


def mirror_and_compare(g, net, files, workdir):
    """wget -m the whole site; every file byte-exact, with the archive's mtime."""
    out = Path(workdir) / "mirror"
    r = run(net, "wget", "-m", "-nH", "-np", "-q", "-e", "robots=off", "--restrict-file-names=nocontrol",
            "--tries=1", "--timeout=30", "-P", str(out), f"{URL}/", timeout=240)
    expect(g, r.returncode == 0, f"wget -m exited {r.returncode}: {r.stderr.decode(errors='replace')[-2000:]}")
    got = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()}
    missing = sorted(set(files) - got)
    extra = sorted(got - set(files))
    expect(g, not missing and not extra, f"mirror: {len(missing)} files missing {missing[:10]}, "
                                         f"{len(extra)} unexpected {extra[:10]}")
    wrong = [rel for rel, data in files.items() if (out / rel).read_bytes() != data]
    expect(g, not wrong, f"{len(wrong)} files differ from the source: {wrong[:10]}")
    # wget sets each file's mtime from Last-Modified: the archive's mtimes come through.
    times = {rel: int((out / rel).stat().st_mtime) for rel in files}
    offset = {times[rel] - site_gen.BASE_MTIME - i for i, rel in enumerate(sorted(files))}
    expect(g, offset == {0}, f"Last-Modified differs from the archive's mtimes by {sorted(offset)[:5]} s")
    return len(files), sum(len(d) for d in files.values())


def header_rules(g, net, files):
    """Every header rule of the issue, checked with curl."""
    small = "docs/page-000.txt"
    r = curl_i(g, net, URL + site_gen.url_path(small))
    expect(g, r.status == 200 and r.body == files[small], f"GET {small}: {r}")
    expect(g, r.header("content-type") == "text/plain; charset=utf-8", f"Content-Type: {r}")
    expect(g, r.header("content-length") == str(len(files[small])), f"Content-Length: {r}")
    expect(g, r.header("accept-ranges") == "bytes", f"Accept-Ranges: {r}")
    last_modified, etag = r.header("last-modified"), r.header("etag")
    expect(g, last_modified and IMF_FIXDATE.match(last_modified), f"Last-Modified not an IMF-fixdate: {r}")
    expect(g, etag and re.fullmatch(r'"[0-9a-f]{16}"', etag), f"no strong ETag: {r}")

    def first(suffix):
        return next(p for p in sorted(files) if p.endswith(suffix))

    for path, ctype in (("café.html", "text/html; charset=utf-8"), ("img/pixel.png", "image/png"),
                        (first(".json"), "application/json"), (first(".css"), "text/css; charset=utf-8"),
                        ("hello world.txt", "text/plain; charset=utf-8"),
                        (first(".bin"), "application/octet-stream")):
        r = curl_i(g, net, URL + site_gen.url_path(path), "-I")
        expect(g, r.status == 200 and r.header("content-type") == ctype, f"HEAD {path}: Content-Type {r}")
        expect(g, r.header("content-length") == str(len(files[path])), f"HEAD {path}: Content-Length {r}")

    url = URL + site_gen.url_path(small)
    for extra, status in ((("-H", f"If-None-Match: {etag}"), 304), (("-H", 'If-None-Match: "nope"'), 200),
                          (("-H", "If-None-Match: *"), 304), (("-H", f"If-Modified-Since: {last_modified}"), 304),
                          (("-H", "If-Modified-Since: Thu, 01 Jan 1970 00:00:00 GMT"), 200),
                          (("-H", f"If-Match: {etag}"), 200), (("-H", 'If-Match: "nope"'), 412)):
        r = curl_i(g, net, url, *extra)
        expect(g, r.status == status, f"{extra[1]}: status {r.status}, expected {status}: {r}")
        if status == 304:
            expect(g, r.body == b"" and r.header("etag") == etag, f"{extra[1]}: 304 with a body or no ETag: {r}")

    data = files[small]
    size = len(data)
    for spec, first, last in (("2-9", 2, 9), ("5-", 5, size - 1), ("-7", size - 7, size - 1),
                              (f"3-{size + 100}", 3, size - 1)):
        r = curl_i(g, net, url, "-H", f"Range: bytes={spec}")
        expect(g, r.status == 206 and r.body == data[first:last + 1], f"Range {spec}: {r}")
        expect(g, r.header("content-range") == f"bytes {first}-{last}/{size}", f"Range {spec}: Content-Range {r}")
    r = curl_i(g, net, url, "-H", f"Range: bytes={size}-")
    expect(g, r.status == 416 and r.header("content-range") == f"bytes */{size}", f"unsatisfiable Range: {r}")
    r = curl_i(g, net, url, "-H", "Range: bytes=0-1,4-5")
    expect(g, r.status == 200 and r.body == data, f"multi-range: expected the whole file: {r}")
    r = curl_i(g, net, url, "-H", "Range: bytes=0-1", "-H", f"If-Range: {etag}")
    expect(g, r.status == 206 and r.body == data[:2], f"If-Range with the current ETag: {r}")
    r = curl_i(g, net, url, "-H", "Range: bytes=0-1", "-H", 'If-Range: "old"')
    expect(g, r.status == 200 and r.body == data, f"If-Range with an old ETag: {r}")

    js = site_gen.url_path(site_gen.GZIP_NAME)
    r = curl_i(g, net, URL + js, "-H", "Accept-Encoding: gzip")
    expect(g, r.status == 200 and r.header("content-encoding") == "gzip", f"gzip variant not chosen: {r}")
    expect(g, r.body == files[site_gen.GZIP_NAME + ".gz"] and r.header("vary") == "Accept-Encoding", f"gzip: {r}")
    expect(g, r.header("content-type") == "text/javascript; charset=utf-8", f"gzip variant's Content-Type: {r}")
    r = curl_i(g, net, URL + js, "--compressed")
    expect(g, r.body == files[site_gen.GZIP_NAME], f"curl --compressed did not get app.js back: {r}")
    r = curl_i(g, net, URL + js)
    expect(g, r.header("content-encoding") is None and r.body == files[site_gen.GZIP_NAME], f"identity: {r}")
    expect(g, r.header("vary") == "Accept-Encoding", f"identity answer without Vary: {r}")

    r = curl_i(g, net, URL + "/docs")
    expect(g, r.status == 301 and r.header("location") == "/docs/", f"/docs: {r}")
    r = curl_i(g, net, URL + "/docs?lang=en&v=%202")  # the query goes along, as nginx keeps it
    expect(g, r.status == 301 and r.header("location") == "/docs/?lang=en&v=%202", f"/docs?lang=en&v=%202: {r}")
    r = curl_i(g, net, URL + "/docs/")
    expect(g, r.status == 200 and r.body == files["docs/index.html"], f"/docs/: {r}")
    r = curl_i(g, net, URL + "/%C3%BCn%C3%AFc%C3%B6d%C3%A9/%E6%97%A5%E6%9C%AC")
    expect(g, r.status == 301 and r.header("location") == "/%C3%BCn%C3%AFc%C3%B6d%C3%A9/%E6%97%A5%E6%9C%AC/",
           f"UTF-8 directory redirect: {r}")
    r = curl_i(g, net, URL + "/")
    expect(g, r.status == 200 and r.body == files["index.html"], f"the archive's index.html overrides /: {r}")
    for path, status in (("/missing.txt", 404), ("/docs/nothing/", 404), ("/hello", 200), ("/stats", 200),
                         ("/docs/../index.html", 200), ("/docs/..", 200), ("/%2e%2e/index.html", 404),
                         ("/docs/../../index.html", 404), ("/index.html%00", 404)):
        r = curl_i(g, net, URL + path, "--path-as-is")
        expect(g, r.status == status, f"{path}: {r.status}, expected {status}: {r}")
        expect(g, status != 200 or not path.startswith("/docs/..") or r.body == files["index.html"],
               f"{path} is the site's index.html: {r}")
    r = curl_i(g, net, URL + "/index.html", "-X", "POST")
    expect(g, r.status == 405 and r.header("allow") == "GET, HEAD", f"POST: {r}")


def stream_large(g, net, files, parallel=4):
    """The 16 MiB file by several clients at once, byte-exact; afterwards the
    server holds no extra heap: bodies went out by reference."""
    want = hashlib.sha256(files[site_gen.LARGE_NAME]).hexdigest()
    url = URL + site_gen.url_path(site_gen.LARGE_NAME)
    before = stats(g, net)

    def fetch(_):
        r = run(net, "sh", "-c", f"curl -sS --noproxy '*' --max-time 120 '{url}' | sha256sum", timeout=150)
        return r.stdout.decode().split(" ")[0], r.stderr.decode(errors="replace")

    with concurrent.futures.ThreadPoolExecutor(parallel) as pool:
        results = list(pool.map(fetch, range(parallel)))
    for digest, err in results:
        expect(g, digest == want, f"16 MiB download differs (sha256 {digest}, want {want}): {err}")
    after = stats(g, net)
    expect(g, after[("http_static_responses_total", '{code="200"}')] >= before[("http_static_responses_total",
                                                                              '{code="200"}')] + parallel,
           "the downloads are not counted as static answers")
    key = ("http_body_bytes_referenced_total", "")
    referenced = after[key] - before[key]
    expect(g, referenced >= parallel * site_gen.LARGE_SIZE, f"only {referenced} body bytes went out by reference")
    copied = after[("http_body_bytes_copied_total", "")] - before[("http_body_bytes_copied_total", "")]
    expect(g, copied < 1 << 20, f"{copied} body bytes were copied (only /stats pages should be)")
    expect(g, after[("http_aborted_total", "")] == before[("http_aborted_total", "")], "connections aborted")


def stats(g, net):
    c = HttpClient(connect(net, g=g), g)
    try:
        return fetch_stats(g, c)
    finally:
        c.close()


def check_site_line(g, files, archive):
    m = re.search(SITE_LINE, g.serial())
    expect(g, m, "no 'site: N files' console line")
    expect(g, int(m.group(1)) == len(files), f"console says {m.group(1)} files, the site has {len(files)}")
    expect(g, int(m.group(4)) == archive.stat().st_size // 1024, f"console archive size {m.group(4)} KiB")


@needs_root
@needs_pvh
class TestSitePvh:
    """PVH on q35 (SeaBIOS): -initrd arrives as start_info's first module."""

    @pytest.fixture
    def gn(self, request, _pvh_site_guest):
        with attributed(request, _pvh_site_guest):
            yield _pvh_site_guest

    def test_console_and_stats_account_for_the_site(self, gn, site):
        g, net = gn
        _, files, archive = site
        expect(g, re.search(r"boot: module 0: \d+ KiB at 0x", g.serial()), "no PVH module line")
        check_site_line(g, files, archive)
        s = stats(g, net)
        expect(g, s[("site_served", "")] == 1, "site_served is not 1")
        expect(g, s[("site_files", "")] == len(files), f"site_files {s[('site_files', '')]}, want {len(files)}")
        expect(g, s[("site_archive_bytes", "")] == archive.stat().st_size, "site_archive_bytes is not the archive")
        expect(g, s[("site_file_bytes", "")] == sum(len(d) for d in files.values()), "site_file_bytes")
        expect(g, 0 < s[("site_table_bytes", "")] < 64 << 10, f"site_table_bytes {s[('site_table_bytes', '')]}")

    def test_wget_mirror_is_byte_exact(self, gn, site, tmp_path):
        g, net = gn
        count, size = mirror_and_compare(g, net, site[1], tmp_path)
        print(f"wget -m: {count} files, {size >> 20} MiB, byte-exact with their mtimes")

    def test_header_rules(self, gn, site):
        g, net = gn
        header_rules(g, net, site[1])

    def test_large_file_streams_by_reference(self, gn, site):
        g, net = gn
        stream_large(g, net, site[1])

    def test_a_client_with_the_smallest_mss_gets_the_whole_file(self, gn, site):
        """Linux clients may announce an MSS as small as 88 (TCP_MIN_MSS: a
        route's advmss, a tunnel's clamp). A file's body goes to lwIP by
        reference, two pbufs a segment, and lwIP refuses a write whole when
        they overflow its queue (TCP_SND_QUEUELEN counts pbufs): a 64 KiB
        write at that MSS never fit, and the download stopped after its header."""
        g, net = gn
        want = hashlib.sha256(site[1][site_gen.LARGE_NAME]).hexdigest()
        refused = ("lwip_memory_errors_total", '{proto="tcp"}')
        before = stats(g, net)[refused]
        net.run("ip", "route", "change", "10.0.2.0/24", "dev", "tap0", "advmss", "88", check=True)
        try:
            digest, err = download_digest(net, URL + site_gen.url_path(site_gen.LARGE_NAME), "--max-time", "60")
            after = stats(g, net)[refused]
        finally:
            net.run("ip", "route", "change", "10.0.2.0/24", "dev", "tap0", check=True)
        expect(g, digest == want, f"16 MiB download with MSS 88 differs (or stalled): {err}")
        expect(g, after == before, f"lwIP refused {after - before} TCP writes")

    def test_keep_alive_and_pipelining_over_static_files(self, gn, site):
        g, net = gn
        files = site[1]
        paths = ["docs/page-000.txt", "hello world.txt", "missing", "img/pixel.png"]
        c = HttpClient(connect(net, g=g), g)
        c.send(b"".join(get(site_gen.url_path(p)) for p in paths) +
               get(site_gen.url_path(paths[0])).replace(b"GET", b"HEAD", 1) + get("/hello"))
        rs = [c.response() for _ in paths]
        head = c.response(head_request=True)
        last = c.response()
        c.close()
        for p, r in zip(paths, rs):
            want = files.get(p)
            expect(g, r.status == (200 if want is not None else 404), f"pipelined {p}: {r}")
            expect(g, want is None or r.body == want, f"pipelined {p}: body differs")
            expect(g, r.header("connection") == "keep-alive", f"pipelined {p}: {r}")
        expect(g, head.status == 200 and head.header("content-length") == str(len(files[paths[0]])), f"HEAD: {head}")
        expect(g, last.status == 200 and last.body == b"hello\n", f"after the pipeline: {last}")


@needs_root
def test_site_under_efi_initrd(request, tmp_path, site):
    """OVMF with -kernel kernel.efi -initrd site.cpio (kernel.efi's Linux setup
    header lets QEMU take it); the kernel takes it by LoadFile2 on the Linux
    initrd media path before ExitBootServices."""
    _, files, archive = site
    with PrivateNetwork() as net:
        g = boot_with_site(tmp_path, net, archive, boot="efi")
        request.addfinalizer(g.kill)
        name_pcap(request, g)
        log = g.serial()
        expect(g, 'initrd=initrd"' in log, "OVMF did not append initrd=initrd to the command line")
        expect(g, re.search(r"boot: site archive from LoadFile2 on the Linux initrd media path: "
                            rf"{archive.stat().st_size} bytes", log), "the archive did not come by LoadFile2")
        expect(g, "unknown key 'initrd'" not in log, "initrd= reported as unknown")
        check_site_line(g, files, archive)
        for rel in ("index.html", "café.html", "docs/api/v1/index.html", next(p for p in sorted(files) if ".bin" in p)):
            r = curl_i(g, net, URL + site_gen.url_path(rel))
            expect(g, r.status == 200 and r.body == files[rel], f"EFI: GET {rel}: {r}")
        stream_large(g, net, files, parallel=2)
        check_healthy(g, "at the end")


# ---- archives refused ----------------------------------------------------------

def newc_entry(name, data=b"", mode=0o100644, namesize=None, filesize=None, magic=b"070701"):
    name_bytes = name.encode() + b"\0"
    header = magic + b"".join(b"%08X" % v for v in (1, mode, 0, 0, 1, 1_600_000_000,
                                                     len(data) if filesize is None else filesize, 0, 0, 0, 0,
                                                     len(name_bytes) if namesize is None else namesize, 0))
    entry = header + name_bytes
    entry += b"\0" * (-len(entry) % 4) + data
    return entry + b"\0" * (-len(entry) % 4)


def good_archive():
    return newc_entry("index.html", b"<p>mine</p>\n") + newc_entry("a.txt", b"a\n") + newc_entry("TRAILER!!!")


def tar_of(files):
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as t:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return out.getvalue()


def test_pack_site_follows_links_inside_the_site_only(tmp_path):
    """scripts/pack-site packs a link to a file inside the site as that file,
    one to a directory inside it as a link with a relative target (in a
    second archive after the first), and leaves out, saying so, one that
    leaves the site or dangles. No QEMU."""
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_bytes(b"hello\n")
    (tmp_path / "outside.txt").write_bytes(b"secret\n")
    links = {"latest.txt": "a.txt", "sub/up.txt": "../a.txt", "escape.txt": "../outside.txt",
             "passwd": "/etc/passwd", "dangling": "nothing", "subdir": "sub", "sub/abs": str(src / "sub")}
    for name, target in links.items():
        (src / name).symlink_to(target)
    archive = tmp_path / "site.cpio"
    r = subprocess.run(["bash", str(site_gen.REPO / "scripts" / "pack-site"), str(src), str(archive)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    listing = subprocess.run(["cpio", "-itv", "--quiet"], input=archive.read_bytes(), capture_output=True,
                             timeout=60).stdout.decode()
    entries = {line.split()[-1]: line[0] for line in listing.splitlines()}
    assert entries == {".": "d", "sub": "d", "a.txt": "-", "latest.txt": "-", "sub/up.txt": "-"}, listing
    for name in ("latest.txt", "sub/up.txt"):
        data = subprocess.run(["cpio", "-i", "--quiet", "--to-stdout", name], input=archive.read_bytes(),
                              capture_output=True, timeout=60).stdout
        assert data == b"hello\n", (name, data)
    for name, why in (("escape.txt", "outside"), ("passwd", "outside"), ("dangling", "a dangling link")):
        assert re.search(rf"^pack-site: {name}\b.*{why}.*, left out$", r.stderr, re.MULTILINE), r.stderr
    assert "subdir" not in r.stderr, r.stderr
    # The links to directories: a second archive after the first one's trailer.
    first_end = archive.read_bytes().index(b"TRAILER!!!")
    second = archive.read_bytes()[first_end:]
    second = second[second.index(b"070701"):]
    links_listing = subprocess.run(["cpio", "-itv", "--quiet"], input=second, capture_output=True,
                                   timeout=60).stdout.decode()
    packed = {line.split()[-3]: line.split()[-1] for line in links_listing.splitlines()}
    assert packed == {"subdir": "sub", "sub/abs": "."}, links_listing
    assert r.stdout.strip().endswith(": 3 files, 2 links to directories"), r.stdout


FIRST = len(newc_entry("index.html", b"<p>mine</p>\n"))  # offset of the second entry's header
MALFORMED = {
    # name: (archive bytes, console text, offset named)
    "bad-magic": (newc_entry("index.html", b"x", magic=b"070717") + newc_entry("TRAILER!!!"),
                  "bad magic", 0),
    "odc": (newc_entry("index.html", b"x", magic=b"070707") + newc_entry("TRAILER!!!"),
            "bad magic (not a newc cpio header): it is an odc cpio archive", 0),
    "truncated-entry": (good_archive()[:FIRST + 60], "truncated header", FIRST),
    "name-without-nul": (newc_entry("index.html", b"<p>mine</p>\n") +
                         newc_entry("a.txt", b"a\n", namesize=5) + newc_entry("TRAILER!!!"),
                         "name without NUL", FIRST + 110 + 4),
    "size-past-the-end": (newc_entry("index.html", b"<p>mine</p>\n") +
                          newc_entry("a.txt", b"a\n", filesize=1 << 20) + newc_entry("TRAILER!!!"),
                          "size past the end", FIRST),
    # What people give instead of newc (Linux's initramfs is usually compressed): named.
    "gzip": (gzip.compress(good_archive()), "it is gzip-compressed data", 0),
    "xz": (lzma.compress(good_archive()), "it is xz-compressed data", 0),
    "tar": (tar_of({"index.html": b"<p>mine</p>\n"}), "bad magic (not a newc cpio header): it is a tar archive", 0),
}
NAMED = ("odc", "gzip", "xz", "tar")


@needs_pvh
@pytest.mark.parametrize("name", MALFORMED)
def test_malformed_archive_is_reported_and_refused(tmp_path, name):
    """microvm, no NIC: the console names the problem and its offset; the kernel finishes init."""
    data, text, offset = MALFORMED[name]
    archive = tmp_path / f"{name}.cpio"
    archive.write_bytes(data)
    with Guest(tmp_path, machine="microvm", boot="pvh", cmdline="ip=10.0.2.15/24", nic=(), memory=32,
               initrd=archive) as g:
        g.wait_for(r"init: done in", timeout=60)
        m = re.search(r"site: archive malformed at offset (\d+) \(0x[0-9a-f]+\): ([^;]+); serving the built-in pages",
                      g.serial())
        assert m, g.report("no 'site: archive malformed at offset' line")
        assert text in m.group(2) and int(m.group(1)) == offset, g.report(f"expected '{text}' at offset {offset}")
        assert "given back to the page allocator" in g.serial(), g.report("the archive's memory was not given back")
        assert "PANIC" not in g.serial(), g.report("PANIC")
        hint = "site: files are served in place: give the site as an uncompressed newc cpio archive"
        assert (hint in g.serial()) == (name in NAMED), g.report("the hint line" + (" missing" if name in NAMED else ""))


@needs_pvh
def test_archive_too_large_for_memory_is_refused(tmp_path):
    """A 44 MiB archive in a 48 MiB microvm: refused with a clear line, memory given back, init completes."""
    archive = tmp_path / "huge.cpio"
    size = 44 << 20
    header = newc_entry("huge.bin", b"", filesize=size)  # header and name; the data: zeros, sparse
    with open(archive, "wb") as f:
        f.write(header)
        f.seek(len(header) + size)
        f.write(newc_entry("TRAILER!!!"))
    with Guest(tmp_path, machine="microvm", boot="pvh", cmdline="ip=10.0.2.15/24", nic=(), memory=48,
               initrd=archive) as g:
        g.wait_for(r"init: done in", timeout=60)
        log = g.serial()
        assert re.search(r"site: the 45056 KiB archive does not fit: with it \d+ KiB stay free, the kernel needs "
                         r"4096 KiB; refused, serving the built-in pages", log), g.report("no refusal line")
        assert "given back to the page allocator" in log, g.report("the archive's memory was not given back")
        assert "PANIC" not in log, g.report("PANIC")


@needs_pvh
def test_refused_archive_serves_built_in_pages(tmp_path):
    """With the archive refused the built-in pages answer, and /stats counts the refusal (user network: no root)."""
    archive = tmp_path / "bad.cpio"
    archive.write_bytes(b"PK\3\4 this is a zip, not a cpio archive" * 10)
    port = free_port()
    nic = ("-netdev", f"user,id=n0,hostfwd=tcp:127.0.0.1:{port}-:80", "-device", "virtio-net-pci,netdev=n0,romfile=")
    with Guest(tmp_path, machine="q35", boot="pvh", cmdline="ip=10.0.2.15/24 gw=10.0.2.2", nic=nic, memory=64,
               initrd=archive) as g:
        g.wait_for(r"^READY ", timeout=60)
        assert "site: archive malformed at offset 0 (0x0): bad magic" in g.serial(), g.report("no refusal line")
        r = curl_i(g, None, f"http://127.0.0.1:{port}/")
        assert r.status == 200 and b"unikernel-net" in r.body, g.report(f"built-in / not served: {r}")
        r = curl_i(g, None, f"http://127.0.0.1:{port}/stats")
        assert re.search(rb"^site_archives_refused_total 1$", r.body, re.M), g.report("refusal not in /stats")
        assert re.search(rb"^site_served 0$", r.body, re.M), g.report("site_served is not 0")


@needs_pvh
def test_links_packed_by_cpio_are_followed(tmp_path):
    """The README's by-hand archive (`find . | cpio -o -H newc`, GNU cpio)
    keeps symbolic links: a link to a file of the site serves that file, one
    to a directory serves the directory's files below it (as nginx follows
    it), one that dangles or leaves the site is left out with a console line
    (user network: no root)."""
    src = tmp_path / "src"
    (src / "v2" / "docs").mkdir(parents=True)
    (src / "v2" / "app.js").write_bytes(b"console.log(2)\n")
    (src / "index.html").write_bytes(b"<p>home</p>\n")
    (tmp_path / "outside.txt").write_bytes(b"secret\n")
    links = {"app.js": "v2/app.js", "v2/docs/home.html": "../../index.html", "latest": "v2/app.js",
             "dangling.txt": "nothing.txt", "escape.txt": "../outside.txt",
             "abs.txt": str(tmp_path / "outside.txt"), "dir": "v2"}
    for name, target in links.items():
        (src / name).symlink_to(target)
    archive = tmp_path / "site.cpio"
    with open(archive, "wb") as out:
        names = subprocess.run(["find", "."], cwd=src, check=True, capture_output=True).stdout
        subprocess.run(["cpio", "-o", "-H", "newc", "--quiet"], cwd=src, input=names, stdout=out, check=True)
    port = free_port()
    nic = ("-netdev", f"user,id=n0,hostfwd=tcp:127.0.0.1:{port}-:80", "-device", "virtio-net-pci,netdev=n0,romfile=")
    with Guest(tmp_path, machine="q35", boot="pvh", cmdline="ip=10.0.2.15/24 gw=10.0.2.2", nic=nic, memory=64,
               initrd=archive) as g:
        g.wait_for(r"^READY ", timeout=60)
        for path, body in (("/app.js", b"console.log(2)\n"), ("/latest", b"console.log(2)\n"),
                           ("/v2/docs/home.html", b"<p>home</p>\n"), ("/dir/app.js", b"console.log(2)\n"),
                           ("/dir/docs/home.html", b"<p>home</p>\n")):
            r = curl_i(g, None, f"http://127.0.0.1:{port}{path}")
            assert r.status == 200 and r.body == body, g.report(f"{path}: {r}")
        r = curl_i(g, None, f"http://127.0.0.1:{port}/app.js")
        assert (r.header("content-type") or "").startswith("text/javascript"), g.report(f"/app.js: {r.headers}")
        r = curl_i(g, None, f"http://127.0.0.1:{port}/dir")
        assert r.status == 301 and r.header("location") == "/dir/", g.report(f"/dir: {r}")
        for path in ("/dangling.txt", "/escape.txt", "/abs.txt", "/dir/nothing.js"):
            r = curl_i(g, None, f"http://127.0.0.1:{port}{path}")
            assert r.status == 404, g.report(f"{path}: {r.status}, not 404")
        assert re.search(r'site: link "[a-z.]+" not served: a', g.serial()), g.report("no line for a link left out")
        assert re.search(r"site: 5 files .* 3 entries not served; 1 links to directories", g.serial()), \
            g.report("files, entries or links miscounted")
        assert "PANIC" not in g.serial(), g.report("PANIC")


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- lwIP's own large segments (net/tcp_large_send.h) ---------------------------------------

def download_digest(net, url, *curl_args):
    r = run(net, "sh", "-c", f"curl -sS --noproxy '*' --max-time 300 {' '.join(curl_args)} '{url}' | sha256sum",
            timeout=320)
    return r.stdout.decode().split(" ")[0], r.stderr.decode(errors="replace")


def tx_counter(s, name):
    return sum(v for (n, _), v in s.items() if n == name)


@needs_root
@needs_pvh
def test_large_file_under_loss_and_close_is_byte_exact(tmp_path, site):
    """1 % of the frames lost both ways (a lost large segment is sent again
    an MSS at a time), over keep-alive and over HTTP/1.0, where the FIN rides
    on the last large segment: byte-exact. The tail loss probes are shown."""
    from test_offload import add_loss, lost_frames
    files = site[1]
    want = hashlib.sha256(files[site_gen.LARGE_NAME]).hexdigest()
    url = URL + site_gen.url_path(site_gen.LARGE_NAME)
    with PrivateNetwork() as net:
        g = boot_with_site(tmp_path, net, site[2])
        try:
            before = stats(g, net)
            how = add_loss(net, 1, both_ways=True)
            for args in ((), ("-0",)):
                digest, err = download_digest(net, url, *args)
                expect(g, digest == want, f"16 MiB download (curl {' '.join(args)}) differs: {err}")
            after = stats(g, net)
            large = tx_counter(after, "netif_tx_gso_frames_total") - tx_counter(before, "netif_tx_gso_frames_total")
            probes = tx_counter(after, "tcp_loss_probes_total") - tx_counter(before, "tcp_loss_probes_total")
            print(f"{how}: {lost_frames(net)} frames lost; 2 x 16 MiB byte-exact in {large} large segments, "
                  f"{probes} tail loss probes")
            expect(g, large > 0, "no large segments went out")
            check_healthy(g, "after downloads under loss")
        finally:
            g.kill()


def one_file_site(tmp_path, size, seed):
    """A site of one file, /f.bin, of `size` random bytes: the bytes, and the archive's path."""
    body = random.Random(seed).randbytes(size)
    archive = tmp_path / "site.cpio"
    archive.write_bytes(newc_entry("f.bin", body) + newc_entry("TRAILER!!!"))
    return body, archive


# Every frame either way dropped at the tap: the link has gone quiet.
LINK_DOWN = """
table netdev outage {
    chain to_guest { type filter hook egress device "tap0" priority 0; counter drop; }
    chain from_guest { type filter hook ingress device "tap0" priority 0; counter drop; }
}
"""


@needs_root
@needs_pvh
def test_a_download_survives_a_link_outage(tmp_path):
    """The link goes quiet for 22 s in the middle of a download (a Wi-Fi
    handover, a congested queue): the guest's retransmission or persist
    timer finds the client again and the download completes byte-exact.
    Before, the HTTP idle timeout (15 s) and lwIP's keepalive (about 20 s
    after the client's last segment) each reset it. Now keepalive judges only
    connections with nothing in flight (scripts/lwip-tcp-keepalive-idle.patch)
    and a client owing acknowledgements has a minute, nginx's send_timeout."""
    body, archive = one_file_site(tmp_path, 1_000_000, seed=6)
    with PrivateNetwork() as net:
        g = start_guest(tmp_path, net, machine="microvm", boot="pvh", memory=32, initrd=archive, snaplen=160)
        try:
            wait_ready(g)
            with inside(net):
                c = socket.socket()
            c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)  # the guest's data in flight, not all here
            c.settimeout(60)
            c.connect((GUEST_ADDR, 80))
            c.sendall(b"GET /f.bin HTTP/1.1\r\nHost: guest\r\nConnection: close\r\n\r\n")
            got = b""
            while len(got) < 200_000:
                chunk = c.recv(65536)
                expect(g, chunk, f"the response ended after {len(got)} bytes")
                got += chunk
            subprocess.run([*net.prefix, "nft", "-f", "-"], input=LINK_DOWN, text=True, check=True,
                           capture_output=True, timeout=30)
            time.sleep(22)
            net.run("nft", "delete", "table", "netdev", "outage", check=True)
            try:
                while chunk := c.recv(65536):
                    got += chunk
                why = "the connection closed"
            except OSError as e:
                why = f"the connection failed: {e}"
            c.close()
            received = got.partition(b"\r\n\r\n")[2]
            expect(g, received == body, f"{why} with {len(received)} of {len(body)} body bytes "
                                        f"({'byte-exact' if body.startswith(received) else 'differing'})")
            s = stats(g, net)
            expect(g, tx_counter(s, "http_idle_timeouts_total") == 0, "the connection timed out as idle")
            check_healthy(g, "after the outage")
        finally:
            g.kill()


# Outside `make test` (run by `make soak`): a load test, and one that failed
# about one run in four in CI on a second way a download ended under this
# load (a connection whose ACKs stopped for 15 s with data in flight, reset
# by the HTTP idle timeout). Such a connection now has a minute
# (test_a_download_survives_a_link_outage), and 23 runs here since all
# passed, but why its ACKs stopped was not found.
needs_load = pytest.mark.skipif(os.environ.get("LOAD_TESTS") != "1",
                                reason="a load test (150 clients, 5 % loss): `make soak` runs it (LOAD_TESTS=1)")


@needs_root
@needs_pvh
@needs_load
def test_many_downloads_under_loss_in_little_memory(tmp_path):
    """150 clients download a 3 MB file at once, 5 % of the frames lost both
    ways, from a microvm with 12 MiB: lwIP's segments and heap run out, and a
    large segment that no longer fits a window shrunk by a loss cannot be
    split. Each download completes byte-exact: such a segment goes whole when
    nothing is in flight (scripts/lwip-large-segments.patch), and the HTTP
    idle timeout spares a response waiting for memory others hold. Before,
    connections stalled until that timeout reset about 80 of them."""
    from test_offload import add_loss
    body, archive = one_file_site(tmp_path, 3_000_000, seed=5)
    want = hashlib.md5(body).hexdigest()
    with PrivateNetwork() as net:
        g = start_guest(tmp_path, net, machine="microvm", boot="pvh", memory=12, initrd=archive)
        try:
            wait_ready(g)
            expect(g, re.search(SITE_LINE, g.serial()), "the site was not taken")
            add_loss(net, 5, both_ways=True)
            fetch = f"curl -sS --noproxy '*' --max-time 240 {URL}/f.bin | md5sum"
            r = run(net, "sh", "-c", f"seq 150 | xargs -P 150 -I{{}} sh -c \"{fetch}\" | sort | uniq -c", timeout=300)
            counts = {line.split()[1]: int(line.split()[0]) for line in r.stdout.decode().splitlines() if line.strip()}
            net.run("nft", "flush", "ruleset")
            s = stats(g, net)
            told = {k[0]: v for k, v in s.items() if v and re.match(r"(http_|tcp_|lwip_(memory|pool)_errors)", k[0])}
            expect(g, counts.get(want) == 150, f"{counts.get(want, 0)} of 150 downloads byte-exact: {counts} "
                                               f"{r.stderr.decode(errors='replace')[-800:]}; counters: {told}")
            expect(g, tx_counter(s, "http_idle_timeouts_total") == 0, "connections timed out as idle")
            expect(g, tx_counter(s, "http_aborted_total") == 0, "connections aborted")
            check_healthy(g, "after the downloads")
        finally:
            g.kill()


@needs_root
@needs_pvh
@pytest.mark.parametrize("advmss", [600, 500])
def test_large_segments_keep_a_small_mss(tmp_path, site, advmss):
    """A client announcing a small MSS (a tunnel, a VPN) gets segments of that
    size: the device cuts lwIP's large segments at the connection's MSS (at
    or below 536 lwIP's own segments go out, joined into runs)."""
    files = site[1]
    want = hashlib.sha256(files[site_gen.LARGE_NAME]).hexdigest()
    with PrivateNetwork() as net:
        g = boot_with_site(tmp_path, net, site[2])
        try:
            net.run("ip", "route", "change", "10.0.2.0/24", "dev", "tap0", "advmss", str(advmss), check=True)
            before = stats(g, net)
            digest, err = download_digest(net, URL + site_gen.url_path(site_gen.LARGE_NAME))
            expect(g, digest == want, f"16 MiB download with MSS {advmss} differs: {err}")
            after = stats(g, net)
            cut = tx_counter(after, "netif_tx_gso_segments_total") - tx_counter(before, "netif_tx_gso_segments_total")
            expect(g, cut >= site_gen.LARGE_SIZE // advmss,
                   f"the device was told to cut {cut} segments, fewer than {site_gen.LARGE_SIZE // advmss} of {advmss} bytes")
            check_healthy(g, f"after a download at MSS {advmss}")
        finally:
            g.kill()


PTB_SCRIPT = """
import sys
from scapy.all import Ether, IPv6, ICMPv6PacketTooBig, TCP, sendp, get_if_hwaddr
host_ll, guest_ll = sys.argv[1], sys.argv[2]
inner = IPv6(src=guest_ll, dst=host_ll) / TCP(sport=80, dport=40000, flags="A")
sendp(Ether(dst="52:54:00:12:34:56", src=get_if_hwaddr("tap0")) / IPv6(src=host_ll, dst=guest_ll) /
      ICMPv6PacketTooBig(mtu=1280) / inner, iface="tap0", verbose=0)
"""


def guest_tcp6_after(pcap, mark, next_header=6):
    """(gso_size or 0, frame length) of each IPv6 TCP frame (or, next_header
    44, fragment) the guest sent that QEMU's capture records from byte `mark`
    of the file on, read as it is written: each frame behind the virtio-net
    header the tap carries."""
    data, off, out = pcap.read_bytes(), 24, []
    mac = bytes.fromhex(MAC.replace(":", ""))
    while off + 16 <= len(data):
        _, _, incl, orig = struct.unpack("<IIII", data[off:off + 16])
        record = data[off + 16:off + 16 + incl]
        start, off = off, off + 16 + incl
        for vnet in (12, 10):
            frame = record[vnet:]
            if frame[6:12] == mac and frame[12:14] == b"\x86\xdd":
                break
        else:
            continue
        if start >= mark and len(frame) > 20 and frame[20] == next_header:
            gso_type, gso_size = record[1], struct.unpack("<H", record[4:6])[0]
            out.append((gso_size if gso_type else 0, orig - vnet))  # the capture keeps 160 bytes of each
    return out


@needs_root
@needs_pvh
@pytest.mark.parametrize("tso6", ["tso6", "no-tso6"])
def test_large_segments_respect_an_ipv6_path_mtu(tmp_path, site, tso6):
    """An ICMPv6 Packet Too Big (MTU 1280) for the client in the middle of a
    download (8 s long at 2 MB/s, the Packet Too Big after 1 s and scapy's
    start; the namespace's TCP receive buffers are held to 256 KiB, or the
    host takes the whole file into them in under a second, before the Packet
    Too Big, as in one full run). lwIP keeps the 1440-byte MSS it agreed.
    With TSO6 the device cuts at 1220 bytes from then on and nothing larger
    leaves whole. Without it (host_tso6=off, the checksum still the
    device's) lwIP fragments its 1440-byte segments, whose checksum must then
    be complete before the fragments leave: the device cannot compute a
    fragment's. Either way the download stays byte-exact."""
    files = site[1]
    want = hashlib.sha256(files[site_gen.LARGE_NAME]).hexdigest()
    with PrivateNetwork() as net:
        g = boot_with_site(tmp_path, net, site[2], props="" if tso6 == "tso6" else ",host_tso6=off")
        try:
            net.run("sysctl", "-q", "-w", "net.ipv4.tcp_rmem=4096 131072 262144", check=True)
            wait_ipv6(g, net)
            host_ll = re.search(r"inet6 (fe80::[0-9a-f:]+)/64", net.run("ip", "-6", "addr", "show", "dev", TAP).stdout)
            expect(g, host_ll, "the tap has no link-local address")
            url = f"http://[{GUEST_LL}%25{TAP}]" + site_gen.url_path(site_gen.LARGE_NAME)
            curl = subprocess.Popen([*net.prefix, "sh", "-c",
                                     f"curl -sS -g --max-time 60 --limit-rate 2M '{url}' | sha256sum"],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            time.sleep(1)
            r = run(net, "/usr/bin/python3", "-c", PTB_SCRIPT, host_ll.group(1), GUEST_LL)
            expect(g, r.returncode == 0, f"sending the Packet Too Big failed: {r.stderr.decode()}")
            time.sleep(0.2)  # the guest has taken it
            mark = g.pcap_path.stat().st_size
            out, err = curl.communicate(timeout=90)
            expect(g, out.decode().split(" ")[0] == want, f"16 MiB over IPv6 with a Packet Too Big differs: {err}")
            frames = guest_tcp6_after(g.pcap_path, mark)
            too_big = [f for f in frames if f[0] > 1220 or (f[0] == 0 and f[1] > 14 + 1280)]
            cut = sum(1 for f in frames if f[0])
            print(f"IPv6 download with a Packet Too Big ({tso6}): byte-exact; after it {len(frames)} TCP frames, "
                  f"{cut} cut by the device, {len(too_big)} too big for the path")
            if tso6 == "tso6":
                expect(g, cut >= 5, f"only {cut} large segments after the Packet Too Big: the download ended too soon")
            else:
                fragments = len(guest_tcp6_after(g.pcap_path, mark, next_header=44))
                print(f"  and {fragments} IPv6 fragments")
                expect(g, cut == 0, f"{cut} frames cut by a device without TSO6")
                expect(g, fragments >= 10, f"only {fragments} fragments after the Packet Too Big")
            expect(g, not too_big, f"{len(too_big)} frames too big for the 1280-byte path MTU, e.g. "
                                   f"(gso_size, length) {too_big[:3]}")
            check_healthy(g, "after an IPv6 download with a path MTU of 1280")
        finally:
            g.kill()
