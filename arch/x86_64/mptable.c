#include "arch/x86_64/mptable.h"

#include "lib/string.h"

/* Floating pointer structure (MP 1.4, 4.1). */
#define FP_OFF_PHYSPTR 4
#define FP_OFF_LENGTH 8        /* in 16-byte paragraphs: 1 */
#define FP_OFF_REVISION 9
#define FP_OFF_FEATURE1 11
#define FP_OFF_FEATURE2 12
#define FP_FEATURE2_IMCRP 0x80
#define FP_REVISION_1_1 1
#define FP_REVISION_1_4 4

/* Configuration table header (4.2). */
#define CT_OFF_BASE_LENGTH 4
#define CT_OFF_LAPIC 36

/* Base table entries (4.3): type, then a fixed size per type. */
#define ENTRY_PROCESSOR 0
#define ENTRY_BUS 1
#define ENTRY_IOAPIC 2
#define ENTRY_IO_INTERRUPT 3
#define ENTRY_LOCAL_INTERRUPT 4
#define ENTRY_PROCESSOR_SIZE 20
#define ENTRY_OTHER_SIZE 8
#define PROCESSOR_FLAG_ENABLED 0x01
#define IOAPIC_FLAG_ENABLED 0x01
#define INTERRUPT_TYPE_INT 0   /* a vectored interrupt */
#define INTERRUPT_TYPE_NMI 1
#define DEST_ALL 0xFF          /* every IOAPIC or every LAPIC */
#define MAX_BUSES 256

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd32(const uint8_t *p) { return (uint32_t)rd16(p) | (uint32_t)rd16(p + 2) << 16; }

static bool mp_checksum_ok(const uint8_t *p, size_t n)
{
    uint8_t sum = 0;
    for (size_t i = 0; i < n; i++)
        sum = (uint8_t)(sum + p[i]);
    return sum == 0;
}

long mptable_find_floating(const uint8_t *area, size_t len, struct mptable_floating *out)
{
    for (size_t off = 0; len >= MPTABLE_FLOATING_SIZE && off <= len - MPTABLE_FLOATING_SIZE;
         off += MPTABLE_FLOATING_ALIGN) {
        const uint8_t *p = area + off;
        if (memcmp(p, "_MP_", 4) != 0 || p[FP_OFF_LENGTH] != 1 || !mp_checksum_ok(p, MPTABLE_FLOATING_SIZE))
            continue;
        if (p[FP_OFF_REVISION] != FP_REVISION_1_1 && p[FP_OFF_REVISION] != FP_REVISION_1_4)
            continue;
        *out = (struct mptable_floating){
            .config_address = rd32(p + FP_OFF_PHYSPTR),
            .spec_revision = p[FP_OFF_REVISION],
            .default_config = p[FP_OFF_FEATURE1],
            .imcr_present = p[FP_OFF_FEATURE2] & FP_FEATURE2_IMCRP,
        };
        return (long)off;
    }
    return -1;
}

void mptable_default_platform(struct madt_info *out)
{
    memset(out, 0, sizeof(*out));
    out->lapic_address = ARCH_DEFAULT_LAPIC_ADDRESS;
    out->pcat_compat = true;
    out->ioapic_count = 1;
    out->ioapics[0] = (struct madt_ioapic){ .id = 0, .address = ARCH_DEFAULT_IOAPIC_ADDRESS, .gsi_base = 0 };
    /* The PC wiring of MP 1.4's default configurations (5.1): LINT1 is NMI on every CPU. */
    out->nmi_count = 1;
    out->nmis[0] = (struct madt_lapic_nmi){ .processor_uid = DEST_ALL, .flags = 0, .lint = 1 };
}

/* The GSI base of the IOAPIC with `id`, or false when the table names none. */
static bool mp_ioapic_gsi_base(const struct madt_info *out, uint8_t id, uint32_t *base)
{
    for (int i = 0; i < out->ioapic_count; i++) {
        if (out->ioapics[i].id == id || (id == DEST_ALL && i == 0)) {
            *base = out->ioapics[i].gsi_base;
            return true;
        }
    }
    return false;
}

/* An ISA IRQ routed anywhere but its own pin, or not as ISA conforms: an override. */
static int mp_io_interrupt(const uint8_t *e, const bool *isa_bus, struct madt_info *out)
{
    uint8_t type = e[1], bus = e[4], irq = e[5], ioapic = e[6], pin = e[7];
    uint16_t flags = rd16(e + 2);
    uint32_t base;
    if (type != INTERRUPT_TYPE_INT || !isa_bus[bus] || !mp_ioapic_gsi_base(out, ioapic, &base))
        return 0;
    uint32_t gsi = base + pin;
    if (gsi == irq && flags == 0)
        return 0;
    if (out->override_count >= MADT_MAX_OVERRIDES)
        return ACPI_ERR_TOO_MANY;
    out->overrides[out->override_count++] = (struct madt_override){ .bus = 0, .source_irq = irq, .gsi = gsi,
                                                                     .flags = flags };
    return 0;
}

/* Processors, IOAPICs and NMI lines. */
static int mp_device(const uint8_t *e, struct madt_info *out)
{
    switch (e[0]) {
    case ENTRY_PROCESSOR: /* LAPIC id, version, flags */
        if (!(e[3] & PROCESSOR_FLAG_ENABLED))
            return 0;
        if (out->cpu_count >= MADT_MAX_CPUS)
            return ACPI_ERR_TOO_MANY;
        out->cpu_apic_ids[out->cpu_count++] = e[1];
        return 0;
    case ENTRY_IOAPIC: /* id, version, flags, address */
        if (!(e[3] & IOAPIC_FLAG_ENABLED))
            return 0;
        if (out->ioapic_count >= MADT_MAX_IOAPICS)
            return ACPI_ERR_TOO_MANY;
        out->ioapics[out->ioapic_count] = (struct madt_ioapic){
            e[1], rd32(e + 4), (uint32_t)out->ioapic_count * MPTABLE_IOAPIC_INPUTS_ASSUMED
        };
        out->ioapic_count++;
        return 0;
    case ENTRY_LOCAL_INTERRUPT: /* type, flags, source bus and IRQ, LAPIC id, LINTIN# */
        if (e[1] != INTERRUPT_TYPE_NMI)
            return 0;
        if (out->nmi_count >= MADT_MAX_NMIS)
            return ACPI_ERR_TOO_MANY;
        out->nmis[out->nmi_count++] = (struct madt_lapic_nmi){ e[6], rd16(e + 2), e[7] };
        return 0;
    default:
        return 0;
    }
}

/* The size of the entry at `off`; an error for an unknown type (its size is
 * unknown, so nothing after it can be read) or one running past the table. */
static int mp_entry_size(const uint8_t *t, size_t length, size_t off, size_t *size)
{
    if (t[off] > ENTRY_LOCAL_INTERRUPT)
        return ACPI_ERR_SIGNATURE;
    *size = t[off] == ENTRY_PROCESSOR ? ENTRY_PROCESSOR_SIZE : ENTRY_OTHER_SIZE;
    return length - off < *size ? ACPI_ERR_TRUNCATED : 0;
}

int mptable_parse_config(const void *table, size_t available, struct madt_info *out)
{
    const uint8_t *t = table;
    memset(out, 0, sizeof(*out));
    if (available < MPTABLE_CONFIG_HEADER_SIZE)
        return ACPI_ERR_TRUNCATED;
    if (memcmp(t, "PCMP", 4) != 0)
        return ACPI_ERR_SIGNATURE;
    size_t length = rd16(t + CT_OFF_BASE_LENGTH);
    if (length < MPTABLE_CONFIG_HEADER_SIZE || length > available)
        return ACPI_ERR_TRUNCATED;
    if (!mp_checksum_ok(t, length))
        return ACPI_ERR_CHECKSUM;
    out->lapic_address = rd32(t + CT_OFF_LAPIC);
    out->pcat_compat = true; /* MP systems keep the PC's 8259s (MP 1.4, 3.6.2) */

    /* Three passes: bus types; processors, IOAPICs and NMIs; then the
     * interrupt assignments, which name buses and IOAPICs by id. */
    bool isa_bus[MAX_BUSES] = { false };
    for (int pass = 0; pass < 3; pass++) {
        size_t size;
        for (size_t off = MPTABLE_CONFIG_HEADER_SIZE; off < length; off += size) {
            int rc = mp_entry_size(t, length, off, &size);
            const uint8_t *e = t + off;
            if (rc == 0 && pass == 0 && e[0] == ENTRY_BUS) /* bus id, type string */
                isa_bus[e[1]] = memcmp(e + 2, "ISA", 3) == 0;
            else if (rc == 0 && pass == 1)
                rc = mp_device(e, out);
            else if (rc == 0 && pass == 2 && e[0] == ENTRY_IO_INTERRUPT)
                rc = mp_io_interrupt(e, isa_bus, out);
            if (rc < 0)
                return rc;
        }
    }
    return 0;
}
