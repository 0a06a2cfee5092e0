/*
 * What both ring formats share (see virtqueue.h): argument checks, indirect
 * tables, the per-chain state and the free list through links[], the
 * verdicts on used entries, statistics, and the calls into the format.
 */
#include "drivers/virtio/virtqueue.h"

#include <stdarg.h>

#include "arch/x86_64/barrier.h"
#include "drivers/virtio/vq_format.h"
#include "lib/errno.h"
#include "lib/printf.h"
#include "lib/string.h"

/* Setup, teardown, errors and dumps: built for size in this -O2 file
 * (the Makefile's HOT_SRCS), which keeps kernel.efi under 256 KiB. */
#define VQ_COLD __attribute__((cold))

static bool vq_valid_key(const struct virtqueue *vq, uint32_t key)
{
    return key < vq->num;
}

VQ_COLD void vq_break(struct virtqueue *vq, const char *fmt, ...)
{
    if (vq->broken)
        return;
    vq->broken = true;
    char msg[192];
    size_t n = (size_t)snprintf(msg, sizeof(msg), "virtqueue %s: broken: ", vq->name);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg + n, sizeof(msg) - n, fmt, ap);
    va_end(ap);
    if (vq->env.report)
        vq->env.report(msg);
}

bool vq_used_ok(struct virtqueue *vq, uint32_t id, uint32_t *len)
{
    if (!vq_valid_key(vq, id)) {
        vq_break(vq, "used id %u out of range (queue size %u)", id, vq->num);
        return false;
    }
    if (!vq->state[id].token) {
        vq_break(vq, "used id %u is not the %s of a chain in flight", id, vq->ops->key_name);
        return false;
    }
    if (!vq->state[id].writable_bytes) {
        *len = 0;
        return true;
    }
    if (*len > vq->state[id].writable_bytes) {
        vq_break(vq, "used id %u reports %u bytes written, only %u were writable", id, *len,
                 vq->state[id].writable_bytes);
        return false;
    }
    return true;
}

void *vq_chain_release(struct virtqueue *vq, uint16_t key)
{
    struct vq_desc_state *st = &vq->state[key];
    vq->ops->free_chain(vq, key);
    vq->num_free = (uint16_t)(vq->num_free + st->descs);
    vq->chains_in_flight--;
    if (st->indirect)
        vq->env.free(st->indirect);
    void *token = st->token;
    *st = (struct vq_desc_state){ 0 };
    return token;
}

enum virtqueue_format virtqueue_format_of(uint64_t features)
{
    return features & VIRTIO_F_RING_PACKED ? VIRTQUEUE_PACKED : VIRTQUEUE_SPLIT;
}

static const struct vq_ops *vq_ops_of(uint64_t features)
{
    return virtqueue_format_of(features) == VIRTQUEUE_PACKED ? &vq_packed_ops : &vq_split_ops;
}

uint64_t virtqueue_ring_bytes(uint16_t num, uint64_t features)
{
    return vq_ops_of(features)->ring_bytes(num);
}

uint64_t virtqueue_ring_align(uint64_t features)
{
    return vq_ops_of(features)->ring_align;
}

/* Every key on the free list, in order, as at init. */
static void vq_links_init(struct virtqueue *vq)
{
    for (uint16_t i = 0; i < vq->num; i++)
        vq->links[i] = (uint16_t)(i + 1 < vq->num ? i + 1 : VQ_NONE);
    vq->free_head = 0;
    vq->num_free = vq->num;
}

VQ_COLD int virtqueue_init(struct virtqueue *vq, const char *name, uint16_t index, uint16_t num, void *ring,
                   uint64_t features, const struct virtqueue_env *env)
{
    memset(vq, 0, sizeof(*vq));
    const struct vq_ops *ops = vq_ops_of(features);
    if (num == 0 || num > VIRTQUEUE_MAX_SIZE || !ops->size_ok(num) || !ring || ((uintptr_t)ring % ops->ring_align))
        return -EINVAL;
    snprintf(vq->name, sizeof(vq->name), "%s", name);
    vq->index = index;
    vq->num = num;
    vq->format = virtqueue_format_of(features);
    vq->ops = ops;
    vq->ring = ring;
    vq->env = *env;
    vq->event_idx = features & VIRTIO_F_RING_EVENT_IDX;
    vq->indirect = features & VIRTIO_F_RING_INDIRECT_DESC;
    vq->state = env->alloc(sizeof(struct vq_desc_state) * num);
    if (vq->state)
        memset(vq->state, 0, sizeof(struct vq_desc_state) * num); /* before destroy could read it */
    vq->links = env->alloc(sizeof(uint16_t) * num);
    if (!vq->links || !vq->state) {
        virtqueue_destroy(vq);
        return -ENOMEM;
    }
    vq_links_init(vq);
    ops->init(vq, ring);
    return 0;
}

VQ_COLD void virtqueue_destroy(struct virtqueue *vq)
{
    if (vq->state)
        for (uint16_t i = 0; i < vq->num; i++)
            if (vq->state[i].indirect)
                vq->env.free(vq->state[i].indirect);
    if (vq->links)
        vq->env.free(vq->links);
    if (vq->state)
        vq->env.free(vq->state);
    vq->links = NULL;
    vq->state = NULL;
}

uint64_t virtqueue_desc_addr(const struct virtqueue *vq)
{
    return (uint64_t)(uintptr_t)vq->ring;
}

uint64_t virtqueue_driver_addr(const struct virtqueue *vq)
{
    return vq->ops->driver_area(vq);
}

uint64_t virtqueue_device_addr(const struct virtqueue *vq)
{
    return vq->ops->device_area(vq);
}

uint16_t virtqueue_size(const struct virtqueue *vq)
{
    return vq->num;
}

int virtqueue_add(struct virtqueue *vq, const struct vq_sg *sg, unsigned out_count, unsigned in_count, void *token)
{
    if (vq->broken)
        return -EIO;
    /* Each count first, so their sum cannot wrap. */
    if (out_count > VIRTQUEUE_MAX_SIZE || in_count > VIRTQUEUE_MAX_SIZE || !token)
        return -EINVAL;
    unsigned total = out_count + in_count;
    /* No chain longer than the queue, indirect or not (virtio 1.2, 2.7.5.3.1 and 2.8.18). */
    if (total == 0 || total > vq->num)
        return -EINVAL;
    /* A chain is at most 2^32 bytes in all (virtio 1.2, 2.7.5); written bytes
     * are reported in 32 bits. */
    uint64_t chain_bytes = 0, writable = 0;
    for (unsigned i = 0; i < total; i++) {
        chain_bytes += sg[i].len;
        if (i >= out_count)
            writable += sg[i].len;
    }
    if (chain_bytes > UINT32_MAX)
        return -EINVAL;

    if (vq->num_free == 0) {
        vq->stats.full++;
        return -ENOSPC;
    }
    struct vq_chain chain = { sg, out_count, total, NULL, (uint16_t)total };
    /* Both formats' table entries are 16 bytes (struct vring_desc, struct vring_packed_desc). */
    if (vq->indirect && total > 1)
        chain.table = vq->env.alloc(16 * total); /* on failure: a direct chain */
    if (chain.table)
        chain.descs = 1;
    if (vq->num_free < chain.descs) {
        vq->stats.full++;
        return -ENOSPC; /* only a direct chain can get here: no table to free */
    }
    if (chain.table)
        vq->stats.indirect++;

    uint16_t key = vq->ops->add(vq, &chain);
    vq->num_free = (uint16_t)(vq->num_free - chain.descs);
    vq->state[key] = (struct vq_desc_state){ token, chain.descs, (uint32_t)writable, chain.table };
    vq->chains_in_flight++;
    vq->num_added++;
    vq->stats.added++;
    /* The kick decision compares 16-bit positions: never let a batch reach 2^16. */
    if (vq->num_added == 0xFFFF)
        virtqueue_kick(vq);
    return 0;
}

bool virtqueue_kick_prepare(struct virtqueue *vq)
{
    /* Publish what was added before reading what the device asked for. */
    dma_mb();
    bool needed = vq->ops->need_kick(vq);
    vq->num_added = 0;
    if (!needed)
        vq->stats.kicks_skipped++;
    return needed && !vq->broken;
}

void virtqueue_notify(struct virtqueue *vq)
{
    vq->stats.kicks++;
    vq->env.notify(vq, vq->env.ctx);
}

bool virtqueue_kick(struct virtqueue *vq)
{
    if (!virtqueue_kick_prepare(vq))
        return false;
    virtqueue_notify(vq);
    return true;
}

bool virtqueue_has_used(const struct virtqueue *vq)
{
    return !vq->broken && vq->ops->has_used(vq);
}

void *virtqueue_get_buf(struct virtqueue *vq, uint32_t *len)
{
    if (vq->broken)
        return NULL;
    void *token = vq->ops->get_buf(vq, len);
    if (token)
        vq->stats.completed++;
    return token;
}

void virtqueue_disable_cb(struct virtqueue *vq)
{
    if (vq->callbacks_disabled)
        return;
    vq->callbacks_disabled = true;
    vq->ops->disable_cb(vq);
}

uint16_t virtqueue_enable_cb_prepare(struct virtqueue *vq)
{
    vq->callbacks_disabled = false;
    return vq->ops->enable_cb_prepare(vq);
}

bool virtqueue_poll(struct virtqueue *vq, uint16_t last_used)
{
    /* Our re-enable must be visible before we look for completions, or a
     * completion in between could be missed by both sides (the lost wake-up). */
    dma_mb();
    return !vq->broken && vq->ops->poll(vq, last_used);
}

bool virtqueue_enable_cb(struct virtqueue *vq)
{
    return !virtqueue_poll(vq, virtqueue_enable_cb_prepare(vq));
}

bool virtqueue_enable_cb_delayed(struct virtqueue *vq)
{
    if (!vq->event_idx || !vq->ops->enable_cb_delayed)
        return virtqueue_enable_cb(vq); /* the flag can only say "every completion" */
    vq->callbacks_disabled = false;
    bool passed = vq->ops->enable_cb_delayed(vq);
    return !vq->broken && !passed;
}

void *virtqueue_detach_unused(struct virtqueue *vq)
{
    for (uint16_t i = 0; i < vq->num; i++)
        if (vq->state[i].token)
            /* The device is reset: the chain is ours again. Unpublish nothing;
             * the ring is re-initialised before reuse. */
            return vq_chain_release(vq, i);
    return NULL;
}

VQ_COLD int virtqueue_reset(struct virtqueue *vq)
{
    if (vq->chains_in_flight)
        return -EBUSY;
    memset(vq->ring, 0, vq->ops->ring_bytes(vq->num));
    vq_links_init(vq);
    vq->ops->init(vq, vq->ring);
    vq->num_added = 0;
    vq->callbacks_disabled = false;
    vq->broken = false;
    return 0;
}

unsigned virtqueue_free_count(const struct virtqueue *vq)
{
    return vq->num_free;
}

bool virtqueue_is_broken(const struct virtqueue *vq)
{
    return vq->broken;
}

const char *virtqueue_format_name(const struct virtqueue *vq)
{
    return vq->ops->name;
}

void virtqueue_plant_used(struct virtqueue *vq, uint32_t id, uint32_t len)
{
    vq->ops->plant_used(vq, id, len);
}

VQ_COLD void virtqueue_dump(const struct virtqueue *vq, void (*print)(const char *fmt, ...))
{
    print("virtqueue %s (index %u): %s, size %u, free %u, chains in flight %u, free_head %u\n", vq->name, vq->index,
          vq->ops->name, vq->num, vq->num_free, vq->chains_in_flight, vq->free_head);
    vq->ops->dump(vq, print);
    print("  event_idx %d indirect %d broken %d callbacks %s\n", vq->event_idx, vq->indirect, vq->broken,
          vq->callbacks_disabled ? "off" : "on");
    print("  added %llu completed %llu kicks %llu skipped %llu full %llu indirect %llu\n",
          (unsigned long long)vq->stats.added, (unsigned long long)vq->stats.completed,
          (unsigned long long)vq->stats.kicks, (unsigned long long)vq->stats.kicks_skipped,
          (unsigned long long)vq->stats.full, (unsigned long long)vq->stats.indirect);
    for (uint16_t i = 0; i < vq->num; i++)
        if (vq->state[i].token)
            print("  in flight: %s %u, %u desc(s), %u writable bytes%s\n", vq->ops->key_name, i, vq->state[i].descs,
                  vq->state[i].writable_bytes, vq->state[i].indirect ? ", indirect" : "");
}
