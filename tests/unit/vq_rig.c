/*
 * The virtqueue tests' shared rig (see vq_rig.h).
 */
#include "tests/unit/vq_rig.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "lib/errno.h"

/* ---- checks that name the feature combination they ran under ---- */

static char vq_context[64] = "";

uint64_t vq_combo(int combo)
{
    return (combo & 1 ? VIRTIO_F_RING_EVENT_IDX : 0) | (combo & 2 ? VIRTIO_F_RING_INDIRECT_DESC : 0) |
           (combo & 4 ? VIRTIO_F_RING_PACKED : 0);
}

void vq_set_context(uint64_t features)
{
    strcpy(vq_context, features & VIRTIO_F_RING_PACKED ? "packed" : "split");
    strcat(vq_context, features & VIRTIO_F_RING_EVENT_IDX ? ", event_idx" : ", no event_idx");
    strcat(vq_context, features & VIRTIO_F_RING_INDIRECT_DESC ? ", indirect" : ", no indirect");
}

bool vq_packed(uint64_t features) { return features & VIRTIO_F_RING_PACKED; }
bool vq_ev(uint64_t features) { return features & VIRTIO_F_RING_EVENT_IDX; }
bool vq_ind(uint64_t features) { return features & VIRTIO_F_RING_INDIRECT_DESC; }

const char *vq_context_text(void)
{
    return vq_context;
}

void vq_check(const char *file, int line, bool ok, const char *expr)
{
    if (ok)
        unit_pass();
    else
        unit_fail(file, line, "CHECK(%s) [%s]", expr, vq_context);
}

void vq_check_eq(const char *file, int line, const char *ea, const char *eb, struct unit_int a,
                        struct unit_int b)
{
    if (unit_int_equal(a, b)) {
        unit_pass();
        return;
    }
    unit_fail(file, line, "CHECK_EQ(%s, %s): %lld (0x%llx) != %lld (0x%llx) [%s]", ea, eb, (long long)a.bits,
              a.bits, (long long)b.bits, b.bits, vq_context);
}

void vq_check_str(const char *file, int line, const char *ea, const char *eb, const char *a, const char *b)
{
    if ((!a && !b) || (a && b && strcmp(a, b) == 0)) {
        unit_pass();
        return;
    }
    unit_fail(file, line, "CHECK_STR_EQ(%s, %s): \"%s\" != \"%s\" [%s]", ea, eb, a ? a : "(NULL)", b ? b : "(NULL)",
              vq_context);
}

/* ---- a deterministic random source (xorshift64*) ---- */

static uint64_t rng_state;

void rng_seed(uint64_t seed)
{
    rng_state = seed ? seed : 1;
}

uint32_t rng(void)
{
    uint64_t x = rng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return (uint32_t)((x * 0x2545F4914F6CDD1DULL) >> 32);
}

uint32_t rng_below(uint32_t n)
{
    return n ? rng() % n : 0;
}

/* ---- the queue's environment ---- */

long env_outstanding;
static unsigned env_pass_allocs;   /* let this many allocations succeed, */
unsigned env_fail_allocs;          /* then fail this many */
unsigned env_reports;
char env_report_text[256];

void env_plan_failures(unsigned pass, unsigned fail)
{
    env_pass_allocs = pass;
    env_fail_allocs = fail;
}

void *env_alloc(size_t bytes)
{
    if (env_pass_allocs)
        env_pass_allocs--;
    else if (env_fail_allocs) {
        env_fail_allocs--;
        return NULL;
    }
    void *p = malloc(bytes ? bytes : 1);
    if (!p)
        abort();
    memset(p, 0xCC, bytes); /* the queue must not expect zeroed memory */
    env_outstanding++;
    return p;
}

void env_free(void *p)
{
    if (p)
        env_outstanding--;
    free(p);
}

void env_report(const char *message)
{
    env_reports++;
    size_t n = strnlen(message, sizeof(env_report_text) - 1);
    memcpy(env_report_text, message, n);
    env_report_text[n] = '\0';
}

void env_notify(struct virtqueue *vq, void *ctx)
{
    (void)vq;
    sim_kick(ctx);
}

struct virtqueue_env env_for(struct sim *s)
{
    return (struct virtqueue_env){ env_notify, env_alloc, env_free, env_report, s };
}

/* True if `text` holds `value` as a whole decimal number. */
bool mentions_number(const char *text, unsigned long value)
{
    char digits[24];
    sprintf(digits, "%lu", value);
    size_t n = strlen(digits);
    for (const char *p = strstr(text, digits); p; p = strstr(p + 1, digits)) {
        bool starts = p == text || p[-1] < '0' || p[-1] > '9';
        bool ends = p[n] < '0' || p[n] > '9';
        if (starts && ends)
            return true;
    }
    return false;
}

/* ---- tokens: what the driver posts, with the memory its buffers use ---- */

struct tok pool[POOL_SIZE];

struct tok *tok_free(void)
{
    for (unsigned i = 0; i < POOL_SIZE; i++)
        if (!pool[i].in_flight)
            return &pool[i];
    abort();
}

/* The token a pointer names, or NULL if it names none. */
struct tok *tok_from_ptr(const void *p)
{
    uintptr_t a = (uintptr_t)p, base = (uintptr_t)pool;
    if (a < base || a >= base + sizeof(pool) || (a - base) % sizeof(struct tok))
        return NULL;
    return (struct tok *)p;
}

/* The token whose memory a chain's first buffer lies in: how a device's
 * buffers lead back to the request (NULL if none). */
struct tok *tok_of_chain(const struct sim_chain *c)
{
    if (!c || c->nbufs == 0)
        return NULL;
    uintptr_t a = (uintptr_t)c->bufs[0].addr, base = (uintptr_t)pool;
    if (a < base || a >= base + sizeof(pool))
        return NULL;
    return &pool[(a - base) / sizeof(struct tok)];
}

/* Posts t as `out` readable then `in` writable buffers, lengths from `seed`;
 * returns virtqueue_add's verdict. */
int post(struct virtqueue *vq, struct tok *t, unsigned out, unsigned in, uint32_t seed)
{
    unsigned total = out + in;
    if (total > TOK_MAX_SG)
        abort();
    t->out = out;
    t->in = in;
    t->writable = 0;
    for (unsigned k = 0; k < total; k++) {
        uint32_t len = 1 + (seed * 7 + k * 13) % TOK_BUF;
        t->sg[k] = (struct vq_sg){ (uint64_t)(uintptr_t)t->data[k], len };
        memset(t->data[k], (int)(k + 1), TOK_BUF);
        if (k >= out)
            t->writable += len;
    }
    uint64_t tables = vq->stats.indirect;
    int rc = virtqueue_add(vq, t->sg, out, in, t);
    /* A table when the queue says it used one (the device's view of the
     * chain is checked against this wherever the device takes it). */
    t->descs = vq->stats.indirect != tables ? 1 : total;
    if (rc == 0)
        t->in_flight = true;
    return rc;
}

/* True if the device saw exactly the buffers t posted. */
bool chain_matches(const struct sim_chain *c, const struct tok *t)
{
    if (!c || !t || c->nbufs != t->out + t->in || c->writable_bytes != t->writable)
        return false;
    for (unsigned k = 0; k < c->nbufs; k++)
        if (c->bufs[k].addr != t->sg[k].addr || c->bufs[k].len != t->sg[k].len ||
            c->bufs[k].writable != (k >= t->out))
            return false;
    return true;
}

unsigned expected_free(uint16_t num)
{
    unsigned used = 0;
    for (unsigned i = 0; i < POOL_SIZE; i++)
        if (pool[i].in_flight)
            used += pool[i].descs;
    return num - used;
}

/* ---- a queue and its device over one ring ---- */

/* Sets up both sides; returns virtqueue_init's verdict. */
int rig_init(struct rig *r, const char *name, uint16_t num, uint64_t features)
{
    env_plan_failures(0, 0);
    env_reports = 0;
    env_report_text[0] = '\0';
    for (unsigned i = 0; i < POOL_SIZE; i++)
        pool[i].in_flight = false;
    r->num = num;
    r->features = features;
    /* Rounded up to the alignment, as aligned_alloc wants. */
    size_t bytes = (size_t)vring_align(virtqueue_ring_bytes(num, features), VRING_LEGACY_ALIGN);
    r->ring = aligned_alloc(VRING_LEGACY_ALIGN, bytes);
    if (!r->ring)
        abort();
    memset(r->ring, 0, bytes);
    struct virtqueue_env env = env_for(&r->sim);
    int rc = virtqueue_init(&r->vq, name, 0, num, r->ring, features, &env);
    sim_init(&r->sim, r->ring, num, features);
    return rc;
}

void rig_destroy(struct rig *r)
{
    virtqueue_destroy(&r->vq);
    sim_destroy(&r->sim);
    free(r->ring);
    r->ring = NULL;
}

/* Split: the free list runs from free_head through links[] to the 0xFFFF
 * sentinel and holds num_free descriptors; each chain in flight holds
 * `descs` descriptors linked the same way in links[] and (with NEXT) in the
 * ring; together they reach every descriptor exactly once. */
static const char *split_bookkeeping_problem(const struct virtqueue *vq)
{
    static char problem[128];
    uint16_t num = vq->num;
    unsigned char seen[VIRTQUEUE_MAX_SIZE] = { 0 };
    unsigned count = 0;
    for (uint16_t i = vq->free_head; i != 0xFFFF; i = vq->links[i]) {
        if (i >= num || seen[i] || ++count > num) {
            sprintf(problem, "free list reaches %u twice or out of range", i);
            return problem;
        }
        seen[i] = 1;
    }
    if (count != vq->num_free) {
        sprintf(problem, "free list holds %u, num_free says %u", count, vq->num_free);
        return problem;
    }
    unsigned chains = 0;
    for (uint16_t h = 0; h < num; h++) {
        const struct vq_desc_state *st = &vq->state[h];
        if (!st->token)
            continue;
        chains++;
        uint16_t d = h;
        for (unsigned k = 0; k < st->descs; k++) {
            if (d >= num || seen[d]) {
                sprintf(problem, "chain %u reaches %u twice or out of range", h, d);
                return problem;
            }
            seen[d] = 1;
            bool last = k + 1 == st->descs;
            const struct vring_desc *rd = &vq->split.vring.desc[d];
            if (!last && (!(rd->flags & VRING_DESC_F_NEXT) || rd->next != vq->links[d])) {
                sprintf(problem, "chain %u: ring link at %u differs from the shadow", h, d);
                return problem;
            }
            if (last && (rd->flags & VRING_DESC_F_NEXT)) {
                sprintf(problem, "chain %u: last descriptor %u has NEXT", h, d);
                return problem;
            }
            d = vq->links[d];
        }
    }
    if (chains != vq->chains_in_flight) {
        sprintf(problem, "%u heads hold tokens, chains_in_flight says %u", chains, vq->chains_in_flight);
        return problem;
    }
    for (uint16_t i = 0; i < num; i++)
        if (!seen[i]) {
            sprintf(problem, "descriptor %u is neither free nor in a chain", i);
            return problem;
        }
    return NULL;
}

/* Packed: the id free list runs from free_head through links[] to 0xFFFF,
 * never through an id in flight, and with the ids in flight makes every id
 * once; the chains in flight hold num - num_free descriptors, exactly the
 * stretch from where the device writes its next used descriptor to where
 * we make the next one available. */
static const char *packed_bookkeeping_problem(const struct virtqueue *vq)
{
    static char problem[160];
    uint16_t num = vq->num;
    unsigned char seen[VIRTQUEUE_MAX_SIZE] = { 0 };
    unsigned free_ids = 0, chains = 0, descs = 0;
    for (uint16_t i = vq->free_head; i != 0xFFFF; i = vq->links[i]) {
        if (i >= num || seen[i] || ++free_ids > num) {
            sprintf(problem, "id free list reaches %u twice or out of range", i);
            return problem;
        }
        if (vq->state[i].token) {
            sprintf(problem, "id %u is on the free list and in flight", i);
            return problem;
        }
        seen[i] = 1;
    }
    for (uint16_t i = 0; i < num; i++) {
        const struct vq_desc_state *st = &vq->state[i];
        if (!st->token) {
            if (!seen[i]) {
                sprintf(problem, "id %u is neither free nor in flight", i);
                return problem;
            }
            continue;
        }
        chains++;
        descs += st->descs;
        if (st->descs == 0 || (st->indirect && st->descs != 1)) {
            sprintf(problem, "id %u holds %u descriptors%s", i, st->descs, st->indirect ? " with a table" : "");
            return problem;
        }
    }
    if (chains != vq->chains_in_flight || descs != (unsigned)(num - vq->num_free)) {
        sprintf(problem, "%u chains hold %u descriptors; chains_in_flight %u, num_free %u of %u", chains, descs,
                vq->chains_in_flight, vq->num_free, num);
        return problem;
    }
    const struct vq_packed *p = &vq->packed;
    unsigned stretch = p->avail_wrap == p->used_wrap ? (unsigned)(p->next_avail - p->last_used)
                                                     : (unsigned)(p->next_avail + num - p->last_used);
    if (p->next_avail >= num || p->last_used >= num || stretch != descs ||
        (p->avail_wrap == p->used_wrap && p->next_avail < p->last_used)) {
        sprintf(problem, "next_avail %u wrap %u, last_used %u wrap %u: not %u descriptors apart", p->next_avail,
                p->avail_wrap, p->last_used, p->used_wrap, descs);
        return problem;
    }
    return NULL;
}

const char *vq_bookkeeping_problem(const struct virtqueue *vq)
{
    return vq->format == VIRTQUEUE_PACKED ? packed_bookkeeping_problem(vq) : split_bookkeeping_problem(vq);
}


bool add_n(struct rig *r, unsigned n)
{
    for (unsigned k = 0; k < n; k++)
        if (post(&r->vq, tok_free(), 0, 1, k) != 0)
            return false;
    return true;
}

bool round_trip_all(struct rig *r)
{
    sim_take_all(&r->sim);
    while (r->sim.in_flight)
        sim_complete(&r->sim, sim_in_flight_head(&r->sim, 0), 0);
    uint32_t len;
    void *t;
    while ((t = virtqueue_get_buf(&r->vq, &len)) != NULL) {
        if (!tok_from_ptr(t) || !((struct tok *)t)->in_flight)
            return false;
        ((struct tok *)t)->in_flight = false;
    }
    return virtqueue_free_count(&r->vq) == r->num;
}

uint16_t post_and_take(struct rig *r)
{
    if (post(&r->vq, tok_free(), 0, 1, 3) != 0)
        return SIM_DESC_FREE;
    virtqueue_kick(&r->vq);
    sim_take_all(&r->sim);
    return sim_in_flight_head(&r->sim, r->sim.in_flight - 1);
}

unsigned take_all(struct rig *r)
{
    unsigned n = 0;
    uint32_t len;
    void *t;
    while ((t = virtqueue_get_buf(&r->vq, &len)) != NULL) {
        if (tok_from_ptr(t))
            ((struct tok *)t)->in_flight = false;
        n++;
    }
    return n;
}

static void pending_push(struct pending *p, struct tok *t, uint32_t len)
{
    unsigned i = (p->head + p->count++) % VIRTQUEUE_MAX_SIZE;
    p->tok[i] = t;
    p->len[i] = len;
}

bool device_complete(struct rig *r, struct pending *p, unsigned i)
{
    uint16_t head = sim_in_flight_head(&r->sim, i);
    const struct sim_chain *c = sim_chain(&r->sim, head);
    struct tok *t = tok_of_chain(c);
    if (!chain_matches(c, t) || c->ring_descs != t->descs || c->indirect != (t->descs == 1 && c->nbufs > 1))
        return false;
    uint32_t len = rng_below((uint32_t)c->writable_bytes + 1);
    sim_complete(&r->sim, head, len);
    pending_push(p, t, len);
    return true;
}

bool driver_take(struct rig *r, struct pending *p)
{
    uint32_t len = 0xDEADBEEF;
    void *t = virtqueue_get_buf(&r->vq, &len);
    if (p->count == 0)
        return t == NULL;
    bool ok = t == p->tok[p->head] && len == p->len[p->head];
    if (ok)
        p->tok[p->head]->in_flight = false;
    p->head = (p->head + 1) % VIRTQUEUE_MAX_SIZE;
    p->count--;
    return ok;
}

static FILE *dump_out;

static void dump_print(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(dump_out, fmt, ap);
    va_end(ap);
}

char *dump_text(const struct virtqueue *vq)
{
    char *text = NULL;
    size_t len = 0;
    dump_out = open_memstream(&text, &len);
    if (!dump_out)
        abort();
    virtqueue_dump(vq, dump_print);
    fclose(dump_out);
    return text;
}

/* ---- a guard: three chains in flight for the defence tests ---- */

uint16_t driver_mark(const struct virtqueue *vq)
{
    if (vq->format == VIRTQUEUE_PACKED)
        return vring_packed_off_wrap(vq->packed.last_used, vq->packed.used_wrap);
    return vq->split.last_used_idx;
}

void plant_plausible_used(struct rig *r, uint16_t key)
{
    const struct virtqueue *vq = &r->vq;
    if (vq->format == VIRTQUEUE_PACKED) {
        sim_packed_evil_write(&r->sim, vq->packed.last_used, key, 0, vring_packed_used_flags(vq->packed.used_wrap));
    } else {
        sim_evil_write_used(&r->sim, vq->split.last_used_idx, key, 0);
        sim_evil_set_used_idx(&r->sim, (uint16_t)(vq->split.last_used_idx + 1));
    }
}

void guard_setup(struct guard *g, uint64_t features, bool a_direct)
{
    VCHECK_EQ(rig_init(&g->r, "guardq", 8, features), 0);
    g->a = tok_free();
    if (a_direct)
        env_plan_failures(0, 1); /* no table for A: a direct chain even with the feature */
    VCHECK_EQ(post(&g->r.vq, g->a, 1, 2, 1), 0);
    g->b = tok_free();
    VCHECK_EQ(post(&g->r.vq, g->b, 1, 0, 2), 0);
    g->c = tok_free();
    VCHECK_EQ(post(&g->r.vq, g->c, 0, 1, 3), 0);
    virtqueue_kick(&g->r.vq);
    sim_take_all(&g->r.sim); /* these tests are not about kicks */
    VCHECK_EQ(g->r.sim.in_flight, 3);
    g->ha = sim_in_flight_head(&g->r.sim, 0);
    g->hb = sim_in_flight_head(&g->r.sim, 1);
    g->hc = sim_in_flight_head(&g->r.sim, 2);
    VCHECK(tok_of_chain(sim_chain(&g->r.sim, g->ha)) == g->a);
}

void guard_take(struct guard *g, struct tok *want)
{
    uint32_t len;
    void *t = virtqueue_get_buf(&g->r.vq, &len);
    VCHECK(t == want);
    if (t == want)
        want->in_flight = false;
}

void guard_expect_broken(struct guard *g, unsigned long bad_value)
{
    struct virtqueue *vq = &g->r.vq;
    uint32_t len = 0x1234;
    VCHECK(virtqueue_get_buf(vq, &len) == NULL);
    VCHECK(virtqueue_is_broken(vq));
    VCHECK_EQ(env_reports, 1);
    VCHECK(strstr(env_report_text, "guardq") != NULL);
    if (!mentions_number(env_report_text, bad_value))
        unit_fail(__FILE__, __LINE__, "report \"%s\" does not mention %lu [%s]", env_report_text, bad_value,
                  vq_context_text());
    else
        unit_pass();

    VCHECK(virtqueue_get_buf(vq, &len) == NULL);
    sim_evil_push_used(&g->r.sim, 5000, 5000); /* more lies: no second report */
    VCHECK(virtqueue_get_buf(vq, &len) == NULL);
    VCHECK_EQ(env_reports, 1);
    /* Now a used ring that looks perfectly good: still nothing. */
    uint16_t held = sim_in_flight_head(&g->r.sim, 0);
    VCHECK(held != SIM_DESC_FREE);
    plant_plausible_used(&g->r, held);
    VCHECK(virtqueue_get_buf(vq, &len) == NULL);
    VCHECK(!virtqueue_has_used(vq));
    VCHECK(!virtqueue_poll(vq, driver_mark(vq)));
    unsigned long added = vq->stats.added, kicks = g->r.sim.kicks;
    VCHECK_EQ(post(vq, tok_free(), 1, 0, 9), -EIO);
    VCHECK_EQ(post(vq, tok_free(), 1, 2, 9), -EIO);
    VCHECK_EQ(vq->stats.added, added);
    VCHECK(!virtqueue_kick_prepare(vq));
    VCHECK(!virtqueue_kick(vq));
    VCHECK_EQ(g->r.sim.kicks, kicks);

    unsigned in_flight = 0, detached = 0;
    for (unsigned i = 0; i < POOL_SIZE; i++)
        in_flight += pool[i].in_flight;
    void *t;
    while ((t = virtqueue_detach_unused(vq)) != NULL) {
        struct tok *tk = tok_from_ptr(t);
        VCHECK(tk && tk->in_flight);
        if (!tk || !tk->in_flight)
            break;
        tk->in_flight = false;
        detached++;
    }
    VCHECK_EQ(detached, in_flight);
    VCHECK_EQ(virtqueue_free_count(vq), 8);
    VCHECK_EQ(g->r.sim.errors, 0);
    VCHECK_STR_EQ(g->r.sim.error, "");
    rig_destroy(&g->r);
    VCHECK_EQ(env_outstanding, 0);
}
