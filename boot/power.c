#include "boot/power.h"

#include "arch/x86_64/acpi.h"
#include "arch/x86_64/acpi_power.h"
#include "arch/x86_64/cpu.h"
#include "arch/x86_64/machine_exit.h"
#include "arch/x86_64/main_loop.h"
#include "arch/x86_64/timer.h"
#include "drivers/i8042.h"
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

/* How long a reset or a power-off may take to act before the next way is tried. */
#define POWER_ACT_WAIT_MS 100

/* Stops the services: listeners closed, data in flight given its time, the rest reset. */
static void shut_down(const char *what)
{
    int open = net_shutdown_begin();
    log_info("power: %s: listeners closed, %d connection%s open; up to %u ms for data in flight", what, open,
             open == 1 ? "" : "s", POWER_DRAIN_MS);
    bool drained = main_loop_run_until(draining, NULL, POWER_DRAIN_MS * MS_NS);
    int reset = net_shutdown_finish();
    main_loop_run_until(never, NULL, POWER_RESETS_OUT_MS * MS_NS);
    log_info("power: %s; %d connection%s reset", drained ? "every response delivered" : "data still in flight",
             reset, reset == 1 ? "" : "s");
}

static enum restart_way first_way = RESTART_ACPI;

void power_restart_first(enum restart_way way)
{
    first_way = way;
}

/* Port 0xCF9 (Intel's reset control register, also the PIIX's): system reset, then a full reset. */
#define CF9_PORT 0xCF9
#define CF9_SYS_RST 0x02
#define CF9_RST_CPU 0x04

static void try_way(enum restart_way way)
{
    switch (way) {
    case RESTART_ACPI:
        if (!acpi_reset())
            return; /* no reset register: nothing to wait for */
        break;
    case RESTART_KEYBOARD:
        i8042_reset_cpu();
        break;
    case RESTART_PCI_CF9:
        outb(CF9_PORT, CF9_SYS_RST);
        outb(CF9_PORT, CF9_SYS_RST | CF9_RST_CPU);
        break;
    case RESTART_TRIPLE_FAULT:
        machine_triple_fault();
    }
    clock_spin_ns(POWER_ACT_WAIT_MS * MS_NS);
}

/* As a PC restarts: the way reboot= chose, then the FADT's reset register
 * (q35's 0xCF9), the keyboard controller's reset line (Firecracker's way
 * out), and, as Linux's last resort, a triple fault. The CF9 port is tried
 * only when chosen, as in Linux. */
void power_restart(void)
{
    static const enum restart_way order[] = { RESTART_ACPI, RESTART_KEYBOARD };
    log_info("power: restarting");
    log_flush();
    try_way(first_way);
    for (unsigned i = 0; i < sizeof(order) / sizeof(order[0]); i++)
        if (order[i] != first_way)
            try_way(order[i]);
    machine_triple_fault();
}

static void watch(void *arg)
{
    static bool stopping; /* this hook also runs in shut_down's own loops: a second press changes nothing */
    (void)arg;
    bool button = acpi_power_button_take(), keys = i8042_ctrl_alt_del_take();
    if (stopping || !(button || keys))
        return;
    stopping = true;
    shut_down(button ? "the power button" : "Ctrl-Alt-Del");
    if (!button)
        power_restart();
    acpi_power_off();
    log_error("power: still running: halted");
    log_flush();
    irq_disable();
    for (;;)
        __asm__ volatile("hlt");
}

static struct main_loop_hook power_hook = { .fn = watch };

void power_watch(void)
{
    bool button = acpi_power_init() == 0;
    bool keys = i8042_init() == 0;
    if (button || keys)
        main_loop_add_hook(&power_hook);
}
