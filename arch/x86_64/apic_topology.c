#include "arch/x86_64/apic_topology.h"

#include "arch/x86_64/acpi.h"
#include "arch/x86_64/mmio.h"
#include "arch/x86_64/mptable.h"
#include "arch/x86_64/paging.h"
#include "lib/log.h"
#include "lib/page_alloc.h"

/* Where MP 1.4 (4) puts the floating pointer: the first KiB of the EBDA,
 * else the last KiB of base memory, or the BIOS ROM. The BIOS data area
 * says where the first two are (its EBDA segment and base memory size). */
#define BDA_EBDA_SEGMENT 0x40E
#define BDA_BASE_MEMORY_KIB 0x413
#define KIB 1024u
#define EBDA_LOW 0x80000u                  /* an EBDA segment outside 512-640 KiB is not believed */
#define BASE_MEMORY_TOP (640u * KIB)
#define BASE_MEMORY_MIN_KIB 512u
#define BIOS_ROM_BASE 0xF0000u
#define BIOS_ROM_SIZE 0x10000u
#define MP_CONFIG_MAX_LENGTH 0x10000u      /* the base table length is 16 bits */

/* The description built from an MP table or the defaults (the MADT's lives in acpi.c). */
static struct madt_info apic_topology_fallback;

/* Page 0 stays unmapped so a NULL dereference faults: map it only for the two reads. */
static void read_bios_data_area(uint16_t *ebda_segment, uint16_t *base_kib)
{
    *ebda_segment = *base_kib = 0;
    bool mapped = paging_is_mapped(0);
    if (!mapped && paging_map(0, PAGE_SIZE, 0) < 0)
        return;
    /* gcc takes a pointer into page 0 for a null one and warns; hide the address from it. */
    uintptr_t page0 = 0;
    __asm__("" : "+r"(page0));
    *ebda_segment = mmio_read16((const volatile void *)(page0 + BDA_EBDA_SEGMENT));
    *base_kib = mmio_read16((const volatile void *)(page0 + BDA_BASE_MEMORY_KIB));
    if (!mapped)
        paging_unmap(0, PAGE_SIZE);
}

static bool scan_area(uint64_t base, uint64_t length, struct mptable_floating *fp, uint64_t *found_at)
{
    const uint8_t *area = paging_map_firmware(base, length);
    long off = area ? mptable_find_floating(area, length, fp) : -1;
    if (off < 0)
        return false;
    *found_at = base + (uint64_t)off;
    return true;
}

static bool find_floating_pointer(struct mptable_floating *fp, uint64_t *found_at)
{
    uint16_t ebda_segment, base_kib;
    read_bios_data_area(&ebda_segment, &base_kib);
    uint64_t ebda = (uint64_t)ebda_segment << 4;
    if (ebda >= EBDA_LOW && ebda < BASE_MEMORY_TOP && scan_area(ebda, KIB, fp, found_at))
        return true;
    /* qboot fills no BIOS data area: then 640 KiB is the top of base memory. */
    uint64_t top = base_kib >= BASE_MEMORY_MIN_KIB && base_kib <= BASE_MEMORY_TOP / KIB ? base_kib * KIB : BASE_MEMORY_TOP;
    return scan_area(top - KIB, KIB, fp, found_at) || scan_area(BIOS_ROM_BASE, BIOS_ROM_SIZE, fp, found_at);
}

/* 0 and the description, or a negative error (said on the console). */
static int read_mp_table(struct madt_info *out)
{
    struct mptable_floating fp;
    uint64_t at;
    if (!find_floating_pointer(&fp, &at)) {
        log_info("mptable: no MP floating pointer in the EBDA, the top of base memory or the BIOS ROM");
        return -1;
    }
    if (!fp.config_address || fp.default_config) {
        log_info("mptable: floating pointer at 0x%llx names default configuration %u, no table",
                 (unsigned long long)at, fp.default_config);
        return -1;
    }
    const uint8_t *header = paging_map_firmware(fp.config_address, MPTABLE_CONFIG_HEADER_SIZE);
    uint32_t length = header ? (uint32_t)(header[4] | header[5] << 8) : 0;
    const void *table = length >= MPTABLE_CONFIG_HEADER_SIZE ? paging_map_firmware(fp.config_address, length) : NULL;
    int rc = table ? mptable_parse_config(table, length, out) : ACPI_ERR_TRUNCATED;
    if (rc < 0) {
        log_warn("mptable: configuration table at 0x%x (floating pointer at 0x%llx): %s", fp.config_address,
                 (unsigned long long)at, acpi_strerror(rc));
        return rc;
    }
    log_info("mptable: MP 1.%u table at 0x%x: LAPIC at 0x%llx, %d CPU%s, %d IOAPIC%s, %d override%s, %d LAPIC NMI%s",
             fp.spec_revision, fp.config_address, (unsigned long long)out->lapic_address, out->cpu_count,
             out->cpu_count == 1 ? "" : "s", out->ioapic_count, out->ioapic_count == 1 ? "" : "s",
             out->override_count, out->override_count == 1 ? "" : "s", out->nmi_count, out->nmi_count == 1 ? "" : "s");
    return 0;
}

const struct madt_info *apic_topology_probe(void)
{
    if (acpi_platform()->have_madt)
        return &acpi_platform()->madt;
    if (read_mp_table(&apic_topology_fallback) == 0)
        return &apic_topology_fallback;
    mptable_default_platform(&apic_topology_fallback);
    log_info("apic: no ACPI MADT and no MP table: the architectural defaults, LAPIC at 0x%x, one IOAPIC at 0x%x "
             "with GSI base 0, ISA IRQs identity-mapped", ARCH_DEFAULT_LAPIC_ADDRESS, ARCH_DEFAULT_IOAPIC_ADDRESS);
    return &apic_topology_fallback;
}
