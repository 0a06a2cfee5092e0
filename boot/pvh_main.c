/*
 * The PVH entry's C half (after boot/pvh_entry.S): start_info's command line,
 * memory map, ACPI root and modules into boot_info, then kmain. Runs on the
 * entry's identity map of the first 4 GiB, where start_info and everything it
 * points at lie (QEMU and Firecracker put them below 1 MiB).
 */
#include "arch/x86_64/cpu.h"
#include "boot/boot_info.h"
#include "boot/entry_common.h"
#include "boot/pvh_start_info.h"
#include "lib/log.h"
#include "lib/panic.h"
#include "lib/stack_protector.h"
#include "lib/string.h"

extern const char ImageBase[] __attribute__((visibility("hidden")));
extern const char __image_end[] __attribute__((visibility("hidden")));

#define FOUR_GIB 0x100000000ULL

static struct boot_info boot_info;

/* Only what the entry's identity map covers can be read before kmain's page tables. */
static bool readable(uint64_t addr, uint64_t size)
{
    return addr && size <= FOUR_GIB && addr <= FOUR_GIB - size;
}

/* Tabs and newlines separate words as spaces do; other control bytes are not text. */
static char cmdline_char(char c)
{
    return c == '\t' || c == '\n' ? ' ' : c >= 0x20 && c < 0x7F ? c : '?';
}

static void read_command_line(const struct hvm_start_info *si, char *out, size_t out_size)
{
    out[0] = '\0';
    if (!readable(si->cmdline_paddr, 1))
        return;
    const char *in = (const char *)si->cmdline_paddr;
    size_t n = 0;
    for (; in[n] && n + 1 < out_size; n++)
        out[n] = cmdline_char(in[n]);
    out[n] = '\0';
    if (in[n])
        entry_cmdline_cut(out, out_size, cmdline_char(in[n]));
}

static void read_memory_map(const struct hvm_start_info *si, struct boot_info *bi)
{
    if (si->version < 1 || !si->memmap_entries ||
        !readable(si->memmap_paddr, (uint64_t)si->memmap_entries * sizeof(struct hvm_memmap_table_entry)))
        panic("boot: start_info (version %u) has no memory map; this kernel needs one", si->version);
    const struct hvm_memmap_table_entry *e = (const void *)si->memmap_paddr;
    unsigned dropped = 0;
    for (uint32_t i = 0; i < si->memmap_entries; i++) {
        enum boot_mem_type type;
        if (e[i].type == HVM_MEMMAP_TYPE_RAM)
            type = BOOT_MEM_FREE;
        else if (e[i].type == HVM_MEMMAP_TYPE_ACPI || e[i].type == HVM_MEMMAP_TYPE_NVS)
            type = BOOT_MEM_IN_USE;
        else
            continue; /* reserved, unusable: ACPI maps what it reads there on demand */
        if (boot_memmap_add(bi, e[i].addr, e[i].size, type) < 0)
            dropped++;
    }
    if (dropped)
        log_warn("memory: %u start_info memory map entries past the first %u ignored", dropped, BOOT_MEMMAP_MAX);
}

static void reserve_or_panic(struct boot_info *bi, uint64_t base, uint64_t size, const char *what)
{
    if (boot_memmap_reserve(bi, base, size) < 0)
        panic("boot: memory map full while reserving the %s", what);
}

static void read_modules(const struct hvm_start_info *si, struct boot_info *bi)
{
    if (!si->nr_modules)
        return;
    if (!readable(si->modlist_paddr, (uint64_t)si->nr_modules * sizeof(struct hvm_modlist_entry))) {
        log_warn("boot: start_info lists %u modules at 0x%llx, out of reach: ignored", si->nr_modules,
                 (unsigned long long)si->modlist_paddr);
        return;
    }
    const struct hvm_modlist_entry *m = (const void *)si->modlist_paddr;
    for (uint32_t i = 0; i < si->nr_modules; i++) {
        if (bi->module_count == BOOT_MODULES_MAX || !m[i].size || m[i].paddr + m[i].size < m[i].paddr) {
            log_warn("boot: module %u (%llu bytes at 0x%llx) ignored", i, (unsigned long long)m[i].size,
                     (unsigned long long)m[i].paddr);
            continue;
        }
        bi->modules[bi->module_count++] = (struct boot_module){ m[i].paddr, m[i].size };
        reserve_or_panic(bi, m[i].paddr, m[i].size, "module");
        log_info("boot: module %u: %llu KiB at 0x%llx", i, (unsigned long long)(m[i].size / 1024),
                 (unsigned long long)m[i].paddr);
    }
}

__attribute__((noreturn)) void pvh_main(uint32_t start_info_paddr);
extern const uint64_t pvh_entry_tsc; /* pvh_entry.S: its first instruction's TSC */

void pvh_main(uint32_t start_info_paddr)
{
    uint64_t entry_tsc = pvh_entry_tsc;
    stack_protector_init(entry_tsc ^ rdtsc());
    struct boot_info *bi = &boot_info;
    bi->loader = "PVH";
    bi->image_base = (uint64_t)ImageBase;
    bi->image_size = (uint64_t)(__image_end - ImageBase);
    entry_console_and_clock(entry_tsc);

    const struct hvm_start_info *si = (const void *)(uintptr_t)start_info_paddr;
    if (!readable(start_info_paddr, sizeof(*si)) || si->magic != HVM_START_MAGIC_VALUE)
        panic("boot: no PVH start_info at 0x%x (magic 0x%x)", start_info_paddr,
              readable(start_info_paddr, sizeof(*si)) ? si->magic : 0);
    read_command_line(si, bi->cmdline, sizeof(bi->cmdline));
    entry_parse_cmdline(bi);
    read_memory_map(si, bi);
    reserve_or_panic(bi, bi->image_base, bi->image_size, "kernel image");
    read_modules(si, bi);
    bi->acpi_rsdp = si->rsdp_paddr;
    kmain(bi);
}
