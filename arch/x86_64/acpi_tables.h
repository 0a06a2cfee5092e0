/*
 * ACPI table parsing (ACPI 6.5, chapter 5.2): RSDP, XSDT/RSDT, MADT, MCFG,
 * FADT. Pure functions over table bytes already in memory; every length is
 * checked against the table's own header before a field is read, so a
 * truncated or corrupt table gives an error, never an out-of-bounds read.
 * Parsers other than the RSDP expect a table acpi_validate_table accepted.
 * Unit-tested on table images built by the tests.
 */
#ifndef ARCH_X86_64_ACPI_TABLES_H
#define ARCH_X86_64_ACPI_TABLES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct acpi_sdt_header {
    char signature[4];
    uint32_t length;
    uint8_t revision;
    uint8_t checksum;
    char oem_id[6];
    char oem_table_id[8];
    uint32_t oem_revision;
    uint32_t creator_id;
    uint32_t creator_revision;
} __attribute__((packed));

/* Error codes (negative, as the kernel's errors are). */
#define ACPI_ERR_SIGNATURE (-1)
#define ACPI_ERR_CHECKSUM (-2)
#define ACPI_ERR_TRUNCATED (-3)
#define ACPI_ERR_TOO_MANY (-4)
#define ACPI_ERR_ABSENT (-5)

const char *acpi_strerror(int err);

bool acpi_checksum_ok(const void *bytes, size_t length);

/* RSDP (5.2.5): signature, checksum of the first 20 bytes, and for revision
 * 2+ the extended checksum. Returns 0 and the root table's address. */
int acpi_parse_rsdp(const void *rsdp, size_t available, uint64_t *root_addr, bool *root_is_xsdt);

/* Checks a table header: `available` bytes are readable; the table's length
 * must fit in them, hold the header, and the checksum must be right. */
int acpi_validate_table(const void *table, size_t available, const char signature[4]);

/* Entries of an XSDT (8-byte) or RSDT (4-byte); returns the count (at most max) or an error. */
int acpi_root_entries(const void *root, bool xsdt, uint64_t *entries, int max);

#define MADT_MAX_IOAPICS 8
#define MADT_MAX_OVERRIDES 24
#define MADT_MAX_NMIS 8
#define MADT_MAX_CPUS 64

struct madt_ioapic {
    uint8_t id;
    uint32_t address;
    uint32_t gsi_base;
};

struct madt_override {
    uint8_t bus;
    uint8_t source_irq;
    uint32_t gsi;
    uint16_t flags; /* MPS INTI flags: apic_encoding.h */
};

struct madt_lapic_nmi {
    uint8_t processor_uid; /* 0xFF: all processors */
    uint16_t flags;
    uint8_t lint;          /* 0 or 1 */
};

struct madt_info {
    uint64_t lapic_address;   /* after any 64-bit override */
    bool pcat_compat;         /* legacy 8259s present (must be masked) */
    int cpu_count;            /* enabled processors */
    uint8_t cpu_apic_ids[MADT_MAX_CPUS];
    int ioapic_count;
    struct madt_ioapic ioapics[MADT_MAX_IOAPICS];
    int override_count;
    struct madt_override overrides[MADT_MAX_OVERRIDES];
    int nmi_count;
    struct madt_lapic_nmi nmis[MADT_MAX_NMIS];
    int skipped_entries;      /* entry types this kernel does not use */
};

int acpi_parse_madt(const void *table, struct madt_info *out);

#define MCFG_MAX_ENTRIES 8

struct mcfg_entry {
    uint64_t base;   /* ECAM base of bus 0 of this segment (even if bus_start > 0) */
    uint16_t segment;
    uint8_t bus_start;
    uint8_t bus_end;
};

struct mcfg_info {
    int count;
    struct mcfg_entry entries[MCFG_MAX_ENTRIES];
};

int acpi_parse_mcfg(const void *table, struct mcfg_info *out);

/* ACPI Generic Address Structure (5.2.3.2). */
struct acpi_gas {
    uint8_t space_id; /* 0 memory, 1 system I/O */
    uint8_t bit_width;
    uint8_t bit_offset;
    uint8_t access_size;
    uint64_t address;
} __attribute__((packed));

#define ACPI_GAS_MEMORY 0
#define ACPI_GAS_IO 1

struct fadt_info {
    uint64_t dsdt_address;       /* X_DSDT when set, else DSDT; 0: none */
    uint16_t pm_timer_port;      /* 0: none */
    bool pm_timer_32bit;         /* else 24 bits */
    bool reset_supported;
    struct acpi_gas reset_register;
    uint8_t reset_value;
    uint16_t sci_interrupt;
    uint16_t boot_arch_flags;    /* IA-PC boot architecture flags */
    /* The power button and soft-off (ACPI 6.5, 4.8.3 and 4.8.4.2). */
    uint32_t smi_cmd;            /* 0: ACPI mode is always on */
    uint8_t acpi_enable;         /* written to smi_cmd to enter ACPI mode */
    uint16_t pm1a_evt, pm1b_evt; /* PM1 event blocks (I/O ports; 0: none): status, then enable */
    uint8_t pm1_evt_len;         /* bytes of each event block, half status and half enable */
    uint16_t pm1a_cnt, pm1b_cnt; /* PM1 control blocks (I/O ports; 0: none): SCI_EN, SLP_TYP, SLP_EN */
    bool power_button_device;    /* PWR_BUTTON: the button is a control-method device, not the fixed one */
    bool hw_reduced;             /* HW_REDUCED_ACPI: no PM1 blocks; sleep through sleep_control */
    bool has_sleep_control;      /* SLEEP_CONTROL_REG (ACPI 5.0+, hardware-reduced platforms) */
    struct acpi_gas sleep_control;
};

int acpi_parse_fadt(const void *table, struct fadt_info *out);

#endif
