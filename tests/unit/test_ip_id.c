/*
 * net/ip_id.c: one destination's identifications count up by the packets
 * each send becomes; other destinations neither move them nor can tell
 * them from their own.
 */
#include <string.h>

#include "net/ip_id.h"
#include "tests/unit/check.h"

static void keyed(struct ip_ids *ids, uint8_t last_key_byte)
{
    memset(ids, 0, sizeof(*ids));
    for (unsigned i = 0; i < SIPHASH_KEY_BYTES; i++)
        ids->key[i] = (uint8_t)(i + 1);
    ids->key[SIPHASH_KEY_BYTES - 1] = last_key_byte;
}

/* IPv4 flows: destination and protocol. */
static const uint8_t tcp_a[5] = { 10, 0, 2, 2, 6 }, tcp_b[5] = { 10, 0, 2, 3, 6 }, icmp_a[5] = { 10, 0, 2, 2, 1 };

TEST(ip_id_of_one_destination_counts_the_packets_it_became)
{
    struct ip_ids ids;
    keyed(&ids, 16);
    uint32_t first = ip_id_take(&ids, tcp_a, sizeof(tcp_a), 1);
    CHECK_EQ(ip_id_take(&ids, tcp_a, sizeof(tcp_a), 1), first + 1);
    /* A large segment the device cuts into 45 packets numbers them first+2
     * to first+46: the next packet takes the one after. */
    CHECK_EQ(ip_id_take(&ids, tcp_a, sizeof(tcp_a), 45), first + 2);
    CHECK_EQ(ip_id_take(&ids, tcp_a, sizeof(tcp_a), 1), first + 47);
    /* And past IPv4's 16-bit wrap, in the low 16 bits IPv4 keeps. */
    for (unsigned i = 0; i < 1500; i++)
        ip_id_take(&ids, tcp_a, sizeof(tcp_a), 45);
    CHECK_EQ((uint16_t)ip_id_take(&ids, tcp_a, sizeof(tcp_a), 1), (uint16_t)(first + 48 + 1500 * 45));
}

TEST(ip_id_of_other_destinations_are_apart_and_unpredictable)
{
    struct ip_ids ids;
    keyed(&ids, 16);
    uint32_t a = ip_id_take(&ids, tcp_a, sizeof(tcp_a), 1);
    /* Packets to another host and of another protocol leave tcp_a's numbers
     * where they were (lwIP's one counter moved on by each). */
    for (unsigned i = 0; i < 100; i++) {
        ip_id_take(&ids, tcp_b, sizeof(tcp_b), 1);
        ip_id_take(&ids, icmp_a, sizeof(icmp_a), 1);
    }
    CHECK_EQ(ip_id_take(&ids, tcp_a, sizeof(tcp_a), 1), a + 1);
    /* Consecutive hosts at once: none numbered near the one before, in
     * IPv4's 16 bits or IPv6's 32, so one host's numbers tell nothing of
     * another's. */
    uint32_t first[64];
    for (unsigned i = 0; i < 64; i++) {
        uint8_t flow[5] = { 192, 0, 2, (uint8_t)i, 6 };
        first[i] = ip_id_take(&ids, flow, sizeof(flow), 1);
    }
    unsigned near = 0;
    for (unsigned i = 1; i < 64; i++) {
        int d = (int16_t)(uint16_t)(first[i] - first[i - 1]);
        near += d > -64 && d < 64;
    }
    CHECK_EQ(near, 0u);
    /* IPv6: both addresses name the flow; another source, other numbers. */
    uint8_t v6[32] = { 0xfe, 0x80, [15] = 0x15, [16] = 0xfe, [17] = 0x80, [31] = 0x02 };
    uint32_t from_one = ip_id_take(&ids, v6, sizeof(v6), 1);
    v6[15] = 0x16;
    int32_t apart = (int32_t)(ip_id_take(&ids, v6, sizeof(v6), 1) - from_one);
    CHECK(apart > 64 || apart < -64);
    /* Another key, other numbers. */
    struct ip_ids other;
    keyed(&other, 17);
    CHECK(ip_id_take(&other, tcp_a, sizeof(tcp_a), 1) != a);
}
