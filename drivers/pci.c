#include "drivers/pci.h"

#include "arch/x86_64/acpi.h"
#include "arch/x86_64/ioapic.h"
#include "arch/x86_64/irq.h"
#include "arch/x86_64/lapic.h"
#include "arch/x86_64/paging.h"
#include "lib/kheap.h"
#include "lib/errno.h"
#include "lib/log.h"
#include "lib/printf.h"
#include "lib/string.h"

#define PCI_DEVICES_PER_BUS 32
#define PCI_FUNCTIONS 8
#define PCI_BUS_COUNT 256

/* Chipset identities (QEMU's pc and q35). */
#define PCI_VENDOR_INTEL 0x8086
#define PCI_VENDOR_VIRTIO 0x1af4
#define PCI_DEVICE_PIIX3_ISA 0x7000
#define PCI_DEVICE_ICH9_LPC 0x2918
/* Interrupt routing registers in those bridges' config space: PIRQA-D at
 * 0x60-0x63 (both), PIRQE-H at 0x68-0x6B (ICH9 only). Bit 7 disables a route. */
#define PIRQ_ROUTE_A_D 0x60
#define ICH9_PIRQ_ROUTE_E_H 0x68
#define PIRQ_ROUTE_DISABLE 0x80

static struct pci_device *devices;
static struct pci_device **devices_tail = &devices;
static enum pci_chipset chipset;
static uint8_t pirq_routes[4];
static uint8_t bus_seen[PCI_BUS_COUNT / 8];
/* The host bridge's memory window for BARs no firmware placed (0 if none),
 * and its _PRT with the link devices it names (find_host_bridge). */
static uint64_t window_next, window_end;
static unsigned next_bus = 1, last_bus; /* the bus numbers to give bridges no firmware numbered */
static const uint8_t *prt;
static size_t prt_len;
#define PCI_LINKS_MAX 8
static struct acpi_aml_device links[PCI_LINKS_MAX];
static int link_count;

const char *pci_device_name(const struct pci_device *dev, char *buf)
{
    snprintf(buf, 8, "%02x:%02x.%x", dev->addr.bus, dev->addr.device, dev->addr.function);
    return buf;
}

uint32_t pci_read32(const struct pci_device *dev, uint16_t reg) { return pci_config_read32(dev->addr, reg); }
uint16_t pci_read16(const struct pci_device *dev, uint16_t reg) { return pci_config_read16(dev->addr, reg); }
uint8_t pci_read8(const struct pci_device *dev, uint16_t reg) { return pci_config_read8(dev->addr, reg); }
void pci_write32(const struct pci_device *dev, uint16_t reg, uint32_t v) { pci_config_write32(dev->addr, reg, v); }
void pci_write16(const struct pci_device *dev, uint16_t reg, uint16_t v) { pci_config_write16(dev->addr, reg, v); }
void pci_write8(const struct pci_device *dev, uint16_t reg, uint8_t v) { pci_config_write8(dev->addr, reg, v); }

static uint8_t read8_at_address(void *ctx, uint16_t reg)
{
    return pci_config_read8(*(struct pci_address *)ctx, reg);
}

/* BAR sizing toggles decoding, and under QEMU every toggle rebuilds the
 * guest's memory map: 2 ms for the VGA's 16 MiB frame buffer alone. Only
 * functions a driver here may claim (virtio) and bridges need sizes; the
 * rest are shown with their addresses (docs/pci.md). */
static bool bar_sizes_needed(const struct pci_device *dev)
{
    return dev->vendor_id == PCI_VENDOR_VIRTIO ||
           (dev->header_type & PCI_HEADER_TYPE_MASK) == PCI_HEADER_TYPE_BRIDGE;
}

static void read_bars_unsized(struct pci_device *dev)
{
    for (int i = 0; i < PCI_BAR_COUNT;) {
        uint32_t value = pci_read32(dev, (uint16_t)(PCI_BAR0 + 4 * i));
        uint32_t high = i + 1 < PCI_BAR_COUNT ? pci_read32(dev, (uint16_t)(PCI_BAR0 + 4 * (i + 1))) : 0;
        i += pci_bar_decode_unsized(value, high, &dev->bars[i]);
    }
}

/* Sizes every BAR with decoding off, so the all-ones probe never decodes anything. */
static void probe_bars(struct pci_device *dev)
{
    if (!bar_sizes_needed(dev)) {
        read_bars_unsized(dev);
        return;
    }
    int count = (dev->header_type & PCI_HEADER_TYPE_MASK) == PCI_HEADER_TYPE_BRIDGE ? 2 : PCI_BAR_COUNT;
    uint16_t command = pci_read16(dev, PCI_COMMAND);
    pci_write16(dev, PCI_COMMAND, command & ~(uint16_t)(PCI_COMMAND_IO | PCI_COMMAND_MEMORY));
    for (int i = 0; i < count;) {
        uint16_t reg = (uint16_t)(PCI_BAR0 + 4 * i);
        uint32_t value = pci_read32(dev, reg);
        pci_write32(dev, reg, 0xFFFFFFFFu);
        uint32_t probe = pci_read32(dev, reg);
        pci_write32(dev, reg, value);
        uint32_t value_high = 0, probe_high = 0;
        bool is_mem64 = !(value & 1) && (value & 0x6) == 0x4 && i + 1 < count;
        if (is_mem64) {
            value_high = pci_read32(dev, reg + 4);
            pci_write32(dev, reg + 4, 0xFFFFFFFFu);
            probe_high = pci_read32(dev, reg + 4);
            pci_write32(dev, reg + 4, value_high);
        }
        i += pci_bar_decode(value, value_high, probe, probe_high, &dev->bars[i]);
    }
    pci_write16(dev, PCI_COMMAND, command);
}

/* microvm's PCIe host (pcie=on) is programmed by no firmware: qboot knows
 * only the 0xCF8 ports, which that machine lacks, so every BAR reads 0.
 * Like Linux, which assigns what the firmware left unassigned, give each
 * sized memory BAR at 0 an aligned place in the host bridge's window; an
 * I/O BAR at 0 stays off (that host has no I/O window). */
static void assign_bars(struct pci_device *dev)
{
    char name[8];
    for (int i = 0; i < PCI_BAR_COUNT; i++) {
        struct pci_bar *b = &dev->bars[i];
        if (b->type == PCI_BAR_NONE || b->base || !b->size)
            continue;
        uint64_t base = (window_next + b->size - 1) & ~(b->size - 1);
        bool fits = b->type != PCI_BAR_IO && base >= window_next && base + b->size <= window_end;
        if (!fits) {
            klog(b->type == PCI_BAR_IO ? LOG_INFO : LOG_WARN, "pci: %s: BAR%d (%s, %llu bytes) stays off: %s",
                 pci_device_name(dev, name), i, pci_bar_type_name(b->type), (unsigned long long)b->size,
                 b->type == PCI_BAR_IO ? "no I/O window" : "no room in the window");
            b->type = PCI_BAR_NONE;
            continue;
        }
        uint16_t reg = (uint16_t)(PCI_BAR0 + 4 * i);
        pci_write32(dev, reg, (uint32_t)base | (pci_read32(dev, reg) & 0xF));
        if (b->type == PCI_BAR_MEM64)
            pci_write32(dev, reg + 4, 0);
        b->base = base;
        window_next = base + b->size;
    }
}

static const char *describe(const struct pci_device *d)
{
    static const struct {
        uint16_t vendor, device;
        const char *name;
    } known[] = {
        { 0x1af4, 0x1000, "virtio-net" },   { 0x1af4, 0x1041, "virtio-net" },
        { 0x8086, 0x29c0, "q35 host bridge" }, { 0x8086, 0x2918, "ICH9 LPC" },
        { 0x8086, 0x2922, "ICH9 AHCI" },     { 0x8086, 0x2930, "ICH9 SMBus" },
        { 0x8086, 0x1237, "i440FX host bridge" }, { 0x8086, 0x7000, "PIIX3 ISA" },
        { 0x8086, 0x7010, "PIIX3 IDE" },     { 0x8086, 0x7113, "PIIX4 ACPI" },
        { 0x1234, 0x1111, "VGA" },           { 0x1b36, 0x000c, "pcie-root-port" },
        { 0x8086, 0x100e, "e1000" },         { 0x8086, 0x10d3, "e1000e" },
    };
    for (unsigned i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        if (known[i].vendor == d->vendor_id && known[i].device == d->device_id)
            return known[i].name;
    static const char *const classes[] = { "unclassified", "storage", "network", "display", "multimedia",
                                           "memory", "bridge", "communication", "system", "input" };
    return d->class_code < sizeof(classes) / sizeof(classes[0]) ? classes[d->class_code] : "device";
}

static void format_size(uint64_t size, char *buf, size_t len)
{
    static const char units[] = "KMGT";
    if (size < 1024) {
        snprintf(buf, len, "%llu", (unsigned long long)size);
        return;
    }
    int u = 0;
    size >>= 10;
    while (size >= 1024 && size % 1024 == 0 && u < 3) {
        size >>= 10;
        u++;
    }
    snprintf(buf, len, "%llu%c", (unsigned long long)size, units[u]);
}

static void log_device(const struct pci_device *d)
{
    char line[320], name[8];
    size_t n = (size_t)snprintf(line, sizeof(line), "pci: %s %04x:%04x rev %02x class %02x%02x %s",
                                pci_device_name(d, name), d->vendor_id, d->device_id, d->revision, d->class_code,
                                d->subclass, describe(d));
    if (d->msix_cap)
        n += (size_t)snprintf(line + n, sizeof(line) - n, " msix=%u", d->msix.table_size);
    for (int i = 0; i < PCI_BAR_COUNT && n < sizeof(line); i++) {
        const struct pci_bar *b = &d->bars[i];
        if (b->type == PCI_BAR_NONE)
            continue;
        char size[16] = "";
        if (b->size) {
            size[0] = '/';
            format_size(b->size, size + 1, sizeof(size) - 1);
        }
        n += (size_t)snprintf(line + n, sizeof(line) - n, " bar%d=%s%s@0x%llx%s", i, pci_bar_type_name(b->type),
                              b->prefetchable ? "p" : "", (unsigned long long)b->base, size);
    }
    if (d->irq_pin && n < sizeof(line)) {
        if (d->intx_routed)
            n += (size_t)snprintf(line + n, sizeof(line) - n, " int%c=gsi%u", 'A' + d->irq_pin - 1, d->intx_gsi);
        else
            n += (size_t)snprintf(line + n, sizeof(line) - n, " int%c=unrouted", 'A' + d->irq_pin - 1);
    }
    log_info("%s", line);
    if (d->caps.error)
        log_warn("pci: %s: %s at 0x%02x, list cut after %d capabilities", name, d->caps.error, d->caps.error_pointer,
                 d->caps.count);
}

/* log=debug: the whole 256-byte configuration space, 16 bytes a line. */
static void dump_config(const struct pci_device *d)
{
    char name[8];
    pci_device_name(d, name);
    for (uint16_t row = 0; row < 256; row += 16) {
        char hex[16 * 3 + 1];
        for (int i = 0; i < 16; i++)
            snprintf(hex + 3 * i, 4, " %02x", pci_read8(d, (uint16_t)(row + i)));
        log_debug("pci: %s config %02x:%s", name, row, hex);
    }
}

static struct pci_device *add_function(struct pci_address addr, struct pci_device *parent)
{
    struct pci_device *d = kzalloc(sizeof(*d));
    if (!d) {
        log_error("pci: out of memory for %02x:%02x.%x", addr.bus, addr.device, addr.function);
        return NULL;
    }
    d->addr = addr;
    d->parent = parent;
    d->vendor_id = pci_read16(d, PCI_VENDOR_ID);
    d->device_id = pci_read16(d, PCI_DEVICE_ID);
    d->revision = pci_read8(d, PCI_REVISION);
    d->prog_if = pci_read8(d, PCI_PROG_IF);
    d->subclass = pci_read8(d, PCI_SUBCLASS);
    d->class_code = pci_read8(d, PCI_CLASS);
    d->header_type = pci_read8(d, PCI_HEADER_TYPE);
    d->irq_pin = pci_read8(d, PCI_INTERRUPT_PIN);
    d->irq_line = pci_read8(d, PCI_INTERRUPT_LINE);
    if (d->irq_pin > 4)
        d->irq_pin = 0; /* not a valid pin: treat as none */
    pci_cap_walk(read8_at_address, &d->addr, &d->caps);
    probe_bars(d);
    if (window_end)
        assign_bars(d);
    d->msix_cap = pci_cap_find(&d->caps, PCI_CAP_ID_MSIX);
    if (d->msix_cap)
        pci_msix_decode(pci_read16(d, d->msix_cap + PCI_MSIX_CONTROL), pci_read32(d, d->msix_cap + PCI_MSIX_TABLE),
                        pci_read32(d, d->msix_cap + PCI_MSIX_PBA), &d->msix);
    if ((d->header_type & PCI_HEADER_TYPE_MASK) == PCI_HEADER_TYPE_BRIDGE)
        d->secondary_bus = pci_read8(d, PCI_SECONDARY_BUS);
    *devices_tail = d;
    devices_tail = &d->next;
    return d;
}

static void scan_bus(uint8_t bus, struct pci_device *parent);

static uint64_t align_window(uint64_t a)
{
    return (a + PCI_BRIDGE_WINDOW_ALIGN - 1) & ~(uint64_t)(PCI_BRIDGE_WINDOW_ALIGN - 1);
}

/* A bridge no firmware numbered (a pcie-root-port on microvm): the next bus
 * number for its secondary side, what is behind it scanned (its BARs placed
 * in the host window), then a memory window over those BARs in 1 MiB units;
 * the I/O and prefetchable windows closed (base above limit). */
static void number_bridge(struct pci_device *b, uint8_t bus)
{
    uint8_t secondary = (uint8_t)next_bus++;
    pci_write8(b, PCI_PRIMARY_BUS, bus);
    pci_write8(b, PCI_SECONDARY_BUS, secondary);
    pci_write8(b, PCI_SUBORDINATE_BUS, 0xFF); /* until the buses behind it are known */
    b->secondary_bus = secondary;
    window_next = align_window(window_next);
    uint64_t start = window_next;
    scan_bus(secondary, b);
    pci_write8(b, PCI_SUBORDINATE_BUS, (uint8_t)(next_bus - 1));
    window_next = align_window(window_next);
    bool used = window_next > start && window_next <= window_end;
    pci_write16(b, PCI_MEMORY_BASE, used ? (uint16_t)(start >> 16) : 0xFFF0);
    pci_write16(b, PCI_MEMORY_BASE + 2, used ? (uint16_t)((window_next - 1) >> 16) : 0);
    pci_write16(b, PCI_PREF_MEMORY_BASE, 0xFFF0);
    pci_write16(b, PCI_PREF_MEMORY_BASE + 2, 0);
    pci_write16(b, PCI_IO_BASE, 0x00F0);
    pci_write16(b, PCI_COMMAND, pci_read16(b, PCI_COMMAND) | PCI_COMMAND_MEMORY | PCI_COMMAND_BUS_MASTER);
    char name[8];
    if (used)
        log_info("pci: %s: bridge given bus %u-%u, memory window 0x%llx-0x%llx", pci_device_name(b, name), secondary,
                 next_bus - 1, (unsigned long long)start, (unsigned long long)(window_next - 1));
    else
        log_info("pci: %s: bridge given bus %u-%u, no memory window", pci_device_name(b, name), secondary,
                 next_bus - 1);
}

static void scan_bus(uint8_t bus, struct pci_device *parent)
{
    if (bus_seen[bus / 8] & (1u << (bus % 8)))
        return; /* a bridge pointing back at a scanned bus: do not loop */
    bus_seen[bus / 8] |= (uint8_t)(1u << (bus % 8));
    for (uint8_t dev = 0; dev < PCI_DEVICES_PER_BUS; dev++) {
        struct pci_address a = { 0, bus, dev, 0 };
        if (pci_config_read16(a, PCI_VENDOR_ID) == 0xFFFF)
            continue;
        int functions = pci_config_read8(a, PCI_HEADER_TYPE) & PCI_HEADER_MULTIFUNCTION ? PCI_FUNCTIONS : 1;
        for (uint8_t fn = 0; fn < functions; fn++) {
            a.function = fn;
            if (pci_config_read16(a, PCI_VENDOR_ID) == 0xFFFF)
                continue;
            struct pci_device *d = add_function(a, parent);
            if (!d || (d->header_type & PCI_HEADER_TYPE_MASK) != PCI_HEADER_TYPE_BRIDGE)
                continue;
            if (d->secondary_bus > bus)
                scan_bus(d->secondary_bus, d);
            else if (window_end && next_bus <= last_bus)
                number_bridge(d, bus);
            else
                log_warn("pci: %02x:%02x.%x: bridge without bus numbers: nothing behind it is scanned", bus, dev, fn);
        }
    }
}

/* QEMU's chipsets, and the routing state the firmware left in them. */
static void setup_chipset(void)
{
    struct pci_device *d = pci_find_device(PCI_VENDOR_INTEL, PCI_DEVICE_PIIX3_ISA, NULL);
    if (d) {
        chipset = PCI_CHIPSET_PIIX3;
        for (int i = 0; i < 4; i++)
            pirq_routes[i] = pci_read8(d, (uint16_t)(PIRQ_ROUTE_A_D + i));
        log_info("pci: PIIX3 chipset, PIRQ A-D -> IRQ %u %u %u %u", pirq_routes[0] & 0xF, pirq_routes[1] & 0xF,
                 pirq_routes[2] & 0xF, pirq_routes[3] & 0xF);
        return;
    }
    d = pci_find_device(PCI_VENDOR_INTEL, PCI_DEVICE_ICH9_LPC, NULL);
    if (d) {
        chipset = PCI_CHIPSET_ICH9;
        /* OVMF leaves PIRQ A-H also routed to ISA IRQs 10/11: every INTx would
         * arrive twice (FACTS.md). Disable those copies; GSI 16-23 stay. */
        for (int i = 0; i < 4; i++) {
            pci_write8(d, (uint16_t)(PIRQ_ROUTE_A_D + i), pci_read8(d, (uint16_t)(PIRQ_ROUTE_A_D + i)) | PIRQ_ROUTE_DISABLE);
            pci_write8(d, (uint16_t)(ICH9_PIRQ_ROUTE_E_H + i),
                       pci_read8(d, (uint16_t)(ICH9_PIRQ_ROUTE_E_H + i)) | PIRQ_ROUTE_DISABLE);
        }
        log_info("pci: ICH9 chipset, PIRQ A-H legacy ISA routes disabled, INTx on GSI 16-23");
        return;
    }
    log_warn("pci: unknown chipset: INTx cannot be routed, only MSI-X");
}

/* The DSDT's host bridge, read only where no MCFG describes PCI Express:
 * QEMU's microvm with pcie=on gives its ECAM and windows nowhere else. */
static void find_host_bridge(struct acpi_aml_device *host)
{
    if (acpi_platform()->have_mcfg || acpi_find_devices("PNP0A08", host, 1) < 1 || !host->has_cba)
        return;
    if (host->has_window32) {
        window_next = host->window32_base;
        window_end = host->window32_base + host->window32_length;
    }
    last_bus = host->has_bus_range ? host->bus_end : 0xFF;
    prt = host->prt;
    prt_len = host->prt_len;
    if (prt) {
        link_count = acpi_find_devices("PNP0C0F", links, PCI_LINKS_MAX);
        link_count = link_count < PCI_LINKS_MAX ? link_count : PCI_LINKS_MAX;
    }
    log_info("pci: host bridge %.4s: ECAM at 0x%llx, window 0x%llx-0x%llx for BARs the firmware left at 0, "
             "INTx by %s (%d link devices)", host->name, (unsigned long long)host->cba,
             (unsigned long long)window_next, (unsigned long long)(window_end ? window_end - 1 : 0),
             prt ? "its _PRT" : "nothing", link_count);
}

/* A root-bus slot's pin (1-4) through the host bridge's _PRT: its link
 * device's interrupt, or a GSI given directly (level, active low: 6.2.13). */
static bool route_by_prt(uint8_t slot, uint8_t pin, uint32_t *gsi, struct irq_line_mode *mode)
{
    char source[5];
    if (!acpi_aml_prt_route(prt, prt_len, slot, (uint8_t)(pin - 1), source, gsi))
        return false;
    *mode = (struct irq_line_mode){ .level_triggered = true, .active_low = true };
    for (int i = 0; source[0] && i < link_count; i++) {
        if (strcmp(links[i].name, source) == 0 && links[i].has_interrupt) {
            *gsi = links[i].gsi;
            *mode = links[i].line;
            return true;
        }
    }
    return !source[0];
}

/* The GSI a device's pin reaches, through every bridge above it. */
static void route_intx(struct pci_device *d)
{
    if (!d->irq_pin)
        return;
    uint8_t pin = d->irq_pin;
    const struct pci_device *root = d;
    while (root->parent) {
        pin = pci_swizzle_pin(pin, root->addr.device);
        root = root->parent;
    }
    if (prt) {
        d->intx_routed = route_by_prt(root->addr.device, pin, &d->intx_gsi, &d->intx_mode);
        return;
    }
    uint32_t line;
    bool isa;
    if (pci_intx_route(chipset, root->addr.device, pin, pirq_routes, &line, &isa) < 0)
        return;
    if (isa) {
        /* The firmware programs the Interrupt Line from the same PIRQ routes: a mismatch means the table is wrong. */
        if (d->irq_line != line && d->irq_line != 0xFF)
            log_warn("pci: %02x:%02x.%x: routed to IRQ %u but Interrupt Line says %u", d->addr.bus, d->addr.device,
                     d->addr.function, line, d->irq_line);
        d->intx_gsi = ioapic_isa_irq_to_gsi((uint8_t)line, &d->intx_mode);
        /* PCI INTx is level-triggered wherever it lands: QEMU's MADT says so
         * for IRQs 10 and 11, but without ACPI (pc -no-acpi) only SeaBIOS's
         * MP entries for the PCI bus do, and the ISA default is edge. */
        d->intx_mode.level_triggered = true;
    } else {
        d->intx_gsi = line;
        /* No MADT entry covers GSI 16-23; QEMU's DSDT declares them level,
         * active high, and that is what its IOAPIC expects (FACTS.md). */
        d->intx_mode = (struct irq_line_mode){ .level_triggered = true, .active_low = false };
    }
    d->intx_routed = true;
}

int pci_init(void)
{
    struct acpi_aml_device host = { 0 };
    find_host_bridge(&host);
    pci_config_init(&host);
    scan_bus(0, NULL);
    if (devices && !prt) /* microvm has no PCI without pcie=on, and a _PRT with it */
        setup_chipset();
    int count = 0;
    for (struct pci_device *d = devices; d; d = d->next, count++) {
        route_intx(d);
        log_device(d);
        if (log_enabled(LOG_DEBUG))
            dump_config(d);
    }
    log_info("pci: %d function%s", count, count == 1 ? "" : "s");
    return count;
}

enum pci_chipset pci_chipset(void)
{
    return chipset;
}

struct pci_device *pci_next_device(struct pci_device *prev)
{
    return prev ? prev->next : devices;
}

struct pci_device *pci_find_device(uint16_t vendor, uint16_t device, struct pci_device *prev)
{
    for (struct pci_device *d = pci_next_device(prev); d; d = d->next)
        if (d->vendor_id == vendor && d->device_id == device)
            return d;
    return NULL;
}

void pci_enable_device(struct pci_device *dev)
{
    uint16_t command = pci_read16(dev, PCI_COMMAND) | PCI_COMMAND_BUS_MASTER;
    for (int i = 0; i < PCI_BAR_COUNT; i++) {
        if (dev->bars[i].type == PCI_BAR_IO)
            command |= PCI_COMMAND_IO;
        else if (dev->bars[i].type != PCI_BAR_NONE)
            command |= PCI_COMMAND_MEMORY;
    }
    pci_write16(dev, PCI_COMMAND, command);
}

volatile void *pci_map_bar(struct pci_device *dev, int bar)
{
    if (bar < 0 || bar >= PCI_BAR_COUNT)
        return NULL;
    const struct pci_bar *b = &dev->bars[bar];
    if (b->type != PCI_BAR_MEM32 && b->type != PCI_BAR_MEM64)
        return NULL;
    return mmio_map(b->base, b->size);
}

static void msix_write_entry(struct pci_device *dev, unsigned entry, uint8_t vector, bool masked)
{
    uint32_t words[4];
    pci_msix_entry((uint8_t)lapic_id(), vector, masked, words);
    volatile uint32_t *e = dev->msix_table + entry * (PCI_MSIX_ENTRY_SIZE / 4);
    /* Mask first, so the device never sees a half-written message. */
    e[3] = PCI_MSIX_ENTRY_VECTOR_CONTROL_MASKED;
    e[0] = words[0];
    e[1] = words[1];
    e[2] = words[2];
    e[3] = words[3];
}

static void set_msix_control(struct pci_device *dev, uint16_t set, uint16_t clear)
{
    uint16_t reg = (uint16_t)(dev->msix_cap + PCI_MSIX_CONTROL);
    pci_write16(dev, reg, (uint16_t)((pci_read16(dev, reg) | set) & ~clear));
}

void pci_msix_mask(struct pci_device *dev, unsigned entry)
{
    if (dev->irq_mode == PCI_IRQ_MODE_MSIX && entry < dev->irq_count)
        dev->msix_table[entry * (PCI_MSIX_ENTRY_SIZE / 4) + 3] = PCI_MSIX_ENTRY_VECTOR_CONTROL_MASKED;
}

void pci_msix_unmask(struct pci_device *dev, unsigned entry)
{
    if (dev->irq_mode == PCI_IRQ_MODE_MSIX && entry < dev->irq_count)
        dev->msix_table[entry * (PCI_MSIX_ENTRY_SIZE / 4) + 3] = 0;
}

static int try_msix(struct pci_device *dev, unsigned count)
{
    if (!dev->msix_table) {
        const struct pci_bar *b = &dev->bars[dev->msix.table_bar];
        if (b->type != PCI_BAR_MEM32 && b->type != PCI_BAR_MEM64)
            return -ENODEV;
        volatile uint8_t *bar = pci_map_bar(dev, dev->msix.table_bar);
        if (!bar)
            return -ENOMEM;
        dev->msix_table = (volatile uint32_t *)(bar + dev->msix.table_offset);
    }
    for (unsigned i = 0; i < count; i++) {
        int v = irq_alloc_vector();
        if (v < 0) {
            while (i--)
                irq_free_vector(dev->irq_vectors[i]);
            return -ENOSPC;
        }
        dev->irq_vectors[i] = (uint8_t)v;
    }
    /* Enable with the function masked, program the entries, then unmask the function. */
    set_msix_control(dev, PCI_MSIX_CONTROL_ENABLE | PCI_MSIX_CONTROL_FUNCTION_MASK, 0);
    for (unsigned i = 0; i < dev->msix.table_size; i++)
        msix_write_entry(dev, i, i < count ? dev->irq_vectors[i] : 0, i >= count);
    set_msix_control(dev, 0, PCI_MSIX_CONTROL_FUNCTION_MASK);
    pci_write16(dev, PCI_COMMAND, pci_read16(dev, PCI_COMMAND) | PCI_COMMAND_INTX_DISABLE);
    dev->irq_mode = PCI_IRQ_MODE_MSIX;
    dev->irq_count = count;
    return (int)count;
}

static int use_intx(struct pci_device *dev)
{
    if (!dev->intx_routed)
        return -ENODEV;
    int vector = ioapic_route_shared(dev->intx_gsi, dev->intx_mode);
    if (vector < 0)
        return vector;
    ioapic_unmask(dev->intx_gsi);
    if (dev->msix_cap)
        set_msix_control(dev, 0, PCI_MSIX_CONTROL_ENABLE);
    pci_write16(dev, PCI_COMMAND, pci_read16(dev, PCI_COMMAND) & ~(uint16_t)PCI_COMMAND_INTX_DISABLE);
    dev->irq_vectors[0] = (uint8_t)vector;
    dev->irq_mode = PCI_IRQ_MODE_INTX;
    dev->irq_count = 1;
    return 1;
}

int pci_alloc_irq_vectors(struct pci_device *dev, unsigned min, unsigned max, unsigned flags)
{
    char name[8];
    pci_device_name(dev, name);
    if (min == 0 || min > max || max > PCI_MAX_IRQ_VECTORS || dev->irq_mode != PCI_IRQ_NONE)
        return -EINVAL;
    int rc = -ENODEV;
    if ((flags & PCI_IRQ_MSIX) && dev->msix_cap) {
        unsigned want = max < dev->msix.table_size ? max : dev->msix.table_size;
        for (unsigned n = want; n >= min && n > 0; n--) {
            rc = try_msix(dev, n);
            if (rc > 0) {
                log_info("pci: %s: MSI-X, %u vector%s from 0x%x (asked %u-%u)", name, n, n == 1 ? "" : "s",
                         dev->irq_vectors[0], min, max);
                return rc;
            }
        }
    }
    if ((flags & PCI_IRQ_INTX) && min == 1) {
        rc = use_intx(dev);
        if (rc > 0) {
            log_info("pci: %s: INTx pin %c -> GSI %u (%s, active %s) -> vector 0x%x", name, 'A' + dev->irq_pin - 1,
                     dev->intx_gsi, dev->intx_mode.level_triggered ? "level" : "edge",
                     dev->intx_mode.active_low ? "low" : "high", dev->irq_vectors[0]);
            return rc;
        }
    }
    /* Not an error yet: callers fall back to another mode and report what they end up with. */
    log_debug("pci: %s: no interrupt vectors (asked %u-%u, flags 0x%x): error %d", name, min, max, flags, rc);
    return rc;
}

void pci_free_irq_vectors(struct pci_device *dev)
{
    if (dev->irq_mode == PCI_IRQ_MODE_MSIX) {
        for (unsigned i = 0; i < dev->msix.table_size; i++)
            msix_write_entry(dev, i, 0, true);
        set_msix_control(dev, 0, PCI_MSIX_CONTROL_ENABLE);
        for (unsigned i = 0; i < dev->irq_count; i++)
            irq_free_vector(dev->irq_vectors[i]);
    } else if (dev->irq_mode == PCI_IRQ_MODE_INTX) {
        /* The line's vector stays: other devices may share it. */
        pci_write16(dev, PCI_COMMAND, pci_read16(dev, PCI_COMMAND) | PCI_COMMAND_INTX_DISABLE);
    }
    dev->irq_mode = PCI_IRQ_NONE;
    dev->irq_count = 0;
}
