# Shared QEMU settings for scripts/run and scripts/debug (sourced, not run).
MACHINE=${MACHINE:-q35}
ACCEL=${ACCEL:-tcg}
MEMORY=${MEMORY:-256}
OVMF=${OVMF:-/usr/share/ovmf/OVMF.fd}
KERNEL=${KERNEL:-build/kernel.efi}

case "$MACHINE" in q35|pc) ;; *) echo "MACHINE must be q35 or pc, not '$MACHINE'" >&2; exit 2 ;; esac

# KVM is opt-in: on the build machines /dev/kvm exists but guests die with
# "KVM internal error", so TCG is the default and ACCEL=kvm must be asked for.
qemu_check_accel() {
    case "$ACCEL" in
    tcg) ;;
    kvm) [ -w /dev/kvm ] || { echo "ACCEL=kvm but /dev/kvm is not usable here; use ACCEL=tcg" >&2; exit 2; } ;;
    *) echo "ACCEL must be tcg or kvm, not '$ACCEL'" >&2; exit 2 ;;
    esac
}

[ -f "${DISK:-$KERNEL}" ] || { echo "${DISK:-$KERNEL} is missing: run make first" >&2; exit 2; }
[ -f "$OVMF" ] || { echo "$OVMF is missing: run scripts/setup" >&2; exit 2; }

# isa-debug-exit lets the kernel end QEMU with a status: (value << 1) | 1.
# -smp 1,maxcpus=2: with room for a second vCPU, QEMU 7.2's TCG keeps the
# guest's memory barriers, which it drops for a single-vCPU machine; virtio's
# notification handshake needs them (docs/virtio.md). The guest still has one CPU.
QEMU_BASE_ARGS=(-machine "$MACHINE" -accel "$ACCEL" -smp 1,maxcpus=2 -m "$MEMORY" -bios "$OVMF"
                -no-reboot -device isa-debug-exit,iobase=0xf4,iosize=0x04)
if [ -n "${DISK:-}" ]; then
    QEMU_BASE_ARGS+=(-drive "file=$DISK,format=raw")
else
    QEMU_BASE_ARGS+=(-kernel "$KERNEL")
fi
