#include "net/tcp_large_send.h"

#include "lib/string.h"
#include "lwip/inet_chksum.h"
#include "lwip/ip.h"
#include "lwip/nd6.h"
#include "lwip/prot/ip4.h"
#include "lwip/prot/ip6.h"
#include "lwip/pbuf.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/prot/tcp.h"
#include "lwip/prot/ip.h"
#include "net/nic_netif.h"

#ifndef LWIP_PATCH_LARGE_SEGMENTS
#error "third_party/lwip lacks scripts/lwip-large-segments.patch: run scripts/setup"
#endif
/* A TCP segment IP fragments (tcp_large_send_cut_by_netif) stays queued for
 * retransmission: lwIP 2.1.3's ip6_frag would have changed its pbufs (and
 * its nd6 took a Packet Too Big of any size, down to where ip6_frag loops). */
#ifndef LWIP_PATCH_IPV6_PATH_MTU
#error "third_party/lwip lacks scripts/lwip-ipv6-path-mtu.patch: run scripts/setup"
#endif

#define IPV4_PROTOCOL 9
#define IPV4_SRC 12
#define IPV6_NEXT_HEADER 6
#define IPV6_SRC 8
#define TCP_MIN_HEADER 20

u16_t tcp_large_send_segment_max(const struct tcp_pcb *pcb)
{
    /* Every netif, not the pcb's route: the answer must not change while the
     * pcb lives (a link going down would drop its route), and lwIP asserts
     * that it does not shrink under queued segments. */
    if (pcb->mss < TCP_LARGE_SEND_MIN_MSS || !nic_netif_all_cut_tcp(IP_IS_V6_VAL(pcb->remote_ip)))
        return pcb->mss;
    return (u16_t)(TCP_LARGE_SEND_PAYLOAD_MAX / pcb->mss * pcb->mss);
}

/* Fills in the TCP checksum of `p` (from its IP header, `ip_hlen` long) that
 * lwIP left for the device: IP is about to fragment it, and a device cannot
 * compute a fragment's checksum (it does not see the whole segment). */
static void tcp_checksum_before_fragmenting(struct pbuf *p, bool v6, u16_t ip_hlen)
{
    ip_addr_t src, dst;
    if (v6) {
        const struct ip6_hdr *h = p->payload;
        ip_addr_copy_from_ip6_packed(src, h->src);
        ip_addr_copy_from_ip6_packed(dst, h->dest);
    } else {
        const struct ip_hdr *h = p->payload;
        ip_addr_copy_from_ip4(src, h->src);
        ip_addr_copy_from_ip4(dst, h->dest);
    }
    pbuf_remove_header(p, ip_hlen);
    struct tcp_hdr *tcp = p->payload;
    tcp->chksum = 0;
    tcp->chksum = ip_chksum_pseudo(p, IP_PROTO_TCP, (u16_t)p->tot_len, &src, &dst);
    pbuf_add_header_force(p, ip_hlen);
}

int tcp_large_send_cut_by_netif(struct pbuf *p, const struct netif *netif)
{
    const uint8_t *ip = p->payload;
    if (p->len < 40)
        return 0;
    bool v6 = (ip[0] >> 4) == 6;
    uint8_t proto = v6 ? ip[IPV6_NEXT_HEADER] : ip[IPV4_PROTOCOL];
    if (proto != IP_PROTO_TCP)
        return 0;
    if (nic_netif_cuts_tcp(netif, v6))
        return 1;
    /* lwIP adds no extension headers to TCP; an IPv4 header's length is its own. */
    u16_t ip_hlen = v6 ? IP6_HLEN : (u16_t)((ip[0] & 0x0F) * 4);
    if (!(netif->chksum_flags & NETIF_CHECKSUM_GEN_TCP) && p->len >= ip_hlen + TCP_MIN_HEADER)
        tcp_checksum_before_fragmenting(p, v6, ip_hlen);
    return 0;
}

/* The payload of one of the MSS-sized segments the device cuts the TCP
 * segment at `ip` (its TCP header at `tcp`) into; 0 if no connection of
 * lwIP's sends it. */
static uint16_t segment_payload(struct netif *netif, const uint8_t *ip, bool v6, const uint8_t *tcp)
{
    const uint8_t *src = ip + (v6 ? IPV6_SRC : IPV4_SRC);
    size_t alen = v6 ? 16 : 4;
    uint16_t sport = (uint16_t)(tcp[0] << 8 | tcp[1]), dport = (uint16_t)(tcp[2] << 8 | tcp[3]);
    uint16_t tcp_hlen = (uint16_t)((tcp[12] >> 4) * 4);
    for (const struct tcp_pcb *pcb = tcp_active_pcbs; pcb; pcb = pcb->next) {
        if (pcb->local_port != sport || pcb->remote_port != dport || IP_IS_V6_VAL(pcb->local_ip) != v6)
            continue;
        const void *local = v6 ? (const void *)ip_2_ip6(&pcb->local_ip)->addr
                               : (const void *)&ip_2_ip4(&pcb->local_ip)->addr;
        const void *remote = v6 ? (const void *)ip_2_ip6(&pcb->remote_ip)->addr
                                : (const void *)&ip_2_ip4(&pcb->remote_ip)->addr;
        if (memcmp(local, src, alen) != 0 || memcmp(remote, src + alen, alen) != 0)
            continue;
        uint16_t mss = pcb->mss;
        if (v6) {
            u16_t path_mtu = nd6_get_destination_mtu(ip_2_ip6(&pcb->remote_ip), netif);
            if (path_mtu >= IP6_MIN_MTU_LENGTH && path_mtu - IP6_HLEN - TCP_MIN_HEADER < mss)
                mss = (uint16_t)(path_mtu - IP6_HLEN - TCP_MIN_HEADER);
        }
        /* The options this segment carries, every cut of it carries (tcp_write's optlen). */
        return (uint16_t)(mss - (tcp_hlen - TCP_MIN_HEADER));
    }
    return 0;
}

uint16_t tcp_large_send_mss(struct netif *netif, const uint8_t *frame, const struct tcp_frame_layout *l)
{
    return segment_payload(netif, frame + TCP_FRAME_ETH_HEADER, l->v6, frame + l->l4);
}

u16_t tcp_large_send_packets(const struct pbuf *p, struct netif *netif)
{
    const uint8_t *ip = p->payload;
    uint16_t ip_hlen = (uint16_t)((ip[0] & 0x0F) * 4);
    if (p->tot_len <= netif->mtu || ip[IPV4_PROTOCOL] != IP_PROTO_TCP || p->len < ip_hlen + TCP_MIN_HEADER ||
        !nic_netif_cuts_tcp(netif, false))
        return 1; /* one packet, or IP's fragments of one, which share its identification */
    const uint8_t *tcp = ip + ip_hlen;
    uint16_t cut = segment_payload(netif, ip, false, tcp);
    uint32_t payload = p->tot_len - ip_hlen - (uint32_t)((tcp[12] >> 4) * 4);
    return cut ? (u16_t)((payload + cut - 1) / cut) : 1;
}
