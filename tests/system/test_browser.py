"""A real browser against the guest: Debian's Chromium, headless, opens a
page of the user's site the way a visitor's browser does (several
connections at once, keep-alive, its own headers and range requests): a
style sheet behind a query, a script, eight images, an audio file (its
metadata read by range), a frame, a fetch() with a 3 KiB query and a 2 MiB
download. The page checks what arrived and writes its verdict into the DOM,
which --dump-dom prints. Needs root (the namespace) and Debian's chromium
(`make test` installs it through scripts/setup --test)."""

import html
import json
import re
import shutil
import struct
import subprocess
import wave
import zlib

import pytest

import site_gen
from netns import GUEST_ADDR, PrivateNetwork, have_root
from qemu import PVH_KERNEL
from test_services import HttpClient, check_healthy, connect, fetch_stats, start_guest, wait_ready

pytestmark = [
    pytest.mark.skipif(not have_root(), reason="needs root for network namespaces and tap devices"),
    pytest.mark.skipif(shutil.which("chromium") is None,
                       reason="Debian's chromium is not installed (make test installs it: scripts/setup --test)"),
]

LARGE = 2 * 1024 * 1024
AUDIO_SECONDS = 30

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>browser check</title>
<link rel="stylesheet" href="/style.css?v=3"><script src="app.js"></script></head>
<body><h1 id="h">waiting</h1>
IMAGES
<audio id="au" src="media/sound.wav" preload="metadata"></audio>
<iframe id="fr" src="sub/"></iframe>
<pre id="verdict">none</pre>
<script>
window.addEventListener('load', async () => {
  const r = {};
  try {
    r.css = getComputedStyle(document.getElementById('h')).color;
    r.script = window.appLoaded === true;
    r.images = [...document.images].filter(i => i.complete && i.naturalWidth === 64).length;
    r.frame = document.getElementById('fr').contentDocument.body.textContent.trim();
    const q = await fetch('/hello?x=' + 'q'.repeat(3000));
    r.fetch = q.status + ' ' + (await q.text()).trim();
    const big = new Uint8Array(await (await fetch('large.bin')).arrayBuffer());
    let sum = 0;
    for (const b of big) sum = (sum * 31 + b) >>> 0;
    r.large = [big.length, sum];
    const a = document.getElementById('au');
    r.audio = a.readyState >= 1 ? a.duration : await new Promise(done => {
      a.onloadedmetadata = () => done(a.duration);
      a.onerror = () => done('error ' + (a.error && a.error.code));
    });
  } catch (e) {
    r.error = String(e);
  }
  document.getElementById('verdict').textContent = JSON.stringify(r);
});
</script>
</body></html>
"""


def png(seed):
    """A 64x64 RGB PNG of its own pattern."""
    raw = b"".join(b"\x00" + bytes((x * seed + y) % 256 for x in range(64)) * 3 for y in range(64))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 64, 64, 8, 2, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def checksum(data):
    total = 0
    for b in data:
        total = (total * 31 + b) & 0xFFFFFFFF
    return total


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("browser-site")
    images = "".join(f'<img src="img/{i}.png">' for i in range(8))
    (root / "index.html").write_text(PAGE.replace("IMAGES", images))
    (root / "style.css").write_text("h1 { color: rgb(255, 0, 0); }\n")
    (root / "app.js").write_text("window.appLoaded = true;\n")
    (root / "img").mkdir()
    for i in range(8):
        (root / "img" / f"{i}.png").write_bytes(png(i + 1))
    (root / "sub").mkdir()
    (root / "sub" / "index.html").write_text("<!doctype html><p>the frame</p>\n")
    (root / "media").mkdir()
    with wave.open(str(root / "media" / "sound.wav"), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(bytes(8000 * 2 * AUDIO_SECONDS))
    large = bytes(zlib.crc32(i.to_bytes(4, "little")) & 0xFF for i in range(LARGE))
    (root / "large.bin").write_bytes(large)
    return site_gen.pack(root, tmp_path_factory.mktemp("browser-archive") / "site.cpio"), checksum(large)


@pytest.mark.parametrize("machine", ["microvm", "q35"])
def test_chromium_loads_a_page_of_the_site(tmp_path, site, machine):
    if machine == "microvm" and not PVH_KERNEL.is_file():
        pytest.skip(f"{PVH_KERNEL} is not built; run 'make'")
    archive, large_sum = site
    with PrivateNetwork() as net:
        g = start_guest(tmp_path, net, machine=machine, boot="pvh" if machine == "microvm" else "efi", memory=64,
                        initrd=str(archive))
        try:
            wait_ready(g)
            # The namespace has no route past 10.0.2.0/24; its background services are off all the same.
            cmd = ["chromium", "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                   "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-pings",
                   f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=10000", "--dump-dom",
                   f"http://{GUEST_ADDR}/"]
            r = subprocess.run([*net.prefix, *cmd], capture_output=True, text=True, timeout=120)
            m = re.search(r'<pre id="verdict">(.*?)</pre>', r.stdout, re.S)
            if r.returncode != 0 or not m:
                g.fail(f"chromium exited {r.returncode} without the page's verdict: {r.stdout[-1500:]!r} "
                       f"{r.stderr[-1500:]!r}")
            verdict = m.group(1)
            print(f"{machine}: {verdict}")
            if verdict == "none":
                g.fail("the page's load handler never ran (a resource never finished loading)")
            v = json.loads(html.unescape(verdict))
            want = {"css": "rgb(255, 0, 0)", "script": True, "images": 8, "frame": "the frame", "fetch": "200 hello",
                    "large": [LARGE, large_sum], "audio": AUDIO_SECONDS}
            wrong = {k: (v.get(k), w) for k, w in want.items() if v.get(k) != w}
            if wrong or "error" in v:
                g.fail(f"what the browser got, against what the site holds: {wrong}; {v.get('error', '')}")
            c = HttpClient(connect(net, g=g), g)
            stats = fetch_stats(g, c)
            c.close()
            errors = stats[("http_responses_total", '{class="5xx"}')]
            if errors:
                g.fail(f"{errors} server errors while the browser loaded the page")
            check_healthy(g, "after the browser's visit")
        finally:
            g.kill()
