/*
 * net/ip4_id.c: one destination's identifications count up by the packets
 * each send becomes; other destinations neither move them nor can tell
 * them from their own.
 */
#include <string.h>

#include "net/ip4_id.h"
#include "tests/unit/check.h"

static void keyed(struct ip4_ids *ids, uint8_t last_key_byte)
{
    memset(ids, 0, sizeof(*ids));
    for (unsigned i = 0; i < SIPHASH_KEY_BYTES; i++)
        ids->key[i] = (uint8_t)(i + 1);
    ids->key[SIPHASH_KEY_BYTES - 1] = last_key_byte;
}

static const uint8_t host_a[4] = { 10, 0, 2, 2 }, host_b[4] = { 10, 0, 2, 3 };

TEST(ip4_id_of_one_destination_counts_the_packets_it_became)
{
    struct ip4_ids ids;
    keyed(&ids, 16);
    uint16_t first = ip4_id_take(&ids, host_a, 6, 1);
    CHECK_EQ(ip4_id_take(&ids, host_a, 6, 1), (uint16_t)(first + 1));
    /* A large segment the device cuts into 45 packets numbers them first+2
     * to first+46: the next packet takes the one after. */
    CHECK_EQ(ip4_id_take(&ids, host_a, 6, 45), (uint16_t)(first + 2));
    CHECK_EQ(ip4_id_take(&ids, host_a, 6, 1), (uint16_t)(first + 47));
    /* And across the 16-bit wrap. */
    for (unsigned i = 0; i < 1500; i++)
        ip4_id_take(&ids, host_a, 6, 45);
    CHECK_EQ(ip4_id_take(&ids, host_a, 6, 1), (uint16_t)(first + 48 + 1500 * 45));
}

TEST(ip4_id_of_other_destinations_are_apart_and_unpredictable)
{
    struct ip4_ids ids;
    keyed(&ids, 16);
    uint16_t a = ip4_id_take(&ids, host_a, 6, 1);
    /* Packets to another host and of another protocol leave host_a's numbers
     * where they were (lwIP's one counter moved on by each). */
    for (unsigned i = 0; i < 100; i++) {
        ip4_id_take(&ids, host_b, 6, 1);
        ip4_id_take(&ids, host_a, 1, 1);
    }
    CHECK_EQ(ip4_id_take(&ids, host_a, 6, 1), (uint16_t)(a + 1));
    /* Consecutive hosts at once: none numbered near the one before, so one
     * host's numbers tell nothing of another's. */
    uint16_t first[64];
    for (unsigned i = 0; i < 64; i++) {
        uint8_t dst[4] = { 192, 0, 2, (uint8_t)i };
        first[i] = ip4_id_take(&ids, dst, 6, 1);
    }
    unsigned near = 0;
    for (unsigned i = 1; i < 64; i++) {
        int d = (int16_t)(uint16_t)(first[i] - first[i - 1]);
        near += d > -64 && d < 64;
    }
    CHECK_EQ(near, 0u);
    /* Another key, other numbers. */
    struct ip4_ids other;
    keyed(&other, 17);
    CHECK(ip4_id_take(&other, host_a, 6, 1) != a);
}
