/* Hooks into lwIP (LWIP_HOOK_FILENAME in lwipopts.h): the functions lwIP calls. */
#ifndef NET_LWIP_HOOKS_H
#define NET_LWIP_HOOKS_H

#include <stdint.h>

#include "lwip/arch.h"
#include "lwip/err.h"

struct tcp_pcb;
struct tcp_hdr;
struct pbuf;

/* LWIP_HOOK_TCP_INPACKET_PCB: a segment matched `pcb` (its header already in
 * host order, `p` holding only the data); anything but ERR_OK drops it. */
err_t net_tcp_inpacket_hook(struct tcp_pcb *pcb, struct tcp_hdr *hdr, u16_t optlen, u16_t opt1len, u8_t *opt2,
                            struct pbuf *p);

/* Segments that hook dropped (tcp_seq_guard.h says why). */
uint64_t net_tcp_guard_drops(void);

#endif
