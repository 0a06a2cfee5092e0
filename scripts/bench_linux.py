"""The bench's Linux peer, assembled from Debian packages only.

Every package is fetched with `apt-get download` into build/bench/debs/ and
unpacked with `dpkg-deb -x` under build/bench/pkgs/ (never installed, and
nothing is taken from the host's own /lib): the kernel linux-image-amd64
points at, nginx, inetutils-inetd, and the shared libraries their ELF files
name in NEEDED, looked up in the library packages (Section libs) each
package depends on. The initramfs (newc cpio, gzip) holds busybox-static
(the shell, `ip`, DHCP client; the host's busybox-static package), the
virtio-net modules (both transports: virtio-pci for q35, virtio-mmio for
microvm), those programs and libraries, and an init that configures eth0 and
starts:
  - nginx on port 80, one worker, configured as a fast static server
    (NGINX_CONF), serving /www;
  - inetutils-inetd's internal echo on TCP and UDP port 7;
  - busybox httpd on port 8080, only for /cgi-bin/stats (its interrupt and
    frame counters, read between measurements, never during one).
What it serves arrives as a second archive appended to the initramfs
(site_archive): a directory unpacked into /www, so the bench serves our
guest's own `/` page from it now and a user's site directory later.
"""

import gzip
import os
import re
import shutil
import stat
from pathlib import Path

from bench_guests import BUILD, BUSYBOX, GUEST_ADDR, HOST_ADDR, BenchError, Cpio, GuestKind, log, run, where

DEBS = BUILD / "debs"
PKGS = BUILD / "pkgs"
BASE_INITRD = BUILD / "linux-initramfs.cpio.gz"

LINUX_READY = re.compile(r"^LINUX-READY ip=(\S+)")

# (package, path in it) of every program the peer runs from Debian's archive.
PROGRAMS = [("nginx", "usr/sbin/nginx"), ("inetutils-inetd", "usr/sbin/inetutils-inetd")]
# Plain files taken from packages: (package, path in it, path in the initramfs).
DATA_FILES = [("nginx-common", "etc/nginx/mime.types", "etc/nginx/mime.types")]
# Where a library package keeps its shared objects, searched in this order.
LIB_DIRS = ["lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu", "lib64", "lib", "usr/lib"]

# Load order of the modules virtio-net needs (their modinfo `depends=` are
# checked at build time, so a new kernel with other dependencies fails loudly).
# The init loads the transport the machine has: virtio-pci where there is PCI
# (q35), virtio-mmio where ACPI lists a virtio-mmio window (microvm's LNRO0005).
LINUX_MODULES = ["failover", "net_failover", "virtio_ring", "virtio", "virtio_mmio", "virtio_pci_modern_dev",
                 "virtio_pci_legacy_dev", "virtio_pci", "virtio_net"]

# A static server as a user tunes one: one worker for the one CPU, keep-alive
# with no practical per-connection request limit, sendfile, no Nagle delay, no
# access log, open files cached; errors to the console. nginx runs as a daemon
# (master and worker, the default): the init's `nginx` returns once it listens.
NGINX_CONF = """\
user nobody nogroup;
worker_processes 1;
error_log stderr warn;
pid /run/nginx.pid;
events {
    worker_connections 1024;
}
http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    charset utf-8;
    sendfile on;
    tcp_nodelay on;
    keepalive_timeout 65;
    keepalive_requests 1000000;
    access_log off;
    open_file_cache max=1000 inactive=60s;
    server {
        listen 80 default_server;
        listen [::]:80 default_server;
        root /www;
        index index.html;
    }
}
"""

# inetd's internal echo (RFC 862) over TCP and UDP.
INETD_CONF = """\
echo stream tcp nowait root internal
echo dgram udp wait root internal
"""

ETC_FILES = {
    "etc/passwd": "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
    "etc/group": "root:x:0:\nnogroup:x:65534:\n",
    "etc/nsswitch.conf": "passwd: files\ngroup: files\nservices: files\nprotocols: files\nhosts: files\n",
    "etc/services": "echo 7/tcp\necho 7/udp\nhttp 80/tcp\n",
    "etc/protocols": "ip 0 IP\ntcp 6 TCP\nudp 17 UDP\n",
    "etc/nginx/nginx.conf": NGINX_CONF,
    "etc/inetd.conf": INETD_CONF,
}

LINUX_INIT = r"""#!/bin/busybox sh
# Init of the bench's Linux peer (written by scripts/bench_linux.py).
/bin/busybox --install -s /bin
export PATH=/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
net=static
for word in $(cat /proc/cmdline); do
    case "$word" in benchnet=*) net=${word#benchnet=} ;; esac
done
for m in @MODULES@; do
    case $m in
    virtio_pci*) [ -n "$(ls /sys/bus/pci/devices)" ] || continue ;;
    virtio_mmio) ls /sys/bus/acpi/devices | grep -q '^LNRO0005:' || continue ;;
    esac
    insmod /lib/modules/$m.ko || echo "init: insmod $m failed"
done
i=0
while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 1000 ]; do usleep 10000; i=$((i+1)); done
ip link set lo up
ip link set eth0 up
if [ "$net" = dhcp ]; then
    udhcpc -i eth0 -s /udhcpc.script -q -f -n -t 30 -T 1 >/dev/null 2>&1 || echo "init: udhcpc failed"
else
    ip addr add @GUEST@/24 dev eth0
    ip route add default via @HOST@
fi
nginx || echo "init: nginx failed"
inetutils-inetd /etc/inetd.conf || echo "init: inetd failed"
httpd -p 8080 -h /stats
# Ready once nginx and inetd listen: TCP 80 and 7 in LISTEN (0A), UDP 7 bound (07).
listening() { grep -q " 00000000:$2 00000000:0000 $3 " /proc/net/$1; }
i=0
until listening tcp 0050 0A && listening tcp 0007 0A && listening udp 0007 07; do
    [ $i -lt 1000 ] || { echo "init: nginx or inetd not listening after 10 s"; exec sleep 1000000; }
    usleep 10000; i=$((i+1))
done
addr=$(ip -4 -o addr show dev eth0 | awk '{print $4}')
echo "LINUX-READY ip=$addr net=$net http=80 echo=7"
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

# The guest's interrupt and packet counters, for interrupts per frame.
STATS_CGI = r"""#!/bin/sh
printf 'Content-Type: text/plain\r\n\r\n'
cat /proc/interrupts /proc/net/dev
"""


# -- Debian packages ------------------------------------------------------------------

_package_infos = {}


def package_info(*packages):
    """The candidate version's fields of `apt-cache show` (Version, Section,
    Depends, ...) of the first package; one apt-cache call asks for all of them
    (each call costs a second or more) and the answers are kept."""
    missing = [p for p in packages if p not in _package_infos]
    if missing:
        for stanza in run(["apt-cache", "show", "--no-all-versions", *missing]).split("\n\n"):
            fields = dict(re.findall(r"^([\w-]+): (.*)$", stanza, re.M))
            if "Package" in fields:
                _package_infos.setdefault(fields["Package"], fields)
    if packages[0] not in _package_infos:
        raise BenchError(f"apt-cache knows no package {packages[0]} (run apt-get update?)")
    return _package_infos[packages[0]]


def unpacked(package):
    """The root of `package` (its candidate version) unpacked under build/bench/pkgs,
    downloaded with `apt-get download` first if it is not in build/bench/debs."""
    info = package_info(package)
    name = f"{package}_{info['Version'].replace(':', '%3a')}_{info['Architecture']}.deb"
    deb = DEBS / name
    if not deb.exists():
        DEBS.mkdir(parents=True, exist_ok=True)
        log(f"downloading {package} {info['Version']} (apt-get download; not installed)")
        run(["apt-get", "download", f"{package}={info['Version']}"], cwd=DEBS, timeout=600)
        if not deb.exists():
            raise BenchError(f"apt-get download {package} produced no {name} in {DEBS}")
    root = PKGS / package
    stamp = root / ".unpacked"
    if not stamp.exists() or stamp.read_text() != name:
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        run(["dpkg-deb", "-x", str(deb), str(root)])
        stamp.write_text(name)
    return root


def library_depends(package):
    """The packages `package` depends on (first alternatives) that are libraries."""
    info = package_info(package)
    depends = info.get("Depends", "") + ", " + info.get("Pre-Depends", "")
    names = list(dict.fromkeys(re.match(r"\s*([\w.+-]+)", d.split("|")[0]).group(1)
                               for d in depends.split(",") if d.strip()))
    package_info(*names)
    return [n for n in names if package_info(n).get("Section", "").split("/")[-1] == "libs"]


def inside(root, rel):
    """rel inside an unpacked package, symlinks followed within the package
    (an absolute link target is relative to the package root)."""
    path = rel.strip("/")
    for _ in range(20):
        full = root / path
        if not full.is_symlink():
            return full if full.exists() else None
        target = os.readlink(full)
        if not target.startswith("/"):
            target = os.path.join(os.path.dirname(path), target)
        path = os.path.normpath(target.lstrip("/"))
    raise BenchError(f"symlink loop at {rel} in {root}")


def elf_dependencies(path):
    """(program interpreter or None, NEEDED sonames) of an ELF file."""
    out = run(["readelf", "-lW", "-dW", str(path)])
    interp = re.search(r"Requesting program interpreter: (\S+)\]", out)
    return (interp.group(1) if interp else None), re.findall(r"\(NEEDED\)\s+Shared library: \[(\S+)\]", out)


def find_library(soname, package, searched):
    """(package, path in it) of soname: in `package`, in a library package
    already searched, else in the library packages `package` depends on."""
    for pkg in [package, *searched, *[d for d in library_depends(package) if d not in searched]]:
        root = unpacked(pkg)
        if pkg not in searched:
            searched.append(pkg)
        for d in LIB_DIRS:
            if inside(root, f"{d}/{soname}"):
                return pkg, f"{d}/{soname}"
    raise BenchError(f"{soname} (needed by {package}) is in none of {', '.join(searched)}")


def program_closure(programs):
    """Every file the programs need to run: {path in the initramfs: source file},
    {link in the initramfs: target} for the program interpreter, and the
    packages they came from."""
    files, links, provided, searched = {}, {}, {}, []
    packages = {package for package, _ in programs}
    package_info(*packages)
    queue = list(programs)
    while queue:
        package, rel = queue.pop(0)
        src = inside(unpacked(package), rel)
        if src is None:
            raise BenchError(f"package {package} has no {rel}")
        files[rel] = src
        interp, needed = elf_dependencies(src)
        if interp:
            needed.append(os.path.basename(interp))
        for soname in needed:
            if soname not in provided:
                provided[soname] = find_library(soname, package, searched)
                queue.append(provided[soname])
                packages.add(provided[soname][0])
        if interp and interp.strip("/") != provided[os.path.basename(interp)][1]:
            links[interp.strip("/")] = "/" + provided[os.path.basename(interp)][1]
    return files, links, packages


# -- the kernel -------------------------------------------------------------------------

def fetch_linux_kernel():
    """The kernel package linux-image-amd64 points at, unpacked: (vmlinuz, modules dir, package)."""
    m = re.search(r"\b(linux-image-[0-9][^\s,]*-amd64)\b", package_info("linux-image-amd64").get("Depends", ""))
    if not m:
        raise BenchError("linux-image-amd64 depends on no kernel package")
    root = unpacked(m.group(1))
    vmlinuz = next(iter(sorted((root / "boot").glob("vmlinuz-*"))), None)
    if vmlinuz is None:
        raise BenchError(f"{m.group(1)} holds no boot/vmlinuz-*")
    return vmlinuz, root / "lib" / "modules" / vmlinuz.name[len("vmlinuz-"):], m.group(1)


def module_depends(path):
    """The `depends=` field of a module's .modinfo section."""
    m = re.search(rb"\x00depends=([^\x00]*)\x00", path.read_bytes())
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


# -- the initramfs -----------------------------------------------------------------------

def build_linux():
    """(vmlinuz, base initramfs, {package: version} of everything in them)."""
    vmlinuz, moddir, kernel_package = fetch_linux_kernel()
    if not BUSYBOX.exists():
        raise BenchError(f"{BUSYBOX} is missing: install busybox-static (scripts/setup does)")
    modules = find_modules(moddir)
    files, links, packages = program_closure(PROGRAMS)
    for package, rel, dest in DATA_FILES:
        files[dest] = inside(unpacked(package), rel)
        packages.add(package)
    versions = {p: package_info(p)["Version"] for p in sorted(packages | {kernel_package})}
    inputs = [Path(__file__), BUSYBOX, *modules.values(), *files.values()]
    if not (BASE_INITRD.exists() and all(BASE_INITRD.stat().st_mtime > p.stat().st_mtime for p in inputs)):
        archive = Cpio()
        for d in ("proc", "sys", "tmp", "run", "var/run", "var/lib/nginx", "www"):
            archive.dir(d)
        archive.add("dev/console", stat.S_IFCHR | 0o600, rdev=(5, 1))
        archive.file("bin/busybox", BUSYBOX.read_bytes(), 0o755)
        init = (LINUX_INIT.replace("@MODULES@", " ".join(LINUX_MODULES))
                .replace("@GUEST@", GUEST_ADDR).replace("@HOST@", HOST_ADDR))
        archive.file("init", init.encode(), 0o755)
        archive.file("udhcpc.script", UDHCPC_SCRIPT.encode(), 0o755)
        archive.file("stats/cgi-bin/stats", STATS_CGI.encode(), 0o755)
        for name, text in ETC_FILES.items():
            archive.file(name, text.encode())
        for name, path in modules.items():
            archive.file(f"lib/modules/{name}.ko", path.read_bytes())
        for dest, src in sorted(files.items()):
            archive.file(dest, src.read_bytes(), 0o755 if os.access(src, os.X_OK) else 0o644)
        for link, target in links.items():
            archive.symlink(link, target)
        BASE_INITRD.write_bytes(gzip.compress(archive.bytes(), compresslevel=9, mtime=0))
    return vmlinuz, BASE_INITRD, versions


def site_archive(directory):
    """A directory as a gzip'd newc archive unpacking into /www (the web root)."""
    archive = Cpio()
    directory = Path(directory)
    for path in sorted(directory.rglob("*")):
        name = f"www/{path.relative_to(directory)}"
        if path.is_dir():
            archive.dir(name)
        elif path.is_file():
            archive.file(name, path.read_bytes(), mtime=path.stat().st_mtime)
    return gzip.compress(archive.bytes(), compresslevel=6, mtime=0)


def initrd_with_site(base, site_dir, out):
    """The base initramfs with the site appended (Linux unpacks concatenated archives in order)."""
    Path(out).write_bytes(Path(base).read_bytes() + site_archive(site_dir))
    return Path(out)


def host_tsc_khz():
    """The host's TSC rate in kHz, as its kernel reports it (the "cpu MHz" of
    /proc/cpuinfo on a constant-TSC CPU): under TCG the guest reads the host's TSC."""
    m = re.search(r"^cpu MHz\s*:\s*([\d.]+)", Path("/proc/cpuinfo").read_text(), re.M)
    if not m:
        raise BenchError("/proc/cpuinfo gives no cpu MHz (the TSC rate Linux needs on microvm)")
    return round(float(m.group(1)) * 1000)


def linux_kind(vmlinuz, initrd, machine="q35", boot="efi"):
    """On microvm, Linux cannot measure its TSC under TCG: the PIT's channel 2 is
    gated by port 0x61, which microvm lacks, and there is no HPET or ACPI PM timer
    (KVM would give the rate through kvmclock). It then stops after "tsc: Marking
    TSC unstable" (no init within 60 s), so it is told the rate (tsc_early_khz=),
    as a hypervisor tells it; our kernel counts on PIT channel 0 instead."""
    extra = f" tsc_early_khz={host_tsc_khz()}" if machine.split(",")[0] == "microvm" else ""

    def args(net):
        append = f"console=ttyS0 quiet panic=-1 benchnet={net}{extra}"
        return ["-kernel", str(vmlinuz), "-initrd", str(initrd), "-append", append]
    return GuestKind("linux", "Linux" + where(machine, boot), LINUX_READY, args, machine, boot)
