/*
 * The PVH boot ABI (Xen's public arch-x86/hvm/start_info.h, as QEMU and
 * Firecracker implement it): the kernel's ELF note XEN_ELFNOTE_PHYS32_ENTRY
 * names a 32-bit entry, reached in protected mode with paging off and %ebx
 * holding the physical address of struct hvm_start_info.
 */
#ifndef BOOT_PVH_START_INFO_H
#define BOOT_PVH_START_INFO_H

#include <stdint.h>

#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define HVM_START_MAGIC_VALUE 0x336ec578u

struct hvm_start_info {
    uint32_t magic;           /* HVM_START_MAGIC_VALUE */
    uint32_t version;         /* 0, or 1 when the memory map fields exist */
    uint32_t flags;
    uint32_t nr_modules;
    uint64_t modlist_paddr;   /* struct hvm_modlist_entry[nr_modules] */
    uint64_t cmdline_paddr;   /* NUL-terminated, 0 if none */
    uint64_t rsdp_paddr;      /* ACPI RSDP, 0 if none */
    /* version >= 1 */
    uint64_t memmap_paddr;    /* struct hvm_memmap_table_entry[memmap_entries] */
    uint32_t memmap_entries;
    uint32_t reserved;
};

struct hvm_modlist_entry {
    uint64_t paddr;
    uint64_t size;
    uint64_t cmdline_paddr;
    uint64_t reserved;
};

/* Types as in the E820 map (ACPI 6.4, 15.1 "Address Range Types"). */
#define HVM_MEMMAP_TYPE_RAM 1
#define HVM_MEMMAP_TYPE_RESERVED 2
#define HVM_MEMMAP_TYPE_ACPI 3
#define HVM_MEMMAP_TYPE_NVS 4

struct hvm_memmap_table_entry {
    uint64_t addr;
    uint64_t size;
    uint32_t type;
    uint32_t reserved;
};

_Static_assert(__builtin_offsetof(struct hvm_start_info, cmdline_paddr) == 24, "start_info layout");
_Static_assert(__builtin_offsetof(struct hvm_start_info, rsdp_paddr) == 32, "start_info layout");
_Static_assert(__builtin_offsetof(struct hvm_start_info, memmap_paddr) == 40, "start_info layout");
_Static_assert(__builtin_offsetof(struct hvm_start_info, memmap_entries) == 48, "start_info layout");
_Static_assert(sizeof(struct hvm_memmap_table_entry) == 24, "memmap entry layout");

#endif
