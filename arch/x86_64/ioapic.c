#include "arch/x86_64/ioapic.h"

#include "arch/x86_64/irq.h"
#include "arch/x86_64/paging.h"
#include "lib/errno.h"
#include "lib/log.h"

/* Registers (82093AA datasheet, 3.0 and 3.2). */
#define IOREGSEL 0x00
#define IOWIN 0x10
#define IOAPIC_REG_ID 0x00
#define IOAPIC_REG_VERSION 0x01
#define IOAPIC_REG_REDTBL 0x10 /* entry n: 0x10 + 2n (low), 0x11 + 2n (high) */
#define IOAPIC_MMIO_SIZE 0x20
#define ROUTES_MAX 32

struct ioapic {
    volatile uint32_t *mmio;
    uint32_t gsi_base;
    uint32_t inputs;
    uint8_t id;
};

static struct ioapic ioapics[MADT_MAX_IOAPICS];
static int ioapic_count;
static const struct madt_info *ioapic_madt;
static uint8_t ioapic_dest;

/* The vector each routed GSI delivers, so that a stuck line can be found by
 * its vector and a second user of a line can share it. */
static struct {
    uint32_t gsi;
    uint8_t vector;
    struct irq_line_mode mode;
} routes[ROUTES_MAX];
static int route_count;

static uint32_t ioapic_read(const struct ioapic *io, uint32_t reg)
{
    io->mmio[IOREGSEL / 4] = reg;
    return io->mmio[IOWIN / 4];
}

static void ioapic_write(const struct ioapic *io, uint32_t reg, uint32_t value)
{
    io->mmio[IOREGSEL / 4] = reg;
    io->mmio[IOWIN / 4] = value;
}

static void write_entry(const struct ioapic *io, uint32_t pin, uint64_t entry)
{
    /* Mask first (low word holds the mask bit), then set high, then low. */
    ioapic_write(io, IOAPIC_REG_REDTBL + 2 * pin, IOREDTBL_MASKED);
    ioapic_write(io, IOAPIC_REG_REDTBL + 2 * pin + 1, (uint32_t)(entry >> 32));
    ioapic_write(io, IOAPIC_REG_REDTBL + 2 * pin, (uint32_t)entry);
}

static const struct ioapic *ioapic_for_gsi(uint32_t gsi, uint32_t *pin)
{
    for (int i = 0; i < ioapic_count; i++) {
        if (gsi >= ioapics[i].gsi_base && gsi < ioapics[i].gsi_base + ioapics[i].inputs) {
            *pin = gsi - ioapics[i].gsi_base;
            return &ioapics[i];
        }
    }
    return NULL;
}

int ioapic_init(const struct madt_info *madt, uint32_t dest_apic_id)
{
    ioapic_madt = madt;
    ioapic_dest = (uint8_t)dest_apic_id;
    for (int i = 0; i < madt->ioapic_count; i++) {
        struct ioapic *io = &ioapics[ioapic_count];
        io->mmio = mmio_map(madt->ioapics[i].address, IOAPIC_MMIO_SIZE);
        if (!io->mmio) {
            log_error("ioapic: cannot map IOAPIC %u at 0x%x", madt->ioapics[i].id, madt->ioapics[i].address);
            continue;
        }
        io->gsi_base = madt->ioapics[i].gsi_base;
        io->id = madt->ioapics[i].id;
        uint32_t version = ioapic_read(io, IOAPIC_REG_VERSION);
        io->inputs = ((version >> 16) & 0xFF) + 1;
        /* The mask bit is in the low word: one register per pin, not
         * write_entry's three (each an exit under emulation; 48 pins on
         * microvm). write_entry sets the whole entry when a pin is routed. */
        for (uint32_t pin = 0; pin < io->inputs; pin++)
            ioapic_write(io, IOAPIC_REG_REDTBL + 2 * pin, IOREDTBL_MASKED);
        ioapic_count++;
        log_info("ioapic: id %u at 0x%x, version 0x%x, GSI %u-%u, all masked", io->id, madt->ioapics[i].address,
                 version & 0xFF, io->gsi_base, io->gsi_base + io->inputs - 1);
    }
    return ioapic_count ? 0 : -ENODEV;
}

/* The routes entry of `gsi`, or route_count when it has none. */
static int route_of(uint32_t gsi)
{
    int r = 0;
    while (r < route_count && routes[r].gsi != gsi)
        r++;
    return r;
}

int ioapic_route_gsi(uint32_t gsi, uint8_t vector, struct irq_line_mode mode)
{
    uint32_t pin;
    const struct ioapic *io = ioapic_for_gsi(gsi, &pin);
    if (!io)
        return -ENODEV;
    int r = route_of(gsi);
    if (r == ROUTES_MAX) /* unremembered, a second user would take the line from the first */
        return -ENOSPC;
    write_entry(io, pin, ioapic_redirection_entry(vector, ioapic_dest, mode, true));
    routes[r].gsi = gsi;
    routes[r].vector = vector;
    routes[r].mode = mode;
    route_count += r == route_count;
    log_debug("ioapic: GSI %u -> vector 0x%x, %s, active %s", gsi, vector, mode.level_triggered ? "level" : "edge",
              mode.active_low ? "low" : "high");
    return 0;
}

int ioapic_route_shared(uint32_t gsi, struct irq_line_mode mode)
{
    int r = route_of(gsi);
    if (r < route_count) {
        const struct irq_line_mode *m = &routes[r].mode;
        if (m->level_triggered != mode.level_triggered || m->active_low != mode.active_low)
            return -EBUSY;
        return routes[r].vector;
    }
    int vector = irq_alloc_vector();
    if (vector < 0)
        return vector;
    int rc = ioapic_route_gsi(gsi, (uint8_t)vector, mode);
    if (rc < 0) {
        irq_free_vector(vector);
        return rc;
    }
    return vector;
}

static int set_mask(uint32_t gsi, bool masked)
{
    uint32_t pin;
    const struct ioapic *io = ioapic_for_gsi(gsi, &pin);
    if (!io)
        return -ENODEV;
    uint32_t low = ioapic_read(io, IOAPIC_REG_REDTBL + 2 * pin);
    low = masked ? (low | (uint32_t)IOREDTBL_MASKED) : (low & ~(uint32_t)IOREDTBL_MASKED);
    ioapic_write(io, IOAPIC_REG_REDTBL + 2 * pin, low);
    return 0;
}

int ioapic_mask(uint32_t gsi)
{
    return set_mask(gsi, true);
}

int ioapic_unmask(uint32_t gsi)
{
    return set_mask(gsi, false);
}

void ioapic_unroute(uint32_t gsi)
{
    set_mask(gsi, true);
    int r = route_of(gsi);
    if (r < route_count)
        routes[r] = routes[--route_count];
}

int ioapic_mask_vector(uint8_t vector, bool masked)
{
    int lines = 0;
    for (int r = 0; r < route_count; r++)
        if (routes[r].vector == vector && set_mask(routes[r].gsi, masked) == 0)
            lines++;
    return lines;
}

uint32_t ioapic_isa_irq_to_gsi(uint8_t irq, struct irq_line_mode *mode)
{
    for (int i = 0; ioapic_madt && i < ioapic_madt->override_count; i++) {
        const struct madt_override *o = &ioapic_madt->overrides[i];
        if (o->bus == 0 && o->source_irq == irq) {
            *mode = isa_line_mode(o->flags);
            return o->gsi;
        }
    }
    *mode = isa_line_mode(0);
    return irq; /* identity-mapped, edge, active high */
}
