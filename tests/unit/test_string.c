/*
 * lib/string.c (built as k_*): memcpy and memset work in 8-byte steps plus
 * a byte tail, so every length 0..80 at every alignment 0..7 is compared
 * with libc, and nothing outside the destination range may change.
 */
#include <stdint.h>
#include <string.h>

#include "tests/unit/check.h"

void *k_memcpy(void *dst, const void *src, size_t n);
void *k_memmove(void *dst, const void *src, size_t n);
void *k_memset(void *dst, int c, size_t n);

#define AREA 128
#define GUARD 0xEE

TEST(string_memcpy_every_length_and_alignment)
{
    uint8_t src[AREA], dst[AREA], want[AREA];
    for (unsigned i = 0; i < AREA; i++)
        src[i] = (uint8_t)(i * 7 + 3);
    int bad = 0;
    for (unsigned len = 0; len <= 80; len++)
        for (unsigned s_off = 0; s_off < 8; s_off++)
            for (unsigned d_off = 0; d_off < 8; d_off++) {
                memset(dst, GUARD, AREA);
                memset(want, GUARD, AREA);
                memcpy(want + d_off, src + s_off, len);
                if (k_memcpy(dst + d_off, src + s_off, len) != dst + d_off || memcmp(dst, want, AREA) != 0)
                    bad++;
            }
    CHECK_EQ(bad, 0);
}

TEST(string_memset_every_length_alignment_and_value)
{
    static const int values[] = { 0, 0xA5, 0xFF, 0x1234 /* only the low byte counts */ };
    uint8_t dst[AREA], want[AREA];
    int bad = 0;
    for (unsigned v = 0; v < sizeof(values) / sizeof(values[0]); v++)
        for (unsigned len = 0; len <= 80; len++)
            for (unsigned off = 0; off < 8; off++) {
                memset(dst, GUARD, AREA);
                memset(want, GUARD, AREA);
                memset(want + off, values[v], len);
                if (k_memset(dst + off, values[v], len) != dst + off || memcmp(dst, want, AREA) != 0)
                    bad++;
            }
    CHECK_EQ(bad, 0);
}

TEST(string_memmove_overlapping_both_ways)
{
    uint8_t buf[AREA], want[AREA];
    int bad = 0;
    for (unsigned len = 0; len <= 40; len++)
        for (int shift = -9; shift <= 9; shift++) {
            for (unsigned i = 0; i < AREA; i++)
                buf[i] = want[i] = (uint8_t)i;
            memmove(want + 40 + shift, want + 40, len);
            k_memmove(buf + 40 + shift, buf + 40, len);
            if (memcmp(buf, want, AREA) != 0)
                bad++;
        }
    CHECK_EQ(bad, 0);
}
