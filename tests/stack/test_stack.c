/*
 * The whole stack on the host (tests/stack/stack_sim.h): TCP echo through
 * large segments both ways, with and without loss, byte for byte, every
 * segment on the wire within the MSS and checksummed; and what the netif
 * glue does with a TCP frame whose checksum it cannot hand to the device.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drivers/virtio/virtio_net.h"
#include "lwip/pbuf.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/stats.h"
#include "lwip/tcp.h"
#include "net/lwip_pools.h"
#include "net/nic_netif.h"
#include "net/nic_tx.h"
#include "tests/fuzz/rx_path_env.h"
#include "tests/stack/stack_sim.h"
#include "tests/unit/check.h"

#define ECHO_BYTES (1u << 20)

static uint8_t *pattern(uint32_t len, uint32_t seed)
{
    uint8_t *d = malloc(len);
    uint32_t x = seed | 1;
    for (uint32_t i = 0; i < len; i++) {
        x = x * 1664525u + 1013904223u;
        d[i] = (uint8_t)(x >> 24);
    }
    return d;
}

static const struct nic_tx_stats *tx_stats(void) { return nic_netif_tx_stats(nic_netif_get(0)); }

static struct peer_result echo(const struct peer_config *cfg, bool expect_gso_out)
{
    uint8_t *back = calloc(1, cfg->len);
    unsigned long gso_before = sim_tx_gso_chains();
    struct peer_result r = peer_echo(cfg, back);
    if (!r.ok)
        unit_fail(__FILE__, __LINE__, "echo of %u bytes: %s; %u echoed, %u guest frames, lost %u/%u", cfg->len, r.why,
                  r.echoed, r.guest_frames, r.lost_to_peer, r.lost_to_guest);
    else
        unit_pass();
    CHECK_EQ(sim_device_errors(), 0);
    if (expect_gso_out)
        CHECK(sim_tx_gso_chains() > gso_before);
    CHECK_EQ(virtio_net_rx_buffers_held(sim_nic()), 0);
    printf("    echo %u bytes (gso in %d, loss %u/%u per mille, %u dropped): %u guest frames, %lu large segments out, "
           "lost %u/%u, %u retransmissions (%u by the timer), window left unused %u times, %llu fake ms\n",
           cfg->len, cfg->gso, cfg->loss_to_peer, cfg->loss_to_guest, cfg->drop_count, r.guest_frames,
           sim_tx_gso_chains() - gso_before, r.lost_to_peer, r.lost_to_guest, r.retransmits, r.timer_retransmits,
           r.window_left_unused, (unsigned long long)r.fake_ms);
    free(back);
    return r;
}

/* lwIP's large segments are cut at each connection's own MSS, whatever the
 * peer announced; below TCP_LARGE_SEND_MIN_MSS lwIP's own segments go out. */
TEST(stack_large_segments_are_cut_at_the_peers_mss)
{
    static const uint16_t mss[] = { 1000, 600, 536, 200 };
    uint8_t *data = pattern(ECHO_BYTES / 4, 7);
    for (unsigned i = 0; i < sizeof(mss) / sizeof(mss[0]); i++) {
        struct peer_config cfg = { .port = (uint16_t)(40100 + i), .data = data, .len = ECHO_BYTES / 4, .gso = true,
                                   .loss_to_peer = 10, .loss_to_guest = 10, .mss = mss[i], .seed = i + 1 };
        echo(&cfg, mss[i] > 536);
    }
    free(data);
}

TEST(stack_echo_through_large_segments_both_ways)
{
    uint8_t *data = pattern(ECHO_BYTES, 1);
    struct peer_config cfg = { .port = 40001, .data = data, .len = ECHO_BYTES, .gso = true };
    echo(&cfg, true);
    free(data);
}

TEST(stack_echo_from_a_peer_sending_mss_segments)
{
    uint8_t *data = pattern(ECHO_BYTES / 2, 2);
    struct peer_config cfg = { .port = 40002, .data = data, .len = ECHO_BYTES / 2, .gso = false };
    echo(&cfg, true);
    free(data);
}

/* The losses are seeded, so the count is the same every run. This peer
 * keeps nothing after a hole, so each loss costs what was in flight behind
 * it, and the count follows the size of flights: 349 frames sent again
 * with RFC 5681's initial window, 682 with RFC 6928's (which finishes
 * sooner: 2,450 fake ms against 3,900). The bound catches a sender that
 * resends whole large segments (1,121 before
 * scripts/lwip-tcp-rexmit-one-mss.patch); since the later loss-recovery
 * patches this echo no longer tells that patch apart, and
 * stack_a_fast_retransmit_resends_one_mss_of_a_large_segment does. */
TEST(stack_echo_with_loss_both_ways_is_byte_exact)
{
    uint8_t *data = pattern(ECHO_BYTES, 3);
    struct peer_config cfg = { .port = 40003, .data = data, .len = ECHO_BYTES, .gso = true, .loss_to_peer = 20,
                               .loss_to_guest = 20, .seed = 7 };
    struct peer_result r = echo(&cfg, true);
    CHECK(r.retransmits < 1000);
    free(data);
}

/* A peer acknowledging each batch of frames at once (as Linux does with a
 * large segment from the host's tap) frees a whole flight per ACK. The
 * guest sends, in whole MSS, all the window then takes: a large segment
 * that does not fit whole behind one that did goes in part
 * (scripts/lwip-large-segments.patch). Before, it waited for the next ACK,
 * and what went alone was often the remainder of a cut segment: one MSS,
 * which a Linux receiver acknowledges only when its 40 ms delayed-ACK timer
 * fires (a 16 MiB download at 3 % loss each way spent a third of its time
 * in such waits). */
TEST(stack_the_window_is_filled_past_a_large_segment_that_does_not_fit)
{
    uint8_t *data = pattern(ECHO_BYTES, 40301);
    struct peer_config cfg = { .port = 40301, .data = data, .len = ECHO_BYTES, .gso = true, .ack_per_batch = true };
    struct peer_result r = echo(&cfg, true);
    CHECK_EQ(r.window_left_unused, 0);
    free(data);
}

/* Slow start with a peer that acknowledges each batch of frames at once
 * (a Linux receiver handed a large segment whole by the host's tap): each
 * such ACK covers a whole flight, and the window must double each round
 * trip, as Linux's does (it counts every segment a stretch ACK covers).
 * RFC 3465's 2 MSS per ACK made it grow by 2 MSS a round trip: flights of
 * 10, 12, 14 and 16 MSS instead of 10, 20, 40 and 80. */
TEST(stack_slow_start_doubles_the_window_on_stretch_acks)
{
    uint8_t *data = pattern(ECHO_BYTES, 40401);
    struct peer_config cfg = { .port = 40401, .data = data, .len = ECHO_BYTES, .gso = true, .ack_per_batch = true };
    struct peer_result r = echo(&cfg, true);
    printf("    flights:");
    for (unsigned i = 0; i < r.flight_count; i++)
        printf(" %u", r.flights[i]);
    printf(" bytes\n");
    CHECK(r.flight_count >= 4);
    CHECK(r.flights[3] >= 6 * r.flights[0]);
    free(data);
}

/* After a retransmission timeout slow start grows the window by one MSS an
 * ACK (RFC 3465, 2.3), not by all a stretch ACK covers as before it
 * (measured slower at 10 % loss; scripts/lwip-tcp-window-growth.patch).
 * The link goes down for 1.5 s in the third flight, and the timer's resend
 * is lost too. The peer's ACK of the 10 MSS that had arrived comes through
 * after it, then each batch is acknowledged at once: batches of 2, 3, 4 and
 * 5 MSS, where counting all sent 11 MSS, then 20. */
TEST(stack_after_a_timeout_the_window_grows_one_mss_an_ack)
{
    uint8_t *data = pattern(ECHO_BYTES / 4, 40402);
    struct peer_config cfg = { .port = 40402, .data = data, .len = ECHO_BYTES / 4, .gso = true,
                               .ack_per_batch = true, .outage_at = 40 * 1460, .outage_ms = 1500 };
    struct peer_result r = echo(&cfg, true);
    printf("    after the outage:");
    for (unsigned i = 0; i < r.after_outage_count; i++)
        printf(" %u", r.after_outage[i]);
    printf(" bytes\n");
    CHECK(r.timer_retransmits > 0);
    CHECK(r.after_outage_count >= 4);
    for (unsigned i = 0; i < 4 && i < r.after_outage_count; i++)
        CHECK_EQ(r.after_outage[i], (i + 2) * 1460);
    free(data);
}

/* The first frame of a large segment lost (the first flight's: ten MSS in
 * one), and a peer that keeps what follows a hole (SACK): the fast
 * retransmit resends that one MSS, not the large segment, which the peer
 * holds but for it (scripts/lwip-tcp-rexmit-one-mss.patch; without it: 26
 * frames sent again). */
TEST(stack_a_fast_retransmit_resends_one_mss_of_a_large_segment)
{
    const uint32_t len = 256 * 1024;
    uint8_t *data = pattern(len, 40005);
    struct peer_config cfg = { .port = 40005, .data = data, .len = len, .gso = true, .drop_count = 1,
                               .drop_offsets = { 0 }, .sack = true, .fin_after_echo = true };
    struct peer_result r = echo(&cfg, true);
    CHECK_EQ(r.retransmits, 1);
    CHECK_EQ(r.timer_retransmits, 0);
    free(data);
}

TEST(stack_echo_with_heavy_loss_to_the_peer)
{
    uint8_t *data = pattern(ECHO_BYTES / 4, 4);
    struct peer_config cfg = { .port = 40004, .data = data, .len = ECHO_BYTES / 4, .gso = true, .loss_to_peer = 100,
                               .seed = 11 };
    echo(&cfg, true);
    free(data);
}

/* A peer announcing an MSS of 1 got a segment per byte (and held a pool
 * segment per byte queued); the guest now sends it segments of
 * TCP_MIN_SND_MSS, as Linux does (scripts/lwip-tcp-mss-on-syn.patch). */
TEST(stack_a_tiny_mss_is_raised_to_the_minimum)
{
    uint8_t *data = pattern(16384, 13);
    struct peer_config cfg = { .port = 40006, .data = data, .len = 4096, .mss = 1 };
    struct peer_result r = echo(&cfg, false);
    CHECK_EQ(r.largest_segment, TCP_MIN_SND_MSS);
    /* Small MSSs a peer may really have echo too, cut at theirs. */
    static const uint16_t small[] = { TCP_MIN_SND_MSS, 88, 120 };
    for (unsigned i = 0; i < sizeof(small) / sizeof(small[0]); i++) {
        struct peer_config c = { .port = (uint16_t)(40007 + i), .data = data, .len = 16384, .mss = small[i],
                                 .loss_to_peer = 10, .loss_to_guest = 10, .seed = i + 5 };
        r = echo(&c, false);
        CHECK_EQ(r.largest_segment, small[i]);
    }
    free(data);
}

/* RFC 9293 3.7.1: the MSS option belongs in a SYN. A peer (or anyone with
 * the connection's addresses and ports) repeating one of 8960 on its data
 * made lwIP cut the guest's segments at 8960 on a 1500-byte link
 * (scripts/lwip-tcp-mss-on-syn.patch); the peer checks each guest segment
 * against the 1460 of its SYN. */
TEST(stack_an_mss_option_after_the_handshake_is_ignored)
{
    uint8_t *data = pattern(ECHO_BYTES / 4, 9);
    struct peer_config cfg = { .port = 40005, .data = data, .len = ECHO_BYTES / 4, .gso = true,
                               .data_mss_option = 8960 };
    echo(&cfg, true);
    free(data);
}

/* ---- loss recovery (scripts/lwip-tcp-newreno.patch, TCP_TMR_INTERVAL) ---- */

static struct peer_result echo_dropping(uint16_t port, uint32_t len, const uint32_t *offsets, unsigned count)
{
    uint8_t *data = pattern(len, port);
    struct peer_config cfg = { .port = port, .data = data, .len = len, .gso = true, .drop_count = count };
    memcpy(cfg.drop_offsets, offsets, count * sizeof(*offsets));
    struct peer_result r = echo(&cfg, false);
    printf("    the first dropped offset resent after %llu fake ms\n", (unsigned long long)r.resent_after_ms[0]);
    free(data);
    return r;
}

/* Two frames lost in the last window (and this peer keeps nothing out of
 * order, so all after the first are holes too): after the fast retransmit
 * each partial ACK has the next hole sent at once (NewReno, RFC 6582); lwIP's
 * Reno left them to the retransmission timer. */
TEST(stack_partial_acks_resend_the_next_hole_without_the_timer)
{
    const uint32_t len = 256 * 1024, holes[] = { len - 20 * 1460, len - 10 * 1460 };
    struct peer_result r = echo_dropping(40200, len, holes, 2);
    CHECK(r.retransmits > 0);
    CHECK_EQ(r.timer_retransmits, 0);
}

/* The last frame lost: nothing follows it to be acknowledged twice, so only
 * the timer resends it. On a path with a round trip near zero that is three
 * ticks of lwIP's slow timer: 240 ms at TCP_TMR_INTERVAL 40 (Linux's floor is
 * 200 ms); it was 1.5 s at lwIP's default 250. */
TEST(stack_a_lost_last_frame_waits_about_the_rto_floor)
{
    const uint32_t len = 256 * 1024, tail[] = { len - 1 };
    struct peer_result r = echo_dropping(40201, len, tail, 1);
    CHECK(r.timer_retransmits >= 1);
    CHECK(r.resent_after_ms[0] > 0 && r.resent_after_ms[0] <= 400);
}

/* A peer whose window grows with each ACK (a Linux client's does early in a
 * connection): its duplicate ACKs after a loss each announce a new window,
 * which RFC 5681 counts as window updates, not duplicates, so lwIP left every
 * loss to the timer. Its SACK blocks say they are duplicates (RFC 6675, 2:
 * scripts/lwip-tcp-sack-dupacks.patch): fast retransmit, no timer. */
TEST(stack_sack_dupacks_with_a_growing_window_fast_retransmit)
{
    const uint32_t len = 256 * 1024;
    uint8_t *data = pattern(len, 40204);
    struct peer_config cfg = { .port = 40204, .data = data, .len = len, .gso = true, .drop_count = 1,
                               .drop_offsets = { len / 2 }, .sack = true, .window_grows = true };
    struct peer_result r = echo(&cfg, false);
    CHECK(r.retransmits > 0);
    CHECK_EQ(r.timer_retransmits, 0);
    free(data);
}

/* The first segment of the first flight lost: the duplicate ACKs that the
 * others bring each let a new segment go for the first two (limited
 * transmit, RFC 3042, scripts/lwip-tcp-limited-transmit.patch), and the
 * third starts fast retransmit. In a window of four or fewer segments,
 * which a link that loses frames often leaves, only those new segments
 * bring the third duplicate; without them the loss waited for the timer.
 * Seen here in the first round trip, before anything else moves: 2 MSS of
 * new data before the resend (0 without it). */
TEST(stack_limited_transmit_sends_a_segment_for_each_of_two_duplicates)
{
    const uint32_t len = 64 * 1024;
    uint8_t *data = pattern(len, 40205);
    struct peer_config cfg = { .port = 40205, .data = data, .len = len, .gso = true, .drop_count = 1,
                               .drop_offsets = { 0 }, .sack = true, .fin_after_echo = true };
    struct peer_result r = echo(&cfg, false);
    printf("    new data before the resend: %u bytes\n", r.new_before_resend);
    CHECK_EQ(r.new_before_resend, 2 * 1460);
    CHECK(r.resent[0]);
    CHECK_EQ(r.resent_after_ms[0], 0);
    CHECK_EQ(r.timer_retransmits, 0);
    free(data);
}

/* The peer's ACKs of a flight are lost (all its frames, for a moment), so
 * nothing tells the guest what arrived. A tail loss probe (RFC 8985 7,
 * scripts/lwip-tcp-tail-loss.patch) sends one segment two round trips (at
 * least 10 ms; fake time moves 50 ms a step) on, and its ACK tells; before
 * it, the guest waited for the retransmission timer (250 fake ms and more). */
TEST(stack_lost_acks_of_a_flight_bring_a_probe_before_the_rto)
{
    const uint32_t len = 64 * 1024;
    uint8_t *data = pattern(len, 40206);
    struct peer_config cfg = { .port = 40206, .data = data, .len = len, .outage_at = 16 * 1024, .outage_ms = 1,
                               .outage_to_guest_only = true };
    struct peer_result r = echo(&cfg, false);
    printf("    the guest sent again %llu fake ms after the ACKs were lost\n",
           (unsigned long long)r.resumed_after_outage_ms);
    CHECK(r.resumed_after_outage_ms > 0 && r.resumed_after_outage_ms < 100);
    free(data);
}

/* A fast retransmission lost as well: the peer SACKs what the guest sent
 * after it and still lacks it, so the guest sends it again at once (RACK's
 * rule, RFC 8985 6.2, by sequence rather than time); before, it waited for
 * the retransmission timer. The same offset twice drops its first two
 * transmissions. */
TEST(stack_a_lost_retransmission_goes_again_when_later_data_is_sacked)
{
    const uint32_t len = 256 * 1024;
    uint8_t *data = pattern(len, 40207);
    struct peer_config cfg = { .port = 40207, .data = data, .len = len, .gso = true, .drop_count = 2,
                               .drop_offsets = { 64 * 1024, 64 * 1024 }, .sack = true, .fin_after_echo = true };
    struct peer_result r = echo(&cfg, false);
    CHECK(r.resent[1]);
    CHECK_EQ(r.resent_after_ms[1], 0);
    CHECK_EQ(r.timer_retransmits, 0);
    free(data);
}

/* cfg->drop_offsets[0] lost: the guest sends it again on the first ACK
 * whose SACK shows it lost, not on a later one, nor by its timer. */
static void expect_resend_on_the_first_sack(const struct peer_config *cfg)
{
    struct peer_result r = echo(cfg, false);
    printf("    SACKs before the resend: %u\n", r.sacks_before_resend);
    CHECK(r.resent[0]);
    CHECK_EQ(r.sacks_before_resend, 1);
    CHECK_EQ(r.timer_retransmits, 0);
}

/* A peer acknowledging each batch of frames at once (as Linux does a large
 * segment from the tap) names everything after a lost frame in the SACK
 * of its first duplicate ACK. More than two MSS SACKed above it shows the
 * frame lost (RFC 6675, 4: IsLost), and it goes again at once
 * (scripts/lwip-tcp-unsacked-lost.patch); before, limited transmit sent
 * two segments of new data first, each bringing a duplicate of its own,
 * to reach the third (3 SACKs before the resend, not 1). */
TEST(stack_a_lost_frame_is_resent_on_the_first_sack_of_what_followed)
{
    const uint32_t len = 256 * 1024;
    uint8_t *data = pattern(len, 40209);
    struct peer_config cfg = { .port = 40209, .data = data, .len = len, .gso = true, .drop_count = 1,
                               .drop_offsets = { 64 * 1024 }, .sack = true, .ack_per_batch = true,
                               .fin_after_echo = true };
    expect_resend_on_the_first_sack(&cfg);
    free(data);
}

/* The last frame of a flight lost, and the peer's ACK of the flight with
 * it: nothing comes back, and a tail loss probe sends one MSS of new data.
 * The peer SACKs it, one MSS above its ACK: too little for RFC 6675's
 * IsLost, but the probe went two round trips after the frame before it, so
 * that frame is lost (RACK, RFC 8985 6.2), and it goes again at once
 * (scripts/lwip-tcp-unsacked-lost.patch); before, only the next flight's
 * SACK showed it (2 SACKs before the resend, not 1). */
TEST(stack_a_sacked_probe_shows_the_tail_before_it_lost)
{
    const uint32_t len = 64 * 1024;
    uint8_t *data = pattern(len, 40211);
    /* The guest's second flight is 20 MSS, from offset 10 MSS on. */
    const uint32_t last_of_second_flight = 29 * 1460;
    struct peer_config cfg = { .port = 40211, .data = data, .len = len, .gso = true, .drop_count = 1,
                               .drop_offsets = { last_of_second_flight }, .outage_at = last_of_second_flight,
                               .outage_ms = 1, .outage_to_guest_only = true, .sack = true, .ack_per_batch = true,
                               .fin_after_echo = true };
    expect_resend_on_the_first_sack(&cfg);
    free(data);
}

/* The link down (both ways) near the end of an echo: the tail loss probe
 * resends the first unacknowledged segment, then the retransmission timer
 * does at each timeout, and each timeout doubles the timer (RFC 6298, 5.5).
 * lwIP's backoff also counted the probe's resend (nrtx counts it, as it
 * does a fast retransmit), so the first timeout quadrupled it: after a
 * first timeout of 400 fake ms the timer waited 2,000 ms, then 4,000; now
 * 1,000, then 2,000 (scripts/lwip-tcp-timeout-backoff.patch). */
TEST(stack_each_timeout_doubles_the_timer_after_a_resent_probe)
{
    const uint32_t len = 64 * 1024;
    uint8_t *data = pattern(len, 40212);
    struct peer_config cfg = { .port = 40212, .data = data, .len = len, .outage_at = 60 * 1024,
                               .outage_ms = 10000, .fin_after_echo = true };
    struct peer_result r = echo(&cfg, false);
    const uint64_t *t = r.outage_at_sent_ms; /* sent, probed, then the timeouts' resends */
    printf("    sent at");
    for (unsigned i = 0; i < r.outage_at_sends; i++)
        printf(" %llu", (unsigned long long)t[i]);
    printf(" fake ms into the outage\n");
    CHECK(r.outage_at_sends >= 5);
    if (r.outage_at_sends >= 5) {
        uint64_t first = t[2] - t[1], second = t[3] - t[2], third = t[4] - t[3];
        CHECK(second < 3 * first);
        CHECK(third <= 2 * second + 100 && third >= 2 * second - 100);
    }
    free(data);
}

/* The guest's first flight of data is RFC 6928's initial window,
 * min(10 MSS, max(2 MSS, 14600)): 14,600 bytes at MSS 1460, as Linux
 * sends, not RFC 5681's 4,380 (lwIP's default). A response under 14 KiB
 * then needs no round trip for the client's ACK. */
TEST(stack_the_first_flight_is_ten_segments)
{
    const uint32_t len = 64 * 1024;
    uint8_t *data = pattern(len, 40208);
    struct peer_config cfg = { .port = 40208, .data = data, .len = len };
    struct peer_result r = echo(&cfg, false);
    printf("    first flight: %u bytes\n", r.first_flight);
    CHECK_EQ(r.first_flight, 10 * 1460);
    free(data);
}

/* The first flight lost whole (the link down for 1.5 s): after the probe
 * and a fast retransmit, a partial ACK finds the next hole on unsent (put
 * back for resending, not sent yet), and its send from there is lost too.
 * That send counts as a retransmission from lastack, as tcp_rexmit's does,
 * so once the peer SACKs data sent after it, it goes again
 * (scripts/lwip-tcp-tail-loss.patch): at once, as the data after it goes
 * in the same flight (300 fake ms, the peer's duplicates coming 50 fake ms
 * apart, while the window stopped at a large segment that did not fit
 * whole); before, nothing marked it and it waited 2 s for the backed-off
 * timer while the peer SACKed everything that followed. */
TEST(stack_a_lost_resend_from_unsent_goes_again_when_later_data_is_sacked)
{
    const uint32_t len = 64 * 1024;
    uint8_t *data = pattern(len, 40210);
    struct peer_config cfg = { .port = 40210, .data = data, .len = len, .gso = true, .outage_at = 0,
                               .outage_ms = 1500, .drop_count = 1, .drop_offsets = { 3 * 1460 }, .sack = true,
                               .fin_after_echo = true };
    struct peer_result r = echo(&cfg, false);
    printf("    the lost resend went again %llu fake ms on\n", (unsigned long long)r.resent_after_ms[0]);
    CHECK(r.resent[0] && r.resent_after_ms[0] < 500);
    free(data);
}

/* A connection's first data lost before the round trip is known waits for an
 * RTO derived from the initial 1 s (RFC 6298), not lwIP's 3 s: about 0.7 s
 * after the handshake's one sample, where it was 2.5 s. */
TEST(stack_first_data_lost_waits_under_a_second)
{
    const uint32_t first[] = { 0 };
    struct peer_result r = echo_dropping(40202, 100, first, 1);
    CHECK_EQ(r.timer_retransmits, 1);
    CHECK(r.resent_after_ms[0] > 0 && r.resent_after_ms[0] <= 1000);
}

/* The link goes quiet for 30 s (a Wi-Fi handover, a congested queue) while
 * the guest has echoed data in flight: its retransmissions ask the peer, and
 * the echo resumes when the link does. Keepalive (net/tcp_keepalive.h: cut
 * ~20 s after the peer's last segment) judges only connections with nothing
 * in flight (scripts/lwip-tcp-keepalive-idle.patch); it reset this one. */
TEST(stack_a_link_outage_with_data_in_flight_is_survived)
{
    const uint32_t len = 1u << 20; /* more than the guest's window: the peer is still sending */
    uint8_t *data = pattern(len, 40203);
    struct peer_config cfg = { .port = 40203, .data = data, .len = len, .gso = true,
                               .outage_at = 16 * 1024, .outage_ms = 30000 };
    struct peer_result r = echo(&cfg, false);
    CHECK(r.fake_ms > 30000);
    CHECK(r.timer_retransmits > 0);
    free(data);
}

/* ---- splitting a large segment ---- */

/* A pcb that takes writes without sending them: ESTABLISHED, never routed. */
static struct tcp_pcb *unsent_pcb(void)
{
    sim_setup(); /* the netif cuts TCP: tcp_write builds large segments */
    struct tcp_pcb *pcb = tcp_new();
    pcb->state = ESTABLISHED;
    pcb->mss = 1460;
    pcb->snd_wnd = pcb->snd_wnd_max = 1u << 20; /* tcp_write's segments: at most half of it */
    return pcb;
}

static void unsent_pcb_free(struct tcp_pcb *pcb)
{
    tcp_segs_free(pcb->unsent);
    pcb->unsent = NULL;
    pcb->state = CLOSED;
    tcp_close(pcb);
}

static bool seg_holds(const struct tcp_seg *seg, const uint8_t *want, uint16_t len)
{
    static uint8_t got[65536];
    uint16_t front = (uint16_t)(seg->p->tot_len - seg->len); /* the TCP header and options */
    return seg->len == len && pbuf_copy_partial(seg->p, got, len, front) == len && memcmp(got, want, len) == 0;
}

/* A retransmission timeout moves what is in flight back to unsent in
 * sequence order. A segment tcp_rexmit put back and could not send yet (a
 * fast retransmit waiting for cwnd, or a tail loss probe's) lies in unsent
 * below later segments still unacked; lwIP put those in front of it, and
 * tcp_output, sending in order, then never got past them: downloads from a
 * 12 MiB guest at 5 % loss stalled until the HTTP send timeout reset them
 * (scripts/lwip-tcp-tail-loss.patch). */
TEST(stack_a_timeout_keeps_a_segment_waiting_for_resend_first)
{
    static uint8_t data[3 * 1460];
    struct tcp_pcb *pcb = unsent_pcb();
    pcb->snd_wnd = pcb->snd_wnd_max = 2 * 1460; /* segments of one MSS */
    CHECK_EQ(tcp_write(pcb, data, sizeof(data), 0), ERR_OK);
    struct tcp_seg *first = pcb->unsent, *second = first ? first->next : NULL;
    CHECK(second != NULL && second->next != NULL);
    if (second && second->next) {
        pcb->unacked = second; /* sent, with the third; the first back in unsent */
        first->next = NULL;
        pcb->lastack = lwip_ntohl(first->tcphdr->seqno);
        pcb->snd_nxt = pcb->snd_lbb;
        CHECK_EQ(tcp_rexmit_rto_prepare(pcb), ERR_OK);
        CHECK(pcb->unsent == first && first->next == second && pcb->unacked == NULL);
    }
    unsent_pcb_free(pcb);
}

/* tcp_output fits a large segment to the window with tcp_split_unsent_seg.
 * The rest keeps the application's bytes by reference (a PBUF_REF onto
 * them, the pbufs after moved): lwIP copied it into a new heap pbuf, up to
 * 64 KiB that a loss under load often could not get
 * (scripts/lwip-large-segments.patch). Bytes the segment holds itself (a
 * copying write) are still copied, only those of the pbuf split. */
TEST(stack_a_split_shares_the_bytes_of_a_large_segment)
{
    static uint8_t data[20000], second[12000]; /* the stream, and its bytes from 8000 on elsewhere */
    for (unsigned i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(i * 7 + i / 251);
    memcpy(second, data + 8000, sizeof(second));
    for (int copy = 0; copy <= 1; copy++) {
        /* Two writes, one segment: the second's bytes are chained on (by
         * reference: a pbuf of their own) or copied in after the first's. */
        struct tcp_pcb *pcb = unsent_pcb();
        u8_t flags = copy ? TCP_WRITE_FLAG_COPY : 0;
        CHECK_EQ(tcp_write(pcb, data, 8000, flags), ERR_OK);
        CHECK_EQ(tcp_write(pcb, second, sizeof(second), flags), ERR_OK);
        CHECK(pcb->unsent && !pcb->unsent->next && pcb->unsent->len == sizeof(data));
        /* Within the first write's bytes, then where the second's begin. */
        CHECK_EQ(tcp_split_unsent_seg(pcb, 5000), ERR_OK);
        struct tcp_seg *head = pcb->unsent, *rest = head->next;
        CHECK(seg_holds(head, data, 5000));
        CHECK(rest && seg_holds(rest, data + 5000, sizeof(data) - 5000) && !rest->next);
        CHECK_EQ(pcb->snd_queuelen, pbuf_clen(head->p) + pbuf_clen(rest->p));
        if (!copy && rest) {
            const struct pbuf *d = rest->p->next; /* after the pbuf of its TCP header */
            CHECK(d && d->payload == data + 5000 && d->len == 3000 && d->next && d->next->payload == second);
        }
        pcb->unsent = rest;
        pcb->snd_queuelen -= pbuf_clen(head->p);
        head->next = NULL;
        tcp_segs_free(head);
        CHECK_EQ(tcp_split_unsent_seg(pcb, 3000), ERR_OK);
        head = pcb->unsent;
        rest = head->next;
        CHECK(seg_holds(head, data + 5000, 3000));
        CHECK(rest && seg_holds(rest, data + 8000, sizeof(data) - 8000) && !rest->next);
        CHECK_EQ(pcb->snd_queuelen, pbuf_clen(head->p) + pbuf_clen(rest->p));
        if (!copy && rest)
            CHECK(rest->p->next && rest->p->next->payload == second && !rest->p->next->next);
        unsent_pcb_free(pcb);
    }
}

/* ---- a TCP frame whose headers are not all in its first pbuf ---- */

static struct pbuf *tcp_frame_in_two_pieces(bool fragment)
{
    struct pbuf *a = pbuf_alloc(PBUF_RAW, 34, PBUF_RAM), *b = pbuf_alloc(PBUF_RAW, 30, PBUF_RAM);
    uint8_t *f = a->payload, *t = b->payload;
    static const uint8_t peer[6] = { 0x02, 0, 0, 0, 0, 2 }, mac[6] = { 0x52, 0x54, 0, 0x12, 0x34, 0x56 };
    memset(f, 0, 34);
    memcpy(f, peer, 6);
    memcpy(f + 6, mac, 6);
    f[12] = 0x08;
    f[14] = 0x45;
    f[17] = 50; /* 20 + 20 + 10 */
    if (fragment)
        f[20] = 0x20; /* MF: the first fragment of a larger segment */
    f[22] = 64;
    f[23] = 6;
    static const uint8_t ips[8] = { 10, 0, 2, 15, 10, 0, 2, 2 };
    memcpy(f + 26, ips, 8);
    uint32_t s = 0;
    for (int i = 0; i < 20; i += 2)
        s += (uint32_t)(f[14 + i] << 8 | f[15 + i]);
    while (s >> 16)
        s = (s & 0xFFFF) + (s >> 16);
    f[24] = (uint8_t)(~s >> 8);
    f[25] = (uint8_t)~s;
    memset(t, 0, 30);
    t[1] = 7; t[2] = 0x9C; t[3] = 0x41; t[7] = 1; t[12] = 0x50; t[13] = 0x18;
    t[14] = 0x10;
    memcpy(t + 20, "0123456789", 10);
    pbuf_cat(a, b);
    return a;
}

TEST(stack_tcp_headers_apart_from_the_first_pbuf_still_get_a_checksum)
{
    sim_setup();
    struct netif *netif = sim_netif();
    sim_wire_clear();
    unsigned errors = sim_device_errors();
    /* Checksum generation is off for this netif (the device offers CSUM):
     * lwIP left the field 0; the glue must still get it computed. */
    struct pbuf *p = tcp_frame_in_two_pieces(false);
    CHECK_EQ(netif->linkoutput(netif, p), ERR_OK);
    pbuf_free(p);
    nic_netif_flush_all();
    CHECK_EQ(sim_wire_count(), 1);
    const struct wire_frame *w = sim_wire(0);
    CHECK(w && w->len == 64 && w->offloaded);
    CHECK_EQ(sim_device_errors(), errors); /* the device found its checksum right */
    sim_wire_clear();
    /* A fragment's checksum cannot be computed here nor by the device: not sent. */
    uint64_t unparsed = tx_stats()->csum_unparsed;
    p = tcp_frame_in_two_pieces(true);
    CHECK(netif->linkoutput(netif, p) != ERR_OK);
    pbuf_free(p);
    nic_netif_flush_all();
    CHECK_EQ(sim_wire_count(), 0);
    CHECK_EQ(tx_stats()->csum_unparsed, unparsed + 1);
    CHECK_EQ(sim_device_errors(), errors);
}

/* ---- a full transmit ring: the stack waits, in order, and goes on ---- */

TEST(stack_full_ring_backlogs_frames_in_order_and_wakes)
{
    sim_setup();
    sim_wire_clear();
    /* One answer first, so the guest knows the peer's MAC. */
    uint32_t n = 0xFFFFFFFFu;
    sim_send_udp_to_echo(41000, false, &n, sizeof(n));
    env_run_polls();
    sim_answer_arp(0);
    env_run_polls();
    sim_wire_clear();
    const struct nic_tx_stats before = *tx_stats();
    const struct virtio_net_stats nic_before = *virtio_net_stats(sim_nic());
    /* The backend stops; 600 datagrams come in, in bursts the receive ring takes. */
    enum { DATAGRAMS = 600 };
    sim_pause_transmit(true);
    for (n = 0; n < DATAGRAMS; n++) {
        sim_send_udp_to_echo(41000, false, &n, sizeof(n));
        if (n % 32 == 31)
            env_run_polls();
    }
    env_run_polls();
    CHECK_EQ(sim_wire_count(), 0);
    CHECK(tx_stats()->backlogged > before.backlogged);
    CHECK(virtio_net_stats(sim_nic())->tx_stops > nic_before.tx_stops);
    /* It goes on: every answer leaves, in the order lwIP sent them. */
    sim_pause_transmit(false);
    for (int i = 0; i < 64 && sim_wire_count() < DATAGRAMS; i++)
        env_advance(100000000ULL);
    CHECK_EQ(sim_wire_count(), DATAGRAMS);
    CHECK(virtio_net_stats(sim_nic())->tx_wakes > nic_before.tx_wakes);
    CHECK_EQ(tx_stats()->backlog_full, before.backlog_full);
    unsigned in_order = 0;
    for (unsigned i = 0; i < sim_wire_count(); i++) {
        const struct wire_frame *w = sim_wire(i);
        uint32_t got;
        if (w->len >= 14 + 28 + 4) {
            memcpy(&got, w->data + 14 + 28, 4);
            in_order += got == i;
        }
    }
    CHECK_EQ(in_order, DATAGRAMS);
    CHECK_EQ(sim_device_errors(), 0);
    sim_wire_clear();
}

/* lwIP's pools come from the heap at lwip_init (scripts/lwip-pool-memory.patch):
 * TCP PCBs one per 24 KiB of free memory within their bounds, the rest as
 * lwipopts.h has them, and every element usable. */
TEST(stack_pools_are_sized_from_free_memory)
{
    CHECK_EQ(lwip_pools_tcp_pcbs_for(0), LWIP_POOLS_TCP_PCBS_MIN);
    CHECK_EQ(lwip_pools_tcp_pcbs_for(100u * LWIP_POOLS_BYTES_PER_CONNECTION + 1), 100);
    CHECK_EQ(lwip_pools_tcp_pcbs_for(1ull << 40), MEMP_NUM_TCP_PCB);
    sim_setup();
    uint16_t want = lwip_pools_tcp_pcbs_for(SIM_MEMORY_FREE);
    CHECK_EQ(want, SIM_MEMORY_FREE / LWIP_POOLS_BYTES_PER_CONNECTION);
    CHECK_EQ(lwip_stats.memp[MEMP_TCP_PCB]->avail, want);
    CHECK_EQ(lwip_pools_report().tcp_pcbs, want);
    CHECK_EQ(lwip_pools_report().pools_short, 0);
    CHECK_EQ(lwip_stats.memp[MEMP_TCP_SEG]->avail, MEMP_NUM_TCP_SEG);
    /* Every PCB can be had, and no more: the pool's own limit holds. */
    uint16_t in_use = lwip_stats.memp[MEMP_TCP_PCB]->used;
    static struct tcp_pcb *pcbs[MEMP_NUM_TCP_PCB];
    unsigned got = 0;
    while (got < MEMP_NUM_TCP_PCB && (pcbs[got] = tcp_new()) != NULL)
        got++;
    CHECK(got >= (unsigned)(want - in_use) && got < MEMP_NUM_TCP_PCB); /* more if lwIP ended TIME_WAIT ones */
    CHECK_EQ(lwip_stats.memp[MEMP_TCP_PCB]->used, want);
    for (unsigned i = 0; i < got; i++)
        tcp_abort(pcbs[i]);
    CHECK(lwip_stats.memp[MEMP_TCP_PCB]->used <= in_use);
}
