/*
 * libFuzzer harness: arch/x86_64/mptable.c on the input as the area the
 * floating pointer is searched in and as an MP configuration table, each in
 * an exact-size heap buffer. Checks a found pointer lies on a paragraph
 * inside the area, and a parsed table stays within what the description holds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86_64/mptable.h"

#define CHECK(cond) do { if (!(cond)) abort(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy = malloc(size ? size : 1);
    CHECK(copy);
    memcpy(copy, data, size);

    struct mptable_floating fp;
    long off = mptable_find_floating(copy, size, &fp);
    CHECK(off == -1 || (off >= 0 && off % MPTABLE_FLOATING_ALIGN == 0 && (size_t)off + MPTABLE_FLOATING_SIZE <= size));
    if (off >= 0)
        CHECK(fp.spec_revision == 1 || fp.spec_revision == 4);

    struct madt_info m;
    int rc = mptable_parse_config(copy, size, &m);
    CHECK(rc <= 0);
    if (rc == 0) {
        CHECK(m.cpu_count >= 0 && m.cpu_count <= MADT_MAX_CPUS);
        CHECK(m.ioapic_count >= 0 && m.ioapic_count <= MADT_MAX_IOAPICS);
        CHECK(m.override_count >= 0 && m.override_count <= MADT_MAX_OVERRIDES);
        CHECK(m.nmi_count >= 0 && m.nmi_count <= MADT_MAX_NMIS);
        for (int i = 0; i < m.ioapic_count; i++)
            CHECK(m.ioapics[i].gsi_base == (uint32_t)i * MPTABLE_IOAPIC_INPUTS_ASSUMED);
    }
    free(copy);
    return 0;
}
