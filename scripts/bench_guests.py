"""The three guests scripts/bench boots, and how it boots them.

- ours: build/kernel.efi.
- linux: Debian's kernel (linux-image-*-amd64, fetched with `apt-get download`
  and unpacked, never installed) with an initramfs written here: busybox-static,
  the virtio-net modules, an init that configures eth0, starts busybox httpd
  on port 80 and `nc -ll -e cat` on TCP port 7, and prints LINUX-READY.
- empty: an EFI application that prints one line and exits (the firmware floor).

All three get the same QEMU arguments (firmware, machine, CPUs, memory, NIC);
only -kernel/-initrd/-append differ. QEMU's serial console is read through a
pipe by a thread that stamps every line with its arrival time, so a boot time
is measured to the line, not to a polling interval.
"""

import ctypes
import gzip
import os
import re
import shutil
import signal
import stat
import subprocess
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BUILD = REPO / "build" / "bench"
OVMF = "/usr/share/ovmf/OVMF.fd"
BUSYBOX = Path("/bin/busybox")
EFI_INC = "/usr/include/efi"
EFI_LIB = "/usr/lib"

GUEST_ADDR = "10.0.2.15"
HOST_ADDR = "10.0.2.2"
TAP = "tap0"

OURS_READY = re.compile(r"^READY ip=\S+ .* t=(\d+\.\d+)ms")
LINUX_READY = re.compile(r"^LINUX-READY ip=(\S+)")
EMPTY_READY = re.compile(r"^EMPTY-EFI READY")

# Load order of the modules virtio-net needs (their modinfo `depends=` are
# checked at build time, so a new kernel with other dependencies fails loudly).
LINUX_MODULES = ["failover", "net_failover", "virtio_ring", "virtio", "virtio_pci_modern_dev",
                 "virtio_pci_legacy_dev", "virtio_pci", "virtio_net"]

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

def qemu_base_args(memory, accel="tcg", monitor="none"):
    """The arguments every guest shares (scripts/qemu-common.sh, tests/system/qemu.py)."""
    return ["qemu-system-x86_64", "-machine", "q35", "-accel", accel, "-smp", "1,maxcpus=2",
            "-m", str(memory), "-bios", OVMF, "-display", "none", "-no-reboot", "-monitor", monitor,
            "-serial", "stdio", "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
            "-netdev", f"tap,id=n0,ifname={TAP},script=no,downscript=no",
            "-device", "virtio-net-pci,netdev=n0"]


_ESCAPES = re.compile(r"\x1b\[[0-9;=?]*[A-Za-z]|\r")


def _plain(raw):
    """A serial line without the firmware's terminal escapes (OVMF clears the
    screen without a newline, so they prefix the guest's first line)."""
    return _ESCAPES.sub("", raw.decode("utf-8", "replace"))


class Qemu:
    """One QEMU run whose serial lines are stamped on arrival (seconds since launch)."""

    def __init__(self, name, guest_args, workdir, netns, memory=256, accel="tcg", monitor="none"):
        self.name = name
        self.args = qemu_base_args(memory, accel, monitor) + list(guest_args)
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
        """Wait for a serial line matching regex; return (seconds since launch, match)."""
        deadline = time.monotonic() + timeout
        seen = 0
        with self.cond:
            while True:
                for when, text in self.lines[seen:]:
                    m = regex.search(text)
                    if m:
                        return when, m
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


def fetch_linux_kernel():
    """Download (not install) the kernel package linux-image-amd64 points at,
    unpack it under build/bench, and return (vmlinuz, modules dir, version)."""
    debs = BUILD / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    depends = run(["apt-cache", "depends", "linux-image-amd64"])
    m = re.search(r"Depends: (linux-image-[0-9][^\s]*-amd64)\b", depends)
    if not m:
        raise BenchError(f"apt-cache depends linux-image-amd64 names no kernel package:\n{depends}")
    package = m.group(1)
    deb = next(iter(sorted(debs.glob(f"{package}_*.deb"))), None)
    if deb is None:
        log(f"downloading {package} (apt-get download; not installed)")
        run(["apt-get", "download", package], cwd=debs, timeout=600)
        deb = next(iter(sorted(debs.glob(f"{package}_*.deb"))), None)
        if deb is None:
            raise BenchError(f"apt-get download {package} produced no .deb in {debs}")
    root = BUILD / "linux-root"
    stamp = root / ".unpacked"
    if not stamp.exists() or stamp.read_text() != deb.name:
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        run(["dpkg-deb", "-x", str(deb), str(root)])
        stamp.write_text(deb.name)
    vmlinuz = next(iter(sorted((root / "boot").glob("vmlinuz-*"))), None)
    if vmlinuz is None:
        raise BenchError(f"{deb.name} holds no boot/vmlinuz-*")
    version = vmlinuz.name[len("vmlinuz-"):]
    return vmlinuz, root / "lib" / "modules" / version, version


def module_depends(path):
    """The `depends=` field of a module's .modinfo section."""
    data = path.read_bytes()
    m = re.search(rb"\x00depends=([^\x00]*)\x00", data)
    return [d for d in (m.group(1).decode().split(",") if m else []) if d]


def find_modules(moddir):
    found = {}
    for name in LINUX_MODULES:
        hits = [p for p in moddir.rglob(f"{name}.ko*") if p.name in (f"{name}.ko", f"{name}.ko.xz")]
        if len(hits) != 1:
            raise BenchError(f"module {name}: found {hits} under {moddir}")
        if hits[0].suffix == ".xz":
            raise BenchError(f"module {name} is xz-compressed; the initramfs loader expects plain .ko")
        found[name] = hits[0]
    for i, name in enumerate(LINUX_MODULES):
        for dep in module_depends(found[name]):
            if dep not in LINUX_MODULES[:i]:
                raise BenchError(f"module {name} depends on {dep}, which is not loaded before it")
    return found


LINUX_INIT = r"""#!/bin/busybox sh
# Init of the bench's Linux peer (written by scripts/bench_guests.py).
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
net=static; page=1024
for word in $(cat /proc/cmdline); do
    case "$word" in benchnet=*) net=${word#benchnet=} ;; benchpage=*) page=${word#benchpage=} ;; esac
done
for m in @MODULES@; do insmod /lib/modules/$m.ko || echo "init: insmod $m failed"; done
i=0
while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 1000 ]; do usleep 10000; i=$((i+1)); done
ip link set lo up
ip link set eth0 up
mkdir -p /www/cgi-bin
head -c "$page" /dev/zero | tr '\0' 'x' > /www/index.html
if [ "$net" = dhcp ]; then
    udhcpc -i eth0 -s /udhcpc.script -q -f -n -t 30 -T 1 >/dev/null 2>&1 || echo "init: udhcpc failed"
else
    ip addr add @GUEST@/24 dev eth0
    ip route add default via @HOST@
fi
httpd -p 80 -h /www
nc -ll -p 7 -e cat &
addr=$(ip -4 -o addr show dev eth0 | awk '{print $4}')
echo "LINUX-READY ip=$addr net=$net page=$page http=80 echo=7"
while true; do sleep 3600; done
"""

UDHCPC_SCRIPT = r"""#!/bin/sh
case "$1" in
bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/${mask:-24}" dev "$interface"
    for r in $router; do ip route add default via "$r"; break; done ;;
esac
"""

# /cgi-bin/stats: the guest's interrupt and packet counters, for interrupts per packet.
STATS_CGI = r"""#!/bin/sh
printf 'Content-Type: text/plain\r\n\r\n'
cat /proc/interrupts /proc/net/dev
"""


class Cpio:
    """A newc ("070701") archive, enough for an initramfs (no root needed for /dev/console)."""

    def __init__(self):
        self.parts = []
        self.ino = 1

    def add(self, name, mode, data=b"", rdev=(0, 0)):
        name_b = name.encode() + b"\0"
        fields = [self.ino, mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0], rdev[1], len(name_b), 0]
        self.ino += 1
        header = b"070701" + b"".join(b"%08x" % f for f in fields)
        self.parts.append(header + name_b + b"\0" * (-(110 + len(name_b)) % 4))
        self.parts.append(data + b"\0" * (-len(data) % 4))

    def dir(self, name):
        self.add(name, stat.S_IFDIR | 0o755)

    def file(self, name, data, mode=0o644):
        self.add(name, stat.S_IFREG | mode, data)

    def bytes(self):
        trailer = Cpio()
        trailer.ino = self.ino
        trailer.add("TRAILER!!!", 0)
        return b"".join(self.parts + trailer.parts)


def build_linux(page_hint=None):
    """Return (vmlinuz, initramfs, kernel version) for the Linux peer."""
    vmlinuz, moddir, version = fetch_linux_kernel()
    if not BUSYBOX.exists():
        raise BenchError(f"{BUSYBOX} is missing: install busybox-static (scripts/setup does)")
    modules = find_modules(moddir)
    initrd = BUILD / "linux-initramfs.cpio.gz"
    inputs = [Path(__file__), BUSYBOX, *modules.values()]
    if initrd.exists() and all(initrd.stat().st_mtime > p.stat().st_mtime for p in inputs):
        return vmlinuz, initrd, version
    archive = Cpio()
    for d in ("bin", "dev", "proc", "sys", "tmp", "www", "www/cgi-bin", "lib", "lib/modules"):
        archive.dir(d)
    archive.add("dev/console", stat.S_IFCHR | 0o600, rdev=(5, 1))
    archive.file("bin/busybox", BUSYBOX.read_bytes(), 0o755)
    init = (LINUX_INIT.replace("@MODULES@", " ".join(LINUX_MODULES))
            .replace("@GUEST@", GUEST_ADDR).replace("@HOST@", HOST_ADDR))
    archive.file("init", init.encode(), 0o755)
    archive.file("udhcpc.script", UDHCPC_SCRIPT.encode(), 0o755)
    archive.file("www/cgi-bin/stats", STATS_CGI.encode(), 0o755)
    for name, path in modules.items():
        archive.file(f"lib/modules/{name}.ko", path.read_bytes())
    initrd.write_bytes(gzip.compress(archive.bytes(), compresslevel=9, mtime=0))
    return vmlinuz, initrd, version


# -- the guests as the bench sees them ----------------------------------------------------

class GuestKind:
    def __init__(self, key, label, ready, args_for):
        self.key = key  # "ours" / "linux" / "empty"
        self.label = label
        self.ready = ready
        self.args_for = args_for  # (net: "static"|"dhcp", page size) -> extra QEMU args


def ours_kind(kernel):
    def args(net, page=None):
        cmdline = f"ip={GUEST_ADDR}/24 gw={HOST_ADDR}" if net == "static" else "ip=dhcp"
        return ["-kernel", str(kernel), "-append", cmdline]
    return GuestKind("ours", "unikernel", OURS_READY, args)


def linux_kind(vmlinuz, initrd):
    def args(net, page=1024):
        append = f"console=ttyS0 quiet panic=-1 benchnet={net} benchpage={page}"
        return ["-kernel", str(vmlinuz), "-initrd", str(initrd), "-append", append]
    return GuestKind("linux", "Linux", LINUX_READY, args)


def empty_kind(efi):
    return GuestKind("empty", "empty EFI app", EMPTY_READY, lambda net, page=None: ["-kernel", str(efi)])
