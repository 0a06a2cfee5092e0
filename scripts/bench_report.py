#!/usr/bin/python3
"""The bench's table: its rows, and how results are printed (scripts/bench)
and written into docs/BENCHMARKS.md (never by hand).

    scripts/bench_report.py [build/bench/results.json]             the table in Markdown
    scripts/bench_report.py [results.json] --doc docs/BENCHMARKS.md
        replaces what stands between the doc's BENCH-TABLE markers
"""

import argparse
import json
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# key, label, unit, direction ("lower"/"higher" is better), goal for ours (text, test on (ours, ours/Linux)).
# Rows of another boot path or machine are keys with its prefix (scripts/bench,
# Bench.boots): microvm_ (PVH on -M microvm, issue 17 point 4) and q35pvh_.
METRICS = [
    ("floor_s", "empty EFI app: launch to its line", "s", "lower", None),
    ("boot_static_ready_s", "launch to ready line, static", "s", "lower", None),
    ("boot_static_over_floor_ms", "  ... minus the firmware floor", "ms", "lower", None),
    ("floor_console_ms", "empty EFI app: firmware console to its line", "ms", "lower", None),
    ("boot_static_console_ms", "firmware console to ready line, static", "ms", "lower", None),
    ("boot_static_console_over_floor_ms", "  ... minus the same for the empty app", "ms", "lower",
     ("<= 50 ms", lambda v, r: v <= 50)),
    ("boot_static_http_s", "launch to first HTTP 200, static", "s", "lower", None),
    ("boot_dhcp_ready_s", "launch to ready line, DHCP", "s", "lower", None),
    ("boot_dhcp_http_s", "launch to first HTTP 200, DHCP", "s", "lower", None),
    ("kernel_ready_static_ms", "kernel EFI entry to READY, static", "ms", "lower",
     ("< 20 ms", lambda v, r: v < 20)),
    ("kernel_ready_dhcp_ms", "kernel EFI entry to READY, DHCP", "ms", "lower", None),
    ("boot_tsc_provisional_error_pct", "0.5 ms TSC rate's error (vs init's)", "%", "lower", None),
    ("ping_min_ms", "ping RTT min (10 ms apart)", "ms", "lower", None),
    ("ping_avg_ms", "ping RTT avg", "ms", "lower", ("<= 0.4 ms", lambda v, r: v <= 0.4)),
    ("ping_max_ms", "ping RTT max", "ms", "lower", None),
    ("http_ka_c1_rps", "HTTP keep-alive -c1 req/s", "req/s", "higher", None),
    ("http_ka_c1_p50_ms", "  p50 latency", "ms", "lower", None),
    ("http_ka_c1_p99_ms", "  p99 latency", "ms", "lower", None),
    ("http_ka_c4_rps", "HTTP keep-alive -c4 req/s", "req/s", "higher", (">= 5000", lambda v, r: v >= 5000)),
    ("http_ka_c4_p50_ms", "  p50 latency", "ms", "lower", None),
    ("http_ka_c4_p99_ms", "  p99 latency", "ms", "lower", None),
    ("http_ka_c8_rps", "HTTP keep-alive -c8 req/s", "req/s", "higher", None),
    ("http_ka_c8_p50_ms", "  p50 latency", "ms", "lower", None),
    ("http_ka_c8_p99_ms", "  p99 latency", "ms", "lower", None),
    ("http_close_c1_rps", "HTTP new connection/request -c1 req/s", "req/s", "higher", None),
    ("http_close_c1_p50_ms", "  p50 latency", "ms", "lower", None),
    ("http_close_c1_p99_ms", "  p99 latency", "ms", "lower", None),
    ("http_close_c4_rps", "HTTP new connection/request -c4 req/s", "req/s", "higher",
     (">= 3000", lambda v, r: v >= 3000)),
    ("http_close_c4_p50_ms", "  p50 latency", "ms", "lower", None),
    ("http_close_c4_p99_ms", "  p99 latency", "ms", "lower", None),
    ("http_stalls", "wrk timeouts + socket errors (all runs)", "count", "lower", ("0", lambda v, r: v == 0)),
    ("tcp_echo_MBps", "TCP echo throughput", "MB/s", "higher", (">= 2x Linux", lambda v, r: None if r is None else r >= 2)),
    ("tcp_echo_rx_per_mib", "  frames per MiB echoed, in", "frames", "lower",
     ("<= 2x Linux", lambda v, r: None if r is None else r <= 2)),
    ("tcp_echo_tx_per_mib", "  frames per MiB echoed, out", "frames", "lower",
     ("<= 2x Linux", lambda v, r: None if r is None else r <= 2)),
    ("tcp_echo_irq_per_packet", "  virtio-net interrupts per frame", "irq/frame", "lower", None),
    ("udp_echo_pps", "UDP echo, 16 in flight", "pkt/s", "higher", None),
    ("irq_per_packet", "virtio-net interrupts per frame (wrk -c8)", "irq/frame", "lower", None),
    ("site_small_ka_c4_rps", "site: small file (<1 KiB), keep-alive -c4", "req/s", "higher",
     (">= 5x Linux", lambda v, r: None if r is None else r >= 5)),
    ("site_large_MBps", "site: 16 MiB file, one connection", "MB/s", "higher",
     (">= 2x Linux", lambda v, r: None if r is None else r >= 2)),
    ("site_large_v6_MBps", "site: 16 MiB file over IPv6, one connection", "MB/s", "higher", None),
    ("site_errors", "  site: errors, stalls, wrong bytes", "count", "lower", ("0", lambda v, r: v == 0)),
    ("rings_split_ka_c4_rps", "split ring: keep-alive -c4 req/s", "req/s", "higher", None),
    ("rings_packed_ka_c4_rps", "packed ring: keep-alive -c4 req/s", "req/s", "higher", None),
    ("rings_split_ka_c4_kicks_per_frame", "  split: kicks per frame", "kicks", "lower", None),
    ("rings_packed_ka_c4_kicks_per_frame", "  packed: kicks per frame", "kicks", "lower", None),
    ("rings_split_ka_c4_irq_per_frame", "  split: interrupts per frame", "irq/frame", "lower", None),
    ("rings_packed_ka_c4_irq_per_frame", "  packed: interrupts per frame", "irq/frame", "lower", None),
    ("rings_split_echo_MBps", "split ring: TCP echo", "MB/s", "higher", None),
    ("rings_packed_echo_MBps", "packed ring: TCP echo", "MB/s", "higher", None),
    ("rings_split_echo_kicks_per_frame", "  split: kicks per frame", "kicks", "lower", None),
    ("rings_packed_echo_kicks_per_frame", "  packed: kicks per frame", "kicks", "lower", None),
    ("rings_split_echo_irq_per_frame", "  split: interrupts per frame", "irq/frame", "lower", None),
    ("rings_packed_echo_irq_per_frame", "  packed: interrupts per frame", "irq/frame", "lower", None),
    ("min_memory_mib", "smallest -m that still serves", "MiB", "lower", ("<= 48", lambda v, r: v <= 48)),
    ("image_bytes", "image size", "KiB", "lower", ("< 256 KiB", lambda v, r: v < 256 * 1024)),
    ("microvm_floor_s", "microvm: empty PVH kernel, launch to line", "s", "lower", None),
    ("microvm_boot_static_ready_s", "microvm: launch to ready line, static", "s", "lower", None),
    ("microvm_boot_static_over_floor_ms", "  ... minus the empty PVH kernel", "ms", "lower",
     ("<= 10 ms", lambda v, r: v <= 10)),
    ("microvm_boot_static_http_s", "microvm: launch to first HTTP 200, static", "s", "lower", None),
    ("microvm_kernel_ready_static_ms", "microvm: kernel PVH entry to READY, static", "ms", "lower",
     ("< 5 ms", lambda v, r: v < 5)),
    ("microvm_kernel_ready_icount_ms", "  ... counted in instructions (-icount)", "ms", "lower", None),
    ("microvm_boot_quiet_ready_s", "microvm: launch to READY, log=quiet", "s", "lower", None),
    ("microvm_boot_quiet_over_floor_ms", "  ... minus the empty PVH kernel", "ms", "lower", None),
    ("microvm_kernel_ready_quiet_ms", "microvm: PVH entry to READY, log=quiet", "ms", "lower", None),
    ("microvm_boot_tsc_provisional_error_pct", "microvm: 0.5 ms TSC rate's error", "%", "lower", None),
    ("microvm_m8_rps", "microvm -m 8: wrk -c4 10 s req/s", "req/s", "higher", None),
    ("microvm_m8_errors", "  errors: timeouts, socket, non-2xx", "count", "lower",
     ("0", lambda v, r: v == 0)),
    ("q35pvh_floor_s", "q35 (SeaBIOS): empty PVH, launch to line", "s", "lower", None),
    ("q35pvh_boot_static_ready_s", "q35 (SeaBIOS): PVH launch to ready, static", "s", "lower", None),
    ("q35pvh_boot_static_over_floor_ms", "  ... minus the empty PVH kernel", "ms", "lower", None),
    ("q35pvh_kernel_ready_static_ms", "q35 (SeaBIOS): kernel PVH entry to READY", "ms", "lower", None),
    ("pvh_image_bytes", "image size, kernel-pvh.elf", "KiB", "lower", ("< 256 KiB", lambda v, r: v < 256 * 1024)),
]
LABEL_WIDTH = 44  # the printed table's first column; a longer label would shift the row
assert all(len(m[1]) <= LABEL_WIDTH for m in METRICS), [m[1] for m in METRICS if len(m[1]) > LABEL_WIDTH]

DOC_BEGIN = "<!-- BENCH-TABLE BEGIN: generated by scripts/bench_report.py from build/bench/results.json -->"
DOC_END = "<!-- BENCH-TABLE END -->"


def rows(values, spreads, skip=()):
    """One dict per metric: medians, spreads, ratio ours/Linux, goal and verdict."""
    out = []
    for key, label, unit, better, goal in METRICS:
        if key in skip:
            continue
        ours, linux = values["ours"].get(key), values["linux"].get(key)
        ratio = ours / linux if ours is not None and linux not in (None, 0) else None
        met = goal[1](ours, ratio) if goal and ours is not None else None
        out.append({"key": key, "label": label, "unit": unit, "better": better,
                    "ours": ours, "ours_spread": spreads["ours"].get(key),
                    "linux": linux, "linux_spread": spreads["linux"].get(key),
                    "ratio": ratio, "goal": goal[0] if goal else None, "goal_met": met})
    return out


def fmt(value, unit):
    if value is None:
        return "n/a"
    if unit == "KiB":  # a tenth where it matters: 255.5 is under a 256 KiB goal, a rounded 256 would not say so
        return f"{value / 1024:.1f}" if value < 1000 * 1024 else f"{value / 1024:.0f}"
    if isinstance(value, int) or unit in ("count", "MiB"):
        return f"{value:.0f}"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3f}"


def fmt_spread(value):
    return "-" if value is None else f"{value * 100:.0f}%"


def verdict(row):
    if not row["goal"]:
        return ""
    return f"{row['goal']}: " + ("n/a" if row["goal_met"] is None else "met" if row["goal_met"] else "MISSED")


def text_table(metric_rows):
    head = (f"{'metric':{LABEL_WIDTH}} {'unit':>9} {'ours':>10} {'spread':>6} {'Linux':>10} {'spread':>6} "
            f"{'ours/Linux':>10}  goal for ours")
    out = [head, "-" * len(head)]
    for r in metric_rows:
        out.append(f"{r['label']:{LABEL_WIDTH}} {r['unit']:>9} {fmt(r['ours'], r['unit']):>10} {fmt_spread(r['ours_spread']):>6} "
                   f"{fmt(r['linux'], r['unit']):>10} {fmt_spread(r['linux_spread']):>6} "
                   f"{fmt(r['ratio'], ''):>10}  {verdict(r)}")
    return "\n".join(out)


def summary(info):
    """What ran, where, and how quiet the machine was."""
    noise = info.get("noise", {})
    lines = [f"{info['qemu']}; accel {info['accelerator']}; {info['cpu']} x{info['cpus']}; {info['date']}; "
             f"{info['mode']} run in {info['duration_s']:.0f} s; {info['rounds']} boot rounds "
             f"({info.get('pvh_rounds', info['rounds'])} on microvm), "
             f"each load {info['repeats']} times ({info['wrk_seconds']} s per wrk run)"]
    if info.get("linux_packages"):
        lines.append("Linux peer: " + ", ".join(f"{p} {v}" for p, v in info["linux_packages"].items()))
    if noise:
        lines.append(f"host load average (1 min) before each of the {noise['pairs']} measurement steps: "
                     f"{noise['load1_min']:.2f} to {noise['load1_max']:.2f}; another QEMU was running before "
                     f"{noise['pairs_with_other_qemu']} of them")
    return lines


def markdown(results):
    lines = [f"- {line}" for line in summary(results["info"])]
    lines += ["", "| metric | unit | ours | spread | Linux (nginx) | spread | ours/Linux | better | goal for ours |",
              "|---|---|--:|--:|--:|--:|--:|---|---|"]
    for r in results["metrics"]:
        label = r["label"].strip()
        lines.append(f"| {label} | {r['unit']} | {fmt(r['ours'], r['unit'])} | {fmt_spread(r['ours_spread'])} | "
                     f"{fmt(r['linux'], r['unit'])} | {fmt_spread(r['linux_spread'])} | {fmt(r['ratio'], '')} | "
                     f"{r['better']} | {verdict(r)} |")
    return "\n".join(lines) + "\n"


def update_doc(doc, results):
    text = doc.read_text()
    pattern = re.compile(re.escape(DOC_BEGIN) + r".*?" + re.escape(DOC_END), re.S)
    if not pattern.search(text):
        raise SystemExit(f"{doc} has no {DOC_BEGIN} ... {DOC_END} block")
    doc.write_text(pattern.sub(lambda m: f"{DOC_BEGIN}\n\n{markdown(results)}\n{DOC_END}", text))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results", nargs="?", type=Path, default=REPO / "build" / "bench" / "results.json")
    ap.add_argument("--doc", type=Path, help="write the table into this file between its markers")
    opts = ap.parse_args()
    results = json.loads(opts.results.read_text())
    if opts.doc:
        update_doc(opts.doc, results)
        print(f"bench_report: {opts.doc} updated from {opts.results}")
    else:
        sys.stdout.write(markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
