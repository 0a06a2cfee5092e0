"""scripts/gen-ksyms, which writes the symbol table backtraces use
(lib/ksyms.h), over a small nm listing (no QEMU needed): every function
symbol is in it, first one included, the first offset from the link
address, each span reaching to the next function, the last one's its size;
and a span that does not fit 16 bits fails the build instead of being cut."""
import pathlib
import re
import subprocess

ROOT = pathlib.Path(__file__).resolve().parents[2]
GEN = ROOT / "scripts" / "gen-ksyms"

NM = """\
0000000000000100 a vector
0000000000100000 T pvh_start32
00000000001000ad t pvh_start64
00000000001000cd 0000000000000047 T boot_memmap_add
0000000000100114 000000000000010e t parse_number_prefix
0000000000100300 0000000000000010 D some_data
"""


def gen(listing, base):
    return subprocess.run(["bash", str(GEN)], input=listing, capture_output=True, text=True,
                          env={"KSYMS_BASE": base, "PATH": "/usr/bin:/bin"})


def entries(asm):
    """(first offset, [(span, name)]) from the spans and the names, one each in order."""
    count = int(re.search(r"ksym_count:\n\s+\.long (\d+)", asm).group(1))
    first = int(re.search(r"ksym_first:\n\s+\.long (0x[0-9a-f]+)", asm).group(1), 16)
    spans_text = asm.split("ksym_spans:")[1].split("ksym_names:")[0]
    spans = [int(v, 16) for v in re.findall(r"\.short (0x[0-9a-f]+)", spans_text)]
    names = re.findall(r'\.asciz "([^"]*)"', asm)
    assert len(spans) == len(names) == count
    return first, list(zip(spans, names))


def test_every_function_symbol_from_the_first():
    r = gen(NM, "0x100000")
    assert r.returncode == 0, r.stderr
    assert entries(r.stdout) == (0x0, [
        (0xad, "pvh_start32"),       # no size: up to the next symbol
        (0x20, "pvh_start64"),
        (0x47, "boot_memmap_add"),
        (0x10e, "parse_number_prefix"),  # the last: its own size
    ])


def test_a_span_of_64_kib_fails_the_build():
    r = gen("0000000000001000 0000000000010000 T huge\n", "0")
    assert r.returncode != 0
    assert "huge: span 65536" in r.stderr
    r = gen("0000000000001000 0000000000000010 T before\n0000000000011000 0000000000000010 T after\n", "0")
    assert r.returncode != 0
    assert "before: span 65536" in r.stderr
