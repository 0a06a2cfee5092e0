"""HTTP security basics (issue 9, item 5): the server serves only its three
built-in pages, whatever the encoding of the target; malformed or oversized
requests get the documented 400 (docs/services.md); nothing from the request
is used as a format or reflected into the response."""

import pytest

from netns import have_root
from test_services import HELLO, attributed, check_framing, request, shared_guest

needs_root = pytest.mark.skipif(not have_root(), reason="needs root for network namespaces and tap devices")
NOT_FOUND = b"404 Not Found\n"
BAD = b"400 Bad Request\n"

# Targets that look like (or decode to) a page the server owns: all 404.
NOT_OWNED = [
    "/../", "/..", "/../hello", "/%2e%2e/", "/%2e%2e/hello", "/%2E%2E%2Fhello", "//hello", "/./hello",
    "/hello%00", "/hello%00.html", "/HELLO", "/Hello", "/hello/", "/hello?x", "/hello#x", "/hello;x",
    "/stats?", "/stats/../hello", "/%c0%ae%c0%ae/hello", "/%c0%afhello", "/%68%65%6c%6c%6f", "/\\hello",
    "/..\\..\\hello", "\\hello", "http://x/hello", "http://10.0.2.15/stats", "*", "hello", "/index.html/",
    "/%n%n%s%s", "/%s%s%s%s%s%s%s%s", "/%x%x%x%x", "/%99999999d", "/" + "a" * 254, "/" + "%2e" * 80,
]

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
    "target-256-bytes": b"GET /" + b"a" * 255 + b" HTTP/1.1\r\n\r\n",
    "path-of-4-KiB": b"GET /" + b"../" * 1400 + b" HTTP/1.1\r\n\r\n",
    "cr-in-header-value": b"GET /hello HTTP/1.1\r\nX-A: a\rb\r\n\r\n",
    "nul-in-header-value": b"GET /hello HTTP/1.1\r\nX-A: a\x00b\r\n\r\n",
    "bad-content-length": b"GET /hello HTTP/1.1\r\nContent-Length: %n\r\n\r\n",
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
