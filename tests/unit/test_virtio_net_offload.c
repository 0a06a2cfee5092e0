/*
 * The virtio-net driver's offload and transmit paths, run for real against
 * the simulated device (tests/unit/virtio_net_env.c): a 64 KiB segment over
 * 33 merged buffers reaches the stack as one frame; headers that lie are
 * dropped and counted with every buffer given back; the merged-buffer limit
 * follows the negotiated features; transmit notifies once per batch, stops
 * the stack on a full ring, asks for a delayed interrupt and wakes the stack
 * from the transmit poll; the watchdog tells a lost wake-up from an
 * interrupt still on its way; a device that gives no MAC.
 */
#include <string.h>

#include "drivers/virtio/virtio_net.h"
#include "lib/napi.h"
#include "tests/unit/check.h"
#include "tests/unit/virtio_net_env.h"

#define HDR 12
#define BUF VIRTIO_NET_RX_BUFFER_SIZE

extern unsigned long vnenv_error_lines;

static uint8_t wire[HDR + 70000];
static uint32_t lens[64];

/* A virtio header, then an IPv4 TCP segment of `payload` bytes; the lengths
 * each buffer gets when the device fills them as it must. Returns the buffers. */
static unsigned gso_frame(uint8_t gso_type, uint16_t gso_size, uint32_t payload)
{
    memset(wire, 0, HDR + 54);
    uint32_t frame = 54 + payload, total = HDR + frame;
    wire[0] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    wire[1] = gso_type;
    wire[2] = 54;
    wire[4] = (uint8_t)gso_size; wire[5] = (uint8_t)(gso_size >> 8);
    wire[6] = 34;
    wire[8] = 16;
    uint8_t *f = wire + HDR;
    f[12] = 0x08;
    f[14] = 0x45;
    f[16] = (uint8_t)((frame - 14) >> 8); f[17] = (uint8_t)(frame - 14);
    f[22] = 64; f[23] = 6;
    f[34 + 12] = 0x50; f[34 + 13] = 0x10;
    for (uint32_t i = 0; i < payload; i++)
        f[54 + i] = (uint8_t)i;
    unsigned n = 0;
    for (uint32_t pos = 0; pos < total; pos += BUF)
        lens[n++] = total - pos < BUF ? total - pos : BUF;
    wire[10] = (uint8_t)n; /* num_buffers */
    return n;
}

static uint64_t stat_of(struct vnenv *e, size_t offset)
{
    return *(const uint64_t *)((const char *)virtio_net_stats(e->nic) + offset);
}
#define STAT(e, field) stat_of(e, offsetof(struct virtio_net_stats, field))

static void check_idle(struct vnenv *e)
{
    vnenv_settle(e);
    CHECK_EQ(virtqueue_free_count(virtio_net_device(e->nic)->vqs[0]), 0);
    CHECK_EQ(virtio_net_rx_buffers_held(e->nic), 0);
    CHECK_EQ(vnenv_rx_unseen(e), 0);
    CHECK(!napi_pending());
    CHECK_EQ(e->rx.errors, 0);
    CHECK_EQ(e->tx.errors, 0);
    CHECK_EQ(vnenv_error_lines, 0);
}

TEST(virtio_net_rx_64k_segment_is_one_frame_over_33_buffers)
{
    struct vnenv *e = vnenv_get(true, false);
    CHECK(e != NULL);
    if (!e)
        return;
    uint64_t gso_before = STAT(e, rx_gso);
    unsigned n = gso_frame(VIRTIO_NET_HDR_GSO_TCPV4, 1448, 65535 - 20 - 20);
    CHECK_EQ(n, 33);
    CHECK(vnenv_receive_raw(e, wire, lens, n));
    vnenv_run_polls(e);
    CHECK_EQ(e->frames_received, 1);
    CHECK_EQ(e->last.count, 33);
    CHECK_EQ(e->last.bytes, 14 + 65535);
    CHECK_EQ(e->last.gso_type, VIRTIO_NET_HDR_GSO_TCPV4);
    CHECK_EQ(e->last.gso_size, 1448);
    CHECK(e->last.data_valid); /* NEEDS_CSUM: the device validated it (5.1.6.4.1) */
    CHECK(memcmp(e->last.head, wire + HDR, sizeof(e->last.head)) == 0);
    CHECK_EQ(STAT(e, rx_gso), gso_before + 1);
    check_idle(e);
}

/* The device sends a frame whose header lies; the driver drops it whole. */
static void dropped(struct vnenv *e, unsigned n, size_t counter, const char *what)
{
    uint64_t before = stat_of(e, counter);
    e->frames_received = 0;
    vnenv_receive_raw(e, wire, lens, n);
    vnenv_run_polls(e);
    if (e->frames_received != 0 || stat_of(e, counter) != before + 1)
        unit_fail(__FILE__, __LINE__, "%s: %lu frames reached the stack, counter +%llu", what, e->frames_received,
                  (unsigned long long)(stat_of(e, counter) - before));
    else
        unit_pass();
    check_idle(e);
    /* The ring goes on: the next frame is received whole. */
    n = gso_frame(VIRTIO_NET_HDR_GSO_NONE, 0, 1000);
    vnenv_receive_raw(e, wire, lens, n);
    vnenv_run_polls(e);
    CHECK_EQ(e->frames_received, 1);
    CHECK_EQ(e->last.bytes, 1054);
    check_idle(e);
}

TEST(virtio_net_rx_lying_headers_are_dropped_and_counted)
{
    struct vnenv *e = vnenv_get(true, false);
    CHECK(e != NULL);
    if (!e)
        return;
    unsigned n = gso_frame(VIRTIO_NET_HDR_GSO_UDP, 1448, 30000);
    dropped(e, n, offsetof(struct virtio_net_stats, rx_drop_gso_type), "UDP GSO, not negotiated");
    n = gso_frame(VIRTIO_NET_HDR_GSO_TCPV6, 1448, 30000);
    dropped(e, n, offsetof(struct virtio_net_stats, rx_drop_gso_type), "TCPV6 over IPv4");
    n = gso_frame(VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN, 1448, 30000);
    dropped(e, n, offsetof(struct virtio_net_stats, rx_drop_gso_type), "ECN without GUEST_ECN");
    n = gso_frame(VIRTIO_NET_HDR_GSO_TCPV4, 0, 30000);
    dropped(e, n, offsetof(struct virtio_net_stats, rx_drop_gso_size), "gso_size 0");
    n = gso_frame(VIRTIO_NET_HDR_GSO_TCPV4, 1448, 30000);
    wire[HDR + 17] ^= 1; /* the IP length is not the frame's */
    dropped(e, n, offsetof(struct virtio_net_stats, rx_drop_gso_size), "IP length");
    /* A buffer in the middle that is not full: the lengths are not the frame's. */
    n = gso_frame(VIRTIO_NET_HDR_GSO_TCPV4, 1448, 30000);
    lens[3] -= 100;
    lens[n - 1] += 100;
    dropped(e, n, offsetof(struct virtio_net_stats, rx_drop_bad_header), "short middle buffer");
    /* More buffers than the largest frame needs: all of them taken off the ring. */
    n = gso_frame(VIRTIO_NET_HDR_GSO_TCPV4, 1448, 65535 - 40);
    lens[n++] = 100;
    wire[10] = (uint8_t)n;
    dropped(e, n, offsetof(struct virtio_net_stats, rx_drop_bad_header), "34 buffers");
}

/* A device with neither offloads nor a MAC (the driver keeps only
 * VIRTIO_NET_MAX_DEVICES: the tests share this one). */
static struct vnenv *plain_device(void)
{
    static const uint8_t config[VNENV_CONFIG_SIZE] = { 0, 0, 0, 0, 0, 0, 1, 0 }; /* LINK_UP */
    static struct vnenv *e;
    if (!e)
        e = vnenv_probe(VIRTIO_NET_F_STATUS | VIRTIO_NET_F_MRG_RXBUF | VIRTIO_F_RING_EVENT_IDX, config);
    return e;
}

TEST(virtio_net_rx_merge_limit_follows_the_features)
{
    /* Without GSO a frame never needs a second 2 KiB buffer. */
    struct vnenv *e = plain_device();
    CHECK(e != NULL);
    if (!e)
        return;
    unsigned n = gso_frame(VIRTIO_NET_HDR_GSO_NONE, 0, 2500);
    CHECK_EQ(n, 2);
    dropped(e, n, offsetof(struct virtio_net_stats, rx_drop_bad_header), "2 buffers without GSO");
}

/* ---- transmit ---- */

static uint8_t frame_bytes[60];
static int tokens[512];

static int xmit(struct vnenv *e, int i)
{
    struct vq_sg sg = { (uint64_t)(uintptr_t)frame_bytes, sizeof(frame_bytes) };
    return virtio_net_xmit(e->nic, &sg, 1, &tokens[i], NULL);
}

TEST(virtio_net_tx_one_notification_per_batch)
{
    struct vnenv *e = vnenv_get(true, false);
    CHECK(e != NULL);
    if (!e)
        return;
    unsigned long kicks = e->tx.kicks;
    for (int i = 0; i < 5; i++)
        CHECK_EQ(xmit(e, i), 0);
    CHECK_EQ(e->tx.kicks, kicks); /* queued, not told */
    virtio_net_tx_kick(e->nic);
    CHECK_EQ(e->tx.kicks, kicks + 1);
    virtio_net_tx_kick(e->nic); /* nothing new: no notification */
    CHECK_EQ(e->tx.kicks, kicks + 1);
    CHECK_EQ(e->tx.in_flight, 5);
    /* Completions without a receive: few frames in flight, so no interrupt;
     * the next poll (here the watchdog's tick) reaps them. */
    CHECK_EQ(vnenv_transmit(e, 5), 0);
    uint64_t reaped = STAT(e, watchdog_tx_reaped);
    vnenv_advance(100000000ULL);
    CHECK_EQ(e->tx_done, 5);
    CHECK_EQ(STAT(e, watchdog_tx_reaped), reaped + 5);
    check_idle(e);
}

/* A segmentation offload the device did not agree to is refused. */
TEST(virtio_net_tx_refuses_offloads_not_negotiated)
{
    struct vnenv *e = vnenv_get(false, false);
    CHECK(e != NULL);
    if (!e)
        return;
    struct vq_sg sg = { (uint64_t)(uintptr_t)frame_bytes, sizeof(frame_bytes) };
    struct virtio_net_tx_offload off = { .csum = true, .csum_start = 34, .csum_offset = 16,
                                         .gso_type = VIRTIO_NET_HDR_GSO_UDP, .gso_size = 1448, .hdr_len = 54 };
    CHECK_EQ(virtio_net_xmit(e->nic, &sg, 1, &tokens[0], &off), -22);
    off.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
    off.csum = false; /* segmentation needs the checksum offload with it */
    CHECK_EQ(virtio_net_xmit(e->nic, &sg, 1, &tokens[0], &off), -22);
    off.csum = true;
    off.gso_size = 0;
    CHECK_EQ(virtio_net_xmit(e->nic, &sg, 1, &tokens[0], &off), -22);
    off.gso_size = 1448;
    uint64_t gso = STAT(e, tx_gso);
    CHECK_EQ(virtio_net_xmit(e->nic, &sg, 1, &tokens[0], &off), 0);
    CHECK_EQ(STAT(e, tx_gso), gso + 1);
    virtio_net_tx_kick(e->nic);
    vnenv_transmit(e, 1);
    vnenv_advance(100000000ULL);
    CHECK_EQ(e->tx_done, 1);
    check_idle(e);
}

static void full_ring_stops_and_wakes(bool event_idx)
{
    struct vnenv *e = vnenv_get(event_idx, false);
    CHECK(e != NULL);
    if (!e)
        return;
    uint64_t stops = STAT(e, tx_stops), polls = STAT(e, tx_polls);
    /* Without indirect tables each frame takes two descriptors (header, data). */
    int sent = 0;
    while (sent < VNENV_RING_SIZE + 1 && xmit(e, sent) == 0)
        sent++;
    CHECK_EQ(sent, VNENV_RING_SIZE / 2);
    CHECK_EQ(xmit(e, sent), -28); /* still full: -ENOSPC */
    CHECK_EQ(STAT(e, tx_stops), stops + 1);
    virtio_net_tx_kick(e->nic);
    /* The device sends them one at a time, nothing is received: only the
     * transmit interrupt reaps them and wakes the stack. With EVENT_IDX it
     * comes once three quarters of the full ring is done, not before. */
    unsigned done = 0, irqs = 0;
    while (done < (unsigned)sent && e->tx_wakes == 0) {
        done++;
        if (vnenv_transmit(e, 1)) {
            irqs++;
            CHECK(napi_pending());
            vnenv_run_polls(e);
        }
    }
    CHECK_EQ(e->tx_wakes, 1); /* room again: the stack may go on */
    CHECK(STAT(e, tx_polls) >= polls + 1);
    CHECK_EQ(e->tx_done, done);
    if (event_idx) {
        CHECK_EQ(done, (unsigned)sent * 3 / 4 + 1);
        CHECK_EQ(irqs, 1);
    } else {
        CHECK_EQ(irqs, done); /* the flag can only say "every completion" while the ring is low */
    }
    vnenv_transmit(e, VNENV_RING_SIZE);
    vnenv_run_polls(e);
    vnenv_advance(100000000ULL);
    CHECK_EQ(e->tx_done, (unsigned)sent);
    check_idle(e);
}

TEST(virtio_net_tx_full_ring_stops_then_wakes_event_idx) { full_ring_stops_and_wakes(true); }
TEST(virtio_net_tx_full_ring_stops_then_wakes_flags) { full_ring_stops_and_wakes(false); }

/* ---- the watchdog: a lost wake-up, and an interrupt on its way ---- */

static void watchdog_tells_lost_from_late(bool event_idx)
{
    struct vnenv *e = vnenv_get(event_idx, false);
    CHECK(e != NULL);
    if (!e)
        return;
    CHECK_EQ(xmit(e, 0), 0); /* a frame in flight: the watchdog runs */
    virtio_net_tx_kick(e->nic);
    uint64_t rescues = STAT(e, watchdog_rx_polls), polls = STAT(e, watchdog_polls);

    /* An interrupt on its way: the frame is published, the interrupt not yet
     * delivered when the watchdog looks. */
    vnenv_receive_silently(e, 1, 60);
    vnenv_advance(100000000ULL); /* the tick: a candidate */
    struct virtqueue *rxq = virtio_net_device(e->nic)->vqs[0];
    rxq->callback(rxq);         /* ...and the interrupt arrives */
    vnenv_run_polls(e);
    vnenv_advance(30000000ULL);  /* the confirmation finds it received */
    CHECK_EQ(e->frames_received, 1);
    CHECK_EQ(STAT(e, watchdog_rx_polls), rescues);
    CHECK_EQ(STAT(e, watchdog_polls), polls);

    /* A lost one: published, no interrupt ever. */
    vnenv_receive_silently(e, 2, 60);
    vnenv_advance(100000000ULL);
    CHECK(!napi_pending()); /* not yet: it may still come */
    vnenv_advance(30000000ULL);
    CHECK(napi_pending());
    vnenv_run_polls(e);
    CHECK_EQ(e->frames_received, 3);
    CHECK_EQ(STAT(e, watchdog_rx_polls), rescues + 1);
    CHECK_EQ(STAT(e, watchdog_rx_frames) >= 2, true);
    CHECK_EQ(STAT(e, watchdog_polls), polls + 1);

    vnenv_transmit(e, 1);
    vnenv_advance(100000000ULL);
    CHECK_EQ(e->tx_done, 1);
    check_idle(e);
    /* Nothing in flight: the watchdog stopped; an idle guest stays tickless. */
    vnenv_receive_silently(e, 1, 60);
    vnenv_advance(300000000ULL);
    CHECK(!napi_pending());
    struct virtqueue *q = virtio_net_device(e->nic)->vqs[0];
    q->callback(q);
    vnenv_run_polls(e);
    check_idle(e);
}

TEST(virtio_net_watchdog_tells_a_lost_wakeup_from_a_late_interrupt_event_idx) { watchdog_tells_lost_from_late(true); }
TEST(virtio_net_watchdog_tells_a_lost_wakeup_from_a_late_interrupt_flags) { watchdog_tells_lost_from_late(false); }

/* ---- the device's MAC and MTU ---- */

TEST(virtio_net_without_mac_feature_makes_up_a_local_one)
{
    struct vnenv *e = plain_device();
    CHECK(e != NULL);
    if (!e)
        return;
    const uint8_t *mac = virtio_net_mac(e->nic);
    static const uint8_t zero[6];
    CHECK(memcmp(mac, zero, 6) != 0);
    CHECK_EQ(mac[0] & 0x03, 0x02); /* locally administered unicast */
}
