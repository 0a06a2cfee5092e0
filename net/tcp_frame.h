/*
 * Where an outgoing Ethernet frame's IPv4 or IPv6 TCP headers are, read from
 * its first bytes: what checksum offload and segmentation offload need to
 * tell the device. Pure logic, unit-tested.
 */
#ifndef NET_TCP_FRAME_H
#define NET_TCP_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TCP_FRAME_ETH_HEADER 14
#define TCP_FRAME_CSUM_FIELD 16 /* the checksum's offset in the TCP header */

enum tcp_frame_kind {
    TCP_FRAME_NOT_TCP,  /* not IPv4 or IPv6 TCP (or too short to say) */
    TCP_FRAME_TCP,      /* layout filled in */
    TCP_FRAME_UNPARSED, /* TCP, but a fragment, lengths that do not add up, or
                           its fixed TCP header not within the bytes given */
};

struct tcp_frame_layout {
    bool v6;
    uint16_t l4;       /* the TCP header's offset */
    uint16_t tcp_hlen; /* the data offset field in bytes: not checked (checksum offload needs none of it) */
    uint32_t tcp_len;  /* TCP header and payload, as the IP header says */
};

/* `frame` holds the frame's first header_len bytes. IPv6 TCP is taken only
 * right after the fixed header (lwIP sends no extension headers). */
enum tcp_frame_kind tcp_frame_parse(const uint8_t *frame, size_t header_len, struct tcp_frame_layout *out);

#endif
