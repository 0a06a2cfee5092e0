#include "net/lwip_hooks.h"

#include "arch/x86_64/timer.h"
#include "lib/log.h"
#include "lib/string.h"
#include "lwip/dhcp.h"
#include "lwip/ip4.h"
#include "lwip/ip6.h"
#include "lwip/ip6_frag.h"
#include "lwip/mld6.h"
#include "lwip/pbuf.h"
#include "lwip/prot/dhcp.h"
#include "lwip/prot/ip4.h"
#include "lwip/prot/ip6.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/stats.h"
#include "lwip/tcp.h"
#include "net/dhcp_options.h"
#include "net/ip_id.h"
#include "net/nic_netif.h"
#include "net/tcp_isn.h"
#include "net/tcp_listen_cookies.h"
#include "net/tcp_options.h"
#include "net/tcp_reinject.h"
#include "net/tcp_seq_guard.h"
#include "net/tcp_timewait_reuse.h"

/* A reset answers a segment as RFC 9293 says: its ACK as sequence number, window 0. */
#ifndef LWIP_PATCH_TCP_RESET_ANSWER
#error "third_party/lwip lacks scripts/lwip-tcp-reset-answer.patch: run scripts/setup"
#endif
/* Identifications per destination (net/ip_id.h). */
#ifndef LWIP_PATCH_IP4_ID_HOOK
#error "third_party/lwip lacks scripts/lwip-ip4-id-hook.patch: run scripts/setup"
#endif
#ifndef LWIP_PATCH_IP6_FRAG_ID_HOOK
#error "third_party/lwip lacks scripts/lwip-ipv6-frag-id-hook.patch: run scripts/setup"
#endif
/* Loss recovery (docs/network.md) and the MSS taken only from the handshake. */
#ifndef LWIP_PATCH_TCP_NEWRENO
#error "third_party/lwip lacks scripts/lwip-tcp-newreno.patch: run scripts/setup"
#endif
#ifndef LWIP_PATCH_TCP_LIMITED_TRANSMIT
#error "third_party/lwip lacks scripts/lwip-tcp-limited-transmit.patch: run scripts/setup"
#endif
#ifndef LWIP_PATCH_TCP_REXMIT_ONE_MSS
#error "third_party/lwip lacks scripts/lwip-tcp-rexmit-one-mss.patch: run scripts/setup"
#endif
#ifndef LWIP_PATCH_TCP_SACK_DUPACKS
#error "third_party/lwip lacks scripts/lwip-tcp-sack-dupacks.patch: run scripts/setup"
#endif
#ifndef LWIP_PATCH_TCP_TAIL_LOSS
#error "third_party/lwip lacks scripts/lwip-tcp-tail-loss.patch: run scripts/setup"
#endif
#ifndef LWIP_PATCH_TCP_MSS_ON_SYN
#error "third_party/lwip lacks scripts/lwip-tcp-mss-on-syn.patch: run scripts/setup"
#endif
/* The first flight is lwipopts.h's LWIP_TCP_CALC_INITIAL_CWND (RFC 6928's ten segments). */
#ifndef LWIP_PATCH_TCP_INITIAL_CWND
#error "third_party/lwip lacks scripts/lwip-tcp-initial-window.patch: run scripts/setup"
#endif
/* Keepalive judges only connections with nothing in flight (net/tcp_keepalive.h). */
#ifndef LWIP_PATCH_TCP_KEEPALIVE_IDLE
#error "third_party/lwip lacks scripts/lwip-tcp-keepalive-idle.patch: run scripts/setup"
#endif
/* A zero-window probe that cannot leave (the link down) backs off, not retried every tick. */
#ifndef LWIP_PATCH_TCP_PERSIST_BACKOFF
#error "third_party/lwip lacks scripts/lwip-tcp-persist-backoff.patch: run scripts/setup"
#endif
/* The retransmission timer backs off by its own timeouts, not fast retransmits too. */
#ifndef LWIP_PATCH_TCP_TIMEOUT_BACKOFF
#error "third_party/lwip lacks scripts/lwip-tcp-timeout-backoff.patch: run scripts/setup"
#endif
/* SACKed data shows the first unacknowledged segment lost before the third duplicate. */
#ifndef LWIP_PATCH_TCP_UNSACKED_LOST
#error "third_party/lwip lacks scripts/lwip-tcp-unsacked-lost.patch: run scripts/setup"
#endif
/* Slow start grows by all each ACK acknowledges, as Linux's does with stretch ACKs. */
#ifndef LWIP_PATCH_TCP_WINDOW_GROWTH
#error "third_party/lwip lacks scripts/lwip-tcp-window-growth.patch: run scripts/setup"
#endif
/* ip6_select_source_address's NULL checked before its IPv6 part is taken. */
#ifndef LWIP_PATCH_IPV6_NO_SOURCE
#error "third_party/lwip lacks scripts/lwip-ipv6-no-source.patch: run scripts/setup"
#endif
/* MLD's and DHCP's timers only while a report or a request waits: an idle guest sleeps. */
#ifndef LWIP_PATCH_DHCP_TIMER_ON_DEMAND
#error "third_party/lwip lacks scripts/lwip-dhcp-timer-on-demand.patch: run scripts/setup"
#endif
#ifndef LWIP_PATCH_MLD_TIMER_ON_DEMAND
#error "third_party/lwip lacks scripts/lwip-mld-timer-on-demand.patch: run scripts/setup"
#endif

/* What the hook tells tcp_input: go on, or the segment is dropped (or was
 * handed back to tcp_input: net/tcp_reinject.h). */
#define HOOK_CONTINUE ERR_OK
#define HOOK_CONSUMED ERR_VAL

static struct net_tcp_hook_stats hook_stats;

const struct net_tcp_hook_stats *net_tcp_hook_stats(void) { return &hook_stats; }

/* The options lwIP may have split between two pbufs, read as one list. */
static void read_options(const struct tcp_hdr *hdr, u16_t optlen, u16_t opt1len, const u8_t *opt2,
                         struct tcp_syn_options *out)
{
    u8_t opt[TCP_OPTIONS_MAX];
    if (optlen > sizeof(opt) || opt1len > optlen) {
        tcp_options_parse(NULL, 0, out);
        return;
    }
    memcpy(opt, (const u8_t *)hdr + TCP_HLEN, opt1len);
    if (opt2)
        memcpy(opt + opt1len, opt2, optlen - opt1len);
    tcp_options_parse(opt, opt2 ? optlen : opt1len, out);
}

static uint8_t isn_key[SIPHASH_KEY_BYTES];
static bool isn_key_made;
/* Set while a SYN that reopens a TIME_WAIT 4-tuple is handed back to
 * tcp_input, which makes the new connection (and its ISN) within that call. */
static bool reopening;
static uint32_t reopened_snd_nxt;

u32_t net_tcp_isn(const ip_addr_t *local_ip, u16_t local_port, const ip_addr_t *remote_ip, u16_t remote_port)
{
    if (!isn_key_made) { /* at the first connection, from the clock of that moment */
        tcp_flow_key_make(isn_key);
        isn_key_made = true;
    }
    struct tcp_flow flow;
    tcp_flow_of(&flow, local_ip, local_port, remote_ip, remote_port);
    uint32_t isn = tcp_isn_make(isn_key, &flow, clock_now_ns());
    return reopening ? tcp_isn_after(isn, reopened_snd_nxt) : isn;
}

/* IPv4's and IPv6's alike: their flows hash apart. */
static struct ip_ids ip_ids;
static bool ip_ids_keyed;

static struct ip_ids *ip_ids_made(void)
{
    if (!ip_ids_keyed) { /* at the first packet, as the ISN's key at the first connection */
        tcp_flow_key_make(ip_ids.key);
        ip_ids_keyed = true;
    }
    return &ip_ids;
}

u16_t net_ip4_id(struct pbuf *p, struct netif *netif)
{
    const struct ip_hdr *ip = p->payload;
    uint8_t flow[5];
    memcpy(flow, &ip->dest, 4);
    flow[4] = IPH_PROTO(ip);
    return (u16_t)ip_id_take(ip_ids_made(), flow, sizeof(flow), tcp_large_send_packets(p, netif));
}

u32_t net_ip6_frag_id(const struct pbuf *p)
{
    const struct ip6_hdr *ip6 = p->payload;
    uint8_t flow[32];
    memcpy(flow, &ip6->src, 16);
    memcpy(flow + 16, &ip6->dest, 16);
    return ip_id_take(ip_ids_made(), flow, sizeof(flow), 1);
}

/* A SYN for a 4-tuple in TIME_WAIT (net/tcp_timewait_reuse.h): when it may
 * open a new connection, end the old one and give the SYN back to tcp_input,
 * which now finds only the listener. Otherwise lwIP's tcp_timewait_input
 * answers as before (an RST in the old window, an ACK outside it). An RST
 * at rcv_nxt, a client's answer to that ACK, ends the TIME_WAIT. */
static err_t timewait_input(struct tcp_pcb *pcb, struct tcp_hdr *hdr, u16_t optlen, u16_t opt1len, u8_t *opt2,
                            struct pbuf *p)
{
    u8_t flags = TCPH_FLAGS(hdr) & (TCP_SYN | TCP_ACK | TCP_RST | TCP_FIN);
    struct tcp_timewait_old old = { .rcv_nxt = pcb->rcv_nxt };
    if ((flags & ~TCP_ACK) == TCP_RST && tcp_timewait_reset_ends(&old, hdr->seqno)) {
        tcp_abort(pcb); /* in TIME_WAIT: unlinked and freed, nothing sent */
        hook_stats.timewait_reset++;
        return HOOK_CONSUMED;
    }
    if (flags != TCP_SYN)
        return HOOK_CONTINUE;
    struct tcp_timewait_syn syn = { .seqno = hdr->seqno };
#if LWIP_TCP_TIMESTAMPS
    struct tcp_syn_options o;
    read_options(hdr, optlen, opt1len, opt2, &o);
    old.timestamps = (pcb->flags & TF_TIMESTAMP) != 0;
    old.ts_recent = pcb->ts_recent;
    syn.timestamps = o.has_ts;
    syn.tsval = o.tsval;
#else
    (void)opt1len;
#endif
    if (!tcp_timewait_reuse_allowed(&old, &syn) || !tcp_reinject_possible(hdr, optlen, opt2, p))
        return HOOK_CONTINUE;
    reopened_snd_nxt = pcb->snd_nxt;
    tcp_abort(pcb); /* in TIME_WAIT: unlinked and freed, nothing sent */
    hook_stats.timewait_reused++;
    reopening = true;
    tcp_reinject(hdr, optlen, p);
    reopening = false;
    return HOOK_CONSUMED;
}

static err_t listen_input(struct tcp_pcb_listen *lpcb, struct tcp_hdr *hdr, u16_t optlen, u16_t opt1len, u8_t *opt2,
                          struct pbuf *p)
{
    /* A SYN with a FIN (and no ACK, which lwIP answers with an RST): lwIP
     * would open a connection and lose the FIN. Linux and FreeBSD drop it
     * (RFC 9293 leaves it open); scanners send it to tell stacks apart. */
    if ((TCPH_FLAGS(hdr) & (TCP_SYN | TCP_FIN | TCP_ACK | TCP_RST)) == (TCP_SYN | TCP_FIN)) {
        hook_stats.syn_fin_drops++;
        TCP_STATS_INC(tcp.drop);
        return HOOK_CONSUMED;
    }
    struct tcp_syn_options o;
    read_options(hdr, optlen, opt1len, opt2, &o);
    switch (tcp_listen_cookies_input(lpcb, hdr, optlen, opt2, p, &o)) {
    case TCP_COOKIE_PASS:
        return HOOK_CONTINUE;
    case TCP_COOKIE_SENT:
        hook_stats.syn_cookies_sent++;
        return HOOK_CONSUMED;
    case TCP_COOKIE_CONNECTED:
        hook_stats.syn_cookies_accepted++;
        return HOOK_CONSUMED;
    case TCP_COOKIE_BAD:
        hook_stats.syn_cookies_bad++;
        return HOOK_CONTINUE;
    case TCP_COOKIE_NO_PCB:
        return HOOK_CONSUMED;
    }
    return HOOK_CONTINUE;
}

err_t net_tcp_inpacket_hook(struct tcp_pcb *pcb, struct tcp_hdr *hdr, u16_t optlen, u16_t opt1len, u8_t *opt2,
                            struct pbuf *p)
{
    if (pcb->state == LISTEN) /* a struct tcp_pcb_listen: only the common fields are pcb's */
        return listen_input((struct tcp_pcb_listen *)pcb, hdr, optlen, opt1len, opt2, p);
    if (pcb->state == TIME_WAIT)
        return timewait_input(pcb, hdr, optlen, opt1len, opt2, p);
    /* Only the states whose segments reach tcp_receive's data path. */
    if (pcb->state < SYN_RCVD || pcb->state >= CLOSE_WAIT)
        return HOOK_CONTINUE;
    uint32_t tcplen = p->tot_len + ((TCPH_FLAGS(hdr) & (TCP_SYN | TCP_FIN)) ? 1u : 0u);
    if (tcp_seq_guard_insane_trim(pcb->rcv_nxt, hdr->seqno, tcplen)) {
        hook_stats.guard_drops++;
        TCP_STATS_INC(tcp.drop);
        return HOOK_CONSUMED;
    }
    return HOOK_CONTINUE;
}

void net_dhcp_append_options(struct dhcp_msg *msg, u16_t *options_len)
{
    /* One byte is left for the END lwIP writes after the hook. */
    dhcp_request_list_add(msg->options, options_len, DHCP_OPTIONS_LEN - 1, DHCP_OPT_MTU);
}

/* Per DHCP message: cold, so built for size in this -O2 file (HOT_SRCS). */
__attribute__((cold)) void net_dhcp_parse_option(struct netif *netif, u8_t state, u8_t msg_type, u8_t option,
                                                 u8_t len, struct pbuf *p, u16_t offset)
{
    /* lwIP knows the message's type once it has read option 53, which
     * servers send first; an MTU before it is not taken. Nor is one of an
     * ACK that dhcp_recv will not bind, in a state other than these. */
    bool binds = state == DHCP_STATE_REQUESTING || state == DHCP_STATE_REBOOTING || state == DHCP_STATE_RENEWING ||
                 state == DHCP_STATE_REBINDING;
    if (option != DHCP_OPT_MTU || msg_type != DHCP_ACK || !binds || !netif)
        return;
    u8_t value[2] = { 0, 0 };
    if (len != sizeof(value) || pbuf_copy_partial(p, value, sizeof(value), offset) != sizeof(value))
        len = 0; /* malformed or cut short */
    uint16_t device_mtu = nic_netif_device_mtu(netif);
    uint16_t mtu = dhcp_mtu_choose(value, len, device_mtu);
    if (!mtu) {
        log_warn("net: %c%c%u: DHCP's interface MTU ignored (%u bytes, value %u; at least %u)", netif->name[0],
                 netif->name[1], netif->num, len, (value[0] << 8) | value[1], DHCP_MTU_MIN);
        return;
    }
    if (mtu != netif->mtu)
        log_info("net: %c%c%u: mtu %u from DHCP (the device carries %u)", netif->name[0], netif->name[1], netif->num,
                 mtu, device_mtu);
    nic_netif_set_link_mtu(netif, mtu);
}
