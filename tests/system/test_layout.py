"""The dependency rules between the rooms (docs/architecture.md) hold, and
the checker that keeps them finds a broken one (no QEMU needed)."""
import pathlib
import shutil
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
CHECKER = ROOT / "scripts" / "check-includes"


def run_checker(tree):
    return subprocess.run([sys.executable, str(CHECKER), str(tree)], capture_output=True, text=True)


def test_tree_follows_the_dependency_rules():
    r = run_checker(ROOT)
    assert r.returncode == 0, r.stdout + r.stderr


def test_checker_names_each_broken_rule(tmp_path):
    for room in ("boot", "net", "drivers", "arch", "lib"):
        shutil.copytree(ROOT / room, tmp_path / room)
    bad = {
        "lib/string.h": '#include "arch/x86_64/cpu.h"',
        "drivers/pci.c": '#include "net/net.h"',
        "arch/x86_64/lapic.c": '#include "boot/boot_info.h"',
        "net/net.c": '#include "arch/x86_64/lapic.h"',
        "drivers/serial.c": '#include "lwip/tcp.h"',
        "net/nic_netif.c": '#include "drivers/virtio/virtio_net_priv.h"',
    }
    for path, line in bad.items():
        with open(tmp_path / path, "a") as f:
            f.write("\n" + line + "\n")
    r = run_checker(tmp_path)
    assert r.returncode == 1
    for path, line in bad.items():
        assert f"{path}:" in r.stdout and line.split()[1] in r.stdout, (path, r.stdout)
    assert f"{len(bad)} include(s) break" in r.stdout
