/*
 * Deadline-ordered list of caller-owned timers (no allocation: the caller
 * embeds a struct timer). Only the main loop touches it, never an interrupt
 * handler, so it needs no locking. Pure logic, unit-tested on the host.
 */
#ifndef LIB_TIMER_LIST_H
#define LIB_TIMER_LIST_H

#include <stdbool.h>
#include <stdint.h>

#define TIMER_NEVER UINT64_MAX

struct timer;
typedef void (*timer_fn)(struct timer *timer, void *arg);

struct timer {
    uint64_t deadline; /* ns on the kernel clock */
    timer_fn fn;
    void *arg;
    struct timer *next;
    bool armed;
    uint64_t armed_in_run; /* list->runs when armed: see timer_list_run */
};

struct timer_list {
    struct timer *head;
    uint64_t runs;
    uint64_t fired;
};

/* Arms (or re-arms) `t` for `deadline`; timers with equal deadlines fire in the order they were armed. */
void timer_list_arm(struct timer_list *list, struct timer *t, uint64_t deadline, timer_fn fn, void *arg);

/* Disarms `t`; returns whether it was armed. */
bool timer_list_cancel(struct timer_list *list, struct timer *t);

/* The earliest deadline, or TIMER_NEVER. */
uint64_t timer_list_next_deadline(const struct timer_list *list);

/* Fires every timer due at `now`, earliest first; returns how many fired.
 * Callbacks may arm and cancel any timer; one armed during this run fires
 * on a later run even if already due, so a run always ends. */
unsigned timer_list_run(struct timer_list *list, uint64_t now);

#endif
