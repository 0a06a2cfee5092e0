/* The NAPI scheduler (lib/napi.c): run queue order, once per round, completion. */
#include "lib/napi.h"
#include "tests/unit/check.h"

struct probe {
    struct napi napi;
    int runs;
    int work_left;     /* units of work the poll finds */
    int order_seen;
};

static int order_counter;

static int probe_poll(struct napi *napi, int budget)
{
    struct probe *p = napi->priv;
    p->runs++;
    p->order_seen = ++order_counter;
    int done = p->work_left < budget ? p->work_left : budget;
    p->work_left -= done;
    if (done < budget)
        napi_complete(napi);
    return done;
}

static void probe_init(struct probe *p, int work, int budget)
{
    *p = (struct probe){ .work_left = work };
    napi_init(&p->napi, probe_poll, p, budget);
}

TEST(napi_runs_scheduled_polls_in_order_once)
{
    struct probe a, b;
    probe_init(&a, 1, 4);
    probe_init(&b, 1, 4);
    order_counter = 0;
    CHECK(!napi_pending());
    napi_schedule(&b.napi);
    napi_schedule(&a.napi);
    napi_schedule(&b.napi); /* already queued: once */
    CHECK(napi_pending());
    napi_run_scheduled();
    CHECK_EQ(a.runs, 1);
    CHECK_EQ(b.runs, 1);
    CHECK_EQ(b.order_seen, 1);
    CHECK_EQ(a.order_seen, 2);
    CHECK(!napi_pending());
}

TEST(napi_budget_used_up_runs_again_next_round)
{
    struct probe a;
    probe_init(&a, 10, 4);
    napi_schedule(&a.napi);
    napi_run_scheduled();
    CHECK_EQ(a.runs, 1);
    CHECK(napi_pending()); /* 4 of 10 done: requeued for the next round, not run again now */
    napi_run_scheduled();
    CHECK_EQ(a.runs, 2);
    napi_run_scheduled();
    CHECK_EQ(a.runs, 3);
    CHECK_EQ(a.work_left, 0);
    CHECK(!napi_pending());
    napi_run_scheduled();
    CHECK_EQ(a.runs, 3);
}

static struct probe *rescheduled_by_poll;

static int poll_that_reschedules(struct napi *napi, int budget)
{
    (void)budget;
    struct probe *p = napi->priv;
    p->runs++;
    napi_complete(napi);
    if (p->runs == 1)
        napi_schedule(&rescheduled_by_poll->napi); /* as an interrupt during the poll would */
    return 0;
}

TEST(napi_schedule_during_poll_runs_next_round)
{
    struct probe a;
    a = (struct probe){ 0 };
    napi_init(&a.napi, poll_that_reschedules, &a, 4);
    rescheduled_by_poll = &a;
    napi_schedule(&a.napi);
    napi_run_scheduled();
    CHECK_EQ(a.runs, 1);
    CHECK(napi_pending());
    napi_run_scheduled();
    CHECK_EQ(a.runs, 2);
    CHECK(!napi_pending());
}
