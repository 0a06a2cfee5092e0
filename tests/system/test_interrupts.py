"""Interrupts and time: ACPI tables, LAPIC, IOAPIC and the clock, on q35 and pc,
checked from the boot lines and from in-guest self-tests (KTAP)."""

import re

import pytest

import ktap
from qemu import EXIT_FAILURE, EXIT_SUCCESS, TIMESTAMP

MACHINES = ["q35", "pc"]
PM_TIMER_PORT = {"q35": "0x608", "pc": "0xb008"}


def line(g, body):
    match = re.search(rf"^{TIMESTAMP}{body}$", g.serial(), re.MULTILINE)
    if not match:
        g.fail(f"no boot line matching /{body}/")
    return match


@pytest.mark.parametrize("machine", MACHINES)
def test_boot_lines_show_acpi_lapic_ioapic(guest, machine):
    g = guest(machine)
    g.wait_for(r"init: done in")
    line(g, r"acpi: XSDT tables: .*\bAPIC\b.*")
    line(g, r"acpi: MADT: LAPIC at 0xfee00000, 1 CPU, 1 IOAPIC, \d+ overrides, \d+ LAPIC NMI, PCAT_COMPAT")
    line(g, rf"acpi: FADT: PM timer port {PM_TIMER_PORT[machine]} \(24-bit\), .*")
    line(g, r"lapic: xAPIC \(MMIO\), id 0, version 0x[0-9a-f]+, at 0xfee00000")
    line(g, r"ioapic: id 0 at 0xfec00000, version 0x[0-9a-f]+, GSI 0-23, all masked")
    line(g, r"lapic: timer \d+\.\d{3} MHz input \(divider 16\), one-shot, .*")
    if machine == "q35":
        line(g, r"acpi: MCFG: segment 0 buses 0-255 ECAM at 0xb0000000")
    else:
        assert "acpi: MCFG" not in g.serial(), "pc has no MCFG, yet one was reported"


@pytest.mark.parametrize("machine", MACHINES)
def test_interrupt_selftests(guest, machine):
    """A self-IPI, the PIT through the IOAPIC (alone, then with two handlers on
    its line), and 2 s of tickless timers."""
    g = guest(machine, cmdline="selftest=ipi,ioapic,shared-line,timer")
    host_seconds, status, results = ktap.run_timed_timer(g, start_timeout=90)
    for name in ("ipi", "ioapic", "shared-line", "timer"):
        passed, reason = results.get(name, (False, "missing"))
        if not passed:
            g.fail(f"self-test {name} failed: {reason}")
    assert status == EXIT_SUCCESS, g.report(f"exit status {status}")
    # 2 s by the guest clock; TCG is slow, so this only catches a clock off by a factor.
    assert 1.0 <= host_seconds <= 6.0, g.report(f"2 s of guest time took {host_seconds:.2f} s of host time")


def test_stuck_line_is_masked(guest):
    """A level-triggered line held asserted that no handler claims (the PIT's
    mode-0 output, routed level) would be delivered again at every EOI and
    starve the kernel: after IRQ_STUCK_RUN unclaimed in a row it is masked,
    said on the console, and the kernel goes on (the selftest returns, and the
    line stays quiet after the mask)."""
    g = guest("q35", cmdline="selftest=stuck-line")
    status, results = ktap.run(g)
    passed, reason = results.get("stuck-line", (False, "missing"))
    assert passed, g.report(f"stuck-line self-test failed: {reason}")
    assert re.search(r"irq: vector 0x[0-9a-f]+: 1000 interrupts in a row that no handler claimed: its line is stuck "
                     r"asserted; masked", g.serial()), g.report("no console line about the stuck line")
    assert status == EXIT_SUCCESS, g.report(f"exit status {status}")


def test_memory_selftest(guest):
    g = guest("q35", cmdline="selftest=memory")
    status, results = ktap.run(g)
    assert results.get("memory", (False, ""))[0], g.report("memory self-test failed")
    assert status == EXIT_SUCCESS


def test_unknown_selftest_fails(guest):
    """A misspelt test name must fail loudly, not pass by running nothing."""
    g = guest("q35", cmdline="selftest=memory,no-such-test")
    status, results = ktap.run(g)
    assert results["memory"][0]
    assert results["no-such-test"] == (False, "no such self-test")
    assert status == EXIT_FAILURE, g.report(f"exit status {status}, expected {EXIT_FAILURE}")
