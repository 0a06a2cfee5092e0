/*
 * Deferred polling, after Linux's NAPI: an interrupt handler only schedules
 * a poll context; the main loop calls each scheduled poll with a budget. A
 * poll that finishes early calls napi_complete (and re-enables its device's
 * interrupts); one that uses its whole budget stays scheduled and runs again
 * after timers and the other polls had their turn.
 */
#ifndef LIB_NAPI_H
#define LIB_NAPI_H

#include <stdbool.h>
#include <stdint.h>

struct napi;
/* Does up to `budget` units of work; returns how many it did. */
typedef int (*napi_poll_fn)(struct napi *napi, int budget);

struct napi {
    napi_poll_fn poll;
    void *priv;
    int budget;
    volatile bool scheduled; /* wants to run (until napi_complete) */
    volatile bool queued;    /* on the run queue */
    struct napi *next;
};

void napi_init(struct napi *napi, napi_poll_fn poll, void *priv, int budget);

/* Safe from interrupt handlers: queues the poll unless already queued. */
void napi_schedule(struct napi *napi);

/* Called by a poll that has no more work: it will not run again until scheduled. */
void napi_complete(struct napi *napi);

/* Runs each poll that was scheduled when this call began, once. */
void napi_run_scheduled(void);

/* True if any poll is waiting (read with interrupts disabled before halting). */
bool napi_pending(void);

#endif
