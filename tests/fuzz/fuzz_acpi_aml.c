/*
 * libFuzzer harness: arch/x86_64/acpi_aml.c's device scan and resource
 * template reader on the input as AML (a DSDT's body) in an exact-size heap
 * buffer, so ASan sees any read past its end. Checks what is reported is
 * consistent: counts never negative, every stored name a NameSeg, fields
 * from a _CRS only when its template ended properly, a host bridge's window
 * below 4 GiB and its _PRT inside the input, every _PRT lookup's link a
 * NameSeg, and the same answer when there is no room to store devices.
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
    if (!d->crs_ok)
        CHECK(!d->has_bus_range && !d->has_window32);
    CHECK(!d->has_bus_range || d->bus_start <= d->bus_end);
    CHECK(!d->has_window32 || (d->window32_length && d->window32_base + d->window32_length <= 0x100000000ULL));
}

/* Every slot and pin of a _PRT: no read past the input, a link name or none. */
static void route_all(const uint8_t *aml, size_t size, const struct acpi_aml_device *d)
{
    CHECK(!d->prt || (d->prt >= aml && d->prt + d->prt_len <= aml + size && d->prt_len));
    for (uint8_t slot = 0; d->prt && slot < 32; slot++)
        for (uint8_t pin = 0; pin < 4; pin++) {
            char source[5] = "????";
            uint32_t gsi;
            if (acpi_aml_prt_route(d->prt, d->prt_len, slot, pin, source, &gsi))
                CHECK(memchr(source, '\0', sizeof(source)) != NULL);
        }
}

static void scan(const uint8_t *aml, size_t size, const char *hid)
{
    struct acpi_aml_device devs[MAX_DEVICES];
    struct acpi_aml_scan s, none;
    acpi_aml_find_devices(aml, size, hid, devs, MAX_DEVICES, &s);
    CHECK(s.found >= 0 && s.unparsed >= 0 && s.malformed >= 0);
    CHECK((size_t)s.found <= size); /* a device takes bytes */
    for (int i = 0; i < s.found && i < MAX_DEVICES; i++) {
        check_device(&devs[i]);
        route_all(aml, size, &devs[i]);
    }
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
    scan(aml, size, "PNP0A08"); /* a PCI Express host bridge: _CBA, windows, _PRT */
    acpi_aml_prt_route(aml, size, (uint8_t)(size % 32), (uint8_t)(size % 4), (char[5]){ 0 }, &(uint32_t){ 0 });

    struct acpi_aml_device d;
    bool ok = acpi_aml_parse_resources(aml, size, &d);
    CHECK(ok == d.crs_ok);
    CHECK(ok || (!d.has_memory && !d.has_interrupt && !d.has_bus_range && !d.has_window32));
    free(aml);
    return 0;
}
