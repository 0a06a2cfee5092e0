"""PCI enumeration, BARs, MSI-X and INTx routing, read from the boot lines and
the pci self-test, on q35 and pc."""

import re

import pytest

import ktap
from qemu import EXIT_SUCCESS, TIMESTAMP

NIC_SLOT = {"q35": "00:02.0", "pc": "00:03.0"}
# INTx of the default NIC: q35 slot 2 pin A -> GSI 20 + (2 + 0) % 4; pc slot 3 -> PIRQC -> IRQ 11.
NIC_GSI = {"q35": 22, "pc": 11}
HEX = r"0x[0-9a-f]+"


def nic(netdev="n0", **props):
    extra = "".join(f",{k.replace('_', '-')}={v}" for k, v in props.items())
    return ("-netdev", f"user,id={netdev},restrict=on", "-device", f"virtio-net-pci,netdev={netdev}{extra}")


def pci_line(g, address):
    match = re.search(rf"^{TIMESTAMP}pci: {re.escape(address)} (.*)$", g.serial(), re.MULTILINE)
    if not match:
        g.fail(f"no pci line for {address}")
    return match.group(1)


@pytest.mark.parametrize("machine", ["q35", "pc"])
def test_transitional_nic(guest, machine):
    g = guest(machine)
    g.wait_for("init: done")
    text = pci_line(g, NIC_SLOT[machine])
    assert re.match(rf"1af4:1000 rev 00 class 0200 virtio-net msix=4 bar0=io@{HEX}/32 bar1=mem32@{HEX}/4K "
                    rf"bar4=mem64p@{HEX}/16K intA=gsi{NIC_GSI[machine]}$", text), text
    access = "ECAM at 0xb0000000" if machine == "q35" else "ports 0xCF8/0xCFC"
    assert f"pci: config access through {access}" in g.serial()


@pytest.mark.parametrize("machine", ["q35", "pc"])
def test_modern_nic(guest, machine):
    g = guest(machine, nic=nic(disable_legacy="on"))
    g.wait_for("init: done")
    text = pci_line(g, NIC_SLOT[machine])
    assert re.match(rf"1af4:1041 rev 01 class 0200 virtio-net msix=4 bar1=mem32@{HEX}/4K bar4=mem64p@{HEX}/16K "
                    rf"intA=gsi{NIC_GSI[machine]}$", text), text


@pytest.mark.parametrize("machine", ["q35", "pc"])
def test_no_msix_routes_intx(guest, machine):
    g = guest(machine, nic=nic(vectors=0), cmdline="selftest=pci")
    status, results = ktap.run(g)
    text = pci_line(g, NIC_SLOT[machine])
    assert "msix" not in text and f"intA=gsi{NIC_GSI[machine]}" in text, text
    assert re.search(rf"pci: {re.escape(NIC_SLOT[machine])}: INTx pin A -> GSI {NIC_GSI[machine]} "
                     rf"\(level, active high\) -> vector {HEX}", g.serial()), g.report("no INTx routing line")
    assert results["pci"][0], g.report(results["pci"][1])
    assert status == EXIT_SUCCESS


@pytest.mark.parametrize("machine", ["q35", "pc"])
def test_several_nics_get_distinct_or_shared_vectors(guest, machine):
    """Slots 3 and 7 share a line on both machines (q35: GSI 23; pc: IRQ 11);
    the self-test checks INTx devices share a vector exactly when they share a
    line and MSI-X vectors never collide."""
    nics = (nic("n0", vectors=0, addr=3) + nic("n1", vectors=0, addr=7, disable_legacy="on")
            + nic("n2", addr=4))
    g = guest(machine, nic=nics, cmdline="selftest=pci")
    status, results = ktap.run(g)
    vectors = dict(re.findall(r"^# pci: (\S+) INTx, 1 vector\(s\), first (0x[0-9a-f]+)", g.serial(), re.MULTILINE))
    assert vectors.get("00:03.0") and vectors.get("00:03.0") == vectors.get("00:07.0"), g.report(str(vectors))
    assert re.search(r"^# pci: 00:04\.0 MSI-X, 3 vector\(s\)", g.serial(), re.MULTILINE), g.report("no MSI-X NIC")
    assert results["pci"][0], g.report(results["pci"][1])
    assert status == EXIT_SUCCESS


def test_nic_behind_pcie_root_port(guest):
    """Behind a root port in slot 7 the NIC is 01:00.0, modern-only, and its
    pin A reaches GSI 23 through the bridge swizzle."""
    args = ("-device", "pcie-root-port,id=rp1,bus=pcie.0,addr=7,chassis=1",
            "-netdev", "user,id=n0,restrict=on", "-device", "virtio-net-pci,netdev=n0,bus=rp1,vectors=0")
    g = guest("q35", nic=args)
    g.wait_for("init: done")
    assert re.match(r"1b36:000c .*pcie-root-port", pci_line(g, "00:07.0"))
    text = pci_line(g, "01:00.0")
    assert text.startswith("1af4:1041 ") and text.endswith("intA=gsi23"), text


@pytest.mark.parametrize("machine,model", [("q35", "8086:10d3 rev 00 class 0200 e1000e"),
                                           ("pc", "8086:100e rev 03 class 0200 e1000")])
def test_a_nic_without_a_driver_is_named(guest, machine, model):
    """A bare `-nic user` gives QEMU's default NIC, an Intel one: the console
    says that it is not driven and what to give QEMU, and init still ends."""
    g = guest(machine, nic=("-nic", "user,restrict=on"))
    g.wait_for("init: done")
    slot = NIC_SLOT[machine]
    assert pci_line(g, slot).startswith(model), pci_line(g, slot)
    log = g.serial()
    assert f"virtio-net: {slot} {model.split()[0]} is a network controller without a driver here" in log, \
        g.report("the Intel NIC was not named")
    assert "net: no network interface: nothing to serve on (needs a virtio-net device" in log, \
        g.report("no line saying what is missing")
    assert "PANIC" not in log and "READY" not in log, g.report("PANIC or READY without a NIC")
