/*
 * virtio-net's offload rules, kept apart from the device so the host tests
 * can check them frame by frame (as net_buffers.h does for the buffers):
 *  - which offered features may be accepted together (virtio 1.2, 5.1.3.1);
 *  - the largest frame the accepted ones allow, and how many merged receive
 *    buffers that takes;
 *  - whether a received frame's gso_type and gso_size tell the truth about
 *    the frame (5.1.6.4: a device may only send what was negotiated);
 *  - the device's MAC as the driver may use it.
 * Pure logic over bytes: no device access.
 */
#ifndef DRIVERS_VIRTIO_NET_OFFLOAD_H
#define DRIVERS_VIRTIO_NET_OFFLOAD_H

#include <stdbool.h>
#include <stdint.h>

/* The features the driver can accept from `features` (offered and wanted):
 * each one whose requirement is missing is dropped (GUEST_TSO4/6 need
 * GUEST_CSUM, GUEST_ECN a GUEST_TSO, HOST_TSO4/6 CSUM, CTRL_RX and
 * GUEST_ANNOUNCE CTRL_VQ; 5.1.3.1), and the
 * GUEST_TSOs also need MRG_RXBUF here: without it a 64 KiB segment would
 * need 64 KiB receive buffers (5.1.6.3.1), and ours are 2 KiB. */
uint64_t virtio_net_features_consistent(uint64_t features);

/* The largest frame (Ethernet header on, virtio header off) a device with
 * these features may deliver: mtu + Ethernet + VLAN tag, or with
 * GUEST_TSO4/6 a 64 KiB TCP segment (VIRTIO_NET_MAX_GSO_FRAME). */
uint32_t virtio_net_rx_max_frame(uint64_t features, uint16_t mtu);

/* Buffers of `buffer_size` bytes that frame and a `hdr_len`-byte header fill. */
unsigned virtio_net_rx_buffers_for(uint32_t frame_bytes, unsigned hdr_len, unsigned buffer_size);

/* The virtio_net_hdr fields that describe a received frame. */
struct virtio_net_rx_hdr {
    uint8_t flags;
    uint8_t gso_type;
    uint16_t hdr_len;
    uint16_t gso_size;
    uint16_t csum_start;
    uint16_t csum_offset;
};

enum virtio_net_gso_verdict {
    VIRTIO_NET_GSO_NONE,      /* an ordinary frame */
    VIRTIO_NET_GSO_OK,        /* a TCP segment to take whole: type and sizes agree with the frame */
    VIRTIO_NET_GSO_BAD_TYPE,  /* a type not negotiated (UDP, ECN without GUEST_ECN, ...) or not the frame's protocol */
    VIRTIO_NET_GSO_BAD_SIZE,  /* gso_size 0, hdr_len past the frame, IP lengths that are not the frame's */
};

/* Checks a received frame's GSO fields against the frame. `frame` holds its
 * first `first_len` bytes (the headers must be there), `frame_len` is its
 * whole length, `features` what was negotiated. */
enum virtio_net_gso_verdict virtio_net_rx_gso_check(const struct virtio_net_rx_hdr *hdr, const uint8_t *frame,
                                                    uint32_t first_len, uint32_t frame_len, uint64_t features);

/* The MAC to use: the device's (with F_MAC), else a random locally
 * administered unicast address made from `random` (IEEE 802: bit 1 of the
 * first octet set, bit 0 clear). Returns true when it made one up. */
bool virtio_net_choose_mac(bool has_mac, const uint8_t device_mac[6], uint64_t random, uint8_t mac[6]);

#endif
