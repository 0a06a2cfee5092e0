#include "net/tcp_csum_offload.h"

#include "lib/inet_csum.h"

#define ETH_HEADER_LEN 14
#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_IPV6 0x86DD
#define IP_PROTO_TCP 6
#define IPV4_MIN_HEADER 20
#define IPV4_FRAGMENT_MASK 0x3FFF /* MF flag and fragment offset */
#define IPV6_HEADER_LEN 40
#define TCP_CSUM_FIELD 16
#define TCP_MIN_HEADER 20

static uint16_t be16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }

enum tcp_csum_result tcp_csum_offload_prepare(uint8_t *frame, size_t header_len, uint16_t *start, uint16_t *offset)
{
    if (header_len < ETH_HEADER_LEN + 1)
        return TCP_CSUM_NOT_TCP;
    uint16_t ethertype = be16(frame + 12);
    const uint8_t *ip = frame + ETH_HEADER_LEN;
    struct inet_csum c;
    inet_csum_init(&c);
    size_t l4;
    uint32_t tcp_len;
    if (ethertype == ETHERTYPE_IPV4) {
        if (header_len < ETH_HEADER_LEN + IPV4_MIN_HEADER)
            return TCP_CSUM_NOT_TCP;
        size_t ihl = (size_t)(ip[0] & 0x0F) * 4;
        if (ip[9] != IP_PROTO_TCP)
            return TCP_CSUM_NOT_TCP;
        if (ihl < IPV4_MIN_HEADER || (be16(ip + 6) & IPV4_FRAGMENT_MASK) || be16(ip + 2) < ihl + TCP_MIN_HEADER)
            return TCP_CSUM_UNPARSED;
        l4 = ETH_HEADER_LEN + ihl;
        tcp_len = be16(ip + 2) - (uint32_t)ihl;
        inet_csum_add(&c, ip + 12, 8); /* source and destination */
    } else if (ethertype == ETHERTYPE_IPV6) {
        if (header_len < ETH_HEADER_LEN + IPV6_HEADER_LEN)
            return TCP_CSUM_NOT_TCP;
        if (ip[6] != IP_PROTO_TCP)
            return TCP_CSUM_NOT_TCP; /* lwIP sends TCP right after the fixed header */
        l4 = ETH_HEADER_LEN + IPV6_HEADER_LEN;
        tcp_len = be16(ip + 4);
        inet_csum_add(&c, ip + 8, 32);
    } else {
        return TCP_CSUM_NOT_TCP;
    }
    if (header_len < l4 + TCP_MIN_HEADER)
        return TCP_CSUM_UNPARSED;
    uint8_t tail[8] = { 0, 0, (uint8_t)(tcp_len >> 24), (uint8_t)(tcp_len >> 16), (uint8_t)(tcp_len >> 8),
                        (uint8_t)tcp_len, 0, IP_PROTO_TCP };
    /* IPv4's pseudo header has a 16-bit length and the protocol; IPv6's a
     * 32-bit length and the next header: both sum the same as these 8 bytes. */
    inet_csum_add(&c, tail, sizeof(tail));
    uint16_t pseudo = inet_csum_fold(&c); /* not complemented: the device adds the rest */
    frame[l4 + TCP_CSUM_FIELD] = (uint8_t)(pseudo >> 8);
    frame[l4 + TCP_CSUM_FIELD + 1] = (uint8_t)pseudo;
    *start = (uint16_t)l4;
    *offset = TCP_CSUM_FIELD;
    return TCP_CSUM_OFFLOAD;
}
