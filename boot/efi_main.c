/*
 * EFI entry: the only code that runs under the firmware. It reads what the
 * kernel needs from boot services (command line, ACPI RSDP, memory map),
 * leaves boot services, and hands a boot_info to kmain.
 */
#include <efi.h>

#include "arch/x86_64/cpu.h"
#include "arch/x86_64/tsc.h"
#include "boot/boot_info.h"
#include "boot/efi_memmap.h"
#include "drivers/serial.h"
#include "lib/log.h"
#include "lib/panic.h"
#include "lib/stack_protector.h"
#include "lib/string.h"

extern char __bss_start[], __bss_end[] __attribute__((visibility("hidden")));

#define EXIT_BOOT_SERVICES_TRIES 8
/* Room for the descriptors that our own pool allocation, and anything the
 * firmware does between GetMemoryMap and ExitBootServices, may add. */
#define MEMMAP_SLACK_DESCRIPTORS 16

extern const char ImageBase[] __attribute__((visibility("hidden")));

static struct boot_info boot_info;

/* `make debug` clears this from gdb to let a gdb=wait boot continue. */
volatile int gdb_release_wait = 0;

static void report_cmdline_problem(const char *problem, void *ctx)
{
    (void)ctx;
    log_warn("cmdline: %s", problem);
}

/* LoadOptions is UCS-2 text of LoadOptionsSize bytes, NUL-terminated or not. */
static void read_command_line(EFI_LOADED_IMAGE *image, char *out, size_t out_size)
{
    const CHAR16 *in = image->LoadOptions;
    size_t chars = in ? image->LoadOptionsSize / sizeof(CHAR16) : 0;
    size_t n = 0;
    size_t i = 0;
    for (; i < chars && in[i] && n + 1 < out_size; i++)
        out[n++] = in[i] == '\t' ? ' ' : in[i] >= 0x20 && in[i] < 0x7F ? (char)in[i] : '?';
    out[n] = '\0';
    if (i < chars && in[i])
        log_warn("cmdline: longer than %zu characters, truncated", out_size - 1);
}

static void find_acpi_rsdp(EFI_SYSTEM_TABLE *st, struct boot_info *bi)
{
    EFI_GUID acpi20 = ACPI_20_TABLE_GUID, acpi10 = ACPI_TABLE_GUID;
    for (UINTN i = 0; i < st->NumberOfTableEntries; i++) {
        EFI_CONFIGURATION_TABLE *t = &st->ConfigurationTable[i];
        if (__builtin_memcmp(&t->VendorGuid, &acpi20, sizeof(EFI_GUID)) == 0) {
            bi->acpi_rsdp = (uint64_t)t->VendorTable;
            bi->acpi_revision = 2;
            return;
        }
        if (__builtin_memcmp(&t->VendorGuid, &acpi10, sizeof(EFI_GUID)) == 0 && !bi->acpi_rsdp) {
            bi->acpi_rsdp = (uint64_t)t->VendorTable;
            bi->acpi_revision = 1;
        }
    }
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
    tsc_mark_entry(entry_tsc);
    stack_protector_init(entry_tsc ^ rdtsc());
    serial_init();
    log_set_output(serial_write);
    kprintf("\n");  /* end the firmware's escape sequences on a line of their own */
    const char *tsc_source = tsc_calibrate();
    log_set_clock(clock_since_entry_ns);

    EFI_GUID loaded_image_guid = EFI_LOADED_IMAGE_PROTOCOL_GUID;
    EFI_LOADED_IMAGE *loaded;
    if (EFI_ERROR(st->BootServices->HandleProtocol(image, &loaded_image_guid, (void **)&loaded)))
        panic("boot: no EFI_LOADED_IMAGE_PROTOCOL for our own image");
    struct boot_info *bi = &boot_info;
    bi->loader = "EFI";
    bi->image_base = (uint64_t)loaded->ImageBase;
    bi->image_size = loaded->ImageSize;
    log_info("boot: image base=0x%llx size=%llu KiB", (unsigned long long)(uint64_t)ImageBase,
             (unsigned long long)(bi->image_size / 1024));
    uint64_t hz = tsc_hz();
    log_info("boot: tsc %llu.%03llu MHz from %s%s", (unsigned long long)(hz / 1000000),
             (unsigned long long)(hz / 1000 % 1000), tsc_source,
             tsc_is_invariant() ? ", invariant" : ", not flagged invariant");

    read_command_line(loaded, bi->cmdline, sizeof(bi->cmdline));
    log_info("cmdline: \"%s\"", bi->cmdline);
    kernel_options_defaults(&bi->options);
    cmdline_parse(bi->cmdline, &bi->options, report_cmdline_problem, NULL);

    if (bi->options.gdb_wait) {
        log_info("gdb: waiting for a debugger (set gdb_release_wait=1 to go on)");
        while (!gdb_release_wait)
            cpu_relax();
    }
    /* From here the console is deferred (lib/log.c), except with log=debug:
     * someone debugging a hang during init wants every line at once. */
    log_set_deferred(bi->options.log != LOG_VERBOSITY_DEBUG);

    find_acpi_rsdp(st, bi);
    exit_boot_services(image, st, bi);
    kmain(bi);
}
