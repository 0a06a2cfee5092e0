/*
 * A guard for lwIP 2.1.3's tcp_receive (found by the rx_path fuzzer). When a
 * segment starts before rcv_nxt and ends after it, tcp_receive trims its
 * front; it recognises that case with wrapping sequence comparisons, which
 * also hold for a 1-byte segment (data, or a bare FIN) whose sequence number
 * is exactly rcv_nxt + 2^31. The trim offset is then 2^31: lwIP asserts
 * ("insane offset!"), which is a kernel panic here, and with assertions off
 * it would truncate the offset to 0 and take the byte as the next in order.
 * Any peer of a connection knows rcv_nxt, so one segment could stop the
 * kernel. Pure arithmetic, unit-tested; net/lwip_hooks.c drops such segments.
 */
#ifndef NET_TCP_SEQ_GUARD_H
#define NET_TCP_SEQ_GUARD_H

#include <stdbool.h>
#include <stdint.h>

/* True if tcp_receive would trim a segment (`seqno`, `tcplen` = data length
 * plus one for SYN or FIN) by an offset it cannot represent (>= 0xFFFF). */
bool tcp_seq_guard_insane_trim(uint32_t rcv_nxt, uint32_t seqno, uint32_t tcplen);

#endif
