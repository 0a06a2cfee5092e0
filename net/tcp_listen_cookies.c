#include "net/tcp_listen_cookies.h"

#include "arch/x86_64/timer.h"
#include "lwip/def.h"
#include "lwip/inet_chksum.h"
#include "lwip/ip.h"
#include "lwip/pbuf.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/prot/tcp.h"
#include "lwip/stats.h"
#include "lwip/tcp.h"
#include "net/syn_cookie.h"
#include "net/tcp_options.h"
#include "net/tcp_reinject.h"

#if !TCP_LISTEN_BACKLOG
#error "the half-open count is lwIP's accepts_pending, kept only with TCP_LISTEN_BACKLOG"
#endif

/* RFC 9293 section 3.7.1: the MSS to assume when a SYN carries none. */
#define DEFAULT_MSS_IPV4 536
#define DEFAULT_MSS_IPV6 1220

static uint8_t cookie_key[SIPHASH_KEY_BYTES];
static bool cookies_out;    /* a cookie was ever sent ... */
static uint32_t last_tick;  /* ... and the last one at this tick */

static void flow_of_segment(const struct tcp_hdr *hdr, struct tcp_flow *f)
{
    tcp_flow_of(f, ip_current_dest_addr(), hdr->dest, ip_current_src_addr(), hdr->src);
}

/* A SYN-ACK for `syn` with sequence number `cookie`, built the way lwIP's
 * tcp_rst builds its segment (it has no such function for a SYN-ACK): our
 * MSS the only option, the window unscaled as in every SYN. */
static void send_cookie_synack(const struct tcp_hdr *syn, uint32_t cookie)
{
    const ip_addr_t *local = ip_current_dest_addr(), *remote = ip_current_src_addr();
    struct netif *netif = ip_route(local, remote);
    if (!netif)
        return;
    struct pbuf *q = pbuf_alloc(PBUF_IP, TCP_HLEN + TCP_OPT_MSS_LEN, PBUF_RAM);
    if (!q) {
        TCP_STATS_INC(tcp.memerr);
        return;
    }
    struct tcp_hdr *h = q->payload;
    h->src = lwip_htons(syn->dest);
    h->dest = lwip_htons(syn->src);
    h->seqno = lwip_htonl(cookie);
    h->ackno = lwip_htonl(syn->seqno + 1);
    TCPH_HDRLEN_FLAGS_SET(h, (TCP_HLEN + TCP_OPT_MSS_LEN) / 4, TCP_SYN | TCP_ACK);
    h->wnd = lwip_htons(TCPWND_MIN16(TCP_WND));
    h->chksum = 0;
    h->urgp = 0;
    u16_t mss = tcp_eff_send_mss_netif(TCP_MSS, netif, remote);
    u8_t *opt = (u8_t *)(h + 1);
    opt[0] = TCP_OPT_MSS;
    opt[1] = TCP_OPT_MSS_LEN;
    opt[2] = (u8_t)(mss >> 8);
    opt[3] = (u8_t)mss;
#if CHECKSUM_GEN_TCP
    IF__NETIF_CHECKSUM_ENABLED(netif, NETIF_CHECKSUM_GEN_TCP)
    {
        h->chksum = ip_chksum_pseudo(q, IP_PROTO_TCP, q->tot_len, local, remote);
    }
#endif
    TCP_STATS_INC(tcp.xmit);
    ip_output_if(q, local, remote, TCP_TTL, 0, IP_PROTO_TCP, netif);
    pbuf_free(q);
}

static enum tcp_listen_cookie_verdict answer_syn(const struct tcp_hdr *hdr, const struct tcp_syn_options *syn)
{
    if (!cookies_out)
        tcp_flow_key_make(cookie_key); /* at the first cookie, from the clock of that moment */
    u16_t peer_mss = syn->has_mss ? syn->mss : IP_IS_V6(ip_current_src_addr()) ? DEFAULT_MSS_IPV6 : DEFAULT_MSS_IPV4;
    struct tcp_flow flow;
    flow_of_segment(hdr, &flow);
    uint32_t tick = syn_cookie_tick(clock_now_ns() / 1000000);
    send_cookie_synack(hdr, syn_cookie_make(cookie_key, &flow, hdr->seqno, tick, syn_cookie_mss_index(peer_mss)));
    cookies_out = true;
    last_tick = tick;
    return TCP_COOKIE_SENT;
}

/* The PCB lwIP's tcp_listen_input would have made for the SYN and left in
 * SYN_RCVD after its SYN-ACK (sequence number `cookie`) went out, except that
 * no segment waits for acknowledgement and no option but the MSS was agreed. */
static struct tcp_pcb *pcb_from_cookie(struct tcp_pcb_listen *lpcb, const struct tcp_hdr *hdr, uint32_t cookie,
                                       u16_t mss)
{
    struct tcp_pcb *npcb = tcp_alloc(lpcb->prio);
    if (!npcb)
        return NULL;
    ip_addr_copy(npcb->local_ip, *ip_current_dest_addr());
    ip_addr_copy(npcb->remote_ip, *ip_current_src_addr());
    npcb->local_port = lpcb->local_port;
    npcb->remote_port = hdr->src;
    npcb->state = SYN_RCVD;
    npcb->rcv_nxt = hdr->seqno; /* the client's ISN + 1 */
    npcb->rcv_ann_right_edge = npcb->rcv_nxt;
    npcb->lastack = cookie;
    npcb->snd_wl2 = cookie;
    npcb->snd_nxt = cookie + 1;
    npcb->snd_lbb = cookie + 1;
    npcb->snd_wl1 = hdr->seqno - 1; /* so the ACK's window is taken */
    npcb->callback_arg = lpcb->callback_arg;
    npcb->listener = lpcb;
    npcb->so_options = lpcb->so_options & SOF_INHERITED;
    npcb->netif_idx = lpcb->netif_idx;
    npcb->mss = tcp_eff_send_mss(mss, &npcb->local_ip, &npcb->remote_ip);
    TCP_REG_ACTIVE(npcb);
    return npcb;
}

static enum tcp_listen_cookie_verdict answer_ack(struct tcp_pcb_listen *lpcb, struct tcp_hdr *hdr, u16_t optlen,
                                                 const u8_t *opt2, struct pbuf *p)
{
    uint32_t now = syn_cookie_tick(clock_now_ns() / 1000000);
    if (!cookies_out || now - last_tick > SYN_COOKIE_MAX_AGE)
        return TCP_COOKIE_PASS; /* none could be good: lwIP resets it, as without cookies */
    struct tcp_flow flow;
    flow_of_segment(hdr, &flow);
    uint32_t cookie = hdr->ackno - 1;
    unsigned mss_index;
    if (!syn_cookie_check(cookie_key, &flow, hdr->seqno - 1, cookie, now, &mss_index))
        return TCP_COOKIE_BAD;
    if (!tcp_reinject_possible(hdr, optlen, opt2, p))
        return TCP_COOKIE_PASS;
    if (!pcb_from_cookie(lpcb, hdr, cookie, syn_cookie_mss(mss_index))) {
        TCP_STATS_INC(tcp.memerr);
        return TCP_COOKIE_NO_PCB;
    }
    tcp_reinject(hdr, optlen, p);
    return TCP_COOKIE_CONNECTED;
}

static unsigned reclaimable;

void tcp_listen_cookies_reclaimable(int delta)
{
    reclaimable += (unsigned)delta;
}

/* The PCB pool is empty and no TIME_WAIT PCB is there to reuse (lwIP's
 * tcp_alloc takes those first), but a connection below the listeners'
 * priority is: a PCB for this SYN would be that connection's, aborted. A
 * SYN then gets a cookie too, so that only a handshake that completes takes
 * a connection's place, never a forged SYN. With nothing to take, lwIP
 * drops the SYN and the client waits for a SYN-ACK, as Linux makes it wait
 * when its accept queue is full. */
static bool pcb_would_cost_a_connection(void)
{
    const struct stats_mem *pcbs = lwip_stats.memp[MEMP_TCP_PCB];
    return reclaimable && pcbs->used >= pcbs->avail && tcp_tw_pcbs == NULL;
}

enum tcp_listen_cookie_verdict tcp_listen_cookies_input(struct tcp_pcb_listen *lpcb, struct tcp_hdr *hdr,
                                                        u16_t optlen, const u8_t *opt2, struct pbuf *p,
                                                        const struct tcp_syn_options *syn)
{
    u8_t flags = TCPH_FLAGS(hdr) & (TCP_SYN | TCP_ACK | TCP_RST | TCP_FIN);
    u16_t half_open_max = tcp_listen_half_open_max(lwip_stats.memp[MEMP_TCP_PCB]->avail, lpcb->backlog);
    if (flags == TCP_SYN && (lpcb->accepts_pending >= half_open_max || pcb_would_cost_a_connection()))
        return answer_syn(hdr, syn);
    if ((flags & ~TCP_FIN) == TCP_ACK)
        return answer_ack(lpcb, hdr, optlen, opt2, p);
    return TCP_COOKIE_PASS;
}
