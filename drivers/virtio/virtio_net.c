#include "drivers/virtio/virtio_net.h"

#include "boot/kheap.h"
#include "lib/log.h"

#define VIRTIO_VENDOR 0x1af4
#define VIRTIO_NET_TRANSITIONAL 0x1000
#define VIRTIO_NET_MODERN 0x1041

/* struct virtio_net_config (virtio 1.2, 5.1.4). */
#define VIRTIO_NET_CONFIG_MAC 0
#define VIRTIO_NET_CONFIG_STATUS 6

static struct virtio_net *nics[VIRTIO_NET_MAX_DEVICES];
static int nic_count;

static void read_link(struct virtio_net *n)
{
    uint16_t status = VIRTIO_NET_S_LINK_UP; /* without STATUS the link is assumed up (5.1.4.2) */
    if (virtio_has_feature(&n->vdev, VIRTIO_NET_F_STATUS))
        virtio_config_read(&n->vdev, VIRTIO_NET_CONFIG_STATUS, &status, sizeof(status));
    n->link_up = status & VIRTIO_NET_S_LINK_UP;
}

static void config_changed(struct virtio_device *vdev)
{
    struct virtio_net *n = vdev->priv;
    bool was_up = n->link_up;
    read_link(n);
    if (was_up != n->link_up)
        log_info("virtio-net: %s: link %s", vdev->name, n->link_up ? "up" : "down");
}

static int probe_one(struct pci_device *pci, const struct kernel_options *opts)
{
    struct virtio_net *n = kzalloc(sizeof(*n));
    if (!n)
        return -1;
    if (virtio_pci_attach(pci, &n->vdev) < 0)
        goto fail;
    n->vdev.priv = n;
    n->vdev.config_changed = config_changed;
    uint64_t wanted = VIRTIO_NET_F_MAC | VIRTIO_NET_F_STATUS;
    if (opts->virtio_indirect)
        wanted |= VIRTIO_F_RING_INDIRECT_DESC;
    if (opts->virtio_event_idx)
        wanted |= VIRTIO_F_RING_EVENT_IDX;
    if (virtio_negotiate(&n->vdev, wanted) < 0)
        goto fail;
    if (virtio_has_feature(&n->vdev, VIRTIO_NET_F_MAC))
        virtio_config_read(&n->vdev, VIRTIO_NET_CONFIG_MAC, n->mac, sizeof(n->mac));
    static const char *const names[] = { "rx", "tx" };
    static void (*const callbacks[])(struct virtqueue *) = { NULL, NULL };
    if (virtio_find_vqs(&n->vdev, 2, names, callbacks, opts->irq_mode) < 0)
        goto fail;
    read_link(n);
    virtio_driver_ok(&n->vdev);
    log_info("virtio-net: %s: mac %02x:%02x:%02x:%02x:%02x:%02x, link %s", n->vdev.name, n->mac[0], n->mac[1],
             n->mac[2], n->mac[3], n->mac[4], n->mac[5], n->link_up ? "up" : "down");
    nics[nic_count++] = n;
    return 0;
fail:
    kfree(n);
    return -1;
}

int virtio_net_probe_all(const struct kernel_options *opts)
{
    for (struct pci_device *d = pci_next_device(NULL); d && nic_count < VIRTIO_NET_MAX_DEVICES; d = pci_next_device(d))
        if (d->vendor_id == VIRTIO_VENDOR && (d->device_id == VIRTIO_NET_TRANSITIONAL || d->device_id == VIRTIO_NET_MODERN))
            probe_one(d, opts);
    return nic_count;
}
