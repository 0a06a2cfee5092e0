/*
 * The virtqueue (drivers/virtio/virtqueue.c, vq_split.c, vq_packed.c)
 * against the simulated device of virtio_sim.c: filling and draining, index
 * wrap, completion out of order, indirect tables falling back to direct
 * chains, kick suppression, the defences against a lying device, a fuzz
 * loop, detaching, resetting, and the dump, each run in both ring formats
 * where the behaviour is the format's contract, plus the split ring's own
 * layout, sizes, event index arithmetic and interrupt suppression
 * (test_virtqueue_packed.c has the packed ring's own). Most tests run once
 * for each feature combination (vq_rig.h); a failing check names the
 * combination it ran under.
 *
 * The queue's environment allocates with malloc and counts what is out, so
 * every test ends by checking that nothing leaked; ring memory comes from
 * aligned_alloc, zeroed, as the driver's contract asks.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drivers/virtio/virtqueue.h"
#include "lib/errno.h"
#include "tests/unit/check.h"
#include "tests/unit/virtio_sim.h"
#include "tests/unit/vq_rig.h"

/* ---- sizes ---- */

TEST(virtqueue_ring_bytes_layout)
{
    /* Descriptors (16 each) and the available ring (6 + 2 num) rounded up to
     * 4 KiB, then the used ring (6 + 8 num) rounded up to 4 KiB. */
    CHECK_EQ(virtqueue_ring_bytes(8, 0), 4096 + 4096);
    CHECK_EQ(virtqueue_ring_bytes(256, VIRTIO_F_RING_EVENT_IDX), 8192 + 4096);
    CHECK_EQ(virtqueue_ring_bytes(1024, 0), 20480 + 12288);
    CHECK_EQ(virtqueue_ring_align(0), VRING_LEGACY_ALIGN);
    /* The used ring with avail_event fits inside. */
    struct vring vr;
    vring_init(&vr, 1024, (void *)(uintptr_t)0x100000);
    CHECK((uintptr_t)vring_avail_event(&vr) + 2 <= 0x100000 + virtqueue_ring_bytes(1024, 0));
    CHECK_EQ((uintptr_t)vr.used % VRING_LEGACY_ALIGN, 0);
}

TEST(virtqueue_init_rejects_bad_sizes)
{
    void *ring = aligned_alloc(VRING_LEGACY_ALIGN, virtqueue_ring_bytes(1024, 0) + VRING_LEGACY_ALIGN);
    if (!ring)
        abort();
    memset(ring, 0, virtqueue_ring_bytes(1024, 0) + VRING_LEGACY_ALIGN);
    struct sim unused_sim;
    struct virtqueue_env env = env_for(&unused_sim);
    struct virtqueue vq;
    env_plan_failures(0, 0);

    static const uint16_t bad[] = { 0, 3, 6, 12, 100, 1000, 1023, 1025, 2048, 4096, 0x8000, 0xFFFF };
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = virtqueue_init(&vq, "badq", 0, bad[i], ring, 0, &env);
        if (rc != -EINVAL)
            unit_fail(__FILE__, __LINE__, "num %u: init returned %d, not -EINVAL", bad[i], rc);
        else
            unit_pass();
        virtqueue_destroy(&vq); /* harmless after a refusal */
    }
    CHECK_EQ(env_outstanding, 0);

    /* The ring must be 4 KiB aligned (the legacy layout depends on it). */
    CHECK_EQ(virtqueue_init(&vq, "badq", 0, 8, (char *)ring + 16, 0, &env), -EINVAL);
    CHECK_EQ(virtqueue_init(&vq, "badq", 0, 8, (char *)ring + 2048, vq_combo(3), &env), -EINVAL);
    CHECK_EQ(virtqueue_init(&vq, "badq", 0, 8, NULL, 0, &env), -EINVAL);
    CHECK_EQ(env_outstanding, 0);

    static const uint16_t good[] = { 1, 2, 8, 256, 1024 };
    for (unsigned i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        CHECK_EQ(virtqueue_init(&vq, "goodq", 3, good[i], ring, vq_combo(3), &env), 0);
        CHECK_EQ(virtqueue_free_count(&vq), good[i]);
        CHECK(!virtqueue_is_broken(&vq));
        CHECK_STR_EQ(vq_bookkeeping_problem(&vq), NULL);
        virtqueue_destroy(&vq);
        CHECK_EQ(env_outstanding, 0);
    }

    /* The second bookkeeping allocation fails: -ENOMEM, and nothing kept.
     * (The first failing is the next test: it may crash.) */
    env_plan_failures(1, 1);
    CHECK_EQ(virtqueue_init(&vq, "nomem", 0, 8, ring, 0, &env), -ENOMEM);
    virtqueue_destroy(&vq);
    CHECK_EQ(env_outstanding, 0);
    env_plan_failures(0, 0);
    free(ring);
}

/* In a child: init with the first bookkeeping allocation (links)
 * failing and the second (state) succeeding; the env hands out memory that
 * is not zeroed, as its contract allows. 0 if init cleanly said -ENOMEM. */
static int init_enomem_first_alloc(void *unused)
{
    (void)unused;
    void *ring = aligned_alloc(VRING_LEGACY_ALIGN, virtqueue_ring_bytes(8, 0));
    if (!ring)
        abort();
    memset(ring, 0, virtqueue_ring_bytes(8, 0));
    struct sim unused_sim;
    struct virtqueue_env env = env_for(&unused_sim);
    struct virtqueue vq;
    env_plan_failures(0, 1);
    int rc = virtqueue_init(&vq, "nomem", 0, 8, ring, 0, &env);
    virtqueue_destroy(&vq);
    free(ring);
    if (rc != -ENOMEM)
        return 2;
    if (env_outstanding != 0)
        return 3;
    return 0;
}

TEST(virtqueue_init_enomem_frees_only_what_it_allocated)
{
    /* 0: -ENOMEM and nothing leaked; 2: another code; 3: a leak; 1 or
     * 128+signal: a crash or a sanitizer report (it frees garbage). */
    CHECK_EQ(unit_run_in_child(init_enomem_first_alloc, NULL), 0);
}

/* ---- filling and draining ---- */

/* Posts `max` chains of `total` buffers (readable first) until the queue is
 * full; returns how many went in. */
static unsigned fill(struct rig *r, struct tok **toks, unsigned max, unsigned out, unsigned in)
{
    unsigned n = 0;
    while (n < max) {
        struct tok *t = tok_free();
        int rc = post(&r->vq, t, out, in, n);
        if (rc != 0) {
            VCHECK_EQ(rc, -ENOSPC);
            break;
        }
        toks[n++] = t;
    }
    return n;
}

/* Completes every chain the device holds in the order it took them, with
 * lengths from `seed`, then checks get_buf hands back the same tokens and
 * lengths in that order. */
static void complete_in_order_and_check(struct rig *r, uint32_t seed)
{
    struct tok *order[VIRTQUEUE_MAX_SIZE];
    uint32_t lens[VIRTQUEUE_MAX_SIZE];
    unsigned n = 0;
    while (r->sim.in_flight) {
        uint16_t head = sim_in_flight_head(&r->sim, 0);
        const struct sim_chain *c = sim_chain(&r->sim, head);
        order[n] = tok_of_chain(c);
        VCHECK(chain_matches(c, order[n]));
        lens[n] = c->writable_bytes ? (uint32_t)((seed + n) % (c->writable_bytes + 1)) : 0;
        sim_complete(&r->sim, head, lens[n]);
        n++;
    }
    for (unsigned i = 0; i < n; i++) {
        uint32_t len = 0xDEAD;
        void *t = virtqueue_get_buf(&r->vq, &len);
        VCHECK(t == order[i]);
        VCHECK_EQ(len, lens[i]);
        if (tok_from_ptr(t))
            ((struct tok *)t)->in_flight = false;
    }
    uint32_t len;
    VCHECK(virtqueue_get_buf(&r->vq, &len) == NULL);
}

static void fill_one(uint64_t f)
{
    bool ind = vq_ind(f);
    struct rig r;
    struct tok *toks[64];
    VCHECK_EQ(rig_init(&r, "fillq", 16, f), 0);

    /* Chains of one buffer, readable and writable: 16 fit, the 17th does not. */
    unsigned n = 0;
    while (n < 17) {
        struct tok *t = tok_free();
        int rc = post(&r.vq, t, n % 2, 1 - n % 2, n);
        if (rc != 0) {
            VCHECK_EQ(rc, -ENOSPC);
            break;
        }
        toks[n++] = t;
    }
    VCHECK_EQ(n, 16);
    VCHECK_EQ(virtqueue_free_count(&r.vq), 0);
    VCHECK_EQ(r.vq.stats.full, 1);
    VCHECK_EQ(r.vq.stats.added, 16);
    VCHECK_EQ(r.vq.stats.indirect, 0);
    VCHECK(virtqueue_kick(&r.vq));
    VCHECK_EQ(r.sim.kicks, 1);
    VCHECK_EQ(r.sim.taken, 16);
    for (unsigned i = 0; i < r.sim.in_flight; i++) {
        const struct sim_chain *c = sim_chain(&r.sim, sim_in_flight_head(&r.sim, i));
        VCHECK(tok_of_chain(c) == toks[i]);
        VCHECK_EQ(c->ring_descs, 1);
        VCHECK(!c->indirect);
    }
    complete_in_order_and_check(&r, 5);
    VCHECK_EQ(virtqueue_free_count(&r.vq), 16);
    VCHECK_EQ(r.vq.stats.completed, 16);

    /* Chains of three: with indirect tables each costs one descriptor, so 16
     * fit; without, five fit and one descriptor is left for a short chain. */
    n = fill(&r, toks, 64, 1, 2);
    VCHECK_EQ(r.vq.stats.full, 2);
    if (ind) {
        VCHECK_EQ(n, 16);
        VCHECK_EQ(virtqueue_free_count(&r.vq), 0);
        VCHECK_EQ(r.vq.stats.indirect, 16);
        VCHECK_EQ(env_outstanding, 2 + 16); /* bookkeeping + one table a chain */
    } else {
        VCHECK_EQ(n, 5);
        VCHECK_EQ(virtqueue_free_count(&r.vq), 1);
        VCHECK_EQ(r.vq.stats.indirect, 0);
        VCHECK_EQ(post(&r.vq, tok_free(), 1, 0, 99), 0);
        VCHECK_EQ(virtqueue_free_count(&r.vq), 0);
        VCHECK_EQ(post(&r.vq, tok_free(), 0, 1, 98), -ENOSPC);
        VCHECK_EQ(r.vq.stats.full, 3);
    }
    VCHECK_STR_EQ(vq_bookkeeping_problem(&r.vq), NULL);
    VCHECK(virtqueue_kick(&r.vq));
    for (unsigned i = 0; i < r.sim.in_flight; i++) {
        const struct sim_chain *c = sim_chain(&r.sim, sim_in_flight_head(&r.sim, i));
        VCHECK_EQ(c->indirect, ind && c->nbufs == 3);
        VCHECK_EQ(c->ring_descs, c->indirect ? 1 : c->nbufs);
    }
    complete_in_order_and_check(&r, 11);
    VCHECK_EQ(virtqueue_free_count(&r.vq), 16);
    VCHECK_STR_EQ(vq_bookkeeping_problem(&r.vq), NULL);
    VCHECK_EQ(env_outstanding, 2); /* every indirect table given back */
    VCHECK_EQ(r.sim.errors, 0);
    VCHECK_STR_EQ(r.sim.error, "");
    VCHECK_EQ(env_reports, 0);
    rig_destroy(&r);
    VCHECK_EQ(env_outstanding, 0);
}

TEST(virtqueue_fill_to_capacity_and_drain)
{
    for (int combo = 0; combo < VQ_COMBOS; combo++) {
        vq_set_context(vq_combo(combo));
        fill_one(vq_combo(combo));
    }
}

TEST(virtqueue_add_rejects_bad_arguments)
{
    for (int combo = 0; combo < VQ_COMBOS; combo++) {
        vq_set_context(vq_combo(combo));
        struct rig r;
        VCHECK_EQ(rig_init(&r, "argq", 4, vq_combo(combo)), 0);
        struct tok *t = tok_free();
        struct vq_sg sg[5];
        for (unsigned k = 0; k < 5; k++)
            sg[k] = (struct vq_sg){ (uint64_t)(uintptr_t)t->data[k], 8 };
        VCHECK_EQ(virtqueue_add(&r.vq, sg, 0, 0, t), -EINVAL);       /* no buffers */
        VCHECK_EQ(virtqueue_add(&r.vq, sg, 1, 0, NULL), -EINVAL);    /* no token */
        VCHECK_EQ(virtqueue_add(&r.vq, sg, 1000, 25, t), -EINVAL);   /* beyond any chain */
        /* Five buffers on a queue of four: only an indirect table could hold them. */
        env_plan_failures(0, 1);
        VCHECK_EQ(virtqueue_add(&r.vq, sg, 2, 3, t), -EINVAL);
        env_plan_failures(0, 0);
        VCHECK_EQ(virtqueue_free_count(&r.vq), 4);
        VCHECK_EQ(r.vq.stats.added, 0);
        VCHECK_EQ(env_outstanding, 2);
        VCHECK_STR_EQ(vq_bookkeeping_problem(&r.vq), NULL);
        rig_destroy(&r);
        VCHECK_EQ(env_outstanding, 0);
    }
}

/* ---- index wrap: 16-bit split indices, packed positions lap after lap ---- */

static void wrap_one(uint64_t f, uint64_t seed)
{
    bool ind = vq_ind(f);
    struct rig r;
    static struct pending p;
    memset(&p, 0, sizeof(p));
    rng_seed(seed);
    VCHECK_EQ(rig_init(&r, "wrapq", 8, f), 0);
    const unsigned long target = 4 * 65536 + 1000;
    unsigned long adds = 0, gets = 0, multi = 0;
    while (adds < target) {
        unsigned want = 1 + rng_below(8);
        for (unsigned k = 0; k < want; k++) {
            unsigned total = 1 + rng_below(3), out = rng_below(total + 1);
            int rc = post(&r.vq, tok_free(), out, total - out, rng());
            if (rc == -ENOSPC)
                break;
            LOOP_CHECK_EQ(rc, 0);
            adds++;
            multi += total > 1;
        }
        if (rng_below(2))
            virtqueue_kick(&r.vq);
        sim_take_all(&r.sim); /* a polling device: takes what a kick may not have announced */

        unsigned done = rng_below(r.sim.in_flight + 1);
        for (unsigned k = 0; k < done; k++)
            LOOP_CHECK(device_complete(&r, &p, rng_below(r.sim.in_flight)));
        unsigned takes = rng_below(4) ? p.count : rng_below(p.count + 1);
        for (unsigned k = 0; k < takes; k++, gets++)
            LOOP_CHECK(driver_take(&r, &p));
        LOOP_CHECK_EQ(virtqueue_free_count(&r.vq), expected_free(8));
        LOOP_CHECK(vq_bookkeeping_problem(&r.vq) == NULL);
        LOOP_CHECK_EQ(r.sim.errors, 0); /* else chains may never complete: no progress */
    }
    while (r.sim.in_flight)
        LOOP_CHECK(device_complete(&r, &p, 0));
    while (p.count) {
        LOOP_CHECK(driver_take(&r, &p));
        gets++;
    }
    VCHECK(driver_take(&r, &p)); /* nothing more: NULL */
    VCHECK_EQ(gets, adds);
    VCHECK(adds >= 4 * 65536);  /* every 16-bit index wrapped four times */
    VCHECK_EQ(r.vq.stats.added, adds);
    VCHECK_EQ(r.vq.stats.completed, adds);
    VCHECK_EQ(r.vq.stats.indirect, ind ? multi : 0); /* memory never ran out here */
    if (vq_packed(f)) {
        /* Both sides agree where they are, and went round the ring many times. */
        VCHECK_EQ(r.vq.packed.next_avail, r.sim.avail_pos);
        VCHECK_EQ(r.vq.packed.avail_wrap, r.sim.avail_wrap);
        VCHECK_EQ(r.vq.packed.last_used, r.sim.used_pos);
        VCHECK_EQ(r.vq.packed.used_wrap, r.sim.used_wrap);
        VCHECK_EQ(r.vq.packed.next_avail, r.vq.packed.last_used);
        VCHECK(r.sim.used_descs >= adds); /* over 2^15 laps of the ring */
    } else {
        VCHECK_EQ(r.vq.split.avail_idx, (uint16_t)adds);
        VCHECK_EQ(r.vq.split.vring.avail->idx, (uint16_t)adds);
        VCHECK_EQ(r.vq.split.last_used_idx, (uint16_t)adds);
        VCHECK_EQ(r.sim.last_avail_idx, (uint16_t)adds);
        VCHECK_EQ(r.vq.split.vring.used->idx, (uint16_t)adds);
    }
    VCHECK_EQ(virtqueue_free_count(&r.vq), 8);
    VCHECK_STR_EQ(vq_bookkeeping_problem(&r.vq), NULL);
    VCHECK_EQ(r.sim.errors, 0);
    VCHECK_STR_EQ(r.sim.error, "");
    VCHECK_EQ(env_reports, 0);
    VCHECK_EQ(env_outstanding, 2);
out:
    rig_destroy(&r);
    VCHECK_EQ(env_outstanding, 0);
}

TEST(virtqueue_indices_wrap_with_consistent_free_list)
{
    for (int combo = 0; combo < VQ_COMBOS; combo++) {
        vq_set_context(vq_combo(combo));
        wrap_one(vq_combo(combo), 0x5EED0000 + combo);
    }
}

/* ---- completion out of order ---- */

static void out_of_order_one(uint64_t f, int combo)
{
    struct rig r;
    static struct pending p;
    memset(&p, 0, sizeof(p));
    rng_seed(0xC0FFEE + (uint64_t)combo);
    VCHECK_EQ(rig_init(&r, "oooq", 16, f), 0);
    for (unsigned round = 0; round < 60; round++) {
        /* Chains of 1 to 4 buffers, every split of readable and writable. */
        for (unsigned i = 0;; i++) {
            unsigned total = 1 + (round + i) % 4, out = (round * 3 + i) % (total + 1);
            int rc = post(&r.vq, tok_free(), out, total - out, rng());
            if (rc == -ENOSPC)
                break;
            LOOP_CHECK_EQ(rc, 0);
        }
        virtqueue_kick(&r.vq);
        LOOP_CHECK_EQ(virtqueue_free_count(&r.vq), expected_free(16));
        unsigned n = r.sim.in_flight;
        LOOP_CHECK(n > 0);
        for (unsigned k = 0; k < n; k++) {
            unsigned pick;
            switch (round % 3) {
            case 0: pick = r.sim.in_flight - 1; break;                  /* newest first: reverse */
            case 1: pick = rng_below(r.sim.in_flight); break;           /* random */
            default: pick = r.sim.in_flight > 1 ? 1 : 0; break;         /* second oldest first */
            }
            LOOP_CHECK(device_complete(&r, &p, pick));
            if (round % 2) /* half the rounds take each completion at once */
                LOOP_CHECK(driver_take(&r, &p));
        }
        while (p.count)
            LOOP_CHECK(driver_take(&r, &p));
        LOOP_CHECK(driver_take(&r, &p));
        LOOP_CHECK_EQ(virtqueue_free_count(&r.vq), 16);
        LOOP_CHECK(vq_bookkeeping_problem(&r.vq) == NULL);
    }
    VCHECK_EQ(r.vq.stats.completed, r.vq.stats.added);
    VCHECK(r.vq.stats.added > 60 * 4);
    VCHECK_EQ(r.sim.errors, 0);
    VCHECK_STR_EQ(r.sim.error, "");
    VCHECK_EQ(env_reports, 0);
out:
    rig_destroy(&r);
    VCHECK_EQ(env_outstanding, 0);
}

TEST(virtqueue_out_of_order_completion)
{
    for (int combo = 0; combo < VQ_COMBOS; combo++) {
        vq_set_context(vq_combo(combo));
        out_of_order_one(vq_combo(combo), combo);
    }
}

/* ---- indirect tables ---- */

static void indirect_layout_one(uint64_t f)
{
    struct rig r;
    VCHECK_EQ(rig_init(&r, "indq", 8, f), 0);
    struct tok *t = tok_free();
    VCHECK_EQ(post(&r.vq, t, 2, 3, 4), 0);
    VCHECK_EQ(virtqueue_free_count(&r.vq), 7);
    VCHECK_EQ(r.vq.stats.indirect, 1);
    VCHECK_EQ(env_outstanding, 2 + 1);
    VCHECK(virtqueue_kick(&r.vq));
    sim_take_all(&r.sim); /* in case the kick did not come */
    VCHECK_EQ(r.sim.in_flight, 1);
    uint16_t head = sim_in_flight_head(&r.sim, 0);
    const struct sim_chain *c = sim_chain(&r.sim, head);
    if (!c) {
        VCHECK(c != NULL);
        goto out;
    }
    VCHECK(c->indirect);
    VCHECK_EQ(c->ring_descs, 1);
    VCHECK(chain_matches(c, t));

    /* The head in the ring: INDIRECT alone, pointing at five entries. */
    const struct vring_desc *hd = &r.vq.split.vring.desc[head];
    VCHECK_EQ(hd->flags, VRING_DESC_F_INDIRECT);
    VCHECK_EQ(hd->len, 5 * sizeof(struct vring_desc));
    VCHECK_EQ(hd->addr, c->table_addr);
    /* The table itself: NEXT on all but the last, WRITE on the last three. */
    const struct vring_desc *table = (const struct vring_desc *)(uintptr_t)hd->addr;
    for (unsigned i = 0; i < 5; i++) {
        uint16_t want = (i < 4 ? VRING_DESC_F_NEXT : 0) | (i >= 2 ? VRING_DESC_F_WRITE : 0);
        VCHECK_EQ(table[i].flags, want);
        VCHECK_EQ(table[i].addr, t->sg[i].addr);
        VCHECK_EQ(table[i].len, t->sg[i].len);
        if (i < 4)
            VCHECK_EQ(table[i].next, i + 1);
    }

    /* A single buffer needs no table. */
    struct tok *single = tok_free();
    VCHECK_EQ(post(&r.vq, single, 0, 1, 9), 0);
    VCHECK_EQ(r.vq.stats.indirect, 1);
    VCHECK_EQ(env_outstanding, 2 + 1);
    virtqueue_kick(&r.vq);
    const struct sim_chain *sc = sim_chain(&r.sim, sim_in_flight_head(&r.sim, 1));
    VCHECK(sc && !sc->indirect && chain_matches(sc, single));

    /* Completion gives the table back. */
    VCHECK(sim_complete(&r.sim, head, 17));
    uint32_t len = 0;
    VCHECK(virtqueue_get_buf(&r.vq, &len) == t);
    VCHECK_EQ(len, 17);
    VCHECK_EQ(env_outstanding, 2);
    VCHECK_EQ(virtqueue_free_count(&r.vq), 7);
    VCHECK_EQ(r.sim.errors, 0);
    VCHECK_STR_EQ(r.sim.error, "");
out:
    rig_destroy(&r);
    VCHECK_EQ(env_outstanding, 0);
}

TEST(virtqueue_indirect_table_layout)
{
    for (int ev = 0; ev < 2; ev++) {
        uint64_t f = vq_combo(2 | ev);
        vq_set_context(f);
        indirect_layout_one(f);
    }
}

TEST(virtqueue_without_indirect_feature_chains_directly)
{
    for (int ev = 0; ev < 2; ev++) {
        vq_set_context(vq_combo(ev));
        struct rig r;
        VCHECK_EQ(rig_init(&r, "dirq", 8, vq_combo(ev)), 0);
        struct tok *t = tok_free();
        VCHECK_EQ(post(&r.vq, t, 2, 3, 4), 0);
        VCHECK_EQ(virtqueue_free_count(&r.vq), 3);
        VCHECK_EQ(env_outstanding, 2);
        virtqueue_kick(&r.vq);
        sim_take_all(&r.sim);
        uint16_t head = sim_in_flight_head(&r.sim, 0);
        const struct sim_chain *c = sim_chain(&r.sim, head);
        if (!c) {
            VCHECK(c != NULL);
            rig_destroy(&r);
            continue;
        }
        VCHECK(!c->indirect);
        VCHECK_EQ(c->ring_descs, 5);
        VCHECK(chain_matches(c, t));
        /* Walk the ring: NEXT on all but the last, WRITE on the last three. */
        uint16_t d = head;
        for (unsigned i = 0; i < 5; i++) {
            uint16_t want = (i < 4 ? VRING_DESC_F_NEXT : 0) | (i >= 2 ? VRING_DESC_F_WRITE : 0);
            VCHECK_EQ(r.vq.split.vring.desc[d].flags, want);
            d = r.vq.split.vring.desc[d].next;
        }
        VCHECK_EQ(r.sim.errors, 0);
        rig_destroy(&r);
        VCHECK_EQ(env_outstanding, 0);
    }
}

TEST(virtqueue_indirect_alloc_failure_falls_back_to_direct)
{
    for (int combo = 0; combo < VQ_COMBOS; combo++) {
        if (!vq_ind(vq_combo(combo)))
            continue;
        vq_set_context(vq_combo(combo));
        struct rig r;
        VCHECK_EQ(rig_init(&r, "fbq", 8, vq_combo(combo)), 0);
        struct tok *t = tok_free();
        env_plan_failures(0, 1); /* the table */
        VCHECK_EQ(post(&r.vq, t, 1, 2, 4), 0);
        VCHECK_EQ(env_fail_allocs, 0); /* the table was asked for */
        VCHECK_EQ(virtqueue_free_count(&r.vq), 5);
        VCHECK_EQ(r.vq.stats.indirect, 0);
        VCHECK_EQ(env_outstanding, 2);
        VCHECK(virtqueue_kick(&r.vq));
        sim_take_all(&r.sim);
        const struct sim_chain *c = sim_chain(&r.sim, sim_in_flight_head(&r.sim, 0));
        VCHECK(c && !c->indirect);
        VCHECK(c && c->ring_descs == 3);
        VCHECK(chain_matches(c, t));
        VCHECK_STR_EQ(vq_bookkeeping_problem(&r.vq), NULL);

        /* Without a table and without room for a direct chain: -ENOSPC, nothing kept. */
        struct tok *big = tok_free();
        env_plan_failures(0, 1);
        VCHECK_EQ(post(&r.vq, big, 3, 3, 5), -ENOSPC);
        VCHECK_EQ(r.vq.stats.full, 1);
        VCHECK_EQ(env_outstanding, 2);
        VCHECK_EQ(virtqueue_free_count(&r.vq), 5);
        /* The next add, with memory, goes indirect again. */
        VCHECK_EQ(post(&r.vq, big, 3, 3, 5), 0);
        VCHECK_EQ(r.vq.stats.indirect, 1);
        VCHECK_EQ(virtqueue_free_count(&r.vq), 4);

        virtqueue_kick(&r.vq);
        sim_take_all(&r.sim);
        sim_complete(&r.sim, sim_in_flight_head(&r.sim, 1), 3);
        sim_complete(&r.sim, sim_in_flight_head(&r.sim, 0), 7);
        uint32_t len = 0;
        VCHECK(virtqueue_get_buf(&r.vq, &len) == big);
        VCHECK_EQ(len, 3);
        VCHECK(virtqueue_get_buf(&r.vq, &len) == t);
        VCHECK_EQ(len, 7);
        VCHECK_EQ(virtqueue_free_count(&r.vq), 8);
        VCHECK_STR_EQ(vq_bookkeeping_problem(&r.vq), NULL);
        VCHECK_EQ(env_outstanding, 2);
        VCHECK_EQ(r.sim.errors, 0);
        VCHECK_STR_EQ(r.sim.error, "");
        rig_destroy(&r);
        VCHECK_EQ(env_outstanding, 0);
    }
}

/* ---- kick suppression ---- */

TEST(virtqueue_kick_suppressed_by_no_notify)
{
    for (int combo = 0; combo < VQ_COMBOS; combo++) {
        if (vq_ev(vq_combo(combo)))
            continue;
        vq_set_context(vq_combo(combo));
        struct rig r;
        VCHECK_EQ(rig_init(&r, "kickq", 8, vq_combo(combo)), 0);
        sim_set_no_notify(&r.sim, true);
        VCHECK_EQ(post(&r.vq, tok_free(), 1, 0, 1), 0);
        VCHECK(!virtqueue_kick(&r.vq));
        VCHECK_EQ(r.vq.stats.kicks_skipped, 1);
        VCHECK_EQ(r.vq.stats.kicks, 0);
        VCHECK_EQ(r.sim.kicks, 0);
        VCHECK_EQ(post(&r.vq, tok_free(), 1, 2, 2), 0);
        VCHECK(!virtqueue_kick_prepare(&r.vq));
        VCHECK_EQ(r.vq.stats.kicks_skipped, 2);

        sim_set_no_notify(&r.sim, false);
        VCHECK_EQ(post(&r.vq, tok_free(), 0, 1, 3), 0);
        VCHECK(virtqueue_kick(&r.vq));
        VCHECK_EQ(r.vq.stats.kicks, 1);
        VCHECK_EQ(r.sim.kicks, 1);
        VCHECK_EQ(r.sim.taken, 3);
        VCHECK_EQ(post(&r.vq, tok_free(), 0, 1, 4), 0);
        VCHECK(virtqueue_kick_prepare(&r.vq));
        VCHECK_EQ(r.sim.kicks, 1); /* prepare decides, notify sends */
        virtqueue_notify(&r.vq);
        VCHECK_EQ(r.sim.kicks, 2);
        VCHECK_EQ(r.vq.stats.kicks, 2);
        VCHECK_EQ(r.vq.stats.kicks_skipped, 2);
        VCHECK_EQ(r.sim.errors, 0);
        rig_destroy(&r);
        VCHECK_EQ(env_outstanding, 0);
    }
}

/* The spec's rule restated without vring_need_event: the driver must kick
 * if one of the steps old -> old+1 -> ... -> new starts at avail_event. */
static bool steps_pass(uint16_t event, uint16_t old_idx, uint16_t new_idx)
{
    for (uint16_t i = old_idx; i != new_idx; i++)
        if (i == event)
            return true;
    return false;
}

static void event_idx_kicks_one(uint64_t f)
{
    struct rig r;
    rng_seed(0xA11CE + vq_ind(f));
    VCHECK_EQ(rig_init(&r, "evkq", 8, f), 0);
    r.sim.auto_avail_event = false;
    unsigned long expected_kicks = 0, expected_skips = 0, batches = 0;
    while (r.vq.stats.added < 3 * 65536 + 100) {
        uint16_t old_idx = r.vq.split.avail_idx;
        unsigned n = 1 + rng_below(8);
        /* Somewhere around the batch: before it, inside it, just past it. */
        uint16_t event = (uint16_t)(old_idx + (int)rng_below(n + 8) - 4);
        sim_set_avail_event(&r.sim, event);
        LOOP_CHECK(add_n(&r, n));
        bool want = steps_pass(event, old_idx, (uint16_t)(old_idx + n));
        bool kicked = virtqueue_kick(&r.vq);
        LOOP_CHECK_EQ(kicked, want);
        if (want)
            expected_kicks++;
        else
            expected_skips++;
        LOOP_CHECK(round_trip_all(&r));
        batches++;
    }
    VCHECK_EQ(r.sim.kicks, expected_kicks);
    VCHECK_EQ(r.vq.stats.kicks, expected_kicks);
    VCHECK_EQ(r.vq.stats.kicks_skipped, expected_skips);
    VCHECK(expected_kicks > batches / 4 && expected_skips > batches / 4); /* both outcomes exercised */
    VCHECK_EQ(r.sim.errors, 0);

    /* By hand at the wrap: bring avail->idx to 0xFFFC. */
    r.sim.auto_avail_event = true;
    while (r.vq.split.avail_idx != 0xFFFC) {
        LOOP_CHECK(add_n(&r, 1));
        virtqueue_kick(&r.vq);
        LOOP_CHECK(round_trip_all(&r));
    }
    r.sim.auto_avail_event = false;
    sim_set_avail_event(&r.sim, 0xFFFF);
    VCHECK(add_n(&r, 2));                   /* 0xFFFC -> 0xFFFE */
    VCHECK(!virtqueue_kick(&r.vq));
    VCHECK(add_n(&r, 1));                   /* 0xFFFE -> 0xFFFF */
    VCHECK(!virtqueue_kick(&r.vq));
    VCHECK(add_n(&r, 1));                   /* 0xFFFF -> 0x0000: passes 0xFFFF */
    VCHECK(virtqueue_kick(&r.vq));
    VCHECK(round_trip_all(&r));
    sim_set_avail_event(&r.sim, 0x0001);
    VCHECK(add_n(&r, 1));                   /* 0x0000 -> 0x0001 */
    VCHECK(!virtqueue_kick(&r.vq));
    VCHECK(add_n(&r, 2));                   /* 0x0001 -> 0x0003: passes 0x0001 */
    VCHECK(virtqueue_kick(&r.vq));
    VCHECK(round_trip_all(&r));
    sim_set_avail_event(&r.sim, 0xFFFD);    /* stale, far behind */
    VCHECK(add_n(&r, 4));
    VCHECK(!virtqueue_kick(&r.vq));
    VCHECK(round_trip_all(&r));
    VCHECK_EQ(r.vq.split.avail_idx, 7);
    VCHECK_EQ(r.sim.errors, 0);
out:
    rig_destroy(&r);
    VCHECK_EQ(env_outstanding, 0);
}

TEST(virtqueue_kick_follows_avail_event_across_wrap)
{
    for (int ind = 0; ind < 2; ind++) {
        uint64_t f = vq_combo(1 | 2 * ind);
        vq_set_context(f);
        event_idx_kicks_one(f);
    }
}

/* A batch may not reach 2^16 additions without a kick decision: the 16-bit
 * arithmetic could no longer tell what was passed. */
TEST(virtqueue_long_batch_forces_a_kick)
{
    for (int combo = 0; combo < VQ_COMBOS; combo++) {
        if (vq_ind(vq_combo(combo)))
            continue;
        vq_set_context(vq_combo(combo));
        struct rig r;
        VCHECK_EQ(rig_init(&r, "batchq", 4, vq_combo(combo)), 0);
        for (unsigned i = 1; i <= 0x10000; i++) {
            LOOP_CHECK(add_n(&r, 1));
            LOOP_CHECK_EQ(r.sim.kicks, i >= 0xFFFF ? 1 : 0);
            LOOP_CHECK(round_trip_all(&r)); /* a polling device */
        }
        VCHECK_EQ(r.vq.stats.kicks, 1);
        /* The polling device took everything and (with EVENT_IDX) asked to be
         * kicked past avail index 0: one more chain must be announced. */
        VCHECK(add_n(&r, 1));
        VCHECK(virtqueue_kick(&r.vq));
        VCHECK_EQ(r.sim.kicks, 2);
        VCHECK_EQ(r.sim.errors, 0);
    out:
        rig_destroy(&r);
        VCHECK_EQ(env_outstanding, 0);
    }
}

/* ---- interrupt suppression ---- */

static void interrupts_one(uint64_t f)
{
    bool ev = vq_ev(f);
    struct rig r;
    VCHECK_EQ(rig_init(&r, "irqq", 8, f), 0);
    unsigned long gets = 0;

    /* Callbacks on: a completion interrupts. */
    uint16_t h0 = post_and_take(&r), h1 = post_and_take(&r), h2 = post_and_take(&r);
    VCHECK(sim_complete(&r.sim, h0, 1));
    VCHECK_EQ(r.sim.interrupts, 1);
    VCHECK_EQ(take_all(&r), 1);
    gets += 1;
    if (ev)
        VCHECK_EQ(sim_used_event(&r.sim), r.vq.split.last_used_idx); /* interrupt me after the next one */
    VCHECK_EQ(r.vq.split.last_used_idx, 1);

    /* Callbacks off: no interrupt, through thousands of completions taken by polling. */
    virtqueue_disable_cb(&r.vq);
    if (ev)
        VCHECK_EQ(r.vq.split.vring.avail->flags, 0); /* with EVENT_IDX the flags stay 0 */
    else
        VCHECK_EQ(r.vq.split.vring.avail->flags, VRING_AVAIL_F_NO_INTERRUPT);
    VCHECK(!sim_complete(&r.sim, h1, 1));
    VCHECK(!sim_complete(&r.sim, h2, 1));
    for (unsigned i = 0; i < 3000; i++) {
        gets += take_all(&r);
        uint16_t h = post_and_take(&r);
        LOOP_CHECK(h != SIM_DESC_FREE);
        LOOP_CHECK(!sim_complete(&r.sim, h, 1));
    }
    gets += take_all(&r);
    VCHECK_EQ(r.sim.interrupts, 1);

    /* Re-enable: prepare returns where we are; nothing new yet. */
    uint16_t last = virtqueue_enable_cb_prepare(&r.vq);
    VCHECK_EQ(last, (uint16_t)gets);
    VCHECK_EQ(last, r.vq.split.vring.used->idx);
    if (ev)
        VCHECK_EQ(sim_used_event(&r.sim), last);
    else
        VCHECK_EQ(r.vq.split.vring.avail->flags, 0);
    VCHECK(!virtqueue_poll(&r.vq, last));
    VCHECK(!virtqueue_has_used(&r.vq));

    /* The lost wake-up: a completion between prepare and poll must be seen. */
    uint16_t h = post_and_take(&r);
    last = virtqueue_enable_cb_prepare(&r.vq);
    VCHECK(!virtqueue_poll(&r.vq, last)); /* posted, not yet completed */
    VCHECK(sim_complete(&r.sim, h, 1)); /* callbacks were on: the device interrupts too */
    VCHECK(virtqueue_poll(&r.vq, last));
    VCHECK(virtqueue_has_used(&r.vq));
    gets += take_all(&r);

    /* ... and one that arrived while callbacks were off, before prepare. */
    h = post_and_take(&r);
    virtqueue_disable_cb(&r.vq);
    unsigned long irqs = r.sim.interrupts;
    VCHECK(!sim_complete(&r.sim, h, 1));
    last = virtqueue_enable_cb_prepare(&r.vq);
    VCHECK(virtqueue_poll(&r.vq, last));
    VCHECK_EQ(r.sim.interrupts, irqs);
    gets += take_all(&r);

    /* enable_cb: false while completions wait, true once they are taken. */
    h = post_and_take(&r);
    virtqueue_disable_cb(&r.vq);
    VCHECK(!sim_complete(&r.sim, h, 1));
    VCHECK(!virtqueue_enable_cb(&r.vq));
    VCHECK_EQ(take_all(&r), 1);
    gets++;
    VCHECK(virtqueue_enable_cb(&r.vq));

    /* Callbacks on with EVENT_IDX: an interrupt for the first completion
     * after the driver's position, none for the next while it has not
     * caught up; each get_buf moves used_event to last_used_idx. */
    uint16_t a = post_and_take(&r), b = post_and_take(&r);
    irqs = r.sim.interrupts;
    VCHECK(sim_complete(&r.sim, a, 1));
    VCHECK_EQ(sim_complete(&r.sim, b, 1), !ev);
    VCHECK_EQ(r.sim.interrupts, irqs + (ev ? 1 : 2));
    uint32_t len;
    VCHECK(virtqueue_get_buf(&r.vq, &len) != NULL);
    if (ev)
        VCHECK_EQ(sim_used_event(&r.sim), r.vq.split.last_used_idx);
    VCHECK(virtqueue_get_buf(&r.vq, &len) != NULL);
    if (ev)
        VCHECK_EQ(sim_used_event(&r.sim), r.vq.split.last_used_idx);
    gets += 2;
    VCHECK_EQ(r.vq.split.last_used_idx, (uint16_t)gets);
    VCHECK(sim_complete(&r.sim, post_and_take(&r), 1));
    VCHECK_EQ(r.sim.errors, 0);
    VCHECK_STR_EQ(r.sim.error, "");
out:
    rig_destroy(&r);
    VCHECK_EQ(env_outstanding, 0);
}

TEST(virtqueue_interrupt_suppression)
{
    for (int combo = 0; combo < VQ_COMBOS_SPLIT; combo++) {
        vq_set_context(vq_combo(combo));
        interrupts_one(vq_combo(combo));
    }
}

/* enable_cb_delayed (the transmit interrupt): with EVENT_IDX one interrupt
 * once 3/4 of what is in flight is done, in either format; without it,
 * one per completion. Completions that already passed the point are
 * reported, since no interrupt would come for them. */
TEST(virtqueue_enable_cb_delayed_interrupts_once_for_many)
{
    for (int combo = 0; combo < VQ_COMBOS; combo++) {
        uint64_t f = vq_combo(combo);
        vq_set_context(f);
        struct rig r;
        VCHECK_EQ(rig_init(&r, "delq", 16, f), 0);
        for (unsigned lap = 0; lap < 3; lap++) { /* the packed ring's event wraps in the later laps */
            virtqueue_disable_cb(&r.vq);
            uint16_t h[12];
            for (unsigned i = 0; i < 12; i++)
                h[i] = post_and_take(&r);
            unsigned long irqs = r.sim.interrupts;
            LOOP_CHECK(virtqueue_enable_cb_delayed(&r.vq));
            unsigned first = 0;
            for (unsigned i = 0; i < 12; i++)
                if (sim_complete(&r.sim, h[i], 1) && !first)
                    first = i + 1;
            /* 12 in flight: the event 9 past the driver, so the 10th completion interrupts. */
            LOOP_CHECK_EQ(r.sim.interrupts - irqs, vq_ev(f) ? 1 : 12);
            LOOP_CHECK_EQ(first, vq_ev(f) ? 10 : 1);
            LOOP_CHECK_EQ(take_all(&r), 12);

            /* Completions that came while callbacks were off: reap now. */
            virtqueue_disable_cb(&r.vq);
            for (unsigned i = 0; i < 4; i++)
                h[i] = post_and_take(&r);
            for (unsigned i = 0; i < 4; i++)
                LOOP_CHECK(!sim_complete(&r.sim, h[i], 1));
            LOOP_CHECK(!virtqueue_enable_cb_delayed(&r.vq));
            LOOP_CHECK_EQ(take_all(&r), 4);
        }
        VCHECK_EQ(r.sim.errors, 0);
        VCHECK_STR_EQ(r.sim.error, "");
    out:
        rig_destroy(&r);
        VCHECK_EQ(env_outstanding, 0);
    }
}

/* Callbacks turned off before the first completion ever. */
TEST(virtqueue_disable_cb_from_the_start)
{
    for (int combo = 0; combo < VQ_COMBOS; combo++) {
        if (vq_ind(vq_combo(combo)))
            continue;
        vq_set_context(vq_combo(combo));
        struct rig r;
        VCHECK_EQ(rig_init(&r, "irq0q", 8, vq_combo(combo)), 0);
        virtqueue_disable_cb(&r.vq);
        uint16_t a = post_and_take(&r), b = post_and_take(&r);
        VCHECK(!sim_complete(&r.sim, a, 1));
        VCHECK(!sim_complete(&r.sim, b, 1));
        VCHECK_EQ(r.sim.interrupts, 0);
        VCHECK(!virtqueue_enable_cb(&r.vq));
        VCHECK_EQ(take_all(&r), 2);
        VCHECK(virtqueue_enable_cb(&r.vq));
        VCHECK(sim_complete(&r.sim, post_and_take(&r), 1));
        VCHECK_EQ(r.sim.errors, 0);
        rig_destroy(&r);
        VCHECK_EQ(env_outstanding, 0);
    }
}

/* ---- defences against a device that lies ---- */

TEST(virtqueue_breaks_on_used_id_out_of_range)
{
    static const uint32_t ids[] = { 8, 1000, 0xFFFFFFFF };
    for (int combo = 0; combo < VQ_COMBOS; combo++) {
        uint64_t f = vq_combo(combo);
        vq_set_context(f);
        for (unsigned v = 0; v < 3; v++) {
            struct guard g;
            guard_setup(&g, f, false);
            sim_evil_push_used(&g.r.sim, ids[v], 0);
            /* A packed descriptor carries a 16-bit id. */
            guard_expect_broken(&g, vq_packed(f) ? (uint16_t)ids[v] : ids[v]);
        }
    }
}

TEST(virtqueue_breaks_on_used_id_inside_a_chain)
{
    for (int combo = 0; combo < VQ_COMBOS_SPLIT; combo++) {
        vq_set_context(vq_combo(combo));
        struct guard g;
        guard_setup(&g, vq_combo(combo), true);
        const struct vring_desc *hd = &g.r.vq.split.vring.desc[g.ha];
        VCHECK(hd->flags & VRING_DESC_F_NEXT); /* A is direct: its head links on */
        uint16_t second = hd->next;
        VCHECK_EQ(g.r.sim.owner[second], g.ha);
        sim_evil_push_used(&g.r.sim, second, 0);
        guard_expect_broken(&g, second);
    }
}

TEST(virtqueue_breaks_on_used_id_never_posted)
{
    for (int combo = 0; combo < VQ_COMBOS_SPLIT; combo++) {
        vq_set_context(vq_combo(combo));
        struct guard g;
        guard_setup(&g, vq_combo(combo), false);
        uint16_t idle = 0;
        while (idle < 8 && g.r.sim.owner[idle] != SIM_DESC_FREE)
            idle++;
        VCHECK(idle < 8);
        sim_evil_push_used(&g.r.sim, idle, 0);
        guard_expect_broken(&g, idle);
    }
}

TEST(virtqueue_breaks_on_chain_completed_twice)
{
    for (int combo = 0; combo < VQ_COMBOS; combo++) {
        vq_set_context(vq_combo(combo));
        struct guard g;
        guard_setup(&g, vq_combo(combo), false);
        sim_complete(&g.r.sim, g.hb, 0);
        guard_take(&g, g.b);
        sim_evil_push_used(&g.r.sim, g.hb, 0);
        guard_expect_broken(&g, g.hb);
    }
}

TEST(virtqueue_breaks_on_length_beyond_writable)
{
    for (int combo = 0; combo < VQ_COMBOS; combo++) {
        vq_set_context(vq_combo(combo));
        for (int huge = 0; huge < 2; huge++) {
            struct guard g;
            guard_setup(&g, vq_combo(combo), false);
            /* A good completion first: it still comes through. */
            sim_complete(&g.r.sim, g.hc, g.c->writable);
            uint32_t bad = huge ? 0xFFFFFFFF : g.a->writable + 1;
            sim_evil_push_used(&g.r.sim, g.ha, bad);
            guard_take(&g, g.c);
            guard_expect_broken(&g, bad);
        }
    }
}

/* A chain with nothing writable (a transmitted frame) completes whatever
 * length the device reports, as 0: VirtualBox's legacy virtio-net reports
 * the frame's size, and a packed used descriptor's length is reserved
 * without WRITE (2.8.4). The queue stays healthy; a length past what a
 * writable chain offered still breaks it (above). */
TEST(virtqueue_ignores_the_length_of_a_readonly_chain)
{
    static const uint32_t lengths[] = { 7, 0xFFFFFFFF };
    for (int combo = 0; combo < VQ_COMBOS; combo++) {
        vq_set_context(vq_combo(combo));
        for (unsigned i = 0; i < 2; i++) {
            struct guard g;
            guard_setup(&g, vq_combo(combo), false);
            sim_evil_push_used(&g.r.sim, g.hb, lengths[i]);
            uint32_t len = 0x1234;
            VCHECK(virtqueue_get_buf(&g.r.vq, &len) == g.b);
            VCHECK_EQ(len, 0);
            g.b->in_flight = false;
            VCHECK(!virtqueue_is_broken(&g.r.vq));
            VCHECK_EQ(env_reports, 0);
            while (virtqueue_detach_unused(&g.r.vq))
                ;
            for (unsigned k = 0; k < POOL_SIZE; k++)
                pool[k].in_flight = false;
            rig_destroy(&g.r);
            VCHECK_EQ(env_outstanding, 0);
        }
    }
}

TEST(virtqueue_breaks_on_used_index_running_ahead)
{
    for (int combo = 0; combo < VQ_COMBOS_SPLIT; combo++) {
        vq_set_context(vq_combo(combo));
        /* Two chains in flight after one completion: used->idx 1 + 3, 1 + 40
         * and 1 - 1 (65535 ahead) are all more than could have completed. */
        static const uint16_t jumps[] = { 3, 40, 0xFFFF };
        for (unsigned v = 0; v < 3; v++) {
            struct guard g;
            guard_setup(&g, vq_combo(combo), false);
            sim_complete(&g.r.sim, g.hc, 1);
            guard_take(&g, g.c);
            sim_evil_set_used_idx(&g.r.sim, (uint16_t)(1 + jumps[v]));
            guard_expect_broken(&g, jumps[v]);
        }
    }
}

/* ---- fuzz: legitimate traffic, now and then a lie ---- */

struct fuzz_counts {
    unsigned long episodes, broken, survived, adds, completions, gets, fallbacks;
};

/* get_buf once; false if it returned a token not in flight or a length
 * beyond what that token's chain could hold. */
static bool fuzz_take(struct rig *r, struct fuzz_counts *n, bool *got)
{
    uint32_t len = 0xFFFFFFFF;
    void *t = virtqueue_get_buf(&r->vq, &len);
    *got = t != NULL;
    if (!t)
        return true;
    struct tok *tk = tok_from_ptr(t);
    if (!tk || !tk->in_flight || len > tk->writable)
        return false;
    tk->in_flight = false; /* a second return of it would now fail */
    n->gets++;
    return true;
}

/* An arbitrary id: usually one that could be a descriptor, sometimes not. */
static uint32_t fuzz_id(uint16_t num)
{
    return rng_below(4) ? rng_below(num + 2u) : rng();
}

static uint32_t fuzz_len(void)
{
    switch (rng_below(3)) {
    case 0: return 0;
    case 1: return rng_below(200);
    default: return rng();
    }
}

/* Writes one kind of garbage into the used ring. */
static void fuzz_lie_packed(struct rig *r)
{
    struct sim *s = &r->sim;
    uint16_t num = r->num;
    const struct vq_packed *p = &r->vq.packed;
    switch (rng_below(4)) {
    case 0: /* any descriptor near the driver's position, any flags */
        sim_packed_evil_write(s, (uint16_t)(p->last_used + rng_below(num)), (uint16_t)fuzz_id(num), fuzz_len(),
                              (uint16_t)rng());
        break;
    case 1:
        sim_evil_push_used(s, fuzz_id(num), fuzz_len());
        break;
    case 2: { /* the driver's next descriptor, with any AVAIL, USED and WRITE bits */
        uint16_t flags = (uint16_t)((rng_below(2) ? VRING_PACKED_DESC_F_AVAIL : 0) |
                                    (rng_below(2) ? VRING_PACKED_DESC_F_USED : 0) |
                                    (rng_below(2) ? VRING_DESC_F_WRITE : 0));
        sim_packed_evil_write(s, p->last_used, (uint16_t)rng_below(num), rng_below(2) ? 0 : fuzz_len(), flags);
        break;
    }
    default: /* several used descriptors with plausible ids */
        for (unsigned k = 1 + rng_below(3); k; k--)
            sim_evil_push_used(s, rng_below(num), rng_below(2) ? 0 : fuzz_len());
        break;
    }
}

static void fuzz_lie(struct rig *r)
{
    struct sim *s = &r->sim;
    uint16_t num = r->num;
    if (s->packed) {
        fuzz_lie_packed(r);
        return;
    }
    switch (rng_below(4)) {
    case 0: /* an entry anywhere near the driver's position */
        sim_evil_write_used(s, (uint16_t)(r->vq.split.last_used_idx + rng_below(num)), fuzz_id(num), fuzz_len());
        break;
    case 1:
        sim_evil_push_used(s, fuzz_id(num), fuzz_len());
        break;
    case 2: /* the used index moved: a little, or anywhere */
        sim_evil_set_used_idx(s, rng_below(2) ? (uint16_t)(s->used_idx + rng_below(num + 4) - 2) : (uint16_t)rng());
        break;
    default: /* several entries with plausible ids */
        for (unsigned k = 1 + rng_below(3); k; k--)
            sim_evil_push_used(s, rng_below(num), rng_below(2) ? 0 : fuzz_len());
        break;
    }
}

/* Ends a queue's life: everything still in flight comes back exactly once
 * through detach_unused, and nothing leaks. */
static bool fuzz_retire(struct rig *r)
{
    bool ok = true;
    void *t;
    while ((t = virtqueue_detach_unused(&r->vq)) != NULL) {
        struct tok *tk = tok_from_ptr(t);
        if (!tk || !tk->in_flight) {
            ok = false;
            break;
        }
        tk->in_flight = false;
    }
    for (unsigned i = 0; i < POOL_SIZE; i++)
        ok = ok && !pool[i].in_flight;
    ok = ok && virtqueue_free_count(&r->vq) == r->num;
    rig_destroy(r);
    return ok && env_outstanding == 0;
}

static void fuzz_start(struct rig *r, unsigned long episode)
{
    uint64_t f = vq_combo((int)(episode % VQ_COMBOS));
    vq_set_context(f);
    /* A packed ring may have any size (2.8.10.1): odd ones too. */
    uint16_t num = vq_packed(f) ? (uint16_t)(2 + rng_below(31)) : (uint16_t)(4u << rng_below(4));
    if (rig_init(r, "fuzzq", num, f) != 0)
        abort();
}

TEST(virtqueue_fuzz_with_lying_device)
{
    struct rig r;
    struct fuzz_counts n = { 0 };
    rng_seed(0xF0220001);
    fuzz_start(&r, n.episodes);
    bool got;
    for (unsigned long it = 0; it < 150000; it++) {
        uint32_t op = rng_below(1000);
        if (op < 330) { /* add */
            unsigned total = 1 + rng_below(TOK_MAX_SG), out = rng_below(total + 1);
            if (rng_below(50) == 0) {
                env_plan_failures(0, 1);
                n.fallbacks++;
            }
            int rc = post(&r.vq, tok_free(), out, total - out, rng());
            env_plan_failures(0, 0);
            LOOP_CHECK(rc == 0 || rc == -ENOSPC || (rc == -EINVAL && total > r.num));
            n.adds += rc == 0;
        } else if (op < 430) { /* the device learns of new buffers */
            if (rng_below(2))
                virtqueue_kick(&r.vq);
            else
                sim_take_all(&r.sim);
        } else if (op < 680) { /* the device completes one, at once or batched */
            if (r.sim.in_flight) {
                uint16_t head = sim_in_flight_head(&r.sim, rng_below(r.sim.in_flight));
                const struct sim_chain *c = sim_chain(&r.sim, head);
                sim_put_used(&r.sim, head, rng_below((uint32_t)c->writable_bytes + 1));
                n.completions++;
            }
            if (rng_below(3))
                sim_flush(&r.sim);
        } else if (op < 920) { /* the driver takes some */
            for (unsigned k = 1 + rng_below(4); k; k--) {
                LOOP_CHECK(fuzz_take(&r, &n, &got));
                if (!got)
                    break;
            }
        } else if (op < 990) { /* interrupt control, as a NAPI poll would */
            switch (rng_below(3)) {
            case 0: virtqueue_disable_cb(&r.vq); break;
            case 1: virtqueue_poll(&r.vq, virtqueue_enable_cb_prepare(&r.vq)); break;
            default: virtqueue_enable_cb(&r.vq); break;
            }
        } else { /* a lie, then whatever the driver makes of it */
            sim_take_all(&r.sim); /* the device holds every chain the lie may name */
            sim_flush(&r.sim);
            fuzz_lie(&r);
            for (unsigned k = rng_below(3); k && r.sim.in_flight; k--) /* true completions after it */
                sim_complete(&r.sim, sim_in_flight_head(&r.sim, 0), 0);
            for (unsigned k = 0; k < 2u * r.num + 8; k++) {
                LOOP_CHECK(fuzz_take(&r, &n, &got));
                if (!got)
                    break;
            }
            if (virtqueue_is_broken(&r.vq)) {
                n.broken++;
                LOOP_CHECK_EQ(env_reports, 1);
                LOOP_CHECK(strstr(env_report_text, "fuzzq") != NULL);
                LOOP_CHECK(virtqueue_get_buf(&r.vq, &(uint32_t){ 0 }) == NULL);
                LOOP_CHECK_EQ(post(&r.vq, tok_free(), 1, 1, 1), -EIO);
                LOOP_CHECK(!virtqueue_kick_prepare(&r.vq));
                LOOP_CHECK(!virtqueue_has_used(&r.vq));
                LOOP_CHECK_EQ(env_reports, 1);
            } else {
                n.survived++; /* the lie happened to look true */
                LOOP_CHECK_EQ(env_reports, 0);
            }
            LOOP_CHECK(fuzz_retire(&r));
            n.episodes++;
            fuzz_start(&r, n.episodes);
            continue;
        }
        /* Honest traffic never breaks the queue nor breaks the protocol. */
        LOOP_CHECK(!virtqueue_is_broken(&r.vq));
        LOOP_CHECK_EQ(env_reports, 0);
        LOOP_CHECK_EQ(r.sim.errors, 0);
        if (it % 16 == 0) {
            LOOP_CHECK(vq_bookkeeping_problem(&r.vq) == NULL);
            LOOP_CHECK_EQ(virtqueue_free_count(&r.vq), expected_free(r.num));
        }
    }
    VCHECK_STR_EQ(r.sim.error, "");
    VCHECK(fuzz_retire(&r));
    vq_set_context(0);
    /* The mix did what it is for: many queues broken, honest traffic flowing. */
    VCHECK(n.episodes >= 800);
    VCHECK(n.broken >= n.episodes / 2);
    VCHECK(n.survived >= 10);
    VCHECK(n.gets >= 20000);
    VCHECK(n.fallbacks >= 100);
    return;
out:
    VCHECK_STR_EQ(r.sim.error, "");
    rig_destroy(&r);
}

/* ---- detaching after a reset ---- */

static void detach_one(uint64_t f)
{
    struct rig r;
    VCHECK_EQ(rig_init(&r, "detq", 16, f), 0);
    struct tok *posted[7];
    for (unsigned i = 0; i < 7; i++) {
        posted[i] = tok_free();
        unsigned total = 1 + i % 4;
        VCHECK_EQ(post(&r.vq, posted[i], total / 2, total - total / 2, i), 0);
    }
    virtqueue_kick(&r.vq);
    sim_take_all(&r.sim);
    /* Two completed and taken, one completed but not taken, four untouched. */
    sim_complete(&r.sim, sim_in_flight_head(&r.sim, 3), 0);
    sim_complete(&r.sim, sim_in_flight_head(&r.sim, 0), 0);
    uint32_t len;
    VCHECK(virtqueue_get_buf(&r.vq, &len) == posted[3]);
    VCHECK(virtqueue_get_buf(&r.vq, &len) == posted[0]);
    posted[3]->in_flight = posted[0]->in_flight = false;
    sim_complete(&r.sim, sim_in_flight_head(&r.sim, 0), 0);

    unsigned seen[7] = { 0 }, count = 0;
    void *t;
    while ((t = virtqueue_detach_unused(&r.vq)) != NULL && count < 20) {
        count++;
        for (unsigned i = 0; i < 7; i++)
            if (t == posted[i])
                seen[i]++;
    }
    VCHECK_EQ(count, 5);
    for (unsigned i = 0; i < 7; i++)
        VCHECK_EQ(seen[i], i == 0 || i == 3 ? 0 : 1);
    VCHECK(virtqueue_detach_unused(&r.vq) == NULL);
    VCHECK_EQ(virtqueue_free_count(&r.vq), 16);
    VCHECK_EQ(env_outstanding, 2); /* the tables went back too */
    /* The split free list is whole at once; packed positions only make sense
     * again after the reset that follows a detach in the driver. */
    if (!vq_packed(f))
        VCHECK_STR_EQ(vq_bookkeeping_problem(&r.vq), NULL);
    VCHECK_EQ(virtqueue_reset(&r.vq), 0);
    VCHECK_STR_EQ(vq_bookkeeping_problem(&r.vq), NULL);
    rig_destroy(&r);
    VCHECK_EQ(env_outstanding, 0);
}

TEST(virtqueue_detach_unused_returns_each_token_once)
{
    for (int combo = 0; combo < VQ_COMBOS; combo++) {
        vq_set_context(vq_combo(combo));
        detach_one(vq_combo(combo));
    }
}

/* ---- dump ---- */

TEST(virtqueue_dump_prints_state)
{
    for (int packed = 0; packed < 2; packed++) {
        uint64_t f = vq_combo(3 | 4 * packed);
        vq_set_context(f);
        struct rig r;
        VCHECK_EQ(rig_init(&r, "dumpq", 8, f), 0);
        VCHECK_EQ(post(&r.vq, tok_free(), 1, 2, 1), 0);
        VCHECK_EQ(post(&r.vq, tok_free(), 0, 1, 2), 0);
        virtqueue_kick(&r.vq);
        char *text = dump_text(&r.vq);
        VCHECK(strstr(text, "dumpq") != NULL);
        VCHECK(strstr(text, packed ? "packed, size 8" : "split, size 8") != NULL);
        VCHECK(strstr(text, packed ? "in flight: id" : "in flight: head") != NULL);
        VCHECK(strstr(text, packed ? "next_avail 2 wrap 1" : "avail_idx 2") != NULL);
        VCHECK(strstr(text, "indirect") != NULL);
        free(text);
        rig_destroy(&r);
        VCHECK_EQ(env_outstanding, 0);
    }
}

/* ---- what add() must refuse (virtio 1.2, 2.7.5: a chain is at most 2^32 bytes) ---- */

TEST(virtqueue_add_rejects_chain_over_4gib)
{
    for (int combo = 0; combo < VQ_COMBOS; combo++) {
        vq_set_context(vq_combo(combo));
        struct rig r;
        VCHECK_EQ(rig_init(&r, "bigq", 8, vq_combo(combo)), 0);
        /* Never handed to the device (no kick), so the addresses are never touched. */
        struct vq_sg sg[3];
        for (unsigned k = 0; k < 3; k++)
            sg[k] = (struct vq_sg){ 0x100000000ULL + k * 0x60000000ULL, 0x60000000 };
        /* 4.5 GiB writable: the sum does not fit the 32-bit count the queue keeps. */
        VCHECK_EQ(virtqueue_add(&r.vq, sg, 0, 3, &sg[0]), -EINVAL);
        /* 4.5 GiB with readable buffers too. */
        VCHECK_EQ(virtqueue_add(&r.vq, sg, 2, 1, &sg[1]), -EINVAL);
        while (virtqueue_detach_unused(&r.vq))
            ;
        rig_destroy(&r);
        VCHECK_EQ(env_outstanding, 0);
    }
}

TEST(virtqueue_add_rejects_buffer_counts_that_overflow)
{
    for (int combo = 0; combo < VQ_COMBOS; combo++) {
        vq_set_context(vq_combo(combo));
        struct rig r;
        VCHECK_EQ(rig_init(&r, "cntq", 8, vq_combo(combo)), 0);
        struct tok *t = tok_free();
        struct vq_sg sg[2] = { { (uint64_t)(uintptr_t)t->data[0], 8 }, { (uint64_t)(uintptr_t)t->data[1], 8 } };
        /* out + in wraps to 1 in an unsigned int. */
        VCHECK_EQ(virtqueue_add(&r.vq, sg, 0xFFFFFFFFu, 2, t), -EINVAL);
        VCHECK_EQ(virtqueue_free_count(&r.vq), 8);
        while (virtqueue_detach_unused(&r.vq))
            ;
        rig_destroy(&r);
        VCHECK_EQ(env_outstanding, 0);
    }
}

/* Recovery after a broken queue (the driver's NEEDS_RESET path): once the
 * device is reset and every buffer detached, virtqueue_reset gives a queue
 * that a fresh device drives normally; it refuses while chains are in flight. */
TEST(virtqueue_reset_after_broken_queue_works_like_new)
{
    for (int combo = 0; combo < VQ_COMBOS; combo++) {
        vq_set_context(vq_combo(combo));
        struct guard g;
        guard_setup(&g, vq_combo(combo), false);
        struct virtqueue *vq = &g.r.vq;
        VCHECK_EQ(virtqueue_reset(vq), -EBUSY); /* buffers still out */
        sim_evil_push_used(&g.r.sim, 1000, 0);
        uint32_t len;
        VCHECK(virtqueue_get_buf(vq, &len) == NULL);
        VCHECK(virtqueue_is_broken(vq));
        void *t;
        while ((t = virtqueue_detach_unused(vq)) != NULL)
            tok_from_ptr(t)->in_flight = false;
        uint64_t completed_before = vq->stats.completed;
        VCHECK_EQ(virtqueue_reset(vq), 0);
        VCHECK(!virtqueue_is_broken(vq));
        VCHECK_EQ(virtqueue_free_count(vq), 8);
        VCHECK_EQ(vq->stats.completed, completed_before);
        /* The device forgot everything: a new one over the same memory. */
        sim_destroy(&g.r.sim);
        sim_init(&g.r.sim, g.r.ring, 8, vq_combo(combo));
        for (unsigned round = 0; round < 20; round++) {
            struct tok *a = tok_free();
            VCHECK_EQ(post(vq, a, 1, 1, round), 0);
            virtqueue_kick(vq);
            sim_take_all(&g.r.sim); /* whether or not the kick was needed */
            VCHECK_EQ(g.r.sim.in_flight, 1);
            VCHECK(sim_complete(&g.r.sim, sim_in_flight_head(&g.r.sim, 0), 1));
            VCHECK(virtqueue_get_buf(vq, &len) == a);
            a->in_flight = false;
        }
        VCHECK_EQ(virtqueue_free_count(vq), 8);
        VCHECK_EQ(env_reports, 1); /* only the original break */
        VCHECK_EQ(g.r.sim.errors, 0);
        rig_destroy(&g.r);
    }
}
