/*
 * drivers/ps2_keys.c: Ctrl-Alt-Del in scan code set 1 (QEMU's translating
 * i8042, `sendkey ctrl-alt-delete`) and set 2 (Firecracker's SendCtrlAltDel),
 * either Ctrl and Alt, either Delete; nothing else counts.
 */
#include <stddef.h>
#include <stdint.h>

#include "drivers/ps2_keys.h"
#include "tests/unit/check.h"

/* Feeds every byte; the index of the byte that completed Ctrl-Alt-Del (the
 * first), or -1. */
static int feed(bool set2, const uint8_t *bytes, size_t n)
{
    struct ps2_keys k = { .set2 = set2 };
    int at = -1;
    for (size_t i = 0; i < n; i++)
        if (ps2_keys_feed(&k, bytes[i]) && at < 0)
            at = (int)i;
    return at;
}

#define FEED(set2, ...) feed(set2, (const uint8_t[]){ __VA_ARGS__ }, sizeof((const uint8_t[]){ __VA_ARGS__ }))

TEST(ps2_set1_ctrl_alt_del)
{
    /* QEMU's sendkey: presses in order, releases in reverse. */
    CHECK_EQ(FEED(false, 0x1D, 0x38, 0xE0, 0x53, 0xE0, 0xD3, 0xB8, 0x9D), 3);
    /* Right Ctrl and right Alt (E0-prefixed), the keypad's Del. */
    CHECK_EQ(FEED(false, 0xE0, 0x1D, 0xE0, 0x38, 0xE0, 0x53), 5);
    CHECK_EQ(FEED(false, 0x1D, 0x38, 0x53), 2);
    /* Released before Delete, or one of them missing: nothing. */
    CHECK_EQ(FEED(false, 0x1D, 0x38, 0xB8, 0xE0, 0x53), -1);
    CHECK_EQ(FEED(false, 0x1D, 0x9D, 0x38, 0xE0, 0x53), -1);
    CHECK_EQ(FEED(false, 0x38, 0xE0, 0x53), -1);
    CHECK_EQ(FEED(false, 0x1D, 0xE0, 0x53), -1);
    /* Delete's release with both held is no press. */
    CHECK_EQ(FEED(false, 0x1D, 0x38, 0xE0, 0xD3), -1);
    /* Left Ctrl released while right Ctrl stays down: still held. */
    CHECK_EQ(FEED(false, 0x1D, 0xE0, 0x1D, 0x9D, 0x38, 0xE0, 0x53), 6);
}

TEST(ps2_set2_ctrl_alt_del)
{
    /* Firecracker's SendCtrlAltDel: 14 11 E0 71, never released. */
    CHECK_EQ(FEED(true, 0x14, 0x11, 0xE0, 0x71), 3);
    CHECK_EQ(FEED(true, 0xE0, 0x14, 0xE0, 0x11, 0x71), 4);
    /* F0 releases: Alt let go before Delete. */
    CHECK_EQ(FEED(true, 0x14, 0x11, 0xF0, 0x11, 0xE0, 0x71), -1);
    CHECK_EQ(FEED(true, 0x14, 0x11, 0xE0, 0xF0, 0x71), -1);
    /* Set 1's codes mean other keys in set 2, and set 2's in set 1. */
    CHECK_EQ(FEED(true, 0x1D, 0x38, 0xE0, 0x53), -1);
    CHECK_EQ(FEED(false, 0x14, 0x11, 0xE0, 0x71), -1);
}

TEST(ps2_other_bytes_change_nothing)
{
    /* The keyboard's ACK (FA), self-test passed (AA), resend (FE) and
     * Pause's E1 sequence around the keys leave Ctrl and Alt as they were. */
    CHECK_EQ(FEED(false, 0xFA, 0xAA, 0x1D, 0xFE, 0x38, 0xE1, 0x1D, 0x45, 0xE1, 0x9D, 0xC5, 0xE0, 0x53), -1);
    CHECK_EQ(FEED(false, 0xFA, 0xAA, 0x1D, 0xFE, 0x38, 0xE0, 0x53), 6);
    CHECK_EQ(FEED(true, 0xFA, 0xAA, 0x14, 0xFE, 0x11, 0xE0, 0x71), 6);
    /* Every byte value, in every order of two, after Ctrl and Alt: only
     * Delete's press (and its prefix) completes it. */
    for (unsigned a = 0; a < 256; a++) {
        for (int set2 = 0; set2 < 2; set2++) {
            int hit = set2 ? FEED(true, 0x14, 0x11, (uint8_t)a) : FEED(false, 0x1D, 0x38, (uint8_t)a);
            CHECK_EQ(hit, a == (set2 ? 0x71u : 0x53u) ? 2 : -1);
        }
    }
}
