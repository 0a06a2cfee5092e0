#include "boot/mmio_windows.h"

#include "arch/x86_64/acpi.h"
#include "lib/log.h"
#include "lib/printf.h"

/* The _HID Linux's virtio-mmio driver matches (drivers/virtio/virtio_mmio.c): the one QEMU declares. */
#define VIRTIO_MMIO_ACPI_HID "LNRO0005"
#define SUMMARY_MAX 240

static bool window_known(const struct virtio_mmio_window *w, int count, uint64_t base)
{
    for (int i = 0; i < count; i++)
        if (w[i].base == base)
            return true;
    return false;
}

static int from_acpi(struct virtio_mmio_window *out, int max)
{
    struct acpi_aml_device devs[VIRTIO_MMIO_WINDOWS_MAX];
    int found = acpi_find_devices(VIRTIO_MMIO_ACPI_HID, devs, VIRTIO_MMIO_WINDOWS_MAX);
    if (found > VIRTIO_MMIO_WINDOWS_MAX)
        log_warn("acpi: %d %s devices, only the first %d are used", found, VIRTIO_MMIO_ACPI_HID,
                 VIRTIO_MMIO_WINDOWS_MAX);
    int count = 0;
    for (int i = 0; i < found && i < VIRTIO_MMIO_WINDOWS_MAX && count < max; i++) {
        const struct acpi_aml_device *d = &devs[i];
        if (!d->crs_ok || !d->has_memory || !d->has_interrupt || d->memory_length == 0) {
            log_warn("acpi: %s device %s: its _CRS has no usable memory window and interrupt, skipped",
                     VIRTIO_MMIO_ACPI_HID, d->name);
            continue;
        }
        if (window_known(out, count, d->memory_base))
            continue;
        out[count++] = (struct virtio_mmio_window){ d->memory_base, d->memory_length, d->gsi, d->line };
    }
    return count;
}

int mmio_windows_collect(const struct kernel_options *opts, struct virtio_mmio_window *out, int max)
{
    int acpi_count = from_acpi(out, max);
    int count = acpi_count;
    for (int i = 0; i < opts->mmio_count && count < max; i++)
        if (!window_known(out, count, opts->mmio[i].base))
            out[count++] = opts->mmio[i];
    if (count == 0)
        return 0;
    char line[SUMMARY_MAX];
    unsigned n = 0;
    for (int i = 0; i < count && n < sizeof(line); i++)
        n += (unsigned)snprintf(line + n, sizeof(line) - n, "%s0x%llx+0x%llx GSI %u %s/%s (%s)", i ? ", " : "",
                                (unsigned long long)out[i].base, (unsigned long long)out[i].size, out[i].gsi,
                                out[i].line.level_triggered ? "level" : "edge", out[i].line.active_low ? "low" : "high",
                                i < acpi_count ? "ACPI" : "cmdline");
    log_info("virtio-mmio: %d window%s: %s", count, count == 1 ? "" : "s", line);
    return count;
}
