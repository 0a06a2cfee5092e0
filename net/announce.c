/*
 * Gratuitous ARP and unsolicited neighbour advertisements (see announce.h).
 * lwIP 2.1.3 sends an unsolicited NA only from its own DAD timer, so the NA
 * is built here the way its nd6.c builds one (RFC 4861, 4.4 and 7.2.6).
 */
#include "net/announce.h"

#include <stdbool.h>

#include "lib/string.h"
#include "lwip/etharp.h"
#include "lwip/icmp6.h"
#include "lwip/inet_chksum.h"
#include "lwip/ip6.h"
#include "lwip/nd6.h"
#include "lwip/prot/nd6.h"

/* Hop limit 255: a receiver drops neighbour discovery from farther away (RFC 4861, 7.1.2). */
#define NA_HOP_LIMIT 255
/* Option lengths count units of 8 bytes (RFC 4861, 4.6). */
#define ND_OPTION_UNIT 8

static bool announce_na(struct netif *netif, const ip6_addr_t *target)
{
    u16_t opt_len = (u16_t)((2 + netif->hwaddr_len + ND_OPTION_UNIT - 1) / ND_OPTION_UNIT * ND_OPTION_UNIT);
    struct pbuf *p = pbuf_alloc(PBUF_IP, (u16_t)(sizeof(struct na_header) + opt_len), PBUF_RAM);
    if (!p)
        return false;
    memset(p->payload, 0, p->len);
    struct na_header *na = p->payload;
    na->type = ICMP6_TYPE_NA;
    na->code = 0;
    /* Not solicited; Override, so the neighbours' caches take the address at once. */
    na->flags = ND6_FLAG_OVERRIDE;
    ip6_addr_copy_to_packed(na->target_address, *target);
    struct lladdr_option *opt = (struct lladdr_option *)((u8_t *)p->payload + sizeof(struct na_header));
    opt->type = ND6_OPTION_TYPE_TARGET_LLADDR;
    opt->length = (u8_t)(opt_len / ND_OPTION_UNIT);
    memcpy(opt->addr, netif->hwaddr, netif->hwaddr_len);
    ip6_addr_t all_nodes;
    ip6_addr_set_allnodes_linklocal(&all_nodes);
    ip6_addr_assign_zone(&all_nodes, IP6_MULTICAST, netif);
    na->chksum = ip6_chksum_pseudo(p, IP6_NEXTH_ICMP6, p->len, target, &all_nodes);
    err_t err = ip6_output_if(p, target, &all_nodes, NA_HOP_LIMIT, 0, IP6_NEXTH_ICMP6, netif);
    pbuf_free(p);
    return err == ERR_OK;
}

unsigned net_announce(struct netif *netif)
{
    unsigned sent = 0;
    if (!ip4_addr_isany_val(*netif_ip4_addr(netif)) && etharp_gratuitous(netif) == ERR_OK)
        sent++;
    for (int i = 0; i < LWIP_IPV6_NUM_ADDRESSES; i++)
        if (ip6_addr_isvalid(netif_ip6_addr_state(netif, i)) && announce_na(netif, netif_ip6_addr(netif, i)))
            sent++;
    return sent;
}
