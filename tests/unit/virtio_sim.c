/*
 * The simulated virtio device (see virtio_sim.h): what both ring formats
 * share, the entry points, and the split ring (virtio 1.2, 2.7), played by
 * the rules from the device's side while checking that the driver plays by
 * them too. The packed ring is in virtio_sim_packed.c.
 */
#include "tests/unit/virtio_sim.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/virtio_sim_ring.h"

/* Formatted by libc, so the sim does not lean on the kernel's printf. */
void sim_fail(struct sim *s, const char *fmt, ...)
{
    s->errors++;
    if (s->errors > 1)
        return;
    FILE *f = fmemopen(s->error, sizeof(s->error), "w");
    if (!f)
        abort();
    va_list ap;
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fclose(f);
}

void sim_init(struct sim *s, void *ring, uint16_t num, uint64_t features)
{
    memset(s, 0, sizeof(*s));
    if (num > SIM_MAX_QUEUE)
        abort();
    s->num = num;
    s->packed = features & VIRTIO_F_RING_PACKED;
    s->event_idx = features & VIRTIO_F_RING_EVENT_IDX;
    s->indirect = features & VIRTIO_F_RING_INDIRECT_DESC;
    s->auto_avail_event = true;
    s->chains = calloc(num, sizeof(*s->chains));
    s->owner = malloc(sizeof(*s->owner) * num);
    s->order = malloc(sizeof(*s->order) * num);
    s->pending = malloc(sizeof(*s->pending) * num);
    if (!s->chains || !s->owner || !s->order || !s->pending)
        abort();
    for (unsigned i = 0; i < num; i++)
        s->owner[i] = SIM_DESC_FREE;
    if (s->packed)
        sim_packed_init(s, ring);
    else
        vring_init(&s->vr, num, ring);
}

void sim_destroy(struct sim *s)
{
    free(s->chains);
    free(s->owner);
    free(s->order);
    free(s->pending);
    s->chains = NULL;
    s->owner = NULL;
    s->order = NULL;
    s->pending = NULL;
}

/* Resets the header only: bufs[] is large and overwritten as needed. */
void sim_chain_begin(struct sim_chain *c)
{
    c->indirect = false;
    c->table_addr = 0;
    c->table_len = 0;
    c->ring_descs = 0;
    c->nbufs = 0;
    c->readable_bytes = 0;
    c->writable_bytes = 0;
    c->read_sum = 0;
}

/* Readable buffers must all come first (2.7.4.2, 2.8.18), and the device
 * reads them, as it would to transmit them. */
bool sim_add_buf(struct sim *s, struct sim_chain *c, uint16_t key, uint64_t addr, uint32_t len, bool writable)
{
    if (c->nbufs == SIM_MAX_CHAIN) {
        sim_fail(s, "chain %u: more than %u buffers", key, SIM_MAX_CHAIN);
        return false;
    }
    /* Readable after writable is refused, so a writable one anywhere makes the last one writable. */
    if (!writable && c->nbufs && c->bufs[c->nbufs - 1].writable) {
        sim_fail(s, "chain %u: readable buffer %u after a writable one", key, c->nbufs);
        return false;
    }
    c->bufs[c->nbufs++] = (struct sim_buf){ addr, len, writable };
    if (writable) {
        c->writable_bytes += len;
    } else {
        const volatile uint8_t *p = (const volatile uint8_t *)(uintptr_t)addr;
        for (uint32_t k = 0; k < len; k++)
            c->read_sum += p[k];
        c->readable_bytes += len;
    }
    return true;
}

void sim_chain_taken(struct sim *s, uint16_t key)
{
    s->chains[key].in_flight = true;
    s->order[s->in_flight++] = key;
    s->taken++;
}

void sim_write_data(struct sim_chain *c, uint16_t key, uint32_t len)
{
    for (unsigned k = 0; k < c->nbufs && len; k++) {
        if (!c->bufs[k].writable)
            continue;
        uint32_t n = c->bufs[k].len < len ? c->bufs[k].len : len;
        memset((void *)(uintptr_t)c->bufs[k].addr, 0xA5 ^ (key & 0xFF), n);
        len -= n;
    }
}

void sim_chain_done(struct sim *s, uint16_t key)
{
    for (unsigned k = 0; k < s->in_flight; k++)
        if (s->order[k] == key) {
            memmove(&s->order[k], &s->order[k + 1], sizeof(s->order[0]) * (s->in_flight - k - 1));
            break;
        }
    s->in_flight--;
    s->chains[key].in_flight = false;
    s->completed++;
}

/* ---- the split ring ---- */

/* Walks an indirect table: entries reached through NEXT from entry 0, each
 * inside the table, no nested tables, no loops (2.7.5.3). */
static bool sim_split_walk_table(struct sim *s, struct sim_chain *c, uint16_t head, const struct vring_desc *d)
{
    if (d->len == 0 || d->len % sizeof(struct vring_desc)) {
        sim_fail(s, "chain %u: indirect table length %u is not a positive multiple of 16", head, d->len);
        return false;
    }
    unsigned entries = d->len / sizeof(struct vring_desc);
    const volatile struct vring_desc *table = (const volatile struct vring_desc *)(uintptr_t)d->addr;
    c->indirect = true;
    c->table_addr = d->addr;
    c->table_len = d->len;
    unsigned j = 0, visited = 0;
    for (;;) {
        if (j >= entries) {
            sim_fail(s, "chain %u: indirect entry %u beyond the table's %u", head, j, entries);
            return false;
        }
        if (++visited > entries) {
            sim_fail(s, "chain %u: loop in the indirect table", head);
            return false;
        }
        struct vring_desc e = { table[j].addr, table[j].len, table[j].flags, table[j].next };
        if (e.flags & VRING_DESC_F_INDIRECT) {
            sim_fail(s, "chain %u: indirect entry %u is itself indirect", head, j);
            return false;
        }
        if (!sim_add_buf(s, c, head, e.addr, e.len, e.flags & VRING_DESC_F_WRITE))
            return false;
        if (!(e.flags & VRING_DESC_F_NEXT))
            return true;
        j = e.next;
    }
}

/* Walks a chain from its head through the ring's descriptor table. The ring
 * descriptors it holds are listed in ids[] (at most num: more means a loop). */
static bool sim_split_walk_chain(struct sim *s, struct sim_chain *c, uint16_t head, uint16_t *ids)
{
    uint16_t num = s->num;
    uint16_t i = head;
    for (;;) {
        if (i >= num) {
            sim_fail(s, "chain %u: descriptor index %u out of range (size %u)", head, i, num);
            return false;
        }
        if (c->ring_descs == num) {
            sim_fail(s, "chain %u: loop (or more than %u descriptors)", head, num);
            return false;
        }
        if (s->owner[i] != SIM_DESC_FREE) {
            sim_fail(s, "chain %u: descriptor %u still belongs to chain %u in flight", head, i, s->owner[i]);
            return false;
        }
        ids[c->ring_descs++] = i;
        const volatile struct vring_desc *v = &s->vr.desc[i];
        struct vring_desc d = { v->addr, v->len, v->flags, v->next };
        if (d.flags & VRING_DESC_F_INDIRECT) {
            if (!s->indirect) {
                sim_fail(s, "chain %u: INDIRECT without the feature", head);
                return false;
            }
            if (i != head) {
                sim_fail(s, "chain %u: INDIRECT on descriptor %u, not the head", head, i);
                return false;
            }
            if (d.flags & VRING_DESC_F_NEXT) {
                sim_fail(s, "chain %u: INDIRECT together with NEXT", head);
                return false;
            }
            return sim_split_walk_table(s, c, head, &d);
        }
        if (!sim_add_buf(s, c, head, d.addr, d.len, d.flags & VRING_DESC_F_WRITE))
            return false;
        if (!(d.flags & VRING_DESC_F_NEXT))
            return true;
        i = d.next;
    }
}

/* Takes the next available chain, if any: index first, then the entry (2.7.13). */
static bool sim_split_take_one(struct sim *s)
{
    uint16_t num = s->num;
    uint16_t avail_idx = READ16(&s->vr.avail->idx);
    if (avail_idx == s->last_avail_idx)
        return false;
    if ((uint16_t)(avail_idx - s->last_avail_idx) > num) {
        sim_fail(s, "avail->idx %u is %u past the %u taken: more than the queue size %u", avail_idx,
                 (uint16_t)(avail_idx - s->last_avail_idx), s->last_avail_idx, num);
        return false;
    }
    SIM_RMB();
    uint16_t head = READ16(&s->vr.avail->ring[s->last_avail_idx & (num - 1)]);
    s->last_avail_idx++;
    if (head >= num) {
        sim_fail(s, "available head %u out of range (size %u)", head, num);
        return true;
    }
    struct sim_chain *c = &s->chains[head];
    if (c->in_flight) {
        sim_fail(s, "head %u made available again while in flight", head);
        return true;
    }
    sim_chain_begin(c);
    uint16_t ids[SIM_MAX_QUEUE];
    if (!sim_split_walk_chain(s, c, head, ids))
        return true;
    for (unsigned k = 0; k < c->ring_descs; k++)
        s->owner[ids[k]] = head;
    sim_chain_taken(s, head);
    return true;
}

static void sim_split_put_used(struct sim *s, uint16_t head, uint32_t len)
{
    SIM_WMB();
    struct vring_used_elem *e = &s->vr.used->ring[s->used_idx & (s->num - 1)];
    *(volatile uint32_t *)&e->id = head;
    *(volatile uint32_t *)&e->len = len;
    s->used_idx++;
    for (unsigned i = 0; i < s->num; i++)
        if (s->owner[i] == head)
            s->owner[i] = SIM_DESC_FREE;
}

/* Interrupt suppression from the device's side (2.7.7.2, 2.7.10.1). */
static bool sim_split_flush(struct sim *s)
{
    SIM_WMB();
    WRITE16(&s->vr.used->idx, s->used_idx);
    SIM_MB(); /* the index out before reading what the driver asked for */
    if (s->event_idx) {
        uint16_t old = s->signalled_used;
        s->signalled_used = s->used_idx;
        return vring_need_event(READ16(vring_used_event(&s->vr)), s->used_idx, old);
    }
    return !(READ16(&s->vr.avail->flags) & VRING_AVAIL_F_NO_INTERRUPT);
}

/* ---- the entry points ---- */

unsigned sim_take_all(struct sim *s)
{
    unsigned before = s->taken;
    if (s->packed) {
        while (sim_packed_take_one(s))
            ;
    } else {
        while (sim_split_take_one(s))
            ;
    }
    if (s->event_idx && s->auto_avail_event) {
        /* Kick me as soon as you publish anything past what I took. */
        if (s->packed)
            sim_packed_ask_kick(s);
        else
            WRITE16(vring_avail_event(&s->vr), s->last_avail_idx);
        SIM_MB();
    }
    return (unsigned)(s->taken - before);
}

void sim_kick(struct sim *s)
{
    s->kicks++;
    sim_take_all(s);
}

const struct sim_chain *sim_chain(const struct sim *s, uint16_t key)
{
    if (key >= s->num || !s->chains[key].in_flight)
        return NULL;
    return &s->chains[key];
}

uint16_t sim_in_flight_head(const struct sim *s, unsigned i)
{
    return i < s->in_flight ? s->order[i] : SIM_DESC_FREE;
}

void sim_put_used(struct sim *s, uint16_t key, uint32_t len)
{
    struct sim_chain *c = key < s->num ? &s->chains[key] : NULL;
    if (!c || !c->in_flight) {
        sim_fail(s, "asked to complete chain %u, which the device does not hold", key);
        return;
    }
    if (len > c->writable_bytes) {
        sim_fail(s, "asked to report %u bytes for chain %u, which has %llu writable", len, key,
                 (unsigned long long)c->writable_bytes);
        return;
    }
    sim_write_data(c, key, len);
    if (s->packed)
        sim_packed_put_used(s, key, len);
    else
        sim_split_put_used(s, key, len);
    sim_chain_done(s, key);
}

bool sim_flush(struct sim *s)
{
    bool fire = s->packed ? sim_packed_flush(s) : sim_split_flush(s);
    if (fire)
        s->interrupts++;
    return fire;
}

bool sim_complete(struct sim *s, uint16_t key, uint32_t len)
{
    sim_put_used(s, key, len);
    return sim_flush(s);
}

void sim_set_no_notify(struct sim *s, bool no_notify)
{
    if (s->packed)
        sim_packed_set_no_notify(s, no_notify);
    else
        WRITE16(&s->vr.used->flags, no_notify ? VRING_USED_F_NO_NOTIFY : 0);
    SIM_MB();
}

void sim_set_avail_event(struct sim *s, uint16_t avail_event)
{
    WRITE16(vring_avail_event(&s->vr), avail_event);
    SIM_MB();
}

uint16_t sim_avail_event(const struct sim *s)
{
    return READ16(vring_avail_event(&s->vr));
}

uint16_t sim_used_event(const struct sim *s)
{
    return READ16(vring_used_event(&s->vr));
}

void sim_evil_write_used(struct sim *s, uint16_t slot, uint32_t id, uint32_t len)
{
    struct vring_used_elem *e = &s->vr.used->ring[slot & (s->num - 1)];
    *(volatile uint32_t *)&e->id = id;
    *(volatile uint32_t *)&e->len = len;
    SIM_WMB();
}

void sim_evil_push_used(struct sim *s, uint32_t id, uint32_t len)
{
    if (s->packed) {
        sim_packed_evil_push_used(s, id, len);
        return;
    }
    sim_evil_write_used(s, s->used_idx, id, len);
    s->used_idx++;
    WRITE16(&s->vr.used->idx, s->used_idx);
    SIM_MB();
}

void sim_evil_set_used_idx(struct sim *s, uint16_t idx)
{
    s->used_idx = idx;
    WRITE16(&s->vr.used->idx, idx);
    SIM_MB();
}
