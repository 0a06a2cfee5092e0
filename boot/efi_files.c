#include "boot/efi_files.h"

#include "lib/log.h"
#include "lib/string.h"

#define PATH_MAX_CHARS 256
#define FILE_INFO_BYTES (SIZE_OF_EFI_FILE_INFO + PATH_MAX_CHARS * sizeof(CHAR16))

/* The image's own path in its volume ("\EFI\BOOT\BOOTX64.EFI", or "kernel" for
 * QEMU's -kernel), cut after its last separator: the directory files are read
 * from. The path is the concatenation of the device path's file-path nodes
 * (UEFI 2.10, 10.3.5.4 "File Path Media Device Path"). */
static size_t image_directory(EFI_LOADED_IMAGE *image, CHAR16 *out, size_t out_chars)
{
    size_t n = 0, dir_end = 0;
    EFI_DEVICE_PATH *node = image->FilePath;
    for (unsigned guard = 0; node && guard < 64; guard++) {
        size_t len = (size_t)node->Length[0] | (size_t)node->Length[1] << 8;
        if (IsDevicePathEnd(node) || len < sizeof(EFI_DEVICE_PATH))
            break;
        if (DevicePathType(node) == MEDIA_DEVICE_PATH && DevicePathSubType(node) == MEDIA_FILEPATH_DP) {
            const CHAR16 *name = ((FILEPATH_DEVICE_PATH *)node)->PathName;
            size_t chars = (len - sizeof(EFI_DEVICE_PATH)) / sizeof(CHAR16);
            for (size_t i = 0; i < chars && name[i] && n + 1 < out_chars; i++) {
                out[n++] = name[i] == '/' ? '\\' : name[i];
                if (out[n - 1] == '\\')
                    dir_end = n;
            }
        }
        node = (EFI_DEVICE_PATH *)((char *)node + len);
    }
    return dir_end;
}

static bool build_path(EFI_LOADED_IMAGE *image, enum efi_file_dir dir, const char *name, CHAR16 *out,
                       size_t out_chars)
{
    bool absolute = name[0] == '/' || name[0] == '\\';
    size_t n = dir == EFI_FILE_BESIDE_IMAGE && !absolute ? image_directory(image, out, out_chars) : 0;
    for (size_t i = 0; name[i]; i++) {
        if (n + 1 >= out_chars)
            return false;
        out[n++] = name[i] == '/' ? '\\' : (CHAR16)(unsigned char)name[i];
    }
    out[n] = 0;
    return true;
}

static EFI_FILE_HANDLE open_file(EFI_SYSTEM_TABLE *st, EFI_LOADED_IMAGE *image, CHAR16 *path)
{
    EFI_GUID fs_guid = EFI_SIMPLE_FILE_SYSTEM_PROTOCOL_GUID;
    EFI_SIMPLE_FILE_SYSTEM_PROTOCOL *fs;
    EFI_FILE_HANDLE root, file;
    if (!image->DeviceHandle ||
        EFI_ERROR(st->BootServices->HandleProtocol(image->DeviceHandle, &fs_guid, (void **)&fs)) ||
        EFI_ERROR(fs->OpenVolume(fs, &root)))
        return NULL;
    EFI_STATUS status = root->Open(root, &file, path, EFI_FILE_MODE_READ, 0);
    root->Close(root);
    return EFI_ERROR(status) ? NULL : file;
}

static int read_all(EFI_FILE_HANDLE file, char *buffer, uint64_t size, const char *name)
{
    uint64_t done = 0;
    while (done < size) {
        UINTN chunk = size - done;
        EFI_STATUS status = file->Read(file, &chunk, buffer + done);
        if (EFI_ERROR(status) || chunk == 0) {
            log_warn("efi: %s: read failed after %llu of %llu bytes (status 0x%llx)", name,
                     (unsigned long long)done, (unsigned long long)size, (unsigned long long)status);
            return EFI_FILE_ERROR;
        }
        done += chunk;
    }
    return 0;
}

int efi_file_read(EFI_SYSTEM_TABLE *st, EFI_LOADED_IMAGE *image, enum efi_file_dir dir, const char *name,
                  uint64_t max_size, uint64_t *base, uint64_t *size)
{
    CHAR16 path[PATH_MAX_CHARS];
    if (!build_path(image, dir, name, path, PATH_MAX_CHARS))
        return EFI_FILE_ABSENT;
    EFI_FILE_HANDLE file = open_file(st, image, path);
    if (!file)
        return EFI_FILE_ABSENT;

    uint64_t info_buffer[FILE_INFO_BYTES / sizeof(uint64_t) + 1];
    UINTN info_size = sizeof(info_buffer);
    EFI_GUID info_guid = EFI_FILE_INFO_ID;
    EFI_FILE_INFO *info = (EFI_FILE_INFO *)info_buffer;
    int rc = EFI_FILE_ERROR;
    if (EFI_ERROR(file->GetInfo(file, &info_guid, &info_size, info))) {
        log_warn("efi: %s: no file information", name);
    } else if (info->Attribute & EFI_FILE_DIRECTORY) {
        rc = EFI_FILE_ABSENT;
    } else if ((*size = info->FileSize) > max_size) {
        log_warn("efi: %s: %llu bytes, more than the %llu this boot allows", name,
                 (unsigned long long)info->FileSize, (unsigned long long)max_size);
        rc = EFI_FILE_TOO_LARGE;
    } else {
        EFI_PHYSICAL_ADDRESS pages;
        UINTN count = EFI_SIZE_TO_PAGES(info->FileSize ? info->FileSize : 1);
        EFI_STATUS status = st->BootServices->AllocatePages(AllocateAnyPages, EfiLoaderData, count, &pages);
        if (EFI_ERROR(status)) {
            log_warn("efi: %s: no memory for its %llu KiB (AllocatePages status 0x%llx)", name,
                     (unsigned long long)(info->FileSize / 1024), (unsigned long long)status);
            rc = EFI_FILE_TOO_LARGE;
        } else if ((rc = read_all(file, (char *)pages, info->FileSize, name)) < 0) {
            st->BootServices->FreePages(pages, count);
        } else {
            *base = pages;
        }
    }
    file->Close(file);
    return rc;
}
