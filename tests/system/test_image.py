"""`make image`: the GPT disk image boots from a drive, as on any UEFI
hypervisor, and serves HTTP (through user-mode networking: no root)."""

import socket
import subprocess
import urllib.request

from qemu import KERNEL, REPO


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_disk_image_boots_and_serves(guest, tmp_path):
    image = tmp_path / "disk.img"
    subprocess.run(["/usr/bin/python3", str(REPO / "scripts" / "make-image"), str(KERNEL), str(image)],
                   check=True, capture_output=True, timeout=60)
    port = free_port()
    g = guest("q35", disk=image,
              nic=("-netdev", f"user,id=n0,hostfwd=tcp:127.0.0.1:{port}-:80", "-device", "virtio-net-pci,netdev=n0"))
    g.wait_for(r"^READY ip=10\.0\.2\.15 ", timeout=90)
    assert 'cmdline: ""' in g.serial(), g.report("a disk boot should have an empty command line")
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/hello", timeout=30) as r:
        assert r.status == 200 and r.read() == b"hello\n"


def test_disk_image_with_site_and_command_line(guest, tmp_path):
    """make image SITE=dir CMDLINE="...": site.cpio and cmdline.txt beside BOOTX64.EFI.
    A disk boot has no LoadOptions, so the kernel reads cmdline.txt (a static
    address: READY without the 10 s DHCP wait) and serves the site."""
    import site_gen

    src = tmp_path / "site"
    (src / "docs").mkdir(parents=True)
    (src / "index.html").write_bytes(b"<p>from the disk</p>\n")
    (src / "docs" / "a b.txt").write_bytes(b"spaced\n")
    archive = site_gen.pack(src, tmp_path / "site.cpio")
    image = tmp_path / "disk.img"
    subprocess.run(["/usr/bin/python3", str(REPO / "scripts" / "make-image"), str(KERNEL), str(image),
                    "--site", str(archive), "--cmdline", "ip=10.0.2.15/24 gw=10.0.2.2"],
                   check=True, capture_output=True, timeout=60)
    port = free_port()
    g = guest("q35", disk=image,
              nic=("-netdev", f"user,id=n0,hostfwd=tcp:127.0.0.1:{port}-:80", "-device", "virtio-net-pci,netdev=n0"))
    g.wait_for(r"^READY ip=10\.0\.2\.15 ", timeout=90)
    log = g.serial()
    assert "cmdline: from cmdline.txt beside the image (no LoadOptions)" in log, g.report("cmdline.txt not read")
    assert 'cmdline: "ip=10.0.2.15/24 gw=10.0.2.2 "' in log, g.report("not the command line from the disk")
    assert "DHCP started" not in log, g.report("the static address from cmdline.txt was not used")
    assert "boot: site archive from site.cpio beside the image" in log, g.report("site.cpio not read")
    for path, body in (("/", b"<p>from the disk</p>\n"), ("/docs/a%20b.txt", b"spaced\n")):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as r:
            assert r.status == 200 and r.read() == body, g.report(f"GET {path}")
