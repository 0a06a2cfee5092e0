/* Hooks into lwIP (LWIP_HOOK_FILENAME in lwipopts.h): the functions lwIP calls. */
#ifndef NET_LWIP_HOOKS_H
#define NET_LWIP_HOOKS_H

#include <stdint.h>

#include "lwip/arch.h"
#include "lwip/err.h"
#include "net/tcp_large_send.h"

struct tcp_pcb;
struct tcp_hdr;
struct pbuf;
struct memp_desc;
struct dhcp_msg;
struct netif;

/* LWIP_HOOK_MEMP_POOL_MEMORY: the memory and element count of one of lwIP's
 * pools, asked once each at lwip_init (net/lwip_pools.c). */
void net_memp_pool_memory(const struct memp_desc *desc, u8_t **base, u16_t *num);

/* LWIP_HOOK_TCP_INPACKET_PCB: a segment matched `pcb` (its header already in
 * host order, `p` holding only the data); anything but ERR_OK drops it.
 * By the pcb's state:
 *   LISTEN             SYN cookies past the half-open limit (net/tcp_listen_cookies.h)
 *   TIME_WAIT          a new SYN may reopen the 4-tuple, an RST at rcv_nxt end it (net/tcp_timewait_reuse.h);
 *                      the new connection's ISN lies beyond the old one's (net/tcp_isn.h)
 *   SYN_RCVD..FIN_WAIT_2  segments tcp_receive cannot trim are dropped (net/tcp_seq_guard.h) */
err_t net_tcp_inpacket_hook(struct tcp_pcb *pcb, struct tcp_hdr *hdr, u16_t optlen, u16_t opt1len, u8_t *opt2,
                            struct pbuf *p);

/* LWIP_HOOK_TCP_ISN: the initial sequence number of a new connection
 * (net/tcp_isn.h), ports in host order. */
struct ip_addr;
u32_t net_tcp_isn(const struct ip_addr *local_ip, u16_t local_port, const struct ip_addr *remote_ip,
                  u16_t remote_port);

/* LWIP_HOOK_IP4_ID: the identification of IPv4 packet `p` (from its IP
 * header, the source written, the checksum not) leaving on `netif`
 * (net/ip_id.h). */
u16_t net_ip4_id(struct pbuf *p, struct netif *netif);

/* LWIP_HOOK_IP6_FRAG_ID: the identification of the fragments of IPv6
 * packet `p` (from its IPv6 header) (net/ip_id.h). */
u32_t net_ip6_frag_id(const struct pbuf *p);

/* LWIP_HOOK_DHCP_APPEND_OPTIONS: asks for the interface MTU (option 26) in
 * the parameter request list of a DISCOVER or REQUEST lwIP is writing. */
void net_dhcp_append_options(struct dhcp_msg *msg, u16_t *options_len);

/* LWIP_HOOK_DHCP_PARSE_OPTION: an option lwIP does not read, `len` bytes at
 * `offset` in `p`, in client state `state`; the interface MTU of an ACK that
 * lwIP will bind becomes the netif's (nic_netif_set_link_mtu). */
void net_dhcp_parse_option(struct netif *netif, u8_t state, u8_t msg_type, u8_t option, u8_t len, struct pbuf *p,
                           u16_t offset);

/* What the TCP hook did, for /stats. */
struct net_tcp_hook_stats {
    uint64_t guard_drops;          /* segments tcp_seq_guard dropped */
    uint64_t timewait_reused;      /* TIME_WAIT connections ended for a new SYN */
    uint64_t timewait_reset;       /* TIME_WAIT connections ended by an RST at rcv_nxt */
    uint64_t syn_cookies_sent;     /* SYN-ACKs with a cookie, past the half-open limit */
    uint64_t syn_cookies_accepted; /* connections made from a good cookie */
    uint64_t syn_cookies_bad;      /* ACKs at a listener, while cookies were out, of none of them */
    uint64_t syn_fin_drops;        /* SYNs with a FIN at a listener, dropped */
};

const struct net_tcp_hook_stats *net_tcp_hook_stats(void);

#endif
