/*
 * net/tcp_isn.c: a 4-tuple's ISN moves with a 4 us clock; those of other
 * 4-tuples, or under another key, are unrelated to it; a connection reopened
 * from TIME_WAIT starts beyond the old one's sequence space.
 */
#include "net/tcp_isn.h"
#include "tests/unit/check.h"

static const uint8_t key[SIPHASH_KEY_BYTES] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };

static struct tcp_flow flow4(uint16_t remote_port)
{
    struct tcp_flow f = { .remote = { 10, 0, 2, 2 }, .local = { 10, 0, 2, 15 }, .remote_port = remote_port,
                          .local_port = 80 };
    return f;
}

/* Sequence-space distance, either way. */
static uint32_t distance(uint32_t a, uint32_t b)
{
    int32_t d = (int32_t)(a - b);
    return d < 0 ? (uint32_t)-(int64_t)d : (uint32_t)d;
}

TEST(tcp_isn_of_one_flow_follows_a_4us_clock)
{
    struct tcp_flow f = flow4(40000);
    const uint64_t t = 123456789012345ULL;
    uint32_t isn = tcp_isn_make(key, &f, t);
    CHECK_EQ(tcp_isn_make(key, &f, t), isn);
    CHECK_EQ(tcp_isn_make(key, &f, t + 4096), isn + 1);
    /* A second later: 244,140 ticks of 4096 ns on (RFC 9293's 4 us clock). */
    uint32_t later = tcp_isn_make(key, &f, t + 1000000000ULL);
    CHECK(later - isn >= 244140 && later - isn <= 244141);
    /* Past the 32-bit wrap of the clock, still one tick a tick. */
    CHECK_EQ(tcp_isn_make(key, &f, ((uint64_t)1 << 44) - 4096) + 1, tcp_isn_make(key, &f, (uint64_t)1 << 44));
}

TEST(tcp_isn_of_other_flows_is_not_predictable)
{
    const uint64_t t = 5000000000ULL;
    /* Consecutive client ports at one moment, as a client's connections come:
     * none near the one before (lwIP's counter steps by its tick count), so
     * none tells the next. */
    uint32_t isn[64];
    for (unsigned i = 0; i < 64; i++) {
        struct tcp_flow f = flow4((uint16_t)(40000 + i));
        isn[i] = tcp_isn_make(key, &f, t);
    }
    unsigned near = 0;
    for (unsigned i = 1; i < 64; i++)
        near += distance(isn[i], isn[i - 1]) < (1u << 16);
    CHECK_EQ(near, 0u);
    /* Every part of the flow, and the key, changes it. */
    struct tcp_flow f = flow4(40000), g = f;
    uint32_t base = tcp_isn_make(key, &f, t);
    g.local_port = 81;
    CHECK(tcp_isn_make(key, &g, t) != base);
    g = f;
    g.remote[3] = 3;
    CHECK(tcp_isn_make(key, &g, t) != base);
    g = f;
    g.local[15] = 1;
    CHECK(tcp_isn_make(key, &g, t) != base);
    g = f;
    g.ipv6 = true;
    CHECK(tcp_isn_make(key, &g, t) != base);
    uint8_t other[SIPHASH_KEY_BYTES] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 17 };
    CHECK(tcp_isn_make(other, &f, t) != base);
}

TEST(tcp_isn_after_a_time_wait_lies_beyond_the_old_connection)
{
    /* The clock's ISN already beyond the old snd_nxt and a window: kept. */
    CHECK_EQ(tcp_isn_after(1000000, 100000), 1000000u);
    CHECK_EQ(tcp_isn_after(100000 + TCP_ISN_REOPEN_GAP, 100000), 100000u + TCP_ISN_REOPEN_GAP);
    /* Not beyond it (the old connection sent 20 MB in the last second): the floor. */
    CHECK_EQ(tcp_isn_after(100000 + TCP_ISN_REOPEN_GAP - 1, 100000), 100000u + TCP_ISN_REOPEN_GAP);
    CHECK_EQ(tcp_isn_after(5000, 20000000), 20000000u + TCP_ISN_REOPEN_GAP);
    /* Around the wrap of the sequence space. */
    CHECK_EQ(tcp_isn_after(0xFFFFFF00u, 0xFFFFFFF0u), 0xFFFFFFF0u + TCP_ISN_REOPEN_GAP);
    CHECK_EQ(tcp_isn_after(0x20000u, 0xFFFFFFF0u), 0x20000u);
}
