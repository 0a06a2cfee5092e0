#include "boot/power.h"

#include "arch/x86_64/acpi_power.h"
#include "arch/x86_64/cpu.h"
#include "arch/x86_64/main_loop.h"
#include "lib/log.h"
#include "net/net.h"

#define MS_NS 1000000ULL
/* Time for the resets to leave before the power goes, and for the round trip
 * a reset at snd_nxt may need when data was still in flight: the client
 * answers one that is not at its rcv_nxt with a challenge ACK (RFC 5961, 3.2),
 * which lwIP, the connection gone, answers with a reset it accepts. */
#define POWER_RESETS_OUT_MS 100

static bool draining(void *ctx)
{
    (void)ctx;
    return !net_shutdown_draining();
}

static bool never(void *ctx)
{
    (void)ctx;
    return false;
}

static void shut_down(void)
{
    int open = net_shutdown_begin();
    log_info("power: the power button: listeners closed, %d connection%s open; up to %u ms for data in flight",
             open, open == 1 ? "" : "s", POWER_DRAIN_MS);
    bool drained = main_loop_run_until(draining, NULL, POWER_DRAIN_MS * MS_NS);
    int reset = net_shutdown_finish();
    main_loop_run_until(never, NULL, POWER_RESETS_OUT_MS * MS_NS);
    log_info("power: %s; %d connection%s reset", drained ? "every response delivered" : "data still in flight",
             reset, reset == 1 ? "" : "s");
    acpi_power_off();
    log_error("power: the platform did not power off: halted");
    log_flush();
    irq_disable();
    for (;;)
        __asm__ volatile("hlt");
}

static void watch(void *arg)
{
    static bool stopping; /* this hook also runs in shut_down's own loops: a second press changes nothing */
    (void)arg;
    if (acpi_power_button_take() && !stopping) {
        stopping = true;
        shut_down();
    }
}

static struct main_loop_hook power_hook = { .fn = watch };

void power_button_watch(void)
{
    if (acpi_power_init() == 0)
        main_loop_add_hook(&power_hook);
}
