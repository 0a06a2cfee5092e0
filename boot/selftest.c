#include "boot/selftest.h"

#include <stdbool.h>

#include "arch/x86_64/machine_exit.h"
#include "arch/x86_64/selftests.h"
#include "boot/memory_selftest.h"
#include "drivers/pci_selftest.h"
#include "lib/log.h"
#include "lib/printf.h"
#include "lib/string.h"

static const struct {
    const char *name;
    selftest_fn run;
} selftests[] = {
    { "memory", selftest_memory },
    { "ipi", selftest_self_ipi },
    { "ioapic", selftest_ioapic_pit },
    { "shared-line", selftest_shared_line },
    { "stuck-line", selftest_stuck_line },
    { "timer", selftest_timer },
    { "pci", selftest_pci_irq },
};

#define SELFTEST_COUNT (sizeof(selftests) / sizeof(selftests[0]))
#define NAME_MAX_LEN 32
#define MAX_REQUESTED 16

/* Splits the comma-separated spec into names; "all" means every test. */
static int requested_names(const char *spec, char names[][NAME_MAX_LEN], int max)
{
    if (strcmp(spec, "all") == 0) {
        for (unsigned i = 0; i < SELFTEST_COUNT; i++)
            memcpy(names[i], selftests[i].name, strlen(selftests[i].name) + 1);
        return SELFTEST_COUNT;
    }
    int count = 0;
    while (*spec && count < max) {
        size_t len = 0;
        while (spec[len] && spec[len] != ',')
            len++;
        if (len) {
            if (len >= NAME_MAX_LEN)
                len = NAME_MAX_LEN - 1;
            memcpy(names[count], spec, len);
            names[count][len] = '\0';
            count++;
        }
        spec += len;
        while (*spec == ',')
            spec++;
    }
    return count;
}

void selftest_run(const char *spec)
{
    char names[MAX_REQUESTED][NAME_MAX_LEN];
    int count = requested_names(spec, names, MAX_REQUESTED);
    int failed = 0;
    kprintf("KTAP version 1\n1..%d\n", count);
    for (int i = 0; i < count; i++) {
        char reason[160] = "";
        int rc = -1;
        bool found = false;
        for (unsigned t = 0; t < SELFTEST_COUNT; t++) {
            if (strcmp(names[i], selftests[t].name) == 0) {
                found = true;
                rc = selftests[t].run(reason, sizeof(reason));
            }
        }
        if (!found)
            snprintf(reason, sizeof(reason), "no such self-test");
        if (rc == 0) {
            kprintf("ok %d %s\n", i + 1, names[i]);
        } else {
            failed++;
            kprintf("not ok %d %s # %s\n", i + 1, names[i], reason[0] ? reason : "failed");
        }
    }
    if (count == 0) {
        kprintf("# selftest: no test names in '%s'\n", spec);
        failed = 1;
    }
    kprintf("# selftest: %d passed, %d failed\n", count - failed, failed);
    machine_exit(failed ? MACHINE_EXIT_FAILURE : MACHINE_EXIT_SUCCESS);
}
