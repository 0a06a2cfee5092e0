/*
 * What an entry point (boot/efi_main.c today) hands to kmain: everything the
 * loader knew that the kernel still needs, in a form that does not depend on
 * which loader it was. It lives in the image's own data, so it survives the
 * reuse of the loader's memory.
 */
#ifndef BOOT_BOOT_INFO_H
#define BOOT_BOOT_INFO_H

#include <stdint.h>

#include "boot/cmdline.h"

/* RAM as the loader described it; anything else (MMIO, holes) is left out. */
enum boot_mem_type {
    BOOT_MEM_FREE,        /* free now */
    BOOT_MEM_FREE_LATER,  /* the loader's (EFI boot services): free once kmain runs on its own stack and tables */
    BOOT_MEM_IN_USE,      /* holds something to keep: the image, ACPI tables, firmware runtime, modules */
};

struct boot_mem_range {
    uint64_t base;
    uint64_t size;
    enum boot_mem_type type;
};

#define BOOT_MEMMAP_MAX 256

struct boot_info {
    const char *loader;             /* "EFI": named in the boot log */
    char cmdline[CMDLINE_MAX];      /* as given, made printable ASCII */
    struct kernel_options options;  /* parsed from cmdline */
    uint64_t acpi_rsdp;             /* physical address of the ACPI RSDP, 0 if none */
    uint32_t acpi_revision;         /* 2 for the ACPI 2.0+ RSDP, 1 for the 1.0 one, 0 if none */
    struct boot_mem_range memmap[BOOT_MEMMAP_MAX];
    unsigned memmap_count;
    uint64_t image_base;            /* where the kernel image lies */
    uint64_t image_size;
    unsigned exit_boot_services_attempts; /* EFI only */
};

/* The init sequence, on the loader's stack; never returns. */
__attribute__((noreturn)) void kmain(struct boot_info *info);

#endif
