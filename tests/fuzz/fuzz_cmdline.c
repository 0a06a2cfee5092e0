/*
 * libFuzzer harness: boot/cmdline.c's cmdline_parse on the input as a
 * NUL-terminated string in an exact-size heap buffer (so ASan sees any read
 * past the terminator). Checks the options stay within their documented
 * ranges and that every reported problem is a bounded, terminated string.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "boot/cmdline.h"

#define CHECK(cond) do { if (!(cond)) abort(); } while (0)

static void report(const char *problem, void *ctx)
{
    int *count = ctx;
    CHECK(problem != NULL);
    CHECK(strlen(problem) < 4096);
    (*count)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *line = malloc(size + 1);
    CHECK(line);
    memcpy(line, data, size);
    line[size] = '\0';

    struct kernel_options opts;
    kernel_options_defaults(&opts);
    int reported = 0;
    int problems = cmdline_parse(line, &opts, report, &reported);
    CHECK(problems == reported);

    CHECK(opts.ip_mode == IP_MODE_DHCP || opts.ip_mode == IP_MODE_STATIC);
    CHECK(opts.ip_prefix <= 32);
    CHECK(opts.budget >= BUDGET_MIN && opts.budget <= BUDGET_MAX);
    CHECK((unsigned)opts.irq_mode <= IRQ_MODE_POLL);
    CHECK((unsigned)opts.log <= LOG_VERBOSITY_DEBUG);
    CHECK(memchr(opts.selftest, '\0', sizeof(opts.selftest)) != NULL);
    CHECK(memchr(opts.crash, '\0', sizeof(opts.crash)) != NULL);
    CHECK(strcmp(irq_mode_name(opts.irq_mode), "?") != 0);
    CHECK(opts.mmio_count >= 0 && opts.mmio_count <= VIRTIO_MMIO_WINDOWS_MAX);
    for (int i = 0; i < opts.mmio_count; i++) {
        const struct virtio_mmio_window *w = &opts.mmio[i];
        CHECK(w->base != 0 && w->size != 0 && w->base + w->size > w->base);
        for (int j = 0; j < i; j++)
            CHECK(opts.mmio[j].base != w->base);
    }

    /* Without a report callback: the same count, the same options. */
    struct kernel_options again;
    kernel_options_defaults(&again);
    CHECK(cmdline_parse(line, &again, NULL, NULL) == problems);
    CHECK(again.ip_mode == opts.ip_mode && again.ip_addr == opts.ip_addr && again.ip_prefix == opts.ip_prefix);
    CHECK(again.gw_set == opts.gw_set && again.gw_addr == opts.gw_addr && again.irq_mode == opts.irq_mode);
    CHECK(again.budget == opts.budget && again.log == opts.log && again.gdb_wait == opts.gdb_wait);
    CHECK(again.virtio_indirect == opts.virtio_indirect && again.virtio_event_idx == opts.virtio_event_idx &&
          again.virtio_packed == opts.virtio_packed);
    CHECK(strcmp(again.selftest, opts.selftest) == 0 && strcmp(again.crash, opts.crash) == 0);
    CHECK(again.mmio_count == opts.mmio_count);
    for (int i = 0; i < opts.mmio_count; i++) /* field by field: padding is not compared */
        CHECK(again.mmio[i].base == opts.mmio[i].base && again.mmio[i].size == opts.mmio[i].size &&
              again.mmio[i].gsi == opts.mmio[i].gsi &&
              again.mmio[i].line.level_triggered == opts.mmio[i].line.level_triggered &&
              again.mmio[i].line.active_low == opts.mmio[i].line.active_low);

    free(line);
    return 0;
}
