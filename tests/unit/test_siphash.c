/*
 * lib/siphash.c against the reference implementation's vectors
 * (key 00 01 .. 0f, message 00 01 .. n-1), around each place the
 * message's last, partial word changes shape.
 */
#include "lib/siphash.h"
#include "tests/unit/check.h"

static const struct {
    size_t len;
    uint64_t hash;
} vectors[] = {
    { 0, 0x726fdb47dd0e0e31ULL },  { 1, 0x74f839c593dc67fdULL }, { 2, 0x0d6c8009d9a94f5aULL },
    { 3, 0x85676696d7fb7e2dULL },  { 4, 0xcf2794e0277187b7ULL }, { 7, 0xab0200f58b01d137ULL },
    { 8, 0x93f5f5799a932462ULL },  { 15, 0xa129ca6149be45e5ULL }, /* the paper's worked example */
};

TEST(siphash24_reference_vectors)
{
    uint8_t key[SIPHASH_KEY_BYTES], msg[16];
    for (unsigned i = 0; i < sizeof(key); i++)
        key[i] = (uint8_t)i;
    for (unsigned i = 0; i < sizeof(msg); i++)
        msg[i] = (uint8_t)i;
    for (unsigned v = 0; v < sizeof(vectors) / sizeof(vectors[0]); v++)
        CHECK_EQ(siphash24(key, msg, vectors[v].len), vectors[v].hash);
}

TEST(siphash24_depends_on_every_key_and_message_byte)
{
    uint8_t key[SIPHASH_KEY_BYTES] = { 0 }, msg[40] = { 0 };
    uint64_t base = siphash24(key, msg, sizeof(msg));
    for (unsigned i = 0; i < sizeof(key); i++) {
        key[i] ^= 1;
        CHECK(siphash24(key, msg, sizeof(msg)) != base);
        key[i] ^= 1;
    }
    for (unsigned i = 0; i < sizeof(msg); i++) {
        msg[i] ^= 0x80;
        CHECK(siphash24(key, msg, sizeof(msg)) != base);
        msg[i] ^= 0x80;
    }
    CHECK(siphash24(key, msg, sizeof(msg) - 1) != base); /* the length counts: trailing zeros differ */
}
