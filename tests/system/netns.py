"""A private test network: a network namespace holding a tap device at
10.0.2.2/24 for the guest at 10.0.2.15 (DESIGN.md, "Test network").

All traffic stays inside the namespace; its name is unique per run so runs
can share a machine; it is deleted on exit, whatever happened, and one left
by a run that was killed outright is deleted by the next. Needs root.
"""

import itertools
import os
import re
import subprocess

HOST_ADDR = "10.0.2.2"
GUEST_ADDR = "10.0.2.15"
TAP = "tap0"
GUEST_STATIC_CMDLINE = f"ip={GUEST_ADDR}/24 gw={HOST_ADDR}"

_counter = itertools.count()
_reaped = False


def _reap_stale():
    """Deletes the namespaces of runs that were killed (SIGKILL, a lost
    machine) before their own cleanup could: named for a process that is
    gone, with nothing running inside. Once per process."""
    global _reaped
    if _reaped:
        return
    _reaped = True
    try:
        names = os.listdir("/run/netns")
    except OSError:
        return
    for name in names:
        m = re.fullmatch(r"ukt-(\d+)-\d+", name)
        if not m or os.path.exists(f"/proc/{m.group(1)}"):
            continue
        pids = subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True, timeout=10)
        if pids.returncode == 0 and not pids.stdout.strip():
            subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=30)


def have_root():
    return os.geteuid() == 0


class PrivateNetwork:
    """with PrivateNetwork() as net: guest(prefix=net.prefix, nic=net.nic()) ..."""

    def __init__(self):
        self.name = f"ukt-{os.getpid()}-{next(_counter)}"

    def _ip(self, *args):
        subprocess.run(["ip", *args], check=True, capture_output=True, text=True, timeout=30)

    def __enter__(self):
        _reap_stale()
        self._ip("netns", "add", self.name)
        try:
            self._ip("-n", self.name, "link", "set", "lo", "up")
            self._ip("-n", self.name, "tuntap", "add", TAP, "mode", "tap")
            # No duplicate address detection on the tap: its IPv6 link-local
            # address would turn valid a second or two after QEMU opens the
            # tap, and Chromium takes that for a network change and fails
            # its requests in flight (ERR_NETWORK_CHANGED; test_browser.py
            # lost an image so when the PVH guest was ready that soon).
            subprocess.run(["ip", "netns", "exec", self.name, "sysctl", "-q", "-w",
                            f"net.ipv6.conf.{TAP}.accept_dad=0"], check=True, capture_output=True, timeout=30)
            self._ip("-n", self.name, "addr", "add", f"{HOST_ADDR}/24", "dev", TAP)
            self._ip("-n", self.name, "link", "set", TAP, "up")
        except Exception:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def close(self):
        # Processes started with `ip netns exec` in it keep the tap busy, not the
        # namespace: deleting the namespace always succeeds once they are gone.
        subprocess.run(["ip", "netns", "pids", self.name], capture_output=True, timeout=10)
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True, timeout=30)

    @property
    def prefix(self):
        """Command prefix that runs a program inside the namespace."""
        return ("ip", "netns", "exec", self.name)

    def nic(self, netdev="n0", props="", device="virtio-net-pci"):
        """QEMU arguments for a virtio-net NIC on the namespace's tap."""
        return ("-netdev", f"tap,id={netdev},ifname={TAP},script=no,downscript=no",
                "-device", f"{device},netdev={netdev}{props}")

    def run(self, *cmd, timeout=120, check=False):
        """Run a command inside the namespace; returns CompletedProcess (text)."""
        return subprocess.run([*self.prefix, *cmd], capture_output=True, text=True, timeout=timeout, check=check)
