#include "net/tcp_timewait_reuse.h"

/* Sequence numbers and timestamps are compared modulo 2^32, read signed
 * (RFC 793 section 3.3, RFC 7323 section 5.2). */
static int32_t serial_diff(uint32_t a, uint32_t b) { return (int32_t)(a - b); }

bool tcp_timewait_reuse_allowed(const struct tcp_timewait_old *old, const struct tcp_timewait_syn *syn)
{
    if (serial_diff(syn->seqno, old->rcv_nxt) <= 0)
        return false;
    if (old->timestamps && syn->timestamps && serial_diff(syn->tsval, old->ts_recent) < 0)
        return false;
    return true;
}

bool tcp_timewait_reset_ends(const struct tcp_timewait_old *old, uint32_t rst_seqno)
{
    return rst_seqno == old->rcv_nxt;
}
