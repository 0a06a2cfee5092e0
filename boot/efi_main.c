/*
 * EFI entry: the only code that runs under the firmware. It reads what the
 * kernel needs from boot services (command line, ACPI RSDP, memory map),
 * leaves boot services, and hands a boot_info to kmain.
 */
#include <efi.h>

#include "arch/x86_64/cpu.h"
#include "boot/boot_info.h"
#include "boot/efi_files.h"
#include "boot/efi_initrd.h"
#include "boot/efi_memmap.h"
#include "boot/entry_common.h"
#include "lib/log.h"
#include "lib/panic.h"
#include "lib/stack_protector.h"
#include "lib/string.h"

extern char __bss_start[], __bss_end[] __attribute__((visibility("hidden")));

#define EXIT_BOOT_SERVICES_TRIES 8
#define EFI_CMDLINE_FILE "cmdline.txt"
/* Room for the descriptors that our own pool allocation, and anything the
 * firmware does between GetMemoryMap and ExitBootServices, may add. */
#define MEMMAP_SLACK_DESCRIPTORS 16

extern const char ImageBase[] __attribute__((visibility("hidden")));

static struct boot_info boot_info;

/* A tab separates words as a space does; what is not printable ASCII is not text. */
static char cmdline_char(CHAR16 c)
{
    return c == '\t' ? ' ' : c >= 0x20 && c < 0x7F ? (char)c : '?';
}

/* LoadOptions is UCS-2 text of LoadOptionsSize bytes, NUL-terminated or not. */
static void read_command_line(EFI_LOADED_IMAGE *image, char *out, size_t out_size)
{
    const CHAR16 *in = image->LoadOptions;
    size_t chars = in ? image->LoadOptionsSize / sizeof(CHAR16) : 0;
    size_t n = 0;
    size_t i = 0;
    for (; i < chars && in[i] && n + 1 < out_size; i++)
        out[n++] = cmdline_char(in[i]);
    out[n] = '\0';
    if (i < chars && in[i])
        entry_cmdline_cut(out, out_size, cmdline_char(in[i]));
}

static void find_acpi_rsdp(EFI_SYSTEM_TABLE *st, struct boot_info *bi)
{
    EFI_GUID acpi20 = ACPI_20_TABLE_GUID, acpi10 = ACPI_TABLE_GUID;
    for (UINTN i = 0; i < st->NumberOfTableEntries; i++) {
        EFI_CONFIGURATION_TABLE *t = &st->ConfigurationTable[i];
        if (__builtin_memcmp(&t->VendorGuid, &acpi20, sizeof(EFI_GUID)) == 0) {
            bi->acpi_rsdp = (uint64_t)t->VendorTable;
            return;
        }
        if (__builtin_memcmp(&t->VendorGuid, &acpi10, sizeof(EFI_GUID)) == 0 && !bi->acpi_rsdp) {
            bi->acpi_rsdp = (uint64_t)t->VendorTable;
        }
    }
}

/* A disk boot passes no LoadOptions: the command line may sit beside the
 * image instead (make image CMDLINE="..."), as text; line ends are spaces. */
static bool read_command_line_file(EFI_SYSTEM_TABLE *st, EFI_LOADED_IMAGE *image, char *out, size_t out_size)
{
    uint64_t base, size;
    if (efi_file_read(st, image, EFI_FILE_BESIDE_IMAGE, EFI_CMDLINE_FILE, out_size - 1, &base, &size) < 0)
        return false;
    const char *in = (const char *)base;
    size_t n = 0;
    for (; n < size; n++)
        out[n] = in[n] == '\t' || in[n] == '\n' || in[n] == '\r' ? ' ' : in[n] >= 0x20 && in[n] < 0x7F ? in[n] : '?';
    out[n] = '\0';
    st->BootServices->FreePages(base, EFI_SIZE_TO_PAGES(size ? size : 1));
    return true;
}

/* Takes the final memory map and leaves boot services. The map key changes
 * whenever the firmware allocates, so ExitBootServices may refuse it; then
 * the map is read again into the same buffer and the exit retried. */
static void exit_boot_services(EFI_HANDLE image, EFI_SYSTEM_TABLE *st, struct boot_info *bi)
{
    EFI_BOOT_SERVICES *bs = st->BootServices;
    UINTN size = 0, key, desc_size;
    UINT32 desc_version;
    EFI_STATUS status = bs->GetMemoryMap(&size, NULL, &key, &desc_size, &desc_version);
    if (status != EFI_BUFFER_TOO_SMALL)
        panic("boot: GetMemoryMap size query failed (status 0x%llx)", (unsigned long long)status);
    UINTN capacity = size + MEMMAP_SLACK_DESCRIPTORS * desc_size;
    void *buffer;
    status = bs->AllocatePool(EfiLoaderData, capacity, &buffer);
    if (EFI_ERROR(status))
        panic("boot: no memory for the memory map (%llu bytes)", (unsigned long long)capacity);

    for (unsigned attempt = 1; attempt <= EXIT_BOOT_SERVICES_TRIES; attempt++) {
        size = capacity;
        status = bs->GetMemoryMap(&size, buffer, &key, &desc_size, &desc_version);
        if (EFI_ERROR(status))
            panic("boot: GetMemoryMap failed (status 0x%llx, attempt %u)", (unsigned long long)status, attempt);
        status = bs->ExitBootServices(image, key);
        if (!EFI_ERROR(status)) {
            bi->exit_boot_services_attempts = attempt;
            efi_memmap_convert(buffer, size, desc_size, bi);
            return;
        }
    }
    panic("boot: ExitBootServices refused %d times (status 0x%llx)", EXIT_BOOT_SERVICES_TRIES,
          (unsigned long long)status);
}

/* Called by gnu-efi's crt0 (System V ABI after its own MS-ABI entry), so not EFIAPI. */
EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *st)
{
    uint64_t entry_tsc = rdtsc();
    /* .bss has no bytes in the file (linker.ld); PE loaders zero-fill it, but
     * a few hundred microseconds buy independence from the loader. */
    memset(__bss_start, 0, (size_t)(__bss_end - __bss_start));
    stack_protector_init(entry_tsc ^ rdtsc());

    EFI_GUID loaded_image_guid = EFI_LOADED_IMAGE_PROTOCOL_GUID;
    EFI_LOADED_IMAGE *loaded;
    struct boot_info *bi = &boot_info;
    bi->loader = "EFI";
    bi->image_base = (uint64_t)ImageBase;
    bool have_image = !EFI_ERROR(st->BootServices->HandleProtocol(image, &loaded_image_guid, (void **)&loaded));
    bi->image_size = have_image ? loaded->ImageSize : 0;
    entry_console_and_clock(entry_tsc);
    if (!have_image)
        panic("boot: no EFI_LOADED_IMAGE_PROTOCOL for our own image");
    read_command_line(loaded, bi->cmdline, sizeof(bi->cmdline));
    if (!bi->cmdline[0] && read_command_line_file(st, loaded, bi->cmdline, sizeof(bi->cmdline)))
        bi->cmdline_source = EFI_CMDLINE_FILE " beside the image (no LoadOptions)";
    entry_parse_cmdline(bi);
    efi_initrd_load(st, loaded, bi);

    find_acpi_rsdp(st, bi);
    exit_boot_services(image, st, bi);
    kmain(bi);
}
