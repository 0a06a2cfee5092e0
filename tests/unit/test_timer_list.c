/*
 * lib/timer_list.c: deadline order, FIFO among equal deadlines, cancel and
 * re-arm, next_deadline, what one run fires (including timers armed,
 * re-armed and cancelled by callbacks during the run), the counters, and a
 * randomized run against a reference model.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/timer_list.h"
#include "tests/unit/check.h"

/* A log of fired timers, by index into a test's array. */
struct fire_log {
    int ids[64];
    int n;
};

struct tfix {
    struct timer_list list;
    struct timer t[16];
    struct fire_log log;
    /* What a timer's callback does besides logging (per timer). */
    int rearm_times[16];     /* re-arm itself this many more times ... */
    uint64_t rearm_deadline[16]; /* ... at this deadline */
    int cancel_other[16];    /* -1, or the index of a timer to cancel */
    int arm_other[16];       /* -1, or the index of a timer to arm ... */
    uint64_t arm_other_deadline[16]; /* ... at this deadline */
    bool cancel_result[16];
};

static void fire(struct timer *t, void *arg)
{
    struct tfix *f = arg;
    int id = (int)(t - f->t);
    if (f->log.n < 64)
        f->log.ids[f->log.n++] = id;
    if (t->armed)
        unit_fail(__FILE__, __LINE__, "timer %d still armed inside its callback", id);
    if (f->rearm_times[id] > 0) {
        f->rearm_times[id]--;
        timer_list_arm(&f->list, t, f->rearm_deadline[id], fire, f);
    }
    if (f->cancel_other[id] >= 0)
        f->cancel_result[id] = timer_list_cancel(&f->list, &f->t[f->cancel_other[id]]);
    if (f->arm_other[id] >= 0)
        timer_list_arm(&f->list, &f->t[f->arm_other[id]], f->arm_other_deadline[id], fire, f);
}

static void fix_init(struct tfix *f)
{
    memset(f, 0, sizeof(*f));
    for (int i = 0; i < 16; i++) {
        f->cancel_other[i] = -1;
        f->arm_other[i] = -1;
    }
}

static void arm(struct tfix *f, int id, uint64_t deadline)
{
    timer_list_arm(&f->list, &f->t[id], deadline, fire, f);
}

/* Checks the log against an expected sequence and clears it. */
static void check_log(struct tfix *f, const int *want, int n, int line)
{
    int i = 0;
    while (i < f->log.n && i < n && f->log.ids[i] == want[i])
        i++;
    if (i == n && i == f->log.n)
        unit_pass();
    else
        unit_fail(__FILE__, line, "fired %d timers, expected %d; at position %d fired %d, expected %d", f->log.n, n, i,
                  i < f->log.n ? f->log.ids[i] : -1, i < n ? want[i] : -1);
    f->log.n = 0;
}
#define CHECK_LOG(f, ...)                                                                  \
    do {                                                                                   \
        static const int want_[] = { __VA_ARGS__ };                                        \
        check_log(f, want_, (int)(sizeof(want_) / sizeof(want_[0])), __LINE__);            \
    } while (0)
#define CHECK_LOG_EMPTY(f) check_log(f, NULL, 0, __LINE__)

TEST(timer_list_empty)
{
    struct tfix f;
    fix_init(&f);
    CHECK_EQ(timer_list_next_deadline(&f.list), TIMER_NEVER);
    CHECK_EQ(timer_list_run(&f.list, UINT64_MAX), 0u);
    CHECK_EQ(f.list.fired, 0u);
    CHECK_LOG_EMPTY(&f);
}

TEST(timer_list_deadline_order)
{
    struct tfix f;
    fix_init(&f);
    arm(&f, 0, 30);
    arm(&f, 1, 10);
    arm(&f, 2, 20);
    arm(&f, 3, 50);
    arm(&f, 4, 40);
    CHECK_EQ(timer_list_next_deadline(&f.list), 10u);
    for (int i = 0; i < 5; i++)
        CHECK(f.t[i].armed);
    CHECK_EQ(timer_list_run(&f.list, 100), 5u);
    CHECK_LOG(&f, 1, 2, 0, 4, 3);
    for (int i = 0; i < 5; i++)
        CHECK(!f.t[i].armed);
    CHECK_EQ(timer_list_next_deadline(&f.list), TIMER_NEVER);
    CHECK_EQ(f.list.fired, 5u);
}

TEST(timer_list_equal_deadlines_fifo)
{
    struct tfix f;
    fix_init(&f);
    arm(&f, 0, 20);
    arm(&f, 1, 20);
    arm(&f, 2, 10);
    arm(&f, 3, 20);
    arm(&f, 4, 10);
    arm(&f, 5, 30);
    arm(&f, 6, 20);
    CHECK_EQ(timer_list_run(&f.list, 100), 7u);
    CHECK_LOG(&f, 2, 4, 0, 1, 3, 6, 5);
}

TEST(timer_list_cancel)
{
    struct tfix f;
    fix_init(&f);
    CHECK(!timer_list_cancel(&f.list, &f.t[0])); /* never armed */
    arm(&f, 0, 10);
    arm(&f, 1, 20);
    arm(&f, 2, 30);
    arm(&f, 3, 40);
    CHECK(timer_list_cancel(&f.list, &f.t[0])); /* head */
    CHECK(!f.t[0].armed);
    CHECK_EQ(timer_list_next_deadline(&f.list), 20u);
    CHECK(timer_list_cancel(&f.list, &f.t[2])); /* middle */
    CHECK(timer_list_cancel(&f.list, &f.t[3])); /* tail */
    CHECK(!timer_list_cancel(&f.list, &f.t[3])); /* twice */
    CHECK(!timer_list_cancel(&f.list, &f.t[0]));
    CHECK_EQ(timer_list_run(&f.list, 100), 1u);
    CHECK_LOG(&f, 1);
    CHECK(!timer_list_cancel(&f.list, &f.t[1])); /* already fired */
    CHECK_EQ(timer_list_next_deadline(&f.list), TIMER_NEVER);

    /* Cancel the only timer: the list is empty again. */
    arm(&f, 5, 7);
    CHECK(timer_list_cancel(&f.list, &f.t[5]));
    CHECK_EQ(timer_list_next_deadline(&f.list), TIMER_NEVER);
    CHECK_EQ(timer_list_run(&f.list, 100), 0u);
    CHECK_LOG_EMPTY(&f);
}

TEST(timer_list_rearm_moves)
{
    struct tfix f;
    fix_init(&f);
    arm(&f, 0, 10);
    arm(&f, 1, 20);
    arm(&f, 0, 30); /* later: no longer first, and on the list once */
    CHECK_EQ(timer_list_next_deadline(&f.list), 20u);
    CHECK_EQ(f.t[0].deadline, 30u);
    CHECK_EQ(timer_list_run(&f.list, 100), 2u);
    CHECK_LOG(&f, 1, 0);

    arm(&f, 0, 30);
    arm(&f, 1, 20);
    arm(&f, 1, 5); /* earlier */
    CHECK_EQ(timer_list_next_deadline(&f.list), 5u);
    CHECK_EQ(timer_list_run(&f.list, 100), 2u);
    CHECK_LOG(&f, 1, 0);

    /* Re-armed at the same deadline: it goes behind the others armed for it. */
    arm(&f, 0, 10);
    arm(&f, 1, 10);
    arm(&f, 2, 10);
    arm(&f, 0, 10);
    CHECK_EQ(timer_list_run(&f.list, 10), 3u);
    CHECK_LOG(&f, 1, 2, 0);
}

TEST(timer_list_run_fires_only_due)
{
    struct tfix f;
    fix_init(&f);
    arm(&f, 0, 10);
    arm(&f, 1, 20);
    arm(&f, 2, 30);
    CHECK_EQ(timer_list_run(&f.list, 9), 0u);
    CHECK_LOG_EMPTY(&f);
    CHECK_EQ(timer_list_run(&f.list, 20), 2u); /* a deadline equal to now is due */
    CHECK_LOG(&f, 0, 1);
    CHECK(f.t[2].armed);
    CHECK_EQ(timer_list_next_deadline(&f.list), 30u);
    CHECK_EQ(timer_list_run(&f.list, 29), 0u);
    CHECK_EQ(timer_list_run(&f.list, 30), 1u);
    CHECK_LOG(&f, 2);
    CHECK_EQ(f.list.fired, 3u);

    /* The extremes of the clock. */
    arm(&f, 3, 0);
    arm(&f, 4, TIMER_NEVER - 1);
    CHECK_EQ(timer_list_run(&f.list, 0), 1u);
    CHECK_LOG(&f, 3);
    CHECK_EQ(timer_list_next_deadline(&f.list), TIMER_NEVER - 1);
    CHECK_EQ(timer_list_run(&f.list, TIMER_NEVER - 2), 0u);
    CHECK_EQ(timer_list_run(&f.list, TIMER_NEVER - 1), 1u);
    CHECK_LOG(&f, 4);
}

TEST(timer_list_self_rearm_fires_next_run)
{
    struct tfix f;
    fix_init(&f);
    f.rearm_times[0] = 2;
    f.rearm_deadline[0] = 50; /* already due at the run's now */
    arm(&f, 0, 10);
    arm(&f, 1, 60);
    CHECK_EQ(timer_list_run(&f.list, 100), 2u);
    CHECK_LOG(&f, 0, 1); /* 0 fired once, not again after re-arming */
    CHECK(f.t[0].armed);
    CHECK_EQ(timer_list_next_deadline(&f.list), 50u);
    CHECK_EQ(timer_list_run(&f.list, 100), 1u);
    CHECK_LOG(&f, 0);
    CHECK_EQ(timer_list_run(&f.list, 100), 1u);
    CHECK_LOG(&f, 0);
    CHECK(!f.t[0].armed);
    CHECK_EQ(timer_list_run(&f.list, 100), 0u);
    CHECK_EQ(f.list.fired, 4u);

    /* Re-armed for the future: fires when that comes. */
    f.rearm_times[2] = 1;
    f.rearm_deadline[2] = 200;
    arm(&f, 2, 100);
    CHECK_EQ(timer_list_run(&f.list, 150), 1u);
    CHECK_EQ(timer_list_run(&f.list, 199), 0u);
    CHECK_EQ(timer_list_run(&f.list, 200), 1u);
    CHECK_LOG(&f, 2, 2);
}

TEST(timer_list_callback_cancels_due_timer)
{
    struct tfix f;
    fix_init(&f);
    f.cancel_other[0] = 1;
    arm(&f, 0, 10);
    arm(&f, 1, 20);
    arm(&f, 2, 30);
    CHECK_EQ(timer_list_run(&f.list, 100), 2u);
    CHECK_LOG(&f, 0, 2);
    CHECK(f.cancel_result[0]);
    CHECK(!f.t[1].armed);
    CHECK_EQ(f.list.fired, 2u);

    /* Cancelling one that already fired in this run reports false. */
    fix_init(&f);
    f.cancel_other[1] = 0;
    arm(&f, 0, 10);
    arm(&f, 1, 20);
    CHECK_EQ(timer_list_run(&f.list, 100), 2u);
    CHECK_LOG(&f, 0, 1);
    CHECK(!f.cancel_result[1]);
}

TEST(timer_list_callback_arms_due_timer)
{
    struct tfix f;
    fix_init(&f);
    /* 0 arms 3 for a deadline before every pending due timer: it must wait
     * for the next run, and 1 and 2 still fire in this one. */
    f.arm_other[0] = 3;
    f.arm_other_deadline[0] = 5;
    arm(&f, 0, 10);
    arm(&f, 1, 20);
    arm(&f, 2, 20);
    CHECK_EQ(timer_list_run(&f.list, 100), 3u);
    CHECK_LOG(&f, 0, 1, 2);
    CHECK(f.t[3].armed);
    CHECK_EQ(timer_list_next_deadline(&f.list), 5u);
    CHECK_EQ(timer_list_run(&f.list, 100), 1u);
    CHECK_LOG(&f, 3);

    /* A callback re-arms another due timer that was armed before the run:
     * that moves it into this run's "armed during the run" set. */
    fix_init(&f);
    f.arm_other[0] = 1;
    f.arm_other_deadline[0] = 15;
    arm(&f, 0, 10);
    arm(&f, 1, 20);
    arm(&f, 2, 30);
    CHECK_EQ(timer_list_run(&f.list, 100), 2u);
    CHECK_LOG(&f, 0, 2);
    CHECK_EQ(timer_list_run(&f.list, 100), 1u);
    CHECK_LOG(&f, 1);
    CHECK_EQ(f.list.fired, 3u);
}

TEST(timer_list_arm_between_runs_fires)
{
    /* Timers armed between runs are not held back a run. */
    struct tfix f;
    fix_init(&f);
    arm(&f, 0, 10);
    CHECK_EQ(timer_list_run(&f.list, 10), 1u);
    arm(&f, 1, 5);
    CHECK_EQ(timer_list_run(&f.list, 10), 1u);
    CHECK_LOG(&f, 0, 1);
}

/* ---- randomized, against a model ---- */

/* xorshift64*: a fixed seed gives the same run everywhere. */
static uint64_t rng_state;
static uint64_t rng(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1DULL;
}

#define RT 12 /* timers */

/* The model: a timer is armed with a deadline and a sequence number; the
 * next to fire in a run is the armed one with the smallest (deadline,
 * sequence) among those due and armed before the run began. */
struct model_timer {
    bool armed;
    uint64_t deadline, seq, run;
};
struct model {
    struct model_timer t[RT];
    uint64_t seq, runs;
};

static void model_arm(struct model *m, int i, uint64_t deadline)
{
    m->t[i] = (struct model_timer){ true, deadline, m->seq++, m->runs };
}

static bool model_cancel(struct model *m, int i)
{
    bool was = m->t[i].armed;
    m->t[i].armed = false;
    return was;
}

static uint64_t model_next_deadline(const struct model *m)
{
    uint64_t d = TIMER_NEVER;
    for (int i = 0; i < RT; i++)
        if (m->t[i].armed && m->t[i].deadline < d)
            d = m->t[i].deadline;
    return d;
}

static int model_pick(const struct model *m, uint64_t now, uint64_t this_run)
{
    int best = -1;
    for (int i = 0; i < RT; i++) {
        const struct model_timer *t = &m->t[i];
        if (!t->armed || t->deadline > now || t->run >= this_run)
            continue;
        if (best < 0 || t->deadline < m->t[best].deadline ||
            (t->deadline == m->t[best].deadline && t->seq < m->t[best].seq))
            best = i;
    }
    return best;
}

/* What the real callbacks did, in order, for the model to replay. */
enum action_kind { ACT_NONE, ACT_ARM, ACT_CANCEL };
struct action {
    int fired;
    enum action_kind kind;
    int target;
    uint64_t deadline;
    bool cancel_result;
};

struct rfix {
    struct timer_list list;
    struct timer t[RT];
    struct action acts[4 * RT];
    int n_acts;
    uint64_t now;
};

static void random_fire(struct timer *t, void *arg)
{
    struct rfix *f = arg;
    struct action *a = &f->acts[f->n_acts < 4 * RT ? f->n_acts++ : 4 * RT - 1];
    *a = (struct action){ (int)(t - f->t), ACT_NONE, 0, 0, false };
    uint64_t r = rng();
    if (r % 3 == 1) {
        a->kind = ACT_ARM;
        a->target = (int)((r >> 8) % RT); /* may be itself */
        a->deadline = f->now - 20 + (r >> 16) % 60; /* some due now */
        timer_list_arm(&f->list, &f->t[a->target], a->deadline, random_fire, f);
    } else if (r % 3 == 2) {
        a->kind = ACT_CANCEL;
        a->target = (int)((r >> 8) % RT);
        a->cancel_result = timer_list_cancel(&f->list, &f->t[a->target]);
    }
}

TEST(timer_list_randomized_against_model)
{
    static struct rfix f;
    static struct model m;
    memset(&f, 0, sizeof(f));
    memset(&m, 0, sizeof(m));
    rng_state = 0x9E3779B97F4A7C15ull;
    f.now = 1000;
    unsigned mismatches = 0, total_fired = 0;

    for (int step = 0; step < 20000 && mismatches < 5; step++) {
        uint64_t r = rng();
        int i = (int)((r >> 8) % RT);
        switch (r % 4) {
        case 0:
        case 1: {
            uint64_t d = f.now + ((r >> 16) % 10) * 10; /* few distinct values: equal deadlines are common */
            timer_list_arm(&f.list, &f.t[i], d, random_fire, &f);
            model_arm(&m, i, d);
            break;
        }
        case 2: {
            bool got = timer_list_cancel(&f.list, &f.t[i]);
            bool want = model_cancel(&m, i);
            if (got != want) {
                unit_fail(__FILE__, __LINE__, "step %d: cancel(%d) = %d, model %d", step, i, got, want);
                mismatches++;
            }
            break;
        }
        default: {
            f.now += (r >> 16) % 40;
            f.n_acts = 0;
            unsigned fired = timer_list_run(&f.list, f.now);
            total_fired += fired;
            /* Replay on the model, checking each fired timer was the model's choice. */
            uint64_t this_run = ++m.runs;
            for (int k = 0; k < f.n_acts; k++) {
                const struct action *a = &f.acts[k];
                int want = model_pick(&m, f.now, this_run);
                if (want != a->fired) {
                    unit_fail(__FILE__, __LINE__, "step %d: fired timer %d, model expects %d", step, a->fired, want);
                    mismatches++;
                    break;
                }
                m.t[want].armed = false;
                if (a->kind == ACT_ARM) {
                    model_arm(&m, a->target, a->deadline);
                    m.t[a->target].run = this_run;
                } else if (a->kind == ACT_CANCEL) {
                    bool w = model_cancel(&m, a->target);
                    if (w != a->cancel_result) {
                        unit_fail(__FILE__, __LINE__, "step %d: cancel(%d) in a callback = %d, model %d", step,
                                  a->target, a->cancel_result, w);
                        mismatches++;
                    }
                }
            }
            if (model_pick(&m, f.now, this_run) >= 0) {
                unit_fail(__FILE__, __LINE__, "step %d: run stopped with timer %d still due", step,
                          model_pick(&m, f.now, this_run));
                mismatches++;
            }
            if (fired != (unsigned)f.n_acts) {
                unit_fail(__FILE__, __LINE__, "step %d: run returned %u, %d callbacks ran", step, fired, f.n_acts);
                mismatches++;
            }
            break;
        }
        }
        uint64_t nd = timer_list_next_deadline(&f.list), want_nd = model_next_deadline(&m);
        if (nd != want_nd) {
            unit_fail(__FILE__, __LINE__, "step %d: next_deadline %llu, model %llu", step, (unsigned long long)nd,
                      (unsigned long long)want_nd);
            mismatches++;
        }
        for (int k = 0; k < RT; k++)
            if (f.t[k].armed != m.t[k].armed) {
                unit_fail(__FILE__, __LINE__, "step %d: timer %d armed %d, model %d", step, k, f.t[k].armed,
                          m.t[k].armed);
                mismatches++;
            }
    }
    CHECK_EQ(mismatches, 0u);
    CHECK_EQ(f.list.fired, total_fired);
    CHECK(total_fired > 1000); /* the run exercised firing, not just arming */
}
