/*
 * What pressing the power button (arch/x86_64/acpi_power.h) or Ctrl-Alt-Del
 * (drivers/i8042.h) does: the services stop taking connections, those with
 * data still unacknowledged get up to POWER_DRAIN_MS to finish, the rest are
 * reset so that their clients know at once; then the button powers off (QEMU
 * ends, as a Linux guest makes it end on `virsh shutdown` or
 * `system_powerdown`) and Ctrl-Alt-Del restarts, as Linux does (QEMU with
 * -no-reboot ends; Firecracker's SendCtrlAltDel ends its VM).
 */
#ifndef BOOT_POWER_H
#define BOOT_POWER_H

#define POWER_DRAIN_MS 2000

/* The ways a PC restarts, as Linux's reboot= names them. A restart tries the
 * one chosen first, then the FADT's and the i8042's; a triple fault is always
 * the last resort. */
enum restart_way {
    RESTART_ACPI,          /* reboot=a: the FADT's reset register (q35's and pc's 0xCF9) */
    RESTART_KEYBOARD,      /* reboot=k: the i8042's reset line (Firecracker's way out) */
    RESTART_PCI_CF9,       /* reboot=p: the chipset's reset control register, port 0xCF9 */
    RESTART_TRIPLE_FAULT,  /* reboot=t */
};

/* Sets the way a restart tries first (kmain, from reboot=). */
void power_restart_first(enum restart_way way);

/* Watches the button and the keyboard from the main loop when the platform has either. */
void power_watch(void);

/* Restarts the machine at once, the first of its ways that works (also a
 * PANIC's end with panic=N). Does not return. */
__attribute__((noreturn)) void power_restart(void);

#endif
