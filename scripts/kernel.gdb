# gdb helpers for the kernel (loaded by scripts/debug).
define release
  set var gdb_release_wait = 1
  continue
end
document release
Let a gdb=wait boot leave its spin in efi_main and run on.
end
