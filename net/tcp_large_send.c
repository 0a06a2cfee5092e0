#include "net/tcp_large_send.h"

#include "lib/string.h"
#include "lwip/ip.h"
#include "lwip/nd6.h"
#include "lwip/prot/ip6.h"
#include "lwip/pbuf.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/prot/ip.h"
#include "net/nic_netif.h"

#ifndef LWIP_PATCH_LARGE_SEGMENTS
#error "third_party/lwip lacks scripts/lwip-large-segments.patch: run scripts/setup"
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

int tcp_large_send_cut_by_netif(const struct pbuf *p, const struct netif *netif)
{
    const uint8_t *ip = p->payload;
    if (p->len < 40)
        return 0;
    bool v6 = (ip[0] >> 4) == 6;
    uint8_t proto = v6 ? ip[IPV6_NEXT_HEADER] : ip[IPV4_PROTOCOL];
    return proto == IP_PROTO_TCP && nic_netif_cuts_tcp(netif, v6);
}

uint16_t tcp_large_send_mss(struct netif *netif, const uint8_t *frame, const struct tcp_frame_layout *l)
{
    const uint8_t *ip = frame + TCP_FRAME_ETH_HEADER, *tcp = frame + l->l4;
    const uint8_t *src = ip + (l->v6 ? IPV6_SRC : IPV4_SRC);
    size_t alen = l->v6 ? 16 : 4;
    uint16_t sport = (uint16_t)(tcp[0] << 8 | tcp[1]), dport = (uint16_t)(tcp[2] << 8 | tcp[3]);
    for (const struct tcp_pcb *pcb = tcp_active_pcbs; pcb; pcb = pcb->next) {
        if (pcb->local_port != sport || pcb->remote_port != dport || IP_IS_V6_VAL(pcb->local_ip) != l->v6)
            continue;
        const void *local = l->v6 ? (const void *)ip_2_ip6(&pcb->local_ip)->addr
                                  : (const void *)&ip_2_ip4(&pcb->local_ip)->addr;
        const void *remote = l->v6 ? (const void *)ip_2_ip6(&pcb->remote_ip)->addr
                                   : (const void *)&ip_2_ip4(&pcb->remote_ip)->addr;
        if (memcmp(local, src, alen) != 0 || memcmp(remote, src + alen, alen) != 0)
            continue;
        uint16_t mss = pcb->mss;
        if (l->v6) {
            u16_t path_mtu = nd6_get_destination_mtu(ip_2_ip6(&pcb->remote_ip), netif);
            if (path_mtu >= IP6_MIN_MTU_LENGTH && path_mtu - IP6_HLEN - TCP_MIN_HEADER < mss)
                mss = (uint16_t)(path_mtu - IP6_HLEN - TCP_MIN_HEADER);
        }
        /* The options this frame carries, every segment of it carries (tcp_write's optlen). */
        return (uint16_t)(mss - (l->tcp_hlen - TCP_MIN_HEADER));
    }
    return 0;
}
