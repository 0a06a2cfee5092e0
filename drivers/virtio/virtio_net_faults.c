/*
 * Fault injection for the recovery tests (faults=on only): the device-side
 * writes a faulty device would make, so the poll's recovery is exercised
 * end to end on a real device.
 */
#include "drivers/virtio/virtio_net_priv.h"

#include "arch/x86_64/barrier.h"
#include "lib/errno.h"
#include "lib/log.h"

/* Adds a one-buffer transmit chain over a free slot's header that carries no
 * frame (token NULL): device-readable if out, else device-writable. No kick. */
static int add_fault_chain(struct virtio_net *nic, bool out)
{
    uint16_t index = tx_slots_get(&nic->tx_slots);
    if (index == TX_SLOT_NONE)
        return -ENOSPC;
    struct tx_slot *slot = &nic->tx_slot_mem[index];
    slot->token = NULL;
    struct vq_sg sg = { (uint64_t)(uintptr_t)&slot->hdr, nic->hdr_len };
    int rc = virtqueue_add(txq(nic), &sg, out ? 1 : 0, out ? 0 : 1, slot);
    if (rc < 0)
        tx_slots_put(&nic->tx_slots, index);
    return rc;
}

/* A transmit chain with no device-readable buffer: QEMU's virtio-net calls
 * virtio_error() ("header not in first element"), which sets NEEDS_RESET and
 * raises a configuration interrupt on a VERSION_1 device, and silently stops
 * a legacy one (the transmit timeout finds that). */
static int inject_device_error(struct virtio_net *nic)
{
    int rc = add_fault_chain(nic, false);
    if (rc < 0)
        return rc;
    virtqueue_notify(txq(nic));
    vn_watchdog_arm(nic);
    return 0;
}

/* What a buggy device would write: a used entry naming an id that does not
 * exist. Planted only while nothing else is in flight on the transmit
 * queue, behind a chain the device is never told about, so the device has no
 * reason to touch this ring meanwhile; the next tx_clean finds the entry. */
void vn_faults_poll(struct virtio_net *nic)
{
    if (nic->tx_slots.in_use != 0)
        return; /* wait until transmit is idle */
    nic->fault_bad_used_pending = false;
    if (add_fault_chain(nic, true) < 0) {
        log_error("virtio-net: %s: fault injection: no room for the chain", nic->vdev.name);
        return;
    }
    virtqueue_plant_used(txq(nic), virtqueue_size(txq(nic)) + 7u, 0);
    vn_tx_clean(nic);
}

int virtio_net_inject_fault(struct virtio_net *nic, enum virtio_net_fault fault)
{
    if (!nic->faults_enabled)
        return -EPERM;
    switch (fault) {
    case VIRTIO_NET_FAULT_DEVICE_ERROR:
        log_warn("virtio-net: %s: fault injection: a transmit chain the device must reject", nic->vdev.name);
        return inject_device_error(nic);
    case VIRTIO_NET_FAULT_BAD_USED_ID:
        log_warn("virtio-net: %s: fault injection: a used entry with an out-of-range id", nic->vdev.name);
        nic->fault_bad_used_pending = true;
        napi_schedule(&nic->napi);
        return 0;
    }
    return -EINVAL;
}

