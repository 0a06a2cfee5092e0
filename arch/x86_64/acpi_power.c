#include "arch/x86_64/acpi_power.h"

#include "arch/x86_64/acpi.h"
#include "arch/x86_64/cpu.h"
#include "arch/x86_64/ioapic.h"
#include "arch/x86_64/irq.h"
#include "arch/x86_64/mmio.h"
#include "arch/x86_64/paging.h"
#include "arch/x86_64/timer.h"
#include "lib/errno.h"
#include "lib/log.h"
#include "lib/string.h"

/* PM1 registers (ACPI 6.5, 4.8.3.1 and 4.8.3.2). */
#define PM1_STS_PWRBTN (1u << 8)
#define PM1_EN_PWRBTN (1u << 8)
#define PM1_CNT_SCI_EN (1u << 0)
#define PM1_CNT_SLP_TYP_SHIFT 10
#define PM1_CNT_SLP_TYP_MASK (7u << PM1_CNT_SLP_TYP_SHIFT)
#define PM1_CNT_SLP_EN (1u << 13)
/* The sleep control register of hardware-reduced platforms (4.8.3.7). */
#define SLEEP_CTL_SLP_TYP_SHIFT 2
#define SLEEP_CTL_SLP_EN (1u << 5)
#define GED_HID "ACPI0013"
#define POWER_BUTTON_HID "PNP0C0C"
#define POWER_BUTTONS_MAX 4
#define GED_SELECTOR_BYTES 4

#define ACPI_MODE_WAIT_NS (100ULL * 1000000ULL) /* for SCI_EN after ACPI_ENABLE */
#define POWER_OFF_WAIT_NS (200ULL * 1000000ULL) /* for the platform to act on SLP_EN */

enum button_kind { BUTTON_NONE, BUTTON_FIXED, BUTTON_GED };

static struct {
    enum button_kind kind;
    uint16_t pm1a_sts, pm1b_sts; /* fixed: status registers (I/O ports; 0: none) */
    volatile void *ged_selector; /* GED: its event selector, mapped */
    uint32_t ged_mask;           /* GED: the selector's bit for the power button */
    volatile bool pressed;
} button;

static bool fixed_button_interrupt(void *ctx)
{
    (void)ctx;
    uint16_t sts = inw(button.pm1a_sts) | (button.pm1b_sts ? inw(button.pm1b_sts) : 0);
    if (!(sts & PM1_STS_PWRBTN))
        return false; /* the SCI's other sources are left disabled: another device's on a shared line */
    outw(button.pm1a_sts, PM1_STS_PWRBTN); /* write 1 to clear; the 0s change nothing */
    if (button.pm1b_sts)
        outw(button.pm1b_sts, PM1_STS_PWRBTN);
    button.pressed = true;
    return true;
}

static bool ged_interrupt(void *ctx)
{
    (void)ctx;
    uint32_t events = mmio_read32(button.ged_selector); /* reading clears them */
    if (events & button.ged_mask)
        button.pressed = true;
    return events != 0;
}

/* The SCI's GSI and line: an interrupt source override when the MADT has one
 * for it; "conforms", or none, means level-triggered and active low for the
 * SCI (5.2.12.5), not the ISA bus's edge and high. */
static uint32_t sci_line(uint16_t irq, struct irq_line_mode *mode)
{
    const struct acpi_platform *p = acpi_platform();
    uint32_t gsi = irq;
    uint16_t flags = 0;
    for (int i = 0; p->have_madt && i < p->madt.override_count; i++) {
        const struct madt_override *o = &p->madt.overrides[i];
        if (o->bus == 0 && o->source_irq == irq) {
            gsi = o->gsi;
            flags = o->flags;
        }
    }
    uint16_t polarity = flags & 3, trigger = (flags >> 2) & 3;
    mode->active_low = polarity != 1;     /* 1: active high */
    mode->level_triggered = trigger != 1; /* 1: edge */
    return gsi;
}

/* Shared with a PCI device's INTx already on the line, as the SCI allows. */
static int route(uint32_t gsi, struct irq_line_mode mode, irq_handler_fn fn, const char *what)
{
    int vector = ioapic_route_shared(gsi, mode);
    if (vector >= 0 && irq_register((uint8_t)vector, fn, NULL) < 0)
        vector = -ENOSPC;
    if (vector < 0) {
        log_error("acpi: power button: the %s's GSI %u %s", what, gsi,
                  vector == -EBUSY ? "is taken with another trigger mode" : "cannot be routed");
        return vector;
    }
    ioapic_unmask(gsi);
    return vector;
}

static int fixed_button_init(const struct fadt_info *f)
{
    uint16_t half = f->pm1_evt_len / 2; /* each event block: status, then enable */
    if (!(inw(f->pm1a_cnt) & PM1_CNT_SCI_EN)) {
        if (!f->smi_cmd || !f->acpi_enable) {
            log_info("acpi: no power button: the platform is not in ACPI mode and names no way into it");
            return -ENODEV;
        }
        outb((uint16_t)f->smi_cmd, f->acpi_enable);
        uint64_t deadline = clock_now_ns() + ACPI_MODE_WAIT_NS;
        while (!(inw(f->pm1a_cnt) & PM1_CNT_SCI_EN))
            if (clock_now_ns() > deadline) {
                log_error("acpi: no power button: SCI_EN still clear 100 ms after ACPI_ENABLE (0x%x to port 0x%x)",
                          f->acpi_enable, f->smi_cmd);
                return -ETIMEDOUT;
            }
    }
    button.pm1a_sts = f->pm1a_evt;
    button.pm1b_sts = f->pm1b_evt;
    /* Only the button may raise the SCI: the other fixed events (the PM
     * timer's overflow, the global lock, the RTC) are disabled, and every
     * status bit from before is cleared (write 1 to clear), a press too. */
    outw((uint16_t)(f->pm1a_evt + half), 0);
    outw(f->pm1a_evt, 0xFFFF);
    if (f->pm1b_evt) {
        outw((uint16_t)(f->pm1b_evt + half), 0);
        outw(f->pm1b_evt, 0xFFFF);
    }
    struct irq_line_mode mode;
    uint32_t gsi = sci_line(f->sci_interrupt, &mode);
    int vector = route(gsi, mode, fixed_button_interrupt, "SCI");
    if (vector < 0)
        return vector;
    outw((uint16_t)(f->pm1a_evt + half), PM1_EN_PWRBTN);
    if (f->pm1b_evt)
        outw((uint16_t)(f->pm1b_evt + half), PM1_EN_PWRBTN);
    button.kind = BUTTON_FIXED;
    log_info("acpi: power button: fixed feature, PM1 at port 0x%x, SCI on GSI %u (%s, active %s, vector 0x%x)",
             f->pm1a_evt, gsi, mode.level_triggered ? "level" : "edge", mode.active_low ? "low" : "high", vector);
    return 0;
}

static int ged_init(const struct fadt_info *f, const struct acpi_aml_device *ged)
{
    if (!ged->has_interrupt || !ged->has_region || ged->region_length < GED_SELECTOR_BYTES) {
        log_info("acpi: no power button: the Generic Event Device %s declares no interrupt or event register",
                 ged->name);
        return -ENODEV;
    }
    /* The bit is the one _EVT turns into "pressed" (Notify 0x80) for a
     * power button device: QEMU's is 2, cloud-hypervisor's 8 (whose register
     * is another device's, so it is not found here), and a bit read wrong
     * would power the machine off on another event. */
    struct acpi_aml_device buttons[POWER_BUTTONS_MAX];
    int count = acpi_find_devices(POWER_BUTTON_HID, buttons, POWER_BUTTONS_MAX);
    bool notifies_a_button = false;
    for (int i = 0; i < count && i < POWER_BUTTONS_MAX; i++)
        notifies_a_button |= ged->evt_notify_mask && strcmp(buttons[i].name, ged->evt_notify_name) == 0;
    if (!notifies_a_button) {
        log_info("acpi: no power button: the Generic Event Device %s's _EVT notifies no %s device in a shape "
                 "this kernel reads", ged->name, POWER_BUTTON_HID);
        return -ENODEV;
    }
    if (!f->has_sleep_control) {
        log_info("acpi: no power button: a Generic Event Device but no sleep control register to power off with");
        return -ENODEV;
    }
    button.ged_selector = mmio_map(ged->region_base, GED_SELECTOR_BYTES);
    if (!button.ged_selector) {
        log_error("acpi: no power button: cannot map the event register at 0x%llx",
                  (unsigned long long)ged->region_base);
        return -ENODEV;
    }
    button.ged_mask = ged->evt_notify_mask;
    (void)mmio_read32(button.ged_selector); /* events from before boot are not ours */
    int vector = route(ged->gsi, ged->line, ged_interrupt, "Generic Event Device");
    if (vector < 0)
        return vector;
    button.kind = BUTTON_GED;
    log_info("acpi: power button: Generic Event Device %s, event 0x%x at 0x%llx for %s, GSI %u (%s, active %s, "
             "vector 0x%x)", ged->name, button.ged_mask, (unsigned long long)ged->region_base, ged->evt_notify_name,
             ged->gsi, ged->line.level_triggered ? "level" : "edge", ged->line.active_low ? "low" : "high", vector);
    return 0;
}

int acpi_power_init(void)
{
    const struct acpi_platform *p = acpi_platform();
    if (!p->have_fadt) {
        log_info("acpi: no power button: no FADT");
        return -ENODEV;
    }
    const struct fadt_info *f = &p->fadt;
    if (!f->hw_reduced && f->pm1a_evt && f->pm1a_cnt && f->pm1_evt_len >= 4) {
        if (f->power_button_device) {
            log_info("acpi: no power button: it is a control-method device, whose AML this kernel does not run");
            return -ENODEV;
        }
        return fixed_button_init(f);
    }
    struct acpi_aml_device ged;
    if (acpi_find_devices(GED_HID, &ged, 1) >= 1)
        return ged_init(f, &ged);
    log_info("acpi: no power button: neither PM1 registers nor a Generic Event Device");
    return -ENODEV;
}

bool acpi_power_button_take(void)
{
    return __atomic_exchange_n(&button.pressed, false, __ATOMIC_SEQ_CST);
}

static void gas_write8(const struct acpi_gas *g, uint8_t value)
{
    if (g->space_id == ACPI_GAS_IO && g->address <= 0xFFFF) {
        outb((uint16_t)g->address, value);
    } else if (g->space_id == ACPI_GAS_MEMORY) {
        volatile void *r = mmio_map(g->address, 1);
        if (r)
            mmio_write8(r, value);
    }
}

static void pm1_cnt_sleep(uint16_t port, uint8_t slp_typ)
{
    uint16_t cnt = (uint16_t)((inw(port) & ~(PM1_CNT_SLP_TYP_MASK | PM1_CNT_SLP_EN)) |
                              (uint16_t)(slp_typ << PM1_CNT_SLP_TYP_SHIFT));
    outw(port, cnt); /* SLP_TYP first, then SLP_EN, as 4.8.3.2.1 allows and Linux does */
    outw(port, (uint16_t)(cnt | PM1_CNT_SLP_EN));
}

void acpi_power_off(void)
{
    const struct fadt_info *f = &acpi_platform()->fadt;
    uint8_t typ_a, typ_b;
    if (!acpi_s5_sleep_types(&typ_a, &typ_b)) {
        log_error("acpi: no \\_S5 in the DSDT or SSDTs: cannot enter soft-off");
        return;
    }
    log_info("acpi: soft-off (S5, SLP_TYP %u)", typ_a);
    log_flush();
    if (button.kind == BUTTON_FIXED) {
        pm1_cnt_sleep(f->pm1a_cnt, typ_a);
        if (f->pm1b_cnt)
            pm1_cnt_sleep(f->pm1b_cnt, typ_b);
    } else if (button.kind == BUTTON_GED) {
        gas_write8(&f->sleep_control, (uint8_t)(((typ_a & 7) << SLEEP_CTL_SLP_TYP_SHIFT) | SLEEP_CTL_SLP_EN));
    }
    clock_spin_ns(POWER_OFF_WAIT_NS);
}
