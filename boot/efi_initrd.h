/*
 * The site archive under EFI, found before ExitBootServices the ways Linux's
 * EFI stub finds its initrd (docs/boot.md, "The site archive"):
 *   1. LoadFile2 on the Linux initrd media device path: the loader that
 *      holds an initrd registers it (OVMF's kernel loader does for QEMU's
 *      -kernel ... -initrd);
 *   2. the file named by initrd=PATH on the command line, from the root of
 *      the image's own volume (OVMF appends "initrd=initrd" for -initrd);
 *   3. site.cpio beside the image (make image SITE=dir).
 * It lands in EfiLoaderData pages, which the memory map keeps in use, and
 * becomes boot_info's first module, as a PVH loader's module would.
 */
#ifndef BOOT_EFI_INITRD_H
#define BOOT_EFI_INITRD_H

#include <efi.h>

#include "boot/boot_info.h"

#define EFI_SITE_FILE "site.cpio"

void efi_initrd_load(EFI_SYSTEM_TABLE *st, EFI_LOADED_IMAGE *image, struct boot_info *bi);

#endif
