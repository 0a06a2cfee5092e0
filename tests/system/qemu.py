"""Boot build/kernel.efi in QEMU and read what it writes to the serial console.

The kernel's only output is COM1, which QEMU writes to a file; the harness
polls that file.  The kernel ends a run by writing to QEMU's isa-debug-exit
device, and QEMU then exits with status (value << 1) | 1.
"""

import atexit
import ctypes
import os
import re
import shlex
import socket
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))

from qemu_args import KERNELS, QEMU, base_args  # noqa: E402

KERNEL = REPO / KERNELS["efi"]
PVH_KERNEL = REPO / KERNELS["pvh"]

# QEMU exit statuses for the values the kernel writes to isa-debug-exit.
EXIT_SUCCESS = 33  # 0x10: self-tests passed
EXIT_FAILURE = 35  # 0x11: a self-test failed
EXIT_PANIC = 37  # 0x12: panic or CPU exception

# The firmware alone takes about 3 s under TCG before the kernel runs, and two
# test runs may share a 2-core machine: be generous.
BOOT_TIMEOUT = 60.0
POLL_INTERVAL = 0.05

# A line of the kernel's log: "[   12.345 ms] pci: ...".
TIMESTAMP = r"\[\s*\d+\.\d{3} ms\] "

DEFAULT_NIC = (
    "-netdev", "user,id=net0,restrict=on",
    "-device", "virtio-net-pci,netdev=net0",
)

_PR_SET_PDEATHSIG = 1
_running = set()


def _die_with_parent():
    """In the child before exec: get SIGKILL if the test process dies, even
    by SIGKILL, so that no idle guest outlives a killed test run."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass


def _kill_all_guests():
    for guest in list(_running):
        guest.kill()


atexit.register(_kill_all_guests)


class Guest:
    """One QEMU run of the kernel.  Use as a context manager:

        with Guest(tmp_path, cmdline="log=debug") as g:
            g.wait_for(r"init: done")
    """

    def __init__(self, workdir, machine="q35", cmdline=None, extra_args=(),
                 nic=DEFAULT_NIC, kernel=None, memory=256, prefix=(), disk=None, boot="efi", initrd=None, accel=None,
                 debug_exit=True):
        """prefix: a command QEMU runs under, e.g. ("ip", "netns", "exec", NS).
        disk: boot this disk image (make image) instead of the kernel file.
        boot: "efi" (OVMF, kernel.efi) or "pvh" (kernel-pvh.elf, no OVMF).
        initrd: a site archive handed over with -initrd (docs/boot.md).
        accel: tcg or kvm; by default $ACCEL, else tcg.
        debug_exit: False leaves out isa-debug-exit (scripts/qemu_args.py)."""
        self.boot = boot
        self.disk = disk
        self.initrd = initrd
        self.workdir = Path(workdir)
        self.prefix = tuple(prefix)
        self.machine = machine
        self.cmdline = cmdline
        self.extra_args = tuple(extra_args)
        self.nic = tuple(nic)
        self.kernel = Path(kernel) if kernel else REPO / KERNELS[boot]
        self.memory = memory
        self.accel = accel or os.environ.get("ACCEL") or "tcg"
        self.debug_exit = debug_exit
        self.log_path = self.workdir / "serial.log"
        self.stderr_path = self.workdir / "qemu.stderr"
        self.monitor_path = self.workdir / "monitor.sock"
        self.proc = None

    def command(self):
        """QEMU's base arguments (scripts/qemu_args.py, shared with make run and
        the bench), then this guest's image, console, monitor and NIC."""
        args = [*self.prefix, QEMU, *base_args(self.machine, self.accel, self.memory, self.boot, self.debug_exit)]
        if self.disk:
            args += ["-drive", f"file={self.disk},format=raw"]
        else:
            args += ["-kernel", str(self.kernel)]
        if self.cmdline is not None:
            args += ["-append", self.cmdline]
        if self.initrd is not None:
            args += ["-initrd", str(self.initrd)]
        args += [
            "-display", "none",
            "-serial", f"file:{self.log_path}",
            "-monitor", f"unix:{self.monitor_path},server=on,wait=off",
        ]
        return args + list(self.nic) + list(self.extra_args)

    # -- life cycle ---------------------------------------------------------

    def start(self):
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.log_path.write_bytes(b"")
        with open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(
                self.command(), stdin=subprocess.DEVNULL,
                stdout=err, stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent)
        _running.add(self)
        return self

    def kill(self):
        """Stop QEMU (if still running) and reap it."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        _running.discard(self)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.kill()
        return False

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    @property
    def exit_status(self):
        """QEMU's exit status, or None while it runs."""
        return None if self.proc is None else self.proc.poll()

    def monitor(self, command, timeout=10.0):
        """Run a QEMU human-monitor command (e.g. "set_link n0 off") and return its output."""
        deadline = time.monotonic() + timeout
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            while True:
                try:
                    sock.connect(str(self.monitor_path))
                    break
                except (FileNotFoundError, ConnectionRefusedError):
                    if time.monotonic() >= deadline:
                        self.fail(f"QEMU monitor socket {self.monitor_path} never accepted a connection")
                    time.sleep(POLL_INTERVAL)
            output = b""
            sock.sendall(command.encode() + b"\n")
            # The monitor echoes the command and then prints a fresh "(qemu) " prompt.
            while output.count(b"(qemu) ") < 2:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                output += chunk
        return output.decode(errors="replace")

    # -- reading the console --------------------------------------------------

    def serial(self):
        """Everything the guest has written to the serial port so far."""
        try:
            data = self.log_path.read_bytes()
        except FileNotFoundError:
            return ""
        return data.decode("utf-8", errors="replace")

    def wait_for(self, pattern, timeout=BOOT_TIMEOUT, after=0):
        """Wait until the serial log matches `pattern` (a regex, searched with
        re.MULTILINE over the log from character `after` on, such as the
        log's length before an event) and return the match."""
        regex = re.compile(pattern, re.MULTILINE) if isinstance(pattern, str) else pattern
        deadline = time.monotonic() + timeout
        while True:
            # Read the status before the log: when QEMU has exited, the log
            # read after that is final and the match is decided on it.
            exited = self.proc.poll() is not None
            match = regex.search(self.serial(), after)
            if match:
                return match
            if exited:
                self.fail(f"QEMU exited before the serial log matched /{regex.pattern}/")
            if time.monotonic() >= deadline:
                self.fail(f"timed out after {timeout:g} s waiting for /{regex.pattern}/")
            time.sleep(POLL_INTERVAL)

    def wait_exit(self, timeout=BOOT_TIMEOUT):
        """Wait for QEMU to exit and return its exit status."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
        self.fail(f"timed out after {timeout:g} s waiting for QEMU to exit")

    def fail(self, message):
        """Raise AssertionError with `message` and everything known about the run."""
        raise AssertionError(self.report(message))

    def report(self, message):
        status = self.exit_status
        status_text = "still running" if status is None else str(status)
        try:
            stderr = self.stderr_path.read_text(errors="replace").strip()
        except FileNotFoundError:
            stderr = ""
        # Make the firmware's escape sequences visible instead of letting
        # them act on the terminal that shows the report.
        log = self.serial().replace("\x1b", "\\x1b").replace("\r", "\\r")
        return (f"{message}\n"
                f"QEMU exit status: {status_text}\n"
                f"QEMU command: {shlex.join(self.command())}\n"
                f"QEMU stderr:\n{stderr or '(empty)'}\n"
                f"----- serial log ({self.log_path}) -----\n{log}\n"
                f"----- end of serial log -----")
