"""A generated site for the static-file tests (issue 19): nested directories,
200+ files, binary files, one large file, an index.html in every directory
linking to everything in it (so `wget -m` finds all), a precompressed .gz
variant, and names with spaces and UTF-8. Deterministic: the same seed gives
the same bytes and mtimes. pack() turns a tree into the archive the kernel
reads, with scripts/pack-site (newc cpio)."""

import gzip
import html
import os
import random
import subprocess
import urllib.parse
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

LARGE_NAME = "big/large file.bin"
LARGE_SIZE = 16 << 20
GZIP_NAME = "js/app.js"          # app.js.gz sits beside it
BASE_MTIME = 1_600_000_000       # Sun, 13 Sep 2020 12:26:40 GMT

DIRS = ["docs", "docs/api", "docs/api/v1", "img", "data bin", "js", "big", "ünïcödé", "ünïcödé/日本",
        "deep/a/b/c/d/e"]
NAMED = {  # names that exercise the decoding: spaces, UTF-8, characters a URL must escape
    "hello world.txt": b"hello, world\n",
    "café.html": "<p>café</p>\n".encode(),
    "ünïcödé/日本/語.txt": "日本語\n".encode(),
    "docs/a+b=c&d.txt": b"sub-delims\n",
    "docs/100%.txt": b"percent\n",
    "data bin/semi;colon,comma.txt": b"punctuation\n",
}


def generate(root, seed=19, text_files=200, binary_files=20, large_size=LARGE_SIZE):
    """Writes the site under root; returns {relative path: bytes} of every file."""
    rnd = random.Random(seed)
    root = Path(root)
    files = dict(NAMED)
    for i in range(text_files):
        d = DIRS[i % len(DIRS)]
        words = " ".join(rnd.choice(("alpha", "beta", "gamma", "delta", "unikernel", "lwip")) for _ in range(
            rnd.randrange(1, 400)))
        files[f"{d}/page-{i:03d}.{('txt', 'html', 'css', 'json')[i % 4]}"] = f"{i}: {words}\n".encode()
    for i in range(binary_files):
        files[f"{DIRS[(i * 3) % len(DIRS)]}/blob-{i:02d}.bin"] = rnd.randbytes(rnd.choice((1, 1459, 1460, 1461,
                                                                                             4096, 65535, 65536,
                                                                                             300_001)))
    files["img/pixel.png"] = bytes.fromhex("89504e470d0a1a0a") + rnd.randbytes(200)
    app = ("function hello() { return 'unikernel'; }\n" * 200).encode()
    files[GZIP_NAME] = app
    files[GZIP_NAME + ".gz"] = gzip.compress(app, mtime=0)
    files["empty.txt"] = b""
    files[LARGE_NAME] = rnd.randbytes(large_size)

    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    # An index.html in every directory, linking to every entry in it.
    for d in sorted({str(p.relative_to(root)) for p in root.rglob("*") if p.is_dir()} | {"."}):
        entries = sorted(os.listdir(root / d))
        links = "\n".join(
            f'<li><a href="{html.escape(urllib.parse.quote(e) + ("/" if (root / d / e).is_dir() else ""))}">'
            f"{html.escape(e)}</a></li>" for e in entries if e != "index.html")
        index = f"<!doctype html>\n<title>{html.escape(d)}</title>\n<ul>\n{links}\n</ul>\n".encode()
        (root / d / "index.html").write_bytes(index)
        files[os.path.normpath(f"{d}/index.html")] = index
    # Distinct, known modification times (what Last-Modified says).
    for i, rel in enumerate(sorted(files)):
        os.utime(root / rel, (BASE_MTIME + i, BASE_MTIME + i))
    return files


def pack(root, archive):
    """root -> archive (newc cpio), as `make run SITE=root` does."""
    subprocess.run(["bash", str(REPO / "scripts" / "pack-site"), str(root), str(archive)], check=True,
                   capture_output=True, timeout=120)
    return archive


def url_path(rel):
    """The URL path of a file of the site."""
    return "/" + urllib.parse.quote(rel)
