/*
 * lib/inet_csum.c: the RFC 1071 example, odd lengths, carries, an IPv4
 * header that verifies, and buffers split at random (odd) offsets into many
 * pieces, against a plain reference sum written here.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/inet_csum.h"
#include "tests/unit/check.h"

/* Reference: byte i is the high byte of a 16-bit word when i is even. */
static uint16_t ref_fold(const uint8_t *p, size_t len)
{
    uint64_t sum = 0;
    for (size_t i = 0; i < len; i++)
        sum += i % 2 == 0 ? (uint64_t)p[i] << 8 : p[i];
    while (sum > 0xFFFF)
        sum = (sum & 0xFFFF) + (sum >> 16);
    return (uint16_t)sum;
}

static uint16_t one_piece_fold(const void *p, size_t len)
{
    struct inet_csum c;
    inet_csum_init(&c);
    inet_csum_add(&c, p, len);
    return inet_csum_fold(&c);
}

static uint16_t one_piece_result(const void *p, size_t len)
{
    struct inet_csum c;
    inet_csum_init(&c);
    inet_csum_add(&c, p, len);
    return inet_csum_result(&c);
}

TEST(inet_csum_rfc1071_example)
{
    /* RFC 1071, 3: 0001 + f203 + f4f5 + f6f7 = 2ddf0, folded ddf2. */
    const uint8_t b[8] = { 0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7 };
    CHECK_EQ(one_piece_fold(b, 8), 0xddf2);
    CHECK_EQ(one_piece_result(b, 8), 0x220d);
    /* "The sum of the bytes is independent of byte order" (byte-swapped words give ddf2 swapped). */
    const uint8_t s[8] = { 0x01, 0x00, 0x03, 0xf2, 0xf5, 0xf4, 0xf7, 0xf6 };
    CHECK_EQ(one_piece_fold(s, 8), 0xf2dd);
}

TEST(inet_csum_empty)
{
    struct inet_csum c;
    inet_csum_init(&c);
    CHECK_EQ(inet_csum_fold(&c), 0);
    CHECK_EQ(inet_csum_result(&c), 0xFFFF);
    inet_csum_add(&c, NULL, 0);
    CHECK_EQ(inet_csum_fold(&c), 0);
    CHECK_EQ(c.offset, 0u);
}

TEST(inet_csum_odd_lengths)
{
    const uint8_t one[1] = { 0xAB };
    CHECK_EQ(one_piece_fold(one, 1), 0xAB00); /* a lone byte is padded with a zero low byte */
    const uint8_t three[3] = { 0x12, 0x34, 0x56 };
    CHECK_EQ(one_piece_fold(three, 3), 0x6834);
    const uint8_t five[5] = { 0x00, 0x01, 0xf2, 0x03, 0xf4 };
    CHECK_EQ(one_piece_fold(five, 5), 0xe605); /* 0001 + f203 + f400 = 1e604 */
}

TEST(inet_csum_carries_fold)
{
    const uint8_t ones[4] = { 0xff, 0xff, 0xff, 0xff };
    CHECK_EQ(one_piece_fold(ones, 4), 0xffff); /* 1fffe -> ffff */
    CHECK_EQ(one_piece_result(ones, 4), 0x0000);
    const uint8_t carry[4] = { 0xff, 0xff, 0x00, 0x01 };
    CHECK_EQ(one_piece_fold(carry, 4), 0x0001); /* 10000 -> 0001 */
    const uint8_t twice[6] = { 0xff, 0xff, 0xff, 0xff, 0x00, 0x02 };
    CHECK_EQ(one_piece_fold(twice, 6), 0x0002); /* 20000 -> 0002 */

    /* 1 MiB of 0xff: a sum far past 32 bits still folds to ffff. */
    size_t n = 1 << 20;
    uint8_t *big = malloc(n);
    if (!big)
        abort();
    memset(big, 0xff, n);
    CHECK_EQ(one_piece_fold(big, n), 0xffff);
    big[n - 1] = 0xfe; /* sum = 0x80000 * ffff - 1: folds to fffe */
    CHECK_EQ(one_piece_fold(big, n), 0xfffe);
    free(big);
}

TEST(inet_csum_ipv4_header)
{
    /* A real header (UDP, 192.168.0.1 -> 192.168.0.199, 115 bytes, DF, TTL 64)
     * with its checksum b861. */
    uint8_t h[20] = { 0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                      0xb8, 0x61, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7 };
    CHECK_EQ(one_piece_result(h, 20), 0x0000); /* verifies: the sum with the field is ffff */
    CHECK_EQ(one_piece_fold(h, 20), 0xffff);
    h[10] = h[11] = 0;
    uint16_t sum = one_piece_result(h, 20);
    CHECK_EQ(sum, 0xb861); /* computing it gives back what was stored */
    h[10] = (uint8_t)(sum >> 8);
    h[11] = (uint8_t)sum;
    CHECK_EQ(one_piece_result(h, 20), 0x0000);
    h[8]--; /* TTL decremented without updating the checksum: fails */
    CHECK(one_piece_result(h, 20) != 0);
}

TEST(inet_csum_pieces_keep_parity)
{
    /* The RFC example fed one byte at a time, with empty pieces between. */
    const uint8_t b[8] = { 0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7 };
    struct inet_csum c;
    inet_csum_init(&c);
    for (int i = 0; i < 8; i++) {
        inet_csum_add(&c, b + i, 1);
        inet_csum_add(&c, b, 0);
    }
    CHECK_EQ(inet_csum_fold(&c), 0xddf2);
    CHECK_EQ(c.offset, 8u);

    /* 3 + 5: the second piece starts with a low byte. */
    inet_csum_init(&c);
    inet_csum_add(&c, b, 3);
    inet_csum_add(&c, b + 3, 5);
    CHECK_EQ(inet_csum_fold(&c), 0xddf2);
}

/* xorshift64*, fixed seed. */
static uint64_t csum_rng_state;
static uint64_t csum_rng(void)
{
    csum_rng_state ^= csum_rng_state >> 12;
    csum_rng_state ^= csum_rng_state << 25;
    csum_rng_state ^= csum_rng_state >> 27;
    return csum_rng_state * 0x2545F4914F6CDD1DULL;
}

TEST(inet_csum_random_splits)
{
    csum_rng_state = 0x0123456789ABCDEFull;
    static uint8_t buf[3000];
    unsigned bad = 0, odd_cuts = 0;
    for (int round = 0; round < 2000 && bad < 5; round++) {
        size_t len = (size_t)(csum_rng() % sizeof(buf));
        for (size_t i = 0; i < len; i++)
            buf[i] = (uint8_t)csum_rng();
        if (round % 7 == 0)
            memset(buf, 0xff, len); /* the most carries */
        uint16_t want = ref_fold(buf, len);
        uint16_t whole = one_piece_fold(buf, len);

        /* Cut into pieces of 0-17 bytes: many odd offsets. Each piece sits in
         * its own exact-size heap block so a read past a piece trips ASan. */
        struct inet_csum c;
        inet_csum_init(&c);
        size_t off = 0;
        while (off < len) {
            size_t n = (size_t)(csum_rng() % 18);
            if (n > len - off)
                n = len - off;
            uint8_t *piece = malloc(n ? n : 1);
            if (!piece)
                abort();
            memcpy(piece, buf + off, n);
            inet_csum_add(&c, piece, n);
            free(piece);
            off += n;
            odd_cuts += off % 2;
        }
        if (whole != want || inet_csum_fold(&c) != want || c.offset != len) {
            unit_fail(__FILE__, __LINE__, "round %d, %zu bytes: whole %04x, pieces %04x, reference %04x", round, len,
                      whole, inet_csum_fold(&c), want);
            bad++;
        } else {
            unit_pass();
        }
    }
    CHECK(odd_cuts > 1000);
}
