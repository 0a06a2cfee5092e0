/*
 * The power button and soft-off: what `virsh shutdown`, QEMU's
 * `system_powerdown` and a cloud's "stop" press. Two kinds of button:
 * - a full ACPI platform's fixed-feature button (ACPI 6.5, 4.8.3.1:
 *   PWRBTN_STS in the PM1 status register, signalled by the SCI), as on
 *   QEMU's q35 and pc; soft-off writes \_S5's SLP_TYP and SLP_EN to the PM1
 *   control registers (4.8.3.2.1);
 * - a hardware-reduced platform's Generic Event Device (5.6.9, _HID
 *   ACPI0013), as on QEMU's microvm: its interrupt, then a read of its event
 *   selector register (the OperationRegion in its scope) names the events.
 *   Its _EVT method is AML this kernel does not run, but reads: the bit it
 *   turns into Notify(power button, 0x80) is the press (QEMU's bit 1, its
 *   ACPI_GED_PWR_DOWN_EVT). Soft-off goes through the FADT's sleep control
 *   register (4.8.3.7).
 * The interrupt handler only records the press; the main loop acts on it.
 */
#ifndef ARCH_X86_64_ACPI_POWER_H
#define ARCH_X86_64_ACPI_POWER_H

#include <stdbool.h>

/* Finds the button, enables its event and routes its interrupt; a console
 * line says which button, or why there is none. 0, or a negative error. */
int acpi_power_init(void);

/* True once for each press since the last call. */
bool acpi_power_button_take(void);

/* Soft-off (S5). Returns only when the platform did not power off. */
void acpi_power_off(void);

#endif
