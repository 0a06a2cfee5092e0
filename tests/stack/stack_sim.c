#include "tests/stack/stack_sim.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drivers/virtio/virtio_net.h"
#include "lwip/etharp.h"
#include "lwip/nd6.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/tcp.h"
#include "net/net.h"
#include "tests/fuzz/rx_path_env.h"

#define HDR_LEN 12
#define ETH 14
#define MSS 1460
#define BUFFER VIRTIO_NET_RX_BUFFER_SIZE
#define MAX_PIECES 256
#define TICK_NS 50000000ULL          /* the peer's clock step when nothing moves */
#define PEER_RTO_TICKS 10            /* the peer goes back to its last ACK after 500 ms */
#define MAX_FAKE_MS (20 * 60 * 1000) /* give up: 20 fake minutes */

static const uint8_t guest_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
static const uint8_t peer_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x02 };
static const uint8_t guest_ip[4] = { 10, 0, 2, 15 };
static const uint8_t peer_ip[4] = { 10, 0, 2, 2 };

static uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t be32(const uint8_t *p) { return (uint32_t)be16(p) << 16 | be16(p + 2); }
static void put16(uint8_t *p, uint32_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v) { put16(p, v >> 16); put16(p + 2, v); }

/* RFC 1071, the plain way (independent of lib/inet_csum.c). */
static uint32_t sum_bytes(const uint8_t *p, size_t n, uint32_t sum)
{
    for (size_t i = 0; i < n; i++)
        sum += (i & 1) ? p[i] : (uint32_t)p[i] << 8;
    return sum;
}

static uint16_t fold(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xFFFF) + (sum >> 16);
    return (uint16_t)sum;
}

/* IPv4 TCP: the pseudo header plus the segment, as it stands. */
static uint16_t tcp_sum(const uint8_t *f, uint32_t len)
{
    uint32_t l4 = ETH + (uint32_t)(f[ETH] & 15) * 4, tcp_len = len - l4;
    uint32_t s = sum_bytes(f + ETH + 12, 8, 0) + 6 + tcp_len;
    return fold(sum_bytes(f + l4, tcp_len, s));
}

static void set_tcp_checksum(uint8_t *f, uint32_t len)
{
    uint32_t l4 = ETH + (uint32_t)(f[ETH] & 15) * 4;
    put16(f + l4 + 16, 0);
    put16(f + l4 + 16, (uint16_t)~tcp_sum(f, len));
}

static void set_ip_checksum(uint8_t *f)
{
    uint32_t ihl = (uint32_t)(f[ETH] & 15) * 4;
    put16(f + ETH + 10, 0);
    put16(f + ETH + 10, (uint16_t)~fold(sum_bytes(f + ETH, ihl, 0)));
}

/* The Ethernet and IPv4 headers of a frame from the peer: to `dst_mac` and
 * `dst_ip`, an IPv4 packet of `ip_len` bytes carrying `proto`. */
static void peer_ip_headers(uint8_t *f, const uint8_t dst_mac[6], const uint8_t dst_ip[4], uint8_t proto,
                            uint32_t ip_len)
{
    memcpy(f, dst_mac, 6);
    memcpy(f + 6, peer_mac, 6);
    put16(f + 12, 0x0800);
    uint8_t *ip = f + ETH;
    memset(ip, 0, 20);
    ip[0] = 0x45;
    put16(ip + 2, ip_len);
    ip[8] = 64;
    ip[9] = proto;
    memcpy(ip + 12, peer_ip, 4);
    memcpy(ip + 16, dst_ip, 4);
    set_ip_checksum(f);
}

/* A TCP segment from the peer to the guest in `f`: headers, options and
 * payload, the TCP checksum left to the caller. Returns the frame's length. */
static uint32_t peer_tcp_frame(uint8_t *f, uint16_t sport, uint16_t dport, uint8_t flags, uint32_t seq, uint32_t ack,
                               uint16_t wnd, const void *payload, uint32_t len, const uint8_t *opts, unsigned opts_len)
{
    uint32_t th = 20 + opts_len;
    peer_ip_headers(f, guest_mac, guest_ip, 6, 20 + th + len);
    uint8_t *t = f + ETH + 20;
    memset(t, 0, th);
    put16(t, sport);
    put16(t + 2, dport);
    put32(t + 4, seq);
    put32(t + 8, ack);
    t[12] = (uint8_t)((th / 4) << 4);
    t[13] = flags;
    put16(t + 14, wnd);
    if (opts_len)
        memcpy(t + 20, opts, opts_len);
    if (len)
        memcpy(t + th, payload, len);
    return ETH + 20 + th + len;
}

/* ---- the device: errors ---- */

static unsigned device_errors;
static char device_error[200];

__attribute__((format(printf, 1, 2))) static void device_fail(const char *fmt, ...)
{
    if (device_errors++)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(device_error, sizeof(device_error), fmt, ap);
    va_end(ap);
}

unsigned sim_device_errors(void) { return device_errors; }
const char *sim_device_error(void) { return device_error; }

/* ---- the wire ---- */

static struct wire_frame *wire;
static unsigned wire_count, wire_cap;

static void wire_put(const uint8_t *f, uint32_t len, bool from_gso, bool offloaded)
{
    if (wire_count == wire_cap) {
        wire_cap = wire_cap ? 2 * wire_cap : 256;
        wire = realloc(wire, sizeof(*wire) * wire_cap);
        if (!wire)
            abort();
    }
    uint8_t *copy = malloc(len);
    if (!copy)
        abort();
    memcpy(copy, f, len);
    wire[wire_count++] = (struct wire_frame){ copy, len, from_gso, offloaded };
}

unsigned sim_wire_count(void) { return wire_count; }
const struct wire_frame *sim_wire(unsigned i) { return i < wire_count ? &wire[i] : NULL; }

void sim_wire_clear(void)
{
    for (unsigned i = 0; i < wire_count; i++)
        free(wire[i].data);
    wire_count = 0;
}

/* Every frame on the wire: ours, and a valid IPv4 header and TCP checksum. */
static void check_on_wire(const uint8_t *f, uint32_t len)
{
    if (len < ETH || memcmp(f + 6, guest_mac, 6) != 0) {
        device_fail("a frame of %u bytes not from the guest's MAC", len);
        return;
    }
    if (be16(f + 12) != 0x0800 || len < ETH + 20 || f[ETH + 9] != 6)
        return;
    uint32_t ihl = (uint32_t)(f[ETH] & 15) * 4;
    if (len > ETH + 1500)
        device_fail("a %u-byte frame on a 1500-byte MTU wire", len);
    if (fold(sum_bytes(f + ETH, ihl, 0)) != 0xFFFF)
        device_fail("IPv4 header checksum wrong (frame of %u bytes)", len);
    if (ETH + be16(f + ETH + 2) != len)
        device_fail("IPv4 total length %u in a %u-byte frame", be16(f + ETH + 2), len);
    else if (tcp_sum(f, len) != 0xFFFF)
        device_fail("TCP checksum wrong (frame of %u bytes, seq %u)", len, be32(f + ETH + ihl + 4));
}

/* ---- the device: transmit ---- */

static unsigned long tx_chains, tx_gso_chains;
unsigned long sim_tx_chains(void) { return tx_chains; }
unsigned long sim_tx_gso_chains(void) { return tx_gso_chains; }

struct piece {
    const uint8_t *p;
    uint32_t len;
    bool writable;
};

static unsigned chain_pieces(struct virtqueue *vq, uint16_t head, struct piece *out)
{
    const struct vring_desc *table = vq->split.vring.desc;
    unsigned limit = vq->split.vring.num, count = 0;
    uint16_t i = head;
    if (table[head].flags & VRING_DESC_F_INDIRECT) {
        limit = table[head].len / sizeof(struct vring_desc);
        table = (const struct vring_desc *)(uintptr_t)table[head].addr;
        i = 0;
    }
    for (unsigned hops = 0; hops < limit && count < MAX_PIECES; hops++) {
        out[count++] = (struct piece){ (const uint8_t *)(uintptr_t)table[i].addr, table[i].len,
                                       (table[i].flags & VRING_DESC_F_WRITE) != 0 };
        if (!(table[i].flags & VRING_DESC_F_NEXT))
            return count;
        i = table[i].next;
    }
    device_fail("a transmit chain of more than %u pieces", count);
    return count;
}

/* What a device does with a large TCP segment (virtio 1.2, 5.1.6.2, as QEMU
 * hands it to the host's tcp_gso_segment): cut at gso_size, per segment the
 * sequence number, IPv4 identifier and lengths, PSH and FIN on the last only,
 * and every checksum. */
static void segment(const uint8_t *hdr, const uint8_t *f, uint32_t len)
{
    uint16_t gso_size = (uint16_t)(hdr[4] | hdr[5] << 8), hdr_len = (uint16_t)(hdr[2] | hdr[3] << 8);
    uint16_t csum_start = (uint16_t)(hdr[6] | hdr[7] << 8);
    if (hdr[1] != VIRTIO_NET_HDR_GSO_TCPV4 || !(hdr[0] & VIRTIO_NET_HDR_F_NEEDS_CSUM) || gso_size == 0 ||
        be16(f + 12) != 0x0800) {
        device_fail("a GSO header the device cannot take: type %u flags %u size %u", hdr[1], hdr[0], gso_size);
        return;
    }
    uint32_t l4 = ETH + (uint32_t)(f[ETH] & 15) * 4, hl = l4 + (uint32_t)(f[l4 + 12] >> 4) * 4;
    if (hdr_len != hl || csum_start != l4 || len <= hl || ETH + be16(f + ETH + 2) != len) {
        device_fail("GSO hdr_len %u csum_start %u for headers of %u, frame %u, IP length %u", hdr_len, csum_start, hl,
                    len, be16(f + ETH + 2));
        return;
    }
    static uint8_t seg[ETH + 60 + 60 + 65536];
    uint32_t seq = be32(f + l4 + 4);
    uint16_t id = be16(f + ETH + 4);
    for (uint32_t pos = hl, n = 0; pos < len; pos += gso_size, n++) {
        uint32_t plen = len - pos < gso_size ? len - pos : gso_size;
        memcpy(seg, f, hl);
        memcpy(seg + hl, f + pos, plen);
        put16(seg + ETH + 2, hl - ETH + plen);
        put16(seg + ETH + 4, (uint16_t)(id + n));
        set_ip_checksum(seg);
        put32(seg + l4 + 4, seq + (pos - hl));
        if (pos + plen < len)
            seg[l4 + 13] &= (uint8_t)~0x09; /* PSH, FIN */
        set_tcp_checksum(seg, hl + plen);
        check_on_wire(seg, hl + plen);
        wire_put(seg, hl + plen, true, true);
    }
}

static void device_transmit(struct virtqueue *vq)
{
    static uint8_t bytes[HDR_LEN + 70000];
    static uint16_t last_avail;
    struct vring *vr = &vq->split.vring;
    uint16_t done = 0;
    while (last_avail != __atomic_load_n(&vr->avail->idx, __ATOMIC_ACQUIRE)) {
        uint16_t head = vr->avail->ring[last_avail % vr->num];
        struct piece pieces[MAX_PIECES];
        unsigned count = chain_pieces(vq, head, pieces);
        uint32_t n = 0;
        for (unsigned i = 0; i < count; i++) {
            if (pieces[i].writable || n + pieces[i].len > sizeof(bytes)) {
                device_fail("a transmit chain with a writable or oversized piece");
                break;
            }
            memcpy(bytes + n, pieces[i].p, pieces[i].len);
            n += pieces[i].len;
        }
        tx_chains++;
        if (n < HDR_LEN) {
            device_fail("a transmit chain of %u bytes", n);
        } else if (bytes[1] != VIRTIO_NET_HDR_GSO_NONE) {
            tx_gso_chains++;
            segment(bytes, bytes + HDR_LEN, n - HDR_LEN);
        } else {
            uint8_t *f = bytes + HDR_LEN;
            uint32_t len = n - HDR_LEN;
            bool offloaded = bytes[0] & VIRTIO_NET_HDR_F_NEEDS_CSUM;
            if (offloaded) {
                uint16_t start = (uint16_t)(bytes[6] | bytes[7] << 8), off = (uint16_t)(bytes[8] | bytes[9] << 8);
                if ((uint32_t)start + off + 2 > len) {
                    device_fail("NEEDS_CSUM at %u+%u in a %u-byte frame", start, off, len);
                } else {
                    put16(f + start + off, (uint16_t)~fold(sum_bytes(f + start, len - start, 0)));
                }
            }
            check_on_wire(f, len);
            wire_put(f, len, false, offloaded);
        }
        vr->used->ring[(uint16_t)(vr->used->idx + done) % vr->num] = (struct vring_used_elem){ head, 0 };
        done++;
        last_avail++;
    }
    uint16_t old = vr->used->idx, now = (uint16_t)(old + done);
    __atomic_store_n(&vr->used->idx, now, __ATOMIC_RELEASE);
    *vring_avail_event(vr) = last_avail;
    bool irq = vq->event_idx ? vring_need_event(*vring_used_event(vr), now, old)
                             : !(vr->avail->flags & VRING_AVAIL_F_NO_INTERRUPT);
    if (done && irq)
        vq->callback(vq);
}

/* ---- the device: receive ---- */

static uint16_t rx_last_avail;
static unsigned long rx_dropped; /* frames the device had no room for */

/* Fills whole buffers, the last one partly, as a device must (5.1.6.4). */
static void device_receive(const uint8_t *hdr, const uint8_t *frame, uint32_t len)
{
    struct virtqueue *vq = env_queue(0);
    struct vring *vr = &vq->split.vring;
    static uint8_t bytes[HDR_LEN + 70000];
    memcpy(bytes, hdr, HDR_LEN);
    memcpy(bytes + HDR_LEN, frame, len);
    uint32_t total = HDR_LEN + len;
    unsigned needed = (total + BUFFER - 1) / BUFFER;
    bytes[10] = (uint8_t)needed;
    bytes[11] = 0;
    uint16_t avail = __atomic_load_n(&vr->avail->idx, __ATOMIC_ACQUIRE);
    if ((uint16_t)(avail - rx_last_avail) < needed) {
        rx_dropped++;
        return;
    }
    uint16_t used = vr->used->idx;
    for (unsigned k = 0, pos = 0; k < needed; k++) {
        uint16_t head = vr->avail->ring[rx_last_avail++ % vr->num];
        struct piece pieces[MAX_PIECES];
        chain_pieces(vq, head, pieces);
        uint32_t n = total - pos < BUFFER ? total - pos : BUFFER;
        if (!pieces[0].writable || pieces[0].len < n)
            device_fail("receive buffer %u not writable or short (%u)", head, pieces[0].len);
        else
            memcpy((void *)(uintptr_t)pieces[0].p, bytes + pos, n);
        vr->used->ring[(uint16_t)(used + k) % vr->num] = (struct vring_used_elem){ head, n };
        pos += n;
    }
    uint16_t now = (uint16_t)(used + needed);
    __atomic_store_n(&vr->used->idx, now, __ATOMIC_RELEASE);
    *vring_avail_event(vr) = rx_last_avail;
    bool irq = vq->event_idx ? vring_need_event(*vring_used_event(vr), now, used)
                             : !(vr->avail->flags & VRING_AVAIL_F_NO_INTERRUPT);
    if (irq)
        vq->callback(vq);
}

static bool tx_paused;

void sim_pause_transmit(bool paused)
{
    tx_paused = paused;
    if (!paused)
        device_transmit(env_queue(1));
}

static void queue_notified(struct virtqueue *vq)
{
    if (vq == env_queue(1)) {
        if (!tx_paused)
            device_transmit(vq);
    }
    else
        *vring_avail_event(&vq->split.vring) = rx_last_avail;
}

/* ---- setup ---- */

static struct netif *netif;
static struct virtio_net *nic;

struct netif *sim_netif(void) { return netif; }
struct virtio_net *sim_nic(void) { return nic; }

void sim_setup(void)
{
    if (nic)
        return;
    static const struct env_device_ops ops = { queue_notified };
    uint64_t features = VIRTIO_F_VERSION_1 | VIRTIO_NET_F_MAC | VIRTIO_NET_F_STATUS | VIRTIO_NET_F_MRG_RXBUF |
                        VIRTIO_NET_F_CSUM | VIRTIO_NET_F_GUEST_CSUM | VIRTIO_NET_F_GUEST_TSO4 |
                        VIRTIO_NET_F_GUEST_TSO6 | VIRTIO_NET_F_GUEST_ECN | VIRTIO_NET_F_HOST_TSO4 |
                        VIRTIO_NET_F_HOST_TSO6 | VIRTIO_F_RING_EVENT_IDX | VIRTIO_F_RING_INDIRECT_DESC |
                        VIRTIO_F_ANY_LAYOUT;
    env_set_device(&ops, features, guest_mac);
    env_reset_random();
    struct virtio_net_config nic_cfg = { .virtio = { .irq_mode = IRQ_MODE_AUTO, .indirect = true, .event_idx = true },
                                         .budget = 64 };
    if (virtio_net_probe_all(&nic_cfg) != 1)
        abort();
    nic = virtio_net_get(0);
    struct net_config net_cfg = { .ip_addr = 0x0A00020F, .ip_prefix = 24, .gw_set = true, .gw_addr = 0x0A000202,
                                  .memory_free = SIM_MEMORY_FREE };
    if (net_init(&net_cfg) != 1)
        abort();
    netif = netif_default;
    for (int i = 0; i < 20; i++)
        env_advance(500000000ULL); /* duplicate address detection, as after boot */
    sim_wire_clear();
}

/* ---- the peer ---- */

struct peer {
    const struct peer_config *cfg;
    struct peer_result *r;
    uint8_t *echo;
    uint32_t iss, snd_una, snd_nxt;   /* the peer's sequence space (data offsets from iss + 1) */
    uint32_t irs, rcv_nxt;            /* the guest's */
    uint32_t guest_wnd;
    unsigned guest_wscale;
    bool established, fin_sent, fin_acked, guest_fin;
    uint32_t random;
    unsigned stalled_ticks;
    uint32_t guest_sent;              /* the guest's highest stream offset sent */
    uint64_t last_peer_frame_ns;      /* when the peer last sent */
    bool dropped[SIM_MAX_DROPS];      /* cfg->drop_offsets[i] was dropped, */
    uint64_t dropped_ns[SIM_MAX_DROPS]; /* then (r->resent[i]: and the guest has sent it again) */
    uint64_t outage_start_ns, outage_end_ns; /* the link is down between (0: it has not gone down) */
    bool sack_ok;                     /* the guest's SYN-ACK offered SACK back */
    uint32_t ooo_left, ooo_right;     /* the one block held after a hole (empty: equal) */
    uint16_t window;                  /* what the next segment announces (window_grows) */
    bool first_flight_done;           /* a batch of the guest's frames carried echoed data */
    bool drop_batch_done;             /* the batch of frames that lost cfg->drop_offsets[0] is read, */
    uint32_t sent_at_drop;            /* when the guest had sent up to this offset */
    bool ack_owed;                    /* ack_per_batch: data came in this batch */
    uint32_t batch_bytes;             /* data bytes from the guest in this batch */
};

static bool link_down(const struct peer *p) { return env_now_ns() < p->outage_end_ns; }

static bool lose(struct peer *p, unsigned per_mille)
{
    p->random = p->random * 1103515245u + 12345u;
    return per_mille && (p->random >> 8) % 1000 < per_mille;
}

/* A frame from the peer to the guest: Ethernet, IPv4, TCP with `flags`, and
 * `len` bytes of payload from the stream at `off`; as one large segment
 * (GUEST_TSO4, partial checksum, as a host's tap delivers it) when longer than the MSS. */
static void peer_send(struct peer *p, uint8_t flags, uint32_t seq, const uint8_t *payload, uint32_t len,
                      const uint8_t *opts, unsigned opts_len)
{
    static uint8_t f[ETH + 20 + 60 + 65536];
    uint8_t hdr[HDR_LEN] = { 0 };
    uint8_t with_sack[40];
    if (p->sack_ok && p->ooo_left != p->ooo_right && !(flags & 0x02) && opts_len + 12 <= sizeof(with_sack)) {
        if (opts_len)
            memcpy(with_sack, opts, opts_len);
        const uint8_t head[4] = { 1, 1, 5, 10 }; /* NOP, NOP, SACK with one block */
        memcpy(with_sack + opts_len, head, 4);
        put32(with_sack + opts_len + 4, p->ooo_left);
        put32(with_sack + opts_len + 8, p->ooo_right);
        opts = with_sack;
        opts_len += 12;
    }
    /* With window scale 7 about 8 MiB: the peer never limits. */
    uint16_t wnd = p->cfg->window_grows ? p->window++ : 65535;
    uint32_t total = peer_tcp_frame(f, p->cfg->port, 7, flags, seq, p->rcv_nxt, wnd, payload, len, opts, opts_len);
    uint32_t th = 20 + opts_len;
    uint8_t *ip = f + ETH, *t = ip + 20;
    if (len > MSS) {
        hdr[0] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
        hdr[1] = VIRTIO_NET_HDR_GSO_TCPV4;
        hdr[2] = (uint8_t)(ETH + 20 + th); /* hdr_len, little-endian */
        hdr[4] = (uint8_t)MSS;
        hdr[5] = (uint8_t)(MSS >> 8);
        hdr[6] = ETH + 20;
        hdr[8] = 16;
        /* A partial checksum: the pseudo-header sum, as the host leaves it. */
        uint32_t s = sum_bytes(ip + 12, 8, 0) + 6 + th + len;
        put16(t + 16, fold(s));
    } else {
        set_tcp_checksum(f, total);
    }
    p->last_peer_frame_ns = env_now_ns();
    bool lost = link_down(p) || lose(p, p->cfg->loss_to_guest);
    if (getenv("PEER_TRACE"))
        fprintf(stderr, "peer:  flags %02x seq %u ack %u len %u at %llu ms%s\n", flags, seq - p->iss,
                p->rcv_nxt - p->irs, len, (unsigned long long)(env_now_ns() / 1000000), lost ? " (lost)" : "");
    if (lost) {
        p->r->lost_to_guest++;
        return;
    }
    device_receive(hdr, f, total);
}

static void peer_arp_reply(const uint8_t *req)
{
    static uint8_t f[42];
    uint8_t hdr[HDR_LEN] = { 0 };
    memcpy(f, req + 6, 6);
    memcpy(f + 6, peer_mac, 6);
    put16(f + 12, 0x0806);
    memcpy(f + 14, req + 14, 6); /* htype, ptype, hlen, plen */
    put16(f + 20, 2);            /* reply */
    memcpy(f + 22, peer_mac, 6);
    memcpy(f + 28, peer_ip, 4);
    memcpy(f + 32, req + 22, 10); /* the asker's MAC and IP */
    device_receive(hdr, f, sizeof(f));
}

void sim_answer_arp(unsigned from)
{
    for (unsigned i = from; i < wire_count; i++) {
        const uint8_t *f = wire[i].data;
        if (wire[i].len >= 42 && be16(f + 12) == 0x0806 && be16(f + 20) == 1 && memcmp(f + 38, peer_ip, 4) == 0)
            peer_arp_reply(f);
    }
}

void sim_send_udp_to_echo(uint16_t sport, bool broadcast, const void *payload, uint16_t len)
{
    static const uint8_t all_ones[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, subnet_broadcast[4] = { 10, 0, 2, 255 };
    static uint8_t f[ETH + 20 + 8 + 1472];
    uint8_t hdr[HDR_LEN] = { 0 };
    if (len > 1472)
        abort();
    peer_ip_headers(f, broadcast ? all_ones : guest_mac, broadcast ? subnet_broadcast : guest_ip, 17, 28 + len);
    uint8_t *u = f + ETH + 20;
    memset(u, 0, 8);
    put16(u, sport);
    put16(u + 2, 7);
    put16(u + 4, 8 + len); /* checksum 0: none (RFC 768) */
    memcpy(u + 8, payload, len);
    device_receive(hdr, f, ETH + 28 + len);
}

static void peer_push(struct peer *p)
{
    if (!p->established)
        return;
    uint32_t sent = p->snd_nxt - (p->iss + 1);
    while (sent < p->cfg->len) {
        uint32_t in_flight = p->snd_nxt - p->snd_una;
        if (in_flight >= p->guest_wnd)
            return;
        uint32_t n = p->cfg->len - sent, room = p->guest_wnd - in_flight;
        uint16_t m = p->cfg->data_mss_option;
        const uint8_t mss_opt[4] = { 2, 4, (uint8_t)(m >> 8), (uint8_t)m };
        uint32_t opts = m ? sizeof(mss_opt) : 0, most = p->cfg->gso ? 65535 - 40 - opts : MSS - opts;
        n = n < room ? n : room;
        n = n < most ? n : most;
        peer_send(p, 0x18, p->snd_nxt, p->cfg->data + sent, n, m ? mss_opt : NULL, m ? sizeof(mss_opt) : 0);
        p->snd_nxt += n;
        sent += n;
    }
    bool echo_back = p->rcv_nxt - (p->irs + 1) == p->cfg->len;
    if (!p->fin_sent && p->snd_una == p->snd_nxt && (echo_back || !p->cfg->fin_after_echo)) {
        p->fin_sent = true;
        peer_send(p, 0x11, p->snd_nxt, NULL, 0, NULL, 0);
        p->snd_nxt++;
    }
}

static void peer_ack(struct peer *p)
{
    if (p->dropped[0] && !p->r->resent[0] && p->sack_ok && p->ooo_left != p->ooo_right)
        p->r->sacks_before_resend++;
    peer_send(p, 0x10, p->snd_nxt, NULL, 0, NULL, 0);
}

static void fail(struct peer *p, const char *why, uint32_t a, uint32_t b)
{
    if (p->r->ok) {
        p->r->ok = false;
        snprintf(p->r->why, sizeof(p->r->why), "%s (%u, %u)", why, a, b);
    }
}

/* Counts a retransmission, and whether the guest's timer sent it: no frame
 * from the peer since time last moved. */
static void note_guest_data(struct peer *p, uint32_t at, uint32_t plen)
{
    if (at < p->guest_sent) {
        p->r->retransmits++;
        if (env_now_ns() != p->last_peer_frame_ns)
            p->r->timer_retransmits++;
    }
    for (unsigned i = 0; i < p->cfg->drop_count && i < SIM_MAX_DROPS; i++)
        if (p->dropped[i] && !p->r->resent[i] && p->cfg->drop_offsets[i] - at < plen) {
            p->r->resent[i] = true;
            p->r->resent_after_ms[i] = (env_now_ns() - p->dropped_ns[i]) / 1000000;
        }
    if (at + plen > p->guest_sent)
        p->guest_sent = at + plen;
}

static bool drop_this(struct peer *p, uint32_t at, uint32_t plen)
{
    for (unsigned i = 0; i < p->cfg->drop_count && i < SIM_MAX_DROPS; i++)
        if (!p->dropped[i] && p->cfg->drop_offsets[i] - at < plen) {
            p->dropped[i] = true;
            p->dropped_ns[i] = env_now_ns();
            return true;
        }
    return false;
}

/* Moves `covered` past the segment of `seg`'s list that holds it, if any. */
static bool extend_cover(const struct tcp_seg *seg, uint32_t *covered)
{
    for (; seg; seg = seg->next) {
        uint32_t start = lwip_ntohl(seg->tcphdr->seqno), end = start + TCP_TCPLEN(seg);
        if (TCP_SEQ_LEQ(start, *covered) && TCP_SEQ_LT(*covered, end)) {
            *covered = end;
            return true;
        }
    }
    return false;
}

/* Every byte the guest's echo connection holds to send, from the last one
 * acknowledged to the last one written, is in one of lwIP's two queues: a
 * byte in neither can never be sent, and the connection stalls until lwIP
 * gives up on it. */
static void check_send_queues(struct peer *p)
{
    struct tcp_pcb *pcb = tcp_active_pcbs;
    if (!pcb || (pcb->state != ESTABLISHED && pcb->state != CLOSE_WAIT))
        return;
    uint32_t covered = pcb->lastack;
    while (extend_cover(pcb->unacked, &covered) || extend_cover(pcb->unsent, &covered))
        ;
    if (TCP_SEQ_LT(covered, pcb->snd_lbb))
        fail(p, "bytes in neither of lwIP's send queues (from, to)", covered - (p->irs + 1), pcb->snd_lbb - (p->irs + 1));
}

/* After the guest has run: with nothing but new data queued and no loss
 * being recovered, tcp_output sends as much as the window takes, in whole
 * MSS. A large segment that did not fit whole behind one that did used to
 * wait (a lone remainder in flight, which a Linux receiver acknowledges only
 * after its 40 ms delayed-ACK timer): counted. */
static void check_window_used(struct peer *p)
{
    struct tcp_pcb *pcb = tcp_active_pcbs;
    if (!pcb || (pcb->state != ESTABLISHED && pcb->state != CLOSE_WAIT) || !pcb->unsent || pcb->dupacks ||
        (pcb->flags & TF_INFR) || pcb->persist_backoff || lwip_ntohl(pcb->unsent->tcphdr->seqno) != pcb->snd_nxt)
        return;
    uint32_t wnd = LWIP_MIN(pcb->snd_wnd, pcb->cwnd), in_flight = pcb->snd_nxt - pcb->lastack;
    if (pcb->unsent->len >= pcb->mss && in_flight + pcb->mss <= wnd)
        p->r->window_left_unused++;
}

/* One frame the guest put on the wire. */
static void peer_input(struct peer *p, const uint8_t *f, uint32_t len)
{
    if (be16(f + 12) == 0x0806 && len >= 42 && be16(f + 20) == 1 && memcmp(f + 38, peer_ip, 4) == 0) {
        peer_arp_reply(f);
        return;
    }
    if (be16(f + 12) != 0x0800 || f[ETH + 9] != 6)
        return;
    uint32_t l4 = ETH + (uint32_t)(f[ETH] & 15) * 4;
    const uint8_t *t = f + l4;
    if (be16(t) != 7 || be16(t + 2) != p->cfg->port)
        return;
    p->r->guest_frames++;
    uint32_t th = (uint32_t)(t[12] >> 4) * 4, plen = len - l4 - th, seq = be32(t + 4), ack = be32(t + 8);
    uint8_t flags = t[13];
    bool data = p->established && plen && !(flags & 0x02); /* at `at` in the echoed stream */
    uint32_t at = seq - (p->irs + 1);
    if (data) {
        note_guest_data(p, at, plen);
        p->batch_bytes += plen;
    }
    if (data && !p->first_flight_done)
        p->r->first_flight += plen;
    if (data && p->drop_batch_done && !p->r->resent[0] && at >= p->sent_at_drop)
        p->r->new_before_resend += plen;
    if (data && p->outage_end_ns && !link_down(p) && !p->r->resumed_after_outage_ms)
        p->r->resumed_after_outage_ms = (env_now_ns() - p->outage_start_ns) / 1000000;
    if (data && p->cfg->outage_ms && !p->outage_end_ns && p->cfg->outage_at - at < plen) {
        p->outage_start_ns = env_now_ns();
        p->outage_end_ns = p->outage_start_ns + p->cfg->outage_ms * 1000000ULL;
    }
    if (data && p->outage_end_ns && p->cfg->outage_at - at < plen && p->r->outage_at_sends < SIM_OUTAGE_SENDS)
        p->r->outage_at_sent_ms[p->r->outage_at_sends++] = (env_now_ns() - p->outage_start_ns) / 1000000;
    if ((link_down(p) && !p->cfg->outage_to_guest_only) || lose(p, p->cfg->loss_to_peer) ||
        (data && drop_this(p, at, plen))) {
        if (getenv("PEER_TRACE"))
            fprintf(stderr, "guest: seq %u len %u at %llu ms (lost)\n", seq - p->irs, plen,
                    (unsigned long long)(env_now_ns() / 1000000));
        p->r->lost_to_peer++;
        return;
    }
    if (getenv("PEER_TRACE"))
        fprintf(stderr, "guest: flags %02x seq %u ack %u len %u wnd %u | peer una %u nxt %u rcv_nxt %u\n", flags,
                seq - p->irs, ack - p->iss, plen, be16(t + 14), p->snd_una - p->iss, p->snd_nxt - p->iss, p->rcv_nxt - p->irs);
    if (plen > p->r->largest_segment)
        p->r->largest_segment = plen;
    uint32_t mss = p->cfg->mss ? p->cfg->mss : MSS;
    if (mss < TCP_MIN_SND_MSS)
        mss = TCP_MIN_SND_MSS; /* what the guest takes a smaller MSS for (scripts/lwip-tcp-mss-on-syn.patch) */
    if (plen > mss)
        fail(p, "a segment larger than the MSS on the wire", plen, mss);
    if (flags & 0x04) {
        fail(p, "the guest reset the connection", seq, ack);
        return;
    }
    if ((flags & 0x12) == 0x12 && !p->established) { /* SYN-ACK */
        p->irs = seq;
        p->rcv_nxt = seq + 1;
        for (uint32_t o = 20; o + 1 < th;) { /* the guest's window scale, if it sent one */
            uint8_t kind = t[o];
            if (kind == 0)
                break;
            if (kind == 1) {
                o++;
                continue;
            }
            if (kind == 3 && o + 2 < th)
                p->guest_wscale = t[o + 2];
            if (kind == 4)
                p->sack_ok = p->cfg->sack;
            o += t[o + 1] ? t[o + 1] : 1;
        }
        p->established = true;
        p->snd_una = ack;
    }
    if (!p->established)
        return;
    if ((flags & 0x10) && (int32_t)(ack - p->snd_una) > 0) {
        p->snd_una = ack;
        p->stalled_ticks = 0;
        if (p->fin_sent && ack == p->snd_nxt)
            p->fin_acked = true;
    }
    p->guest_wnd = (uint32_t)be16(t + 14) << ((flags & 0x02) ? 0 : p->guest_wscale);
    bool ack_now = (flags & 0x02) != 0;
    /* In order, or overlapping what came before (trimmed, RFC 9293 3.10.7.4:
     * a sender may resend from a segment's start what was partly acknowledged). */
    uint32_t old = p->rcv_nxt - seq;
    if (plen && (int32_t)old >= 0 && old < plen) {
        uint32_t at = p->rcv_nxt - (p->irs + 1), n = plen - old;
        if (at + n > p->cfg->len) {
            fail(p, "more echoed than sent", at + n, p->cfg->len);
            return;
        }
        memcpy(p->echo + at, t + th + old, n);
        p->rcv_nxt += n;
        if (p->ooo_left != p->ooo_right && (int32_t)(p->rcv_nxt - p->ooo_left) >= 0) {
            if ((int32_t)(p->ooo_right - p->rcv_nxt) > 0)
                p->rcv_nxt = p->ooo_right; /* the hole is filled: the block was kept */
            p->ooo_left = p->ooo_right;
        }
        p->r->echoed = p->rcv_nxt - (p->irs + 1);
    } else if (plen && p->sack_ok && (int32_t)(seq - p->rcv_nxt) > 0 && seq - (p->irs + 1) + plen <= p->cfg->len) {
        /* After a hole: kept, extending the block or starting a new one. */
        memcpy(p->echo + (seq - (p->irs + 1)), t + th, plen);
        if (p->ooo_left != p->ooo_right && seq == p->ooo_right)
            p->ooo_right += plen;
        else if (p->ooo_left == p->ooo_right || (int32_t)(seq - p->ooo_right) > 0)
            p->ooo_left = seq, p->ooo_right = seq + plen;
    }
    if (plen && p->cfg->ack_per_batch)
        p->ack_owed = true;
    else if (plen)
        ack_now = true; /* every data frame: duplicates too, which drive fast retransmit */
    if ((flags & 0x01) && seq + plen == p->rcv_nxt && !p->guest_fin) {
        p->guest_fin = true;
        p->rcv_nxt++;
        ack_now = true;
    }
    if (ack_now)
        peer_ack(p);
}

static void quiesce(void)
{
    while (tcp_active_pcbs)
        tcp_abort(tcp_active_pcbs);
    while (tcp_tw_pcbs)
        tcp_abort(tcp_tw_pcbs);
    for (int i = 0; i < 8; i++)
        env_advance(TICK_NS);
    sim_wire_clear();
}

struct peer_result peer_echo(const struct peer_config *cfg, uint8_t *echo)
{
    sim_setup();
    struct peer_result r = { .ok = true };
    struct peer p = { .cfg = cfg, .r = &r, .echo = echo, .iss = 1000000, .random = cfg->seed | 1, .guest_wnd = MSS,
                      .window = 30000 };
    p.snd_una = p.snd_nxt = p.iss;
    uint16_t mss = cfg->mss ? cfg->mss : MSS;
    /* MSS, NOP, wscale 7, and SACK permitted (NOP, NOP, kind 4). */
    const uint8_t syn_opts[12] = { 2, 4, (uint8_t)(mss >> 8), (uint8_t)mss, 1, 3, 3, 7, 1, 1, 4, 2 };
    const unsigned syn_len = cfg->sack ? 12 : 8;
    peer_send(&p, 0x02, p.snd_nxt, NULL, 0, syn_opts, syn_len);
    p.snd_nxt++;
    uint64_t start = env_now_ns();
    unsigned seen = 0;
    while (r.ok && !(p.guest_fin && p.fin_acked) && env_now_ns() - start < MAX_FAKE_MS * 1000000ULL) {
        env_run_polls();
        check_send_queues(&p);
        check_window_used(&p);
        if (seen < sim_wire_count()) {
            uint32_t sent_before = p.guest_sent;
            p.batch_bytes = 0;
            while (seen < sim_wire_count() && r.ok) {
                const struct wire_frame *w = sim_wire(seen++);
                peer_input(&p, w->data, w->len);
            }
            if (p.guest_sent > sent_before && r.flight_count < SIM_FLIGHTS)
                r.flights[r.flight_count++] = p.guest_sent - sent_before;
            if (p.outage_end_ns && !link_down(&p) && p.batch_bytes && r.after_outage_count < SIM_FLIGHTS)
                r.after_outage[r.after_outage_count++] = p.batch_bytes;
            if (p.ack_owed) {
                p.ack_owed = false;
                peer_ack(&p);
            }
            p.first_flight_done = r.first_flight != 0; /* what it sends next, it sends knowing of these */
            if (p.dropped[0] && !p.drop_batch_done) {
                p.drop_batch_done = true;
                p.sent_at_drop = p.guest_sent;
            }
            peer_push(&p);
            continue;
        }
        /* Nothing moves: time passes (the guest's timers), and the peer goes
         * back to the last acknowledged byte once it has waited long enough. */
        env_advance(TICK_NS);
        if (seen == sim_wire_count() && ++p.stalled_ticks >= PEER_RTO_TICKS) {
            p.stalled_ticks = 0;
            if (!p.established) {
                peer_send(&p, 0x02, p.iss, NULL, 0, syn_opts, syn_len);
            } else if (p.snd_una != p.snd_nxt) {
                p.snd_nxt = p.snd_una;
                p.fin_sent = false;
                peer_push(&p);
            } else {
                peer_ack(&p);
            }
        }
    }
    r.fake_ms = (env_now_ns() - start) / 1000000;
    if (r.ok && !(p.guest_fin && p.fin_acked))
        fail(&p, "the echo did not finish", r.echoed, cfg->len);
    if (r.ok && (r.echoed != cfg->len || memcmp(echo, cfg->data, cfg->len) != 0))
        fail(&p, "the echo is not what was sent", r.echoed, cfg->len);
    if (r.ok && device_errors)
        fail(&p, device_error, device_errors, 0);
    quiesce();
    return r;
}

/* A TCP frame from the peer as given: the services' tests drive a client by hand. */
void sim_tcp_send(uint16_t sport, uint16_t dport, uint8_t flags, uint32_t seq, uint32_t ack, uint16_t wnd,
                  const void *payload, uint32_t len, const uint8_t *opts, unsigned opts_len)
{
    static uint8_t f[ETH + 20 + 60 + 2000];
    uint8_t hdr[HDR_LEN] = { 0 };
    if (len > 2000 || opts_len > 40)
        abort();
    uint32_t total = peer_tcp_frame(f, sport, dport, flags, seq, ack, wnd, payload, len, opts, opts_len);
    set_tcp_checksum(f, total);
    device_receive(hdr, f, total);
}
