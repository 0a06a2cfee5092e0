/*
 * net/tcp_gso.c: runs of lwIP segments sent as one large segment. The check
 * that matters: a device that segments the run's frame the way virtio 1.2,
 * 5.1.6.2 and Linux's tcp_gso_segment do (cut at gso_size; sequence numbers,
 * IPv4 identifiers and lengths per segment; PSH on the last only; checksums
 * completed) puts on the wire exactly the frames lwIP built, byte for byte.
 * And every difference that would break that keeps a segment out of the run.
 */
#include <string.h>

#include "lib/inet_csum.h"
#include "net/tcp_gso.h"
#include "tests/unit/check.h"

#define MSS 1460
#define MAX_SEGS 48
#define FRAME_MAX (14 + 40 + 32 + MSS)

struct seg_frame {
    uint8_t b[FRAME_MAX];
    uint32_t len;
};

static void put16(uint8_t *p, uint32_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v) { put16(p, v >> 16); put16(p + 2, v); }
static uint32_t get32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

static uint16_t sum16(const uint8_t *p, size_t n)
{
    struct inet_csum c;
    inet_csum_init(&c);
    inet_csum_add(&c, p, n);
    return inet_csum_result(&c);
}

/* The full TCP checksum over pseudo header and segment (field taken as 0). */
static void tcp_checksum(uint8_t *f, uint32_t len, bool v6, uint32_t l4)
{
    uint32_t tcp_len = len - l4;
    uint8_t pseudo[40];
    size_t n;
    if (v6) {
        memcpy(pseudo, f + 22, 32);
        put32(pseudo + 32, tcp_len);
        pseudo[36] = pseudo[37] = pseudo[38] = 0;
        pseudo[39] = 6;
        n = 40;
    } else {
        memcpy(pseudo, f + 26, 8);
        pseudo[8] = 0;
        pseudo[9] = 6;
        put16(pseudo + 10, tcp_len);
        n = 12;
    }
    put16(f + l4 + 16, 0);
    struct inet_csum c;
    inet_csum_init(&c);
    inet_csum_add(&c, pseudo, n);
    inet_csum_add(&c, f + l4, tcp_len);
    put16(f + l4 + 16, inet_csum_result(&c));
}

/* A segment as lwIP sends it with TCP checksum offload: IPv4 header checksum
 * computed, TCP checksum field 0. `opts` bytes of TCP options (NOPs). */
static void make_seg(struct seg_frame *s, bool v6, uint32_t seq, uint16_t ip_id, uint32_t payload, uint8_t flags,
                     unsigned opts)
{
    uint8_t *f = s->b;
    uint32_t l4 = v6 ? 54 : 34, th = 20 + opts;
    memset(f, 0, l4 + th);
    static const uint8_t dst[6] = { 2, 0, 0, 0, 0, 2 }, src[6] = { 0x52, 0x54, 0, 0x12, 0x34, 0x56 };
    memcpy(f, dst, 6);
    memcpy(f + 6, src, 6);
    if (v6) {
        f[12] = 0x86; f[13] = 0xDD;
        f[14] = 0x60;
        put16(f + 18, th + payload);
        f[20] = 6; f[21] = 255;
        for (int i = 0; i < 32; i++)
            f[22 + i] = (uint8_t)(0xFE + i * 7);
    } else {
        f[12] = 0x08; f[13] = 0x00;
        f[14] = 0x45;
        put16(f + 16, 20 + th + payload);
        put16(f + 18, ip_id);
        f[22] = 255; f[23] = 6;
        static const uint8_t ips[8] = { 10, 0, 2, 15, 10, 0, 2, 2 };
        memcpy(f + 26, ips, 8);
        put16(f + 24, sum16(f + 14, 20));
    }
    uint8_t *t = f + l4;
    put16(t, 7);
    put16(t + 2, 40000);
    put32(t + 4, seq);
    put32(t + 8, 0x11223344);
    t[12] = (uint8_t)((th / 4) << 4);
    t[13] = flags;
    put16(t + 14, 8000);
    memset(t + 20, 1, opts);
    for (uint32_t i = 0; i < payload; i++)
        t[th + i] = (uint8_t)((seq + i) * 131 + 7);
    s->len = l4 + th + payload;
}

/* What the device puts on the wire for a run's frame (header + payload). */
static unsigned device_segments(const uint8_t *hdr, const struct virtio_net_tx_offload *off, const uint8_t *payload,
                                uint32_t payload_len, bool v6, struct seg_frame *out)
{
    unsigned n = 0;
    uint32_t l4 = off->csum_start, hl = off->hdr_len;
    for (uint32_t pos = 0; pos < payload_len; pos += off->gso_size, n++) {
        uint32_t len = payload_len - pos < off->gso_size ? payload_len - pos : off->gso_size;
        bool last = pos + len == payload_len;
        uint8_t *f = out[n].b;
        memcpy(f, hdr, hl);
        memcpy(f + hl, payload + pos, len);
        out[n].len = hl + len;
        put32(f + l4 + 4, get32(hdr + l4 + 4) + pos);
        if (!last)
            f[l4 + 13] &= (uint8_t)~0x09; /* PSH and FIN: last segment only */
        if (v6) {
            put16(f + 18, hl - l4 + len);
        } else {
            put16(f + 16, hl - 14 + len);
            put16(f + 18, (uint32_t)((hdr[18] << 8 | hdr[19]) + n));
            put16(f + 24, 0);
            put16(f + 24, sum16(f + 14, l4 - 14));
        }
        tcp_checksum(f, out[n].len, v6, l4);
    }
    return n;
}

/* Feeds the segments through the run rules as nic_tx.c does; returns how
 * many runs they made, and checks each run's frame against the originals. */
static unsigned runs_of(struct seg_frame *segs, unsigned count)
{
    static uint8_t payload[70000];
    static struct seg_frame wire[MAX_SEGS];
    unsigned runs = 0, i = 0;
    while (i < count) {
        struct tcp_gso_seg first, last, next;
        CHECK(tcp_gso_segment(segs[i].b, segs[i].len, segs[i].len, &first));
        uint8_t hdr[TCP_GSO_HEADER_MAX];
        memcpy(hdr, segs[i].b, first.hdr_len);
        uint32_t total = first.payload;
        memcpy(payload, segs[i].b + first.hdr_len, first.payload);
        last = first;
        unsigned start = i++;
        while (i < count && tcp_gso_segment(segs[i].b, segs[i].len, segs[i].len, &next) &&
               tcp_gso_can_follow(hdr, &first, &last, segs[i].b, &next, total)) {
            memcpy(payload + total, segs[i].b + next.hdr_len, next.payload);
            total += next.payload;
            last = next;
            i++;
        }
        runs++;
        if (i - start == 1)
            continue; /* alone: sent as it is */
        struct virtio_net_tx_offload off;
        tcp_gso_finish(hdr, &first, &last, total, first.payload, &off);
        CHECK_EQ(off.gso_size, first.payload);
        CHECK_EQ(off.hdr_len, first.hdr_len);
        CHECK(off.csum && off.csum_offset == 16 && off.csum_start == first.l.l4);
        CHECK_EQ(off.gso_type, first.l.v6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4);
        CHECK(first.hdr_len + total <= TCP_GSO_MAX_FRAME);
        unsigned n = device_segments(hdr, &off, payload, total, first.l.v6, wire);
        CHECK_EQ(n, i - start);
        for (unsigned k = 0; k < n && k < i - start; k++) {
            struct seg_frame orig = segs[start + k];
            tcp_checksum(orig.b, orig.len, first.l.v6, first.l.l4);
            CHECK_EQ(wire[k].len, orig.len);
            CHECK(memcmp(wire[k].b, orig.b, orig.len) == 0);
        }
    }
    return runs;
}

static struct seg_frame segs[MAX_SEGS * 2];

/* n full segments from seq, the last `last_len` long with `last_flags`. */
static void stream(bool v6, unsigned n, uint32_t last_len, uint8_t last_flags, unsigned opts)
{
    for (unsigned i = 0; i < n; i++)
        make_seg(&segs[i], v6, 1000 + i * MSS, (uint16_t)(0xFFF0 + i), i + 1 == n ? last_len : MSS,
                 i + 1 == n ? last_flags : 0x10, opts);
}

TEST(tcp_gso_run_reproduces_lwip_segments_ipv4)
{
    stream(false, 44, 700, 0x18, 0); /* the IPv4 identifier wraps inside the run */
    CHECK_EQ(runs_of(segs, 44), 1);
    stream(false, 20, MSS, 0x10, 12); /* timestamps-sized options, all full */
    CHECK_EQ(runs_of(segs, 20), 1);
}

TEST(tcp_gso_run_reproduces_lwip_segments_ipv6)
{
    stream(true, 44, 1, 0x18, 0);
    CHECK_EQ(runs_of(segs, 44), 1);
}

TEST(tcp_gso_run_may_end_with_fin)
{
    stream(false, 10, 300, 0x19, 0); /* FIN, PSH on the last: it stays there alone */
    CHECK_EQ(runs_of(segs, 10), 1);
    stream(false, 10, MSS, 0x10, 0);
    segs[4].b[34 + 13] = 0x11; /* FIN in the middle: the run ends there */
    CHECK_EQ(runs_of(segs, 10), 2);
}

/* One segment of `n` MSS and `tail` bytes (lwIP's large segments), cut at the
 * MSS: the device's segments are the ones MSS-sized segments would have been. */
static void large_segment_cut_at_mss(bool v6, unsigned n, uint32_t tail, uint8_t flags)
{
    static uint8_t big[TCP_GSO_MAX_FRAME];
    unsigned count = n + (tail ? 1 : 0);
    stream(v6, count, tail ? tail : MSS, flags, 0);
    /* The same bytes as one segment: the first's headers with the last's flags. */
    uint32_t hl = 14 + (v6 ? 40 : 20) + 20, len = 0;
    memcpy(big, segs[0].b, hl);
    big[hl - 20 + 13] = flags;
    for (unsigned k = 0; k < count; k++) {
        memcpy(big + hl + len, segs[k].b + hl, segs[k].len - hl);
        len += segs[k].len - hl;
    }
    put16(big + (v6 ? 18 : 16), v6 ? 20 + len : 40 + len);
    struct tcp_gso_seg seg;
    CHECK(tcp_gso_segment(big, hl, hl + len, &seg));
    CHECK_EQ(seg.payload, len);
    uint8_t hdr[TCP_GSO_HEADER_MAX];
    memcpy(hdr, big, hl);
    struct virtio_net_tx_offload off;
    tcp_gso_finish(hdr, &seg, &seg, len, MSS, &off);
    CHECK_EQ(off.gso_size, MSS);
    static struct seg_frame wire[MAX_SEGS];
    CHECK_EQ(device_segments(hdr, &off, big + hl, len, v6, wire), count);
    for (unsigned k = 0; k < count; k++) {
        tcp_checksum(segs[k].b, segs[k].len, v6, seg.l.l4);
        CHECK_EQ(wire[k].len, segs[k].len);
        CHECK(memcmp(wire[k].b, segs[k].b, segs[k].len) == 0);
    }
}

TEST(tcp_gso_large_segment_is_cut_into_lwips_segments)
{
    large_segment_cut_at_mss(false, 44, 0, 0x18);
    large_segment_cut_at_mss(false, 3, 1, 0x19);
    large_segment_cut_at_mss(true, 40, 700, 0x10);
}

TEST(tcp_gso_run_stays_within_64k)
{
    stream(false, 90, MSS, 0x10, 0);
    /* 44 full segments fit in 65535 bytes with their headers, 45 do not. */
    CHECK_EQ(runs_of(segs, 90), 3);
}

TEST(tcp_gso_segment_takes_data_under_ack_psh_fin_only)
{
    struct tcp_gso_seg s;
    make_seg(&segs[0], false, 1, 1, 100, 0x10, 0);
    CHECK(tcp_gso_segment(segs[0].b, segs[0].len, segs[0].len, &s));
    CHECK_EQ(s.payload, 100);
    CHECK_EQ(s.hdr_len, 54);
    CHECK(!tcp_gso_segment(segs[0].b, 53, segs[0].len, &s));             /* headers not all in the first piece */
    CHECK(!tcp_gso_segment(segs[0].b, segs[0].len, segs[0].len + 4, &s)); /* bytes past the IP length */
    static const uint8_t refused[] = { 0x12 /* SYN */, 0x14 /* RST */, 0x30 /* URG */, 0x50 /* ECE */,
                                       0x90 /* CWR */, 0x08 /* PSH without ACK */ };
    for (unsigned i = 0; i < sizeof(refused); i++) {
        make_seg(&segs[0], false, 1, 1, 100, refused[i], 0);
        CHECK(!tcp_gso_segment(segs[0].b, segs[0].len, segs[0].len, &s));
    }
    make_seg(&segs[0], true, 1, 1, 0, 0x10, 0); /* a bare ACK */
    CHECK(!tcp_gso_segment(segs[0].b, segs[0].len, segs[0].len, &s));
    make_seg(&segs[0], false, 1, 1, 10, 0x10, 0);
    segs[0].b[23] = 17; /* UDP */
    CHECK(!tcp_gso_segment(segs[0].b, segs[0].len, segs[0].len, &s));
}

/* Two segments, the second changed by `change`; whether they make one run. */
static bool joins(void (*change)(struct seg_frame *s))
{
    make_seg(&segs[0], false, 5000, 9, MSS, 0x10, 0);
    make_seg(&segs[1], false, 5000 + MSS, 10, 600, 0x18, 0);
    change(&segs[1]);
    return runs_of(segs, 2) == 1;
}

static void nothing(struct seg_frame *s) { (void)s; }
static void other_port(struct seg_frame *s) { s->b[34 + 1] = 8; }
static void seq_gap(struct seg_frame *s) { put32(s->b + 34 + 4, 5000 + MSS + 1); }
static void other_ack(struct seg_frame *s) { put32(s->b + 34 + 8, 0x11223345); }
static void other_window(struct seg_frame *s) { put16(s->b + 34 + 14, 8001); }
static void id_gap(struct seg_frame *s) { put16(s->b + 18, 12); put16(s->b + 24, 0); put16(s->b + 24, sum16(s->b + 14, 20)); }
static void other_ttl(struct seg_frame *s) { s->b[22] = 64; put16(s->b + 24, 0); put16(s->b + 24, sum16(s->b + 14, 20)); }
static void other_mac(struct seg_frame *s) { s->b[0] = 4; }
static void longer(struct seg_frame *s) { make_seg(s, false, 5000 + MSS, 10, MSS + 1, 0x10, 0); }

TEST(tcp_gso_run_takes_only_the_next_segment_of_the_same_flow)
{
    CHECK(joins(nothing));
    CHECK(!joins(other_port));
    CHECK(!joins(seq_gap));
    CHECK(!joins(other_ack));
    CHECK(!joins(other_window));
    CHECK(!joins(id_gap));
    CHECK(!joins(other_ttl));
    CHECK(!joins(other_mac));
    CHECK(!joins(longer));
}

TEST(tcp_gso_run_ends_after_psh_or_a_short_segment)
{
    /* PSH in the middle: the device would clear it there. */
    make_seg(&segs[0], false, 1, 1, MSS, 0x18, 0);
    make_seg(&segs[1], false, 1 + MSS, 2, MSS, 0x10, 0);
    CHECK_EQ(runs_of(segs, 2), 2);
    /* A short segment in the middle: the device would cut at the first's size. */
    make_seg(&segs[0], false, 1, 1, MSS, 0x10, 0);
    make_seg(&segs[1], false, 1 + MSS, 2, 100, 0x10, 0);
    make_seg(&segs[2], false, 1 + MSS + 100, 3, 100, 0x10, 0);
    CHECK_EQ(runs_of(segs, 3), 2);
    /* A short first segment runs with others of its size. */
    make_seg(&segs[0], false, 1, 1, 500, 0x10, 0);
    make_seg(&segs[1], false, 501, 2, 500, 0x10, 0);
    make_seg(&segs[2], false, 1001, 3, 200, 0x18, 0);
    CHECK_EQ(runs_of(segs, 3), 1);
    /* IPv4 after IPv6: never one run. */
    make_seg(&segs[0], true, 1, 0, MSS, 0x10, 0);
    make_seg(&segs[1], false, 1 + MSS, 0, MSS, 0x10, 0);
    CHECK_EQ(runs_of(segs, 2), 2);
}
