#include "net/tcp_reinject.h"

#include "lwip/def.h"
#include "lwip/ip.h"
#include "lwip/pbuf.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/prot/tcp.h"
#include "lwip/stats.h"

static bool reinjecting;

bool tcp_reinject_possible(const struct tcp_hdr *hdr, u16_t optlen, const u8_t *opt2, const struct pbuf *p)
{
    return !reinjecting && opt2 == NULL && (const u8_t *)p->payload == (const u8_t *)hdr + TCP_HLEN + optlen;
}

void tcp_reinject(struct tcp_hdr *hdr, u16_t optlen, struct pbuf *p)
{
    /* Undo tcp_input's pbuf_remove_header; forced, because for a receive
     * buffer lent by the driver (PBUF_REF) lwIP only moves a payload
     * pointer back when told the bytes are there, which they are. Should it
     * refuse anyway, the segment is lost and the peer sends it again. */
    if (pbuf_add_header_force(p, (size_t)TCP_HLEN + optlen) != 0)
        return;
    hdr->src = lwip_htons(hdr->src);
    hdr->dest = lwip_htons(hdr->dest);
    hdr->seqno = lwip_htonl(hdr->seqno);
    hdr->ackno = lwip_htonl(hdr->ackno);
    hdr->wnd = lwip_htons(hdr->wnd);
    pbuf_ref(p);
#if TCP_STATS
    STATS_DEC(tcp.recv); /* tcp_input counts it again: one segment received */
#endif
    reinjecting = true;
    tcp_input(p, ip_current_input_netif());
    reinjecting = false;
}
