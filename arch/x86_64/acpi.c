#include "arch/x86_64/acpi.h"

#include "arch/x86_64/acpi_aml.h"
#include "arch/x86_64/cpu.h"
#include "arch/x86_64/paging.h"
#include "lib/log.h"
#include "lib/printf.h"
#include "lib/string.h"

#define ROOT_MAX_ENTRIES 64
#define TABLE_MAX_LENGTH (1u << 20) /* no sane ACPI table we read is larger */
#define RSDP_MAX_LENGTH 36
#define SSDT_MAX 8

static struct acpi_platform platform;

/* Where acpi_find_devices looks: the DSDT, then the SSDTs (0: none). */
static uint64_t acpi_dsdt;
static uint64_t acpi_ssdts[SSDT_MAX];
static int acpi_ssdt_count;

const struct acpi_platform *acpi_platform(void)
{
    return &platform;
}

/* Maps a table by its header's length and validates it; NULL (reported) when it is unusable. */
static const struct acpi_sdt_header *map_table(uint64_t addr, const char *expected)
{
    const struct acpi_sdt_header *h = paging_map_firmware(addr, sizeof(*h));
    if (!h) {
        log_error("acpi: cannot map table at 0x%llx", (unsigned long long)addr);
        return NULL;
    }
    uint32_t length = h->length;
    if (length > TABLE_MAX_LENGTH || !paging_map_firmware(addr, length)) {
        log_error("acpi: table %.4s at 0x%llx claims %u bytes, skipped", h->signature, (unsigned long long)addr, length);
        return NULL;
    }
    int rc = acpi_validate_table(h, length < sizeof(*h) ? sizeof(*h) : length, expected);
    if (rc < 0) {
        log_error("acpi: table %.4s at 0x%llx: %s, skipped", h->signature, (unsigned long long)addr, acpi_strerror(rc));
        return NULL;
    }
    return h;
}

static void parse_known_table(const struct acpi_sdt_header *h, uint64_t addr)
{
    int rc = 0;
    if (memcmp(h->signature, "SSDT", 4) == 0) {
        if (acpi_ssdt_count < SSDT_MAX)
            acpi_ssdts[acpi_ssdt_count++] = addr;
        else
            log_warn("acpi: more than %d SSDTs: the one at 0x%llx is not searched", SSDT_MAX, (unsigned long long)addr);
    }
    if (memcmp(h->signature, "APIC", 4) == 0) {
        rc = acpi_parse_madt(h, &platform.madt);
        platform.have_madt = rc == 0;
    } else if (memcmp(h->signature, "MCFG", 4) == 0) {
        rc = acpi_parse_mcfg(h, &platform.mcfg);
        platform.have_mcfg = rc == 0;
    } else if (memcmp(h->signature, "FACP", 4) == 0) {
        rc = acpi_parse_fadt(h, &platform.fadt);
        platform.have_fadt = rc == 0;
    }
    if (rc < 0)
        log_error("acpi: %.4s: %s, ignored", h->signature, acpi_strerror(rc));
}

static void log_summary(bool xsdt, const char *names)
{
    const struct madt_info *m = &platform.madt;
    log_info("acpi: %s tables: %s", xsdt ? "XSDT" : "RSDT", names);
    if (platform.have_madt) {
        log_info("acpi: MADT: LAPIC at 0x%llx, %d CPU%s, %d IOAPIC%s, %d override%s, %d LAPIC NMI%s%s",
                 (unsigned long long)m->lapic_address, m->cpu_count, m->cpu_count == 1 ? "" : "s", m->ioapic_count,
                 m->ioapic_count == 1 ? "" : "s", m->override_count, m->override_count == 1 ? "" : "s",
                 m->nmi_count, m->nmi_count == 1 ? "" : "s", m->pcat_compat ? ", PCAT_COMPAT" : "");
        for (int i = 0; i < m->override_count; i++) {
            const struct madt_override *o = &m->overrides[i];
            log_debug("acpi: override ISA IRQ %u -> GSI %u flags 0x%x", o->source_irq, o->gsi, o->flags);
        }
    }
    for (int i = 0; platform.have_mcfg && i < platform.mcfg.count; i++) {
        const struct mcfg_entry *e = &platform.mcfg.entries[i];
        log_info("acpi: MCFG: segment %u buses %u-%u ECAM at 0x%llx", e->segment, e->bus_start, e->bus_end,
                 (unsigned long long)e->base);
    }
    if (platform.have_fadt)
        log_info("acpi: FADT: PM timer port 0x%x (%u-bit), reset register %s", platform.fadt.pm_timer_port,
                 platform.fadt.pm_timer_32bit ? 32 : 24, platform.fadt.reset_supported ? "present" : "absent");
}

int acpi_init(uint64_t rsdp_addr)
{
    if (!rsdp_addr) {
        log_info("acpi: no RSDP: the platform has no ACPI tables");
        return ACPI_ERR_ABSENT;
    }
    const void *rsdp = paging_map_firmware(rsdp_addr, RSDP_MAX_LENGTH);
    uint64_t root_addr;
    bool xsdt;
    int rc = rsdp ? acpi_parse_rsdp(rsdp, RSDP_MAX_LENGTH, &root_addr, &xsdt) : ACPI_ERR_TRUNCATED;
    if (rc < 0) {
        log_error("acpi: RSDP at 0x%llx: %s", (unsigned long long)rsdp_addr, acpi_strerror(rc));
        return rc;
    }
    const struct acpi_sdt_header *root = map_table(root_addr, xsdt ? "XSDT" : "RSDT");
    if (!root)
        return -1;
    uint64_t entries[ROOT_MAX_ENTRIES];
    int count = acpi_root_entries(root, xsdt, entries, ROOT_MAX_ENTRIES);
    if (count < 0) {
        log_error("acpi: %s: %s", xsdt ? "XSDT" : "RSDT", acpi_strerror(count));
        return count;
    }
    char names[ROOT_MAX_ENTRIES * 5 + 1] = "";
    size_t used = 0;
    for (int i = 0; i < count; i++) {
        const struct acpi_sdt_header *h = map_table(entries[i], NULL);
        if (!h)
            continue;
        used += (size_t)snprintf(names + used, sizeof(names) - used, "%s%.4s", used ? " " : "", h->signature);
        parse_known_table(h, entries[i]);
    }
    log_summary(xsdt, names);
    /* The DSDT is named by the FADT, not by the root table. */
    if (platform.have_fadt && platform.fadt.dsdt_address) {
        const struct acpi_sdt_header *dsdt = map_table(platform.fadt.dsdt_address, "DSDT");
        if (dsdt) {
            acpi_dsdt = platform.fadt.dsdt_address;
            log_info("acpi: DSDT at 0x%llx, %u bytes of AML, %d SSDT%s", (unsigned long long)acpi_dsdt,
                     dsdt->length - (unsigned)sizeof(*dsdt), acpi_ssdt_count, acpi_ssdt_count == 1 ? "" : "s");
        }
    }
    return 0;
}

/* Scans the DSDT and the SSDTs for Devices whose _HID is `hid` (out[0..max)),
 * and for _S5_ (*s5, when not NULL); returns how many Devices matched. */
static int scan_aml(const char *hid, struct acpi_aml_device *out, int max, struct acpi_aml_scan *s5)
{
    int found = 0;
    for (int i = -1; i < acpi_ssdt_count; i++) {
        uint64_t addr = i < 0 ? acpi_dsdt : acpi_ssdts[i];
        const struct acpi_sdt_header *h = addr ? map_table(addr, NULL) : NULL;
        if (!h)
            continue;
        struct acpi_aml_scan scan;
        int stored = found < max ? found : max;
        acpi_aml_find_devices((const uint8_t *)h + sizeof(*h), h->length - sizeof(*h), hid, out + stored,
                              max - stored, &scan);
        found += scan.found;
        if (s5 && scan.has_s5 && !s5->has_s5)
            *s5 = scan;
        if (scan.malformed)
            log_warn("acpi: %.4s at 0x%llx: %d malformed AML object%s skipped while looking for %s", h->signature,
                     (unsigned long long)addr, scan.malformed, scan.malformed == 1 ? "" : "s", hid);
        if (scan.unparsed)
            log_debug("acpi: %.4s: %d term list%s left at an opcode the scanner does not size", h->signature,
                      scan.unparsed, scan.unparsed == 1 ? "" : "s");
    }
    return found;
}

int acpi_find_devices(const char *hid, struct acpi_aml_device *out, int max)
{
    return scan_aml(hid, out, max, NULL);
}

bool acpi_s5_sleep_types(uint8_t *slp_typ_a, uint8_t *slp_typ_b)
{
    struct acpi_aml_scan s5 = { 0 };
    struct acpi_aml_device none[1];
    scan_aml("\\_S5", none, 0, &s5); /* no Device has that _HID: the name is for its warnings */
    *slp_typ_a = s5.s5_slp_typ_a;
    *slp_typ_b = s5.s5_slp_typ_b;
    return s5.has_s5;
}

bool acpi_pm_timer_available(void)
{
    return platform.have_fadt && platform.fadt.pm_timer_port;
}

uint32_t acpi_pm_timer_read(void)
{
    uint32_t v = inl(platform.fadt.pm_timer_port);
    return platform.fadt.pm_timer_32bit ? v : v & 0xFFFFFF;
}

uint32_t acpi_pm_timer_delta(uint32_t earlier, uint32_t later)
{
    uint32_t mask = platform.fadt.pm_timer_32bit ? 0xFFFFFFFFu : 0xFFFFFFu;
    return (later - earlier) & mask;
}

bool acpi_reset(void)
{
    const struct fadt_info *f = &platform.fadt;
    if (!platform.have_fadt || !f->reset_supported)
        return false;
    if (f->reset_register.space_id == ACPI_GAS_IO) {
        outb((uint16_t)f->reset_register.address, f->reset_value);
        return true;
    }
    if (f->reset_register.space_id == ACPI_GAS_MEMORY) {
        volatile uint8_t *r = (volatile uint8_t *)mmio_map(f->reset_register.address, 1);
        if (r) {
            *r = f->reset_value;
            return true;
        }
    }
    return false;
}
