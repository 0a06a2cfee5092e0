#include "boot/main_loop.h"

#include "arch/x86_64/cpu.h"
#include "arch/x86_64/timer.h"

void main_loop_once(void)
{
    timers_run();
    /* With interrupts off, nothing can slip in between arming the wake-up
     * and halting: `sti; hlt` opens the window only once halted. */
    irq_disable();
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
