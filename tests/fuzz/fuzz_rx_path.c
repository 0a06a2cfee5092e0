/*
 * libFuzzer harness: the whole receive path, from what a virtio-net device
 * writes into a receive buffer (struct virtio_net_hdr + Ethernet frame) to
 * lwIP, TCP and the HTTP and echo services, and back out through the
 * transmit ring. Everything between the two rings is the kernel's own code,
 * unmodified: drivers/virtio/virtio_net.c (rx_one: header checks, merged
 * buffers, NEEDS_CSUM completion, DATA_VALID), virtqueue.c, net_buffers.c,
 * net/nic_netif.c, net/net.c (the same netif setup: 10.0.2.15/24, IPv6
 * link-local, same flags), net/http_server.c, http_parser.c, echo_server.c,
 * stats_page.c, tcp_csum_offload.c and lwIP. rx_path_env.c stands in for
 * the rest of the kernel; this file plays the device.
 *
 * Input: records, each
 *   u16 big-endian L, one control byte, then L bytes that the device writes
 *   into receive buffers: a 12-byte virtio_net_hdr as the device would
 *   (flags, gso_type, hdr_len, gso_size, csum_start, csum_offset,
 *   num_buffers, little-endian) and the frame.
 * The device fills num_buffers buffers with the L bytes, each full but the
 * last, as a device must (1 buffer if the field is 0 or more than the
 * largest frame needs; the driver still sees the field as written; a field
 * larger than the bytes need leaves buffers empty). Control bits, for
 * the harness to play a peer that gets what a mutator cannot:
 *   bit 0  recompute the IPv4 header checksum
 *   bit 1  recompute the TCP/UDP/ICMP/ICMPv6 checksum
 *   bit 2  set the TCP acknowledgement number to what the guest sent last on
 *          that connection (its ISN is not predictable)
 *   bit 3  the device completes one buffer fewer than num_buffers says
 *   bits 4-7  advance the clock by that many 250 ms steps first
 *
 * Checked, besides ASan/UBSan and lwIP's own assertions (rx_path_env.c):
 * every frame the guest sends (virtio header sane, no longer than the MTU
 * unless it is a large TCP segment for the device to cut, our source
 * addresses, valid IPv4 header and L4 checksums after the device applies the
 * offloaded one); and after each input, once every
 * connection is aborted and the clock has run 70 s, every receive buffer
 * is back with the driver and lwIP's pbuf, segment, reassembly and queue
 * pools and heap are back at zero: nothing leaked.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drivers/virtio/virtio_net.h"
#include "lwip/etharp.h"
#include "lwip/nd6.h"
#include "lwip/netif.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/stats.h"
#include "lwip/tcp.h"
#include "net/http_server.h"
#include "net/net.h"
#include "tests/fuzz/rx_path_env.h"

#define CHECK(cond) do { if (!(cond)) { fprintf(stderr, "check failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__); abort(); } } while (0)

#define HDR_LEN 12
#define ETH_LEN 14
#define MTU 1500
#define BUFFER_SIZE VIRTIO_NET_RX_BUFFER_SIZE
#define MAX_MERGE VIRTIO_NET_MAX_RX_MERGE
#define TICK_NS 250000000ULL
#define QUIESCE_STEP_NS 500000000ULL
#define QUIESCE_MAX_STEPS 140 /* 70 s: past IPv4 (15 s) and IPv6 (60 s) reassembly timeouts */
#define MAX_SEGS 256 /* a large segment's chain: its header and up to 160 pieces */

static const uint8_t guest_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
static const uint8_t guest_ip4[4] = { 10, 0, 2, 15 };

static struct netif *netif;
static struct virtio_net *nic;
static uint16_t rx_last_avail, tx_last_avail;

static uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t be32(const uint8_t *p) { return (uint32_t)be16(p) << 16 | be16(p + 2); }
static void put_be16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put_be32(uint8_t *p, uint32_t v) { put_be16(p, (uint16_t)(v >> 16)); put_be16(p + 2, (uint16_t)v); }

/* ---- checksums: the harness's own, independent of lib/inet_csum.c ---- */

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

/* ---- frame layout ---- */

struct l4 {
    bool ok;
    bool v6;
    uint8_t proto;
    size_t ip;    /* offset of the IP header */
    size_t off;   /* offset of the L4 header */
    size_t len;   /* L4 length (header and data) */
};

/* Finds the transport header of an unfragmented IPv4, or IPv6 without extension headers. */
static struct l4 find_l4(const uint8_t *f, size_t n)
{
    struct l4 r = { .ip = ETH_LEN };
    if (n < ETH_LEN + 20)
        return r;
    const uint8_t *ip = f + ETH_LEN;
    if (be16(f + 12) == 0x0800 && ip[0] >> 4 == 4) {
        size_t ihl = (size_t)(ip[0] & 15) * 4, total = be16(ip + 2);
        if (ihl < 20 || total < ihl || ETH_LEN + total > n || (be16(ip + 6) & 0x3FFF))
            return r;
        r = (struct l4){ true, false, ip[9], ETH_LEN, ETH_LEN + ihl, total - ihl };
    } else if (be16(f + 12) == 0x86DD && n >= ETH_LEN + 40 && ip[0] >> 4 == 6) {
        size_t plen = be16(ip + 4);
        if (ETH_LEN + 40 + plen > n)
            return r;
        r = (struct l4){ true, true, ip[6], ETH_LEN, ETH_LEN + 40, plen };
    }
    return r;
}

/* Where the L4 checksum field is, or 0 for a protocol without one here. */
static size_t csum_field(const struct l4 *l)
{
    size_t at;
    switch (l->proto) {
    case 6: at = 16; break;
    case 17: at = 6; break;
    case 1: at = l->v6 ? 0 : 2; break;
    case 58: at = l->v6 ? 2 : 0; break;
    default: return 0;
    }
    return at && at + 2 <= l->len ? l->off + at : 0;
}

/* The L4 checksum over the segment as it stands (0 when the field is right). */
static uint16_t l4_sum(const uint8_t *f, const struct l4 *l)
{
    uint32_t sum = 0;
    if (l->proto != 1) { /* ICMPv4 has no pseudo header */
        const uint8_t *ip = f + l->ip;
        sum = l->v6 ? sum_bytes(ip + 8, 32, 0) : sum_bytes(ip + 12, 8, 0);
        sum += l->proto + (uint32_t)l->len;
    }
    return (uint16_t)~fold(sum_bytes(f + l->off, l->len, sum));
}

/* ---- the guest's TCP sequence numbers, for the peer's acknowledgements ---- */

#define TCP_TRACKED 16
static struct { uint16_t guest_port, peer_port; uint32_t next; bool used; } tcp_seen[TCP_TRACKED];
static unsigned tcp_seen_next;

static void track_guest_segment(const uint8_t *f, const struct l4 *l)
{
    const uint8_t *t = f + l->off;
    size_t hlen = (size_t)(t[12] >> 4) * 4;
    if (l->len < 20 || hlen < 20 || hlen > l->len)
        return;
    uint32_t next = be32(t + 4) + (uint32_t)(l->len - hlen) + ((t[13] & 0x02) ? 1 : 0) + ((t[13] & 0x01) ? 1 : 0);
    unsigned slot = tcp_seen_next;
    for (unsigned i = 0; i < TCP_TRACKED; i++)
        if (tcp_seen[i].used && tcp_seen[i].guest_port == be16(t) && tcp_seen[i].peer_port == be16(t + 2))
            slot = i;
    if (slot == tcp_seen_next)
        tcp_seen_next = (tcp_seen_next + 1) % TCP_TRACKED;
    tcp_seen[slot].used = true;
    tcp_seen[slot].guest_port = be16(t);
    tcp_seen[slot].peer_port = be16(t + 2);
    tcp_seen[slot].next = next;
}

static void fix_ack(uint8_t *f, const struct l4 *l)
{
    if (l->proto != 6 || l->len < 20)
        return;
    uint8_t *t = f + l->off;
    for (unsigned i = 0; i < TCP_TRACKED; i++)
        if (tcp_seen[i].used && tcp_seen[i].guest_port == be16(t + 2) && tcp_seen[i].peer_port == be16(t))
            put_be32(t + 8, tcp_seen[i].next);
}

/* ---- the device: descriptor chains ---- */

struct seg {
    uint8_t *p;
    uint32_t len;
    bool writable;
};

static unsigned chain_segments(struct virtqueue *vq, uint16_t head, struct seg *segs)
{
    const struct vring_desc *table = vq->split.vring.desc;
    unsigned limit = vq->split.vring.num, count = 0;
    uint16_t i = head;
    if (table[head].flags & VRING_DESC_F_INDIRECT) {
        CHECK(table[head].len % sizeof(struct vring_desc) == 0);
        limit = table[head].len / sizeof(struct vring_desc);
        table = (const struct vring_desc *)(uintptr_t)table[head].addr;
        i = 0;
    }
    for (unsigned hops = 0;; hops++) {
        CHECK(hops < limit && i < limit && count < MAX_SEGS);
        segs[count++] = (struct seg){ (uint8_t *)(uintptr_t)table[i].addr, table[i].len,
                                      (table[i].flags & VRING_DESC_F_WRITE) != 0 };
        if (!(table[i].flags & VRING_DESC_F_NEXT))
            return count;
        i = table[i].next;
    }
}

/* Publishes `added` used entries, then interrupts if the driver wants it. */
static void publish_used(struct virtqueue *vq, uint16_t added, uint16_t last_avail)
{
    struct vring *vr = &vq->split.vring;
    uint16_t old = vr->used->idx, now = (uint16_t)(old + added);
    __atomic_store_n(&vr->used->idx, now, __ATOMIC_RELEASE);
    *vring_avail_event(vr) = last_avail; /* event index: kick me for anything new */
    bool interrupt = vq->event_idx ? vring_need_event(*vring_used_event(vr), now, old)
                                   : !(vr->avail->flags & VRING_AVAIL_F_NO_INTERRUPT);
    if (added && interrupt && vq->callback)
        vq->callback(vq);
}

/* ---- the device: transmit, and the checks on what the guest sends ---- */

/* RX_PATH_TRACE=1: one line per frame the guest sends, to see how far an input gets. */
static bool tracing;

static void trace_sent(const uint8_t *f, size_t n, const struct l4 *l)
{
    fprintf(stderr, "guest sent %zu bytes, type %04x", n, be16(f + 12));
    if (l->ok) {
        fprintf(stderr, ", proto %u", l->proto);
        if ((l->proto == 6 || l->proto == 17) && l->len >= 8)
            fprintf(stderr, ", ports %u -> %u", be16(f + l->off), be16(f + l->off + 2));
        if (l->proto == 6 && l->len >= 20)
            fprintf(stderr, ", flags %02x, %zu data bytes: %.40s", f[l->off + 13], l->len - (size_t)(f[l->off + 12] >> 4) * 4,
                    (const char *)f + l->off + (f[l->off + 12] >> 4) * 4);
        if (l->proto == 1 || l->proto == 58)
            fprintf(stderr, ", icmp type %u", f[l->off]);
    }
    fprintf(stderr, "\n");
}

/* A large TCP segment (HOST_TSO4/6): a type the device took, NEEDS_CSUM at
 * the TCP checksum, hdr_len the headers, gso_size within the payload. The
 * frame itself is then checked as one big segment (its pseudo-header sum
 * covers its whole length, as the device expects). */
static void check_gso(const uint8_t *f, size_t n, const uint8_t *hdr)
{
    CHECK(hdr[1] == 1 || hdr[1] == 4); /* TCPV4, TCPV6; no ECN */
    CHECK(hdr[0] == 1);
    struct l4 l = find_l4(f, n);
    CHECK(l.ok && l.proto == 6 && l.v6 == (hdr[1] == 4) && l.len >= 20);
    size_t hl = l.off + (size_t)(f[l.off + 12] >> 4) * 4;
    uint16_t hdr_len = (uint16_t)(hdr[2] | hdr[3] << 8), gso_size = (uint16_t)(hdr[4] | hdr[5] << 8);
    CHECK(hdr_len == hl && gso_size > 0 && gso_size <= MTU && hl + gso_size < n && n <= 65535);
}

static void check_sent(uint8_t *f, size_t n, const uint8_t *hdr)
{
    if (hdr[1] != 0)
        check_gso(f, n, hdr);
    else
        CHECK(n >= ETH_LEN && n <= ETH_LEN + MTU);
    CHECK((hdr[0] & ~1) == 0);
    if (hdr[0] & 1) { /* NEEDS_CSUM: do what the device does */
        uint16_t start = (uint16_t)(hdr[6] | hdr[7] << 8), offset = (uint16_t)(hdr[8] | hdr[9] << 8);
        CHECK((size_t)start + offset + 2 <= n);
        struct l4 l = find_l4(f, n);
        CHECK(l.ok && l.proto == 6 && start == l.off && offset == 16);
        uint16_t sum = (uint16_t)~fold(sum_bytes(f + start, n - start, 0));
        put_be16(f + start + offset, sum);
    }
    CHECK(memcmp(f + 6, guest_mac, 6) == 0);
    uint16_t type = be16(f + 12);
    CHECK(type == 0x0806 || type == 0x0800 || type == 0x86DD);
    if (type == 0x0800) {
        CHECK(n >= ETH_LEN + 20);
        const uint8_t *ip = f + ETH_LEN;
        size_t ihl = (size_t)(ip[0] & 15) * 4;
        CHECK(ip[0] >> 4 == 4 && ihl >= 20 && be16(ip + 2) >= ihl && ETH_LEN + be16(ip + 2) <= n);
        CHECK(fold(sum_bytes(ip, ihl, 0)) == 0xFFFF);
        CHECK(memcmp(ip + 12, guest_ip4, 4) == 0);
    } else if (type == 0x86DD) {
        CHECK(n >= ETH_LEN + 40);
        CHECK(f[ETH_LEN] >> 4 == 6 && ETH_LEN + 40 + (size_t)be16(f + ETH_LEN + 4) <= n);
    }
    struct l4 l = find_l4(f, n);
    if (l.ok && csum_field(&l))
        CHECK(l4_sum(f, &l) == 0);
    if (l.ok && l.proto == 6)
        track_guest_segment(f, &l);
    if (tracing)
        trace_sent(f, n, &l);
}

static void device_transmit(struct virtqueue *vq)
{
    static uint8_t frame[HDR_LEN + 65536];
    struct vring *vr = &vq->split.vring;
    uint16_t done = 0;
    while (tx_last_avail != __atomic_load_n(&vr->avail->idx, __ATOMIC_ACQUIRE)) {
        uint16_t head = vr->avail->ring[tx_last_avail % vr->num];
        struct seg segs[MAX_SEGS];
        unsigned count = chain_segments(vq, head, segs);
        size_t n = 0;
        for (unsigned i = 0; i < count; i++) {
            CHECK(!segs[i].writable && n + segs[i].len <= sizeof(frame));
            memcpy(frame + n, segs[i].p, segs[i].len);
            n += segs[i].len;
        }
        CHECK(n >= HDR_LEN);
        check_sent(frame + HDR_LEN, n - HDR_LEN, frame);
        vr->used->ring[(uint16_t)(vr->used->idx + done) % vr->num] = (struct vring_used_elem){ head, 0 };
        done++;
        tx_last_avail++;
    }
    publish_used(vq, done, tx_last_avail);
}

static void queue_notified(struct virtqueue *vq)
{
    if (vq == env_queue(1))
        device_transmit(vq);
    else
        *vring_avail_event(&vq->split.vring) = rx_last_avail; /* new receive buffers: nothing to do now */
}

/* ---- the device: receive ---- */

static void device_receive(const uint8_t *data, size_t len, bool one_short)
{
    struct virtqueue *vq = env_queue(0);
    struct vring *vr = &vq->split.vring;
    unsigned claimed = len >= HDR_LEN ? (unsigned)(data[10] | data[11] << 8) : 1;
    unsigned pieces = claimed >= 1 && claimed <= MAX_MERGE ? claimed : 1;
    if (len > (size_t)pieces * BUFFER_SIZE)
        len = (size_t)pieces * BUFFER_SIZE; /* all the device can write */
    unsigned delivered = one_short && pieces > 1 ? pieces - 1 : pieces;
    uint16_t avail = __atomic_load_n(&vr->avail->idx, __ATOMIC_ACQUIRE);
    if ((uint16_t)(avail - rx_last_avail) < delivered)
        return; /* no room: the device drops the frame */
    size_t pos = 0;
    uint16_t used = vr->used->idx;
    for (unsigned k = 0; k < delivered; k++) {
        size_t want = len - pos < BUFFER_SIZE ? len - pos : BUFFER_SIZE;
        uint16_t head = vr->avail->ring[rx_last_avail++ % vr->num];
        struct seg segs[MAX_SEGS];
        unsigned count = chain_segments(vq, head, segs);
        uint32_t written = 0;
        for (unsigned i = 0; i < count && want; i++) {
            CHECK(segs[i].writable);
            uint32_t n = want < segs[i].len ? (uint32_t)want : segs[i].len;
            memcpy(segs[i].p, data + pos, n);
            pos += n;
            want -= n;
            written += n;
        }
        vr->used->ring[(uint16_t)(used + k) % vr->num] = (struct vring_used_elem){ head, written };
    }
    publish_used(vq, (uint16_t)delivered, rx_last_avail);
    env_run_polls();
}

/* ---- one record ---- */

static void fix_frame(uint8_t *f, size_t n, uint8_t control)
{
    if ((control & 1) && n >= ETH_LEN + 20 && be16(f + 12) == 0x0800) {
        uint8_t *ip = f + ETH_LEN;
        size_t ihl = (size_t)(ip[0] & 15) * 4;
        if (ihl >= 20 && ETH_LEN + ihl <= n) {
            put_be16(ip + 10, 0);
            put_be16(ip + 10, (uint16_t)~fold(sum_bytes(ip, ihl, 0)));
        }
    }
    struct l4 l = find_l4(f, n);
    if (!l.ok)
        return;
    if (control & 4)
        fix_ack(f, &l);
    size_t field = csum_field(&l);
    if ((control & 2) && field) {
        put_be16(f + field, 0);
        put_be16(f + field, l4_sum(f, &l));
    }
}

static void record(uint8_t control, const uint8_t *data, size_t len)
{
    static uint8_t copy[MAX_MERGE * BUFFER_SIZE];
    if (len > sizeof(copy))
        len = sizeof(copy);
    if (control >> 4)
        env_advance((control >> 4) * TICK_NS);
    memcpy(copy, data, len);
    if (len > HDR_LEN)
        fix_frame(copy + HDR_LEN, len - HDR_LEN, control);
    device_receive(copy, len, control & 8);
}

/* ---- between inputs ---- */

static bool stack_idle(void)
{
    static const memp_t pools[] = { MEMP_PBUF, MEMP_PBUF_POOL, MEMP_TCP_PCB, MEMP_TCP_SEG, MEMP_REASSDATA,
                                    MEMP_FRAG_PBUF, MEMP_ND6_QUEUE, MEMP_IP6_REASSDATA };
    for (size_t i = 0; i < sizeof(pools) / sizeof(pools[0]); i++)
        if (lwip_stats.memp[pools[i]]->used)
            return false;
    return virtio_net_rx_buffers_held(nic) == 0 && lwip_stats.mem.used == 0 && http_server_stats()->active == 0;
}

static void report_resources(void)
{
    fprintf(stderr, "held after quiesce: rx buffers %u, heap %u bytes, http active %llu\n",
            virtio_net_rx_buffers_held(nic), (unsigned)lwip_stats.mem.used,
            (unsigned long long)http_server_stats()->active);
    for (int i = 0; i < MEMP_MAX; i++)
        if (lwip_stats.memp[i]->used)
            fprintf(stderr, "  pool %d (memp_std.h order): %u in use\n", i, (unsigned)lwip_stats.memp[i]->used);
}

/* Ends every conversation the input started, and checks nothing stays held. */
static void quiesce(void)
{
    while (tcp_active_pcbs)
        tcp_abort(tcp_active_pcbs);
    while (tcp_tw_pcbs)
        tcp_abort(tcp_tw_pcbs);
    etharp_cleanup_netif(netif);
    nd6_cleanup_netif(netif);
    for (int steps = 0; !stack_idle() && steps < QUIESCE_MAX_STEPS; steps++)
        env_advance(QUIESCE_STEP_NS);
    if (!stack_idle()) {
        report_resources();
        abort();
    }
    /* What an input may have changed on the interface goes back to its setup. */
    for (int i = 1; i < LWIP_IPV6_NUM_ADDRESSES; i++)
        netif_ip6_addr_set_state(netif, i, IP6_ADDR_INVALID);
    if (netif_ip6_addr_state(netif, 0) != IP6_ADDR_PREFERRED)
        netif_ip6_addr_set_state(netif, 0, IP6_ADDR_PREFERRED);
    netif->mtu = MTU;
    netif->mtu6 = MTU;
    memset(tcp_seen, 0, sizeof(tcp_seen));
}

static void setup(void)
{
    static const struct env_device_ops ops = { queue_notified };
    uint64_t features = VIRTIO_F_VERSION_1 | VIRTIO_NET_F_MAC | VIRTIO_NET_F_STATUS | VIRTIO_NET_F_MRG_RXBUF |
                        VIRTIO_NET_F_CSUM | VIRTIO_NET_F_GUEST_CSUM | VIRTIO_NET_F_GUEST_TSO4 |
                        VIRTIO_NET_F_GUEST_TSO6 | VIRTIO_NET_F_GUEST_ECN | VIRTIO_NET_F_HOST_TSO4 |
                        VIRTIO_NET_F_HOST_TSO6 | VIRTIO_F_RING_EVENT_IDX | VIRTIO_F_RING_INDIRECT_DESC |
                        VIRTIO_F_ANY_LAYOUT;
    tracing = getenv("RX_PATH_TRACE") != NULL;
    env_set_device(&ops, features, guest_mac);
    env_reset_random();
    struct virtio_net_config nic_cfg = { .virtio = { .irq_mode = IRQ_MODE_AUTO, .indirect = true, .event_idx = true },
                                         .budget = 64 };
    CHECK(virtio_net_probe_all(&nic_cfg) == 1);
    nic = virtio_net_get(0);
    struct net_config net_cfg = { .ip_addr = 0x0A00020F, .ip_prefix = 24, .gw_set = true, .gw_addr = 0x0A000202 };
    CHECK(net_init(&net_cfg) == 1);
    netif = netif_default;
    CHECK(netif && netif_is_up(netif) && netif_is_link_up(netif));
    /* Let duplicate address detection finish, as after boot. */
    for (int i = 0; i < 20; i++)
        env_advance(QUIESCE_STEP_NS);
    CHECK(netif_ip6_addr_state(netif, 0) == IP6_ADDR_PREFERRED);
    quiesce();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready;
    if (!ready) {
        setup();
        ready = true;
    }
    env_reset_random();
    while (size >= 3) {
        size_t len = be16(data);
        uint8_t control = data[2];
        data += 3;
        size -= 3;
        if (len > size)
            len = size;
        record(control, data, len);
        data += len;
        size -= len;
    }
    quiesce();
    return 0;
}
