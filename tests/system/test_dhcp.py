"""DHCP from a real server: dnsmasq in the test namespace (the server of
libvirt's default network and of OpenStack's DHCP agents) hands out
2-minute leases and, to a client that asks, an interface MTU of 1400
(RFC 2132 option 26: how an overlay network smaller than 1500 bytes, such
as OpenStack's VXLAN at 1450, tells its guests). The guest asks for it and
takes it: it offers an MSS of 1360 and sends no larger TCP segment (the
device's segmentation offload included), an answer larger than 1400 bytes
leaves in fragments, while a 1500-byte packet is still received (the
device carries 1500); it renews its lease at T1 and stays reachable.
A server sending less than 576 is not believed. Needs root and dnsmasq."""

import re
import shutil
import socket
import subprocess
import time

import pytest

from netns import TAP, PrivateNetwork, have_root
from test_ctrl import Sniffer
from test_mtu import sniffed_echo
from test_services import check_healthy, expect, inside, name_pcap, ping, start_guest

pytestmark = [pytest.mark.skipif(not have_root(), reason="needs root for network namespaces and tap devices"),
              pytest.mark.skipif(not shutil.which("dnsmasq"), reason="SKIP: dnsmasq missing (scripts/setup installs it)")]

LINK_MTU = 1400
READY_DHCP = r"^READY ip=(10\.0\.2\.1[0-4]\d) "


class Dnsmasq:
    """dnsmasq serving DHCP on the tap, its log in the test's folder."""

    def __init__(self, net, workdir, *options):
        self.log_path = workdir / "dnsmasq.log"
        self.proc = subprocess.Popen(
            [*net.prefix, "dnsmasq", "--no-daemon", "--log-dhcp", "--no-ping", "--port=0", f"--interface={TAP}",
             "--bind-interfaces", "--dhcp-range=10.0.2.100,10.0.2.149,2m", f"--dhcp-leasefile={workdir}/leases",
             f"--pid-file={workdir}/dnsmasq.pid", *options],
            stdout=open(self.log_path, "w"), stderr=subprocess.STDOUT)

    def log(self):
        return self.log_path.read_text(errors="replace")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def boot(request, tmp_path, net, *options):
    server = Dnsmasq(net, tmp_path, *options)
    request.addfinalizer(server.stop)
    g = start_guest(tmp_path, net, cmdline="ip=dhcp", snaplen=160)
    request.addfinalizer(g.kill)
    name_pcap(request, g)
    m = g.wait_for(READY_DHCP, timeout=90)
    return g, server, m.group(1)


def test_mtu_and_renewal_from_dnsmasq(request, tmp_path):
    with PrivateNetwork() as net:
        subprocess.run([*net.prefix, "ip", "link", "set", TAP, "mtu", str(LINK_MTU)], check=True, timeout=10)
        # --dhcp-option, not -force: dnsmasq sends option 26 only to a client that asks.
        g, server, addr = boot(request, tmp_path, net, f"--dhcp-option=26,{LINK_MTU}")
        expect(g, re.search(r"requested options: .*26:mtu", server.log()), "the guest did not ask for the MTU")
        expect(g, re.search(rf"net: en0: mtu {LINK_MTU} from DHCP \(the device carries 1500\)", g.serial()),
               "no 'mtu 1400 from DHCP' line")
        # TCP both ways in segments of at most 1360 bytes, large ones cut by the device included.
        sniffer = sniffed_echo(g, net, addr, 2 << 20, seed=26)
        mss = LINK_MTU - 40
        expect(g, sniffer.syn_mss.get("guest") == mss, f"the guest's SYN-ACK offers MSS {sniffer.syn_mss}, not {mss}")
        largest = max(sniffer.from_guest, default=None)
        expect(g, largest == mss, f"largest TCP segment from the guest: {largest}, not {mss}")
        # An echo reply of 1428 bytes: more than the link takes, so the guest fragments it.
        sniffer = Sniffer(net)
        try:
            ping(g, net, "-s", "1400", addr, count=3)
        finally:
            sniffer.close()
        guest_ip = socket.inet_aton(addr)
        sent = [f for f in sniffer.frames if f[12:14] == b"\x08\x00" and len(f) >= 34 and f[26:30] == guest_ip]
        longest = max((len(f) - 14 for f in sent), default=0)
        fragments = sum(1 for f in sent if f[20] & 0x20)  # more fragments
        expect(g, sent and longest <= LINK_MTU and fragments >= 3,
               f"the guest sent IPv4 packets up to {longest} bytes, {fragments} first fragments, over a {LINK_MTU} link")
        # What it receives is still held to the device's 1500: a whole 1500-byte packet is answered.
        subprocess.run([*net.prefix, "ip", "link", "set", TAP, "mtu", "1500"], check=True, timeout=10)
        ping(g, net, "-M", "do", "-s", "1472", addr, count=3)
        # The renewal at T1 (60 s into the lease): a second ACK, the same address and no second MTU line.
        deadline = time.monotonic() + 100
        while len(re.findall(r"DHCPACK\(", server.log())) < 2 and time.monotonic() < deadline:
            time.sleep(1)
        acks = re.findall(r"DHCPACK\(\S+\) (\S+)", server.log())
        expect(g, len(acks) >= 2 and set(acks) == {addr}, f"no renewal of {addr} within 100 s: ACKs {acks}")
        ping(g, net, addr, count=3)
        expect(g, len(re.findall(r"mtu \d+ from DHCP", g.serial())) == 1, "the MTU line again at the renewal")
        check_healthy(g, "after the renewal")


def test_mtu_below_576_not_believed(request, tmp_path):
    with PrivateNetwork() as net:
        g, _, addr = boot(request, tmp_path, net, "--dhcp-option-force=26,500")
        expect(g, re.search(r"DHCP's interface MTU ignored \(2 bytes, value 500; at least 576\)", g.serial()),
               "no line for the MTU ignored")
        with inside(net):
            s = socket.create_connection((addr, 80), timeout=5)
        mss = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG)
        s.close()
        expect(g, mss == 1460, f"MSS {mss} after an MTU of 500 that was to be ignored")
        check_healthy(g, "at the end")
