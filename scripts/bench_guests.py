"""The guests scripts/bench boots, and how it boots them.

- ours: build/kernel.efi under OVMF, or build/kernel-pvh.elf on microvm (or
  q35 through SeaBIOS).
- linux: Debian's kernel with nginx and inetd (scripts/bench_linux.py).
- empty: the firmware floor: an EFI application (scripts/bench_empty_efi.c)
  or a PVH kernel (scripts/bench_empty_pvh.S) that prints one line and exits.

All of them get the same QEMU arguments for a machine and boot path
(scripts/qemu_args.py: firmware, machine, CPUs, memory; and the NIC model
for the machine); only -kernel/-initrd/-append differ.
QEMU's serial console is read through a pipe by a thread that stamps every
line with its arrival time, so a boot time is measured to the line, not to a
polling interval.
"""

import ctypes
import os
import re
import signal
import stat
import subprocess
import threading
import time
from pathlib import Path

from qemu_args import QEMU, base_args, nic_device

REPO = Path(__file__).resolve().parents[1]
BUILD = REPO / "build" / "bench"
BUSYBOX = Path("/bin/busybox")
EFI_INC = "/usr/include/efi"
EFI_LIB = "/usr/lib"

GUEST_ADDR = "10.0.2.15"
HOST_ADDR = "10.0.2.2"
TAP = "tap0"
# Both guests' IPv6 link-local address: the EUI-64 of QEMU's default MAC, 52:54:00:12:34:56.
GUEST_LL = "fe80::5054:ff:fe12:3456"

OURS_READY = re.compile(r"^READY ip=\S+ .* t=(\d+\.\d+)ms")
EMPTY_READY = {"efi": re.compile(r"^EMPTY-EFI READY"), "pvh": re.compile(r"^EMPTY-PVH READY")}
# OVMF's report of a CPU exception (e.g. with too little memory); it then spins forever.
FIRMWARE_FAULT = re.compile(r"^!!!! X64 Exception")

_libc = ctypes.CDLL(None, use_errno=True)
_CLONE_NEWNET = 0x40000000
_PR_SET_PDEATHSIG = 1


class BenchError(Exception):
    """A measurement or a build step failed; the message says which and why."""


def log(message):
    print(f"bench: {message}", flush=True)


# -- namespaces -------------------------------------------------------------------

def enter_netns(name):
    """Move the calling thread (or, before exec, the child) into namespace `name`."""
    fd = os.open(f"/run/netns/{name}", os.O_RDONLY)
    try:
        if _libc.setns(fd, _CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns into {name}: {os.strerror(err)}")
    finally:
        os.close(fd)


def child_setup(netns):
    """preexec_fn: into the namespace, and die with the bench (no stray guests)."""
    def setup():
        if netns:
            enter_netns(netns)
        _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    return setup


def in_netns(netns, fn, *args, **kwargs):
    """Run fn in a thread inside the namespace (its sockets belong there) and
    return its result or raise its exception."""
    box = {}

    def body():
        try:
            enter_netns(netns)
            box["value"] = fn(*args, **kwargs)
        except BaseException as e:  # handed to the caller
            box["error"] = e
    t = threading.Thread(target=body, daemon=True)
    t.start()
    t.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


def run_in_netns(netns, cmd, timeout):
    """Run a program inside the namespace; returns CompletedProcess (text)."""
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                          preexec_fn=child_setup(netns))


def fast_arp(netns):
    """The namespace asks for the guest's MAC every 20 ms instead of every second
    while it has no answer. A guest that comes up without announcing itself
    (Linux with a static address sends no gratuitous ARP; ours does) would
    otherwise wait up to 1 s for the next ARP request before its first HTTP 200,
    which would set the resolution of that row. Bounded: only while resolving,
    only on the namespace's tap."""
    p = run_in_netns(netns, ["sysctl", "-q", "-w", f"net.ipv4.neigh.{TAP}.retrans_time_ms=20"], timeout=10)
    if p.returncode != 0:
        raise BenchError(f"sysctl in {netns} failed: {p.stderr.strip()}")


class DhcpServer:
    """busybox udhcpd on the namespace's tap, leasing exactly 10.0.2.15. Its ARP
    probe of an address before offering it (2 s by default) is cut to 50 ms:
    a hypervisor's DHCP (QEMU's slirp) answers at once, and the probe's wait
    would otherwise be most of either guest's DHCP time."""

    def __init__(self, netns, workdir):
        self.netns = netns
        self.workdir = Path(workdir)
        self.proc = None

    def __enter__(self):
        self.workdir.mkdir(parents=True, exist_ok=True)
        conf = self.workdir / "udhcpd.conf"
        conf.write_text(
            f"start {GUEST_ADDR}\nend {GUEST_ADDR}\ninterface {TAP}\nmax_leases 1\n"
            f"lease_file {self.workdir / 'udhcpd.leases'}\npidfile {self.workdir / 'udhcpd.pid'}\n"
            f"option subnet 255.255.255.0\noption router {HOST_ADDR}\noption lease 3600\n")
        (self.workdir / "udhcpd.leases").write_bytes(b"")
        with open(self.workdir / "udhcpd.log", "wb") as out:
            self.proc = subprocess.Popen([str(BUSYBOX), "udhcpd", "-f", "-a", "50", str(conf)], stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=subprocess.STDOUT, preexec_fn=child_setup(self.netns))
        time.sleep(0.2)
        if self.proc.poll() is not None:
            raise BenchError(f"udhcpd exited at once: {(self.workdir / 'udhcpd.log').read_text()}")
        return self

    def __exit__(self, *exc):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        return False


# -- QEMU -----------------------------------------------------------------------------

_ESCAPES = re.compile(r"\x1b\[[0-9;=?]*[A-Za-z]|\r")


def _plain(raw):
    """A serial line without the firmware's terminal escapes (OVMF clears the
    screen without a newline, so they prefix the guest's first line)."""
    return _ESCAPES.sub("", raw.decode("utf-8", "replace"))


class Qemu:
    """One QEMU run whose serial lines are stamped on arrival (seconds since launch)."""

    def __init__(self, name, kind, net, workdir, netns, memory=256, monitor="none"):
        """kind: a GuestKind; net: its address mode ("static" or "dhcp")."""
        self.name = name
        self.args = [QEMU, *base_args(kind.machine, "tcg", memory, kind.boot), "-display", "none",
                     "-monitor", monitor, "-serial", "stdio",
                     "-netdev", f"tap,id=n0,ifname={TAP},script=no,downscript=no",
                     "-device", f"{nic_device(kind.machine)}{kind.nic_options},netdev=n0", *kind.args_for(net)]
        self.workdir = Path(workdir)
        self.netns = netns
        self.lines = []  # (seconds since launch, text)
        self.cond = threading.Condition()
        self.proc = None
        self.t0 = None
        self.first_output = None  # seconds since launch of the first serial byte (OVMF's console)
        self.eof = False

    def start(self):
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.serial_path = self.workdir / f"{self.name}.serial.log"
        self.stderr_path = self.workdir / f"{self.name}.stderr"
        with open(self.stderr_path, "wb") as err:
            self.t0 = time.monotonic()
            self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                         stderr=err, preexec_fn=child_setup(self.netns))
        threading.Thread(target=self._read, daemon=True).start()
        return self

    def _read(self):
        pending = b""
        with open(self.serial_path, "wb") as copy:
            while True:
                chunk = os.read(self.proc.stdout.fileno(), 65536)
                now = time.monotonic() - self.t0
                if not chunk:
                    break
                if self.first_output is None:
                    self.first_output = now
                copy.write(chunk)
                pending += chunk
                *complete, pending = pending.split(b"\n")
                if complete:
                    with self.cond:
                        for raw in complete:
                            self.lines.append((now, _plain(raw)))
                        self.cond.notify_all()
        with self.cond:
            if pending:
                self.lines.append((time.monotonic() - self.t0, _plain(pending)))
            self.eof = True
            self.cond.notify_all()

    def wait_line(self, regex, timeout):
        """Wait for a serial line matching regex; return (seconds since launch, match).
        A firmware exception fails at once."""
        deadline = time.monotonic() + timeout
        seen = 0
        with self.cond:
            while True:
                for when, text in self.lines[seen:]:
                    m = regex.search(text)
                    if m:
                        return when, m
                    if FIRMWARE_FAULT.search(text):
                        raise BenchError(f"{self.name}: the firmware faulted; {self.report()}")
                seen = len(self.lines)
                if self.eof:
                    raise BenchError(f"{self.name}: QEMU ended before /{regex.pattern}/ "
                                     f"(status {self.proc.wait()}); {self.report()}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise BenchError(f"{self.name}: no /{regex.pattern}/ within {timeout:g} s; {self.report()}")
                self.cond.wait(min(left, 0.5))

    def serial_text(self):
        with self.cond:
            return "\n".join(text for _, text in self.lines)

    def report(self):
        tail = self.serial_text()[-1500:].replace("\x1b", "\\e")
        try:
            err = self.stderr_path.read_text(errors="replace").strip()[-500:]
        except OSError:
            err = ""
        return f"serial log {self.serial_path} ends:\n{tail}\nQEMU stderr: {err or '(empty)'}"

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.kill()
        return False


# -- building the guests ---------------------------------------------------------------

def run(cmd, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if p.returncode != 0:
        raise BenchError(f"command failed ({p.returncode}): {' '.join(map(str, cmd))}\n{p.stdout}{p.stderr}")
    return p.stdout


def build_empty_efi():
    """scripts/bench_empty_efi.c linked the way the Makefile links kernel.efi."""
    src = REPO / "scripts" / "bench_empty_efi.c"
    out = BUILD / "empty.efi"
    if out.exists() and out.stat().st_mtime > src.stat().st_mtime:
        return out
    BUILD.mkdir(parents=True, exist_ok=True)
    obj, so = BUILD / "empty.o", BUILD / "empty.so"
    run(["gcc", "-std=gnu11", "-O2", "-Wall", "-Werror", "-ffreestanding", "-fpic", "-fshort-wchar",
         "-fno-stack-protector", "-mno-red-zone", "-mgeneral-regs-only", "-DGNU_EFI_USE_MS_ABI",
         f"-I{EFI_INC}", f"-I{EFI_INC}/x86_64", "-c", str(src), "-o", str(obj)])
    run(["ld", "-nostdlib", "-znocombreloc", "-shared", "-Bsymbolic", "-T", f"{EFI_LIB}/elf_x86_64_efi.lds",
         f"{EFI_LIB}/crt0-efi-x86_64.o", str(obj), f"-L{EFI_LIB}", "-lgnuefi", "-o", str(so)])
    run(["objcopy", "-j", ".text", "-j", ".sdata", "-j", ".data", "-j", ".dynamic", "-j", ".dynsym",
         "-j", ".rel", "-j", ".rela", "-j", ".reloc", "--target", "efi-app-x86_64", "--subsystem=10",
         str(so), str(out)])
    return out


def build_empty_pvh():
    """scripts/bench_empty_pvh.S as its header says: 32-bit code linked at 1 MiB."""
    src = REPO / "scripts" / "bench_empty_pvh.S"
    out = BUILD / "empty-pvh.elf"
    if out.exists() and out.stat().st_mtime > src.stat().st_mtime:
        return out
    BUILD.mkdir(parents=True, exist_ok=True)
    obj = BUILD / "empty-pvh.o"
    run(["gcc", "-c", "-m32", str(src), "-o", str(obj)])
    run(["ld", "-m", "elf_i386", "-Ttext=0x100000", "-e", "start", str(obj), "-o", str(out)])
    return out


class Cpio:
    """A newc ("070701") archive, enough for an initramfs (no root needed for
    /dev/console). Parent directories are added before the first entry in them
    (the kernel's unpacker creates none)."""

    def __init__(self):
        self.parts = []
        self.ino = 1
        self.dirs = set()

    def add(self, name, mode, data=b"", rdev=(0, 0), mtime=0):
        parent = os.path.dirname(name)
        if parent and parent not in self.dirs:
            self.dir(parent)
        if stat.S_ISDIR(mode):
            self.dirs.add(name)
        name_b = name.encode() + b"\0"
        fields = [self.ino, mode, 0, 0, 1, int(mtime), len(data), 0, 0, rdev[0], rdev[1], len(name_b), 0]
        self.ino += 1
        header = b"070701" + b"".join(b"%08x" % f for f in fields)
        self.parts.append(header + name_b + b"\0" * (-(110 + len(name_b)) % 4))
        self.parts.append(data + b"\0" * (-len(data) % 4))

    def dir(self, name):
        if name not in self.dirs:
            self.add(name, stat.S_IFDIR | 0o755)

    def file(self, name, data, mode=0o644, mtime=0):
        self.add(name, stat.S_IFREG | mode, data, mtime=mtime)

    def symlink(self, name, target):
        self.add(name, stat.S_IFLNK | 0o777, target.encode())

    def bytes(self):
        trailer = Cpio()
        trailer.ino = self.ino
        trailer.add("TRAILER!!!", 0)
        return b"".join(self.parts + trailer.parts)


# -- the guests as the bench sees them ----------------------------------------------------

class GuestKind:
    """How to boot one guest: args_for(net) gives its -kernel/-initrd/-append for
    an address mode ("static" or "dhcp"; for ours also "quiet": static with
    log=quiet); machine and boot path go to scripts/qemu_args.py (another boot
    path or machine is another GuestKind).
    The boot path names the firmware: "efi" is OVMF, "pvh" QEMU's own (qboot on
    microvm, SeaBIOS on q35/pc), which starts a PVH kernel and a Linux bzImage alike."""

    def __init__(self, key, label, ready, args_for, machine="q35", boot="efi", nic_options=""):
        self.key = key  # "ours" / "linux" / "empty"
        self.label = label
        self.ready = ready
        self.args_for = args_for
        self.machine = machine
        self.boot = boot
        self.nic_options = nic_options  # appended to the NIC's -device (",packed=on")

    @property
    def tag(self):
        """A file-name-safe name: the key, then machine and boot path unless OVMF on q35."""
        name = self.machine.split(",")[0]
        return self.key if (name, self.boot) == ("q35", "efi") else f"{self.key}-{name}-{self.boot}"


def where(machine, boot):
    """What a label adds to say where a guest boots: nothing for OVMF on q35."""
    name = machine.split(",")[0]
    if boot == "efi":
        return "" if name == "q35" else f" on {name}"
    return f" on {name}" + ("" if name == "microvm" else " (SeaBIOS)")


def ours_kind(kernel, machine="q35", boot="efi", initrd=None, nic_options="", what=""):
    """initrd: a site archive (newc cpio) to serve; nic_options: for the NIC's
    -device; what: said in the label (", packed ring")."""
    def args(net):
        cmdline = "ip=dhcp" if net == "dhcp" else f"ip={GUEST_ADDR}/24 gw={HOST_ADDR}"
        if net == "quiet":  # static, and only warnings and READY on the console (DESIGN.md log=quiet)
            cmdline += " log=quiet"
        return ["-kernel", str(kernel), *(["-initrd", str(initrd)] if initrd else []), "-append", cmdline]
    return GuestKind("ours", "unikernel" + what + where(machine, boot), OURS_READY, args, machine, boot, nic_options)


def empty_kind(image, machine="q35", boot="efi"):
    label = {"efi": "empty EFI app", "pvh": "empty PVH kernel"}[boot] + where(machine, boot)
    return GuestKind("empty", label, EMPTY_READY[boot], lambda net: ["-kernel", str(image)], machine, boot)
