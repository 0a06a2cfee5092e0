#include "drivers/virtio/net_offload.h"

#include "drivers/virtio/virtio_net.h"
#include "lib/string.h"

#define ETH_HEADER 14
#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_IPV6 0x86DD
#define IP_PROTO_TCP 6
#define IPV4_MIN_HEADER 20
#define IPV4_FRAGMENT_MASK 0x3FFF /* MF flag and fragment offset */
#define IPV6_HEADER 40
#define TCP_MIN_HEADER 20
#define TCP_CSUM_FIELD 16
#define MAC_LOCAL 0x02            /* IEEE 802: locally administered */
#define MAC_MULTICAST 0x01

static uint16_t be16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }

uint64_t virtio_net_features_consistent(uint64_t f)
{
    if (!(f & VIRTIO_NET_F_GUEST_CSUM) || !(f & VIRTIO_NET_F_MRG_RXBUF))
        f &= ~(VIRTIO_NET_F_GUEST_TSO4 | VIRTIO_NET_F_GUEST_TSO6);
    if (!(f & (VIRTIO_NET_F_GUEST_TSO4 | VIRTIO_NET_F_GUEST_TSO6)))
        f &= ~VIRTIO_NET_F_GUEST_ECN;
    if (!(f & VIRTIO_NET_F_CSUM))
        f &= ~(VIRTIO_NET_F_HOST_TSO4 | VIRTIO_NET_F_HOST_TSO6);
    /* QEMU's ctrl_vq=off still offers CTRL_RX and GUEST_ANNOUNCE; a device
     * may refuse FEATURES_OK for them without the queue they are sent on. */
    if (!(f & VIRTIO_NET_F_CTRL_VQ))
        f &= ~(VIRTIO_NET_F_CTRL_RX | VIRTIO_NET_F_GUEST_ANNOUNCE);
    return f;
}

uint32_t virtio_net_rx_max_frame(uint64_t features, uint16_t mtu)
{
    if (features & (VIRTIO_NET_F_GUEST_TSO4 | VIRTIO_NET_F_GUEST_TSO6))
        return VIRTIO_NET_MAX_GSO_FRAME;
    return (uint32_t)mtu + VIRTIO_NET_ETH_OVERHEAD;
}

unsigned virtio_net_rx_buffers_for(uint32_t frame_bytes, unsigned hdr_len, unsigned buffer_size)
{
    return (unsigned)(((uint64_t)frame_bytes + hdr_len + buffer_size - 1) / buffer_size);
}

enum virtio_net_gso_verdict virtio_net_rx_gso_check(const struct virtio_net_rx_hdr *hdr, const uint8_t *frame,
                                                    uint32_t first_len, uint32_t frame_len, uint64_t features)
{
    if (hdr->gso_type == VIRTIO_NET_HDR_GSO_NONE)
        return VIRTIO_NET_GSO_NONE;
    uint8_t type = hdr->gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;
    if ((hdr->gso_type & VIRTIO_NET_HDR_GSO_ECN) && !(features & VIRTIO_NET_F_GUEST_ECN))
        return VIRTIO_NET_GSO_BAD_TYPE;
    bool v6;
    if (type == VIRTIO_NET_HDR_GSO_TCPV4 && (features & VIRTIO_NET_F_GUEST_TSO4))
        v6 = false;
    else if (type == VIRTIO_NET_HDR_GSO_TCPV6 && (features & VIRTIO_NET_F_GUEST_TSO6))
        v6 = true;
    else
        return VIRTIO_NET_GSO_BAD_TYPE; /* UDP, ECN alone, or a TSO that was not negotiated */
    if (hdr->gso_size == 0 || hdr->hdr_len > frame_len)
        return VIRTIO_NET_GSO_BAD_SIZE;

    /* The frame must be the TCP segment the type names, and its IP length the frame's own. */
    if (first_len > frame_len || first_len < ETH_HEADER + IPV4_MIN_HEADER)
        return VIRTIO_NET_GSO_BAD_SIZE;
    const uint8_t *ip = frame + ETH_HEADER;
    uint32_t ip_bytes = frame_len - ETH_HEADER;
    uint32_t l4;
    if (!v6) {
        if (be16(frame + 12) != ETHERTYPE_IPV4 || (ip[0] >> 4) != 4 || ip[9] != IP_PROTO_TCP ||
            (be16(ip + 6) & IPV4_FRAGMENT_MASK))
            return VIRTIO_NET_GSO_BAD_TYPE;
        uint32_t ihl = (uint32_t)(ip[0] & 0x0F) * 4;
        if (ihl < IPV4_MIN_HEADER || be16(ip + 2) != ip_bytes)
            return VIRTIO_NET_GSO_BAD_SIZE;
        l4 = ETH_HEADER + ihl;
    } else {
        if (be16(frame + 12) != ETHERTYPE_IPV6 || first_len < ETH_HEADER + IPV6_HEADER ||
            (ip[0] >> 4) != 6 || ip[6] != IP_PROTO_TCP)
            return VIRTIO_NET_GSO_BAD_TYPE;
        if ((uint32_t)be16(ip + 4) + IPV6_HEADER != ip_bytes)
            return VIRTIO_NET_GSO_BAD_SIZE;
        l4 = ETH_HEADER + IPV6_HEADER;
    }
    if (l4 + TCP_MIN_HEADER > first_len)
        return VIRTIO_NET_GSO_BAD_SIZE;
    uint32_t tcp_header = (uint32_t)(frame[l4 + 12] >> 4) * 4;
    if (tcp_header < TCP_MIN_HEADER || l4 + tcp_header > first_len || l4 + tcp_header >= frame_len)
        return VIRTIO_NET_GSO_BAD_SIZE; /* no room for the headers, or no payload to segment */
    if ((hdr->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) && (hdr->csum_start != l4 || hdr->csum_offset != TCP_CSUM_FIELD))
        return VIRTIO_NET_GSO_BAD_TYPE; /* a partial checksum that is not the TCP one */
    return VIRTIO_NET_GSO_OK;
}

/* Once per device: cold, so built for size in this -O2 file (HOT_SRCS). */
__attribute__((cold)) bool virtio_net_choose_mac(bool has_mac, const uint8_t device_mac[6], uint64_t random,
                                                 uint8_t mac[6])
{
    static const uint8_t zero[6];
    if (has_mac && memcmp(device_mac, zero, 6) != 0 && !(device_mac[0] & MAC_MULTICAST)) {
        memcpy(mac, device_mac, 6);
        return false;
    }
    /* Mixed (MurmurHash3's finalizer) so every bit of the seed reaches the
     * 46 bits that are free to vary. */
    random ^= random >> 33;
    random *= 0xFF51AFD7ED558CCDULL;
    random ^= random >> 33;
    random *= 0xC4CEB9FE1A85EC53ULL;
    random ^= random >> 33;
    for (int i = 0; i < 6; i++)
        mac[i] = (uint8_t)(random >> (8 * i));
    mac[0] = (uint8_t)((mac[0] | MAC_LOCAL) & ~MAC_MULTICAST);
    return true;
}
