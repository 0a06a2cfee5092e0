"""Keeps scripts/bench working: its quick mode (our guest only, a few seconds
per metric) must finish, exit 0, and give every metric of our guest a number,
in the printed table and in the results file (and its Markdown twin). No
threshold on any value: the numbers are the benchmark's business, not the
test's."""

import json
import re
import subprocess
import sys

import pytest

from netns import have_root
from qemu import KERNEL, REPO

needs_root = pytest.mark.skipif(not have_root(), reason="needs root for network namespaces and tap devices")


@needs_root
def test_bench_quick(tmp_path):
    if not KERNEL.is_file():
        pytest.skip(f"{KERNEL} is not built; run 'make' (make test builds it first)")
    out = tmp_path / "quick.json"
    p = subprocess.run([sys.executable, str(REPO / "scripts" / "bench"), "--quick", "--out", str(out)],
                       capture_output=True, text=True, timeout=300, cwd=REPO)
    report = f"exit status {p.returncode}\n--- stdout ---\n{p.stdout}\n--- stderr ---\n{p.stderr}"
    assert p.returncode == 0, report

    results = json.loads(out.read_text())
    assert results["failures"] == [], report
    for field in ("qemu", "accelerator", "cpu", "date", "noise"):
        assert results["info"].get(field), f"results lack {field}\n{report}"
    # The host's load was noted before every measurement step.
    assert len(results["noise"]) == results["info"]["noise"]["pairs"] > 0, report
    metrics = results["metrics"]
    keys = {m["key"] for m in metrics}
    # Every metric of the full run but those quick mode skips (scripts/bench, QUICK_SKIPS).
    expected = {"floor_s", "boot_static_ready_s", "boot_static_over_floor_ms", "boot_static_http_s",
                "floor_console_ms", "boot_static_console_ms", "boot_static_console_over_floor_ms",
                "boot_dhcp_ready_s", "boot_dhcp_http_s", "kernel_ready_static_ms", "kernel_ready_dhcp_ms",
                "ping_min_ms", "ping_avg_ms", "ping_max_ms", "http_stalls", "tcp_echo_MBps", "udp_echo_pps",
                "irq_per_packet", "image_bytes",
                # the PVH kernel on microvm, one round (the -m 8 load and PVH on q35 are full-run only)
                "microvm_floor_s", "microvm_boot_static_ready_s", "microvm_boot_static_over_floor_ms",
                "microvm_boot_static_http_s", "microvm_kernel_ready_static_ms", "microvm_kernel_ready_icount_ms",
                "pvh_image_bytes",
                # the site archive (issue 19) and the two rings (issue 18)
                "site_small_ka_c4_rps", "site_large_MBps", "site_large_v6_MBps", "site_errors"}
    for ring in ("split", "packed"):
        expected |= {f"rings_{ring}_ka_c4_rps", f"rings_{ring}_echo_MBps"}
        for load in ("ka_c4", "echo"):
            expected |= {f"rings_{ring}_{load}_kicks_per_frame", f"rings_{ring}_{load}_irq_per_frame"}
    for config in ("ka_c1", "ka_c4", "ka_c8", "close_c1", "close_c4"):
        expected |= {f"http_{config}_rps", f"http_{config}_p50_ms", f"http_{config}_p99_ms"}
    assert expected <= keys, f"missing metrics {sorted(expected - keys)}\n{report}"
    for m in metrics:
        assert isinstance(m["ours"], (int, float)), f"{m['key']} has no number: {m['ours']!r}\n{report}"
        assert "ours_spread" in m, f"{m['key']} has no spread\n{report}"

    assert out.with_suffix(".md").read_text().count("\n| ") == len(metrics) + 1, report

    # The printed table has one row per metric, each with a number for ours.
    lines = p.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("metric "))
    rows = [line for line in lines[header + 2:] if line.strip() and not line.startswith("results:")]
    assert len(rows) == len(metrics), report
    for row, m in zip(rows, metrics):
        assert row.startswith(m["label"]), f"row {row!r} is not {m['label']!r}\n{report}"
        ours = row[44:].split()[1]
        assert re.fullmatch(r"-?\d+(\.\d+)?", ours), f"row {row!r} has no number for ours\n{report}"
