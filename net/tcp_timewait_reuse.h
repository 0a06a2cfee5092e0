/*
 * When a SYN may end a TIME_WAIT connection on the same 4-tuple and open a
 * new one at once (RFC 1122 section 4.2.2.13, RFC 6191 section 2).
 *
 * A server that closes first holds each 4-tuple in TIME_WAIT; a client
 * behind a NAT, or one with few ephemeral ports, sends a SYN for it again
 * before TIME_WAIT ends. lwIP 2.1.3 (tcp_timewait_input) answers such a SYN
 * with an RST when it falls in the old receive window and with a bare ACK
 * otherwise, never with a new connection: the client fails, or waits a
 * second for its SYN retransmission.
 *
 * TIME_WAIT protects a new incarnation from the old one's delayed segments.
 * A SYN whose sequence number lies beyond everything the old incarnation
 * sent (its final rcv_nxt, the number after the peer's FIN) starts a
 * sequence space those segments cannot fall into: RFC 1122 lets it reopen
 * the connection. RFC 6191 adds timestamps; where both incarnations use
 * them, a SYN whose timestamp is older than the last one seen is an old
 * duplicate and keeps TIME_WAIT.
 *
 * RFC 6191 also accepts a SYN on the timestamp alone, whatever its
 * sequence number, because PAWS (RFC 7323 section 5) then discards the old
 * segments on the new connection. lwIP implements no PAWS, so here the
 * sequence number must always be beyond rcv_nxt, and timestamps can only
 * refuse more, never accept more. The sequence number equal to rcv_nxt is
 * the old connection's own next byte: refused, as Linux does.
 *
 * Pure arithmetic, unit-tested; net/lwip_hooks.c applies it.
 */
#ifndef NET_TCP_TIMEWAIT_REUSE_H
#define NET_TCP_TIMEWAIT_REUSE_H

#include <stdbool.h>
#include <stdint.h>

/* What the TIME_WAIT connection remembers of its peer. */
struct tcp_timewait_old {
    uint32_t rcv_nxt;   /* after the peer's FIN */
    bool timestamps;    /* the old incarnation used timestamps */
    uint32_t ts_recent; /* the last timestamp value it took from the peer */
};

/* The arriving SYN (SYN alone: no ACK, RST or FIN). */
struct tcp_timewait_syn {
    uint32_t seqno;
    bool timestamps; /* it carries a timestamp option and this stack would use it */
    uint32_t tsval;
};

/* True if the SYN may replace the TIME_WAIT connection. */
bool tcp_timewait_reuse_allowed(const struct tcp_timewait_old *old, const struct tcp_timewait_syn *syn);

/* A SYN not beyond rcv_nxt (a client behind a NAT picks its ISN at random)
 * gets lwIP's bare ACK, and the client, in SYN-SENT, answers that with an
 * RST whose sequence number is the ACK's acknowledgment: rcv_nxt (RFC 9293
 * 3.10.7.3). lwIP ignores every RST in TIME_WAIT (RFC 1337), so the client
 * retried until TIME_WAIT ended, up to 60 s. An RST exactly at rcv_nxt now
 * ends it (RFC 5961 3.2's exact match; Linux takes any in-window RST, its
 * default tcp_rfc1337=0), and the client's SYN a second later opens the
 * connection. True if this RST ends the TIME_WAIT connection. */
bool tcp_timewait_reset_ends(const struct tcp_timewait_old *old, uint32_t rst_seqno);

#endif
