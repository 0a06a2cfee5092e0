#include "arch/x86_64/timer.h"

#include "arch/x86_64/lapic.h"
#include "arch/x86_64/tsc.h"

static struct timer_list kernel_timers;

uint64_t clock_now_ns(void)
{
    return clock_since_entry_ns();
}

void clock_spin_ns(uint64_t ns)
{
    uint64_t deadline = clock_now_ns() + ns;
    while (clock_now_ns() < deadline)
        __asm__ volatile("pause");
}

void timer_service_init(void)
{
    lapic_timer_calibration_start();
}

void timer_service_ready(void)
{
    lapic_timer_calibration_finish();
}

void timer_at(struct timer *t, uint64_t deadline_ns, timer_fn fn, void *arg)
{
    timer_list_arm(&kernel_timers, t, deadline_ns, fn, arg);
}

void timer_after(struct timer *t, uint64_t delay_ns, timer_fn fn, void *arg)
{
    uint64_t now = clock_now_ns();
    /* A delay past the end of time means "never", not a wrapped deadline in the past. */
    uint64_t deadline = delay_ns < TIMER_NEVER - now ? now + delay_ns : TIMER_NEVER - 1;
    timer_list_arm(&kernel_timers, t, deadline, fn, arg);
}

bool timer_cancel(struct timer *t)
{
    return timer_list_cancel(&kernel_timers, t);
}

unsigned timers_run(void)
{
    return timer_list_run(&kernel_timers, clock_now_ns());
}

/* The deadline the LAPIC timer was last programmed for. */
static uint64_t programmed_deadline = TIMER_NEVER;

void timers_arm_wakeup(void)
{
    uint64_t next = timer_list_next_deadline(&kernel_timers);
    /* Called before every halt: when the LAPIC already counts down to this
     * deadline, leave it (two register writes per main-loop pass were a
     * third of the guest's time under load: docs/BENCHMARKS.md). */
    if (next == programmed_deadline && (next == TIMER_NEVER || lapic_timer_counting()))
        return;
    programmed_deadline = next;
    if (next == TIMER_NEVER) {
        lapic_timer_stop();
        return;
    }
    uint64_t now = clock_now_ns();
    /* Already due: one tick fires right after sti, so the halt still wakes. */
    lapic_timer_oneshot_ns(next > now ? next - now : 0);
}

uint64_t timers_fired(void)
{
    return kernel_timers.fired;
}
