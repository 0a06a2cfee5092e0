/*
 * libFuzzer harness: arch/x86_64/acpi_aml.c's device scan and resource
 * template reader on the input as AML (a DSDT's body) in an exact-size heap
 * buffer, so ASan sees any read past its end. Checks what is reported is
 * consistent: counts never negative, every stored name a NameSeg, fields
 * from a _CRS only when its template ended properly, and the same answer
 * when there is no room to store devices.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86_64/acpi_aml.h"

#define CHECK(cond) do { if (!(cond)) abort(); } while (0)
#define MAX_DEVICES 4

static void check_device(const struct acpi_aml_device *d)
{
    CHECK(memchr(d->name, '\0', sizeof(d->name)) != NULL);
    for (size_t i = 0; d->name[i]; i++)
        CHECK((d->name[i] >= 'A' && d->name[i] <= 'Z') || (d->name[i] >= '0' && d->name[i] <= '9') || d->name[i] == '_');
    if (!d->crs_ok)
        CHECK(!d->has_memory && !d->has_interrupt);
    CHECK(!(d->evt_notify_mask & (d->evt_notify_mask - 1))); /* one bit, or none */
    CHECK(memchr(d->evt_notify_name, '\0', sizeof(d->evt_notify_name)) != NULL);
    CHECK(!d->evt_notify_mask == !d->evt_notify_name[0]);
}

static void scan(const uint8_t *aml, size_t size, const char *hid)
{
    struct acpi_aml_device devs[MAX_DEVICES];
    struct acpi_aml_scan s, none;
    acpi_aml_find_devices(aml, size, hid, devs, MAX_DEVICES, &s);
    CHECK(s.found >= 0 && s.unparsed >= 0 && s.malformed >= 0);
    CHECK((size_t)s.found <= size); /* a device takes bytes */
    for (int i = 0; i < s.found && i < MAX_DEVICES; i++)
        check_device(&devs[i]);
    acpi_aml_find_devices(aml, size, hid, NULL, 0, &none);
    CHECK(none.found == s.found && none.unparsed == s.unparsed && none.malformed == s.malformed);
    CHECK(none.has_s5 == s.has_s5 && s.s5_slp_typ_a <= 7 && s.s5_slp_typ_b <= 7); /* 3-bit fields */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *aml = malloc(size ? size : 1);
    CHECK(aml);
    memcpy(aml, data, size);
    scan(aml, size, "LNRO0005");
    scan(aml, size, "PNP0501"); /* an EISA id */

    struct acpi_aml_device d;
    bool ok = acpi_aml_parse_resources(aml, size, &d);
    CHECK(ok == d.crs_ok);
    CHECK(ok || (!d.has_memory && !d.has_interrupt));
    free(aml);
    return 0;
}
