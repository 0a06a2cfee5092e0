"""The power button, as `virsh shutdown`, QEMU's system_powerdown and a
cloud's "stop" press it (arch/x86_64/acpi_power.h, boot/power.h): the guest
stops taking connections, lets data in flight reach its client, resets what
is left so clients know at once, and powers off, which ends QEMU with status
0. q35 and pc have ACPI's fixed-feature button, microvm a Generic Event
Device; microvm without ACPI has no button at all, and says so. Ctrl-Alt-Del
on the i8042 keyboard (QEMU's sendkey, Firecracker's SendCtrlAltDel; q35 and
pc) stops the same way, then restarts, as Linux does. Needs root (the
namespace and its tap)."""

import socket
import time

import pytest

from netns import GUEST_ADDR, PrivateNetwork, have_root
from test_services import CURL, HELLO, HttpClient, connect, expect, get, inside, run, start_guest, wait_ready

pytestmark = pytest.mark.skipif(not have_root(), reason="needs root for network namespaces and tap devices")

BUTTON = [("pvh", "microvm"), ("pvh", "q35"), ("pvh", "pc"), ("efi", "q35")]
KEYBOARD = [("pvh", "q35"), ("pvh", "pc"), ("efi", "q35")]  # microvm has no i8042
ECHO_BYTES = 64 * 1024


def keep_alive(g, net):
    """A connection that has had its answer and now sits idle."""
    c = HttpClient(connect(net, g=g), g)
    c.send(get("/hello"))
    r = c.response()
    expect(g, r.status == 200 and r.body == HELLO, f"/hello: {r.status_line} {r.body!r}")
    return c


def echo_in_flight(g, net):
    """An echo connection whose answer waits in the guest: a small receive
    buffer here keeps most of ECHO_BYTES unsent or unacknowledged there."""
    with inside(net):
        c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    c.settimeout(10)
    c.connect((GUEST_ADDR, 7))
    payload = bytes(i * 7 % 251 for i in range(ECHO_BYTES))
    c.sendall(payload)
    return c, payload


def stops_after_delivering(tmp_path, boot, machine, found, press, lines):
    """Boots, waits for the console line `found`, then presses twice (the
    second, impatient, changes nothing): the echo owed still arrives whole,
    the idle connection is closed or reset, QEMU ends with status 0
    (soft-off, or a reset under -no-reboot), and each of `lines` is on the
    console once."""
    with PrivateNetwork() as net:
        g = start_guest(tmp_path, net, machine=machine, boot=boot)
        try:
            wait_ready(g)
            g.wait_for(found, timeout=30)
            idle = keep_alive(g, net)
            echo, payload = echo_in_flight(g, net)
            time.sleep(0.3)  # the guest has the bytes and is echoing them into the small window
            g.monitor(press)
            time.sleep(0.3)  # the press is taken: what is owed must still arrive
            g.monitor(press)
            got = b""
            try:
                while len(got) < len(payload):
                    chunk = echo.recv(65536)
                    if not chunk:
                        break
                    got += chunk
            except OSError as e:
                g.fail(f"echo after the press: {e!r} after {len(got)} of {len(payload)} bytes")
            expect(g, got == payload, f"echo after the press: {len(got)} of {len(payload)} bytes, "
                   f"{'the same' if payload.startswith(got) else 'different'}")
            # Closed or, as the guest does it, reset before the end: the client knows at once.
            expect(g, idle.closed_by_server(timeout=10),
                   f"the idle keep-alive connection was neither closed nor reset at the end (got {idle.buf!r})")
            status = g.wait_exit(timeout=30)
            expect(g, status == 0, f"QEMU exited with {status}, expected 0")
            log = g.serial()
            for line in lines:
                expect(g, log.count(line) == 1, f"'{line}' {log.count(line)} times on the console, expected once")
            expect(g, "PANIC" not in log, "PANIC on the console")
        finally:
            g.kill()


@pytest.mark.parametrize("boot,machine", BUTTON, ids=[f"{b}-{m}" for b, m in BUTTON])
def test_power_button_delivers_then_powers_off(tmp_path, boot, machine):
    stops_after_delivering(tmp_path, boot, machine, r"acpi: power button: ", "system_powerdown", (
        "power: the power button: listeners closed", "power: every response delivered", "acpi: soft-off (S5"))


@pytest.mark.parametrize("boot,machine", KEYBOARD, ids=[f"{b}-{m}" for b, m in KEYBOARD])
def test_ctrl_alt_del_delivers_then_restarts(tmp_path, boot, machine):
    """QEMU's `sendkey ctrl-alt-delete` through the i8042 (scan code set 1,
    translated, as the firmware leaves it; Firecracker's set 2 is in the unit
    tests): the same stop as the button's, then a restart, which -no-reboot
    turns into QEMU's end."""
    stops_after_delivering(tmp_path, boot, machine, r"i8042: keyboard on GSI 1, scan code set 1: Ctrl-Alt-Del restarts",
                           "sendkey ctrl-alt-delete", (
                               "power: Ctrl-Alt-Del: listeners closed", "power: every response delivered",
                               "power: restarting"))


def test_no_button_without_acpi(tmp_path):
    """microvm,acpi=off has neither PM1 registers nor a Generic Event
    Device, nor an i8042: the console says so, and a press or Ctrl-Alt-Del
    changes nothing."""
    with PrivateNetwork() as net:
        g = start_guest(tmp_path, net, machine="microvm,acpi=off", boot="pvh")
        try:
            wait_ready(g)
            g.wait_for(r"acpi: no power button: ", timeout=30)
            g.wait_for(r"i8042: none: no Ctrl-Alt-Del", timeout=30)
            g.monitor("system_powerdown")
            g.monitor("sendkey ctrl-alt-delete")
            time.sleep(1.0)
            expect(g, g.running, "QEMU ended on a press or keys the guest cannot have seen")
            r = run(net, *CURL, f"http://{GUEST_ADDR}/hello")
            expect(g, r.returncode == 0 and r.stdout == HELLO, f"after the press: {r}")
        finally:
            g.kill()
