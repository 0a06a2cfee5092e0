/*
 * drivers/virtio/virtio_net_mtu.c: which MTU the driver runs at for what the
 * device offers, and how big its receive buffers are for it.
 */
#include "drivers/virtio/virtio_net_mtu.h"
#include "tests/unit/check.h"

TEST(virtio_net_mtu_choose_follows_the_device_within_limits)
{
    uint16_t mtu = 0;
    CHECK_EQ(virtio_net_mtu_choose(false, 9000, &mtu), VIRTIO_NET_MTU_NOT_OFFERED);
    CHECK_EQ(mtu, 1500);
    CHECK_EQ(virtio_net_mtu_choose(true, 9000, &mtu), VIRTIO_NET_MTU_TAKEN);
    CHECK_EQ(mtu, 9000);
    CHECK_EQ(virtio_net_mtu_choose(true, 1500, &mtu), VIRTIO_NET_MTU_TAKEN);
    CHECK_EQ(mtu, 1500);
    CHECK_EQ(virtio_net_mtu_choose(true, 1280, &mtu), VIRTIO_NET_MTU_TAKEN); /* smaller than Ethernet's: taken too */
    CHECK_EQ(mtu, 1280);
    CHECK_EQ(virtio_net_mtu_choose(true, 68, &mtu), VIRTIO_NET_MTU_TAKEN);
    CHECK_EQ(mtu, 68);
    /* Below IPv4's minimum: refused, and the default instead. */
    static const uint16_t low[] = { 67, 60, 1, 0 };
    for (unsigned i = 0; i < sizeof(low) / sizeof(low[0]); i++) {
        mtu = 0;
        CHECK_EQ(virtio_net_mtu_choose(true, low[i], &mtu), VIRTIO_NET_MTU_REJECTED);
        CHECK_EQ(mtu, 1500);
    }
    /* Above what the driver takes: capped. */
    static const uint16_t high[] = { 9001, 16000, 65535 };
    for (unsigned i = 0; i < sizeof(high) / sizeof(high[0]); i++) {
        mtu = 0;
        CHECK_EQ(virtio_net_mtu_choose(true, high[i], &mtu), VIRTIO_NET_MTU_CAPPED);
        CHECK_EQ(mtu, 9000);
    }
}

TEST(virtio_net_rx_buffer_bytes_holds_a_whole_frame_without_mrg_rxbuf)
{
    /* With MRG_RXBUF a frame spans buffers: always 2 KiB. */
    CHECK_EQ(virtio_net_rx_buffer_bytes(true, 12, 1500), 2048);
    CHECK_EQ(virtio_net_rx_buffer_bytes(true, 12, 9000), 2048);
    /* Without: the header, Ethernet and a VLAN tag, and the MTU, in 64-byte steps, at least 2 KiB. */
    CHECK_EQ(virtio_net_rx_buffer_bytes(false, 12, 1500), 2048);
    CHECK_EQ(virtio_net_rx_buffer_bytes(false, 10, 68), 2048);
    CHECK_EQ(virtio_net_rx_buffer_bytes(false, 12, 9000), 9088); /* 12 + 18 + 9000 = 9030 */
    CHECK_EQ(virtio_net_rx_buffer_bytes(false, 10, 9000), 9088);
    CHECK_EQ(virtio_net_rx_buffer_bytes(false, 12, 4000), 4032);
    for (unsigned mtu = 68; mtu <= 9000; mtu++) {
        uint32_t b = virtio_net_rx_buffer_bytes(false, 12, (uint16_t)mtu);
        if (b < 12 + 18 + mtu || b % 64 || b > 12 + 18 + mtu + 63 + 2048) {
            unit_fail(__FILE__, __LINE__, "mtu %u: %u bytes", mtu, b);
            return;
        }
    }
    unit_pass();
}
