#include "net/tcp_seq_guard.h"

/* lwIP's TCP_SEQ_GEQ / TCP_SEQ_LEQ: differences taken modulo 2^32, read signed. */
static bool seq_geq(uint32_t a, uint32_t b) { return (int32_t)(a - b) >= 0; }
static bool seq_leq(uint32_t a, uint32_t b) { return (int32_t)(a - b) <= 0; }

bool tcp_seq_guard_insane_trim(uint32_t rcv_nxt, uint32_t seqno, uint32_t tcplen)
{
    if (tcplen == 0)
        return false; /* tcp_receive only trims segments that occupy sequence space */
    /* tcp_receive's test: TCP_SEQ_BETWEEN(rcv_nxt, seqno + 1, seqno + tcplen - 1). */
    bool trims_front = seq_geq(rcv_nxt, seqno + 1) && seq_leq(rcv_nxt, seqno + tcplen - 1);
    return trims_front && rcv_nxt - seqno >= 0xFFFF;
}
