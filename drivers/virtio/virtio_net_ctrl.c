/*
 * The control virtqueue (virtio 1.2, 5.1.6.5): synchronous commands with a
 * bounded wait. It sets the receive filter (CTRL_RX: promiscuous and
 * all-multicast off; the MAC table: our own address, and the multicast
 * groups the stack joined) and acknowledges announcements (GUEST_ANNOUNCE,
 * 5.1.6.5.4). A command the device refuses or does not answer in time is
 * said on the console once; after no answer the queue is not used again.
 */
#include "drivers/virtio/virtio_net_priv.h"

#include "arch/x86_64/cpu.h"
#include "lib/errno.h"
#include "lib/kheap.h"
#include "lib/log.h"
#include "lib/string.h"

/* Classes and commands (5.1.6.5.1, 5.1.6.5.2, 5.1.6.5.4). */
#define VIRTIO_NET_CTRL_RX 0
#define VIRTIO_NET_CTRL_RX_PROMISC 0
#define VIRTIO_NET_CTRL_RX_ALLMULTI 1
#define VIRTIO_NET_CTRL_MAC 1
#define VIRTIO_NET_CTRL_MAC_TABLE_SET 0
#define VIRTIO_NET_CTRL_ANNOUNCE 3
#define VIRTIO_NET_CTRL_ANNOUNCE_ACK 0
#define VIRTIO_NET_OK 0
#define VN_CTRL_NO_ACK 0xFF  /* neither OK nor ERR: what the ack holds until the device writes it */

/* struct virtio_net_config's status (5.1.4). */
#define VIRTIO_NET_CONFIG_STATUS 6
#define VIRTIO_NET_S_ANNOUNCE 2

/* QEMU answers within the notification itself; a device that takes longer
 * than this is taken for one that does not answer. */
#define VN_CTRL_TIMEOUT_NS 500000000ULL

static const char *vn_ctrl_name(uint8_t class, uint8_t cmd)
{
    if (class == VIRTIO_NET_CTRL_RX)
        return cmd == VIRTIO_NET_CTRL_RX_PROMISC ? "RX_PROMISC" : "RX_ALLMULTI";
    if (class == VIRTIO_NET_CTRL_MAC)
        return "MAC_TABLE_SET";
    return "ANNOUNCE_ACK";
}

/* Sends one command: the header and `n` device-readable buffers, then the
 * ack; waits for the answer. 0, -EIO (refused) or -ETIMEDOUT. */
static int vn_ctrl_command(struct virtio_net *nic, uint8_t class, uint8_t cmd, const struct vq_sg *data, unsigned n)
{
    struct vn_ctrl *c = nic->ctrl;
    if (!c)
        return -ENODEV;
    struct virtqueue *vq = ctrlq(nic);
    c->hdr[0] = class;
    c->hdr[1] = cmd;
    c->ack = VN_CTRL_NO_ACK;
    struct vq_sg sg[4];
    sg[0] = (struct vq_sg){ (uint64_t)(uintptr_t)c->hdr, sizeof(c->hdr) };
    for (unsigned i = 0; i < n; i++)
        sg[1 + i] = data[i];
    sg[1 + n] = (struct vq_sg){ (uint64_t)(uintptr_t)&c->ack, sizeof(c->ack) };
    int rc = virtqueue_add(vq, sg, 1 + n, 1, c);
    if (rc == 0) {
        /* Always notify: the answer is waited for, whatever the suppression says. */
        virtqueue_notify(vq);
        uint64_t start = clock_now_ns();
        uint32_t len;
        while (!virtqueue_get_buf(vq, &len)) {
            if (virtqueue_is_broken(vq) || clock_now_ns() - start > VN_CTRL_TIMEOUT_NS) {
                rc = -ETIMEDOUT;
                break;
            }
            cpu_relax();
        }
    }
    if (rc == 0 && c->ack == VIRTIO_NET_OK) {
        nic->stats.ctrl_commands++;
        return 0;
    }
    nic->stats.ctrl_failures++;
    if (rc == 0) {
        log_error("virtio-net: %s: control command %s refused (ack %u)", nic->vdev.name, vn_ctrl_name(class, cmd),
                  c->ack);
        return -EIO;
    }
    /* The device may still hold the buffers: stop using them (a reset takes them back). */
    nic->ctrl = NULL;
    log_error("virtio-net: %s: control command %s got no answer (error %d within %llu ms); the control queue "
              "is not used again", nic->vdev.name, vn_ctrl_name(class, cmd), rc,
              (unsigned long long)(VN_CTRL_TIMEOUT_NS / 1000000));
    return rc;
}

static int vn_ctrl_rx_mode(struct virtio_net *nic, uint8_t cmd, bool on)
{
    nic->ctrl->on_off = on;
    struct vq_sg sg = { (uint64_t)(uintptr_t)&nic->ctrl->on_off, 1 };
    return vn_ctrl_command(nic, VIRTIO_NET_CTRL_RX, cmd, &sg, 1);
}

/* Two tables, unicast then multicast, each a count and the addresses (5.1.6.5.2). */
static int vn_ctrl_mac_table(struct virtio_net *nic)
{
    struct vn_ctrl *c = nic->ctrl;
    c->unicast.entries = 1;
    memcpy(c->unicast.macs[0], nic->mac, 6);
    unsigned count = nic->allmulti ? 0 : nic->mcast_count;
    c->multicast.entries = count;
    memcpy(c->multicast.macs, nic->mcast, 6 * count);
    struct vq_sg sg[2] = {
        { (uint64_t)(uintptr_t)&c->unicast, (uint32_t)(4 + 6 * c->unicast.entries) },
        { (uint64_t)(uintptr_t)&c->multicast, (uint32_t)(4 + 6 * count) },
    };
    return vn_ctrl_command(nic, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, sg, 2);
}

/* Promiscuous off, all-multicast as needed, the table: what this guest wants to receive. */
static int vn_ctrl_rx_filter(struct virtio_net *nic)
{
    if (!nic->ctrl || !virtio_has_feature(&nic->vdev, VIRTIO_NET_F_CTRL_RX))
        return 0;
    int rc = vn_ctrl_rx_mode(nic, VIRTIO_NET_CTRL_RX_PROMISC, false);
    if (rc == 0)
        rc = vn_ctrl_rx_mode(nic, VIRTIO_NET_CTRL_RX_ALLMULTI, nic->allmulti);
    if (rc == 0)
        rc = vn_ctrl_mac_table(nic);
    return rc;
}

void vn_ctrl_start(struct virtio_net *nic)
{
    if (!virtio_has_feature(&nic->vdev, VIRTIO_NET_F_CTRL_VQ))
        return;
    if (!nic->ctrl_mem)
        nic->ctrl_mem = kzalloc(sizeof(*nic->ctrl_mem));
    if (!nic->ctrl_mem) {
        log_error("virtio-net: %s: no memory for control commands", nic->vdev.name);
        return;
    }
    nic->ctrl = nic->ctrl_mem;
    virtqueue_disable_cb(ctrlq(nic)); /* answers are waited for, never interrupted for */
    if (!virtio_has_feature(&nic->vdev, VIRTIO_NET_F_CTRL_RX))
        return;
    if (vn_ctrl_rx_filter(nic) == 0)
        log_info("virtio-net: %s: receive filter: promiscuous off, all-multicast %s, MAC table 1 unicast + %u "
                 "multicast", nic->vdev.name, nic->allmulti ? "on" : "off", nic->allmulti ? 0 : nic->mcast_count);
}

int virtio_net_set_multicast(struct virtio_net *nic, const uint8_t (*macs)[6], unsigned count)
{
    nic->allmulti = count > VIRTIO_NET_MCAST_MAX;
    nic->mcast_count = nic->allmulti ? 0 : count;
    memcpy(nic->mcast, macs, 6 * nic->mcast_count);
    int rc = vn_ctrl_rx_filter(nic);
    if (rc == 0 && nic->ctrl)
        log_debug("virtio-net: %s: multicast filter: %u group(s)%s", nic->vdev.name, count,
                  nic->allmulti ? ", all-multicast on" : "");
    return rc;
}

void vn_ctrl_announce(struct virtio_net *nic)
{
    if (!virtio_has_feature(&nic->vdev, VIRTIO_NET_F_GUEST_ANNOUNCE))
        return;
    uint16_t status = 0;
    virtio_config_read(&nic->vdev, VIRTIO_NET_CONFIG_STATUS, &status, sizeof(status));
    if (!(status & VIRTIO_NET_S_ANNOUNCE))
        return;
    nic->stats.announces++;
    if (nic->has_stack && nic->stack.announce)
        nic->stack.announce(nic->stack.ctx);
    /* The ack clears VIRTIO_NET_S_ANNOUNCE (5.1.6.5.4). */
    if (vn_ctrl_command(nic, VIRTIO_NET_CTRL_ANNOUNCE, VIRTIO_NET_CTRL_ANNOUNCE_ACK, NULL, 0) == 0)
        log_info("virtio-net: %s: announced the addresses, as the device asked (announcement %llu)", nic->vdev.name,
                 (unsigned long long)nic->stats.announces);
}
