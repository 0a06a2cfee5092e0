# Shared QEMU settings for scripts/run and scripts/debug (sourced, not run).
# The base arguments come from scripts/qemu_args.py, which the tests and the
# bench use too; it checks MACHINE, ACCEL and MEMORY and exits 2 on a bad one.
MACHINE=${MACHINE:-q35}
ACCEL=${ACCEL:-tcg}
MEMORY=${MEMORY:-256}
BOOT=${BOOT:-efi}
case "$BOOT" in
efi) KERNEL=${KERNEL:-build/kernel.efi} ;;
pvh) KERNEL=${KERNEL:-build/kernel-pvh.elf} ;;
*) echo "BOOT must be efi or pvh, not '$BOOT'" >&2; exit 2 ;;
esac

[ -f "${DISK:-$KERNEL}" ] || { echo "${DISK:-$KERNEL} is missing: run make first" >&2; exit 2; }

base=$(/usr/bin/python3 scripts/qemu_args.py --boot "$BOOT" --machine "$MACHINE" --accel "$ACCEL" --memory "$MEMORY") || exit 2
NIC_DEVICE=$(/usr/bin/python3 scripts/qemu_args.py --nic-device --machine "$MACHINE")
eval "QEMU_BASE_ARGS=($base)"
if [ -n "${DISK:-}" ]; then
    QEMU_BASE_ARGS+=(-drive "file=$DISK,format=raw")
else
    QEMU_BASE_ARGS+=(-kernel "$KERNEL")
fi
