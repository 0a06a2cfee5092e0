#include "arch/x86_64/main_loop.h"

#include "arch/x86_64/cpu.h"
#include "arch/x86_64/timer.h"
#include "lib/napi.h"
#include "lib/log.h"

static struct main_loop_hook *hooks;

void main_loop_add_hook(struct main_loop_hook *hook)
{
    hook->next = hooks;
    hooks = hook;
}

void main_loop_once(void)
{
    napi_run_scheduled();
    timers_run();
    for (struct main_loop_hook *h = hooks; h; h = h->next)
        h->fn(h->arg);
    log_flush();
    /* With interrupts off, nothing can slip in between the last look for
     * work and halting: `sti; hlt` opens the window only once halted. */
    irq_disable();
    if (napi_pending()) {
        irq_enable();
        return;
    }
    timers_arm_wakeup();
    irq_enable_and_halt();
}

void main_loop_run(void)
{
    for (;;)
        main_loop_once();
}

static void deadline_passed(struct timer *t, void *arg)
{
    (void)t;
    *(bool *)arg = true;
}

bool main_loop_run_until(bool (*done)(void *ctx), void *ctx, uint64_t timeout_ns)
{
    bool timed_out = false;
    struct timer deadline = { 0 };
    timer_after(&deadline, timeout_ns, deadline_passed, &timed_out);
    while (!done(ctx) && !timed_out)
        main_loop_once();
    timer_cancel(&deadline);
    return done(ctx);
}
