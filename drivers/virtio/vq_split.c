/*
 * The split ring format (virtio 1.2, 2.7): a descriptor table whose free
 * descriptors are listed through links[] (never through desc.next, which the
 * device could overwrite), an available ring we publish through its index,
 * and a used ring the device publishes through its own.
 */
#include "arch/x86_64/barrier.h"
#include "drivers/virtio/vq_format.h"

static uint64_t vq_split_ring_bytes(uint16_t num)
{
    return vring_size(num);
}

/* The legacy transport addresses the used ring modulo the size: a power of two (2.7). */
static bool vq_split_size_ok(uint16_t num)
{
    return (num & (num - 1)) == 0;
}

/* Setup: cold, built for size in this -O2 file (HOT_SRCS). */
__attribute__((cold)) static void vq_split_init(struct virtqueue *vq, void *ring)
{
    vring_init(&vq->split.vring, vq->num, ring);
    vq->split.avail_idx = vq->split.last_used_idx = 0;
}

static uint64_t vq_split_driver_area(const struct virtqueue *vq)
{
    return (uint64_t)(uintptr_t)vq->split.vring.avail;
}

static uint64_t vq_split_device_area(const struct virtqueue *vq)
{
    return (uint64_t)(uintptr_t)vq->split.vring.used;
}

static uint16_t vq_split_desc_flags(unsigned i, unsigned out, unsigned total)
{
    uint16_t flags = i + 1 < total ? VRING_DESC_F_NEXT : 0;
    if (i >= out)
        flags |= VRING_DESC_F_WRITE;
    return flags;
}

static uint16_t vq_split_add(struct virtqueue *vq, const struct vq_chain *c)
{
    struct vring *vr = &vq->split.vring;
    uint16_t head = vq->free_head;
    if (c->table) {
        struct vring_desc *table = c->table;
        for (unsigned i = 0; i < c->total; i++)
            table[i] = (struct vring_desc){ c->sg[i].addr, c->sg[i].len, vq_split_desc_flags(i, c->out, c->total),
                                            (uint16_t)(i + 1) };
        vr->desc[head] = (struct vring_desc){ (uint64_t)(uintptr_t)table,
                                              (uint32_t)(sizeof(struct vring_desc) * c->total),
                                              VRING_DESC_F_INDIRECT, 0 };
        vq->free_head = vq->links[head];
    } else {
        uint16_t i = head;
        for (unsigned k = 0; k < c->total; k++) {
            vr->desc[i] = (struct vring_desc){ c->sg[k].addr, c->sg[k].len, vq_split_desc_flags(k, c->out, c->total),
                                               vq->links[i] };
            i = vq->links[i];
        }
        vq->free_head = i;
    }
    /* The descriptors and the ring entry must be visible before the index that publishes them. */
    vr->avail->ring[vq->split.avail_idx & (vq->num - 1)] = head;
    dma_wmb();
    vq->split.avail_idx++;
    WRITE_ONCE16(&vr->avail->idx, vq->split.avail_idx);
    return head;
}

static bool vq_split_need_kick(struct virtqueue *vq)
{
    uint16_t new_idx = vq->split.avail_idx;
    uint16_t old_idx = (uint16_t)(new_idx - vq->num_added);
    if (vq->event_idx)
        return vring_need_event(READ_ONCE16(vring_avail_event(&vq->split.vring)), new_idx, old_idx);
    return !(READ_ONCE16(&vq->split.vring.used->flags) & VRING_USED_F_NO_NOTIFY);
}

static void *vq_split_get_buf(struct virtqueue *vq, uint32_t *len)
{
    struct vring *vr = &vq->split.vring;
    uint16_t last = vq->split.last_used_idx;
    uint16_t used_idx = READ_ONCE16(&vr->used->idx);
    if (used_idx == last)
        return NULL;
    if ((uint16_t)(used_idx - last) > vq->chains_in_flight) {
        vq_break(vq, "used index %u is %u ahead of %u, but only %u chains are in flight", used_idx,
                 (uint16_t)(used_idx - last), last, vq->chains_in_flight);
        return NULL;
    }
    /* Read the entry only after the index that says it is there. */
    dma_rmb();
    const struct vring_used_elem *e = &vr->used->ring[last & (vq->num - 1)];
    uint32_t id = READ_ONCE32(&e->id), written = READ_ONCE32(&e->len);
    if (!vq_used_ok(vq, id, &written))
        return NULL;
    vq->split.last_used_idx++;
    /* With EVENT_IDX and callbacks on, ask for an interrupt after the next completion. */
    if (vq->event_idx && !vq->callbacks_disabled) {
        WRITE_ONCE16(vring_used_event(vr), vq->split.last_used_idx);
        dma_mb();
    }
    *len = written;
    return vq_chain_release(vq, (uint16_t)id);
}

static bool vq_split_has_used(const struct virtqueue *vq)
{
    return vq->split.last_used_idx != READ_ONCE16(&vq->split.vring.used->idx);
}

static void vq_split_disable_cb(struct virtqueue *vq)
{
    if (vq->event_idx)
        /* Flags must stay 0 under EVENT_IDX (virtio 1.2, 2.7.10): instead put
         * the event index where the used index just was, so the device would
         * only interrupt after a full 2^16 lap; polling resets it long before. */
        WRITE_ONCE16(vring_used_event(&vq->split.vring), (uint16_t)(vq->split.last_used_idx - 1));
    else
        WRITE_ONCE16(&vq->split.vring.avail->flags, VRING_AVAIL_F_NO_INTERRUPT);
}

static uint16_t vq_split_enable_cb_prepare(struct virtqueue *vq)
{
    if (vq->event_idx)
        WRITE_ONCE16(vring_used_event(&vq->split.vring), vq->split.last_used_idx);
    else
        WRITE_ONCE16(&vq->split.vring.avail->flags, 0);
    return vq->split.last_used_idx;
}

/* The device interrupts once its used index passes last_used + bufs
 * (vring_need_event); if it is already past, it never will. A used entry
 * is a chain. */
static bool vq_split_enable_cb_delayed(struct virtqueue *vq)
{
    uint16_t bufs = (uint16_t)(vq->chains_in_flight * 3 / 4);
    uint16_t last = vq->split.last_used_idx;
    WRITE_ONCE16(vring_used_event(&vq->split.vring), (uint16_t)(last + bufs));
    /* As in virtqueue_poll: the event index out before looking at the used index. */
    dma_mb();
    return (uint16_t)(READ_ONCE16(&vq->split.vring.used->idx) - last) > bufs;
}

static bool vq_split_poll(const struct virtqueue *vq, uint16_t mark)
{
    return mark != READ_ONCE16(&vq->split.vring.used->idx);
}

/* Back onto the free list along our own links, never the device-visible ones. */
static void vq_split_free_chain(struct virtqueue *vq, uint16_t head)
{
    uint16_t last = head;
    for (uint16_t k = 1; k < vq->state[head].descs; k++)
        last = vq->links[last];
    vq->links[last] = vq->free_head;
    vq->free_head = head;
}

/* As the next used entry the device would publish. */
static void vq_split_plant_used(struct virtqueue *vq, uint32_t id, uint32_t len)
{
    struct vring_used *used = vq->split.vring.used;
    uint16_t idx = READ_ONCE16(&used->idx);
    used->ring[idx & (vq->num - 1)] = (struct vring_used_elem){ .id = id, .len = len };
    dma_wmb();
    WRITE_ONCE16(&used->idx, (uint16_t)(idx + 1));
}

/* A broken queue's dump: cold, built for size in this -O2 file (HOT_SRCS). */
__attribute__((cold)) static void vq_split_dump(const struct virtqueue *vq, void (*print)(const char *fmt, ...))
{
    const struct vring *vr = &vq->split.vring;
    print("  avail_idx %u (device sees %u), last_used %u (device at %u), avail.flags 0x%x used.flags 0x%x "
          "used_event %u avail_event %u\n",
          vq->split.avail_idx, READ_ONCE16(&vr->avail->idx), vq->split.last_used_idx, READ_ONCE16(&vr->used->idx),
          READ_ONCE16(&vr->avail->flags), READ_ONCE16(&vr->used->flags), READ_ONCE16(vring_used_event(vr)),
          READ_ONCE16(vring_avail_event(vr)));
}

const struct vq_ops vq_split_ops = {
    .name = "split",
    .key_name = "head",
    .ring_align = VRING_LEGACY_ALIGN,
    .ring_bytes = vq_split_ring_bytes,
    .size_ok = vq_split_size_ok,
    .init = vq_split_init,
    .driver_area = vq_split_driver_area,
    .device_area = vq_split_device_area,
    .add = vq_split_add,
    .need_kick = vq_split_need_kick,
    .get_buf = vq_split_get_buf,
    .has_used = vq_split_has_used,
    .disable_cb = vq_split_disable_cb,
    .enable_cb_prepare = vq_split_enable_cb_prepare,
    .enable_cb_delayed = vq_split_enable_cb_delayed,
    .poll = vq_split_poll,
    .free_chain = vq_split_free_chain,
    .plant_used = vq_split_plant_used,
    .dump = vq_split_dump,
};
