#include "drivers/i8042.h"

#include "arch/x86_64/cpu.h"
#include "arch/x86_64/ioapic.h"
#include "arch/x86_64/irq.h"
#include "arch/x86_64/timer.h"
#include "drivers/ps2_keys.h"
#include "lib/errno.h"
#include "lib/log.h"

/* Ports and bits (IBM PS/2 technical reference; Linux's i8042.h names). */
#define I8042_DATA 0x60
#define I8042_STATUS 0x64 /* read: status; write: a command */
#define STATUS_OUTPUT_FULL 0x01
#define STATUS_INPUT_FULL 0x02
#define STATUS_AUX_DATA 0x20 /* the byte is the mouse's */
#define CMD_READ_CONFIG 0x20
#define CMD_WRITE_CONFIG 0x60
#define CMD_PULSE_RESET 0xFE
#define CONFIG_KBD_INTERRUPT 0x01
#define CONFIG_KBD_CLOCK_OFF 0x10
#define CONFIG_TRANSLATE 0x40 /* the controller turns the keyboard's set 2 into set 1 */
#define KEYBOARD_ISA_IRQ 1
#define NO_DEVICE 0xFF         /* what a read of a port nothing decodes returns */
#define WAIT_NS 20000000ULL    /* a controller answers at once; a port that only looks like one, never */
#define BYTES_PER_INTERRUPT 16 /* Firecracker's buffer; QEMU's keyboard queue is 16 too */

static struct ps2_keys keys;
static volatile bool ctrl_alt_del;

static inline __attribute__((always_inline)) bool wait_status(uint8_t bit, bool set)
{
    uint64_t deadline = clock_now_ns() + WAIT_NS;
    do {
        if (((inb(I8042_STATUS) & bit) != 0) == set)
            return true;
    } while (clock_now_ns() < deadline);
    return false;
}

static bool on_interrupt(void *ctx)
{
    (void)ctx;
    bool any = false;
    for (int i = 0; i < BYTES_PER_INTERRUPT; i++) {
        uint8_t status = inb(I8042_STATUS);
        if (!(status & STATUS_OUTPUT_FULL))
            break;
        uint8_t byte = inb(I8042_DATA);
        any = true;
        if (!(status & STATUS_AUX_DATA) && ps2_keys_feed(&keys, byte))
            ctrl_alt_del = true;
    }
    return any;
}

int i8042_init(void)
{
    const char *why = "none";
    int rc = -ENODEV;
    if (inb(I8042_STATUS) == NO_DEVICE) /* microvm: nothing decodes the port */
        goto out;
    for (int i = 0; i < BYTES_PER_INTERRUPT && (inb(I8042_STATUS) & STATUS_OUTPUT_FULL); i++)
        (void)inb(I8042_DATA); /* what the firmware left unread */
    why = "no answer";
    if (!wait_status(STATUS_INPUT_FULL, false))
        goto out;
    outb(I8042_STATUS, CMD_READ_CONFIG);
    if (!wait_status(STATUS_OUTPUT_FULL, true))
        goto out;
    uint8_t config = inb(I8042_DATA);
    uint8_t want = (uint8_t)((config | CONFIG_KBD_INTERRUPT) & ~CONFIG_KBD_CLOCK_OFF);
    if (want != config) {
        outb(I8042_STATUS, CMD_WRITE_CONFIG);
        if (!wait_status(STATUS_INPUT_FULL, false))
            goto out;
        outb(I8042_DATA, want);
    }
    keys = (struct ps2_keys){ .set2 = !(config & CONFIG_TRANSLATE) };
    struct irq_line_mode mode;
    uint32_t gsi = ioapic_isa_irq_to_gsi(KEYBOARD_ISA_IRQ, &mode);
    rc = ioapic_route_shared(gsi, mode);
    why = "no IRQ 1";
    if (rc < 0 || (rc = irq_register((uint8_t)rc, on_interrupt, NULL)) < 0)
        goto out;
    ioapic_unmask(gsi);
    log_info("i8042: keyboard on GSI %u, scan code set %d: Ctrl-Alt-Del restarts", gsi, keys.set2 ? 2 : 1);
    return 0;
out:
    log_info("i8042: %s: no Ctrl-Alt-Del", why);
    return rc;
}

bool i8042_ctrl_alt_del_take(void)
{
    bool taken = ctrl_alt_del;
    ctrl_alt_del = false;
    return taken;
}

void i8042_reset_cpu(void)
{
    wait_status(STATUS_INPUT_FULL, false);
    outb(I8042_STATUS, CMD_PULSE_RESET);
}
