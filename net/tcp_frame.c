#include "net/tcp_frame.h"

#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_IPV6 0x86DD
#define IP_PROTO_TCP 6
#define IPV4_MIN_HEADER 20
#define IPV4_FRAGMENT_MASK 0x3FFF /* MF flag and fragment offset */
#define IPV6_HEADER_LEN 40
#define TCP_MIN_HEADER 20

static uint16_t be16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }

enum tcp_frame_kind tcp_frame_parse(const uint8_t *frame, size_t header_len, struct tcp_frame_layout *out)
{
    if (header_len < TCP_FRAME_ETH_HEADER + 1)
        return TCP_FRAME_NOT_TCP;
    uint16_t ethertype = be16(frame + 12);
    const uint8_t *ip = frame + TCP_FRAME_ETH_HEADER;
    if (ethertype == ETHERTYPE_IPV4) {
        if (header_len < TCP_FRAME_ETH_HEADER + IPV4_MIN_HEADER)
            return TCP_FRAME_NOT_TCP;
        size_t ihl = (size_t)(ip[0] & 0x0F) * 4;
        if (ip[9] != IP_PROTO_TCP)
            return TCP_FRAME_NOT_TCP;
        if (ihl < IPV4_MIN_HEADER || (be16(ip + 6) & IPV4_FRAGMENT_MASK) || be16(ip + 2) < ihl + TCP_MIN_HEADER)
            return TCP_FRAME_UNPARSED;
        out->v6 = false;
        out->l4 = (uint16_t)(TCP_FRAME_ETH_HEADER + ihl);
        out->tcp_len = be16(ip + 2) - (uint32_t)ihl;
    } else if (ethertype == ETHERTYPE_IPV6) {
        if (header_len < TCP_FRAME_ETH_HEADER + IPV6_HEADER_LEN || ip[6] != IP_PROTO_TCP)
            return TCP_FRAME_NOT_TCP;
        if (be16(ip + 4) < TCP_MIN_HEADER)
            return TCP_FRAME_UNPARSED;
        out->v6 = true;
        out->l4 = TCP_FRAME_ETH_HEADER + IPV6_HEADER_LEN;
        out->tcp_len = be16(ip + 4);
    } else {
        return TCP_FRAME_NOT_TCP;
    }
    if (header_len < (size_t)out->l4 + TCP_MIN_HEADER)
        return TCP_FRAME_UNPARSED;
    out->tcp_hlen = (uint16_t)((frame[out->l4 + 12] >> 4) * 4);
    return TCP_FRAME_TCP;
}
