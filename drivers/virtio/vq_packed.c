/*
 * The packed ring format (virtio 1.2, 2.8): one descriptor ring both sides
 * write, each following the other's position with a wrap counter, buffer
 * ids from a free list through links[], and an event suppression structure
 * each way.
 *
 * Where the device writes its next used descriptor is always the start of
 * what we have in flight: chains are made available one after the other,
 * and each used descriptor, whichever chain it names, moves that position
 * on by the named chain's length (2.8.4, 2.8.6). So while anything is in
 * flight, the descriptor there is one we made available in this lap (AVAIL
 * bit equal to the wrap counter we follow) until the device marks it used
 * with both bits equal to it; any other AVAIL bit is a device writing with
 * the wrong wrap counter.
 */
#include "arch/x86_64/barrier.h"
#include "drivers/virtio/vq_format.h"

static uint64_t vq_packed_ring_bytes(uint16_t num)
{
    return vring_packed_size(num);
}

/* Any size up to 2^15 (2.8.10.1); the common limit is lower. */
static bool vq_packed_size_ok(uint16_t num)
{
    return num <= VRING_PACKED_MAX_SIZE;
}

/* Setup: cold, built for size in this -O2 file (HOT_SRCS). */
__attribute__((cold)) static void vq_packed_init(struct virtqueue *vq, void *ring)
{
    struct vq_packed *p = &vq->packed;
    vring_packed_init(&p->vring, vq->num, ring);
    p->next_avail = p->last_used = 0;
    p->avail_wrap = p->used_wrap = VRING_PACKED_WRAP_INITIAL;
    p->added_descs = 0;
}

static uint64_t vq_packed_driver_area(const struct virtqueue *vq)
{
    return (uint64_t)(uintptr_t)vq->packed.vring.driver;
}

static uint64_t vq_packed_device_area(const struct virtqueue *vq)
{
    return (uint64_t)(uintptr_t)vq->packed.vring.device;
}

/* Moves a position on by n (at most a lap) descriptors, flipping its wrap counter past the end. */
static void vq_packed_advance(const struct virtqueue *vq, uint16_t *pos, bool *wrap, uint16_t n)
{
    unsigned next = (unsigned)*pos + n;
    if (next >= vq->num) {
        next -= vq->num;
        *wrap = !*wrap;
    }
    *pos = (uint16_t)next;
}

static bool vq_packed_avail_bit(uint16_t flags)
{
    return flags & VRING_PACKED_DESC_F_AVAIL;
}

static uint16_t vq_packed_add(struct virtqueue *vq, const struct vq_chain *c)
{
    struct vq_packed *p = &vq->packed;
    struct vring_packed_desc *ring = p->vring.desc;
    uint16_t id = vq->free_head;
    vq->free_head = vq->links[id];
    uint16_t head = p->next_avail, head_flags;
    if (c->table) {
        /* WRITE is the only flag an indirect entry may carry, and its id is reserved (2.8.7). */
        struct vring_packed_desc *table = c->table;
        for (unsigned i = 0; i < c->total; i++)
            table[i] = (struct vring_packed_desc){ c->sg[i].addr, c->sg[i].len, 0,
                                                   i >= c->out ? VRING_DESC_F_WRITE : 0 };
        ring[head].addr = (uint64_t)(uintptr_t)table;
        ring[head].len = (uint32_t)(sizeof(struct vring_packed_desc) * c->total);
        ring[head].id = id;
        head_flags = VRING_DESC_F_INDIRECT | vring_packed_avail_flags(p->avail_wrap);
        vq_packed_advance(vq, &p->next_avail, &p->avail_wrap, 1);
    } else {
        head_flags = 0;
        for (unsigned k = 0; k < c->total; k++) {
            struct vring_packed_desc *d = &ring[p->next_avail];
            uint16_t flags = vring_packed_avail_flags(p->avail_wrap);
            if (k + 1 < c->total)
                flags |= VRING_DESC_F_NEXT;
            if (k >= c->out)
                flags |= VRING_DESC_F_WRITE;
            /* The id in every descriptor: the spec reads it from the last
             * (2.8.6), QEMU 7.2 from the first. */
            d->addr = c->sg[k].addr;
            d->len = c->sg[k].len;
            d->id = id;
            /* The device looks at nothing past the head until the head is
             * available, so the rest may go out in any order. */
            if (k == 0)
                head_flags = flags;
            else
                WRITE_ONCE16(&d->flags, flags);
            vq_packed_advance(vq, &p->next_avail, &p->avail_wrap, 1);
        }
    }
    /* The whole chain must be visible before its head is made available (2.8.6, 2.8.21). */
    dma_wmb();
    WRITE_ONCE16(&ring[head].flags, head_flags);
    p->added_descs += c->descs;
    return id;
}

static bool vq_packed_need_kick(struct virtqueue *vq)
{
    struct vq_packed *p = &vq->packed;
    uint32_t added = p->added_descs;
    p->added_descs = 0;
    /* One read, so offset and flags belong together. */
    uint32_t snapshot = READ_ONCE32(p->vring.device);
    uint16_t off_wrap = (uint16_t)snapshot, flags = (uint16_t)(snapshot >> 16) & VRING_PACKED_EVENT_FLAGS_MASK;
    if (flags == VRING_PACKED_EVENT_FLAG_DISABLE)
        return false;
    /* ENABLE, DESC without EVENT_IDX, the reserved value, or more than a lap
     * since the last decision (positions no longer tell): a notification
     * nobody asked for is always allowed. */
    if (flags != VRING_PACKED_EVENT_FLAG_DESC || !vq->event_idx || added > vq->num)
        return true;
    return vring_packed_need_event(vq->num, off_wrap, p->next_avail, p->avail_wrap, (uint16_t)added);
}

/* What the descriptor at the device's next used position says: a
 * completion, nothing yet, or a lie (see the top of this file). */
enum vq_packed_next { VQ_PACKED_NOTHING, VQ_PACKED_USED, VQ_PACKED_WRONG_WRAP };

static enum vq_packed_next vq_packed_look(const struct virtqueue *vq, uint16_t *flags)
{
    const struct vq_packed *p = &vq->packed;
    *flags = READ_ONCE16(&p->vring.desc[p->last_used].flags);
    if (vring_packed_is_used(*flags, p->used_wrap))
        return VQ_PACKED_USED;
    if (vq->chains_in_flight && vq_packed_avail_bit(*flags) != p->used_wrap)
        return VQ_PACKED_WRONG_WRAP;
    return VQ_PACKED_NOTHING;
}

static void *vq_packed_get_buf(struct virtqueue *vq, uint32_t *len)
{
    struct vq_packed *p = &vq->packed;
    uint16_t flags;
    switch (vq_packed_look(vq, &flags)) {
    case VQ_PACKED_NOTHING:
        return NULL;
    case VQ_PACKED_WRONG_WRAP:
        vq_break(vq, "descriptor %u has flags 0x%x, the wrong wrap bits for a used one (wrap counter %u)",
                 p->last_used, flags, p->used_wrap);
        return NULL;
    case VQ_PACKED_USED:
        break;
    }
    if (!vq->chains_in_flight) {
        vq_break(vq, "descriptor %u marked used (wrap counter %u) with no chain in flight", p->last_used,
                 p->used_wrap);
        return NULL;
    }
    /* Read the descriptor only after the flags that say it is used. */
    dma_rmb();
    const struct vring_packed_desc *d = &p->vring.desc[p->last_used];
    uint16_t id = READ_ONCE16(&d->id);
    /* The spec reserves the length of a used descriptor without WRITE
     * (2.8.4), but QEMU 7.2 never sets WRITE in one: like Linux, take the
     * length as written when the chain had room for it (vq_used_ok). */
    uint32_t written = READ_ONCE32(&d->len);
    if (!vq_used_ok(vq, id, &written))
        return NULL;
    vq_packed_advance(vq, &p->last_used, &p->used_wrap, vq->state[id].descs);
    /* With EVENT_IDX and callbacks on, ask for an interrupt after the next completion. */
    if (vq->event_idx && !vq->callbacks_disabled) {
        WRITE_ONCE16(&p->vring.driver->off_wrap, vring_packed_off_wrap(p->last_used, p->used_wrap));
        dma_mb();
    }
    *len = written;
    return vq_chain_release(vq, id);
}

static bool vq_packed_has_used(const struct virtqueue *vq)
{
    uint16_t flags;
    return vq_packed_look(vq, &flags) != VQ_PACKED_NOTHING;
}

/* DISABLE is allowed with EVENT_IDX too (2.8.10), unlike the split ring's flag. */
static void vq_packed_disable_cb(struct virtqueue *vq)
{
    WRITE_ONCE16(&vq->packed.vring.driver->flags, VRING_PACKED_EVENT_FLAG_DISABLE);
}

static uint16_t vq_packed_enable_cb_prepare(struct virtqueue *vq)
{
    struct vq_packed *p = &vq->packed;
    uint16_t mark = vring_packed_off_wrap(p->last_used, p->used_wrap);
    if (vq->event_idx) {
        /* The offset before the flag that makes the device read it. */
        WRITE_ONCE16(&p->vring.driver->off_wrap, mark);
        dma_wmb();
        WRITE_ONCE16(&p->vring.driver->flags, VRING_PACKED_EVENT_FLAG_DESC);
    } else {
        WRITE_ONCE16(&p->vring.driver->flags, VRING_PACKED_EVENT_FLAG_ENABLE);
    }
    return mark;
}

/* The event is a ring position: the device moves its used position on by
 * each chain's descriptors, so 3/4 of the descriptors in flight (Linux's
 * virtqueue_enable_cb_delayed_packed). Whether the device has already
 * passed it cannot be read off one descriptor: anything used at our
 * position counts as passed, and the caller reaps it. */
static bool vq_packed_enable_cb_delayed(struct virtqueue *vq)
{
    struct vq_packed *p = &vq->packed;
    uint16_t pos = p->last_used;
    bool wrap = p->used_wrap;
    vq_packed_advance(vq, &pos, &wrap, (uint16_t)((vq->num - vq->num_free) * 3 / 4));
    WRITE_ONCE16(&p->vring.driver->off_wrap, vring_packed_off_wrap(pos, wrap));
    dma_wmb();
    WRITE_ONCE16(&p->vring.driver->flags, VRING_PACKED_EVENT_FLAG_DESC);
    dma_mb();
    return vq_packed_has_used(vq);
}

static bool vq_packed_poll(const struct virtqueue *vq, uint16_t mark)
{
    uint16_t pos = mark & VRING_PACKED_EVENT_OFF_MASK;
    bool wrap = mark >> VRING_PACKED_EVENT_WRAP_SHIFT;
    return pos < vq->num && vring_packed_is_used(READ_ONCE16(&vq->packed.vring.desc[pos].flags), wrap);
}

static void vq_packed_free_chain(struct virtqueue *vq, uint16_t id)
{
    vq->links[id] = vq->free_head;
    vq->free_head = id;
}

/* At the driver's position: only while no real completion waits there. */
static void vq_packed_plant_used(struct virtqueue *vq, uint32_t id, uint32_t len)
{
    struct vq_packed *p = &vq->packed;
    struct vring_packed_desc *d = &p->vring.desc[p->last_used];
    d->id = (uint16_t)id;
    d->len = len;
    dma_wmb();
    WRITE_ONCE16(&d->flags, vring_packed_used_flags(p->used_wrap));
}

/* A broken queue's dump: cold, built for size in this -O2 file (HOT_SRCS). */
__attribute__((cold)) static void vq_packed_dump(const struct virtqueue *vq, void (*print)(const char *fmt, ...))
{
    const struct vq_packed *p = &vq->packed;
    print("  next_avail %u wrap %u, last_used %u wrap %u (flags there 0x%x), driver event off_wrap 0x%x flags %u, "
          "device event off_wrap 0x%x flags %u\n",
          p->next_avail, p->avail_wrap, p->last_used, p->used_wrap, READ_ONCE16(&p->vring.desc[p->last_used].flags),
          READ_ONCE16(&p->vring.driver->off_wrap), READ_ONCE16(&p->vring.driver->flags),
          READ_ONCE16(&p->vring.device->off_wrap), READ_ONCE16(&p->vring.device->flags));
}

const struct vq_ops vq_packed_ops = {
    .name = "packed",
    .key_name = "id",
    .ring_align = VRING_PACKED_DESC_ALIGN,
    .ring_bytes = vq_packed_ring_bytes,
    .size_ok = vq_packed_size_ok,
    .init = vq_packed_init,
    .driver_area = vq_packed_driver_area,
    .device_area = vq_packed_device_area,
    .add = vq_packed_add,
    .need_kick = vq_packed_need_kick,
    .get_buf = vq_packed_get_buf,
    .has_used = vq_packed_has_used,
    .disable_cb = vq_packed_disable_cb,
    .enable_cb_prepare = vq_packed_enable_cb_prepare,
    .poll = vq_packed_poll,
    .enable_cb_delayed = vq_packed_enable_cb_delayed,
    .free_chain = vq_packed_free_chain,
    .plant_used = vq_packed_plant_used,
    .dump = vq_packed_dump,
};
