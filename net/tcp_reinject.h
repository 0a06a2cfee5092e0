/*
 * Giving a segment back to lwIP's tcp_input from LWIP_HOOK_TCP_INPACKET_PCB,
 * after the hook changed which connection it belongs to (net/lwip_hooks.c:
 * a TIME_WAIT connection ended for a new SYN; net/tcp_listen_cookies.c: a
 * connection made from a SYN cookie's ACK).
 *
 * The hook runs inside tcp_input with the segment half taken apart: the
 * header's fields turned to host order and the pbuf's payload moved past
 * the header and options. tcp_reinject puts both back and calls tcp_input
 * again, which finds the new state (no TIME_WAIT PCB, or the new PCB) and
 * handles the segment as it would have if it had arrived then. That is safe
 * because when the hook returns anything but ERR_OK, the outer tcp_input
 * only frees its reference to the pbuf and returns: it reads none of the
 * globals the inner call overwrites, and ip_current_*() still describe the
 * packet. tcp_reinject holds its own reference for the inner call.
 *
 * Not possible when lwIP had to split the options across two pbufs (it
 * moves the second pbuf's payload too, which is not undone here), nor from
 * within a re-injected segment (one level, so no loop can form): then the
 * hook leaves the segment to lwIP's usual handling.
 */
#ifndef NET_TCP_REINJECT_H
#define NET_TCP_REINJECT_H

#include <stdbool.h>

#include "lwip/arch.h"

struct tcp_hdr;
struct pbuf;

/* The hook's own arguments: can this segment be given back? */
bool tcp_reinject_possible(const struct tcp_hdr *hdr, u16_t optlen, const u8_t *opt2, const struct pbuf *p);

/* Give it back (only after tcp_reinject_possible said yes); the hook then
 * returns non-ERR_OK so that the outer tcp_input drops its reference. */
void tcp_reinject(struct tcp_hdr *hdr, u16_t optlen, struct pbuf *p);

#endif
