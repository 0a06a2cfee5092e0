#include "boot/efi_initrd.h"

#include "boot/efi_files.h"
#include "lib/log.h"

/* EFI_LOAD_FILE2_PROTOCOL (UEFI 2.10, 13.2): LoadFile's interface, BootPolicy always FALSE. */
#define LOAD_FILE2_PROTOCOL_GUID { 0x4006c0c1, 0xfcb3, 0x403e, { 0x99, 0x6d, 0x4a, 0x6c, 0x87, 0x24, 0xe0, 0x6d } }
/* LINUX_EFI_INITRD_MEDIA_GUID (Linux include/linux/efi.h): the vendor media
 * device path a loader installs LoadFile2 on to hand over an initrd. */
#define LINUX_INITRD_MEDIA_GUID { 0x5568e427, 0x68fc, 0x4f3d, { 0xac, 0x74, 0xca, 0x55, 0x52, 0x31, 0xcc, 0x68 } }
#define NO_LIMIT UINT64_MAX

struct initrd_media_path {
    VENDOR_DEVICE_PATH vendor;
    EFI_DEVICE_PATH end;
} __attribute__((packed));

/* Returns 0 with the archive, EFI_FILE_ABSENT when no loader offers one, or another EFI_FILE_* code. */
static int load_from_initrd_media(EFI_SYSTEM_TABLE *st, uint64_t *base, uint64_t *size)
{
    EFI_BOOT_SERVICES *bs = st->BootServices;
    EFI_GUID lf2_guid = LOAD_FILE2_PROTOCOL_GUID;
    struct initrd_media_path media = {
        .vendor = { .Header = { MEDIA_DEVICE_PATH, MEDIA_VENDOR_DP, { sizeof(VENDOR_DEVICE_PATH), 0 } },
                    .Guid = LINUX_INITRD_MEDIA_GUID },
        .end = { END_DEVICE_PATH_TYPE, END_ENTIRE_DEVICE_PATH_SUBTYPE, { sizeof(EFI_DEVICE_PATH), 0 } },
    };
    EFI_DEVICE_PATH *path = &media.vendor.Header;
    EFI_HANDLE handle;
    EFI_LOAD_FILE_PROTOCOL *lf2;
    if (EFI_ERROR(bs->LocateDevicePath(&lf2_guid, &path, &handle)) ||
        EFI_ERROR(bs->HandleProtocol(handle, &lf2_guid, (void **)&lf2)))
        return EFI_FILE_ABSENT;
    UINTN bytes = 0;
    EFI_STATUS status = lf2->LoadFile(lf2, path, FALSE, &bytes, NULL);
    *size = bytes;
    if (status != EFI_BUFFER_TOO_SMALL) {
        if (!EFI_ERROR(status) && bytes == 0)
            return EFI_FILE_ABSENT; /* an empty initrd */
        log_warn("site: the initrd media path's LoadFile2 gave no size (status 0x%llx)", (unsigned long long)status);
        return EFI_FILE_ERROR;
    }
    EFI_PHYSICAL_ADDRESS pages;
    UINTN count = EFI_SIZE_TO_PAGES(bytes);
    status = bs->AllocatePages(AllocateAnyPages, EfiLoaderData, count, &pages);
    if (EFI_ERROR(status)) {
        log_warn("efi: initrd: no memory for its %llu KiB (AllocatePages status 0x%llx)",
                 (unsigned long long)(bytes / 1024), (unsigned long long)status);
        return EFI_FILE_TOO_LARGE;
    }
    status = lf2->LoadFile(lf2, path, FALSE, &bytes, (void *)pages);
    if (EFI_ERROR(status)) {
        log_warn("site: LoadFile2 of the initrd failed (status 0x%llx)", (unsigned long long)status);
        bs->FreePages(pages, count);
        return EFI_FILE_ERROR;
    }
    *base = pages;
    return 0;
}

void efi_initrd_load(EFI_SYSTEM_TABLE *st, EFI_LOADED_IMAGE *image, struct boot_info *bi)
{
    uint64_t base = 0, size = 0;
    const char *from = "LoadFile2 on the Linux initrd media path";
    int rc = load_from_initrd_media(st, &base, &size);
    if (rc == EFI_FILE_ABSENT && bi->options.initrd[0]) {
        from = bi->options.initrd;
        /* Linux's EFI stub reads initrd= from the volume's root. */
        rc = efi_file_read(st, image, EFI_FILE_FROM_ROOT, bi->options.initrd, NO_LIMIT, &base, &size);
        if (rc == EFI_FILE_ABSENT)
            log_warn("site: initrd=%s: no such file in the boot volume", bi->options.initrd);
    }
    if (rc == EFI_FILE_ABSENT) {
        from = EFI_SITE_FILE " beside the image";
        rc = efi_file_read(st, image, EFI_FILE_BESIDE_IMAGE, EFI_SITE_FILE, NO_LIMIT, &base, &size);
    }
    if (rc == EFI_FILE_ABSENT)
        return;
    if (rc == EFI_FILE_TOO_LARGE) {
        log_error("site: the %llu KiB archive from %s does not fit in memory; refused, serving the built-in pages",
                  (unsigned long long)(size / 1024), from);
        bi->site_refused_bytes = size;
        return;
    }
    if (rc < 0) {
        log_error("site: the archive from %s could not be read; serving the built-in pages", from);
        return;
    }
    bi->modules[0] = (struct boot_module){ base, size };
    bi->module_count = 1;
    log_info("boot: site archive from %s: %llu bytes at 0x%llx", from, (unsigned long long)size,
             (unsigned long long)base);
}
