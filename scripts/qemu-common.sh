# Shared QEMU settings for scripts/run and scripts/debug (sourced, not run).
# The base arguments come from scripts/qemu_args.py, which the tests and the
# bench use too; it checks MACHINE, ACCEL and MEMORY and exits 2 on a bad one.
MACHINE=${MACHINE:-q35}
ACCEL=${ACCEL:-tcg}
MEMORY=${MEMORY:-256}
KERNEL=${KERNEL:-build/kernel.efi}

[ -f "${DISK:-$KERNEL}" ] || { echo "${DISK:-$KERNEL} is missing: run make first" >&2; exit 2; }

base=$(/usr/bin/python3 scripts/qemu_args.py --machine "$MACHINE" --accel "$ACCEL" --memory "$MEMORY") || exit 2
eval "QEMU_BASE_ARGS=($base)"
if [ -n "${DISK:-}" ]; then
    QEMU_BASE_ARGS+=(-drive "file=$DISK,format=raw")
else
    QEMU_BASE_ARGS+=(-kernel "$KERNEL")
fi
