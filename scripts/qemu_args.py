#!/usr/bin/python3
"""QEMU's base arguments for every guest of this project, written once.

Used by `make run` and `make debug` (scripts/qemu-common.sh runs this file and
reads the printed arguments), by the system tests (tests/system/qemu.py) and
by the bench (scripts/bench_guests.py), which import it. The callers add what
is theirs: the image (-kernel, -drive, -initrd, -append), the NIC's backend,
serial, monitor and display.

A boot path is a way into the kernel (DESIGN.md, "Two ways in, one kernel"):
  efi  OVMF (-bios) starts an EFI image given with -kernel or a disk's
       EFI/BOOT/BOOTX64.EFI; machines q35 and pc.
  pvh  QEMU's own firmware (qboot on microvm, SeaBIOS's PVH option ROM on
       q35 and pc) starts build/kernel-pvh.elf given with -kernel; no -bios.
       microvm has no PCI unless pcie=on: its NIC is virtio-net-device
       (virtio-mmio), see nic_device().

    scripts/qemu_args.py [--boot efi|pvh] [--machine q35] [--accel tcg] [--memory 256]
prints the arguments as one shell-quoted line (exit 2 and a message on a bad value);
    scripts/qemu_args.py --nic-device --machine microvm
prints the virtio-net device model for that machine.
"""

import argparse
import os
import shlex
import sys

QEMU = "qemu-system-x86_64"
OVMF = "/usr/share/ovmf/OVMF.fd"

# boot path -> (machines it works on, firmware arguments)
BOOT_PATHS = {
    "efi": (("q35", "pc"), ["-bios", OVMF]),
    "pvh": (("microvm", "q35", "pc"), []),
}
KERNELS = {"efi": "build/kernel.efi", "pvh": "build/kernel-pvh.elf"}
ACCELS = ("tcg", "kvm")

# The kernel ends QEMU with a status through this device: (value << 1) | 1.
DEBUG_EXIT = "isa-debug-exit,iobase=0xf4,iosize=0x04"


class QemuArgsError(ValueError):
    """A value QEMU would refuse or that cannot work here; the message says which."""


def base_args(machine="q35", accel="tcg", memory=256, boot="efi", debug_exit=True):
    """The arguments every guest shares, as a list (without the QEMU binary).
    debug_exit=False leaves out isa-debug-exit, as a user's QEMU or another
    monitor has none: a PANIC then halts, or restarts with panic=N."""
    if boot not in BOOT_PATHS:
        raise QemuArgsError(f"boot must be one of {', '.join(BOOT_PATHS)}, not '{boot}'")
    machines, firmware = BOOT_PATHS[boot]
    if machine.split(",")[0] not in machines:
        raise QemuArgsError(f"MACHINE must be {' or '.join(machines)}, not '{machine}'")
    if accel not in ACCELS:
        raise QemuArgsError(f"ACCEL must be tcg or kvm, not '{accel}'")
    # KVM is opt-in: on the build machines /dev/kvm exists but guests die with
    # "KVM internal error", so TCG is the default and kvm must be asked for.
    if accel == "kvm" and not os.access("/dev/kvm", os.R_OK | os.W_OK):
        raise QemuArgsError("ACCEL=kvm but /dev/kvm is not usable here; use ACCEL=tcg")
    if not str(memory).isdigit() or int(memory) == 0:
        raise QemuArgsError(f"MEMORY must be a size in MiB, not '{memory}'")
    for path in firmware[1::2]:
        if not os.path.isfile(path):
            raise QemuArgsError(f"{path} is missing: run scripts/setup")
    # -smp 1,maxcpus=2: with room for a second vCPU, QEMU 7.2's TCG keeps the
    # guest's memory barriers, which it drops for a single-vCPU machine; virtio's
    # notification handshake needs them (docs/virtio.md). The guest has one CPU.
    return ["-machine", machine, "-accel", accel, "-smp", "1,maxcpus=2", "-m", str(memory), *firmware,
            "-no-reboot", *(["-device", DEBUG_EXIT] if debug_exit else [])]


def nic_device(machine):
    """The virtio-net device model for a machine: virtio-mmio on microvm
    (unless it has pcie=on), PCI everywhere else."""
    options = machine.split(",")
    if options[0] == "microvm" and "pcie=on" not in options:
        return "virtio-net-device"
    return "virtio-net-pci"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--boot", default="efi")
    ap.add_argument("--machine", default="q35")
    ap.add_argument("--accel", default="tcg")
    ap.add_argument("--memory", default="256")
    ap.add_argument("--nic-device", action="store_true", help="print the virtio-net device model for --machine")
    opts = ap.parse_args()
    if opts.nic_device:
        print(nic_device(opts.machine))
        return 0
    try:
        print(shlex.join(base_args(opts.machine, opts.accel, opts.memory, opts.boot)))
    except QemuArgsError as e:
        print(e, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
