/*
 * arch/x86_64/apic_encoding.h: x2APIC MSR numbers, IOAPIC redirection
 * entries, MSI address/data and the line mode of MPS INTI flags, against
 * values written out from the Intel SDM, the 82093AA datasheet and ACPI 6.5.
 */
#include <stddef.h>
#include <stdint.h>

#include "arch/x86_64/apic_encoding.h"
#include "tests/unit/check.h"

TEST(apic_x2apic_msr_numbers)
{
    /* Intel SDM vol. 3A, table 11-6 (x2APIC register address space). */
    static const struct { uint32_t xapic, msr; } regs[] = {
        { 0x020, 0x802 }, /* local APIC id */
        { 0x030, 0x803 }, /* version */
        { 0x080, 0x808 }, /* TPR */
        { 0x0B0, 0x80B }, /* EOI */
        { 0x0D0, 0x80D }, /* LDR */
        { 0x0F0, 0x80F }, /* spurious interrupt vector */
        { 0x100, 0x810 }, /* ISR 31:0 */
        { 0x280, 0x828 }, /* error status */
        { 0x300, 0x830 }, /* ICR (one 64-bit MSR in x2APIC mode) */
        { 0x320, 0x832 }, /* LVT timer */
        { 0x350, 0x835 }, /* LVT LINT0 */
        { 0x360, 0x836 }, /* LVT LINT1 */
        { 0x380, 0x838 }, /* initial count */
        { 0x390, 0x839 }, /* current count */
        { 0x3E0, 0x83E }, /* divide configuration */
    };
    for (size_t i = 0; i < sizeof(regs) / sizeof(regs[0]); i++) {
        uint32_t got = x2apic_msr(regs[i].xapic);
        if (got != regs[i].msr)
            unit_fail(__FILE__, __LINE__, "x2apic_msr(%#x) = %#x, expected %#x", regs[i].xapic, got, regs[i].msr);
        else
            unit_pass();
    }
}

static const struct irq_line_mode EDGE_HIGH = { false, false };
static const struct irq_line_mode LEVEL_HIGH = { true, false };
static const struct irq_line_mode EDGE_LOW = { false, true };
static const struct irq_line_mode LEVEL_LOW = { true, true };

TEST(apic_ioapic_redirection_entry_values)
{
    /* 82093AA 3.2.4: vector 7:0, delivery mode 10:8 (000 fixed), destination
     * mode 11 (0 physical), polarity 13 (1 low), trigger 15 (1 level), mask 16,
     * destination 63:56. */
    CHECK_EQ(ioapic_redirection_entry(0x30, 0, EDGE_HIGH, false), 0x0000000000000030ull);
    CHECK_EQ(ioapic_redirection_entry(0x41, 1, LEVEL_HIGH, false), 0x0100000000008041ull);
    CHECK_EQ(ioapic_redirection_entry(0x41, 1, EDGE_LOW, false), 0x0100000000002041ull);
    CHECK_EQ(ioapic_redirection_entry(0x41, 1, LEVEL_LOW, false), 0x010000000000A041ull);
    CHECK_EQ(ioapic_redirection_entry(0x41, 1, LEVEL_HIGH, true), 0x0100000000018041ull);
    CHECK_EQ(ioapic_redirection_entry(0xFF, 0xFF, LEVEL_LOW, true), 0xFF0000000001A0FFull);
    CHECK_EQ(ioapic_redirection_entry(0x20, 0x0F, EDGE_HIGH, true), 0x0F00000000010020ull);
}

TEST(apic_ioapic_redirection_entry_fields)
{
    /* Every combination: the fields land where they belong and nothing else is set
     * (delivery fixed, physical destination, delivery status and Remote IRR zero). */
    const struct irq_line_mode modes[] = { EDGE_HIGH, LEVEL_HIGH, EDGE_LOW, LEVEL_LOW };
    for (unsigned v = 0; v < 256; v += 17)
        for (unsigned d = 0; d < 256; d += 51)
            for (int m = 0; m < 4; m++)
                for (int masked = 0; masked < 2; masked++) {
                    uint64_t e = ioapic_redirection_entry((uint8_t)v, (uint8_t)d, modes[m], masked);
                    uint64_t want = v | (uint64_t)d << 56 | (modes[m].active_low ? 1ull << 13 : 0) |
                                    (modes[m].level_triggered ? 1ull << 15 : 0) | (masked ? 1ull << 16 : 0);
                    if (e != want)
                        unit_fail(__FILE__, __LINE__, "entry(v %#x, dest %u, mode %d, masked %d) = %#llx, expected %#llx",
                                  v, d, m, masked, (unsigned long long)e, (unsigned long long)want);
                    else
                        unit_pass();
                }
}

TEST(apic_msi_address_and_data)
{
    /* SDM 11.11.1: 0xFEE in 31:20, destination id 19:12, RH and DM (3, 2) zero. */
    CHECK_EQ(msi_address(0), 0xFEE00000u);
    CHECK_EQ(msi_address(1), 0xFEE01000u);
    CHECK_EQ(msi_address(0x5A), 0xFEE5A000u);
    CHECK_EQ(msi_address(0xFF), 0xFEEFF000u);
    /* SDM 11.11.2: vector 7:0, delivery mode 10:8 fixed, level 14 and trigger 15 zero. */
    for (unsigned v = 0; v < 256; v++) {
        uint32_t data = msi_data((uint8_t)v);
        if (data != v)
            unit_fail(__FILE__, __LINE__, "msi_data(%#x) = %#x", v, data);
        else
            unit_pass();
    }
}

TEST(apic_isa_line_mode_all_inti_flags)
{
    /* ACPI 6.5 table 5.50 (MPS INTI flags): polarity 1:0 and trigger 3:2;
     * 00 conforms to the bus, which for ISA is active high and edge;
     * 01 high / edge, 11 low / level. 10 is reserved: this code treats it
     * like 00 (the ISA default), since only the exact value 11 selects low or level. */
    static const bool low_for_polarity[4] = { false, false, false, true };
    static const bool level_for_trigger[4] = { false, false, false, true };
    for (unsigned trig = 0; trig < 4; trig++)
        for (unsigned pol = 0; pol < 4; pol++) {
            uint16_t flags = (uint16_t)(trig << 2 | pol);
            struct irq_line_mode m = isa_line_mode(flags);
            if (m.active_low != low_for_polarity[pol] || m.level_triggered != level_for_trigger[trig])
                unit_fail(__FILE__, __LINE__, "isa_line_mode(%#x) = {level %d, low %d}, expected {level %d, low %d}",
                          flags, m.level_triggered, m.active_low, level_for_trigger[trig], low_for_polarity[pol]);
            else
                unit_pass();
            /* Bits 15:4 are reserved and change nothing. */
            struct irq_line_mode r = isa_line_mode((uint16_t)(flags | 0xFFF0));
            CHECK(r.active_low == m.active_low && r.level_triggered == m.level_triggered);
        }
    /* The values the MADTs of both QEMU machines carry (FACTS.md). */
    struct irq_line_mode m = isa_line_mode(0x0000);
    CHECK(!m.level_triggered && !m.active_low);
    m = isa_line_mode(0x000D);
    CHECK(m.level_triggered && !m.active_low);
    m = isa_line_mode(0x000F);
    CHECK(m.level_triggered && m.active_low);
    m = isa_line_mode(0x0003);
    CHECK(!m.level_triggered && m.active_low);
}
