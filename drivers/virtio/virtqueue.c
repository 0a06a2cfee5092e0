#include "drivers/virtio/virtqueue.h"

#include <stdarg.h>

#include "arch/x86_64/barrier.h"
#include "lib/errno.h"
#include "lib/printf.h"
#include "lib/string.h"

/* Ends the free list; can never be a descriptor index (queues hold at most 1024). */
#define VQ_NO_DESC 0xFFFF

#define READ_ONCE16(p) (*(const volatile uint16_t *)(p))
#define READ_ONCE32(p) (*(const volatile uint32_t *)(p))
#define WRITE_ONCE16(p, v) (*(volatile uint16_t *)(p) = (v))

static bool vq_ring_valid_index(const struct virtqueue *vq, uint32_t i)
{
    return i < vq->vring.num;
}

/* Marks the queue broken and says why, once. */
__attribute__((format(printf, 2, 3))) static void vq_ring_break(struct virtqueue *vq, const char *fmt, ...)
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

uint64_t virtqueue_ring_bytes(uint16_t num)
{
    return vring_size(num);
}

int virtqueue_init(struct virtqueue *vq, const char *name, uint16_t index, uint16_t num, void *ring,
                   bool event_idx, bool indirect, const struct virtqueue_env *env)
{
    memset(vq, 0, sizeof(*vq));
    if (num == 0 || num > VIRTQUEUE_MAX_SIZE || (num & (num - 1)) || !ring || ((uintptr_t)ring % VRING_LEGACY_ALIGN))
        return -EINVAL;
    snprintf(vq->name, sizeof(vq->name), "%s", name);
    vq->index = index;
    vq->env = *env;
    vq->event_idx = event_idx;
    vq->indirect = indirect;
    vring_init(&vq->vring, num, ring);
    vq->state = env->alloc(sizeof(struct vq_desc_state) * num);
    if (vq->state)
        memset(vq->state, 0, sizeof(struct vq_desc_state) * num); /* before destroy could read it */
    vq->next_shadow = env->alloc(sizeof(uint16_t) * num);
    if (!vq->next_shadow || !vq->state) {
        virtqueue_destroy(vq);
        return -ENOMEM;
    }
    for (uint16_t i = 0; i < num; i++)
        vq->next_shadow[i] = (uint16_t)(i + 1 < num ? i + 1 : VQ_NO_DESC);
    vq->free_head = 0;
    vq->num_free = num;
    return 0;
}

void virtqueue_destroy(struct virtqueue *vq)
{
    if (vq->state)
        for (uint16_t i = 0; i < vq->vring.num; i++)
            if (vq->state[i].indirect)
                vq->env.free(vq->state[i].indirect);
    if (vq->next_shadow)
        vq->env.free(vq->next_shadow);
    if (vq->state)
        vq->env.free(vq->state);
    vq->next_shadow = NULL;
    vq->state = NULL;
}

static uint16_t sg_flags(unsigned i, unsigned out_count, unsigned total)
{
    uint16_t flags = i + 1 < total ? VRING_DESC_F_NEXT : 0;
    if (i >= out_count)
        flags |= VRING_DESC_F_WRITE;
    return flags;
}

int virtqueue_add(struct virtqueue *vq, const struct vq_sg *sg, unsigned out_count, unsigned in_count, void *token)
{
    if (vq->broken)
        return -EIO;
    /* Each count first, so their sum cannot wrap. */
    if (out_count > VIRTQUEUE_MAX_SIZE || in_count > VIRTQUEUE_MAX_SIZE || !token)
        return -EINVAL;
    unsigned total = out_count + in_count;
    /* No chain longer than the queue, indirect or not (virtio 1.2, 2.7.5.3.1). */
    if (total == 0 || total > vq->vring.num)
        return -EINVAL;
    /* A chain is at most 2^32 bytes in all (virtio 1.2, 2.7.5); written bytes
     * are reported in 32 bits. */
    uint64_t chain_bytes = 0, writable64 = 0;
    for (unsigned i = 0; i < total; i++) {
        chain_bytes += sg[i].len;
        if (i >= out_count)
            writable64 += sg[i].len;
    }
    if (chain_bytes > UINT32_MAX)
        return -EINVAL;

    if (vq->num_free == 0) {
        vq->stats.full++;
        return -ENOSPC;
    }
    struct vring_desc *table = NULL;
    if (vq->indirect && total > 1)
        table = vq->env.alloc(sizeof(struct vring_desc) * total); /* on failure: a direct chain */
    unsigned needed = table ? 1 : total;
    if (vq->num_free < needed) {
        vq->stats.full++;
        return -ENOSPC; /* only a direct chain can get here: no table to free */
    }

    uint32_t writable = (uint32_t)writable64;

    uint16_t head = vq->free_head;
    if (table) {
        for (unsigned i = 0; i < total; i++)
            table[i] = (struct vring_desc){ sg[i].addr, sg[i].len, sg_flags(i, out_count, total), (uint16_t)(i + 1) };
        vq->vring.desc[head] = (struct vring_desc){ (uint64_t)(uintptr_t)table,
                                                    (uint32_t)(sizeof(struct vring_desc) * total),
                                                    VRING_DESC_F_INDIRECT, 0 };
        vq->free_head = vq->next_shadow[head];
        vq->stats.indirect++;
    } else {
        uint16_t i = head;
        for (unsigned k = 0; k < total; k++) {
            vq->vring.desc[i] = (struct vring_desc){ sg[k].addr, sg[k].len, sg_flags(k, out_count, total),
                                                     vq->next_shadow[i] };
            i = vq->next_shadow[i];
        }
        vq->free_head = i;
    }
    vq->num_free = (uint16_t)(vq->num_free - needed);
    vq->state[head] = (struct vq_desc_state){ token, (uint16_t)needed, writable, table };
    vq->chains_in_flight++;

    /* The descriptors and the ring entry must be visible before the index that publishes them. */
    vq->vring.avail->ring[vq->avail_idx & (vq->vring.num - 1)] = head;
    dma_wmb();
    vq->avail_idx++;
    WRITE_ONCE16(&vq->vring.avail->idx, vq->avail_idx);
    vq->num_added++;
    vq->stats.added++;
    /* The kick decision compares 16-bit indices: never let a batch reach 2^16. */
    if (vq->num_added == 0xFFFF)
        virtqueue_kick(vq);
    return 0;
}

bool virtqueue_kick_prepare(struct virtqueue *vq)
{
    /* Publish the new index before reading what the device asked for. */
    dma_mb();
    uint16_t new_idx = vq->avail_idx;
    uint16_t old_idx = (uint16_t)(new_idx - vq->num_added);
    vq->num_added = 0;
    bool needed;
    if (vq->event_idx)
        needed = vring_need_event(READ_ONCE16(vring_avail_event(&vq->vring)), new_idx, old_idx);
    else
        needed = !(READ_ONCE16(&vq->vring.used->flags) & VRING_USED_F_NO_NOTIFY);
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
    return !vq->broken && vq->last_used_idx != READ_ONCE16(&vq->vring.used->idx);
}

/* Returns a chain to the free list along our shadow links (never the device-visible ones). */
static void *vq_ring_detach(struct virtqueue *vq, uint16_t head)
{
    struct vq_desc_state *st = &vq->state[head];
    uint16_t last = head;
    for (uint16_t k = 1; k < st->descs; k++)
        last = vq->next_shadow[last];
    vq->next_shadow[last] = vq->free_head;
    vq->free_head = head;
    vq->num_free = (uint16_t)(vq->num_free + st->descs);
    vq->chains_in_flight--;
    if (st->indirect)
        vq->env.free(st->indirect);
    void *token = st->token;
    *st = (struct vq_desc_state){ 0 };
    return token;
}

void *virtqueue_get_buf(struct virtqueue *vq, uint32_t *len)
{
    if (vq->broken)
        return NULL;
    uint16_t used_idx = READ_ONCE16(&vq->vring.used->idx);
    if (used_idx == vq->last_used_idx)
        return NULL;
    if ((uint16_t)(used_idx - vq->last_used_idx) > vq->chains_in_flight) {
        vq_ring_break(vq, "used index %u is %u ahead of %u, but only %u chains are in flight", used_idx,
                      (uint16_t)(used_idx - vq->last_used_idx), vq->last_used_idx, vq->chains_in_flight);
        return NULL;
    }
    /* Read the entry only after the index that says it is there. */
    dma_rmb();
    const struct vring_used_elem *e = &vq->vring.used->ring[vq->last_used_idx & (vq->vring.num - 1)];
    uint32_t id = READ_ONCE32(&e->id), written = READ_ONCE32(&e->len);
    if (!vq_ring_valid_index(vq, id)) {
        vq_ring_break(vq, "used id %u out of range (queue size %u)", id, vq->vring.num);
        return NULL;
    }
    if (!vq->state[id].token) {
        vq_ring_break(vq, "used id %u is not the head of a chain in flight", id);
        return NULL;
    }
    if (written > vq->state[id].writable_bytes) {
        vq_ring_break(vq, "used id %u reports %u bytes written, only %u were writable", id, written,
                      vq->state[id].writable_bytes);
        return NULL;
    }
    vq->last_used_idx++;
    /* With EVENT_IDX and callbacks on, ask for an interrupt after the next completion. */
    if (vq->event_idx && !vq->callbacks_disabled) {
        WRITE_ONCE16(vring_used_event(&vq->vring), vq->last_used_idx);
        dma_mb();
    }
    vq->stats.completed++;
    *len = written;
    return vq_ring_detach(vq, (uint16_t)id);
}

void virtqueue_disable_cb(struct virtqueue *vq)
{
    if (vq->callbacks_disabled)
        return;
    vq->callbacks_disabled = true;
    if (vq->event_idx)
        /* Flags must stay 0 under EVENT_IDX (virtio 1.2, 2.7.10): instead put
         * the event index where the used index just was, so the device would
         * only interrupt after a full 2^16 lap; polling resets it long before. */
        WRITE_ONCE16(vring_used_event(&vq->vring), (uint16_t)(vq->last_used_idx - 1));
    else
        WRITE_ONCE16(&vq->vring.avail->flags, VRING_AVAIL_F_NO_INTERRUPT);
}

uint16_t virtqueue_enable_cb_prepare(struct virtqueue *vq)
{
    vq->callbacks_disabled = false;
    if (vq->event_idx)
        WRITE_ONCE16(vring_used_event(&vq->vring), vq->last_used_idx);
    else
        WRITE_ONCE16(&vq->vring.avail->flags, 0);
    return vq->last_used_idx;
}

bool virtqueue_poll(struct virtqueue *vq, uint16_t last_used)
{
    /* Our re-enable must be visible before we look for completions, or a
     * completion in between could be missed by both sides (the lost wake-up). */
    dma_mb();
    return !vq->broken && last_used != READ_ONCE16(&vq->vring.used->idx);
}

bool virtqueue_enable_cb(struct virtqueue *vq)
{
    return !virtqueue_poll(vq, virtqueue_enable_cb_prepare(vq));
}

bool virtqueue_enable_cb_delayed(struct virtqueue *vq)
{
    if (!vq->event_idx)
        return virtqueue_enable_cb(vq); /* the flag can only say "every completion" */
    vq->callbacks_disabled = false;
    uint16_t bufs = (uint16_t)(vq->chains_in_flight * 3 / 4);
    WRITE_ONCE16(vring_used_event(&vq->vring), (uint16_t)(vq->last_used_idx + bufs));
    /* As in virtqueue_poll: the event index out before looking at the used index. */
    dma_mb();
    return !vq->broken && (uint16_t)(READ_ONCE16(&vq->vring.used->idx) - vq->last_used_idx) <= bufs;
}

void *virtqueue_detach_unused(struct virtqueue *vq)
{
    for (uint16_t i = 0; i < vq->vring.num; i++) {
        if (vq->state[i].token) {
            /* The device is reset: the chain is ours again. Unpublish nothing;
             * the ring is re-initialised before reuse. */
            return vq_ring_detach(vq, i);
        }
    }
    return NULL;
}

int virtqueue_reset(struct virtqueue *vq)
{
    if (vq->chains_in_flight)
        return -EBUSY;
    memset(vq->vring.desc, 0, vring_size(vq->vring.num));
    for (uint16_t i = 0; i < vq->vring.num; i++)
        vq->next_shadow[i] = (uint16_t)(i + 1 < vq->vring.num ? i + 1 : VQ_NO_DESC);
    vq->free_head = 0;
    vq->num_free = vq->vring.num;
    vq->avail_idx = vq->num_added = vq->last_used_idx = 0;
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

void virtqueue_dump(const struct virtqueue *vq, void (*print)(const char *fmt, ...))
{
    print("virtqueue %s (index %u): size %u, free %u, chains in flight %u, free_head %u, avail_idx %u "
          "(device sees %u), last_used %u (device at %u)\n",
          vq->name, vq->index, vq->vring.num, vq->num_free, vq->chains_in_flight, vq->free_head, vq->avail_idx,
          READ_ONCE16(&vq->vring.avail->idx), vq->last_used_idx, READ_ONCE16(&vq->vring.used->idx));
    print("  event_idx %d indirect %d broken %d callbacks %s avail.flags 0x%x used.flags 0x%x used_event %u "
          "avail_event %u\n",
          vq->event_idx, vq->indirect, vq->broken, vq->callbacks_disabled ? "off" : "on",
          READ_ONCE16(&vq->vring.avail->flags), READ_ONCE16(&vq->vring.used->flags),
          READ_ONCE16(vring_used_event(&vq->vring)), READ_ONCE16(vring_avail_event(&vq->vring)));
    print("  added %llu completed %llu kicks %llu skipped %llu full %llu indirect %llu\n",
          (unsigned long long)vq->stats.added, (unsigned long long)vq->stats.completed,
          (unsigned long long)vq->stats.kicks, (unsigned long long)vq->stats.kicks_skipped,
          (unsigned long long)vq->stats.full, (unsigned long long)vq->stats.indirect);
    for (uint16_t i = 0; i < vq->vring.num; i++)
        if (vq->state[i].token)
            print("  in flight: head %u, %u desc(s), %u writable bytes%s\n", i, vq->state[i].descs,
                  vq->state[i].writable_bytes, vq->state[i].indirect ? ", indirect" : "");
}
