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
#define BOOT_MODULES_MAX 4

/* A file the loader placed in memory for the kernel (an initrd: -initrd). */
struct boot_module {
    uint64_t base;
    uint64_t size;
};

struct boot_info {
    const char *loader;             /* "EFI" or "PVH": named in the boot log */
    char cmdline[CMDLINE_MAX];      /* as given, made printable ASCII */
    const char *cmdline_source;     /* where it came from, if not the loader: logged after it */
    struct kernel_options options;  /* parsed from cmdline */
    uint64_t acpi_rsdp;             /* physical address of the ACPI RSDP, 0 if none */
    struct boot_mem_range memmap[BOOT_MEMMAP_MAX];
    unsigned memmap_count;
    struct boot_module modules[BOOT_MODULES_MAX];
    unsigned module_count;
    uint64_t site_refused_bytes;    /* a site archive the entry could not keep (EFI: no pages for it) */
    uint64_t image_base;            /* where the kernel image lies */
    uint64_t image_size;
    unsigned exit_boot_services_attempts; /* EFI only */
};

/* Appends a range; returns 0, or -1 when the map is full. */
int boot_memmap_add(struct boot_info *bi, uint64_t base, uint64_t size, enum boot_mem_type type);

/* Marks [base, base+size) in use: the free ranges it overlaps are split
 * around it, and it is appended as BOOT_MEM_IN_USE (a loader that reports
 * the image or modules as plain RAM). Returns 0, or -1 when the map is full. */
int boot_memmap_reserve(struct boot_info *bi, uint64_t base, uint64_t size);

/* The init sequence, on the loader's stack; never returns. */
__attribute__((noreturn)) void kmain(struct boot_info *info);

#endif
