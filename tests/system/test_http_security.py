"""HTTP security basics (issue 9, item 5): the server serves only its three
built-in pages, whatever the encoding of the target; malformed or oversized
requests get the documented 400, 414 or 431 (docs/services.md); nothing from the
request is used as a format or reflected into the response. With a site
archive (issue 19): no target, however encoded, reaches past the site's root
or into a name the archive does not hold; a NUL or a bad escape is refused."""

import pytest

import site_gen
from netns import PrivateNetwork, have_root
from test_services import HELLO, attributed, check_framing, request, shared_guest, start_guest, wait_ready

needs_root = pytest.mark.skipif(not have_root(), reason="needs root for network namespaces and tap devices")
NOT_FOUND = b"404 Not Found\n"
BAD = b"400 Bad Request\n"

# Targets that look like (or decode to) a page the server owns: all 404.
NOT_OWNED = [
    "/../", "/..", "/../hello", "/%2e%2e/", "/%2e%2e/hello", "/%2E%2E%2Fhello", "//hello", "/./hello",
    "/hello%00", "/hello%00.html", "/HELLO", "/Hello", "/hello/", "/hello#x", "/hello;x",
    "/stats/../hello", "/hello%3fx", "/%c0%ae%c0%ae/hello", "/%c0%afhello", "/%68%65%6c%6c%6f", "/\\hello",
    "/..\\..\\hello", "\\hello", "*", "hello", "/index.html/",
    "/%n%n%s%s", "/%s%s%s%s%s%s%s%s", "/%x%x%x%x", "/%99999999d", "/" + "a" * 254, "/" + "%2e" * 80,
    "/" + "a" * 1022,
    # The absolute-form is taken as its path (RFC 9112, 3.2.2), and that path goes by the same rules.
    "http://x/../hello", "http://x/%2e%2e/hello", "HTTP://x/HELLO", "http://x//hello", "http:/x/hello", "ftp://x/hello",
]

# Over-long targets: 414 and close (RFC 9112, 3).
TOO_LONG = {
    "target-1024-bytes": b"GET /" + b"a" * 1023 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    "path-of-4-KiB": b"GET /" + b"../" * 1400 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    "encoded-path-of-3-KiB": b"GET /" + b"%2e%2e/" * 450 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
}
TOO_LONG_BODY = b"414 URI Too Long\n"

# Malformed in the request line: 400 and close.
MALFORMED = {
    "nul-in-target": b"GET /hello\x00 HTTP/1.1\r\nHost: x\r\n\r\n",
    "crlf-injection-in-target": b"GET /hello\r\nX-Injected: 1 HTTP/1.1\r\nHost: x\r\n\r\n",
    "lf-in-target": b"GET /hel\nlo HTTP/1.1\r\nHost: x\r\n\r\n",
    "cr-in-target": b"GET /hel\rlo HTTP/1.1\r\nHost: x\r\n\r\n",
    "tab-in-target": b"GET /hel\tlo HTTP/1.1\r\nHost: x\r\n\r\n",
    "raw-utf8-in-target": "GET /h\u00e9llo HTTP/1.1\r\nHost: x\r\n\r\n".encode(),
    "raw-overlong-utf8": b"GET /\xc0\xae\xc0\xae/hello HTTP/1.1\r\nHost: x\r\n\r\n",
    "del-in-target": b"GET /hello\x7f HTTP/1.1\r\nHost: x\r\n\r\n",
    "cr-in-header-value": b"GET /hello HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n",
    "nul-in-header-value": b"GET /hello HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n",
    "bad-content-length": b"GET /hello HTTP/1.1\r\nHost: x\r\nContent-Length: %n\r\n\r\n",
}


@pytest.fixture(scope="module")
def _guest(tmp_path_factory):
    with shared_guest(tmp_path_factory, "httpsec") as gn:
        yield gn


@pytest.fixture
def gn(request, _guest):
    with attributed(request, _guest):
        yield _guest


def reflected(r, needle):
    """True if `needle` (from the request) shows up anywhere in the response."""
    text = r.status_line.encode() + b"".join(f"{n}: {v}".encode() for n, v in r.headers) + r.body
    return needle.encode() in text


@needs_root
class TestHttpSecurity:
    def test_only_built_in_pages(self, gn):
        g, net = gn
        for target in NOT_OWNED:
            for method in ("GET", "HEAD"):
                r, c = request(g, net, f"{method} {target} HTTP/1.1\r\nHost: x\r\n\r\n".encode(),
                               head_request=method == "HEAD")
                c.close()
                assert r.status == 404, f"{method} {target!r}: {r}"
                check_framing(g, r, 404, "keep-alive")
                assert r.body == (NOT_FOUND if method == "GET" else b""), f"{method} {target!r}: body {r.body!r}"
                assert r.header("content-length") == str(len(NOT_FOUND)), f"{method} {target!r}: {r}"
                if len(target) > 3:
                    assert not reflected(r, target), f"{target!r} reflected in the response: {r}"
        print(f"{len(NOT_OWNED)} targets x GET/HEAD: all 404 with the fixed body")

    @pytest.mark.parametrize("name", MALFORMED)
    def test_malformed_requests(self, gn, name):
        g, net = gn
        r, c = request(g, net, MALFORMED[name])
        check_framing(g, r, 400, "close")
        assert r.body == BAD, f"{name}: {r}"
        assert not reflected(r, "X-Injected") and not reflected(r, "hello"), f"{name}: request text reflected: {r}"
        assert c.closed_by_server(), f"{name}: the connection stayed open after 400"
        c.close()

    @pytest.mark.parametrize("name", TOO_LONG)
    def test_over_long_targets(self, gn, name):
        g, net = gn
        r, c = request(g, net, TOO_LONG[name])
        check_framing(g, r, 414, "close")
        assert r.body == TOO_LONG_BODY and not reflected(r, "../"), f"{name}: {r}"
        assert c.closed_by_server(), f"{name}: the connection stayed open after 414"
        c.close()

    def test_format_strings_in_headers(self, gn):
        """Header values that would crash or leak through a printf are ignored."""
        g, net = gn
        payload = "%n%n%n%s%s%s%x%x%p%p%99999999d"
        raw = (f"GET /hello HTTP/1.1\r\nHost: {payload}\r\nUser-Agent: {payload}\r\nX-{payload[1:]}: 1\r\n"
               f"Accept: {payload * 20}\r\nConnection: {payload}\r\n\r\n").encode()
        r, c = request(g, net, raw)
        c.close()
        # "X-%n%n...": '%' is a token character, so the name is legal.
        check_framing(g, r, 200, "keep-alive")
        assert r.body == HELLO and not reflected(r, "%n"), f"{r}"

    def test_every_owned_page_still_served(self, gn):
        g, net = gn
        for path, marker in (("/", b"<html"), ("/index.html", b"<html"), ("/hello", HELLO), ("/stats", b"# HELP")):
            r, c = request(g, net, f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            c.close()
            check_framing(g, r, 200, "keep-alive")
            assert marker in r.body, f"{path}: {r}"


# ---- with a site archive ---------------------------------------------------------

# The site's files: one beside ("docs/") the directory the targets start in
# ("docs/api/"), reachable through dot segments as through its own path.
SITE_FILES = {
    "index.html": b"<p>site root</p>\n",
    "docs/secret.txt": b"beside docs/api\n",
    "docs/api/index.html": b"<p>api</p>\n",
    "docs/api/v1.json": b"{}\n",
    "a b/\u00e9.txt": b"utf8\n",
}

# Dot segments, encoded or not, that stay inside the site: resolved as RFC 3986
# 5.2.4 and nginx do, to docs/secret.txt.
WITHIN = [
    "/docs/api/../secret.txt", "/docs/api/%2e%2e/secret.txt", "/docs/api/%2E%2E/secret.txt",
    "/docs/api/.%2e/secret.txt", "/docs/api/%2e./secret.txt", "/docs/api/..%2fsecret.txt",
    "/docs/api/%2e%2e%2fsecret.txt", "/docs/api/v1.json/../../secret.txt", "/docs/./api/./../secret.txt",
]

# Targets that would leave the root if dot segments went above it, segments
# that only look like dot segments (names of no file here), a NUL, decoded or
# not, and bad escapes: all refused or not found (404), whatever the site holds.
ESCAPES = [
    "/../index.html", "/%2e%2e/index.html", "/%2e%2e%2f%2e%2e%2findex.html", "/..", "/%2e%2e",
    "/docs/../../index.html", "/docs/api/../../../index.html", "/docs/%2e%2e/%2E%2E/index.html",
    "/docs/api/..%2f..%2f..%2findex.html", "/./../index.html", "//../index.html", "/docs/api/v1.json/../../../..",
    "/docs/api/..%5csecret.txt", "/docs/api/..\\secret.txt", "/docs/api/%252e%252e/secret.txt",
    "/docs/api/%c0%ae%c0%ae/secret.txt", "/docs/api/..;/secret.txt",
    "/index.html%00", "/index.html%00.txt", "/%00index.html", "/docs%00/secret.txt",
    "/index.html%", "/index.html%2", "/index.html%zz", "/%g0",
]


@pytest.fixture(scope="module")
def _site_guest(tmp_path_factory):
    if not have_root():
        pytest.skip("needs root for network namespaces and tap devices")
    base = tmp_path_factory.mktemp("httpsec-site")
    for rel, data in SITE_FILES.items():
        (base / "src" / rel).parent.mkdir(parents=True, exist_ok=True)
        (base / "src" / rel).write_bytes(data)
    archive = site_gen.pack(base / "src", base / "site.cpio")
    with PrivateNetwork() as net:
        g = start_guest(base, net, boot="pvh", props=",romfile=", memory=64, initrd=archive)
        try:
            wait_ready(g)
            yield g, net
        finally:
            g.kill()


@pytest.fixture
def sn(request, _site_guest):
    with attributed(request, _site_guest):
        yield _site_guest


@needs_root
class TestHttpSecurityWithSite:
    def test_site_is_served(self, sn):
        g, net = sn
        for rel, data in SITE_FILES.items():
            r, c = request(g, net, f"GET {site_gen.url_path(rel)} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            c.close()
            check_framing(g, r, 200, "keep-alive")
            assert r.body == data, f"{rel}: {r}"

    def test_no_target_escapes_the_root(self, sn):
        g, net = sn
        for target in ESCAPES:
            for method in ("GET", "HEAD"):
                r, c = request(g, net, f"{method} {target} HTTP/1.1\r\nHost: x\r\n\r\n".encode(),
                               head_request=method == "HEAD")
                c.close()
                assert r.status == 404, f"{method} {target!r}: {r}"
                check_framing(g, r, 404, "keep-alive")
                assert r.body == (NOT_FOUND if method == "GET" else b""), f"{method} {target!r}: {r}"
                assert not reflected(r, "secret"), f"{target!r} reflected: {r}"
        print(f"{len(ESCAPES)} escaping, NUL or badly encoded targets x GET/HEAD: all 404")

    def test_dot_segments_inside_the_root_resolve(self, sn):
        g, net = sn
        for target in WITHIN:
            r, c = request(g, net, f"GET {target} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            c.close()
            check_framing(g, r, 200, "keep-alive")
            assert r.body == SITE_FILES["docs/secret.txt"], f"{target!r}: {r}"

    @pytest.mark.parametrize("name", TOO_LONG)
    def test_over_long_targets(self, sn, name):
        g, net = sn
        r, c = request(g, net, TOO_LONG[name])
        check_framing(g, r, 414, "close")
        assert c.closed_by_server(), f"{name}: the connection stayed open after 414"
        c.close()

    def test_refusals_are_counted(self, sn):
        g, net = sn
        r, c = request(g, net, b"GET /%2e%2e/index.html HTTP/1.1\r\nHost: x\r\n\r\n")
        c.close()
        assert r.status == 404, f"{r}"
        r, c = request(g, net, b"GET /stats HTTP/1.1\r\nHost: x\r\n\r\n")
        c.close()
        line = next(ln for ln in r.body.decode().splitlines() if ln.startswith("http_bad_targets_total "))
        assert int(line.split()[1]) > 0, f"/stats: {line}"
