/*
 * net/tcp_seq_guard.c: flags exactly the segments lwIP 2.1.3's tcp_receive
 * would trim by 2^31 (the rx_path fuzzer's "insane offset!" assertion: a
 * 1-byte segment or bare FIN at rcv_nxt + 2^31), and none that it trims
 * normally or does not trim at all.
 */
#include "net/tcp_seq_guard.h"
#include "tests/unit/check.h"

TEST(tcp_seq_guard_flags_the_fuzzer_crash)
{
    /* The crashing input's connection: a FIN with no data at rcv_nxt + 2^31. */
    CHECK(tcp_seq_guard_insane_trim(1001, 1001 + 0x80000000u, 1));
    CHECK(tcp_seq_guard_insane_trim(0, 0x80000000u, 1));
    CHECK(tcp_seq_guard_insane_trim(0xFFFFFFF0u, 0x7FFFFFF0u, 1)); /* across the wrap */
}

TEST(tcp_seq_guard_leaves_normal_segments)
{
    CHECK(!tcp_seq_guard_insane_trim(1000, 1000, 100));         /* in order */
    CHECK(!tcp_seq_guard_insane_trim(1000, 990, 20));           /* overlaps the front: trimmed by 10 */
    CHECK(!tcp_seq_guard_insane_trim(1000, 1000 - 0xFFFE, 0xFFFF)); /* largest normal trim */
    CHECK(!tcp_seq_guard_insane_trim(5, 0xFFFFFFFBu, 20));      /* a normal trim across the wrap */
    CHECK(!tcp_seq_guard_insane_trim(1000, 2000, 100));         /* ahead: out of order */
    CHECK(!tcp_seq_guard_insane_trim(1000, 900, 50));           /* entirely old: a duplicate */
    CHECK(!tcp_seq_guard_insane_trim(1000, 1000 + 0x80000000u, 0)); /* a bare ACK occupies nothing */
    CHECK(!tcp_seq_guard_insane_trim(1000, 1000 + 0x80000000u, 2)); /* not "between" for 2 bytes */
    CHECK(!tcp_seq_guard_insane_trim(1000, 1000 + 0x7FFFFFFFu, 1));
    CHECK(!tcp_seq_guard_insane_trim(1000, 1000 + 0x80000001u, 1));
}

/* Against lwIP's own test, written out: between and offset >= 0xFFFF, for
 * every length at offsets around the two interesting points. */
TEST(tcp_seq_guard_matches_lwip_arithmetic)
{
    static const uint32_t rcv[] = { 0, 1000, 0x7FFFFFFFu, 0x80000000u, 0xFFFFFFFFu };
    static const uint32_t lens[] = { 1, 2, 3, 100, 0xFFFF }; /* lwIP drops longer (u16 tcplen) */
    unsigned flagged = 0;
    for (unsigned r = 0; r < sizeof(rcv) / sizeof(rcv[0]); r++)
        for (unsigned l = 0; l < sizeof(lens) / sizeof(lens[0]); l++)
            for (int64_t d = -3; d <= 3; d++) {
                uint32_t bases[] = { 0x80000000u, 0, 0xFFFF, 0x10000 };
                for (unsigned b = 0; b < 4; b++) {
                    uint32_t seqno = rcv[r] - (uint32_t)(bases[b] + (uint32_t)d);
                    uint32_t off = rcv[r] - seqno;
                    bool between = (int32_t)(rcv[r] - (seqno + 1)) >= 0 && (int32_t)(rcv[r] - (seqno + lens[l] - 1)) <= 0;
                    bool expect = between && off >= 0xFFFF;
                    if (tcp_seq_guard_insane_trim(rcv[r], seqno, lens[l]) != expect) {
                        CHECK(false);
                        return;
                    }
                    flagged += expect;
                }
            }
    /* Only length 1 at exactly 2^31 behind, for each rcv_nxt. */
    CHECK_EQ(flagged, 5u);
}
