#include "net/tcp_isn.h"

uint32_t tcp_isn_make(const uint8_t key[SIPHASH_KEY_BYTES], const struct tcp_flow *flow, uint64_t now_ns)
{
    uint8_t in[TCP_FLOW_BYTES];
    tcp_flow_put(in, flow);
    return (uint32_t)(now_ns >> TCP_ISN_TICK_SHIFT) + (uint32_t)siphash24(key, in, sizeof(in));
}

uint32_t tcp_isn_after(uint32_t isn, uint32_t old_snd_nxt)
{
    uint32_t floor = old_snd_nxt + TCP_ISN_REOPEN_GAP;
    return (int32_t)(isn - floor) >= 0 ? isn : floor;
}
