#include "net/tcp_gso.h"

#include "lib/inet_csum.h"
#include "lib/string.h"
#include "net/tcp_csum_offload.h"

/* Offsets in the IPv4 header (RFC 791) and IPv6 header (RFC 8200). */
#define IPV4_TOTAL_LEN 2
#define IPV4_ID 4
#define IPV4_CHECKSUM 10
#define IPV6_PAYLOAD_LEN 4
/* Offsets in the TCP header (RFC 9293). */
#define TCP_MIN_HEADER 20
#define TCP_SEQ 4
#define TCP_FLAGS 13
#define TCP_FIN 0x01
#define TCP_PSH 0x08
/* What only the last of the segments a large one is cut into carries. */
#define TCP_LAST_ONLY (TCP_FIN | TCP_PSH)
#define TCP_ACK 0x10

static uint16_t be16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static uint32_t be32(const uint8_t *p) { return (uint32_t)be16(p) << 16 | be16(p + 2); }
static void put_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

bool tcp_gso_segment(const uint8_t *frame, size_t header_len, size_t frame_len, struct tcp_gso_seg *seg)
{
    if (tcp_frame_parse(frame, header_len, &seg->l) != TCP_FRAME_TCP)
        return false;
    uint32_t hdr_len = (uint32_t)seg->l.l4 + seg->l.tcp_hlen;
    if (seg->l.tcp_hlen < TCP_MIN_HEADER || seg->l.tcp_hlen > seg->l.tcp_len || hdr_len > header_len || hdr_len > TCP_GSO_HEADER_MAX || (uint32_t)seg->l.l4 + seg->l.tcp_len != frame_len)
        return false; /* headers apart from the first piece, or padding/bytes the IP length does not cover */
    const uint8_t *tcp = frame + seg->l.l4;
    seg->hdr_len = (uint16_t)hdr_len;
    seg->payload = (uint16_t)(seg->l.tcp_len - seg->l.tcp_hlen);
    seg->seq = be32(tcp + TCP_SEQ);
    seg->flags = tcp[TCP_FLAGS];
    seg->ip_id = seg->l.v6 ? 0 : be16(frame + TCP_FRAME_ETH_HEADER + IPV4_ID);
    /* Data under ACK, PSH and FIN only: SYN, RST, URG and ECN flags are not
     * repeated or moved faithfully by segmentation. */
    return seg->payload > 0 && (seg->flags & (uint8_t)~TCP_LAST_ONLY) == TCP_ACK;
}

/* The header bytes with what segmentation changes per segment zeroed. */
static void normalized(uint8_t *out, const uint8_t *hdr, const struct tcp_gso_seg *s)
{
    memcpy(out, hdr, s->hdr_len);
    uint8_t *ip = out + TCP_FRAME_ETH_HEADER, *tcp = out + s->l.l4;
    if (s->l.v6) {
        put_be16(ip + IPV6_PAYLOAD_LEN, 0);
    } else {
        put_be16(ip + IPV4_TOTAL_LEN, 0);
        put_be16(ip + IPV4_ID, 0);
        put_be16(ip + IPV4_CHECKSUM, 0);
    }
    memset(tcp + TCP_SEQ, 0, 4);
    put_be16(tcp + TCP_FRAME_CSUM_FIELD, 0);
    tcp[TCP_FLAGS] &= (uint8_t)~TCP_LAST_ONLY;
}

bool tcp_gso_run_open(const struct tcp_gso_seg *first, const struct tcp_gso_seg *last, uint32_t run_payload)
{
    return last->payload == first->payload && !(last->flags & TCP_LAST_ONLY) &&
           (uint32_t)first->hdr_len + run_payload + first->payload <= TCP_GSO_MAX_FRAME;
}

bool tcp_gso_can_follow(const uint8_t *first_hdr, const struct tcp_gso_seg *first, const struct tcp_gso_seg *last,
                        const uint8_t *next_hdr, const struct tcp_gso_seg *next, uint32_t run_payload)
{
    if (!tcp_gso_run_open(first, last, run_payload) || next->payload > first->payload ||
        (uint32_t)first->hdr_len + run_payload + next->payload > TCP_GSO_MAX_FRAME)
        return false;
    if (next->hdr_len != first->hdr_len || next->l.v6 != first->l.v6 || next->l.l4 != first->l.l4 ||
        next->seq != last->seq + last->payload || (!first->l.v6 && next->ip_id != (uint16_t)(last->ip_id + 1)))
        return false;
    uint8_t a[TCP_GSO_HEADER_MAX], b[TCP_GSO_HEADER_MAX];
    normalized(a, first_hdr, first);
    normalized(b, next_hdr, next);
    return memcmp(a, b, first->hdr_len) == 0;
}

void tcp_gso_finish(uint8_t *hdr, const struct tcp_gso_seg *first, const struct tcp_gso_seg *last, uint32_t payload,
                    uint16_t gso_size, struct virtio_net_tx_offload *off)
{
    uint8_t *ip = hdr + TCP_FRAME_ETH_HEADER, *tcp = hdr + first->l.l4;
    uint32_t tcp_len = first->l.tcp_hlen + payload;
    if (first->l.v6) {
        put_be16(ip + IPV6_PAYLOAD_LEN, (uint16_t)tcp_len);
    } else {
        put_be16(ip + IPV4_TOTAL_LEN, (uint16_t)(first->l.l4 - TCP_FRAME_ETH_HEADER + tcp_len));
        put_be16(ip + IPV4_CHECKSUM, 0);
        struct inet_csum c;
        inet_csum_init(&c);
        inet_csum_add(&c, ip, (size_t)(first->l.l4 - TCP_FRAME_ETH_HEADER));
        put_be16(ip + IPV4_CHECKSUM, inet_csum_result(&c));
    }
    tcp[TCP_FLAGS] = (uint8_t)((tcp[TCP_FLAGS] & ~TCP_LAST_ONLY) | (last->flags & TCP_LAST_ONLY));
    /* The device sums from the TCP header to the end of each segment it cuts,
     * adjusting this sum to the segment's length (as Linux's tcp_gso_segment does). */
    put_be16(tcp + TCP_FRAME_CSUM_FIELD, tcp_csum_pseudo(hdr, &first->l, tcp_len));
    *off = (struct virtio_net_tx_offload){
        .csum = true,
        .csum_start = first->l.l4,
        .csum_offset = TCP_FRAME_CSUM_FIELD,
        .gso_type = first->l.v6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4,
        .gso_size = gso_size,
        .hdr_len = first->hdr_len,
    };
}
