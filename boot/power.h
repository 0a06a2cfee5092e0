/*
 * What pressing the power button does (arch/x86_64/acpi_power.h): the
 * services stop taking connections, those with data still unacknowledged get
 * up to POWER_DRAIN_MS to finish, the rest are reset so that their clients
 * know at once, and the machine enters soft-off: QEMU ends, as a Linux guest
 * makes it end on `virsh shutdown` or `system_powerdown`.
 */
#ifndef BOOT_POWER_H
#define BOOT_POWER_H

#define POWER_DRAIN_MS 2000

/* Watches the button from the main loop when the platform has one. */
void power_button_watch(void);

#endif
