"""scripts/gen-ksyms, which writes the symbol table backtraces use
(lib/ksyms.h), over a small nm listing (no QEMU needed): every function
symbol is in it, first one included, offsets from the link address, a
sizeless symbol reaching to the next one; and a size that does not fit the
entry's 16 bits fails the build instead of being cut."""
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
    """[(offset, size, name)] from the .long/.short pairs and the names, one each in order."""
    count = int(re.search(r"ksym_entry_count:\n\s+\.long (\d+)", asm).group(1))
    pairs = re.findall(r"\.long (0x[0-9a-f]+)\n\s+\.short (0x[0-9a-f]+)\n", asm)
    names = re.findall(r'\.asciz "([^"]*)"', asm)
    assert len(pairs) == len(names) == count
    out = [(int(o, 16), int(s, 16), n) for (o, s), n in zip(pairs, names)]
    return out


def test_every_function_symbol_from_the_first():
    r = gen(NM, "0x100000")
    assert r.returncode == 0, r.stderr
    assert entries(r.stdout) == [
        (0x0, 0xad, "pvh_start32"),       # no size: up to the next symbol
        (0xad, 0x20, "pvh_start64"),
        (0xcd, 0x47, "boot_memmap_add"),
        (0x114, 0x10e, "parse_number_prefix"),
    ]


def test_a_function_of_64_kib_fails_the_build():
    r = gen("0000000000001000 0000000000010000 T huge\n", "0")
    assert r.returncode != 0
    assert "huge: size 65536" in r.stderr
