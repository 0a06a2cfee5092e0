/*
 * Large TCP segments out. lwIP builds its own (net/tcp_large_send.h) where
 * it can; what it still sends as MSS-sized segments (after a split, below
 * TCP_LARGE_SEND_MIN_MSS) reaches the netif one frame per segment. When
 * consecutive frames are consecutive segments of one connection, full-sized
 * but the last, with identical headers but for what segmentation itself
 * changes, the device can send them as one 64 KiB segment (HOST_TSO4/6): cut
 * at gso_size = the first segment's payload, it puts on the wire exactly the
 * segments lwIP built (virtio 1.2, 5.1.6.2; the same rules as Linux's
 * tcp_gso_segment: sequence numbers, IPv4 identifiers counting up, lengths
 * and checksums per segment, PSH and FIN only on the last). One of lwIP's
 * large segments becomes such a frame on its own, cut at its MSS.
 *
 * These are the rules, as pure logic over header bytes: which frame may
 * start such a run, which may extend it, and the header of the frame the run
 * becomes. net/nic_tx.c keeps the runs.
 */
#ifndef NET_TCP_GSO_H
#define NET_TCP_GSO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drivers/virtio/virtio_net.h"
#include "net/tcp_frame.h"

/* The headers of a segment a run can hold: Ethernet, IPv6 and a TCP header
 * with the most options (14 + 40 + 60). */
#define TCP_GSO_HEADER_MAX 114
/* A run's frame, headers included, stays within what IP's 16-bit lengths can
 * describe (IPv4 counts its header in the total length). */
#define TCP_GSO_MAX_FRAME 65535

/* One segment, as the run rules see it. */
struct tcp_gso_seg {
    struct tcp_frame_layout l;
    uint16_t hdr_len;  /* Ethernet + IP + TCP headers: where the payload starts */
    uint16_t payload;  /* TCP payload bytes */
    uint32_t seq;
    uint16_t ip_id;    /* IPv4 */
    uint8_t flags;     /* TCP flags */
};

/* A frame that may be part of a run: IPv4 or IPv6 TCP with payload, its headers
 * within the first `header_len` bytes, only ACK (and PSH, FIN) set, and
 * `frame_len` bytes in all, as its IP length says. */
bool tcp_gso_segment(const uint8_t *frame, size_t header_len, size_t frame_len, struct tcp_gso_seg *seg);

/* May `next` (headers at `next_hdr`) follow a run whose first segment's
 * headers are `first_hdr` and whose last segment is `last`? Same headers but
 * for lengths, IPv4 identifier and checksum, TCP sequence number, checksum,
 * PSH and FIN; next in sequence (and IPv4 identifier); the last one
 * full-sized and without PSH or FIN; `next` no larger than the first; the whole within
 * TCP_GSO_MAX_FRAME for `run_payload` payload bytes so far. */
bool tcp_gso_can_follow(const uint8_t *first_hdr, const struct tcp_gso_seg *first, const struct tcp_gso_seg *last,
                        const uint8_t *next_hdr, const struct tcp_gso_seg *next, uint32_t run_payload);

/* Whether a run that now ends with `last` can take any further segment. */
bool tcp_gso_run_open(const struct tcp_gso_seg *first, const struct tcp_gso_seg *last, uint32_t run_payload);

/* Rewrites `hdr` (a copy of the first segment's first->hdr_len header bytes)
 * into the header of the run's one frame with `payload` bytes in all: IP
 * lengths, the IPv4 header checksum, PSH and FIN as the last segment had
 * them, and the pseudo-header sum in the TCP checksum for the device; and
 * tells the device to cut it every `gso_size` bytes. */
void tcp_gso_finish(uint8_t *hdr, const struct tcp_gso_seg *first, const struct tcp_gso_seg *last, uint32_t payload,
                    uint16_t gso_size, struct virtio_net_tx_offload *off);

#endif
