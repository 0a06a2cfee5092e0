/*
 * Transmit checksum offload for TCP (VIRTIO_NET_F_CSUM): for an Ethernet
 * frame carrying IPv4 or IPv6 TCP, store the pseudo-header sum in the TCP
 * checksum field and say where the device must sum from and write to.
 * lwIP leaves the field zero when TCP checksum generation is off for the
 * netif. Pure logic over the frame's first bytes, unit-tested.
 */
#ifndef NET_TCP_CSUM_OFFLOAD_H
#define NET_TCP_CSUM_OFFLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum tcp_csum_result {
    TCP_CSUM_NOT_TCP,  /* nothing to do: the stack computed any checksum itself */
    TCP_CSUM_OFFLOAD,  /* *start / *offset set, pseudo-header sum stored */
    TCP_CSUM_UNPARSED, /* TCP, but its headers are not all within `header_len` bytes */
};

/* `frame` holds the frame's first header_len bytes (writable). */
enum tcp_csum_result tcp_csum_offload_prepare(uint8_t *frame, size_t header_len, uint16_t *start, uint16_t *offset);

struct tcp_frame_layout;
/* The TCP pseudo-header sum (folded, not complemented) of a parsed frame, for
 * a segment of tcp_len bytes (header and payload). */
uint16_t tcp_csum_pseudo(const uint8_t *frame, const struct tcp_frame_layout *layout, uint32_t tcp_len);

#endif
