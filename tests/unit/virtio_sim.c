/*
 * The simulated virtio device (see virtio_sim.h). It plays by the rules of
 * virtio 1.2, 2.7 from the device's side and checks that the driver does too.
 */
#include "tests/unit/virtio_sim.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The largest queue the sim handles (the driver's VIRTQUEUE_MAX_SIZE). */
#define SIM_MAX_QUEUE 1024

/* Accesses to memory the driver shares with us: never cached, never merged. */
#define READ16(p) (*(const volatile uint16_t *)(p))
#define WRITE16(p, v) (*(volatile uint16_t *)(p) = (uint16_t)(v))
/* The device runs "elsewhere": order its accesses as the spec asks a device to. */
#define SIM_MB() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define SIM_WMB() __atomic_thread_fence(__ATOMIC_RELEASE)
#define SIM_RMB() __atomic_thread_fence(__ATOMIC_ACQUIRE)

/* Records a protocol violation by the driver (the first one word for word).
 * Formatted by libc, so the sim does not lean on the kernel's printf. */
__attribute__((format(printf, 2, 3))) static void sim_fail(struct sim *s, const char *fmt, ...)
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

void sim_init(struct sim *s, void *ring, uint16_t num, bool event_idx, bool indirect)
{
    memset(s, 0, sizeof(*s));
    vring_init(&s->vr, num, ring);
    s->event_idx = event_idx;
    s->indirect = indirect;
    s->auto_avail_event = true;
    s->chains = calloc(num, sizeof(*s->chains));
    s->owner = malloc(sizeof(*s->owner) * num);
    s->order = malloc(sizeof(*s->order) * num);
    if (!s->chains || !s->owner || !s->order)
        abort();
    for (unsigned i = 0; i < num; i++)
        s->owner[i] = SIM_DESC_FREE;
}

void sim_destroy(struct sim *s)
{
    free(s->chains);
    free(s->owner);
    free(s->order);
    s->chains = NULL;
    s->owner = NULL;
    s->order = NULL;
}

/* One buffer of the chain being taken: readable ones must all come first
 * (2.7.4.2), and the device reads them, as it would to transmit them. */
static bool sim_add_buf(struct sim *s, struct sim_chain *c, uint16_t head, uint64_t addr, uint32_t len, bool writable)
{
    if (c->nbufs == SIM_MAX_CHAIN) {
        sim_fail(s, "chain %u: more than %u buffers", head, SIM_MAX_CHAIN);
        return false;
    }
    /* Readable after writable is refused, so a writable one anywhere makes the last one writable. */
    if (!writable && c->nbufs && c->bufs[c->nbufs - 1].writable) {
        sim_fail(s, "chain %u: readable buffer %u after a writable one", head, c->nbufs);
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

/* Walks an indirect table: entries reached through NEXT from entry 0, each
 * inside the table, no nested tables, no loops (2.7.5.3). */
static bool sim_walk_table(struct sim *s, struct sim_chain *c, uint16_t head, const struct vring_desc *d)
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
static bool sim_walk_chain(struct sim *s, struct sim_chain *c, uint16_t head, uint16_t *ids)
{
    uint16_t num = s->vr.num;
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
            return sim_walk_table(s, c, head, &d);
        }
        if (!sim_add_buf(s, c, head, d.addr, d.len, d.flags & VRING_DESC_F_WRITE))
            return false;
        if (!(d.flags & VRING_DESC_F_NEXT))
            return true;
        i = d.next;
    }
}

/* Takes the next available chain, if any: index first, then the entry (2.7.13). */
static bool sim_take_one(struct sim *s)
{
    uint16_t num = s->vr.num;
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
    /* Reset the header only: bufs[] is large and overwritten as needed. */
    c->indirect = false;
    c->table_addr = 0;
    c->table_len = 0;
    c->ring_descs = 0;
    c->nbufs = 0;
    c->readable_bytes = 0;
    c->writable_bytes = 0;
    c->read_sum = 0;
    uint16_t ids[SIM_MAX_QUEUE];
    if (num > SIM_MAX_QUEUE)
        abort();
    if (!sim_walk_chain(s, c, head, ids))
        return true;
    for (unsigned k = 0; k < c->ring_descs; k++)
        s->owner[ids[k]] = head;
    c->in_flight = true;
    s->order[s->in_flight++] = head;
    s->taken++;
    return true;
}

unsigned sim_take_all(struct sim *s)
{
    unsigned before = s->taken;
    while (sim_take_one(s))
        ;
    if (s->event_idx && s->auto_avail_event) {
        /* Kick me as soon as you publish anything past what I took. */
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

const struct sim_chain *sim_chain(const struct sim *s, uint16_t head)
{
    if (head >= s->vr.num || !s->chains[head].in_flight)
        return NULL;
    return &s->chains[head];
}

uint16_t sim_in_flight_head(const struct sim *s, unsigned i)
{
    return i < s->in_flight ? s->order[i] : SIM_DESC_FREE;
}

/* Fills the chain's writable buffers, in order, with len bytes of a pattern. */
static void sim_write_data(struct sim_chain *c, uint16_t head, uint32_t len)
{
    for (unsigned k = 0; k < c->nbufs && len; k++) {
        if (!c->bufs[k].writable)
            continue;
        uint32_t n = c->bufs[k].len < len ? c->bufs[k].len : len;
        memset((void *)(uintptr_t)c->bufs[k].addr, 0xA5 ^ (head & 0xFF), n);
        len -= n;
    }
}

void sim_put_used(struct sim *s, uint16_t head, uint32_t len)
{
    uint16_t num = s->vr.num;
    struct sim_chain *c = head < num ? &s->chains[head] : NULL;
    if (!c || !c->in_flight) {
        sim_fail(s, "asked to complete chain %u, which the device does not hold", head);
        return;
    }
    if (len > c->writable_bytes) {
        sim_fail(s, "asked to report %u bytes for chain %u, which has %llu writable", len, head,
                 (unsigned long long)c->writable_bytes);
        return;
    }
    sim_write_data(c, head, len);
    SIM_WMB();
    struct vring_used_elem *e = &s->vr.used->ring[s->used_idx & (num - 1)];
    *(volatile uint32_t *)&e->id = head;
    *(volatile uint32_t *)&e->len = len;
    s->used_idx++;

    for (unsigned i = 0; i < num; i++)
        if (s->owner[i] == head)
            s->owner[i] = SIM_DESC_FREE;
    for (unsigned k = 0; k < s->in_flight; k++)
        if (s->order[k] == head) {
            memmove(&s->order[k], &s->order[k + 1], sizeof(s->order[0]) * (s->in_flight - k - 1));
            break;
        }
    s->in_flight--;
    c->in_flight = false;
    s->completed++;
}

/* Interrupt suppression from the device's side (2.7.7.2, 2.7.10.1). */
bool sim_flush(struct sim *s)
{
    SIM_WMB();
    WRITE16(&s->vr.used->idx, s->used_idx);
    SIM_MB(); /* the index out before reading what the driver asked for */
    bool fire;
    if (s->event_idx) {
        uint16_t old = s->signalled_used;
        s->signalled_used = s->used_idx;
        fire = vring_need_event(READ16(vring_used_event(&s->vr)), s->used_idx, old);
    } else {
        fire = !(READ16(&s->vr.avail->flags) & VRING_AVAIL_F_NO_INTERRUPT);
    }
    if (fire)
        s->interrupts++;
    return fire;
}

bool sim_complete(struct sim *s, uint16_t head, uint32_t len)
{
    sim_put_used(s, head, len);
    return sim_flush(s);
}

void sim_set_no_notify(struct sim *s, bool no_notify)
{
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
    struct vring_used_elem *e = &s->vr.used->ring[slot & (s->vr.num - 1)];
    *(volatile uint32_t *)&e->id = id;
    *(volatile uint32_t *)&e->len = len;
    SIM_WMB();
}

void sim_evil_push_used(struct sim *s, uint32_t id, uint32_t len)
{
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
