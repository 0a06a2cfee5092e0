#include "net/tcp_csum_offload.h"

#include "lib/inet_csum.h"
#include "net/tcp_frame.h"

#define IP_PROTO_TCP 6

uint16_t tcp_csum_pseudo(const uint8_t *frame, const struct tcp_frame_layout *l, uint32_t tcp_len)
{
    const uint8_t *ip = frame + TCP_FRAME_ETH_HEADER;
    struct inet_csum c;
    inet_csum_init(&c);
    if (l->v6)
        inet_csum_add(&c, ip + 8, 32); /* source and destination */
    else
        inet_csum_add(&c, ip + 12, 8);
    uint8_t tail[8] = { 0, 0, (uint8_t)(tcp_len >> 24), (uint8_t)(tcp_len >> 16), (uint8_t)(tcp_len >> 8),
                        (uint8_t)tcp_len, 0, IP_PROTO_TCP };
    /* IPv4's pseudo header has a 16-bit length and the protocol; IPv6's a
     * 32-bit length and the next header: both sum the same as these 8 bytes. */
    inet_csum_add(&c, tail, sizeof(tail));
    return inet_csum_fold(&c); /* not complemented: the device adds the rest */
}

enum tcp_csum_result tcp_csum_offload_prepare(uint8_t *frame, size_t header_len, uint16_t *start, uint16_t *offset)
{
    struct tcp_frame_layout l;
    switch (tcp_frame_parse(frame, header_len, &l)) {
    case TCP_FRAME_NOT_TCP:
        return TCP_CSUM_NOT_TCP;
    case TCP_FRAME_UNPARSED:
        return TCP_CSUM_UNPARSED;
    case TCP_FRAME_TCP:
        break;
    }
    uint16_t pseudo = tcp_csum_pseudo(frame, &l, l.tcp_len);
    frame[l.l4 + TCP_FRAME_CSUM_FIELD] = (uint8_t)(pseudo >> 8);
    frame[l.l4 + TCP_FRAME_CSUM_FIELD + 1] = (uint8_t)pseudo;
    *start = l.l4;
    *offset = TCP_FRAME_CSUM_FIELD;
    return TCP_CSUM_OFFLOAD;
}
