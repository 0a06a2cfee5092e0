/*
 * drivers/virtio/net_offload.c: which offered features go together, the
 * largest frame and the merged buffers it takes, received GSO headers checked
 * against their frames (each lie refused with its reason), and the device's
 * MAC as the driver uses it.
 */
#include <string.h>

#include "drivers/virtio/net_offload.h"
#include "drivers/virtio/virtio_net.h"
#include "tests/unit/check.h"

#define ALL_OFFLOADS                                                                                           \
    (VIRTIO_NET_F_CSUM | VIRTIO_NET_F_GUEST_CSUM | VIRTIO_NET_F_GUEST_TSO4 | VIRTIO_NET_F_GUEST_TSO6 |             \
     VIRTIO_NET_F_GUEST_ECN | VIRTIO_NET_F_HOST_TSO4 | VIRTIO_NET_F_HOST_TSO6 | VIRTIO_NET_F_MRG_RXBUF)
#define GSO_RX (VIRTIO_NET_F_GUEST_CSUM | VIRTIO_NET_F_GUEST_TSO4 | VIRTIO_NET_F_GUEST_TSO6 | VIRTIO_NET_F_MRG_RXBUF)

TEST(net_offload_features_need_their_requirements)
{
    CHECK_EQ(virtio_net_features_consistent(ALL_OFFLOADS), ALL_OFFLOADS);
    /* GUEST_TSO4/6 need GUEST_CSUM (5.1.3.1), and here mergeable buffers; ECN needs a TSO. */
    uint64_t f = virtio_net_features_consistent(ALL_OFFLOADS & ~VIRTIO_NET_F_GUEST_CSUM);
    CHECK(!(f & (VIRTIO_NET_F_GUEST_TSO4 | VIRTIO_NET_F_GUEST_TSO6 | VIRTIO_NET_F_GUEST_ECN)));
    CHECK(f & VIRTIO_NET_F_HOST_TSO4);
    f = virtio_net_features_consistent(ALL_OFFLOADS & ~VIRTIO_NET_F_MRG_RXBUF);
    CHECK(!(f & (VIRTIO_NET_F_GUEST_TSO4 | VIRTIO_NET_F_GUEST_TSO6 | VIRTIO_NET_F_GUEST_ECN)));
    f = virtio_net_features_consistent(ALL_OFFLOADS & ~(VIRTIO_NET_F_GUEST_TSO4 | VIRTIO_NET_F_GUEST_TSO6));
    CHECK(!(f & VIRTIO_NET_F_GUEST_ECN));
    f = virtio_net_features_consistent(ALL_OFFLOADS & ~VIRTIO_NET_F_GUEST_TSO4);
    CHECK(f & VIRTIO_NET_F_GUEST_ECN); /* TSO6 is enough */
    /* HOST_TSO4/6 need CSUM. */
    f = virtio_net_features_consistent(ALL_OFFLOADS & ~VIRTIO_NET_F_CSUM);
    CHECK(!(f & (VIRTIO_NET_F_HOST_TSO4 | VIRTIO_NET_F_HOST_TSO6)));
    CHECK(f & VIRTIO_NET_F_GUEST_TSO4);
    /* CTRL_RX and GUEST_ANNOUNCE need CTRL_VQ (QEMU's ctrl_vq=off offers them alone). */
    uint64_t ctrl = VIRTIO_NET_F_CTRL_VQ | VIRTIO_NET_F_CTRL_RX | VIRTIO_NET_F_GUEST_ANNOUNCE;
    CHECK_EQ(virtio_net_features_consistent(ALL_OFFLOADS | ctrl), ALL_OFFLOADS | ctrl);
    CHECK_EQ(virtio_net_features_consistent(ALL_OFFLOADS | (ctrl & ~VIRTIO_NET_F_CTRL_VQ)), ALL_OFFLOADS);
}

TEST(net_offload_largest_frame_and_its_buffers)
{
    CHECK_EQ(virtio_net_rx_max_frame(0, 1500), 1518);
    CHECK_EQ(virtio_net_rx_max_frame(VIRTIO_NET_F_GUEST_TSO6, 1500), VIRTIO_NET_MAX_GSO_FRAME);
    CHECK_EQ(virtio_net_rx_buffers_for(1518, 12, 2048), 1);
    CHECK_EQ(virtio_net_rx_buffers_for(2036, 12, 2048), 1);
    CHECK_EQ(virtio_net_rx_buffers_for(2037, 12, 2048), 2);
    CHECK_EQ(virtio_net_rx_buffers_for(VIRTIO_NET_MAX_GSO_FRAME, 12, 2048), VIRTIO_NET_MAX_RX_MERGE);
    CHECK_EQ(VIRTIO_NET_MAX_RX_MERGE, 33);
}

/* An Ethernet frame with an IPv4 (or IPv6) TCP segment of `payload` bytes. */
static uint32_t build(uint8_t *f, bool v6, uint32_t payload)
{
    memset(f, 0, 120);
    uint32_t l4 = v6 ? 54 : 34, total = l4 + 20 + payload;
    if (v6) {
        f[12] = 0x86; f[13] = 0xDD;
        f[14] = 0x60;
        f[18] = (uint8_t)((20 + payload) >> 8); f[19] = (uint8_t)(20 + payload);
        f[20] = 6; f[21] = 64;
    } else {
        f[12] = 0x08; f[13] = 0x00;
        f[14] = 0x45;
        f[16] = (uint8_t)((total - 14) >> 8); f[17] = (uint8_t)(total - 14);
        f[22] = 64; f[23] = 6;
    }
    f[l4 + 12] = 0x50;
    f[l4 + 13] = 0x10;
    return total;
}

static enum virtio_net_gso_verdict check(const struct virtio_net_rx_hdr *h, const uint8_t *f, uint32_t first,
                                         uint32_t total, uint64_t features)
{
    return virtio_net_rx_gso_check(h, f, first, total, features);
}

TEST(net_offload_rx_gso_accepts_what_was_negotiated)
{
    uint8_t f[120];
    uint32_t total = build(f, false, 60000);
    struct virtio_net_rx_hdr h = { VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4, 54, 1448, 34, 16 };
    CHECK_EQ(check(&h, f, 120, total, GSO_RX), VIRTIO_NET_GSO_OK);
    h.flags = VIRTIO_NET_HDR_F_DATA_VALID; /* a forwarded, already checked segment */
    CHECK_EQ(check(&h, f, 120, total, GSO_RX), VIRTIO_NET_GSO_OK);
    total = build(f, true, 60000);
    h = (struct virtio_net_rx_hdr){ VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV6, 74, 1428, 54, 16 };
    CHECK_EQ(check(&h, f, 120, total, GSO_RX), VIRTIO_NET_GSO_OK);
    h.gso_type |= VIRTIO_NET_HDR_GSO_ECN;
    CHECK_EQ(check(&h, f, 120, total, GSO_RX | VIRTIO_NET_F_GUEST_ECN), VIRTIO_NET_GSO_OK);
    /* A GSO segment no larger than one segment is still taken (Linux does too). */
    total = build(f, false, 100);
    h = (struct virtio_net_rx_hdr){ 0, VIRTIO_NET_HDR_GSO_TCPV4, 54, 1448, 0, 0 };
    CHECK_EQ(check(&h, f, 120, total, GSO_RX), VIRTIO_NET_GSO_OK);
    /* No GSO: nothing to check here. */
    h.gso_type = VIRTIO_NET_HDR_GSO_NONE;
    CHECK_EQ(check(&h, f, 120, total, 0), VIRTIO_NET_GSO_NONE);
}

TEST(net_offload_rx_gso_refuses_a_type_that_lies)
{
    uint8_t f[120];
    uint32_t total = build(f, false, 30000);
    struct virtio_net_rx_hdr h = { 0, VIRTIO_NET_HDR_GSO_TCPV4, 54, 1448, 0, 0 };
    /* Not negotiated. */
    CHECK_EQ(check(&h, f, 120, total, GSO_RX & ~VIRTIO_NET_F_GUEST_TSO4), VIRTIO_NET_GSO_BAD_TYPE);
    /* UDP fragmentation offload, and ECN alone or without GUEST_ECN. */
    h.gso_type = VIRTIO_NET_HDR_GSO_UDP;
    CHECK_EQ(check(&h, f, 120, total, GSO_RX), VIRTIO_NET_GSO_BAD_TYPE);
    h.gso_type = VIRTIO_NET_HDR_GSO_ECN;
    CHECK_EQ(check(&h, f, 120, total, GSO_RX | VIRTIO_NET_F_GUEST_ECN), VIRTIO_NET_GSO_BAD_TYPE);
    h.gso_type = VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN;
    CHECK_EQ(check(&h, f, 120, total, GSO_RX), VIRTIO_NET_GSO_BAD_TYPE);
    /* TCPV6 over an IPv4 frame, TCPV4 over a UDP one, or over a fragment. */
    h.gso_type = VIRTIO_NET_HDR_GSO_TCPV6;
    CHECK_EQ(check(&h, f, 120, total, GSO_RX), VIRTIO_NET_GSO_BAD_TYPE);
    h.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
    f[23] = 17;
    CHECK_EQ(check(&h, f, 120, total, GSO_RX), VIRTIO_NET_GSO_BAD_TYPE);
    f[23] = 6;
    f[20] = 0x20; /* MF */
    CHECK_EQ(check(&h, f, 120, total, GSO_RX), VIRTIO_NET_GSO_BAD_TYPE);
    f[20] = 0;
    /* A partial checksum that is not the TCP checksum. */
    h = (struct virtio_net_rx_hdr){ VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4, 54, 1448, 34, 6 };
    CHECK_EQ(check(&h, f, 120, total, GSO_RX), VIRTIO_NET_GSO_BAD_TYPE);
    h.csum_offset = 16;
    CHECK_EQ(check(&h, f, 120, total, GSO_RX), VIRTIO_NET_GSO_OK);
}

TEST(net_offload_rx_gso_refuses_sizes_that_lie)
{
    uint8_t f[120];
    uint32_t total = build(f, false, 30000);
    struct virtio_net_rx_hdr h = { 0, VIRTIO_NET_HDR_GSO_TCPV4, 54, 0, 0, 0 };
    CHECK_EQ(check(&h, f, 120, total, GSO_RX), VIRTIO_NET_GSO_BAD_SIZE); /* gso_size 0 */
    h.gso_size = 1448;
    h.hdr_len = (uint16_t)(total + 1);
    CHECK_EQ(check(&h, f, 120, total, GSO_RX), VIRTIO_NET_GSO_BAD_SIZE); /* headers past the frame */
    h.hdr_len = 54;
    /* The IP length is not the frame's: longer, shorter. */
    CHECK_EQ(check(&h, f, 120, total + 1, GSO_RX), VIRTIO_NET_GSO_BAD_SIZE);
    CHECK_EQ(check(&h, f, 120, total - 1, GSO_RX), VIRTIO_NET_GSO_BAD_SIZE);
    /* Headers not in the first buffer, a TCP header too short, no payload. */
    CHECK_EQ(check(&h, f, 40, total, GSO_RX), VIRTIO_NET_GSO_BAD_SIZE);
    f[34 + 12] = 0x40;
    CHECK_EQ(check(&h, f, 120, total, GSO_RX), VIRTIO_NET_GSO_BAD_SIZE);
    f[34 + 12] = 0x50;
    total = build(f, false, 0);
    CHECK_EQ(check(&h, f, 120, total, GSO_RX), VIRTIO_NET_GSO_BAD_SIZE);
    total = build(f, true, 30000);
    h.gso_type = VIRTIO_NET_HDR_GSO_TCPV6;
    CHECK_EQ(check(&h, f, 120, total, GSO_RX), VIRTIO_NET_GSO_OK);
    CHECK_EQ(check(&h, f, 120, total + 2, GSO_RX), VIRTIO_NET_GSO_BAD_SIZE);
}

TEST(net_offload_mac_without_the_feature_is_random_and_local)
{
    static const uint8_t device[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
    uint8_t mac[6];
    CHECK(!virtio_net_choose_mac(true, device, 1, mac));
    CHECK(memcmp(mac, device, 6) == 0);
    static const uint8_t zero[6];
    uint64_t seeds[] = { 0, 1, 0xFFFFFFFFFFFFFFFFull, 0x0123456789ABCDEFull };
    for (unsigned i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
        CHECK(virtio_net_choose_mac(false, zero, seeds[i], mac));
        CHECK((mac[0] & 0x03) == 0x02); /* locally administered, unicast */
        CHECK(memcmp(mac, zero, 6) != 0);
    }
    /* Different seeds, different addresses. */
    uint8_t other[6];
    virtio_net_choose_mac(false, zero, 0x0123456789ABCDEFull, mac);
    virtio_net_choose_mac(false, zero, 0x0123456789ABCDEEull, other);
    CHECK(memcmp(mac, other, 6) != 0);
    /* The feature with an address no unicast frame can carry. */
    static const uint8_t multicast[6] = { 0x01, 0, 0x5E, 0, 0, 1 };
    CHECK(virtio_net_choose_mac(true, multicast, 7, mac));
    CHECK(virtio_net_choose_mac(true, zero, 7, mac));
}
