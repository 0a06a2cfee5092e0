/*
 * arch/x86_64/mptable.c on MP 1.4 tables assembled here: the one QEMU 7.2's
 * qboot leaves on microvm (floating pointer at 639 KiB, a configuration
 * table with an entry count of 0, IOAPIC id 2, IRQ 0 on pin 2), then
 * variants (two IOAPICs, PCI buses, flags) and broken ones. Tables are
 * parsed from heap copies of exactly their length, so a read past the end
 * trips AddressSanitizer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86_64/mptable.h"
#include "tests/unit/check.h"

struct mp {
    uint8_t b[1024];
    size_t len;
};

static void put(struct mp *t, const void *p, size_t n)
{
    if (t->len + n > sizeof(t->b))
        abort();
    memcpy(t->b + t->len, p, n);
    t->len += n;
}

static void put8(struct mp *t, uint8_t v) { put(t, &v, 1); }
static void put16(struct mp *t, uint16_t v) { put8(t, (uint8_t)v); put8(t, (uint8_t)(v >> 8)); }
static void put32(struct mp *t, uint32_t v) { put16(t, (uint16_t)v); put16(t, (uint16_t)(v >> 16)); }

static uint8_t sum8(const uint8_t *p, size_t n)
{
    uint8_t s = 0;
    while (n--)
        s = (uint8_t)(s + *p++);
    return s;
}

/* Header (MP 1.4, 4.2), length and checksum left for mp_finish. */
static void mp_header(struct mp *t, uint32_t lapic)
{
    memset(t, 0, sizeof(*t));
    put(t, "PCMP", 4);
    put16(t, 0);        /* base table length */
    put8(t, 4);         /* revision 1.4 */
    put8(t, 0);         /* checksum */
    put(t, "QBOOT   ", 8);
    put(t, "000000000000", 12);
    put32(t, 0);        /* OEM table pointer */
    put16(t, 0);        /* OEM table size */
    put16(t, 0);        /* entry count: qboot leaves it 0 */
    put32(t, lapic);
    put16(t, 0);        /* extended table length */
    put8(t, 0);
    put8(t, 0);
}

static void mp_finish(struct mp *t)
{
    t->b[4] = (uint8_t)t->len;
    t->b[5] = (uint8_t)(t->len >> 8);
    t->b[7] = 0;
    t->b[7] = (uint8_t)(0x100 - sum8(t->b, t->len));
}

static void mp_cpu(struct mp *t, uint8_t apic_id, uint8_t flags)
{
    put8(t, 0); put8(t, apic_id); put8(t, 0x14); put8(t, flags);
    put32(t, 0x00060FB1); put32(t, 0x078BFBFD); put32(t, 0); put32(t, 0);
}

static void mp_bus(struct mp *t, uint8_t id, const char type[6]) { put8(t, 1); put8(t, id); put(t, type, 6); }

static void mp_ioapic(struct mp *t, uint8_t id, uint8_t flags, uint32_t address)
{
    put8(t, 2); put8(t, id); put8(t, 0x14); put8(t, flags); put32(t, address);
}

static void mp_intr(struct mp *t, uint8_t type, uint8_t kind, uint16_t flags, uint8_t bus, uint8_t irq, uint8_t dest,
                    uint8_t pin)
{
    put8(t, type); put8(t, kind); put16(t, flags); put8(t, bus); put8(t, irq); put8(t, dest); put8(t, pin);
}

/* qboot's table on microvm with acpi=off, as the guest reads it at 0x9FC10. */
static void build_qboot_table(struct mp *t)
{
    mp_header(t, 0xFEE00000u);
    mp_cpu(t, 0, 0x03);
    mp_bus(t, 0, "ISA   ");
    mp_ioapic(t, 2, 0x01, 0xFEC00000u);
    mp_intr(t, 3, 0, 0, 0, 0, 2, 2); /* IRQ 0 -> pin 2 */
    mp_intr(t, 3, 0, 0, 0, 1, 2, 1);
    for (uint8_t irq = 3; irq < 16; irq++)
        mp_intr(t, 3, 0, 0, 0, irq, 2, irq);
    mp_intr(t, 4, 3, 0, 0, 0, 0, 0);    /* ExtINT on LINT0 */
    mp_intr(t, 4, 1, 0, 0, 0, 0xFF, 1); /* NMI on LINT1, every CPU */
    mp_finish(t);
}

static int parse(const struct mp *t, size_t available, struct madt_info *out)
{
    uint8_t *copy = malloc(available ? available : 1);
    if (!copy)
        abort();
    memcpy(copy, t->b, available);
    int rc = mptable_parse_config(copy, available, out);
    free(copy);
    return rc;
}

TEST(mptable_qboot_table)
{
    struct mp t;
    build_qboot_table(&t);
    CHECK_EQ(t.len, 216u); /* what qboot writes */
    struct madt_info m;
    CHECK_EQ(parse(&t, t.len, &m), 0);
    CHECK_EQ(m.lapic_address, 0xFEE00000u);
    CHECK(m.pcat_compat);
    CHECK_EQ(m.cpu_count, 1);
    CHECK_EQ(m.cpu_apic_ids[0], 0);
    CHECK_EQ(m.ioapic_count, 1);
    CHECK_EQ(m.ioapics[0].id, 2);
    CHECK_EQ(m.ioapics[0].address, 0xFEC00000u);
    CHECK_EQ(m.ioapics[0].gsi_base, 0u);
    CHECK_EQ(m.override_count, 1); /* only IRQ 0 leaves identity */
    CHECK_EQ(m.overrides[0].bus, 0);
    CHECK_EQ(m.overrides[0].source_irq, 0);
    CHECK_EQ(m.overrides[0].gsi, 2u);
    CHECK_EQ(m.overrides[0].flags, 0);
    CHECK_EQ(m.nmi_count, 1);
    CHECK_EQ(m.nmis[0].processor_uid, 0xFF);
    CHECK_EQ(m.nmis[0].lint, 1);
    /* More readable bytes than the table: only its own length counts. */
    CHECK_EQ(parse(&t, t.len + 0, &m), 0);
}

TEST(mptable_two_ioapics_pci_bus_and_flags)
{
    struct mp t;
    mp_header(&t, 0xFEE00000u);
    /* Interrupts listed before the IOAPICs and buses they name. */
    mp_intr(&t, 3, 0, 0x000F, 1, 9, 8, 9);      /* ISA IRQ 9 on its own pin, level active low: an override */
    mp_intr(&t, 3, 0, 0x000F, 0, 0x0C, 9, 3);   /* a PCI interrupt: not ISA, ignored */
    mp_intr(&t, 3, 1, 0, 1, 2, 8, 2);           /* an NMI source, not a vectored interrupt: ignored */
    mp_intr(&t, 3, 0, 0, 1, 4, 9, 4);           /* ISA IRQ 4 on the second IOAPIC: GSI 28 */
    mp_cpu(&t, 0, 0x03);
    mp_cpu(&t, 1, 0x00);                        /* disabled */
    mp_bus(&t, 0, "PCI   ");
    mp_bus(&t, 1, "ISA   ");
    mp_ioapic(&t, 8, 0x01, 0xFEC00000u);
    mp_ioapic(&t, 7, 0x00, 0xFEC08000u);        /* disabled */
    mp_ioapic(&t, 9, 0x01, 0xFEC10000u);
    mp_finish(&t);
    struct madt_info m;
    CHECK_EQ(parse(&t, t.len, &m), 0);
    CHECK_EQ(m.cpu_count, 1);
    CHECK_EQ(m.ioapic_count, 2);
    CHECK_EQ(m.ioapics[1].id, 9);
    CHECK_EQ(m.ioapics[1].gsi_base, (uint32_t)MPTABLE_IOAPIC_INPUTS_ASSUMED);
    CHECK_EQ(m.override_count, 2);
    CHECK_EQ(m.overrides[0].source_irq, 9);
    CHECK_EQ(m.overrides[0].gsi, 9u);
    CHECK_EQ(m.overrides[0].flags, 0x000F);
    CHECK_EQ(m.overrides[1].source_irq, 4);
    CHECK_EQ(m.overrides[1].gsi, 28u);
    CHECK_EQ(m.nmi_count, 0);
}

TEST(mptable_broken_tables)
{
    struct mp t;
    struct madt_info m;
    build_qboot_table(&t);
    CHECK_EQ(parse(&t, t.len - 1, &m), ACPI_ERR_TRUNCATED); /* its length runs past what is readable */
    CHECK_EQ(parse(&t, 43, &m), ACPI_ERR_TRUNCATED);

    struct mp bad = t;
    bad.b[0] = 'X';
    CHECK_EQ(parse(&bad, bad.len, &m), ACPI_ERR_SIGNATURE);
    bad = t;
    bad.b[100] ^= 1;
    CHECK_EQ(parse(&bad, bad.len, &m), ACPI_ERR_CHECKSUM);

    /* An entry cut by the table's length. */
    mp_header(&t, 0xFEE00000u);
    mp_cpu(&t, 0, 0x03);
    t.len -= 4;
    mp_finish(&t);
    CHECK_EQ(parse(&t, t.len, &m), ACPI_ERR_TRUNCATED);

    /* An unknown entry type: its size is unknown, so nothing after it is read. */
    mp_header(&t, 0xFEE00000u);
    mp_cpu(&t, 0, 0x03);
    put8(&t, 0x80);
    put(&t, "\0\0\0\0\0\0\0", 7);
    mp_finish(&t);
    CHECK_EQ(parse(&t, t.len, &m), ACPI_ERR_SIGNATURE);

    /* A length below the header. */
    mp_header(&t, 0xFEE00000u);
    mp_finish(&t);
    t.b[4] = 10;
    t.b[7] = 0;
    t.b[7] = (uint8_t)(0x100 - sum8(t.b, 10));
    CHECK_EQ(parse(&t, t.len, &m), ACPI_ERR_TRUNCATED);

    /* More IOAPICs than the description holds. */
    mp_header(&t, 0xFEE00000u);
    for (int i = 0; i <= MADT_MAX_IOAPICS; i++)
        mp_ioapic(&t, (uint8_t)i, 0x01, 0xFEC00000u + (uint32_t)i * 0x1000);
    mp_finish(&t);
    CHECK_EQ(parse(&t, t.len, &m), ACPI_ERR_TOO_MANY);
}

/* A floating pointer (MP 1.4, 4.1) at `off` of `area`. */
static void put_floating(uint8_t *area, size_t off, uint32_t config, uint8_t revision, uint8_t feature1)
{
    uint8_t *p = area + off;
    memset(p, 0, MPTABLE_FLOATING_SIZE);
    memcpy(p, "_MP_", 4);
    p[4] = (uint8_t)config;
    p[5] = (uint8_t)(config >> 8);
    p[6] = (uint8_t)(config >> 16);
    p[7] = (uint8_t)(config >> 24);
    p[8] = 1;
    p[9] = revision;
    p[11] = feature1;
    p[10] = (uint8_t)(0x100 - sum8(p, MPTABLE_FLOATING_SIZE));
}

static long find(const uint8_t *area, size_t len, struct mptable_floating *fp)
{
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy)
        abort();
    memcpy(copy, area, len);
    long off = mptable_find_floating(copy, len, fp);
    free(copy);
    return off;
}

TEST(mptable_floating_pointer_search)
{
    uint8_t area[1024];
    struct mptable_floating fp;
    memset(area, 0, sizeof(area));
    CHECK_EQ(find(area, sizeof(area), &fp), -1);

    /* qboot's: at the start of the last KiB of base memory, config table right after it. */
    put_floating(area, 0, 0x9FC10, 4, 0);
    CHECK_EQ(find(area, sizeof(area), &fp), 0);
    CHECK_EQ(fp.config_address, 0x9FC10u);
    CHECK_EQ(fp.spec_revision, 4);
    CHECK_EQ(fp.default_config, 0);
    CHECK(!fp.imcr_present);

    /* Not on a paragraph, a bad checksum, an unknown revision, a wrong length: all passed over. */
    memset(area, 0, sizeof(area));
    put_floating(area, 0x18, 0x1000, 4, 0);
    put_floating(area, 0x40, 0x1000, 4, 0);
    area[0x40 + 12] ^= 0x80;
    put_floating(area, 0x60, 0x1000, 2, 0);
    put_floating(area, 0x80, 0x1000, 4, 0);
    area[0x88] = 2;
    area[0x8A] = (uint8_t)(area[0x8A] - 1);
    put_floating(area, 0x3F0, 0x2000, 1, 5); /* the last paragraph: MP 1.1, default configuration 5 */
    CHECK_EQ(find(area, sizeof(area), &fp), 0x3F0);
    CHECK_EQ(fp.spec_revision, 1);
    CHECK_EQ(fp.default_config, 5);
    CHECK_EQ(find(area, 0x3FF, &fp), -1); /* one byte short of it */
    CHECK_EQ(find(area, 0, &fp), -1);
    CHECK_EQ(find(area, 15, &fp), -1);
}

TEST(mptable_architectural_defaults)
{
    struct madt_info m;
    memset(&m, 0xA5, sizeof(m));
    mptable_default_platform(&m);
    CHECK_EQ(m.lapic_address, 0xFEE00000u);
    CHECK_EQ(m.ioapic_count, 1);
    CHECK_EQ(m.ioapics[0].address, 0xFEC00000u);
    CHECK_EQ(m.ioapics[0].gsi_base, 0u);
    CHECK_EQ(m.override_count, 0); /* ISA IRQs identity-mapped */
    CHECK_EQ(m.nmi_count, 1);
    CHECK_EQ(m.nmis[0].lint, 1);
    CHECK_EQ(m.cpu_count, 0);
}
