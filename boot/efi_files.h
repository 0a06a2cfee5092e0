/*
 * Files in the volume the kernel image was loaded from, read under boot
 * services: a disk's EFI system partition (make image: site.cpio and
 * cmdline.txt beside EFI/BOOT/BOOTX64.EFI), or the file system OVMF's kernel
 * loader offers for QEMU's -kernel (files "kernel", "initrd", "cmdline").
 */
#ifndef BOOT_EFI_FILES_H
#define BOOT_EFI_FILES_H

#include <efi.h>
#include <stdint.h>

/* Why efi_file_read found nothing usable; negative, 0 is success. */
#define EFI_FILE_ABSENT (-1)     /* no volume, or no such file: not an error */
#define EFI_FILE_TOO_LARGE (-2)  /* larger than max_size, or no pages for it (reported) */
#define EFI_FILE_ERROR (-3)      /* the firmware failed to read it (reported) */

/* Where a relative name is looked up. */
enum efi_file_dir { EFI_FILE_BESIDE_IMAGE, EFI_FILE_FROM_ROOT };

/* Reads the whole file `name` (ASCII, '/' or '\\' as separator) into new
 * EfiLoaderData pages, from the image's own directory or the volume's root
 * (always the root when `name` starts with a separator). Files over max_size bytes are
 * refused before anything is allocated. Returns 0 and sets *base and *size
 * (the pages stay allocated: the memory map keeps EfiLoaderData in use), or
 * one of the negative codes above (*size is the file's size from
 * EFI_FILE_TOO_LARGE on). */
int efi_file_read(EFI_SYSTEM_TABLE *st, EFI_LOADED_IMAGE *image, enum efi_file_dir dir, const char *name,
                  uint64_t max_size, uint64_t *base, uint64_t *size);

#endif
