"""Boot the kernel and check its serial contract: time-stamped log lines, the
command line, and the panic report of every deliberate crash."""

import re
import time

import pytest

from qemu import EXIT_PANIC, TIMESTAMP

MACHINES = ["q35", "pc"]

HEX = r"0x[0-9a-fA-F]+"
INIT_DONE = TIMESTAMP + r"init: done in \d+\.\d{3} ms since EFI entry$"
REGISTERS = ["RIP", "RSP", "RFLAGS", "CR2",
             "RAX", "RBX", "RCX", "RDX", "RSI", "RDI", "RBP",
             "R8", "R9", "R10", "R11", "R12", "R13", "R14", "R15"]
# GCC may emit a function as a specialised clone, e.g. "f.isra.0" or
# "f.constprop.0"; the backtrace then rightly names the clone.
GCC_CLONE = r"(?:\.(?:isra|constprop|part|cold)(?:\.\d+)?)*"
FRAME = rf"^  #(\d+) {HEX} (?:\?|[A-Za-z_][\w.]*\+{HEX}/{HEX})$"

# crash=<kind>: the exception name after "PANIC: " and the function that
# must appear in the backtrace.
CRASHES = {
    "pagefault": ("Page Fault (#PF)", "crash_pagefault"),
    "divide": ("Divide Error (#DE)", "crash_divide"),
    "ud": ("Invalid Opcode (#UD)", "crash_invalid_opcode"),
    "gp": ("General Protection (#GP)", "crash_general_protection"),
    "stack": ("Double Fault (#DF)", "crash_stack_overflow"),
    "smash": ("stack protector: a function's stack was overwritten (canary changed)", "crash_stack_smash"),
    "panic": ("crash=panic requested", "crash_panic"),
    "write-text": ("Page Fault (#PF)", "crash_write_text"),
    "exec-data": ("Page Fault (#PF)", "crash_exec_data"),
}


def stamped(body):
    """Regex for a whole time-stamped log line whose text matches `body`."""
    return rf"^{TIMESTAMP}{body}$"


def expect_line(g, pattern):
    """The match of `pattern` in the serial log so far; fail if none."""
    match = re.search(pattern, g.serial(), re.MULTILINE)
    if not match:
        g.fail(f"serial log has no line matching /{pattern}/")
    return match


def expect_no_panic(g):
    """Let the idle kernel run a moment; it must neither panic nor exit."""
    time.sleep(1)
    if "PANIC:" in g.serial():
        g.fail("PANIC: in the log, but no crash was requested")
    if not g.running:
        g.fail("the kernel exited, but it should idle after init")


def expect_panic(g, kind, title, function):
    """Wait for the crash=<kind> run to end and check its panic report;
    return the report (the log from the PANIC: line on)."""
    g.wait_for(stamped(rf"crash: {re.escape(kind)} requested"))
    panic = g.wait_for(rf"^PANIC: {re.escape(title)}(?: .*)?$")
    status = g.wait_exit()
    report = g.serial()[panic.start():]
    for reg in REGISTERS:
        if not re.search(rf"\b{reg}={HEX}\b", report):
            g.fail(f"panic report lacks register {reg}=0x...")
    backtrace = re.search(r"^Backtrace:\s*$", report, re.MULTILINE)
    if not backtrace:
        g.fail("panic report has no 'Backtrace:' line")
    frames = [int(n) for n in re.findall(FRAME, report[backtrace.end():], re.MULTILINE)]
    if not frames or frames != list(range(len(frames))):
        g.fail(f"backtrace frames should be numbered #0, #1, ...; got {frames}")
    if not re.search(rf"^  #\d+ {HEX} {function}{GCC_CLONE}\+{HEX}/{HEX}$", report, re.MULTILINE):
        g.fail(f"no backtrace frame names {function}")
    if status != EXIT_PANIC:
        g.fail(f"QEMU exit status {status}, expected {EXIT_PANIC} (panic)")
    return report


def register(report, name):
    return int(re.search(rf"\b{name}=({HEX})\b", report)[1], 16)


@pytest.mark.parametrize("machine", MACHINES)
def test_boots_to_init_done_with_ordered_timestamps(guest, machine):
    g = guest(machine=machine)
    done = g.wait_for(INIT_DONE)
    # The firmware's escape sequences may precede the first line unbroken.
    first = expect_line(g, rf"{TIMESTAMP}boot: image base={HEX} size=\d+ KiB$")
    expect_line(g, stamped(r'cmdline: ""'))

    previous = 0.0
    for line in g.serial()[first.start():done.end()].split("\n"):
        stamp = re.match(TIMESTAMP, line)
        if not stamp:
            g.fail(f"log line without a time stamp: {line!r}")
        ms = float(re.search(r"[\d.]+", stamp[0])[0])
        if ms < previous:
            g.fail(f"time stamp goes back from {previous:.3f} ms: {line!r}")
        previous = ms


def test_command_line_arrives_intact(guest):
    cmdline = "log=debug budget=32 foo=bar"
    g = guest(cmdline=cmdline)
    g.wait_for(INIT_DONE)
    expect_line(g, stamped(re.escape(f'cmdline: "{cmdline}"')))
    log = g.serial()
    unknown = re.findall(stamped(r"cmdline: unknown key '(.*)' ignored"), log, re.MULTILINE)
    if unknown != ["foo"]:
        g.fail(f"expected exactly one unknown key, 'foo'; reported: {unknown}")


LONG_LINE_BOOTS = [("efi", "q35", "virtio-net-pci"), ("pvh", "microvm", "virtio-net-device")]


@pytest.mark.parametrize("boot,machine,device", LONG_LINE_BOOTS, ids=[f"{b}-{m}" for b, m, _ in LONG_LINE_BOOTS])
def test_a_long_command_line_is_taken_to_2047_characters(guest, boot, machine, device):
    """Linux on x86 takes a command line of 2,047 characters (as kernel.efi's
    setup header tells QEMU); one of 1,989 arrives whole. A longer one is cut
    there, and the word the cut falls in is dropped, not half taken:
    budget=4000 cut to budget=4 would have applied. A word the cut only
    touches stays."""
    nic = ("-netdev", "user,id=n0,restrict=on", "-device", f"{device},netdev=n0")
    whole = " ".join(["log=info"] * 220) + " budget=32"
    assert len(whole) == 1989
    cut = whole + " "
    cut += "console=ttyS0," + "8" * (2047 - 8 - len(cut) - len("console=ttyS0,") - 1) + " "
    cut += "budget=4000"
    assert cut.index("budget=4000") == 2039 and len(cut) > 2047
    # A newline, which PVH's command line takes as a space, right after the
    # last whole word: that word stays (it was dropped as if cut in two).
    at_newline = cut[:2037] + " budget=16\nlog=info"
    assert at_newline.index("\n") == 2047
    cases = [(whole, False, 32), (cut, True, 32)] + ([(at_newline, True, 16)] if boot == "pvh" else [])
    for line, warned, budget in cases:
        g = guest(machine=machine, boot=boot, cmdline=line, nic=nic, memory=64 if boot == "pvh" else 256)
        g.wait_for(r"virtio-net: .*, budget \d+$")
        log = g.serial()
        if ("cmdline: longer than 2047 characters: cut there, the word cut dropped" in log) != warned:
            g.fail(f"a line of {len(line)} characters: the cut was{'' if warned else ' not'} expected to be said")
        if not re.search(rf"virtio-net: .*, budget {budget}$", log, re.MULTILINE):
            g.fail(f"a line of {len(line)} characters: budget={budget} not taken, or budget=4 taken")
        if re.search(r"cmdline: (unknown|budget)", log):
            g.fail("a word of the line was reported")
        g.kill()


def test_out_of_range_value_is_reported_and_boot_continues(guest):
    g = guest(cmdline="budget=0")
    g.wait_for(stamped(re.escape("cmdline: budget=0 out of range (1..4096), using 64")))
    g.wait_for(INIT_DONE)


def test_no_panic_without_crash_request(guest):
    g = guest()
    g.wait_for(INIT_DONE)
    expect_no_panic(g)


@pytest.mark.parametrize("boot,machine", [("efi", "q35"), ("pvh", "microvm")])
def test_log_quiet_prints_only_warnings_and_ready(guest, boot, machine):
    """log=quiet: the console carries the command line's own warning and the
    READY line, nothing else -- not the lines logged before the command line
    was read, nor those after READY."""
    g = guest(machine=machine, boot=boot, cmdline="log=quiet foo=bar",
              nic=("-netdev", "user,id=n0,restrict=on", "-device",
                   "virtio-net-device,netdev=n0" if machine == "microvm" else "virtio-net-pci,netdev=n0"))
    g.wait_for(r"^READY ip=")
    time.sleep(2)  # the lines an info boot prints after READY (the clock refined, init done) come within this
    stamped_lines = re.findall(rf"^{TIMESTAMP}.*$", g.serial(), re.MULTILINE)
    if [re.sub(TIMESTAMP, "", line) for line in stamped_lines] != ["cmdline: unknown key 'foo' ignored"]:
        g.fail(f"log=quiet printed more (or less) than its one warning: {stamped_lines}")
    expect_no_panic(g)


def test_unknown_crash_kind_boots_normally(guest):
    g = guest(cmdline="crash=bogus")
    g.wait_for(stamped(r"cmdline: crash=bogus .*, using none"))
    g.wait_for(INIT_DONE)
    expect_no_panic(g)


@pytest.mark.parametrize("machine,kind",
                         [("q35", kind) for kind in CRASHES] + [("pc", "pagefault")])
def test_crash_prints_panic_report_and_exits(guest, machine, kind):
    g = guest(machine=machine, cmdline=f"crash={kind}")
    title, function = CRASHES[kind]
    report = expect_panic(g, kind, title, function)

    # Page-fault error code bits: P=0x1 (page present), W=0x2, I=0x10 (fetch).
    if kind == "pagefault":
        if not re.search(r"\bCR2=0x0+\b", report):
            g.fail("a NULL write should fault with CR2=0")
        if not re.search(r"\berror=0x0*2\b", report):
            g.fail("a NULL write should fault with error=0x2 (write, not present)")
    if kind == "write-text":
        if not re.search(r"\berror=0x0*3\b", report):
            g.fail("a write to kernel code should fault with error=0x3 (write, present)")
    if kind == "exec-data":
        if not re.search(r"\berror=0x0*11\b", report):
            g.fail("a call into data should fault with error=0x11 (fetch, present)")
        if register(report, "RIP") != register(report, "CR2"):
            g.fail("a call into data should fault at RIP == CR2")


# Where a PANIC restarts, each the first way it has (boot/power.h): the FADT's
# reset register (q35's 0xCF9, microvm's Generic Event Device), the i8042, or,
# on microvm,acpi=off, which has neither, a triple fault.
PANIC_RESTART = [("pvh", "microvm"), ("pvh", "microvm,acpi=off"), ("pvh", "q35"), ("pvh", "pc"), ("efi", "q35")]


@pytest.mark.parametrize("boot,machine", PANIC_RESTART, ids=[f"{b}-{m}" for b, m in PANIC_RESTART])
def test_panic_restarts_after_its_timeout(guest, boot, machine):
    """Linux's panic=N, which Firecracker's guides pass: without
    isa-debug-exit (a user's QEMU, Firecracker), a PANIC restarts the machine
    N seconds after its report instead of halting for good; -no-reboot turns
    the restart into QEMU's end, status 0."""
    g = guest(machine=machine, boot=boot, cmdline="panic=1 crash=ud", nic=(), memory=64 if boot == "pvh" else 256,
              debug_exit=False)
    g.wait_for(r"^PANIC: Invalid Opcode \(#UD\)", timeout=120)
    g.wait_for(r"^machine restarts in 1 s \(panic=1\)$", timeout=30)
    said = time.monotonic()
    status = g.wait_exit(timeout=60)
    waited = time.monotonic() - said
    if status != 0:
        g.fail(f"QEMU exit status {status}, expected 0 (a reset under -no-reboot)")
    if waited < 0.5:
        g.fail(f"QEMU ended {waited:.2f} s after the line: panic=1 did not wait its second")
    if "power: restarting" not in g.serial():
        g.fail("no 'power: restarting' line")


# reboot= as Linux reads it (Firecracker's guides pass reboot=k): the way a
# restart tries first, seen in QEMU's own log: the i8042's pulse-reset command
# (0xfe) or a triple fault. q35's FADT reset register is the default.
REBOOT_WAYS = [("", False, False), ("reboot=k", True, False), ("reboot=t", False, True),
               ("reboot=warm,acpi", False, False)]


@pytest.mark.parametrize("word,keyboard,triple", REBOOT_WAYS, ids=[w or "default" for w, _, _ in REBOOT_WAYS])
def test_reboot_chooses_the_way_a_restart_takes(guest, tmp_path, word, keyboard, triple):
    """The restart at a PANIC's end (panic=-1) goes the way reboot= names
    first and takes no other: QEMU with -no-reboot ends at the first that acts."""
    qlog = tmp_path / "qemu-debug.log"
    g = guest(machine="q35", boot="pvh", cmdline=f"panic=-1 crash=panic {word}", nic=(), memory=64,
              debug_exit=False, extra_args=("-d", "cpu_reset", "-D", str(qlog), "-trace", "pckbd_kbd_write_command"))
    g.wait_for(r"^machine restarts in 0 s \(panic=-1\)$", timeout=120)
    status = g.wait_exit(timeout=30)
    if status != 0:
        g.fail(f"QEMU exit status {status}, expected 0 (a reset under -no-reboot)")
    reported = [line for line in re.findall(r"cmdline: (.*)", g.serial()) if "reboot" in line and '"' not in line]
    if reported:
        g.fail(f"{word} was reported: {reported}")
    text = qlog.read_text(errors="replace")
    pulsed = re.search(r"pckbd_kbd_write_command .*0xfe\b", text) is not None
    faulted = "Triple fault" in text
    if (pulsed, faulted) != (keyboard, triple):
        g.fail(f"{word or 'no reboot='}: keyboard reset {pulsed}, triple fault {faulted}; "
               f"expected {keyboard}, {triple}")


@pytest.mark.parametrize("cmdline,restarts", [("panic=0", False), ("panic=-1", True), ("", False)],
                         ids=["panic=0", "panic=-1", "no-panic-key"])
def test_panic_timeout_zero_halts_negative_restarts_at_once(guest, cmdline, restarts):
    """panic=0 (the default) halts for good; a negative timeout restarts
    without waiting."""
    g = guest(machine="microvm", boot="pvh", cmdline=f"{cmdline} crash=panic", nic=(), memory=64, debug_exit=False)
    g.wait_for(r"^PANIC: crash=panic requested$", timeout=120)
    if restarts:
        g.wait_for(r"^machine restarts in 0 s \(panic=-1\)$", timeout=30)
        status = g.wait_exit(timeout=30)
        if status != 0:
            g.fail(f"QEMU exit status {status}, expected 0")
    else:
        g.wait_for(r"^machine halted: exit status 0x12$", timeout=30)
        time.sleep(3)
        if not g.running:
            g.fail(f"QEMU ended (status {g.exit_status}): a PANIC with {cmdline or 'no panic='} must halt")
