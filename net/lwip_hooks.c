#include "net/lwip_hooks.h"

#include "lwip/pbuf.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/stats.h"
#include "lwip/tcp.h"
#include "net/tcp_seq_guard.h"

static uint64_t guard_drops;

uint64_t net_tcp_guard_drops(void) { return guard_drops; }

err_t net_tcp_inpacket_hook(struct tcp_pcb *pcb, struct tcp_hdr *hdr, u16_t optlen, u16_t opt1len, u8_t *opt2,
                            struct pbuf *p)
{
    (void)optlen;
    (void)opt1len;
    (void)opt2;
    /* Only the states whose segments reach tcp_receive's data path; a LISTEN
     * pcb is a smaller struct, and only its state is common with ours. */
    if (pcb->state < SYN_RCVD || pcb->state >= CLOSE_WAIT)
        return ERR_OK;
    uint32_t tcplen = p->tot_len + ((TCPH_FLAGS(hdr) & (TCP_SYN | TCP_FIN)) ? 1u : 0u);
    if (tcp_seq_guard_insane_trim(pcb->rcv_nxt, hdr->seqno, tcplen)) {
        guard_drops++;
        TCP_STATS_INC(tcp.drop);
        return ERR_VAL;
    }
    return ERR_OK;
}
