"""Read the KTAP report of an in-guest self-test run (selftest=NAME,...)."""

import re
import time

RESULT = re.compile(r"^(ok|not ok) (\d+) (\S+)(?: # (.*))?$", re.MULTILINE)
PLAN = re.compile(r"^1\.\.(\d+)$", re.MULTILINE)


def results(serial):
    """{name: (passed, reason)} for every result line, in the order printed."""
    return {m.group(3): (m.group(1) == "ok", m.group(4) or "") for m in RESULT.finditer(serial)}


def run(g, timeout=120):
    """Wait for the guest to finish its self-tests; return (exit status, results).
    Fails when the plan line is missing or the count of results differs from it."""
    status = g.wait_exit(timeout=timeout)
    serial = g.serial()
    if "KTAP version 1" not in serial:
        g.fail("no KTAP header in the serial log")
    plan = PLAN.search(serial)
    found = results(serial)
    if not plan or int(plan.group(1)) != len(found):
        g.fail(f"KTAP plan {plan.group(0) if plan else '(none)'} does not match {len(found)} results")
    return status, found


def run_timed_timer(g, start_timeout=60):
    """Run a guest started with selftest=...timer: (host seconds its 2 s of
    guest time took, exit status, results), for a check that catches a clock
    off by a factor (TCG is slow: not a small drift)."""
    g.wait_for(r"^# timer: start", timeout=start_timeout)
    started = time.monotonic()
    g.wait_for(r"^(not )?ok \d+ timer", timeout=30)
    host_seconds = time.monotonic() - started
    return (host_seconds, *run(g))
