/*
 * The EFI image relocating itself (boot/efi_relocate.c): GNU-EFI's crt0 calls
 * _relocate(ImageBase, _DYNAMIC, image, systab) before efi_main. Packed
 * relative relocations (DT_RELR) and R_X86_64_RELATIVE ones (DT_RELA).
 */
#ifndef BOOT_EFI_RELOCATE_H
#define BOOT_EFI_RELOCATE_H

#include <stdint.h>

/* An entry of the ELF dynamic section. */
struct elf64_dyn {
    int64_t tag;
    uint64_t val;
};

/* What _relocate returns on an entry it cannot apply (EFI_LOAD_ERROR's
 * value; crt0 does not look, the Makefile's check keeps such images out). */
#define EFI_RELOCATE_ERROR 0x8000000000000001ull

/* Adds base to every word the image's relocations name; 0, or EFI_RELOCATE_ERROR. */
uint64_t _relocate(uintptr_t base, const struct elf64_dyn *dyn, void *image, void *systab);

#endif
