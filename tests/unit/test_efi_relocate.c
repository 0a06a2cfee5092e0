/*
 * boot/efi_relocate.c: the EFI image's self-relocation over a buffer standing
 * for the image (linked at 0, loaded at the buffer's address): DT_RELR
 * addresses and bitmaps (the ELF gABI's encoding, entries written by hand),
 * DT_RELA R_X86_64_RELATIVE with its addend, and what it refuses.
 */
#include <stdint.h>
#include <string.h>

#include "boot/efi_relocate.h"
#include "tests/unit/check.h"

#define WORDS 256
#define LINKED(i) (0x1000u + (i)) /* what word i holds at link time */

static uint64_t image[WORDS];

static uintptr_t base(void)
{
    return (uintptr_t)image;
}

/* A dynamic-section value for a table outside the image: base + value wraps back to it. */
static uint64_t at(const void *table)
{
    return (uint64_t)((uintptr_t)table - base());
}

static void fill(void)
{
    for (unsigned i = 0; i < WORDS; i++)
        image[i] = LINKED(i);
}

/* True if exactly the words in `moved` (ascending) have base added. */
static bool relocated_exactly(const unsigned *moved, unsigned n)
{
    unsigned k = 0;
    for (unsigned i = 0; i < WORDS; i++) {
        bool want = k < n && moved[k] == i;
        k += want;
        if (image[i] != LINKED(i) + (want ? base() : 0))
            return false;
    }
    return k == n;
}

TEST(efi_relocate_relr_addresses_and_bitmaps)
{
    /* Word 2 by address (the next bitmap covers words 3..65); words 3 and 5
     * by bitmap; then words 66 and 128 (bits 1 and 63 of the next bitmap,
     * which covers 66..128); word 200 by address again. */
    static const uint64_t relr[] = { 2 * 8, 1 | 1u << 1 | 1u << 3, 1 | 1u << 1 | 1ull << 63, 200 * 8 };
    const struct elf64_dyn dyn[] = { { 36, at(relr) }, { 35, sizeof(relr) }, { 37, 8 }, { 0, 0 } };
    fill();
    CHECK_EQ(_relocate(base(), dyn, NULL, NULL), 0);
    static const unsigned moved[] = { 2, 3, 5, 66, 128, 200 };
    CHECK(relocated_exactly(moved, 6));

    /* An empty bitmap moves nothing but still advances 63 words. */
    static const uint64_t skip[] = { 0, 1, 1 | 1u << 2 };
    const struct elf64_dyn dyn2[] = { { 36, at(skip) }, { 35, sizeof(skip) }, { 0, 0 } };
    fill();
    CHECK_EQ(_relocate(base(), dyn2, NULL, NULL), 0);
    static const unsigned moved2[] = { 0, 1 + 63 + 1 };
    CHECK(relocated_exactly(moved2, 2));
}

TEST(efi_relocate_rela_relative)
{
    /* The value comes from the addend, not from what the word holds. */
    static const uint64_t rela[][3] = { { 4 * 8, 8, 0x40 }, { 9 * 8, 8, LINKED(9) } };
    const struct elf64_dyn dyn[] = { { 7, at(rela) }, { 8, sizeof(rela) }, { 9, 24 }, { 0, 0 } };
    fill();
    CHECK_EQ(_relocate(base(), dyn, NULL, NULL), 0);
    CHECK_EQ(image[4], base() + 0x40);
    image[4] = LINKED(4);
    static const unsigned moved[] = { 9 };
    CHECK(relocated_exactly(moved, 1));

    /* No relocations at all (ld's empty DT_RELA at 0 among them): nothing moves. */
    const struct elf64_dyn none[] = { { 7, 0 }, { 8, 0 }, { 9, 24 }, { 0, 0 } };
    fill();
    CHECK_EQ(_relocate(base(), none, NULL, NULL), 0);
    CHECK(relocated_exactly(NULL, 0));
}

TEST(efi_relocate_refuses_what_it_cannot_apply)
{
    fill();
    static const uint64_t abs64[][3] = { { 4 * 8, 1ull << 32 | 1, 0 } }; /* R_X86_64_64 against a symbol */
    const struct elf64_dyn dyn[] = { { 7, at(abs64) }, { 8, sizeof(abs64) }, { 9, 24 }, { 0, 0 } };
    CHECK_EQ(_relocate(base(), dyn, NULL, NULL), EFI_RELOCATE_ERROR);
    static const uint64_t bitmap_first[] = { 1 | 1u << 1 };
    const struct elf64_dyn dyn2[] = { { 36, at(bitmap_first) }, { 35, 8 }, { 0, 0 } };
    CHECK_EQ(_relocate(base(), dyn2, NULL, NULL), EFI_RELOCATE_ERROR);
    const struct elf64_dyn dyn3[] = { { 37, 4 }, { 0, 0 } };
    CHECK_EQ(_relocate(base(), dyn3, NULL, NULL), EFI_RELOCATE_ERROR);
    const struct elf64_dyn dyn4[] = { { 9, 16 }, { 0, 0 } };
    CHECK_EQ(_relocate(base(), dyn4, NULL, NULL), EFI_RELOCATE_ERROR);
    CHECK(relocated_exactly(NULL, 0));
}
