/*
 * The simulated device's packed ring (virtio 1.2, 2.8; see virtio_sim.h):
 * it follows the driver with its own wrap counters, takes and checks each
 * chain, writes used descriptors in completion order, and decides kicks and
 * interrupts from the two event suppression structures.
 */
#include <stdlib.h>

#include "tests/unit/virtio_sim_ring.h"

void sim_packed_init(struct sim *s, void *ring)
{
    vring_packed_init(&s->pr, s->num, ring);
    s->avail_pos = s->used_pos = 0;
    s->avail_wrap = s->used_wrap = VRING_PACKED_WRAP_INITIAL;
}

static void sim_packed_advance(const struct sim *s, uint16_t *pos, bool *wrap, unsigned n)
{
    unsigned next = *pos + n;
    while (next >= s->num) {
        next -= s->num;
        *wrap = !*wrap;
    }
    *pos = (uint16_t)next;
}

static struct vring_packed_desc sim_packed_read(const struct sim *s, uint16_t pos)
{
    const volatile struct vring_packed_desc *v = &s->pr.desc[pos];
    return (struct vring_packed_desc){ v->addr, v->len, v->id, v->flags };
}

/* The table an INDIRECT descriptor points at: consecutive entries, WRITE the
 * only flag allowed in them, their ids reserved (2.8.7). */
static bool sim_packed_walk_table(struct sim *s, struct sim_chain *c, uint16_t id, const struct vring_packed_desc *d)
{
    if (d->len == 0 || d->len % sizeof(struct vring_packed_desc)) {
        sim_fail(s, "chain %u: indirect table length %u is not a positive multiple of 16", id, d->len);
        return false;
    }
    unsigned entries = d->len / sizeof(struct vring_packed_desc);
    const volatile struct vring_packed_desc *table = (const volatile struct vring_packed_desc *)(uintptr_t)d->addr;
    c->indirect = true;
    c->table_addr = d->addr;
    c->table_len = d->len;
    for (unsigned j = 0; j < entries; j++) {
        uint16_t flags = table[j].flags;
        if (flags & ~VRING_DESC_F_WRITE) {
            sim_fail(s, "chain %u: indirect entry %u has flags 0x%x (only WRITE is allowed)", id, j, flags);
            return false;
        }
        if (!sim_add_buf(s, c, id, table[j].addr, table[j].len, flags & VRING_DESC_F_WRITE))
            return false;
    }
    return true;
}

/* Takes the chain whose head is at the device's position, if it is
 * available: every descriptor of it available in its own lap, one buffer id
 * throughout, INDIRECT only alone (2.8.6, 2.8.7). A malformed chain is an
 * error, and the device moves past what it read. */
bool sim_packed_take_one(struct sim *s)
{
    uint16_t pos = s->avail_pos;
    bool wrap = s->avail_wrap;
    if (!vring_packed_is_avail(READ16(&s->pr.desc[pos].flags), wrap))
        return false;
    SIM_RMB(); /* the rest of the chain only after its head's flags */
    struct vring_packed_desc head = sim_packed_read(s, pos);
    uint16_t id = head.id;
    unsigned descs = 0;
    bool ok = true;
    if (id >= s->num) {
        sim_fail(s, "buffer id %u out of range (size %u) at descriptor %u", id, s->num, pos);
        ok = false;
    } else if (s->chains[id].in_flight) {
        sim_fail(s, "buffer id %u made available again while in flight", id);
        ok = false;
    }
    struct sim_chain *c = ok ? &s->chains[id] : NULL;
    if (c)
        sim_chain_begin(c);
    while (ok) {
        struct vring_packed_desc d = sim_packed_read(s, pos);
        if (descs > 0 && !vring_packed_is_avail(d.flags, wrap)) {
            sim_fail(s, "chain %u: descriptor %u (flags 0x%x) is not available in the lap of wrap counter %u", id,
                     pos, d.flags, wrap);
            ok = false;
            break;
        }
        if (d.id != id) {
            sim_fail(s, "chain %u: descriptor %u carries buffer id %u", id, pos, d.id);
            ok = false;
            break;
        }
        descs++;
        sim_packed_advance(s, &pos, &wrap, 1);
        if (d.flags & VRING_DESC_F_INDIRECT) {
            if (!s->indirect) {
                sim_fail(s, "chain %u: INDIRECT without the feature", id);
                ok = false;
            } else if (descs != 1 || (d.flags & VRING_DESC_F_NEXT)) {
                sim_fail(s, "chain %u: INDIRECT in a chain of several descriptors", id);
                ok = false;
            } else {
                ok = sim_packed_walk_table(s, c, id, &d);
            }
            break;
        }
        if (!sim_add_buf(s, c, id, d.addr, d.len, d.flags & VRING_DESC_F_WRITE)) {
            ok = false;
            break;
        }
        if (!(d.flags & VRING_DESC_F_NEXT))
            break;
        if (descs == s->num) {
            sim_fail(s, "chain %u: more than %u descriptors", id, s->num);
            ok = false;
            break;
        }
    }
    /* On an error, step over at least the head, so a bad chain is not taken forever. */
    sim_packed_advance(s, &s->avail_pos, &s->avail_wrap, descs ? descs : 1);
    if (!ok)
        return true;
    c->ring_descs = (uint16_t)descs;
    sim_chain_taken(s, id);
    return true;
}

void sim_packed_ask_kick(struct sim *s)
{
    sim_packed_set_device_event(s, vring_packed_off_wrap(s->avail_pos, s->avail_wrap), VRING_PACKED_EVENT_FLAG_DESC);
}

void sim_packed_put_used(struct sim *s, uint16_t id, uint32_t len)
{
    const struct sim_chain *c = &s->chains[id];
    s->pending[s->npending++] = (struct sim_pending){ id, len, c->ring_descs, c->writable_bytes > 0 };
}

/* Writes the pending used descriptors, each at the device's position, which
 * moves on by that chain's length; the first of the batch is made visible
 * last, so the driver never sees part of it (2.8.12, as QEMU does). Then
 * the interrupt decision of 2.8.10. */
bool sim_packed_flush(struct sim *s)
{
    uint16_t first_pos = s->used_pos, first_flags = 0;
    for (unsigned i = 0; i < s->npending; i++) {
        const struct sim_pending *p = &s->pending[i];
        volatile struct vring_packed_desc *d = &s->pr.desc[s->used_pos];
        d->id = p->id;
        d->len = p->len;
        uint16_t flags = (uint16_t)(vring_packed_used_flags(s->used_wrap) | (p->wrote ? VRING_DESC_F_WRITE : 0));
        if (i == 0) {
            first_flags = flags;
        } else {
            SIM_WMB();
            d->flags = flags;
        }
        sim_packed_advance(s, &s->used_pos, &s->used_wrap, p->descs);
        s->used_descs += p->descs;
    }
    if (s->npending) {
        SIM_WMB();
        WRITE16(&s->pr.desc[first_pos].flags, first_flags);
    }
    s->npending = 0;
    SIM_MB(); /* the descriptors out before reading what the driver asked for */
    unsigned long advanced = s->used_descs - s->signalled_descs;
    s->signalled_descs = s->used_descs;
    struct vring_packed_event e = sim_packed_driver_event(s);
    switch (e.flags) {
    case VRING_PACKED_EVENT_FLAG_ENABLE:
        return true;
    case VRING_PACKED_EVENT_FLAG_DISABLE:
        return false;
    case VRING_PACKED_EVENT_FLAG_DESC:
        if (!s->event_idx) {
            sim_fail(s, "driver event flags DESC without EVENT_IDX");
            return true;
        }
        if (advanced > s->num)
            return true; /* more than a lap: the event was passed for sure */
        return vring_packed_need_event(s->num, e.off_wrap, s->used_pos, s->used_wrap, (uint16_t)advanced);
    default:
        sim_fail(s, "driver event flags 0x%x: reserved", e.flags);
        return true;
    }
}

void sim_packed_set_no_notify(struct sim *s, bool no_notify)
{
    WRITE16(&s->pr.device->flags, no_notify ? VRING_PACKED_EVENT_FLAG_DISABLE : VRING_PACKED_EVENT_FLAG_ENABLE);
}

void sim_packed_set_device_event(struct sim *s, uint16_t off_wrap, uint16_t flags)
{
    /* One store, as a device updates it, so the driver never reads half of it. */
    *(volatile uint32_t *)s->pr.device = (uint32_t)off_wrap | (uint32_t)flags << 16;
    SIM_MB();
}

struct vring_packed_event sim_packed_driver_event(const struct sim *s)
{
    return (struct vring_packed_event){ READ16(&s->pr.driver->off_wrap), READ16(&s->pr.driver->flags) };
}

void sim_packed_evil_write(struct sim *s, uint16_t slot, uint16_t id, uint32_t len, uint16_t flags)
{
    volatile struct vring_packed_desc *d = &s->pr.desc[slot % s->num];
    d->id = id;
    d->len = len;
    SIM_WMB();
    d->flags = flags;
    SIM_MB();
}

void sim_packed_evil_push_used(struct sim *s, uint32_t id, uint32_t len)
{
    uint16_t descs = id < s->num && s->chains[id].in_flight ? s->chains[id].ring_descs : 1;
    sim_packed_evil_write(s, s->used_pos, (uint16_t)id, len,
                          (uint16_t)(vring_packed_used_flags(s->used_wrap) | VRING_DESC_F_WRITE));
    sim_packed_advance(s, &s->used_pos, &s->used_wrap, descs);
}
