/*
 * The init sequence, in order, in one place. Each step assumes only the
 * steps above it.
 */
#include "arch/x86_64/acpi.h"
#include "arch/x86_64/apic_topology.h"
#include "arch/x86_64/backtrace.h"
#include "arch/x86_64/cpu.h"
#include "arch/x86_64/gdt.h"
#include "arch/x86_64/ioapic.h"
#include "arch/x86_64/lapic.h"
#include "arch/x86_64/machine_exit.h"
#include "arch/x86_64/irq.h"
#include "arch/x86_64/main_loop.h"
#include "arch/x86_64/pic.h"
#include "arch/x86_64/random.h"
#include "arch/x86_64/rtc.h"
#include "arch/x86_64/stack_switch.h"
#include "arch/x86_64/stacks.h"
#include "arch/x86_64/timer.h"
#include "arch/x86_64/trap.h"
#include "arch/x86_64/tsc.h"
#include "boot/boot_info.h"
#include "boot/crash.h"
#include "boot/memory.h"
#include "boot/power.h"
#include "boot/mmio_windows.h"
#include "boot/selftest.h"
#include "drivers/pci.h"
#include "drivers/virtio/virtio_net.h"
#include "net/net.h"
#include "lib/errno.h"
#include "lib/kheap.h"
#include "lib/log.h"
#include "lib/page_alloc.h"
#include "lib/panic.h"
#include "lib/phys_mem.h"

#define KERNEL_STACK_PAGES 16 /* 64 KiB */
#define IST_STACK_PAGES 4     /* 16 KiB each */
/* What the network stack needs free beside a site archive: connections,
 * lwIP's packet data and the site's file table come from the heap. */
#define SITE_MIN_FREE_BYTES (4ull << 20)

/* Configuration flows down: each subsystem gets its own small struct. */
static struct virtio_net_config virtio_net_config_from(const struct kernel_options *o)
{
    return (struct virtio_net_config){
        .virtio = { .irq_mode = o->irq_mode, .indirect = o->virtio_indirect, .event_idx = o->virtio_event_idx,
                    .packed = o->virtio_packed },
        .budget = (int)o->budget,
        .log_stats = o->log == LOG_VERBOSITY_DEBUG,
        .faults = o->fault_port,
        .ctrl = o->virtio_ctrl,
    };
}

/* The wall clock, read once (the RTC, else KVM's kvmclock: Firecracker has
 * no RTC); the kernel clock carries it on from here. */
static struct wall_clock wall_clock_read(void)
{
    uint64_t t;
    if (rtc_read_unix(&t))
        return (struct wall_clock){ .unix_seconds = t, .at_ns = clock_now_ns(), .source = "the RTC" };
    if (kvmclock_unix_time(&t))
        return (struct wall_clock){ .unix_seconds = t, .at_ns = clock_now_ns(), .source = "kvmclock" };
    return (struct wall_clock){ 0 };
}

static struct net_config net_config_from(const struct kernel_options *o)
{
    return (struct net_config){
        .dhcp = o->ip_mode == IP_MODE_DHCP,
        .ip_addr = o->ip_addr,
        .ip_prefix = o->ip_prefix,
        .gw_set = o->gw_set,
        .gw_addr = o->gw_addr,
        .fault_port = o->fault_port,
        .random_seed = random_seed(),
        .stats = { .interrupt_counts = irq_for_each_count },
        .wall_clock = wall_clock_read(),
    };
}

static void site_release(const void *archive, size_t size)
{
    uint64_t pages = phys_mem_add((uint64_t)archive, size);
    log_info("site: the archive's %llu KiB given back to the page allocator", (unsigned long long)(pages * PAGE_SIZE / 1024));
}

/* The site archive is the loader's first module (an initrd: docs/boot.md),
 * unless keeping it would leave the kernel too little memory. */
static void site_archive_into(const struct boot_info *bi, struct net_config *cfg)
{
    cfg->site_refused_bytes = bi->site_refused_bytes; /* refused by the entry already */
    if (!bi->module_count)
        return;
    const struct boot_module *m = &bi->modules[0];
    if (bi->module_count > 1)
        log_warn("site: %u modules; only the first is the site archive", bi->module_count);
    uint64_t free_bytes = memory_get_stats().free_bytes;
    cfg->site_release = site_release;
    if (free_bytes < SITE_MIN_FREE_BYTES) {
        log_error("site: the %llu KiB archive does not fit: with it %llu KiB stay free, the kernel needs %llu KiB; "
                  "refused, serving the built-in pages", (unsigned long long)(m->size / 1024),
                  (unsigned long long)(free_bytes / 1024), SITE_MIN_FREE_BYTES / 1024);
        cfg->site_refused_bytes = m->size;
        site_release((const void *)m->base, m->size);
        return;
    }
    cfg->site = (const void *)m->base;
    cfg->site_size = m->size;
}

static void run_net_timeouts(void *arg)
{
    (void)arg;
    net_run_timeouts();
}

static struct main_loop_hook net_timeouts_hook = { .fn = run_net_timeouts };

static uint64_t stack_or_panic(size_t pages, const char *what)
{
    uint64_t top = stack_alloc(pages);
    if (!top)
        panic("init: no memory for the %s stack", what);
    backtrace_add_stack(top - pages * PAGE_SIZE, top);
    return top;
}

/* Our own GDT and TSS, with IST stacks for the faults that must not trust RSP. */
static void cpu_tables_init(void)
{
    uint64_t ist_tops[IST_COUNT];
    ist_tops[IST_DOUBLE_FAULT - 1] = stack_or_panic(IST_STACK_PAGES, "double-fault");
    ist_tops[IST_NMI - 1] = stack_or_panic(IST_STACK_PAGES, "NMI");
    ist_tops[IST_MACHINE_CHECK - 1] = stack_or_panic(IST_STACK_PAGES, "machine-check");
    gdt_init(ist_tops);
    idt_use_ist();
    log_info("cpu: own GDT, TSS with IST stacks for #DF, NMI and #MC");
}

/* ACPI, then the interrupt controllers it (or an MP table, or the
 * architectural defaults) describes, then the timer on top. */
static void interrupts_and_time_init(const struct boot_info *bi)
{
    acpi_init(bi->acpi_rsdp); /* what is missing was said; apic_topology_probe looks elsewhere */
    const struct madt_info *madt = apic_topology_probe();
    int rc = lapic_init(madt->lapic_address, madt);
    if (rc < 0)
        panic("init: LAPIC at 0x%llx: %s", (unsigned long long)madt->lapic_address,
              rc == -ENODEV ? "the CPU has none" : "cannot map it");
    if (ioapic_init(madt, lapic_id()) < 0)
        panic("init: no usable IOAPIC");
    timer_service_init();
    irq_enable();
}

static void kmain_on_kernel_stack(void *arg)
{
    struct boot_info *bi = arg;
    /* Nothing of the firmware's is in use any more: stack, tables, GDT and IDT are ours. */
    memory_release_loader(bi, NULL, 0);
    kheap_init();
    if (pic_remap_and_mask())
        log_info("pic: 8259s remapped to vectors 0x%x-0x%x and masked", PIC_VECTOR_BASE, PIC_VECTOR_BASE + 15);
    else
        log_info("pic: none (its mask register does not read back)");
    interrupts_and_time_init(bi);
    if (bi->options.pci)
        pci_init();
    else
        log_info("pci: none probed (pci=off)");
    struct virtio_mmio_window mmio[VIRTIO_MMIO_WINDOWS_MAX];
    struct virtio_net_config nic_cfg = virtio_net_config_from(&bi->options);
    nic_cfg.mmio = mmio;
    nic_cfg.mmio_count = mmio_windows_collect(&bi->options, mmio, VIRTIO_MMIO_WINDOWS_MAX);
    virtio_net_probe_all(&nic_cfg);
    struct net_config net_cfg = net_config_from(&bi->options);
    site_archive_into(bi, &net_cfg);
    net_cfg.memory_free = memory_get_stats().free_bytes;
    net_init(&net_cfg);
    main_loop_add_hook(&net_timeouts_hook);
    power_watch(); /* after READY: nothing of it is needed to serve */

    uint64_t provisional_hz = tsc_hz();
    irq_disable();
    bool refined = tsc_calibrate_refine();
    irq_enable();
    if (refined)
        log_info("tsc: %llu.%03llu MHz, refined over init against the PIT (the first 0.5 ms said %llu.%03llu)",
                 (unsigned long long)(tsc_hz() / 1000000), (unsigned long long)(tsc_hz() / 1000 % 1000),
                 (unsigned long long)(provisional_hz / 1000000), (unsigned long long)(provisional_hz / 1000 % 1000));
    timer_service_ready();
    uint64_t ns = clock_since_entry_ns();
    log_info("init: done in %llu.%03llu ms since %s entry", NS_MS_WHOLE(ns), NS_MS_FRAC(ns), bi->loader);

    if (bi->options.selftest[0])
        selftest_run(bi->options.selftest);
    if (bi->options.crash[0])
        crash_now(bi->options.crash);
    main_loop_run();
}

void kmain(struct boot_info *bi)
{
    idt_init(); /* from here on a fault prints a PANIC instead of the firmware's dump */
    power_restart_first(bi->options.restart_first);
    machine_exit_on_panic(bi->options.panic_timeout_s, power_restart);
    if (bi->exit_boot_services_attempts)
        log_info("boot: %s: left boot services (attempt %u), ACPI RSDP at 0x%llx", bi->loader,
                 bi->exit_boot_services_attempts, (unsigned long long)bi->acpi_rsdp);
    else
        log_info("boot: %s: %u memory ranges, %u modules, ACPI RSDP %s0x%llx", bi->loader, bi->memmap_count,
                 bi->module_count, bi->acpi_rsdp ? "at " : "none ", (unsigned long long)bi->acpi_rsdp);
    if (bi->options.crash[0] && !crash_kind_known(bi->options.crash)) {
        log_warn("cmdline: crash=%s unknown kind (pagefault|divide|ud|gp|stack|smash|panic|write-text|exec-data), using none",
                 bi->options.crash);
        bi->options.crash[0] = '\0';
    }

    memory_init(bi);
    /* The loader's memory, but for our stack, its GDT and its page tables,
     * so that our tables and the stacks below do not depend on what the
     * firmware left free (OVMF leaves 4 pages at -m 37; ours take 11). */
    uint64_t in_use[] = { (uint64_t)__builtin_frame_address(0), gdt_loaded_base() };
    memory_release_loader(bi, in_use, 2);
    memory_enable_paging(bi);
    cpu_tables_init();
    uint64_t stack_top = stack_or_panic(KERNEL_STACK_PAGES, "kernel");
    stack_switch_call(stack_top, kmain_on_kernel_stack, bi);
}
