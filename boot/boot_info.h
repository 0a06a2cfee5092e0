/*
 * What the EFI entry hands to the kernel after ExitBootServices: everything
 * the firmware knew that the kernel still needs. It lives in the image's own
 * data, so it survives the reuse of boot-services memory.
 */
#ifndef BOOT_BOOT_INFO_H
#define BOOT_BOOT_INFO_H

#include <stdint.h>

#include "boot/cmdline.h"

struct boot_info {
    char cmdline[CMDLINE_MAX];      /* LoadOptions, converted from UCS-2 */
    struct kernel_options options;  /* parsed from cmdline */
    uint64_t acpi_rsdp;             /* physical address of the ACPI RSDP, 0 if none */
    uint32_t acpi_revision;         /* 2 for the ACPI 2.0+ RSDP, 1 for the 1.0 one */
    /* The firmware's final memory map: descriptors are memmap_desc_size
     * bytes apart (48 under OVMF, larger than the C struct). */
    const void *memmap;
    uint64_t memmap_size;
    uint64_t memmap_desc_size;
    uint64_t image_base;            /* where OVMF loaded kernel.efi */
    uint64_t image_size;
    unsigned exit_boot_services_attempts;
};

/* The init sequence, on the firmware's stack; never returns. */
__attribute__((noreturn)) void kmain(struct boot_info *info);

#endif
