/*
 * The packed ring's own contract (drivers/virtio/vq_packed.c, virtio 1.2,
 * 2.8), beyond what test_virtqueue.c runs in both formats: the layout and
 * sizes (any size, not only powers of two), descriptors as written (flags,
 * wrap bits across the end of the ring, one buffer id per chain, indirect
 * tables), buffer ids reused out of order, laps around odd-sized rings,
 * kick decisions against the device's event suppression (checked against
 * positions counted on without wrapping), interrupt suppression through the
 * driver's, and the defences only a packed ring needs (a used descriptor
 * with the wrong wrap bits, or with nothing in flight).
 */
#include <stdlib.h>
#include <string.h>

#include "drivers/virtio/virtqueue.h"
#include "lib/errno.h"
#include "tests/unit/check.h"
#include "tests/unit/virtio_sim.h"
#include "tests/unit/vq_rig.h"

#define PACKED VIRTIO_F_RING_PACKED
#define EV VIRTIO_F_RING_EVENT_IDX
#define IND VIRTIO_F_RING_INDIRECT_DESC

/* ---- layout and sizes ---- */

TEST(packed_ring_layout)
{
    /* 16 bytes a descriptor, then the driver's and the device's 4-byte event areas. */
    CHECK_EQ(virtqueue_ring_bytes(8, PACKED), 16 * 8 + 8);
    CHECK_EQ(virtqueue_ring_bytes(256, PACKED | EV), 4096 + 8);
    CHECK_EQ(virtqueue_ring_bytes(5, PACKED), 16 * 5 + 8);
    CHECK_EQ(virtqueue_ring_align(PACKED), 16);
    vq_set_context(PACKED);
    struct rig r;
    VCHECK_EQ(rig_init(&r, "layq", 5, PACKED), 0);
    uintptr_t base = (uintptr_t)r.ring;
    VCHECK_EQ(virtqueue_desc_addr(&r.vq), base);
    VCHECK_EQ(virtqueue_driver_addr(&r.vq), base + 16 * 5);
    VCHECK_EQ(virtqueue_device_addr(&r.vq), base + 16 * 5 + 4);
    VCHECK_EQ(virtqueue_device_addr(&r.vq) % 4, 0);
    VCHECK_EQ(virtqueue_size(&r.vq), 5);
    VCHECK_STR_EQ(virtqueue_format_name(&r.vq), "packed");
    /* The wrap counters start at 1 (2.8.1). */
    VCHECK(r.vq.packed.avail_wrap && r.vq.packed.used_wrap);
    VCHECK_EQ(r.vq.packed.next_avail, 0);
    VCHECK_EQ(r.vq.packed.last_used, 0);
    rig_destroy(&r);
    VCHECK_EQ(env_outstanding, 0);
}

TEST(packed_init_takes_any_size_and_checks_alignment)
{
    void *ring = aligned_alloc(4096, 32768);
    if (!ring)
        abort();
    memset(ring, 0, 32768);
    struct sim unused_sim;
    struct virtqueue_env env = env_for(&unused_sim);
    struct virtqueue vq;
    env_plan_failures(0, 0);
    static const uint16_t good[] = { 1, 2, 3, 5, 7, 100, 1000, 1023, 1024 };
    for (unsigned i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        CHECK_EQ(virtqueue_init(&vq, "anyq", 0, good[i], ring, PACKED | EV | IND, &env), 0);
        CHECK_EQ(virtqueue_free_count(&vq), good[i]);
        CHECK_STR_EQ(vq_bookkeeping_problem(&vq), NULL);
        virtqueue_destroy(&vq);
    }
    static const uint16_t bad[] = { 0, 1025, 4096, 0xFFFF };
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK_EQ(virtqueue_init(&vq, "badq", 0, bad[i], ring, PACKED, &env), -EINVAL);
        virtqueue_destroy(&vq);
    }
    /* The descriptor ring needs 16-byte alignment (2.8.10.1), no more. */
    CHECK_EQ(virtqueue_init(&vq, "alq", 0, 8, (char *)ring + 8, PACKED, &env), -EINVAL);
    CHECK_EQ(virtqueue_init(&vq, "alq", 0, 8, (char *)ring + 4, PACKED, &env), -EINVAL);
    CHECK_EQ(virtqueue_init(&vq, "alq", 0, 8, (char *)ring + 16, PACKED, &env), 0);
    virtqueue_destroy(&vq);
    CHECK_EQ(env_outstanding, 0);
    free(ring);
}

/* ---- descriptors as the driver writes them ---- */

/* The flags a descriptor made available in the lap of wrap counter `wrap` carries. */
static uint16_t avail_bits(bool wrap)
{
    return wrap ? VRING_PACKED_DESC_F_AVAIL : VRING_PACKED_DESC_F_USED;
}

TEST(packed_chain_descriptors_carry_flags_wrap_bits_and_one_id)
{
    for (int ev = 0; ev < 2; ev++) {
        uint64_t f = PACKED | (ev ? EV : 0);
        vq_set_context(f);
        struct rig r;
        VCHECK_EQ(rig_init(&r, "descq", 8, f), 0);
        /* 6 descriptors from 0, then a chain of 5 from 6: its last three lie past the end. */
        struct tok *a = tok_free();
        VCHECK_EQ(post(&r.vq, a, 3, 3, 1), 0);
        VCHECK(round_trip_all(&r));
        struct tok *t = tok_free();
        VCHECK_EQ(post(&r.vq, t, 2, 3, 2), 0);
        VCHECK_EQ(r.vq.packed.next_avail, 3);
        VCHECK(!r.vq.packed.avail_wrap);
        const struct vring_packed_desc *ring = r.vq.packed.vring.desc;
        uint16_t id = ring[6].id;
        for (unsigned k = 0; k < 5; k++) {
            unsigned pos = (6 + k) % 8;
            bool wrap = pos >= 6; /* lap 1 up to the end, then lap 2 */
            uint16_t want = avail_bits(wrap) | (k < 4 ? VRING_DESC_F_NEXT : 0) | (k >= 2 ? VRING_DESC_F_WRITE : 0);
            VCHECK_EQ(ring[pos].flags, want);
            VCHECK_EQ(ring[pos].id, id);
            VCHECK_EQ(ring[pos].addr, t->sg[k].addr);
            VCHECK_EQ(ring[pos].len, t->sg[k].len);
        }
        VCHECK(id < 8);
        virtqueue_kick(&r.vq);
        sim_take_all(&r.sim);
        const struct sim_chain *c = sim_chain(&r.sim, id);
        VCHECK(c && chain_matches(c, t) && c->ring_descs == 5 && !c->indirect);
        VCHECK(sim_complete(&r.sim, id, 7) || ev); /* callbacks on: an interrupt, or with EVENT_IDX maybe */
        uint32_t len = 0;
        VCHECK(virtqueue_get_buf(&r.vq, &len) == t);
        VCHECK_EQ(len, 7);
        VCHECK_EQ(r.vq.packed.last_used, 3);
        VCHECK(!r.vq.packed.used_wrap);
        VCHECK_EQ(r.sim.errors, 0);
        VCHECK_STR_EQ(r.sim.error, "");
        rig_destroy(&r);
        VCHECK_EQ(env_outstanding, 0);
    }
}

TEST(packed_indirect_table_layout)
{
    vq_set_context(PACKED | IND);
    struct rig r;
    VCHECK_EQ(rig_init(&r, "pindq", 8, PACKED | IND), 0);
    struct tok *t = tok_free();
    VCHECK_EQ(post(&r.vq, t, 2, 3, 4), 0);
    VCHECK_EQ(virtqueue_free_count(&r.vq), 7);
    VCHECK_EQ(r.vq.stats.indirect, 1);
    const struct vring_packed_desc *hd = &r.vq.packed.vring.desc[0];
    /* INDIRECT alone (WRITE is reserved there, 2.8.7), available in lap 1. */
    VCHECK_EQ(hd->flags, VRING_DESC_F_INDIRECT | VRING_PACKED_DESC_F_AVAIL);
    VCHECK_EQ(hd->len, 5 * sizeof(struct vring_packed_desc));
    /* The table: WRITE on the last three, no other flag. */
    const struct vring_packed_desc *table = (const struct vring_packed_desc *)(uintptr_t)hd->addr;
    for (unsigned i = 0; i < 5; i++) {
        VCHECK_EQ(table[i].flags, i >= 2 ? VRING_DESC_F_WRITE : 0);
        VCHECK_EQ(table[i].addr, t->sg[i].addr);
        VCHECK_EQ(table[i].len, t->sg[i].len);
    }
    virtqueue_kick(&r.vq);
    const struct sim_chain *c = sim_chain(&r.sim, hd->id);
    VCHECK(c && c->indirect && c->ring_descs == 1 && chain_matches(c, t));
    VCHECK_EQ(c ? c->table_addr : 0, hd->addr);
    /* A single buffer needs no table. */
    struct tok *single = tok_free();
    VCHECK_EQ(post(&r.vq, single, 0, 1, 9), 0);
    VCHECK_EQ(r.vq.packed.vring.desc[1].flags, VRING_DESC_F_WRITE | VRING_PACKED_DESC_F_AVAIL);
    VCHECK_EQ(env_outstanding, 2 + 1);
    VCHECK(round_trip_all(&r));
    VCHECK_EQ(env_outstanding, 2); /* the table went back */
    VCHECK_EQ(r.sim.errors, 0);
    VCHECK_STR_EQ(r.sim.error, "");
    rig_destroy(&r);
    VCHECK_EQ(env_outstanding, 0);
}

/* Buffer ids come from a free list, not from ring positions: completed out
 * of order, they are handed out again while older ones are still out. */
TEST(packed_buffer_ids_reused_out_of_order)
{
    vq_set_context(PACKED);
    struct rig r;
    VCHECK_EQ(rig_init(&r, "idq", 8, PACKED), 0);
    struct tok *t[4];
    uint16_t ids[4];
    for (unsigned i = 0; i < 4; i++) {
        t[i] = tok_free();
        VCHECK_EQ(post(&r.vq, t[i], 0, 1, i), 0);
        ids[i] = r.vq.packed.vring.desc[i].id;
        for (unsigned k = 0; k < i; k++)
            VCHECK(ids[k] != ids[i]);
    }
    virtqueue_kick(&r.vq);
    /* The third and the first complete; the second and fourth stay out. */
    sim_complete(&r.sim, ids[2], 1);
    sim_complete(&r.sim, ids[0], 1);
    uint32_t len;
    VCHECK(virtqueue_get_buf(&r.vq, &len) == t[2]);
    VCHECK(virtqueue_get_buf(&r.vq, &len) == t[0]);
    t[2]->in_flight = t[0]->in_flight = false;
    /* Two new chains get exactly the two freed ids. */
    struct tok *u[2];
    uint16_t new_ids[2];
    for (unsigned i = 0; i < 2; i++) {
        u[i] = tok_free();
        VCHECK_EQ(post(&r.vq, u[i], 1, 0, 5 + i), 0);
        new_ids[i] = r.vq.packed.vring.desc[4 + i].id;
    }
    VCHECK((new_ids[0] == ids[0] && new_ids[1] == ids[2]) || (new_ids[0] == ids[2] && new_ids[1] == ids[0]));
    VCHECK_STR_EQ(vq_bookkeeping_problem(&r.vq), NULL);
    virtqueue_kick(&r.vq);
    VCHECK_EQ(r.sim.in_flight, 4);
    VCHECK(round_trip_all(&r));
    VCHECK_EQ(r.sim.errors, 0);
    VCHECK_STR_EQ(r.sim.error, "");
    rig_destroy(&r);
    VCHECK_EQ(env_outstanding, 0);
}

/* Many laps around rings of odd sizes, chains of several descriptors
 * straddling the end, completed in random order and taken at random times. */
TEST(packed_laps_around_odd_sized_rings)
{
    static const uint16_t sizes[] = { 1, 3, 5, 7 };
    for (int combo = 4; combo < VQ_COMBOS; combo++) {
        uint64_t f = vq_combo(combo);
        vq_set_context(f);
        for (unsigned si = 0; si < 4; si++) {
            uint16_t num = sizes[si];
            struct rig r;
            static struct pending p;
            memset(&p, 0, sizeof(p));
            rng_seed(0x1A95 + (uint64_t)combo * 16 + si);
            VCHECK_EQ(rig_init(&r, "lapq", num, f), 0);
            unsigned long adds = 0;
            while (adds < 20000) {
                for (unsigned k = 1 + rng_below(4); k; k--) {
                    unsigned total = 1 + rng_below(num < 3 ? num : 3), out = rng_below(total + 1);
                    int rc = post(&r.vq, tok_free(), out, total - out, rng());
                    if (rc == -ENOSPC)
                        break;
                    LOOP_CHECK_EQ(rc, 0);
                    adds++;
                }
                virtqueue_kick(&r.vq);
                sim_take_all(&r.sim);
                for (unsigned k = rng_below(r.sim.in_flight + 1); k; k--)
                    LOOP_CHECK(device_complete(&r, &p, rng_below(r.sim.in_flight)));
                for (unsigned k = rng_below(p.count + 1); k; k--)
                    LOOP_CHECK(driver_take(&r, &p));
                LOOP_CHECK(vq_bookkeeping_problem(&r.vq) == NULL);
                LOOP_CHECK_EQ(virtqueue_free_count(&r.vq), expected_free(num));
                LOOP_CHECK_EQ(r.sim.errors, 0);
            }
            while (r.sim.in_flight)
                LOOP_CHECK(device_complete(&r, &p, 0));
            while (p.count)
                LOOP_CHECK(driver_take(&r, &p));
            VCHECK(driver_take(&r, &p));
            VCHECK_EQ(r.vq.stats.completed, adds);
            VCHECK_EQ(r.vq.packed.next_avail, r.sim.avail_pos);
            VCHECK_EQ(r.vq.packed.avail_wrap, r.sim.avail_wrap);
            VCHECK_EQ(r.vq.packed.last_used, r.sim.used_pos);
            VCHECK_EQ(r.vq.packed.used_wrap, r.sim.used_wrap);
            VCHECK(r.sim.used_descs >= adds);
            VCHECK(r.sim.used_descs / num >= 2000); /* thousands of laps */
            VCHECK_EQ(env_reports, 0);
        out:
            VCHECK_STR_EQ(r.sim.error, "");
            rig_destroy(&r);
            VCHECK_EQ(env_outstanding, 0);
        }
    }
}

/* ---- kicks: the Device Event Suppression structure ---- */

/* Where a descriptor position counted on without wrapping (lap * num +
 * offset) lies, as the device would write it in off_wrap: lap 0 has wrap 1. */
static uint16_t off_wrap_of(unsigned long linear, uint16_t num)
{
    unsigned long lap = linear / num;
    return vring_packed_off_wrap((uint16_t)(linear % num), lap % 2 == 0);
}

TEST(packed_kick_follows_device_event_across_laps)
{
    for (int ind = 0; ind < 2; ind++) {
        uint64_t f = PACKED | EV | (ind ? IND : 0);
        vq_set_context(f);
        struct rig r;
        rng_seed(0x6E7E + ind);
        uint16_t num = 7;
        VCHECK_EQ(rig_init(&r, "pevkq", num, f), 0);
        r.sim.auto_avail_event = false;
        unsigned long next = 0, kicks = 0, skips = 0;
        for (unsigned batch = 0; batch < 30000; batch++) {
            /* A batch of chains of one to three descriptors, never more than the ring. */
            unsigned long old = next;
            unsigned chains = 1 + rng_below(4);
            /* An event somewhere the device could put it: at most a lap behind. */
            unsigned long lo = old + 1 > num ? old + 1 - num : 0;
            unsigned long event = lo + rng_below((uint32_t)(old + 8 - lo));
            sim_packed_set_device_event(&r.sim, off_wrap_of(event, num), VRING_PACKED_EVENT_FLAG_DESC);
            for (unsigned k = 0; k < chains; k++) {
                unsigned total = 1 + rng_below(3), out = rng_below(total + 1);
                int rc = post(&r.vq, tok_free(), out, total - out, k);
                if (rc == -ENOSPC)
                    break;
                LOOP_CHECK_EQ(rc, 0);
            }
            next = old + (unsigned long)(num - virtqueue_free_count(&r.vq));
            bool want = event >= old && event < next;
            bool kicked = virtqueue_kick(&r.vq);
            LOOP_CHECK_EQ(kicked, want);
            kicks += want;
            skips += !want;
            LOOP_CHECK(round_trip_all(&r));
        }
        VCHECK_EQ(r.vq.stats.kicks, kicks);
        VCHECK_EQ(r.sim.kicks, kicks);
        VCHECK_EQ(r.vq.stats.kicks_skipped, skips);
        VCHECK(kicks > 3000 && skips > 3000); /* both outcomes, many times */
        VCHECK(next / num > 4000);            /* and many laps */
        VCHECK_EQ(r.sim.errors, 0);
    out:
        rig_destroy(&r);
        VCHECK_EQ(env_outstanding, 0);
    }
}

TEST(packed_kick_flags_enable_disable_and_odd_values)
{
    for (int ev = 0; ev < 2; ev++) {
        uint64_t f = PACKED | (ev ? EV : 0);
        vq_set_context(f);
        struct rig r;
        VCHECK_EQ(rig_init(&r, "pflq", 8, f), 0);
        r.sim.auto_avail_event = false;
        struct { uint16_t flags; bool kick; } cases[] = {
            { VRING_PACKED_EVENT_FLAG_ENABLE, true },
            { VRING_PACKED_EVENT_FLAG_DISABLE, false },
            { 0x3, true },                                           /* reserved: a spurious kick is allowed */
            { VRING_PACKED_EVENT_FLAG_DESC | 0x4, !ev },             /* upper bits reserved: DESC, event behind */
        };
        for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
            /* An event that is not among the next additions: only the flags decide, or DESC says no. */
            sim_packed_set_device_event(&r.sim, vring_packed_off_wrap(7, false), cases[i].flags);
            VCHECK(add_n(&r, 2));
            VCHECK_EQ(virtqueue_kick(&r.vq), cases[i].kick);
            VCHECK(round_trip_all(&r));
        }
        /* DESC without EVENT_IDX negotiated means nothing: kick. With it,
         * more than a lap of additions since the last decision: kick, the
         * positions no longer tell. */
        sim_packed_set_device_event(&r.sim, vring_packed_off_wrap(7, false), VRING_PACKED_EVENT_FLAG_DESC);
        VCHECK(add_n(&r, 2));
        VCHECK_EQ(virtqueue_kick(&r.vq), !ev);
        VCHECK(round_trip_all(&r));
        for (unsigned k = 0; k < 3; k++) {
            VCHECK(add_n(&r, 4));
            VCHECK(round_trip_all(&r)); /* a polling device; no kick decision yet */
        }
        VCHECK(virtqueue_kick(&r.vq));
        VCHECK_EQ(r.sim.errors, 0);
        rig_destroy(&r);
        VCHECK_EQ(env_outstanding, 0);
    }
}

/* ---- interrupts: the Driver Event Suppression structure ---- */

static struct vring_packed_event driver_event(const struct rig *r)
{
    return sim_packed_driver_event(&r->sim);
}

static void packed_interrupts_one(uint64_t f)
{
    bool ev = vq_ev(f);
    struct rig r;
    VCHECK_EQ(rig_init(&r, "pirqq", 5, f), 0);

    /* Callbacks on from the start (ENABLE): a completion interrupts. */
    VCHECK_EQ(driver_event(&r).flags, VRING_PACKED_EVENT_FLAG_ENABLE);
    uint16_t h0 = post_and_take(&r), h1 = post_and_take(&r), h2 = post_and_take(&r);
    VCHECK(sim_complete(&r.sim, h0, 1));
    VCHECK_EQ(r.sim.interrupts, 1);
    VCHECK_EQ(take_all(&r), 1);
    if (ev) /* interrupt me at the next used descriptor */
        VCHECK_EQ(driver_event(&r).off_wrap, vring_packed_off_wrap(1, true));

    /* Callbacks off: DISABLE in both modes (allowed with EVENT_IDX, 2.8.10),
     * no interrupt through thousands of completions and hundreds of laps. */
    virtqueue_disable_cb(&r.vq);
    VCHECK_EQ(driver_event(&r).flags, VRING_PACKED_EVENT_FLAG_DISABLE);
    VCHECK(!sim_complete(&r.sim, h1, 1));
    VCHECK(!sim_complete(&r.sim, h2, 1));
    for (unsigned i = 0; i < 3000; i++) {
        take_all(&r);
        uint16_t h = post_and_take(&r);
        LOOP_CHECK(h != SIM_DESC_FREE);
        LOOP_CHECK(!sim_complete(&r.sim, h, 1));
    }
    take_all(&r);
    VCHECK_EQ(r.sim.interrupts, 1);

    /* Re-enable: the mark is the driver's position and wrap counter. */
    uint16_t mark = virtqueue_enable_cb_prepare(&r.vq);
    VCHECK_EQ(mark, vring_packed_off_wrap(r.vq.packed.last_used, r.vq.packed.used_wrap));
    VCHECK_EQ(mark, vring_packed_off_wrap(r.sim.used_pos, r.sim.used_wrap));
    VCHECK_EQ(driver_event(&r).flags, ev ? VRING_PACKED_EVENT_FLAG_DESC : VRING_PACKED_EVENT_FLAG_ENABLE);
    if (ev)
        VCHECK_EQ(driver_event(&r).off_wrap, mark);
    VCHECK(!virtqueue_poll(&r.vq, mark));
    VCHECK(!virtqueue_has_used(&r.vq));

    /* The lost wake-up: a completion between prepare and poll must be seen. */
    uint16_t h = post_and_take(&r);
    mark = virtqueue_enable_cb_prepare(&r.vq);
    VCHECK(!virtqueue_poll(&r.vq, mark));
    VCHECK(sim_complete(&r.sim, h, 1)); /* callbacks on: the device interrupts too */
    VCHECK(virtqueue_poll(&r.vq, mark));
    VCHECK(virtqueue_has_used(&r.vq));
    take_all(&r);

    /* ... and one that came while callbacks were off, before prepare. */
    h = post_and_take(&r);
    virtqueue_disable_cb(&r.vq);
    unsigned long irqs = r.sim.interrupts;
    VCHECK(!sim_complete(&r.sim, h, 1));
    mark = virtqueue_enable_cb_prepare(&r.vq);
    VCHECK(virtqueue_poll(&r.vq, mark));
    VCHECK_EQ(r.sim.interrupts, irqs);
    take_all(&r);

    /* enable_cb: false while completions wait, true once they are taken. */
    h = post_and_take(&r);
    virtqueue_disable_cb(&r.vq);
    VCHECK(!sim_complete(&r.sim, h, 1));
    VCHECK(!virtqueue_enable_cb(&r.vq));
    VCHECK_EQ(take_all(&r), 1);
    VCHECK(virtqueue_enable_cb(&r.vq));

    /* With EVENT_IDX: an interrupt for the first completion after the
     * driver's position, none for the next while it has not caught up; each
     * get_buf moves the event on. Without: one for each. */
    uint16_t a = post_and_take(&r), b = post_and_take(&r);
    irqs = r.sim.interrupts;
    VCHECK(sim_complete(&r.sim, a, 1));
    VCHECK_EQ(sim_complete(&r.sim, b, 1), !ev);
    VCHECK_EQ(r.sim.interrupts, irqs + (ev ? 1 : 2));
    uint32_t len;
    VCHECK(virtqueue_get_buf(&r.vq, &len) != NULL);
    if (ev)
        VCHECK_EQ(driver_event(&r).off_wrap, vring_packed_off_wrap(r.vq.packed.last_used, r.vq.packed.used_wrap));
    VCHECK(virtqueue_get_buf(&r.vq, &len) != NULL);
    if (ev)
        VCHECK_EQ(driver_event(&r).off_wrap, vring_packed_off_wrap(r.vq.packed.last_used, r.vq.packed.used_wrap));
    VCHECK(sim_complete(&r.sim, post_and_take(&r), 1));
    VCHECK_EQ(r.sim.errors, 0);
    VCHECK_STR_EQ(r.sim.error, "");
out:
    rig_destroy(&r);
    VCHECK_EQ(env_outstanding, 0);
}

TEST(packed_interrupt_suppression)
{
    for (int combo = 4; combo < VQ_COMBOS; combo++) {
        vq_set_context(vq_combo(combo));
        packed_interrupts_one(vq_combo(combo));
    }
}

/* ---- defences only a packed ring needs ---- */

/* The device writes the driver's next descriptor with AVAIL and USED both
 * the inverse of the wrap counter (a used descriptor of the lap before), or
 * AVAIL inverse and USED right: with chains in flight, either is a lie. */
TEST(packed_breaks_on_used_descriptor_with_wrong_wrap_bits)
{
    static const uint16_t wrong[] = { 0, VRING_PACKED_DESC_F_USED };
    for (int combo = 4; combo < VQ_COMBOS; combo++) {
        vq_set_context(vq_combo(combo));
        for (unsigned v = 0; v < 2; v++) {
            struct guard g;
            guard_setup(&g, vq_combo(combo), false);
            sim_packed_evil_write(&g.r.sim, 0, g.ha, 0, wrong[v]);
            VCHECK(virtqueue_has_used(&g.r.vq)); /* get_buf has something to say */
            guard_expect_broken(&g, 0);
            VCHECK(strstr(env_report_text, "descriptor 0") && strstr(env_report_text, "wrong wrap"));
        }
        /* A lap later the wrap counter is 0 and a used descriptor has both
         * bits clear: both set, the pattern of lap 1, is now the lie. */
        struct guard g;
        guard_setup(&g, vq_combo(combo), false);
        for (unsigned i = 0; i < 64 && g.r.vq.packed.used_wrap; i++) {
            sim_complete(&g.r.sim, sim_in_flight_head(&g.r.sim, 0), 0);
            take_all(&g.r);
            post_and_take(&g.r);
        }
        VCHECK(!g.r.vq.packed.used_wrap);
        VCHECK_EQ(g.r.vq.chains_in_flight, 3);
        uint16_t pos = g.r.vq.packed.last_used;
        sim_packed_evil_write(&g.r.sim, pos, sim_in_flight_head(&g.r.sim, 0), 0,
                              VRING_PACKED_DESC_F_AVAIL | VRING_PACKED_DESC_F_USED);
        guard_expect_broken(&g, pos);
        VCHECK(strstr(env_report_text, "wrong wrap") && strstr(env_report_text, "wrap counter 0"));
    }
}

/* A descriptor marked used where the driver reads next while no chain is in flight. */
TEST(packed_breaks_on_used_descriptor_with_nothing_in_flight)
{
    for (int combo = 4; combo < VQ_COMBOS; combo++) {
        vq_set_context(vq_combo(combo));
        struct rig r;
        VCHECK_EQ(rig_init(&r, "emptyq", 4, vq_combo(combo)), 0);
        VCHECK(add_n(&r, 2));
        VCHECK(round_trip_all(&r));
        uint32_t len;
        /* What a lap before left there is no completion. */
        VCHECK(!virtqueue_has_used(&r.vq));
        VCHECK(virtqueue_get_buf(&r.vq, &len) == NULL);
        VCHECK(!virtqueue_is_broken(&r.vq));
        sim_packed_evil_write(&r.sim, 2, 1, 0, VRING_PACKED_DESC_F_AVAIL | VRING_PACKED_DESC_F_USED);
        VCHECK(virtqueue_has_used(&r.vq));
        VCHECK(virtqueue_get_buf(&r.vq, &len) == NULL);
        VCHECK(virtqueue_is_broken(&r.vq));
        VCHECK_EQ(env_reports, 1);
        VCHECK(strstr(env_report_text, "emptyq") && strstr(env_report_text, "no chain in flight"));
        VCHECK(!virtqueue_has_used(&r.vq));
        VCHECK_EQ(post(&r.vq, tok_free(), 1, 0, 1), -EIO);
        rig_destroy(&r);
        VCHECK_EQ(env_outstanding, 0);
    }
}

/* A free buffer id (never posted, or no longer in flight), and a used
 * descriptor's length with the WRITE flag clear: the length still counts
 * (QEMU 7.2 never sets WRITE in a used descriptor). */
TEST(packed_breaks_on_free_id_and_on_length_without_write_flag)
{
    for (int combo = 4; combo < VQ_COMBOS; combo++) {
        vq_set_context(vq_combo(combo));
        struct guard g;
        guard_setup(&g, vq_combo(combo), false);
        uint16_t idle = 0;
        while (idle < 8 && sim_chain(&g.r.sim, idle))
            idle++;
        sim_evil_push_used(&g.r.sim, idle, 0);
        guard_expect_broken(&g, idle);

        guard_setup(&g, vq_combo(combo), false);
        sim_packed_evil_write(&g.r.sim, 0, g.hc, g.c->writable + 1, VRING_PACKED_DESC_F_AVAIL | VRING_PACKED_DESC_F_USED);
        guard_expect_broken(&g, g.c->writable + 1);

        /* Without WRITE and within bounds, a length is taken as it is. */
        guard_setup(&g, vq_combo(combo), false);
        sim_packed_evil_write(&g.r.sim, 0, g.hc, g.c->writable, VRING_PACKED_DESC_F_AVAIL | VRING_PACKED_DESC_F_USED);
        uint32_t len = 0;
        VCHECK(virtqueue_get_buf(&g.r.vq, &len) == g.c);
        VCHECK_EQ(len, g.c->writable);
        g.c->in_flight = false;
        VCHECK(!virtqueue_is_broken(&g.r.vq));
        while (virtqueue_detach_unused(&g.r.vq))
            ;
        for (unsigned i = 0; i < POOL_SIZE; i++)
            pool[i].in_flight = false;
        rig_destroy(&g.r);
        VCHECK_EQ(env_outstanding, 0);
    }
}

/* virtqueue_plant_used (fault injection) writes a lie the next get_buf finds, in either format. */
TEST(virtqueue_plant_used_breaks_the_next_get_buf)
{
    for (int combo = 0; combo < VQ_COMBOS; combo++) {
        vq_set_context(vq_combo(combo));
        struct guard g;
        guard_setup(&g, vq_combo(combo), false);
        virtqueue_plant_used(&g.r.vq, 8 + 7, 0);
        guard_expect_broken(&g, 8 + 7);
    }
}

/* ---- reset ---- */

TEST(packed_reset_restores_wrap_counters_and_zeroes_the_ring)
{
    vq_set_context(PACKED | EV);
    struct rig r;
    VCHECK_EQ(rig_init(&r, "presq", 3, PACKED | EV), 0);
    for (unsigned i = 0; i < 2; i++) {
        VCHECK(add_n(&r, 2));
        virtqueue_kick(&r.vq);
        VCHECK(round_trip_all(&r));
    }
    VCHECK(!r.vq.packed.avail_wrap); /* 4 descriptors on a ring of 3: the second lap */
    VCHECK(add_n(&r, 1));
    virtqueue_disable_cb(&r.vq);
    while (virtqueue_detach_unused(&r.vq))
        ;
    for (unsigned i = 0; i < POOL_SIZE; i++)
        pool[i].in_flight = false;
    VCHECK_EQ(virtqueue_reset(&r.vq), 0);
    VCHECK_EQ(r.vq.packed.next_avail, 0);
    VCHECK_EQ(r.vq.packed.last_used, 0);
    VCHECK(r.vq.packed.avail_wrap && r.vq.packed.used_wrap);
    VCHECK(!r.vq.callbacks_disabled);
    const uint8_t *bytes = r.ring;
    unsigned nonzero = 0;
    for (size_t i = 0; i < virtqueue_ring_bytes(3, PACKED); i++)
        nonzero += bytes[i] != 0;
    VCHECK_EQ(nonzero, 0);
    VCHECK_STR_EQ(vq_bookkeeping_problem(&r.vq), NULL);
    /* A new device over the same memory drives it as new. */
    sim_destroy(&r.sim);
    sim_init(&r.sim, r.ring, 3, PACKED | EV);
    for (unsigned i = 0; i < 10; i++) {
        VCHECK(add_n(&r, 1 + i % 3));
        virtqueue_kick(&r.vq);
        VCHECK(round_trip_all(&r));
    }
    VCHECK_EQ(r.sim.errors, 0);
    VCHECK_STR_EQ(r.sim.error, "");
    rig_destroy(&r);
    VCHECK_EQ(env_outstanding, 0);
}
