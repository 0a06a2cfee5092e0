/*
 * The platform as ACPI describes it: interrupt controllers (MADT), PCI
 * configuration space (MCFG), the PM timer and reset register (FADT), and
 * devices declared in the DSDT and SSDTs (found by _HID, acpi_aml.h).
 * Tables with a bad checksum or length are reported and skipped.
 */
#ifndef ARCH_X86_64_ACPI_H
#define ARCH_X86_64_ACPI_H

#include "arch/x86_64/acpi_aml.h"
#include "arch/x86_64/acpi_tables.h"

struct acpi_platform {
    bool have_madt;
    struct madt_info madt;
    bool have_mcfg;
    struct mcfg_info mcfg;
    bool have_fadt;
    struct fadt_info fadt;
};

/* Reads the tables the RSDP leads to; returns 0 or a negative error:
 * ACPI_ERR_ABSENT (said on the console) when there is no RSDP at all. */
int acpi_init(uint64_t rsdp_addr);

/* Devices whose _HID is `hid` in the DSDT and SSDTs, with their _CRS
 * window and interrupt: fills out[0..max) and returns how many there are
 * (more than max when some did not fit). 0 without ACPI. */
int acpi_find_devices(const char *hid, struct acpi_aml_device *out, int max);

/* Soft-off's sleep types from \_S5 (7.4.2): false when no table declares it. */
bool acpi_s5_sleep_types(uint8_t *slp_typ_a, uint8_t *slp_typ_b);

const struct acpi_platform *acpi_platform(void);

/* The PM timer (3.579545 MHz), or false when the FADT names none. */
#define ACPI_PM_TIMER_HZ 3579545ULL
bool acpi_pm_timer_available(void);
uint32_t acpi_pm_timer_read(void);
/* Ticks from `earlier` to `later`, allowing for one wrap of the 24- or 32-bit counter. */
uint32_t acpi_pm_timer_delta(uint32_t earlier, uint32_t later);

/* Writes the FADT's reset register: false when there is none to write
 * (then nothing happened); true and back here when the write did not act. */
bool acpi_reset(void);

#endif
