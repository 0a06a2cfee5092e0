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
