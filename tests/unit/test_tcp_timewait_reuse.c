/*
 * net/tcp_timewait_reuse.c: a SYN may replace a TIME_WAIT connection only
 * when its sequence number is beyond the old rcv_nxt (modulo 2^32), and,
 * when both incarnations use timestamps, its timestamp is not older.
 */
#include "net/tcp_timewait_reuse.h"
#include "tests/unit/check.h"

static bool allowed(uint32_t rcv_nxt, uint32_t seqno)
{
    struct tcp_timewait_old old = { .rcv_nxt = rcv_nxt };
    struct tcp_timewait_syn syn = { .seqno = seqno };
    return tcp_timewait_reuse_allowed(&old, &syn);
}

TEST(tcp_timewait_reuse_sequence_before_at_after)
{
    CHECK(!allowed(1000, 999));  /* inside the old sequence space */
    CHECK(!allowed(1000, 1000)); /* the old connection's own next byte */
    CHECK(allowed(1000, 1001));
    CHECK(allowed(1000, 1000 + 0x7FFFFFFFu)); /* the farthest "after" there is */
    CHECK(!allowed(1000, 1000 + 0x80000000u)); /* half the space away reads as before */
    CHECK(!allowed(1000, 1000 - 0x10000u));    /* an old window's worth behind */
}

TEST(tcp_timewait_reuse_sequence_across_the_wrap)
{
    CHECK(allowed(0xFFFFFFF0u, 0x00000010u));  /* after, across 2^32 */
    CHECK(allowed(0xFFFFFFFFu, 0));
    CHECK(!allowed(0x00000010u, 0xFFFFFFF0u)); /* before, across 2^32 */
    CHECK(!allowed(0, 0xFFFFFFFFu));
    CHECK(!allowed(0, 0));
}

TEST(tcp_timewait_reuse_timestamps_only_refuse)
{
    struct tcp_timewait_old old = { .rcv_nxt = 5000, .timestamps = true, .ts_recent = 700 };
    struct tcp_timewait_syn syn = { .seqno = 6000, .timestamps = true, .tsval = 701 };
    CHECK(tcp_timewait_reuse_allowed(&old, &syn));
    syn.tsval = 700; /* the same millisecond: the sequence number decides */
    CHECK(tcp_timewait_reuse_allowed(&old, &syn));
    syn.tsval = 699; /* older: an old duplicate SYN */
    CHECK(!tcp_timewait_reuse_allowed(&old, &syn));
    syn.tsval = 700 + 0x80000000u; /* half the timestamp space away reads as older */
    CHECK(!tcp_timewait_reuse_allowed(&old, &syn));

    old.ts_recent = 0xFFFFFF00u; /* newer across the wrap */
    syn.tsval = 0x100;
    CHECK(tcp_timewait_reuse_allowed(&old, &syn));

    /* A newer timestamp does not make up for a sequence number inside the old space (no PAWS here). */
    syn.seqno = 4000;
    CHECK(!tcp_timewait_reuse_allowed(&old, &syn));
}

TEST(tcp_timewait_reuse_timestamps_on_one_side_only)
{
    struct tcp_timewait_old old = { .rcv_nxt = 5000, .timestamps = true, .ts_recent = 700 };
    struct tcp_timewait_syn syn = { .seqno = 6000, .timestamps = false, .tsval = 1 };
    CHECK(tcp_timewait_reuse_allowed(&old, &syn)); /* no timestamp now: the sequence number decides */
    syn.seqno = 5000;
    CHECK(!tcp_timewait_reuse_allowed(&old, &syn));

    old.timestamps = false; /* none before: an old ts_recent means nothing */
    syn = (struct tcp_timewait_syn){ .seqno = 6000, .timestamps = true, .tsval = 1 };
    CHECK(tcp_timewait_reuse_allowed(&old, &syn));
}

/* An RST ends TIME_WAIT only at exactly rcv_nxt: what a client in SYN-SENT
 * sends back for the bare ACK to its SYN. */
TEST(tcp_timewait_reset_only_at_rcv_nxt)
{
    struct tcp_timewait_old old = { .rcv_nxt = 0x10 };
    CHECK(tcp_timewait_reset_ends(&old, 0x10));
    CHECK(!tcp_timewait_reset_ends(&old, 0x11));
    CHECK(!tcp_timewait_reset_ends(&old, 0x0F));
    CHECK(!tcp_timewait_reset_ends(&old, 0x80000010u));
}
