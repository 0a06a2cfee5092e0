/* The EFI memory map in boot_info's own terms (boot/boot_info.h). */
#ifndef BOOT_EFI_MEMMAP_H
#define BOOT_EFI_MEMMAP_H

#include <stdint.h>

#include "boot/boot_info.h"

/* Converts `size` bytes of descriptors, `desc_size` apart (48 under OVMF,
 * larger than the C struct), into bi->memmap; reports entries that do not fit. */
void efi_memmap_convert(const void *map, uint64_t size, uint64_t desc_size, struct boot_info *bi);

#endif
