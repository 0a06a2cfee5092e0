/*
 * arch/x86_64/acpi_aml.c on AML assembled here: the DSDT QEMU 7.2's
 * hw/i386/acpi-microvm.c builds (FWCF, COM1, RTC, GED with an
 * OperationRegion, a Field and a Method, PWRB, the virtio-mmio VRnn
 * devices, then Scope(\) with _S5), byte for byte as a microvm guest reads
 * it; the PCI Express host bridge hw/pci-host/gpex-acpi.c adds with pcie=on
 * (_CBA, _CRS's address space descriptors, _PRT and its link devices); then
 * variants: other descriptors, nesting, paths, opcodes the scanner
 * cannot size, and malformed lengths. Every scan runs over a heap copy of
 * exactly the AML's length, so a read past the end trips AddressSanitizer;
 * the exhaustive truncation and corruption sweeps run in a forked child.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86_64/acpi_aml.h"
#include "tests/unit/check.h"

/* ---- assembling AML (ACPI 6.5, chapter 20) ---- */

struct aml {
    uint8_t b[4096]; /* a GPEX host bridge's _PRT alone is 1.8 KiB */
    size_t len;
};

static void put(struct aml *a, const void *p, size_t n)
{
    if (a->len + n > sizeof(a->b))
        abort();
    memcpy(a->b + a->len, p, n);
    a->len += n;
}

/* A string literal's bytes, without its terminating NUL. */
#define PUT_LIT(a, s) put((a), (s), sizeof(s) - 1)

static void put8(struct aml *a, uint8_t v) { put(a, &v, 1); }
static void put16(struct aml *a, uint16_t v) { put8(a, (uint8_t)v); put8(a, (uint8_t)(v >> 8)); }
static void put32(struct aml *a, uint32_t v) { put16(a, (uint16_t)v); put16(a, (uint16_t)(v >> 16)); }

/* PkgLength in as few bytes as hold it, counting itself, as QEMU's aml-build.c encodes it. */
static void put_pkglength(struct aml *a, size_t body)
{
    if (body + 1 < 0x40) {
        put8(a, (uint8_t)(body + 1));
        return;
    }
    size_t follow = body + 2 < 0x1000 ? 1 : body + 3 < 0x100000 ? 2 : 3;
    size_t total = body + 1 + follow;
    put8(a, (uint8_t)(follow << 6 | (total & 0x0F)));
    for (size_t i = 0; i < follow; i++)
        put8(a, (uint8_t)(total >> (4 + 8 * i)));
}

/* An opcode with a PkgLength around `body`. */
static void put_package(struct aml *a, const char *op, size_t op_len, const struct aml *body)
{
    put(a, op, op_len);
    put_pkglength(a, body->len);
    put(a, body->b, body->len);
}

/* Scope(name) / Device(name): `name` is the raw NameString. */
static void scope(struct aml *a, const char *name, size_t name_len, const struct aml *terms)
{
    struct aml body = { .len = 0 };
    put(&body, name, name_len);
    put(&body, terms->b, terms->len);
    put_package(a, "\x10", 1, &body);
}

static void device_path(struct aml *a, const char *name, size_t name_len, const struct aml *terms)
{
    struct aml body = { .len = 0 };
    put(&body, name, name_len);
    put(&body, terms->b, terms->len);
    put_package(a, "\x5B\x82", 2, &body);
}

static void device(struct aml *a, const char seg[4], const struct aml *terms) { device_path(a, seg, 4, terms); }

static void name_str(struct aml *a, const char seg[4], const char *s)
{
    put8(a, 0x08);
    put(a, seg, 4);
    put8(a, 0x0D);
    put(a, s, strlen(s) + 1);
}

/* Name(seg, integer) with the prefix QEMU's aml_int picks (One and Zero as ConstObj). */
static void name_int(struct aml *a, const char seg[4], uint32_t v)
{
    put8(a, 0x08);
    put(a, seg, 4);
    if (v <= 1) {
        put8(a, (uint8_t)v);
    } else if (v <= 0xFF) {
        put8(a, 0x0A);
        put8(a, (uint8_t)v);
    } else {
        put8(a, 0x0C);
        put32(a, v);
    }
}

/* Name(seg, EisaId("XXXdddd")) as DWordConst. */
static void name_eisa(struct aml *a, const char seg[4], const char *id)
{
    uint16_t vendor = (uint16_t)(((id[0] - '@') & 0x1F) << 10 | ((id[1] - '@') & 0x1F) << 5 | ((id[2] - '@') & 0x1F));
    unsigned product = (unsigned)strtoul(id + 3, NULL, 16);
    put8(a, 0x08);
    put(a, seg, 4);
    put8(a, 0x0C);
    put8(a, (uint8_t)(vendor >> 8));
    put8(a, (uint8_t)vendor);
    put8(a, (uint8_t)(product >> 8));
    put8(a, (uint8_t)product);
}

/* Name(seg, Buffer(){template}): BufferSize as a ByteConst. */
static void name_buffer(struct aml *a, const char seg[4], const struct aml *bytes)
{
    put8(a, 0x08);
    put(a, seg, 4);
    struct aml body = { .len = 0 };
    put8(&body, 0x0A);
    put8(&body, (uint8_t)bytes->len);
    put(&body, bytes->b, bytes->len);
    put_package(a, "\x11", 1, &body);
}

/* ---- resource descriptors (ACPI 6.5, 6.4) ---- */

static void res_io(struct aml *r, uint16_t min, uint16_t max, uint8_t align, uint8_t len)
{
    put8(r, 0x47); put8(r, 0x01); put16(r, min); put16(r, max); put8(r, align); put8(r, len);
}

static void res_irq_noflags(struct aml *r, uint16_t mask) { put8(r, 0x22); put16(r, mask); }
static void res_irq(struct aml *r, uint16_t mask, uint8_t flags) { put8(r, 0x23); put16(r, mask); put8(r, flags); }

static void res_memory32_fixed(struct aml *r, uint32_t base, uint32_t length)
{
    put8(r, 0x86); put16(r, 9); put8(r, 0x01); put32(r, base); put32(r, length);
}

static void res_memory32(struct aml *r, uint32_t min, uint32_t max, uint32_t align, uint32_t length)
{
    put8(r, 0x85); put16(r, 17); put8(r, 0x01); put32(r, min); put32(r, max); put32(r, align); put32(r, length);
}

/* Interrupt(ResourceConsumer, ...){gsi}: flags bit 0 consumer, 1 edge, 2 active low. */
static void res_ext_irq(struct aml *r, uint8_t flags, uint32_t gsi)
{
    put8(r, 0x89); put16(r, 6); put8(r, flags); put8(r, 1); put32(r, gsi);
}

static void res_end(struct aml *r) { put8(r, 0x79); put8(r, 0x00); }

/* Word, DWord and QWord address space descriptors (6.4.3.5): Resource Type
 * (0 memory, 2 bus numbers), flags, then granularity, minimum, maximum,
 * translation offset and length in `width` bytes. */
static void res_address(struct aml *r, size_t width, uint8_t type, uint64_t min, uint64_t max, uint64_t translation)
{
    put8(r, width == 2 ? 0x88 : width == 4 ? 0x87 : 0x8A);
    put16(r, (uint16_t)(3 + 5 * width));
    put8(r, type);
    put8(r, 0x0C); /* MinFixed, MaxFixed */
    put8(r, 0x00);
    uint64_t v[5] = { 0, min, max, translation, max - min + 1 };
    for (int i = 0; i < 5; i++)
        for (size_t k = 0; k < width; k++)
            put8(r, (uint8_t)(v[i] >> (8 * k)));
}

/* An integer with the prefix QEMU's aml_int picks. */
static void put_int(struct aml *a, uint64_t v)
{
    if (v <= 1) {
        put8(a, (uint8_t)v);
    } else if (v <= 0xFF) {
        put8(a, 0x0A);
        put8(a, (uint8_t)v);
    } else if (v <= 0xFFFF) {
        put8(a, 0x0B);
        put16(a, (uint16_t)v);
    } else if (v <= 0xFFFFFFFFu) {
        put8(a, 0x0C);
        put32(a, (uint32_t)v);
    } else {
        put8(a, 0x0E);
        put32(a, (uint32_t)v);
        put32(a, (uint32_t)(v >> 32));
    }
}

#define EXT_IRQ_CONSUMER 0x01
#define EXT_IRQ_EDGE 0x02
#define EXT_IRQ_ACTIVE_LOW 0x04

/* ---- QEMU 7.2's microvm DSDT ---- */

#define MICROVM_VIRTIO_BASE 0xFEB00000u
#define MICROVM_VIRTIO_SIZE 512u
#define MICROVM_VIRTIO_IRQ_BASE 24u /* with the second IOAPIC (the default while ACPI is on) */

/* Device(VRnn): _HID "LNRO0005", _UID n, _CCA One, _CRS {Memory32Fixed, Interrupt level high}. */
static void microvm_virtio_device(struct aml *a, unsigned index)
{
    char seg[5];
    seg[0] = 'V';
    seg[1] = 'R';
    seg[2] = (char)('0' + index / 10);
    seg[3] = (char)('0' + index % 10);
    struct aml crs = { .len = 0 }, body = { .len = 0 };
    res_memory32_fixed(&crs, MICROVM_VIRTIO_BASE + index * MICROVM_VIRTIO_SIZE, MICROVM_VIRTIO_SIZE);
    res_ext_irq(&crs, EXT_IRQ_CONSUMER, MICROVM_VIRTIO_IRQ_BASE + index);
    res_end(&crs);
    name_str(&body, "_HID", "LNRO0005");
    name_int(&body, "_UID", index);
    name_int(&body, "_CCA", 1);
    name_buffer(&body, "_CRS", &crs);
    device(a, seg, &body);
}

/* The GED: _HID, _UID "GED", _CRS {Interrupt edge}, OperationRegion, Field, Method(_EVT). */
static void microvm_ged(struct aml *a)
{
    struct aml crs = { .len = 0 }, body = { .len = 0 };
    res_ext_irq(&crs, EXT_IRQ_CONSUMER | EXT_IRQ_EDGE, 9);
    res_end(&crs);
    name_str(&body, "_HID", "ACPI0013");
    name_str(&body, "_UID", "GED");
    name_buffer(&body, "_CRS", &crs);
    PUT_LIT(&body, "\x5B\x80" "EREG" "\x00" "\x0C\x00\x00\xA0\xFE" "\x0A\x04");
    struct aml field = { .len = 0 };
    PUT_LIT(&field, "EREG" "\x43" "ESEL" "\x20");
    put_package(&body, "\x5B\x81", 2, &field);
    struct aml method = { .len = 0 };
    PUT_LIT(&method, "_EVT" "\x09" "\x70" "ESEL" "\x60"
                 "\xA0\x10\x93\x7B\x60\x0A\x02\x00\x0A\x02\x86" "PWRB" "\x0A\x80");
    put_package(&body, "\x14", 1, &method);
    device(a, "GED_", &body);
}

/* The whole DSDT body (after the 36-byte header) with the virtio devices `indices`, in QEMU's order. */
static void build_microvm_dsdt(struct aml *out, const unsigned *indices, int count)
{
    struct aml sb = { .len = 0 }, d = { .len = 0 }, crs = { .len = 0 };
    name_str(&d, "_HID", "QEMU0002");
    name_int(&d, "_STA", 0x0B);
    res_io(&crs, 0x510, 0x510, 1, 0x0C);
    res_end(&crs);
    name_buffer(&d, "_CRS", &crs);
    device(&sb, "FWCF", &d);

    d.len = crs.len = 0;
    name_eisa(&d, "_HID", "PNP0501");
    name_int(&d, "_UID", 1);
    name_int(&d, "_STA", 0x0F);
    res_io(&crs, 0x3F8, 0x3F8, 0, 8);
    res_irq_noflags(&crs, 1u << 4);
    res_end(&crs);
    name_buffer(&d, "_CRS", &crs);
    device(&sb, "COM1", &d);

    d.len = crs.len = 0;
    name_eisa(&d, "_HID", "PNP0B00");
    res_io(&crs, 0x70, 0x70, 1, 8);
    res_irq_noflags(&crs, 1u << 8);
    res_end(&crs);
    name_buffer(&d, "_CRS", &crs);
    device(&sb, "RTC_", &d);

    microvm_ged(&sb);
    d.len = 0;
    name_str(&d, "_HID", "PNP0C0C");
    name_int(&d, "_UID", 0);
    device(&sb, "PWRB", &d);
    for (int i = 0; i < count; i++)
        microvm_virtio_device(&sb, indices[i]);

    out->len = 0;
    scope(out, "_SB_", 4, &sb);
    struct aml root = { .len = 0 };
    PUT_LIT(&root, "\x08" "_S5_" "\x12\x07\x04\x0A\x05\x00\x00\x00");
    scope(out, "\\\x00", 2, &root);
}

/* ---- QEMU 7.2's PCI Express host on microvm (gpex-acpi.c) ---- */

#define GPEX_ECAM 0xE0000000u
#define GPEX_MMIO32 0xC0000000u
#define GPEX_MMIO32_SIZE 0x20000000u
#define GPEX_MMIO64 0x8000000000ULL
#define GPEX_IRQ 16u

/* Package(4) { slot << 16 | 0xFFFF, pin, source, index }: a link's NameSeg, or Zero. */
static void prt_entry(struct aml *a, unsigned slot, unsigned pin, const char *link, uint32_t index)
{
    struct aml e = { .len = 0 };
    put8(&e, 4);
    put_int(&e, (uint64_t)slot << 16 | 0xFFFF);
    put_int(&e, pin);
    if (link)
        put(&e, link, 4);
    else
        put8(&e, 0x00);
    put_int(&e, index);
    put_package(a, "\x12", 1, &e);
}

/* Device(PCI0) as acpi_dsdt_add_gpex writes it for bus 0, inside `sb`. */
static void gpex_host(struct aml *sb)
{
    struct aml d = { .len = 0 }, crs = { .len = 0 }, prt = { .len = 0 }, m = { .len = 0 };
    name_str(&d, "_HID", "PNP0A08");
    name_str(&d, "_CID", "PNP0A03");
    name_int(&d, "_SEG", 0);
    name_int(&d, "_BBN", 0);
    name_int(&d, "_UID", 0);
    name_int(&d, "_CCA", 1);
    put_int(&prt, 128); /* VarNumElements */
    for (unsigned slot = 0; slot < 32; slot++)
        for (unsigned pin = 0; pin < 4; pin++) {
            char link[5] = { 'G', 'S', 'I', (char)('0' + (pin + slot) % 4), 0 };
            prt_entry(&prt, slot, pin, link, 0);
        }
    put8(&d, 0x08);
    PUT_LIT(&d, "_PRT");
    put_package(&d, "\x13", 1, &prt);
    for (unsigned i = 0; i < 4; i++) {
        struct aml link = { .len = 0 }, irq = { .len = 0 }, srs = { .len = 0 };
        char seg[5] = { 'G', 'S', 'I', (char)('0' + i), 0 };
        name_str(&link, "_HID", "PNP0C0F");
        name_int(&link, "_UID", i);
        res_ext_irq(&irq, EXT_IRQ_CONSUMER, GPEX_IRQ + i);
        res_end(&irq);
        name_buffer(&link, "_PRS", &irq);
        name_buffer(&link, "_CRS", &irq);
        PUT_LIT(&srs, "_SRS" "\x01");
        put_package(&link, "\x14", 1, &srs);
        device(&d, seg, &link);
    }
    PUT_LIT(&m, "_CBA" "\x00" "\xA4");
    put_int(&m, GPEX_ECAM);
    put_package(&d, "\x14", 1, &m);
    res_address(&crs, 2, 2, 0, 255, 0);
    res_address(&crs, 4, 0, GPEX_MMIO32, GPEX_MMIO32 + GPEX_MMIO32_SIZE - 1, 0);
    res_address(&crs, 8, 0, GPEX_MMIO64, GPEX_MMIO64 * 2 - 1, 0);
    res_end(&crs);
    name_buffer(&d, "_CRS", &crs);
    struct aml res0 = { .len = 0 }, ecam = { .len = 0 };
    name_str(&res0, "_HID", "PNP0C02");
    res_address(&ecam, 8, 0, GPEX_ECAM, GPEX_ECAM + 0x10000000u - 1, 0);
    res_end(&ecam);
    name_buffer(&res0, "_CRS", &ecam);
    device(&d, "RES0", &res0);
    device(sb, "PCI0", &d);
}

/* ---- scanning ---- */

#define MAX_DEVICES 8

struct result {
    struct acpi_aml_scan scan;
    struct acpi_aml_device dev[MAX_DEVICES];
};

/* Scans a heap copy of exactly a->len bytes (see the file comment). */
static void scan_max(const struct aml *a, const char *hid, int max, struct result *r)
{
    uint8_t *copy = malloc(a->len ? a->len : 1);
    if (!copy)
        abort();
    memcpy(copy, a->b, a->len);
    memset(r, 0xA5, sizeof(*r));
    acpi_aml_find_devices(copy, a->len, hid, r->dev, max, &r->scan);
    free(copy);
}

static void scan(const struct aml *a, const char *hid, struct result *r) { scan_max(a, hid, MAX_DEVICES, r); }

static const unsigned two_nics[] = { 23, 22 };

TEST(aml_microvm_dsdt_finds_its_virtio_devices)
{
    struct aml dsdt;
    build_microvm_dsdt(&dsdt, two_nics, 2);
    CHECK_EQ(dsdt.len, 436u); /* the DSDT a microvm guest with two virtio-net-device reads: 472 - 36 */
    struct result r;
    scan(&dsdt, "LNRO0005", &r);
    CHECK_EQ(r.scan.found, 2);
    CHECK_EQ(r.scan.unparsed, 0);
    CHECK_EQ(r.scan.malformed, 0);
    CHECK_STR_EQ(r.dev[0].name, "VR23");
    CHECK(r.dev[0].crs_ok);
    CHECK(r.dev[0].has_memory);
    CHECK_EQ(r.dev[0].memory_base, 0xFEB02E00u);
    CHECK_EQ(r.dev[0].memory_length, 512u);
    CHECK(r.dev[0].has_interrupt);
    CHECK_EQ(r.dev[0].gsi, 47u);
    CHECK(r.dev[0].line.level_triggered);
    CHECK(!r.dev[0].line.active_low);
    CHECK_STR_EQ(r.dev[1].name, "VR22");
    CHECK_EQ(r.dev[1].memory_base, 0xFEB02C00u);
    CHECK_EQ(r.dev[1].gsi, 46u);
}

TEST(aml_microvm_dsdt_other_devices_by_hid)
{
    struct aml dsdt;
    build_microvm_dsdt(&dsdt, two_nics, 2);
    struct result r;
    scan(&dsdt, "PNP0501", &r); /* an EISA id: IRQNoFlags {4} is edge, active high */
    CHECK_EQ(r.scan.found, 1);
    CHECK_STR_EQ(r.dev[0].name, "COM1");
    CHECK(r.dev[0].crs_ok);
    CHECK(!r.dev[0].has_memory);
    CHECK(r.dev[0].has_interrupt);
    CHECK_EQ(r.dev[0].gsi, 4u);
    CHECK(!r.dev[0].line.level_triggered);
    CHECK(!r.dev[0].line.active_low);

    scan(&dsdt, "ACPI0013", &r); /* after the GED's OperationRegion, Field and Method */
    CHECK_EQ(r.scan.found, 1);
    CHECK_EQ(r.dev[0].gsi, 9u);
    CHECK(!r.dev[0].line.level_triggered);
    CHECK(r.dev[0].has_region); /* its event selector, where the power button's event is read */
    CHECK_EQ(r.dev[0].region_base, 0xFEA00000u);
    CHECK_EQ(r.dev[0].region_length, 4u);
    CHECK_EQ(r.dev[0].evt_notify_mask, 2u); /* _EVT: If ((ESEL & 2) == 2) { Notify (PWRB, 0x80) } */
    CHECK_STR_EQ(r.dev[0].evt_notify_name, "PWRB");

    scan(&dsdt, "PNP0C0C", &r); /* no _CRS at all */
    CHECK_EQ(r.scan.found, 1);
    CHECK(!r.dev[0].crs_ok);
    CHECK(!r.dev[0].has_memory && !r.dev[0].has_interrupt && !r.dev[0].has_region);

    scan(&dsdt, "PNP0B00", &r);
    CHECK_EQ(r.scan.found, 1);
    CHECK_EQ(r.dev[0].gsi, 8u);

    scan(&dsdt, "LNRO000", &r); /* a prefix of the _HID is another id */
    CHECK_EQ(r.scan.found, 0);
    scan(&dsdt, "LNRO00050", &r);
    CHECK_EQ(r.scan.found, 0);
}

TEST(aml_microvm_dsdt_without_virtio_devices)
{
    struct aml dsdt;
    build_microvm_dsdt(&dsdt, NULL, 0);
    struct result r;
    scan(&dsdt, "LNRO0005", &r);
    CHECK_EQ(r.scan.found, 0);
    CHECK_EQ(r.scan.unparsed, 0);
    CHECK_EQ(r.scan.malformed, 0);

    struct aml empty = { .len = 0 };
    scan(&empty, "LNRO0005", &r);
    CHECK_EQ(r.scan.found, 0);
    CHECK_EQ(r.scan.malformed, 0);
}

TEST(aml_more_devices_than_room)
{
    unsigned all[24];
    for (unsigned i = 0; i < 24; i++)
        all[i] = 23 - i;
    struct aml dsdt;
    build_microvm_dsdt(&dsdt, all, 24);
    struct result r;
    scan(&dsdt, "LNRO0005", &r);
    CHECK_EQ(r.scan.found, 24); /* all counted, the first MAX_DEVICES stored */
    CHECK_STR_EQ(r.dev[0].name, "VR23");
    CHECK_STR_EQ(r.dev[MAX_DEVICES - 1].name, "VR16");
    CHECK_EQ(r.dev[MAX_DEVICES - 1].gsi, 40u);
    scan_max(&dsdt, "LNRO0005", 0, &r);
    CHECK_EQ(r.scan.found, 24);
    scan_max(&dsdt, "LNRO0005", -1, &r);
    CHECK_EQ(r.scan.found, 24);
}

TEST(aml_eisa_id_decodes)
{
    char s[8];
    acpi_aml_eisa_id(0x0105D041u, s); /* bytes 41 D0 05 01 */
    CHECK_STR_EQ(s, "PNP0501");
    acpi_aml_eisa_id(0x000BD041u, s);
    CHECK_STR_EQ(s, "PNP0B00");
    acpi_aml_eisa_id(0x0C0CD041u, s);
    CHECK_STR_EQ(s, "PNP0C0C");
}

/* ---- resource templates ---- */

static bool parse_template(const struct aml *r, struct acpi_aml_device *dev)
{
    uint8_t *copy = malloc(r->len ? r->len : 1);
    if (!copy)
        abort();
    memcpy(copy, r->b, r->len);
    memset(dev, 0xA5, sizeof(*dev));
    bool ok = acpi_aml_parse_resources(copy, r->len, dev);
    free(copy);
    return ok;
}

TEST(aml_resources_irq_descriptor_flags)
{
    struct aml r = { .len = 0 };
    struct acpi_aml_device dev;
    res_irq(&r, 1u << 5, 0x08); /* level (bit 0 clear), active low (bit 3) */
    res_end(&r);
    CHECK(parse_template(&r, &dev));
    CHECK(dev.crs_ok);
    CHECK(dev.has_interrupt);
    CHECK_EQ(dev.gsi, 5u);
    CHECK(dev.line.level_triggered);
    CHECK(dev.line.active_low);
    CHECK(!dev.has_memory);

    r.len = 0;
    res_irq(&r, 0, 0x01); /* an empty mask names nothing */
    res_irq_noflags(&r, 1u << 11);
    res_end(&r);
    CHECK(parse_template(&r, &dev));
    CHECK_EQ(dev.gsi, 11u);
    CHECK(!dev.line.level_triggered);
}

TEST(aml_resources_extended_irq_and_memory32)
{
    struct aml r = { .len = 0 };
    struct acpi_aml_device dev;
    res_memory32(&r, 0xD0000000u, 0xD0000000u, 4, 0x1000);
    res_memory32_fixed(&r, 0xE0000000u, 0x200); /* only the first window is taken */
    res_ext_irq(&r, EXT_IRQ_CONSUMER | EXT_IRQ_EDGE | EXT_IRQ_ACTIVE_LOW, 70);
    res_ext_irq(&r, EXT_IRQ_CONSUMER, 71);
    res_end(&r);
    CHECK(parse_template(&r, &dev));
    CHECK_EQ(dev.memory_base, 0xD0000000u);
    CHECK_EQ(dev.memory_length, 0x1000u);
    CHECK_EQ(dev.gsi, 70u);
    CHECK(!dev.line.level_triggered);
    CHECK(dev.line.active_low);
}

TEST(aml_resources_malformed)
{
    struct aml r = { .len = 0 };
    struct acpi_aml_device dev;
    res_memory32_fixed(&r, 0xFEB00000u, 0x200);
    res_ext_irq(&r, EXT_IRQ_CONSUMER, 12);
    CHECK(!parse_template(&r, &dev)); /* no end tag: nothing is kept */
    CHECK(!dev.crs_ok);
    CHECK(!dev.has_memory);
    CHECK(!dev.has_interrupt);

    for (size_t cut = 0; cut < r.len; cut++) { /* every truncation of a large descriptor */
        struct aml t = r;
        t.len = cut;
        CHECK(!parse_template(&t, &dev));
    }

    r.len = 0;
    put8(&r, 0x86);
    put16(&r, 0xFFFF); /* a length running far past the buffer */
    put8(&r, 0x01);
    res_end(&r);
    CHECK(!parse_template(&r, &dev));

    r.len = 0; /* descriptors too short for their type are skipped, not read */
    put8(&r, 0x86); put16(&r, 2); put16(&r, 0);
    put8(&r, 0x89); put16(&r, 6); put8(&r, 1); put8(&r, 3); put32(&r, 9); /* claims 3 interrupts in room for 1 */
    res_end(&r);
    CHECK(parse_template(&r, &dev));
    CHECK(!dev.has_memory);
    CHECK(!dev.has_interrupt);

    r.len = 0;
    res_end(&r);
    CHECK(parse_template(&r, &dev));
    CHECK(!dev.has_memory && !dev.has_interrupt);
}

/* ---- structure ---- */

/* A minimal LNRO0005 device body with the given window and GSI. */
static void virtio_body(struct aml *body, uint32_t base, uint32_t gsi)
{
    struct aml crs = { .len = 0 };
    res_memory32_fixed(&crs, base, 0x200);
    res_ext_irq(&crs, EXT_IRQ_CONSUMER, gsi);
    res_end(&crs);
    body->len = 0;
    name_str(body, "_HID", "LNRO0005");
    name_buffer(body, "_CRS", &crs);
}

TEST(aml_devices_in_methods_and_conditionals_are_not_found)
{
    struct aml dev = { .len = 0 }, body, top = { .len = 0 };
    virtio_body(&body, 0xFEB00000u, 5);
    device(&dev, "VR00", &body);
    put_package(&top, "\x14", 1, &dev);        /* Method: its bytes are skipped whole */
    put_package(&top, "\xA0", 1, &dev);        /* If */
    put_package(&top, "\xA1", 1, &dev);        /* Else */
    put8(&top, 0xA3);                          /* Noop */
    PUT_LIT(&top, "\x5B\x01" "MTX_" "\x00");    /* Mutex */
    PUT_LIT(&top, "\x15" "EXTN" "\x06\x00");    /* External */
    PUT_LIT(&top, "\x06" "AAAA" "BBBB");        /* Alias */
    PUT_LIT(&top, "\x5B\x88" "DREG" "\x0D" "SSDT" "\x00" "\x0D\x00" "\x0D\x00"); /* DataRegion */
    virtio_body(&body, 0xFEB00200u, 6);
    device(&top, "VR01", &body);
    struct result r;
    scan(&top, "LNRO0005", &r);
    CHECK_EQ(r.scan.found, 1);
    CHECK_STR_EQ(r.dev[0].name, "VR01");
    CHECK_EQ(r.dev[0].gsi, 6u);
    CHECK_EQ(r.scan.unparsed, 0);
}

TEST(aml_nested_devices_and_paths)
{
    struct aml child, parent = { .len = 0 }, top = { .len = 0 };
    virtio_body(&child, 0xFEB00000u, 5);
    name_str(&parent, "_HID", "PNP0A05");
    device(&parent, "CHLD", &child);
    device(&top, "PARN", &parent);
    /* A path as the Device's name: \_SB_.VR01 (root, dual name). */
    virtio_body(&child, 0xFEB00200u, 6);
    device_path(&top, "\\\x2E" "_SB_" "VR01", 10, &child);
    /* A _HID declared by path is not the Device's own. */
    struct aml odd = { .len = 0 };
    PUT_LIT(&odd, "\x08" "\\_HID" "\x0D" "LNRO0005\x00");
    device(&top, "ODD_", &odd);
    struct result r;
    scan(&top, "LNRO0005", &r);
    CHECK_EQ(r.scan.found, 2);
    CHECK_STR_EQ(r.dev[0].name, "CHLD");
    CHECK_STR_EQ(r.dev[1].name, "VR01");
    CHECK_EQ(r.dev[1].memory_base, 0xFEB00200u);
    CHECK_EQ(r.scan.malformed, 0);
    scan(&top, "PNP0A05", &r);
    CHECK_EQ(r.scan.found, 1);
    CHECK_STR_EQ(r.dev[0].name, "PARN");
}

TEST(aml_unknown_opcode_leaves_its_term_list_only)
{
    struct aml body, inner = { .len = 0 }, top = { .len = 0 };
    virtio_body(&body, 0xFEB00000u, 5);
    device(&inner, "VR00", &body);
    PUT_LIT(&inner, "\x70\x0A\x01" "LOCL");     /* Store(1, LOCL): not sized by the scanner */
    virtio_body(&body, 0xFEB00200u, 6);
    device(&inner, "VR01", &body);             /* lost with the rest of the scope */
    scope(&top, "_SB_", 4, &inner);
    virtio_body(&body, 0xFEB00400u, 7);
    device(&top, "VR02", &body);               /* found again after the scope's package */
    struct result r;
    scan(&top, "LNRO0005", &r);
    CHECK_EQ(r.scan.found, 2);
    CHECK_STR_EQ(r.dev[0].name, "VR00");
    CHECK_STR_EQ(r.dev[1].name, "VR02");
    CHECK_EQ(r.scan.unparsed, 1);
    CHECK_EQ(r.scan.malformed, 0);

    /* An OperationRegion whose offset is an expression cannot be sized either. */
    top.len = 0;
    PUT_LIT(&top, "\x5B\x80" "EREG" "\x00" "\x72\x0A\x01\x0A\x02\x00" "\x0A\x04");
    device(&top, "VR03", &body);
    scan(&top, "LNRO0005", &r);
    CHECK_EQ(r.scan.found, 0);
    CHECK_EQ(r.scan.unparsed, 1);
}

/* A GED whose Method(_EVT, 1, Serialized) body is `evt` (`len` bytes), and a PWRB power button. */
static void ged_with_evt(struct aml *a, const char *evt, size_t len)
{
    struct aml body = { .len = 0 }, method = { .len = 0 }, button = { .len = 0 };
    a->len = 0;
    name_str(&body, "_HID", "ACPI0013");
    PUT_LIT(&body, "\x5B\x80" "EREG" "\x00" "\x0C\x00\x00\xA0\xFE" "\x0A\x04");
    PUT_LIT(&method, "_EVT" "\x09");
    put(&method, evt, len);
    put_package(&body, "\x14", 1, &method);
    device(a, "GED_", &body);
    name_str(&button, "_HID", "PNP0C0C");
    device(a, "PWRB", &button);
}

#define GED_WITH_EVT(a, lit) ged_with_evt((a), (lit), sizeof(lit) - 1)

TEST(aml_ged_evt_names_the_power_button_bit)
{
    struct aml a;
    struct result r;
    /* And into a Local first, then the comparison, and a path from the root (cloud-hypervisor's shape). */
    GED_WITH_EVT(&a, "\x70" "ESEL" "\x60" "\x7B\x60\x0A\x01\x61" "\xA0\x08\x93\x61\x01" "CSCN"
                     "\x7B\x60\x0A\x08\x61" "\xA0\x12\x93\x61\x0A\x08\x86\x5C\x2E" "_SB_" "PWRB" "\x0A\x80");
    scan(&a, "ACPI0013", &r);
    CHECK_EQ(r.scan.found, 1);
    CHECK_EQ(r.dev[0].evt_notify_mask, 8u);
    CHECK_STR_EQ(r.dev[0].evt_notify_name, "PWRB");
    CHECK_EQ(r.scan.malformed, 0);

    /* Not "pressed" (0x81), two bits at once, a method called first, no If at all: nothing. */
    GED_WITH_EVT(&a, "\x70" "ESEL" "\x60" "\xA0\x10\x93\x7B\x60\x0A\x02\x00\x0A\x02\x86" "PWRB" "\x0A\x81");
    scan(&a, "ACPI0013", &r);
    CHECK_EQ(r.dev[0].evt_notify_mask, 0u);
    CHECK_STR_EQ(r.dev[0].evt_notify_name, "");
    GED_WITH_EVT(&a, "\x70" "ESEL" "\x60" "\xA0\x10\x93\x7B\x60\x0A\x06\x00\x0A\x06\x86" "PWRB" "\x0A\x80");
    scan(&a, "ACPI0013", &r);
    CHECK_EQ(r.dev[0].evt_notify_mask, 0u);
    GED_WITH_EVT(&a, "\x70" "ESEL" "\x60" "\xA0\x14\x93\x7B\x60\x0A\x02\x00\x0A\x02" "CSCN" "\x86" "PWRB" "\x0A\x80");
    scan(&a, "ACPI0013", &r);
    CHECK_EQ(r.dev[0].evt_notify_mask, 0u);
    GED_WITH_EVT(&a, "\x70" "ESEL" "\x60" "\xA0\x0D\x93\x7B\x60\x0A\x02\x00\x0A\x02\x86\x00\x0A\x80");
    scan(&a, "ACPI0013", &r); /* Notify of the null name */
    CHECK_EQ(r.dev[0].evt_notify_mask, 0u);
    GED_WITH_EVT(&a, "\x5C\x2E" "_SB_" "ESCN");
    scan(&a, "ACPI0013", &r);
    CHECK_EQ(r.dev[0].evt_notify_mask, 0u);

    /* The same If in a method of another name is not the GED's handler. */
    GED_WITH_EVT(&a, "\x70" "ESEL" "\x60" "\xA0\x10\x93\x7B\x60\x0A\x02\x00\x0A\x02\x86" "PWRB" "\x0A\x80");
    for (size_t i = 0; i + 4 <= a.len; i++)
        if (memcmp(a.b + i, "_EVT", 4) == 0)
            a.b[i + 3] = 'X';
    scan(&a, "ACPI0013", &r);
    CHECK_EQ(r.dev[0].evt_notify_mask, 0u);
}

TEST(aml_s5_sleep_types)
{
    /* Whatever the _HID looked for, Scope(\) { Name(_S5_, Package { 5, 0, 0, 0 }) } is read. */
    struct aml dsdt;
    build_microvm_dsdt(&dsdt, two_nics, 2);
    struct result r;
    scan(&dsdt, "NONE0000", &r);
    CHECK(r.scan.has_s5);
    CHECK_EQ(r.scan.s5_slp_typ_a, 5);
    CHECK_EQ(r.scan.s5_slp_typ_b, 0);

    /* At the top level, as QEMU's q35 and pc write it, with Zero and One opcodes. */
    struct aml top = { .len = 0 };
    PUT_LIT(&top, "\x08" "_S5_" "\x12\x06\x04\x00\x01\x00\x00");
    scan(&top, "NONE0000", &r);
    CHECK(r.scan.has_s5);
    CHECK_EQ(r.scan.s5_slp_typ_a, 0);
    CHECK_EQ(r.scan.s5_slp_typ_b, 1);

    /* Inside a Device it is not the system's; a package of one element is not enough;
     * a non-constant element is not read; none at all says so. */
    struct aml body = { .len = 0 }, dev = { .len = 0 };
    PUT_LIT(&body, "\x08" "_S5_" "\x12\x06\x04\x00\x01\x00\x00");
    device(&dev, "DEV0", &body);
    scan(&dev, "NONE0000", &r);
    CHECK(!r.scan.has_s5);
    top.len = 0;
    PUT_LIT(&top, "\x08" "_S5_" "\x12\x03\x01\x0A\x05");
    scan(&top, "NONE0000", &r);
    CHECK(!r.scan.has_s5);
    top.len = 0;
    PUT_LIT(&top, "\x08" "_S5_" "\x12\x06\x04" "LOCL" "\x00");
    scan(&top, "NONE0000", &r);
    CHECK(!r.scan.has_s5);
    top.len = 0;
    scan(&top, "NONE0000", &r);
    CHECK(!r.scan.has_s5);
}

TEST(aml_lengths_past_their_container)
{
    struct aml body, top = { .len = 0 };
    virtio_body(&body, 0xFEB00000u, 5);
    device(&top, "VR00", &body);
    size_t second = top.len;
    device(&top, "VR01", &body);
    /* VR01's PkgLength one byte longer than what is left. */
    struct aml bad = top;
    bad.b[second + 2] = (uint8_t)(bad.b[second + 2] + 1);
    struct result r;
    scan(&bad, "LNRO0005", &r);
    CHECK_EQ(r.scan.found, 1);
    CHECK_EQ(r.scan.malformed, 1);

    /* A NameString running past the end, a string with no NUL, a bad NameSeg character. */
    struct aml t = { .len = 0 };
    PUT_LIT(&t, "\x08" "_HI");
    scan(&t, "LNRO0005", &r);
    CHECK_EQ(r.scan.found, 0);
    CHECK_EQ(r.scan.malformed, 1);
    t.len = 0;
    PUT_LIT(&t, "\x08" "_HID" "\x0D" "LNRO");
    scan(&t, "LNRO0005", &r);
    CHECK_EQ(r.scan.malformed, 1);
    t.len = 0;
    PUT_LIT(&t, "\x08" "_hid" "\x01");
    scan(&t, "LNRO0005", &r);
    CHECK_EQ(r.scan.malformed, 1);
    t.len = 0;
    PUT_LIT(&t, "\x08" "\x2F\x00" "\x01"); /* a multi-name of zero segments */
    scan(&t, "LNRO0005", &r);
    CHECK_EQ(r.scan.malformed, 1);
}

TEST(aml_nesting_is_bounded)
{
    struct aml body, a, b;
    virtio_body(&body, 0xFEB00000u, 5);
    a.len = 0;
    device(&a, "VR00", &body);
    /* ACPI_AML_NESTING_MAX packages inside each other, the device the innermost: still found. */
    for (int i = 0; i < ACPI_AML_NESTING_MAX - 1; i++) {
        b.len = 0;
        scope(&b, "_SB_", 4, &a);
        a = b;
    }
    struct result r;
    scan(&a, "LNRO0005", &r);
    CHECK_EQ(r.scan.found, 1);
    CHECK_EQ(r.scan.malformed, 0);
    /* One more: refused, counted, and no deeper recursion. */
    b.len = 0;
    scope(&b, "_SB_", 4, &a);
    scan(&b, "LNRO0005", &r);
    CHECK_EQ(r.scan.found, 0);
    CHECK_EQ(r.scan.malformed, 1);
}

/* ---- every truncation and single-byte corruption of the microvm DSDT ---- */

static const uint8_t corruptions[] = { 0x00, 0xFF, 0x5B, 0x82, 0x10, 0x11, 0x08, 0x0D, 0x3F, 0x40, 0x7F, 0x80, 0xBF, 0xC0 };

/* Runs in a child: a crash or a sanitizer report fails the check instead of the run. */
static int sweep_microvm_dsdt(void *arg)
{
    (void)arg;
    struct aml dsdt, t;
    build_microvm_dsdt(&dsdt, two_nics, 2);
    struct result r;
    for (size_t len = 0; len <= dsdt.len; len++) {
        t = dsdt;
        t.len = len;
        scan(&t, "LNRO0005", &r);
        if (r.scan.found > 2 || (len == dsdt.len && r.scan.found != 2))
            return 1;
    }
    for (size_t pos = 0; pos < dsdt.len; pos++) {
        for (size_t c = 0; c <= sizeof(corruptions); c++) {
            t = dsdt;
            t.b[pos] = c < sizeof(corruptions) ? corruptions[c] : (uint8_t)(dsdt.b[pos] ^ 0x01);
            scan(&t, "LNRO0005", &r);
            for (int i = 0; i < r.scan.found && i < MAX_DEVICES; i++)
                if (r.dev[i].name[4] != '\0')
                    return 2;
        }
    }
    return 0;
}

TEST(aml_every_truncation_and_corruption_is_safe)
{
    CHECK_EQ(unit_run_in_child(sweep_microvm_dsdt, NULL), 0);
}

/* The host bridge as pcie=on declares it: ECAM from the _CBA method, the
 * buses and the 32-bit window from _CRS (the 64-bit one is not taken), and
 * each slot's pins through _PRT to its four link devices. */
TEST(aml_pcie_host_bridge_on_microvm)
{
    struct aml sb = { .len = 0 }, dsdt = { .len = 0 };
    gpex_host(&sb);
    scope(&dsdt, "_SB_", 4, &sb);
    uint8_t *copy = malloc(dsdt.len);
    if (!copy)
        abort();
    memcpy(copy, dsdt.b, dsdt.len);
    struct acpi_aml_device host[2], links[5];
    struct acpi_aml_scan s;
    acpi_aml_find_devices(copy, dsdt.len, "PNP0A08", host, 2, &s);
    CHECK_EQ(s.found, 1);
    CHECK_EQ(s.unparsed, 0);
    CHECK_EQ(s.malformed, 0);
    CHECK_STR_EQ(host[0].name, "PCI0");
    CHECK(host[0].has_cba);
    CHECK_EQ(host[0].cba, GPEX_ECAM);
    CHECK(host[0].has_bus_range);
    CHECK_EQ(host[0].bus_start, 0);
    CHECK_EQ(host[0].bus_end, 255);
    CHECK(host[0].has_window32);
    CHECK_EQ(host[0].window32_base, GPEX_MMIO32);
    CHECK_EQ(host[0].window32_length, GPEX_MMIO32_SIZE);
    CHECK(!host[0].has_memory); /* address space descriptors are windows, not the device's own memory */
    CHECK(host[0].prt != NULL);

    char link[5];
    uint32_t gsi = 0xdead;
    CHECK(acpi_aml_prt_route(host[0].prt, host[0].prt_len, 1, 0, link, &gsi)); /* 00:01.0 INTA */
    CHECK_STR_EQ(link, "GSI1");
    CHECK(acpi_aml_prt_route(host[0].prt, host[0].prt_len, 3, 2, link, &gsi));
    CHECK_STR_EQ(link, "GSI1");
    CHECK(acpi_aml_prt_route(host[0].prt, host[0].prt_len, 0, 0, link, &gsi)); /* the address as a WordConst */
    CHECK_STR_EQ(link, "GSI0");
    CHECK(acpi_aml_prt_route(host[0].prt, host[0].prt_len, 31, 3, link, &gsi));
    CHECK_STR_EQ(link, "GSI2");
    CHECK(!acpi_aml_prt_route(host[0].prt, host[0].prt_len, 32, 0, link, &gsi));
    CHECK(!acpi_aml_prt_route(host[0].prt, host[0].prt_len, 1, 4, link, &gsi));

    acpi_aml_find_devices(copy, dsdt.len, "PNP0C0F", links, 5, &s);
    CHECK_EQ(s.found, 4);
    for (int i = 0; i < 4; i++) {
        CHECK_EQ(links[i].name[3], '0' + i);
        CHECK(links[i].has_interrupt);
        CHECK_EQ(links[i].gsi, GPEX_IRQ + (unsigned)i);
        CHECK(links[i].line.level_triggered && !links[i].line.active_low);
    }
    acpi_aml_find_devices(copy, dsdt.len, "PNP0C02", links, 5, &s); /* RES0, nested in PCI0 */
    CHECK_EQ(s.found, 1);
    CHECK(links[0].has_window32); /* a QWord descriptor below 4 GiB counts */
    CHECK_EQ(links[0].window32_base, GPEX_ECAM);
    free(copy);
}

/* _CBA as a Name, a _CBA method that is not a constant, and the descriptors
 * not taken: a translated window, one above 4 GiB, a length that disagrees. */
TEST(aml_host_bridge_variants)
{
    struct aml d = { .len = 0 }, sb = { .len = 0 }, dsdt = { .len = 0 }, crs = { .len = 0 };
    name_str(&d, "_HID", "PNP0A08");
    name_int(&d, "_CBA", 0xB0000000u);
    res_address(&crs, 4, 0, 0x80000000u, 0x8FFFFFFFu, 0x1000); /* translated */
    res_address(&crs, 8, 0, GPEX_MMIO64, GPEX_MMIO64 + 0xFFFF, 0); /* above 4 GiB */
    res_address(&crs, 4, 0, 0xA0000000u, 0xAFFFFFFFu, 0);
    crs.b[crs.len - 4] ^= 1; /* ...its length one off */
    res_address(&crs, 2, 2, 0, 0x1FF, 0); /* buses past 255 */
    res_address(&crs, 4, 0, 0xC0000000u, 0xC00FFFFFu, 0); /* the first that counts */
    res_address(&crs, 2, 2, 0x10, 0x1F, 0);
    res_end(&crs);
    name_buffer(&d, "_CRS", &crs);
    device(&sb, "PCI0", &d);
    d.len = 0;
    struct aml m = { .len = 0 };
    name_str(&d, "_HID", "PNP0A08");
    PUT_LIT(&m, "_CBA" "\x00" "\xA4" "\x60"); /* Return (Local0) */
    put_package(&d, "\x14", 1, &m);
    device(&sb, "PCI1", &d);
    scope(&dsdt, "_SB_", 4, &sb);
    struct result r;
    scan(&dsdt, "PNP0A08", &r);
    CHECK_EQ(r.scan.found, 2);
    CHECK(r.dev[0].has_cba);
    CHECK_EQ(r.dev[0].cba, 0xB0000000u);
    CHECK(r.dev[0].has_window32);
    CHECK_EQ(r.dev[0].window32_base, 0xC0000000u);
    CHECK_EQ(r.dev[0].window32_length, 0x100000u);
    CHECK(r.dev[0].has_bus_range);
    CHECK_EQ(r.dev[0].bus_start, 0x10);
    CHECK_EQ(r.dev[0].bus_end, 0x1F);
    CHECK(r.dev[0].prt == NULL);
    CHECK(!r.dev[1].has_cba);
    CHECK(!r.dev[1].has_window32 && !r.dev[1].has_bus_range);
}

/* A _PRT of fixed size whose entries give GSIs directly (Source Zero), and
 * malformed ones: an entry that is not a Package, a count past the end,
 * a truncated entry, a Source Index past 32 bits. */
TEST(aml_prt_sources_and_malformed_tables)
{
    struct aml prt = { .len = 0 }, body = { .len = 0 };
    put8(&body, 2); /* NumElements */
    prt_entry(&body, 2, 0, NULL, 20);
    prt_entry(&body, 2, 1, "LNKB", 0);
    put_package(&prt, "\x12", 1, &body);
    char link[5];
    uint32_t gsi = 0;
    CHECK(acpi_aml_prt_route(prt.b, prt.len, 2, 0, link, &gsi));
    CHECK_STR_EQ(link, "");
    CHECK_EQ(gsi, 20u);
    CHECK(acpi_aml_prt_route(prt.b, prt.len, 2, 1, link, &gsi));
    CHECK_STR_EQ(link, "LNKB");
    CHECK(!acpi_aml_prt_route(prt.b, prt.len, 2, 2, link, &gsi));
    CHECK(!acpi_aml_prt_route(prt.b, 0, 2, 0, link, &gsi));
    /* Every truncation is refused or answers as the whole would. */
    for (size_t len = 1; len < prt.len; len++) {
        uint8_t *copy = malloc(len);
        if (!copy)
            abort();
        memcpy(copy, prt.b, len);
        CHECK(!acpi_aml_prt_route(copy, len, 2, 1, link, &gsi));
        free(copy);
    }
    /* NumElements larger than what is there: the entries present still count. */
    struct aml more = prt;
    more.b[2] = 9;
    CHECK(acpi_aml_prt_route(more.b, more.len, 2, 1, link, &gsi));
    /* An element that is not a Package stops the walk. */
    struct aml bad = { .len = 0 }, bad_body = { .len = 0 };
    put8(&bad_body, 2);
    put_int(&bad_body, 7);
    prt_entry(&bad_body, 2, 0, NULL, 20);
    put_package(&bad, "\x12", 1, &bad_body);
    CHECK(!acpi_aml_prt_route(bad.b, bad.len, 2, 0, link, &gsi));
    /* A Source Index of 64 bits. */
    struct aml wide = { .len = 0 }, fixed = { .len = 0 }, entry = { .len = 0 };
    put8(&fixed, 1);
    put8(&entry, 4);
    put_int(&entry, 2u << 16 | 0xFFFF);
    put_int(&entry, 0);
    put8(&entry, 0x00);
    put_int(&entry, 0x100000000ULL);
    put_package(&fixed, "\x12", 1, &entry);
    put_package(&wide, "\x12", 1, &fixed);
    CHECK(!acpi_aml_prt_route(wide.b, wide.len, 2, 0, link, &gsi));
}
