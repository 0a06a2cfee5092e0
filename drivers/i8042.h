/*
 * The i8042 keyboard controller, for one thing: Ctrl-Alt-Del, the way
 * Firecracker (its SendCtrlAltDel action, its only graceful stop on x86) and
 * QEMU (`sendkey ctrl-alt-delete`) ask a guest to stop, which Linux answers
 * by restarting. The interrupt handler feeds the controller's bytes to
 * drivers/ps2_keys.c; the main loop acts on i8042_ctrl_alt_del_take().
 * Pulsing the controller's reset line restarts a PC, and ends Firecracker.
 */
#ifndef DRIVERS_I8042_H
#define DRIVERS_I8042_H

#include <stdbool.h>

/* Finds the controller, turns its keyboard interrupt on and routes IRQ 1; a
 * console line says so, or why not (microvm has no i8042). 0 or -errno. */
int i8042_init(void);

/* True once for each Ctrl-Alt-Del since the last call. */
bool i8042_ctrl_alt_del_take(void);

/* Pulses the CPU reset line (command 0xFE). */
void i8042_reset_cpu(void);

#endif
