/*
 * The kernel command line (DESIGN.md, "Kernel command line"): space-separated
 * key=value words from QEMU's -append. Unknown keys and bad values are
 * reported through a callback and ignored (the default stays); a key given
 * twice takes its last value. Pure logic, unit-tested on the host.
 *
 *   ip=dhcp | ip=A.B.C.D/N    address configuration (default dhcp; /N defaults to 24)
 *   ip=CLIENT:SERVER:GW:NETMASK:HOSTNAME:DEVICE:AUTOCONF[:...]   Linux's form (Firecracker's
 *                             guides pass it): static with CLIENT, else dhcp; on and any are dhcp
 *   gw=A.B.C.D                default gateway for a static address
 *   irq=auto|msix|shared|intx|poll   interrupt mode for the NIC (default auto)
 *   budget=N                  packets per poll, 1..4096 (default 64)
 *   log=quiet|info|debug      console verbosity (default info); Linux's bare quiet and debug too
 *   panic=N                   Linux's: after a PANIC restart in N seconds (negative: at once;
 *                             default 0, halt). QEMU's isa-debug-exit, when there, ends it first
 *   pci=on|off                off: no PCI bus is probed, as Linux's pci=off (Firecracker's
 *                             guides pass it); default on
 *   nomodule, MODULE.PARAM[=V] Linux's words for its modules (8250.nr_uarts=0, i8042.noaux):
 *                             counted and ignored, as Linux ignores those of modules it lacks
 *   reboot=a|k|t|p[,...]      Linux's: the way a restart tries first (ACPI's reset register,
 *                             the keyboard controller, a triple fault, PCI's port 0xCF9);
 *                             modes (warm, cold...) accepted and of no effect; default a
 *   console=ttyS0[,...]       Linux's word for what is always so here (COM1); other values reported
 *   indirect=on|off           offer VIRTIO_F_RING_INDIRECT_DESC to devices (default on)
 *   event_idx=on|off          offer VIRTIO_F_RING_EVENT_IDX to devices (default on)
 *   packed=on|off             offer VIRTIO_F_RING_PACKED (packed rings) to devices (default on)
 *   ctrl=on|off               offer virtio-net's control queue, receive filter and announce (default on)
 *   faults=on|off             fault-injection commands on UDP port 9999 (tests only; default off)
 *   selftest=NAME[,NAME]|all  run in-guest self-tests and exit with the verdict
 *   crash=KIND                fault on purpose after init (tests the PANIC path)
 *   gdb=wait                  spin at EFI entry until a debugger releases it (make debug)
 *   virtio_mmio.device=SIZE@BASE:IRQ[:ID]   a virtio-mmio device (Linux's syntax, what QEMU's
 *                             microvm appends with acpi=off and Firecracker passes): SIZE with an
 *                             optional K/M/G suffix, BASE and SIZE in C notation (0x hex, 0 octal),
 *                             IRQ the GSI, ID ignored. Repeatable, up to VIRTIO_MMIO_WINDOWS_MAX.
 *   initrd=PATH               EFI: the site archive, a file in the boot volume (Linux's EFI stub
 *                             convention; OVMF appends initrd=initrd for QEMU's -initrd)
 */
#ifndef BOOT_CMDLINE_H
#define BOOT_CMDLINE_H

#include <stdbool.h>
#include <stdint.h>

#include "boot/power.h"
#include "drivers/virtio/virtio_config.h"

#define CMDLINE_MAX 2048      /* Linux on x86: COMMAND_LINE_SIZE */
#define CMDLINE_VALUE_MAX 64  /* a string option (selftest=, crash=, initrd=), with its NUL */
#define CMDLINE_WORD_MAX 256  /* a whole key=value word, with its NUL */

enum ip_mode { IP_MODE_DHCP, IP_MODE_STATIC };
enum log_verbosity { LOG_VERBOSITY_QUIET, LOG_VERBOSITY_INFO, LOG_VERBOSITY_DEBUG };

#define BUDGET_DEFAULT 64
#define BUDGET_MIN 1
#define BUDGET_MAX 4096
#define IP_PREFIX_DEFAULT 24
#define PANIC_TIMEOUT_MAX_S 0x7FFFFFFF

struct kernel_options {
    enum ip_mode ip_mode;
    uint32_t ip_addr;     /* host order: 10.0.2.15 is 0x0A00020F */
    uint8_t ip_prefix;
    bool gw_set;
    uint32_t gw_addr;
    enum irq_mode irq_mode;
    uint32_t budget;
    enum log_verbosity log;
    bool virtio_indirect;
    bool virtio_event_idx;
    bool virtio_packed;
    bool virtio_ctrl;
    bool fault_port;      /* faults=on: net/fault_port.c listens */
    char selftest[CMDLINE_VALUE_MAX]; /* empty: none */
    char crash[CMDLINE_VALUE_MAX];    /* empty: none */
    bool gdb_wait;
    struct virtio_mmio_window mmio[VIRTIO_MMIO_WINDOWS_MAX]; /* virtio_mmio.device=, in order */
    int mmio_count;
    char initrd[CMDLINE_VALUE_MAX];   /* empty: none */
    int32_t panic_timeout_s;          /* panic=: 0 halts, negative restarts at once */
    bool pci;                         /* false: pci=off */
    enum restart_way restart_first;   /* reboot=: the way a restart tries first */
    uint16_t linux_module_words;      /* nomodule, module.param words: ignored, as Linux does */
};

/* Receives one human-readable problem, e.g. "unknown key 'foo' ignored". */
typedef void (*cmdline_report_fn)(const char *problem, void *ctx);

void kernel_options_defaults(struct kernel_options *opts);

/* Parses `line` over the defaults already in *opts; returns the number of problems reported. */
int cmdline_parse(const char *line, struct kernel_options *opts, cmdline_report_fn report, void *ctx);

/* A line cut at CMDLINE_MAX - 1 characters, `next` the first one left out:
 * when the cut fell inside a word, that word is dropped rather than half
 * taken ("ip=10.0.2.1" of "ip=10.0.2.15"). */
void cmdline_drop_cut_word(char *line, char next);

/* Parses "A.B.C.D" (whole string); returns 0 and sets *addr, or -1. */
int parse_ipv4(const char *s, uint32_t *addr);

/* Parses "SIZE@BASE:IRQ[:ID]" (whole string) into a window; returns 0 or -1. */
int parse_virtio_mmio_device(const char *s, struct virtio_mmio_window *window);

#endif
