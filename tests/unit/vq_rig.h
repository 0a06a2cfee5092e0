/*
 * What the virtqueue tests share (test_virtqueue.c, test_virtqueue_packed.c):
 * a queue and the simulated device over one ring (a "rig"), the queue's
 * environment (malloc that counts what is out and can fail on purpose, a
 * report hook), tokens with the memory their buffers use, a deterministic
 * random source, and checks that name the feature combination they ran
 * under.
 *
 * Feature combinations are numbered: bit 0 EVENT_IDX, bit 1 INDIRECT_DESC,
 * bit 2 the packed ring. VQ_COMBOS_SPLIT runs the split ones, VQ_COMBOS all.
 */
#ifndef TESTS_UNIT_VQ_RIG_H
#define TESTS_UNIT_VQ_RIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "drivers/virtio/virtqueue.h"
#include "tests/unit/check.h"
#include "tests/unit/virtio_sim.h"

#define VQ_COMBOS_SPLIT 4
#define VQ_COMBOS 8

/* The ring features of combination `combo`. */
uint64_t vq_combo(int combo);
bool vq_packed(uint64_t features);
bool vq_ev(uint64_t features);
bool vq_ind(uint64_t features);

/* Names the combination every failing check below reports. */
void vq_set_context(uint64_t features);
const char *vq_context_text(void);

void vq_check(const char *file, int line, bool ok, const char *expr);
void vq_check_eq(const char *file, int line, const char *ea, const char *eb, struct unit_int a, struct unit_int b);
void vq_check_str(const char *file, int line, const char *ea, const char *eb, const char *a, const char *b);

#define VCHECK(cond) vq_check(__FILE__, __LINE__, (cond), #cond)
#define VCHECK_EQ(a, b) vq_check_eq(__FILE__, __LINE__, #a, #b, UNIT_INT(a), UNIT_INT(b))
#define VCHECK_STR_EQ(a, b) vq_check_str(__FILE__, __LINE__, #a, #b, (a), (b))

/* Inside long loops: report only a failure (one line, not 100,000), then
 * leave through the function's `out:` label, where it cleans up. Each
 * operand is evaluated exactly once: conditions here often have effects. */
#define LOOP_CHECK(cond)                                                 \
    do {                                                                 \
        bool loop_ok_ = (cond);                                          \
        if (!loop_ok_) {                                                 \
            vq_check(__FILE__, __LINE__, false, #cond);                  \
            goto out;                                                    \
        }                                                                \
    } while (0)
#define LOOP_CHECK_EQ(a, b)                                              \
    do {                                                                 \
        struct unit_int loop_a_ = UNIT_INT(a), loop_b_ = UNIT_INT(b);    \
        if (!unit_int_equal(loop_a_, loop_b_)) {                         \
            vq_check_eq(__FILE__, __LINE__, #a, #b, loop_a_, loop_b_);   \
            goto out;                                                    \
        }                                                                \
    } while (0)

/* ---- a deterministic random source (xorshift64*) ---- */

void rng_seed(uint64_t seed);
uint32_t rng(void);
uint32_t rng_below(uint32_t n);

/* ---- the queue's environment ---- */

extern long env_outstanding;       /* allocations not yet freed */
extern unsigned env_fail_allocs;   /* failures still planned */
extern unsigned env_reports;
extern char env_report_text[256];

/* From now: let `pass` allocations succeed, then fail `fail` of them. */
void env_plan_failures(unsigned pass, unsigned fail);
void *env_alloc(size_t bytes);
void env_free(void *p);
void env_report(const char *message);
void env_notify(struct virtqueue *vq, void *ctx);
struct virtqueue_env env_for(struct sim *s);

/* True if `text` holds `value` as a whole decimal number. */
bool mentions_number(const char *text, unsigned long value);

/* ---- tokens: what the driver posts, with the memory its buffers use ---- */

#define TOK_MAX_SG 6
#define TOK_BUF 48
#define POOL_SIZE 64

struct tok {
    bool in_flight;            /* added, not yet returned by get_buf or detach */
    unsigned out, in;
    unsigned descs;            /* ring descriptors we expect the chain to hold */
    uint32_t writable;
    struct vq_sg sg[TOK_MAX_SG];
    uint8_t data[TOK_MAX_SG][TOK_BUF];
};

extern struct tok pool[POOL_SIZE];

struct tok *tok_free(void);
/* The token a pointer names, or NULL if it names none. */
struct tok *tok_from_ptr(const void *p);
/* The token whose memory a chain's first buffer lies in: how a device's
 * buffers lead back to the request (NULL if none). */
struct tok *tok_of_chain(const struct sim_chain *c);
/* Posts t as `out` readable then `in` writable buffers, lengths from `seed`;
 * returns virtqueue_add's verdict. */
int post(struct virtqueue *vq, struct tok *t, unsigned out, unsigned in, uint32_t seed);
/* True if the device saw exactly the buffers t posted. */
bool chain_matches(const struct sim_chain *c, const struct tok *t);
/* Free descriptors the tokens in flight leave of `num`. */
unsigned expected_free(uint16_t num);

/* ---- a queue and its device over one ring ---- */

struct rig {
    struct virtqueue vq;
    struct sim sim;
    void *ring;
    uint16_t num;
    uint64_t features;
};

/* Sets up both sides; returns virtqueue_init's verdict. */
int rig_init(struct rig *r, const char *name, uint16_t num, uint64_t features);
void rig_destroy(struct rig *r);

/* The driver's private bookkeeping, checked whole for either format; NULL
 * if all is well, else what is wrong. */
const char *vq_bookkeeping_problem(const struct virtqueue *vq);

/* Adds `n` one-buffer chains; returns false if one is refused. */
bool add_n(struct rig *r, unsigned n);
/* The device takes, completes and hands back everything. */
bool round_trip_all(struct rig *r);
/* Posts one writable buffer, kicks, and returns its key as the device sees
 * it (SIM_DESC_FREE if the queue refused it). */
uint16_t post_and_take(struct rig *r);
/* Takes every completion; returns how many. */
unsigned take_all(struct rig *r);

/* Completions published but not yet taken by get_buf, oldest first. */
struct pending {
    struct tok *tok[VIRTQUEUE_MAX_SIZE];
    uint32_t len[VIRTQUEUE_MAX_SIZE];
    unsigned head, count;
};

/* The device completes the i-th oldest chain it holds with a random length
 * and notes what get_buf should return; false if the chain is not the one
 * posted. */
bool device_complete(struct rig *r, struct pending *p, unsigned i);
/* Takes one completion through get_buf; false if it is not the oldest
 * pending one, token and length. */
bool driver_take(struct rig *r, struct pending *p);

/* The position the driver reads next, as virtqueue_poll takes it. */
uint16_t driver_mark(const struct virtqueue *vq);
/* A used entry for chain `key` exactly where the driver reads next, looking
 * like a real completion (the sim's own bookkeeping untouched). */
void plant_plausible_used(struct rig *r, uint16_t key);

/* Three chains in flight on a queue of 8: A (1 readable + 2 writable), B
 * (readable only), C (one writable), taken by the device in that order. */
struct guard {
    struct rig r;
    struct tok *a, *b, *c;
    uint16_t ha, hb, hc;
};

/* a_direct: no table for A, a direct chain even with INDIRECT_DESC. */
void guard_setup(struct guard *g, uint64_t features, bool a_direct);
/* Takes one legitimate completion; checks it is `want`. */
void guard_take(struct guard *g, struct tok *want);
/* After the lie: the next get_buf finds it and the queue is broken, says so
 * once (naming itself and the bad value), and refuses all further work; the
 * buffers still come back through detach_unused, and nothing leaks. Ends
 * the guard. */
void guard_expect_broken(struct guard *g, unsigned long bad_value);

/* virtqueue_dump's output as one string (free it). */
char *dump_text(const struct virtqueue *vq);

#endif
