/*
 * The EFI image's self-relocation: GNU-EFI's crt0 calls _relocate(ImageBase,
 * _DYNAMIC) before efi_main, and this one replaces libgnuefi's so that the
 * image can carry its pointers as packed relative relocations (DT_RELR, ld's
 * -z pack-relative-relocs): about 580 of them take 112 bytes instead of 24
 * each in DT_RELA (13.9 KiB of a 256 KiB image). DT_RELA is still applied,
 * R_X86_64_RELATIVE only: the Makefile refuses an image with any other kind.
 *
 * It runs before anything is relocated: no pointer held in data may be read,
 * and no stack canary (the guard is a global; none is needed without arrays).
 */
#include <stddef.h>
#include <stdint.h>

#include "boot/efi_relocate.h"

enum {
    DT_NULL = 0,
    DT_RELA = 7,
    DT_RELASZ = 8,
    DT_RELAENT = 9,
    DT_RELRSZ = 35,
    DT_RELR = 36,
    DT_RELRENT = 37,
    R_X86_64_RELATIVE = 8,
};

struct elf64_rela {
    uint64_t offset;
    uint64_t info; /* symbol << 32 | type */
    int64_t addend;
};

__attribute__((no_stack_protector)) uint64_t _relocate(uintptr_t base, const struct elf64_dyn *dyn, void *image,
                                                        void *systab)
{
    (void)image;
    (void)systab;
    uintptr_t rela = 0, relr = 0;
    uint64_t rela_size = 0, rela_ent = sizeof(struct elf64_rela), relr_size = 0;
    for (; dyn->tag != DT_NULL; dyn++) {
        switch (dyn->tag) {
        case DT_RELA: rela = base + dyn->val; break;
        case DT_RELASZ: rela_size = dyn->val; break;
        case DT_RELAENT: rela_ent = dyn->val; break;
        case DT_RELR: relr = base + dyn->val; break;
        case DT_RELRSZ: relr_size = dyn->val; break;
        case DT_RELRENT:
            if (dyn->val != sizeof(uint64_t))
                return EFI_RELOCATE_ERROR;
            break;
        }
    }
    if (rela_ent < sizeof(struct elf64_rela))
        return EFI_RELOCATE_ERROR;
    for (uint64_t at = 0; rela && at + rela_ent <= rela_size; at += rela_ent) {
        const struct elf64_rela *r = (const void *)(rela + at);
        if ((uint32_t)r->info != R_X86_64_RELATIVE)
            return EFI_RELOCATE_ERROR;
        *(uint64_t *)(base + r->offset) = base + (uint64_t)r->addend;
    }
    /* DT_RELR (the ELF gABI): an even entry is the offset of one word to
     * relocate, and the next word is where the following bitmap starts; an odd
     * entry is a bitmap, bit i (from 1) for the word i-1 past there, after
     * which the next bitmap starts 63 words on. Each word gets base added. */
    uint64_t *where = NULL;
    for (uint64_t at = 0; relr && at + sizeof(uint64_t) <= relr_size; at += sizeof(uint64_t)) {
        uint64_t entry = *(const uint64_t *)(relr + at);
        if ((entry & 1) == 0) {
            where = (uint64_t *)(base + entry);
            *where++ += base;
        } else if (where) {
            for (unsigned i = 0; (entry >>= 1) != 0; i++)
                if (entry & 1)
                    where[i] += base;
            where += 63;
        } else {
            return EFI_RELOCATE_ERROR; /* a bitmap before any address */
        }
    }
    return 0;
}
