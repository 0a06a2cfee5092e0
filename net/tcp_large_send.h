/*
 * Large segments from lwIP itself, for devices that cut TCP segments (TSO).
 *
 * lwIP builds one segment per MSS; every segment costs a tcp_seg, pbufs, a
 * pass through tcp_output, IP and Ethernet, and an ACK's worth of freeing.
 * With scripts/lwip-large-segments.patch, tcp_write builds segments of up to
 * 64 KiB in whole MSS (tcp_large_send_segment_max), IP hands them to the
 * netif whole instead of fragmenting them, and the netif has the device cut
 * them at the connection's MSS (net/nic_tx.h), as with Linux's TSO. lwIP's
 * window, congestion control and timers stay its own; the patch's tcp_output
 * sends a large segment as MSS-sized ones would go: no more than the window
 * allows, in whole MSS, and not what the peer acknowledged.
 * docs/network.md says more.
 */
#ifndef NET_TCP_LARGE_SEND_H
#define NET_TCP_LARGE_SEND_H

#include <stdbool.h>
#include <stdint.h>

#include "lwip/arch.h"
#include "net/tcp_frame.h"

struct tcp_pcb;
struct pbuf;
struct netif;

/* Below this MSS (a peer asking for tiny segments) segments stay lwIP's own. */
#define TCP_LARGE_SEND_MIN_MSS 536
/* A large segment's payload: its frame (Ethernet, IPv6 and a TCP header with
 * the most options) within lwIP's 16-bit pbuf lengths. */
#define TCP_LARGE_SEND_PAYLOAD_MAX (0xFFFF - 14 - 40 - 60)

/* LWIP_HOOK_TCP_SEGMENT_MAX: the largest segment tcp_write builds for `pcb`,
 * whole MSS of it, when every netif can cut it; the MSS otherwise. */
u16_t tcp_large_send_segment_max(const struct tcp_pcb *pcb);

/* LWIP_HOOK_IP_CUT_BY_NETIF: `p` (from its IP header) is TCP, larger than
 * the MTU or the IPv6 path MTU, and `netif`'s device cuts it (at a size that
 * fits: tcp_large_send_mss). When it does not, IP fragments `p`: a TCP
 * checksum left to the device is filled in first. */
int tcp_large_send_cut_by_netif(struct pbuf *p, const struct netif *netif);

/* The size `netif`'s device must cut an outgoing TCP frame at (`frame` holds
 * its headers, laid out as `l`): the payload of one of its connection's
 * MSS-sized segments, less for an IPv6 path MTU an ICMPv6 Packet Too Big
 * lowered (lwIP keeps the MSS it agreed, and would fragment segments whose
 * checksum the device is to compute: the netif could only drop those); 0 if
 * no connection of lwIP's sends it. */
uint16_t tcp_large_send_mss(struct netif *netif, const uint8_t *frame, const struct tcp_frame_layout *l);

/* How many packets the IPv4 packet `p` (from its IP header) leaves `netif`
 * as: the segments its device cuts a TCP segment larger than the MTU into,
 * else one (net/ip_id.h). */
u16_t tcp_large_send_packets(const struct pbuf *p, struct netif *netif);

#endif
