/*
 * net/syn_cookie.c: a cookie checks out for its own flow and client ISN at
 * its tick and the next, and for nothing else: another address, port or
 * ISN, another key, a flipped bit, a tick too old or from the future.
 */
#include "net/syn_cookie.h"
#include "tests/unit/check.h"

static const uint8_t key[SIPHASH_KEY_BYTES] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };

static struct tcp_flow flow4(void)
{
    struct tcp_flow f = { .remote = { 10, 0, 2, 2 }, .local = { 10, 0, 2, 15 }, .remote_port = 40000,
                          .local_port = 80 };
    return f;
}

static bool good(const struct tcp_flow *f, uint32_t isn, uint32_t cookie, uint32_t now)
{
    unsigned mss;
    return syn_cookie_check(key, f, isn, cookie, now, &mss);
}

TEST(syn_cookie_round_trip_and_fields)
{
    struct tcp_flow f = flow4();
    uint32_t cookie = syn_cookie_make(key, &f, 0x12345678u, 1000, 7);
    unsigned mss = 99;
    CHECK(syn_cookie_check(key, &f, 0x12345678u, cookie, 1000, &mss));
    CHECK_EQ(mss, 7u);
    CHECK_EQ(cookie >> 27, 1000u & 31);     /* t mod 32 on top */
    CHECK_EQ((cookie >> 24) & 7, 7u);        /* then the MSS index */
    for (unsigned i = 0; i < 8; i++) {
        uint32_t c = syn_cookie_make(key, &f, 1, 5, i);
        CHECK(syn_cookie_check(key, &f, 1, c, 5, &mss));
        CHECK_EQ(mss, i);
    }
}

TEST(syn_cookie_age)
{
    struct tcp_flow f = flow4();
    uint32_t cookie = syn_cookie_make(key, &f, 77, 1000, 3);
    CHECK(good(&f, 77, cookie, 1000));
    CHECK(good(&f, 77, cookie, 1001));   /* one tick later */
    CHECK(!good(&f, 77, cookie, 1002));  /* two: too old */
    CHECK(!good(&f, 77, cookie, 999));   /* made in the future */
    CHECK(!good(&f, 77, cookie, 1032));  /* same t mod 32, 32 ticks on: the hash differs */
    /* Across the wrap of the tick counter. */
    cookie = syn_cookie_make(key, &f, 77, 0xFFFFFFFFu, 3);
    CHECK(good(&f, 77, cookie, 0));
    CHECK(!good(&f, 77, cookie, 1));
    /* The tick from the kernel's millisecond clock, past where a 32-bit count
     * of milliseconds wraps (lwIP's sys_now, 49.7 days): still one more. */
    CHECK_EQ(syn_cookie_tick(SYN_COOKIE_PERIOD_MS - 1), 0u);
    CHECK_EQ(syn_cookie_tick(SYN_COOKIE_PERIOD_MS), 1u);
    uint64_t wrap = (uint64_t)1 << 32;
    CHECK_EQ(syn_cookie_tick(wrap + SYN_COOKIE_PERIOD_MS) - syn_cookie_tick(wrap - 1), 1u);
}

TEST(syn_cookie_bound_to_the_connection)
{
    struct tcp_flow f = flow4();
    uint32_t cookie = syn_cookie_make(key, &f, 77, 1000, 3);
    struct tcp_flow g = f;
    g.remote[3] = 3;
    CHECK(!good(&g, 77, cookie, 1000));
    g = f;
    g.local[0] = 11;
    CHECK(!good(&g, 77, cookie, 1000));
    g = f;
    g.remote_port = 40001;
    CHECK(!good(&g, 77, cookie, 1000));
    g = f;
    g.local_port = 7;
    CHECK(!good(&g, 77, cookie, 1000));
    g = f;
    g.ipv6 = true; /* the same 16 bytes as an IPv6 address */
    CHECK(!good(&g, 77, cookie, 1000));
    CHECK(!good(&f, 78, cookie, 1000)); /* another SYN of the same client */
    uint8_t other[SIPHASH_KEY_BYTES] = { 0 };
    unsigned mss;
    CHECK(!syn_cookie_check(other, &f, 77, cookie, 1000, &mss));
}

TEST(syn_cookie_every_flipped_bit_fails)
{
    struct tcp_flow f = flow4();
    uint32_t cookie = syn_cookie_make(key, &f, 77, 1000, 3);
    unsigned accepted = 0;
    for (unsigned bit = 0; bit < 32; bit++)
        accepted += good(&f, 77, cookie ^ (1u << bit), 1000) || good(&f, 77, cookie ^ (1u << bit), 1001);
    CHECK_EQ(accepted, 0u);
}

TEST(syn_cookie_mss_table)
{
    CHECK_EQ(syn_cookie_mss(syn_cookie_mss_index(0)), 536);    /* no MSS option: the default */
    CHECK_EQ(syn_cookie_mss(syn_cookie_mss_index(535)), 536);  /* below the table: its smallest */
    CHECK_EQ(syn_cookie_mss(syn_cookie_mss_index(536)), 536);
    CHECK_EQ(syn_cookie_mss(syn_cookie_mss_index(1439)), 1420);
    CHECK_EQ(syn_cookie_mss(syn_cookie_mss_index(1440)), 1440); /* IPv6 over Ethernet */
    CHECK_EQ(syn_cookie_mss(syn_cookie_mss_index(1460)), 1460); /* IPv4 over Ethernet */
    CHECK_EQ(syn_cookie_mss(syn_cookie_mss_index(65495)), 1460);
    for (unsigned i = 1; i < SYN_COOKIE_MSS_COUNT; i++)
        CHECK(syn_cookie_mss(i) > syn_cookie_mss(i - 1));
}
