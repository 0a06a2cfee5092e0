"""The lwIP patches (scripts/lwip-*.patch) apply to Debian's pristine lwIP
source, the tree the build uses has them, and the kernel refuses to build
against a tree without them (no QEMU, no root needed)."""
import pathlib
import subprocess
import tarfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
TARBALL = ROOT / "third_party" / "downloads" / "lwip_2.1.3+dfsg1.orig.tar.xz"
PATCHES = sorted((ROOT / "scripts").glob("lwip-*.patch"))


@pytest.fixture
def pristine(tmp_path):
    if not TARBALL.exists():
        pytest.skip(f"SKIP: {TARBALL} not fetched (scripts/setup fetches it)")
    with tarfile.open(TARBALL) as t:
        t.extractall(tmp_path)
    (top,) = tmp_path.iterdir()
    return top


def patch(tree, p, *extra):
    return subprocess.run(["patch", "-p1", "--forward", "-d", str(tree), "-i", str(p), *extra],
                          capture_output=True, text=True)


def test_each_patch_applies_to_pristine_lwip_and_the_build_tree_has_it(pristine):
    assert PATCHES, "no scripts/lwip-*.patch"
    for p in PATCHES:
        r = patch(pristine, p)
        assert r.returncode == 0, f"{p.name} no longer applies:\n{r.stdout}{r.stderr}"
    for p in PATCHES:
        r = patch(ROOT / "third_party" / "lwip", p, "--dry-run")
        assert r.returncode != 0 and "Reversed (or previously applied) patch" in r.stdout, \
            f"third_party/lwip lacks {p.name}: run scripts/setup\n{r.stdout}"


# The files that check, with #error, that the tree has each patch.
CHECKERS = ["net/tcp_large_send.c", "net/lwip_pools.c", "net/lwip_hooks.c"]


def test_the_kernel_does_not_build_against_unpatched_lwip(pristine):
    def compile_with(lwip):
        results = [subprocess.run(["gcc", "-std=gnu11", "-ffreestanding", "-fsyntax-only", "-I.",
                                   f"-I{lwip}/src/include", "-Inet", "-Inet/libc", f], cwd=ROOT, capture_output=True,
                                  text=True) for f in CHECKERS]
        return [r.returncode for r in results], "".join(r.stderr for r in results)
    codes, stderr = compile_with(pristine)
    assert all(codes), stderr
    for p in PATCHES:
        assert f"lacks scripts/{p.name}" in stderr, f"nothing stops a build without {p.name}:\n{stderr}"
    for p in PATCHES:
        assert patch(pristine, p).returncode == 0
    codes, stderr = compile_with(pristine)
    assert not any(codes), stderr
