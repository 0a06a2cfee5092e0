#include "lib/napi.h"

#include <stddef.h>

#include "lib/irq_flags.h"

/* The run queue: interrupt handlers append, the main loop pops. */
static struct napi *run_head;
static struct napi **run_tail = &run_head;

void napi_init(struct napi *napi, napi_poll_fn poll, void *priv, int budget)
{
    *napi = (struct napi){ .poll = poll, .priv = priv, .budget = budget };
}

static void enqueue(struct napi *napi)
{
    napi->queued = true;
    napi->next = NULL;
    *run_tail = napi;
    run_tail = &napi->next;
}

void napi_schedule(struct napi *napi)
{
    bool enabled = irq_save();
    napi->scheduled = true;
    if (!napi->queued)
        enqueue(napi);
    irq_restore(enabled);
}

void napi_complete(struct napi *napi)
{
    napi->scheduled = false;
}

bool napi_pending(void)
{
    return run_head != NULL;
}

void napi_run_scheduled(void)
{
    /* Take the whole queue: polls re-queued now wait for the next round. */
    bool enabled = irq_save();
    struct napi *batch = run_head;
    run_head = NULL;
    run_tail = &run_head;
    irq_restore(enabled);

    while (batch) {
        struct napi *napi = batch;
        batch = napi->next;
        enabled = irq_save();
        napi->next = NULL;
        napi->queued = false;
        irq_restore(enabled);
        napi->poll(napi, napi->budget); /* the poll keeps its own counters */
        enabled = irq_save();
        /* Still scheduled (budget used up, busy polling, or an interrupt
         * re-scheduled it): run again next round, once. */
        if (napi->scheduled && !napi->queued)
            enqueue(napi);
        irq_restore(enabled);
    }
}
