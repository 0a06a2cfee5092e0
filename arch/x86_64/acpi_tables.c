#include "arch/x86_64/acpi_tables.h"

#include "lib/string.h"

/* Field offsets and types from ACPI 6.5, sections 5.2.5 to 5.2.12 and the PCI Firmware spec (MCFG). */
#define RSDP_V1_LENGTH 20
#define RSDP_OFF_REVISION 15
#define RSDP_OFF_RSDT 16
#define RSDP_OFF_LENGTH 20
#define RSDP_OFF_XSDT 24
#define RSDP_V2_MIN_LENGTH 36

#define MADT_OFF_LAPIC 36
#define MADT_OFF_FLAGS 40
#define MADT_OFF_ENTRIES 44
#define MADT_FLAG_PCAT_COMPAT 1u
#define MADT_TYPE_LAPIC 0
#define MADT_TYPE_IOAPIC 1
#define MADT_TYPE_OVERRIDE 2
#define MADT_TYPE_LAPIC_NMI 4
#define MADT_TYPE_LAPIC_ADDRESS_OVERRIDE 5
#define MADT_LAPIC_ENABLED 1u
#define MADT_LAPIC_ONLINE_CAPABLE 2u

#define MCFG_OFF_ENTRIES 44
#define MCFG_ENTRY_SIZE 16

#define FADT_OFF_DSDT 40
#define FADT_OFF_SCI_INT 46
#define FADT_OFF_SMI_CMD 48
#define FADT_OFF_ACPI_ENABLE 52
#define FADT_OFF_PM1A_EVT_BLK 56
#define FADT_OFF_PM1B_EVT_BLK 60
#define FADT_OFF_PM1A_CNT_BLK 64
#define FADT_OFF_PM1B_CNT_BLK 68
#define FADT_OFF_PM_TMR_BLK 76
#define FADT_OFF_PM1_EVT_LEN 88
#define FADT_OFF_IAPC_BOOT_ARCH 109
#define FADT_OFF_FLAGS 112
#define FADT_OFF_RESET_REG 116
#define FADT_OFF_RESET_VALUE 128
#define FADT_OFF_X_DSDT 140
#define FADT_OFF_X_PM1A_EVT_BLK 148
#define FADT_OFF_X_PM1B_EVT_BLK 160
#define FADT_OFF_X_PM1A_CNT_BLK 172
#define FADT_OFF_X_PM1B_CNT_BLK 184
#define FADT_OFF_X_PM_TMR_BLK 208
#define FADT_OFF_SLEEP_CONTROL_REG 244
#define FADT_FLAG_PWR_BUTTON (1u << 4)
#define FADT_FLAG_TMR_VAL_EXT (1u << 8)
#define FADT_FLAG_RESET_REG_SUP (1u << 10)
#define FADT_FLAG_HW_REDUCED_ACPI (1u << 20)

/* Unaligned little-endian reads: ACPI fields are byte-packed. */
static uint16_t rd16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t rd64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

const char *acpi_strerror(int err)
{
    switch (err) {
    case ACPI_ERR_SIGNATURE: return "bad signature";
    case ACPI_ERR_CHECKSUM: return "bad checksum";
    case ACPI_ERR_TRUNCATED: return "truncated";
    case ACPI_ERR_TOO_MANY: return "more entries than this kernel holds";
    case ACPI_ERR_ABSENT: return "absent";
    default: return "unknown error";
    }
}

bool acpi_checksum_ok(const void *bytes, size_t length)
{
    const uint8_t *p = bytes;
    uint8_t sum = 0;
    for (size_t i = 0; i < length; i++)
        sum += p[i];
    return sum == 0;
}

int acpi_parse_rsdp(const void *rsdp, size_t available, uint64_t *root_addr, bool *root_is_xsdt)
{
    const uint8_t *p = rsdp;
    if (available < RSDP_V1_LENGTH)
        return ACPI_ERR_TRUNCATED;
    if (memcmp(p, "RSD PTR ", 8) != 0)
        return ACPI_ERR_SIGNATURE;
    if (!acpi_checksum_ok(p, RSDP_V1_LENGTH))
        return ACPI_ERR_CHECKSUM;
    if (p[RSDP_OFF_REVISION] >= 2) {
        if (available < RSDP_V2_MIN_LENGTH)
            return ACPI_ERR_TRUNCATED;
        uint32_t length = rd32(p + RSDP_OFF_LENGTH);
        if (length < RSDP_V2_MIN_LENGTH || length > available)
            return ACPI_ERR_TRUNCATED;
        if (!acpi_checksum_ok(p, length))
            return ACPI_ERR_CHECKSUM;
        uint64_t xsdt = rd64(p + RSDP_OFF_XSDT);
        if (xsdt) {
            *root_addr = xsdt;
            *root_is_xsdt = true;
            return 0;
        }
    }
    *root_addr = rd32(p + RSDP_OFF_RSDT);
    *root_is_xsdt = false;
    return 0;
}

int acpi_validate_table(const void *table, size_t available, const char signature[4])
{
    const struct acpi_sdt_header *h = table;
    if (available < sizeof(*h))
        return ACPI_ERR_TRUNCATED;
    if (signature && memcmp(h->signature, signature, 4) != 0)
        return ACPI_ERR_SIGNATURE;
    if (h->length < sizeof(*h) || h->length > available)
        return ACPI_ERR_TRUNCATED;
    if (!acpi_checksum_ok(table, h->length))
        return ACPI_ERR_CHECKSUM;
    return 0;
}

int acpi_root_entries(const void *root, bool xsdt, uint64_t *entries, int max)
{
    const struct acpi_sdt_header *h = root;
    const uint8_t *p = (const uint8_t *)root + sizeof(*h);
    size_t size = xsdt ? 8 : 4;
    size_t count = (h->length - sizeof(*h)) / size;
    if (count > (size_t)max)
        return ACPI_ERR_TOO_MANY;
    for (size_t i = 0; i < count; i++)
        entries[i] = xsdt ? rd64(p + i * size) : rd32(p + i * size);
    return (int)count;
}

int acpi_parse_madt(const void *table, struct madt_info *out)
{
    const struct acpi_sdt_header *h = table;
    const uint8_t *t = table;
    memset(out, 0, sizeof(*out));
    if (h->length < MADT_OFF_ENTRIES)
        return ACPI_ERR_TRUNCATED;
    out->lapic_address = rd32(t + MADT_OFF_LAPIC);
    out->pcat_compat = rd32(t + MADT_OFF_FLAGS) & MADT_FLAG_PCAT_COMPAT;

    for (uint32_t off = MADT_OFF_ENTRIES; off < h->length;) {
        if (h->length - off < 2)
            return ACPI_ERR_TRUNCATED;
        uint8_t type = t[off], len = t[off + 1];
        if (len < 2 || len > h->length - off)
            return ACPI_ERR_TRUNCATED;
        const uint8_t *e = t + off;
        switch (type) {
        case MADT_TYPE_LAPIC: /* uid, apic id, flags */
            if (len < 8)
                return ACPI_ERR_TRUNCATED;
            if (rd32(e + 4) & MADT_LAPIC_ENABLED) {
                if (out->cpu_count >= MADT_MAX_CPUS)
                    return ACPI_ERR_TOO_MANY;
                out->cpu_apic_ids[out->cpu_count++] = e[3];
            }
            break;
        case MADT_TYPE_IOAPIC: /* id, reserved, address, gsi base */
            if (len < 12)
                return ACPI_ERR_TRUNCATED;
            if (out->ioapic_count >= MADT_MAX_IOAPICS)
                return ACPI_ERR_TOO_MANY;
            out->ioapics[out->ioapic_count++] = (struct madt_ioapic){ e[2], rd32(e + 4), rd32(e + 8) };
            break;
        case MADT_TYPE_OVERRIDE: /* bus, source, gsi, flags */
            if (len < 10)
                return ACPI_ERR_TRUNCATED;
            if (out->override_count >= MADT_MAX_OVERRIDES)
                return ACPI_ERR_TOO_MANY;
            out->overrides[out->override_count++] = (struct madt_override){ e[2], e[3], rd32(e + 4), rd16(e + 8) };
            break;
        case MADT_TYPE_LAPIC_NMI: /* uid, flags, lint */
            if (len < 6)
                return ACPI_ERR_TRUNCATED;
            if (out->nmi_count >= MADT_MAX_NMIS)
                return ACPI_ERR_TOO_MANY;
            out->nmis[out->nmi_count++] = (struct madt_lapic_nmi){ e[2], rd16(e + 3), e[5] };
            break;
        case MADT_TYPE_LAPIC_ADDRESS_OVERRIDE: /* reserved, 64-bit address */
            if (len < 12)
                return ACPI_ERR_TRUNCATED;
            out->lapic_address = rd64(e + 4);
            break;
        default:
            out->skipped_entries++;
            break;
        }
        off += len;
    }
    return 0;
}

int acpi_parse_mcfg(const void *table, struct mcfg_info *out)
{
    const struct acpi_sdt_header *h = table;
    const uint8_t *t = table;
    memset(out, 0, sizeof(*out));
    if (h->length < MCFG_OFF_ENTRIES || (h->length - MCFG_OFF_ENTRIES) % MCFG_ENTRY_SIZE)
        return ACPI_ERR_TRUNCATED;
    uint32_t count = (h->length - MCFG_OFF_ENTRIES) / MCFG_ENTRY_SIZE;
    if (count > MCFG_MAX_ENTRIES)
        return ACPI_ERR_TOO_MANY;
    for (uint32_t i = 0; i < count; i++) {
        const uint8_t *e = t + MCFG_OFF_ENTRIES + i * MCFG_ENTRY_SIZE;
        out->entries[i] = (struct mcfg_entry){ rd64(e), rd16(e + 8), e[10], e[11] };
    }
    out->count = (int)count;
    return 0;
}

/* A 32-bit block address as an I/O port: 0 (none) when it cannot be one. */
static uint16_t io_port(uint32_t address) { return address <= 0xFFFF ? (uint16_t)address : 0; }

static void x_io_port(const struct acpi_sdt_header *h, const uint8_t *t, size_t offset, uint16_t *port)
{
    struct acpi_gas x;
    if (h->length < offset + sizeof(x))
        return;
    memcpy(&x, t + offset, sizeof(x));
    if (x.address && x.space_id == ACPI_GAS_IO && x.address <= 0xFFFF)
        *port = (uint16_t)x.address;
}

int acpi_parse_fadt(const void *table, struct fadt_info *out)
{
    const struct acpi_sdt_header *h = table;
    const uint8_t *t = table;
    memset(out, 0, sizeof(*out));
    if (h->length < FADT_OFF_PM_TMR_BLK + 4)
        return ACPI_ERR_TRUNCATED;
    out->dsdt_address = rd32(t + FADT_OFF_DSDT);
    out->sci_interrupt = rd16(t + FADT_OFF_SCI_INT);
    out->pm_timer_port = io_port(rd32(t + FADT_OFF_PM_TMR_BLK));
    out->smi_cmd = rd32(t + FADT_OFF_SMI_CMD);
    out->acpi_enable = t[FADT_OFF_ACPI_ENABLE];
    out->pm1a_evt = io_port(rd32(t + FADT_OFF_PM1A_EVT_BLK));
    out->pm1b_evt = io_port(rd32(t + FADT_OFF_PM1B_EVT_BLK));
    out->pm1a_cnt = io_port(rd32(t + FADT_OFF_PM1A_CNT_BLK));
    out->pm1b_cnt = io_port(rd32(t + FADT_OFF_PM1B_CNT_BLK));
    if (h->length >= FADT_OFF_PM1_EVT_LEN + 1)
        out->pm1_evt_len = t[FADT_OFF_PM1_EVT_LEN];
    if (h->length >= FADT_OFF_FLAGS + 4) {
        uint32_t flags = rd32(t + FADT_OFF_FLAGS);
        out->pm_timer_32bit = flags & FADT_FLAG_TMR_VAL_EXT;
        out->power_button_device = flags & FADT_FLAG_PWR_BUTTON;
        out->hw_reduced = flags & FADT_FLAG_HW_REDUCED_ACPI;
        out->boot_arch_flags = rd16(t + FADT_OFF_IAPC_BOOT_ARCH);
        if ((flags & FADT_FLAG_RESET_REG_SUP) && h->length >= FADT_OFF_RESET_VALUE + 1) {
            memcpy(&out->reset_register, t + FADT_OFF_RESET_REG, sizeof(out->reset_register));
            out->reset_value = t[FADT_OFF_RESET_VALUE];
            out->reset_supported = true;
        }
    }
    /* ACPI 2.0+: the 64-bit X_DSDT wins when present and set. */
    if (h->length >= FADT_OFF_X_DSDT + 8 && rd64(t + FADT_OFF_X_DSDT))
        out->dsdt_address = rd64(t + FADT_OFF_X_DSDT);
    /* ACPI 2.0+: the 64-bit X_ blocks win when present and in I/O space. */
    x_io_port(h, t, FADT_OFF_X_PM_TMR_BLK, &out->pm_timer_port);
    x_io_port(h, t, FADT_OFF_X_PM1A_EVT_BLK, &out->pm1a_evt);
    x_io_port(h, t, FADT_OFF_X_PM1B_EVT_BLK, &out->pm1b_evt);
    x_io_port(h, t, FADT_OFF_X_PM1A_CNT_BLK, &out->pm1a_cnt);
    x_io_port(h, t, FADT_OFF_X_PM1B_CNT_BLK, &out->pm1b_cnt);
    if (h->length >= FADT_OFF_SLEEP_CONTROL_REG + sizeof(struct acpi_gas)) {
        memcpy(&out->sleep_control, t + FADT_OFF_SLEEP_CONTROL_REG, sizeof(out->sleep_control));
        out->has_sleep_control = out->sleep_control.address != 0;
    }
    return 0;
}
