/*
 * arch/x86_64/acpi_tables.c on table images assembled here: a q35-like set
 * (RSDP, XSDT, MADT, MCFG, FADT) and a pc-like FADT, then corrupt,
 * truncated and oversized variants. Every table handed to a parser is first
 * copied into a heap block of exactly its length, so a read past the end
 * trips AddressSanitizer instead of passing silently; and every parser call
 * runs in a forked child (results come back through shared memory), so such
 * a trip, or a parser that never returns, fails one check instead of ending
 * the whole run.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "arch/x86_64/acpi_tables.h"
#include "arch/x86_64/apic_encoding.h"
#include "tests/unit/check.h"

/* ---- assembling tables ---- */

#define SDT_HEADER 36

struct table {
    uint8_t bytes[4096];
    size_t len;
};

static void tb_bytes(struct table *t, const void *p, size_t n)
{
    if (t->len + n > sizeof(t->bytes))
        abort();
    memcpy(t->bytes + t->len, p, n);
    t->len += n;
}

static void tb_u8(struct table *t, uint8_t v) { tb_bytes(t, &v, 1); }
static void tb_u16(struct table *t, uint16_t v) { uint8_t b[2] = { (uint8_t)v, (uint8_t)(v >> 8) }; tb_bytes(t, b, 2); }
static void tb_u32(struct table *t, uint32_t v) { tb_u16(t, (uint16_t)v); tb_u16(t, (uint16_t)(v >> 16)); }
static void tb_u64(struct table *t, uint64_t v) { tb_u32(t, (uint32_t)v); tb_u32(t, (uint32_t)(v >> 32)); }

static void put_u16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void put_u32(uint8_t *p, uint32_t v) { put_u16(p, (uint16_t)v); put_u16(p + 2, (uint16_t)(v >> 16)); }
static void put_u64(uint8_t *p, uint64_t v) { put_u32(p, (uint32_t)v); put_u32(p + 4, (uint32_t)(v >> 32)); }

/* The standard header (ACPI 6.5, 5.2.6), length and checksum left for tb_finish. */
static void tb_header(struct table *t, const char sig[4], uint8_t revision)
{
    memset(t, 0, sizeof(*t));
    tb_bytes(t, sig, 4);
    tb_u32(t, 0);        /* length */
    tb_u8(t, revision);
    tb_u8(t, 0);         /* checksum */
    tb_bytes(t, "BOCHS ", 6);
    tb_bytes(t, "BXPC    ", 8);
    tb_u32(t, 1);        /* OEM revision */
    tb_bytes(t, "BXPC", 4);
    tb_u32(t, 1);        /* creator revision */
}

static uint8_t sum8(const uint8_t *p, size_t n)
{
    uint8_t s = 0;
    while (n--)
        s = (uint8_t)(s + *p++);
    return s;
}

/* Sets the length field to the bytes written and makes the checksum right. */
static void tb_finish(struct table *t)
{
    put_u32(t->bytes + 4, (uint32_t)t->len);
    t->bytes[9] = 0;
    t->bytes[9] = (uint8_t)(0x100 - sum8(t->bytes, t->len));
}

/* Recomputes the checksum over the length field's bytes after a field was changed. */
static void tb_fix_checksum(struct table *t, size_t length)
{
    t->bytes[9] = 0;
    t->bytes[9] = (uint8_t)(0x100 - sum8(t->bytes, length));
}

/* A heap copy of exactly n bytes (see the file comment); free() it. */
static uint8_t *exact(const void *p, size_t n)
{
    uint8_t *copy = malloc(n ? n : 1);
    if (!copy)
        abort();
    memcpy(copy, p, n);
    return copy;
}

/* ---- running a parser in a child ---- */

/* What a parse returns when the child crashed, tripped a sanitizer or hung:
 * never a real return code, so the CHECK_EQ comparing it fails and shows it. */
#define PARSE_CRASHED 1000

enum parser { PARSE_RSDP, PARSE_VALIDATE, PARSE_MADT, PARSE_MCFG, PARSE_FADT };

struct rsdp_result {
    uint64_t root;
    bool is_xsdt;
};

struct parse_job {
    enum parser which;
    const uint8_t *bytes;
    size_t len;        /* bytes readable: the size of the exact copy */
    const char *sig;   /* PARSE_VALIDATE */
    void *out;         /* shared with the parent */
};

#define RC_BIAS 16 /* exit codes 12..16 carry return codes -4..0 */

static int parse_job_run(void *arg)
{
    struct parse_job *j = arg;
    alarm(10);
    uint8_t *copy = exact(j->bytes, j->len);
    int rc;
    switch (j->which) {
    case PARSE_RSDP: {
        struct rsdp_result *r = j->out;
        rc = acpi_parse_rsdp(copy, j->len, &r->root, &r->is_xsdt);
        break;
    }
    case PARSE_VALIDATE: rc = acpi_validate_table(copy, j->len, j->sig); break;
    case PARSE_MADT: rc = acpi_parse_madt(copy, j->out); break;
    case PARSE_MCFG: rc = acpi_parse_mcfg(copy, j->out); break;
    default: rc = acpi_parse_fadt(copy, j->out); break;
    }
    free(copy);
    return rc + RC_BIAS;
}

/* Runs one parser on `len` bytes in a child; copies its result to `out`
 * (out_size bytes, poisoned first so unset fields show). */
static int parse_isolated(enum parser which, const void *bytes, size_t len, const char *sig, void *out,
                          size_t out_size)
{
    size_t map_size = out_size ? out_size : 1;
    void *shared = mmap(NULL, map_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shared == MAP_FAILED)
        abort();
    memset(shared, 0xA5, map_size);
    struct parse_job job = { which, bytes, len, sig, shared };
    int code = unit_run_in_child(parse_job_run, &job);
    bool crashed = code < RC_BIAS + ACPI_ERR_TOO_MANY || code > RC_BIAS;
    /* After a crash the poison is no valid bool: hand back zeros instead. */
    if (out_size)
        memcpy(out, crashed ? memset(shared, 0, out_size) : shared, out_size);
    munmap(shared, map_size);
    return crashed ? PARSE_CRASHED + code : code - RC_BIAS;
}

/* ---- MADT entries (ACPI 6.5, 5.2.12) ---- */

static void madt_begin(struct table *t, uint32_t lapic, uint32_t flags)
{
    tb_header(t, "APIC", 3);
    tb_u32(t, lapic);
    tb_u32(t, flags);
}

static void madt_lapic(struct table *t, uint8_t uid, uint8_t apic_id, uint32_t flags)
{
    tb_u8(t, 0); tb_u8(t, 8); tb_u8(t, uid); tb_u8(t, apic_id); tb_u32(t, flags);
}

static void madt_ioapic(struct table *t, uint8_t id, uint32_t address, uint32_t gsi_base)
{
    tb_u8(t, 1); tb_u8(t, 12); tb_u8(t, id); tb_u8(t, 0); tb_u32(t, address); tb_u32(t, gsi_base);
}

static void madt_override(struct table *t, uint8_t irq, uint32_t gsi, uint16_t flags)
{
    tb_u8(t, 2); tb_u8(t, 10); tb_u8(t, 0); tb_u8(t, irq); tb_u32(t, gsi); tb_u16(t, flags);
}

static void madt_lapic_nmi(struct table *t, uint8_t uid, uint16_t flags, uint8_t lint)
{
    tb_u8(t, 4); tb_u8(t, 6); tb_u8(t, uid); tb_u16(t, flags); tb_u8(t, lint);
}

static void madt_lapic_address_override(struct table *t, uint64_t address)
{
    tb_u8(t, 5); tb_u8(t, 12); tb_u16(t, 0); tb_u64(t, address);
}

/* An entry of any type and length, its body filled with `fill`. */
static void madt_raw(struct table *t, uint8_t type, uint8_t length, uint8_t fill)
{
    tb_u8(t, type);
    tb_u8(t, length);
    for (int i = 2; i < length; i++)
        tb_u8(t, fill);
}

#define PCAT_COMPAT 1u
#define LAPIC_ENABLED 1u
#define LAPIC_ONLINE_CAPABLE 2u

/* What QEMU gives a one-CPU q35 or pc guest (FACTS.md). */
static void build_q35_madt(struct table *t)
{
    madt_begin(t, 0xFEE00000, PCAT_COMPAT);
    madt_lapic(t, 0, 0, LAPIC_ENABLED);
    madt_ioapic(t, 0, 0xFEC00000, 0);
    madt_override(t, 0, 2, 0x0000);
    madt_override(t, 5, 5, 0x000D);
    madt_override(t, 9, 9, 0x000D);
    madt_override(t, 10, 10, 0x000D);
    madt_override(t, 11, 11, 0x000D);
    madt_lapic_nmi(t, 0xFF, 0x0000, 1);
    tb_finish(t);
}

static int parse_madt(const struct table *t, struct madt_info *out)
{
    return parse_isolated(PARSE_MADT, t->bytes, t->len, NULL, out, sizeof(*out));
}

/* ---- MCFG (PCI Firmware spec 3.2, 4.1.2) ---- */

static void mcfg_begin(struct table *t)
{
    tb_header(t, "MCFG", 1);
    tb_u64(t, 0); /* reserved */
}

static void mcfg_entry(struct table *t, uint64_t base, uint16_t segment, uint8_t bus_start, uint8_t bus_end)
{
    tb_u64(t, base); tb_u16(t, segment); tb_u8(t, bus_start); tb_u8(t, bus_end); tb_u32(t, 0);
}

static int parse_mcfg(const struct table *t, struct mcfg_info *out)
{
    return parse_isolated(PARSE_MCFG, t->bytes, t->len, NULL, out, sizeof(*out));
}

/* ---- FADT (ACPI 6.5, 5.2.9, table 5.9): field offsets written out here ---- */

#define FADT_DSDT 40
#define FADT_SCI_INT 46
#define FADT_PM_TMR_BLK 76
#define FADT_PM_TMR_LEN 91
#define FADT_IAPC_BOOT_ARCH 109
#define FADT_FLAGS 112
#define FADT_RESET_REG 116
#define FADT_RESET_VALUE 128
#define FADT_X_DSDT 140
#define FADT_X_PM_TMR_BLK 208
#define FADT_SMI_CMD 48
#define FADT_ACPI_ENABLE 52
#define FADT_PM1A_EVT_BLK 56
#define FADT_PM1A_CNT_BLK 64
#define FADT_PM1_EVT_LEN 88
#define FADT_X_PM1A_EVT_BLK 148
#define FADT_SLEEP_CONTROL_REG 244
#define FADT_LENGTH_V1 116
#define FADT_LENGTH_V3 244
#define FADT_LENGTH_V5 268
#define FADT_F_PWR_BUTTON (1u << 4)
#define FADT_F_HW_REDUCED_ACPI (1u << 20)

#define FADT_F_WBINVD (1u << 0)
#define FADT_F_PROC_C1 (1u << 2)
#define FADT_F_SLP_BUTTON (1u << 5)
#define FADT_F_RTC_S4 (1u << 7)
#define FADT_F_TMR_VAL_EXT (1u << 8)
#define FADT_F_RESET_REG_SUP (1u << 10)
#define FADT_F_USE_PLATFORM_CLOCK (1u << 15)
#define FADT_FLAGS_COMMON (FADT_F_WBINVD | FADT_F_PROC_C1 | FADT_F_SLP_BUTTON | FADT_F_RTC_S4 | FADT_F_USE_PLATFORM_CLOCK)

static void put_gas(uint8_t *p, uint8_t space, uint8_t bit_width, uint8_t access_size, uint64_t address)
{
    p[0] = space;
    p[1] = bit_width;
    p[2] = 0;
    p[3] = access_size;
    put_u64(p + 4, address);
}

/* A zeroed FADT of `length` bytes; fields are then set with put_* and tb_fix_checksum. */
static void fadt_begin(struct table *t, uint8_t revision, size_t length)
{
    tb_header(t, "FACP", revision);
    while (t->len < length)
        tb_u8(t, 0);
    put_u32(t->bytes + 4, (uint32_t)length);
}

/* q35: revision 3, PM1 at 0x600 (control 0x604), ACPI_ENABLE 0xF1 to port
 * 0xB2, PM timer at 0x608, reset register 0xCF9 <- 0x0F. */
static void build_q35_fadt(struct table *t)
{
    fadt_begin(t, 3, FADT_LENGTH_V3);
    uint8_t *f = t->bytes;
    put_u16(f + FADT_SCI_INT, 9);
    put_u32(f + FADT_SMI_CMD, 0xB2);
    f[FADT_ACPI_ENABLE] = 0xF1;
    put_u32(f + FADT_PM1A_EVT_BLK, 0x600);
    put_u32(f + FADT_PM1A_CNT_BLK, 0x604);
    f[FADT_PM1_EVT_LEN] = 4;
    put_u32(f + FADT_PM_TMR_BLK, 0x608);
    f[FADT_PM_TMR_LEN] = 4;
    put_u16(f + FADT_IAPC_BOOT_ARCH, 0x0002);
    put_u32(f + FADT_FLAGS, FADT_FLAGS_COMMON | FADT_F_RESET_REG_SUP);
    put_gas(f + FADT_RESET_REG, ACPI_GAS_IO, 8, 0, 0xCF9);
    f[FADT_RESET_VALUE] = 0x0F;
    put_gas(f + FADT_X_PM_TMR_BLK, ACPI_GAS_IO, 32, 3, 0x608);
    tb_fix_checksum(t, t->len);
}

/* pc: revision 1 (116 bytes), PM timer at 0xB008, no reset register. */
static void build_pc_fadt(struct table *t)
{
    fadt_begin(t, 1, FADT_LENGTH_V1);
    uint8_t *f = t->bytes;
    put_u16(f + FADT_SCI_INT, 9);
    put_u32(f + FADT_PM_TMR_BLK, 0xB008);
    f[FADT_PM_TMR_LEN] = 4;
    put_u32(f + FADT_FLAGS, FADT_FLAGS_COMMON);
    tb_fix_checksum(t, t->len);
}

static int parse_fadt(const struct table *t, struct fadt_info *out)
{
    return parse_isolated(PARSE_FADT, t->bytes, t->len, NULL, out, sizeof(*out));
}

/* ---- RSDP (ACPI 6.5, 5.2.5.3) ---- */

#define RSDP_V2_LENGTH 36

static void build_rsdp(uint8_t r[RSDP_V2_LENGTH], uint8_t revision, uint32_t rsdt, uint64_t xsdt)
{
    memset(r, 0, RSDP_V2_LENGTH);
    memcpy(r, "RSD PTR ", 8);
    memcpy(r + 9, "BOCHS ", 6);
    r[15] = revision;
    put_u32(r + 16, rsdt);
    put_u32(r + 20, RSDP_V2_LENGTH);
    put_u64(r + 24, xsdt);
    r[8] = (uint8_t)(0x100 - sum8(r, 20));
    r[32] = (uint8_t)(0x100 - sum8(r, RSDP_V2_LENGTH));
}

static int parse_rsdp(const uint8_t *r, size_t available, uint64_t *root, bool *is_xsdt)
{
    struct rsdp_result res;
    int rc = parse_isolated(PARSE_RSDP, r, available, NULL, &res, sizeof(res));
    /* On an error return the parser leaves both unset (poison): read the flag as a byte. */
    uint8_t flag;
    memcpy(&flag, &res.is_xsdt, 1);
    *root = res.root;
    *is_xsdt = flag == 1;
    return rc;
}

/* ---- tests: checksums, RSDP ---- */

TEST(acpi_checksum_ok_sums_bytes)
{
    const uint8_t zero[4] = { 0 };
    const uint8_t wraps[3] = { 0x01, 0x80, 0x7F };
    const uint8_t off[3] = { 0x01, 0x80, 0x7E };
    CHECK(acpi_checksum_ok(zero, sizeof(zero)));
    CHECK(acpi_checksum_ok(wraps, sizeof(wraps)));
    CHECK(!acpi_checksum_ok(off, sizeof(off)));
    CHECK(acpi_checksum_ok(off, 0));
    CHECK(!acpi_checksum_ok(off, 1));
}

TEST(acpi_strerror_names_each_error)
{
    const int errs[] = { ACPI_ERR_SIGNATURE, ACPI_ERR_CHECKSUM, ACPI_ERR_TRUNCATED, ACPI_ERR_TOO_MANY, ACPI_ERR_ABSENT };
    const char *unknown = acpi_strerror(-99);
    CHECK(unknown != NULL);
    for (int i = 0; i < 5; i++) {
        CHECK(acpi_strerror(errs[i]) != NULL && strcmp(acpi_strerror(errs[i]), unknown) != 0);
        for (int j = 0; j < i; j++)
            CHECK(strcmp(acpi_strerror(errs[i]), acpi_strerror(errs[j])) != 0);
    }
}

TEST(acpi_rsdp_revision2_gives_xsdt)
{
    uint8_t r[RSDP_V2_LENGTH];
    build_rsdp(r, 2, 0x07FE14A0, 0x07FE15B4);
    uint64_t root;
    bool xsdt;
    CHECK_EQ(parse_rsdp(r, sizeof(r), &root, &xsdt), 0);
    CHECK_EQ(root, 0x07FE15B4u);
    CHECK(xsdt);
    /* An XSDT above 4 GiB keeps its high half. */
    build_rsdp(r, 2, 0x07FE14A0, 0x1234567890ull);
    CHECK_EQ(parse_rsdp(r, sizeof(r), &root, &xsdt), 0);
    CHECK_EQ(root, 0x1234567890ull);
}

TEST(acpi_rsdp_revision0_uses_rsdt)
{
    uint8_t r[RSDP_V2_LENGTH];
    build_rsdp(r, 0, 0x07FE14A0, 0x07FE15B4);
    r[32] ^= 0x55; /* the extended checksum does not exist in revision 0 */
    uint64_t root;
    bool xsdt;
    CHECK_EQ(parse_rsdp(r, 20, &root, &xsdt), 0); /* only 20 bytes readable */
    CHECK_EQ(root, 0x07FE14A0u);
    CHECK(!xsdt);
    CHECK_EQ(parse_rsdp(r, sizeof(r), &root, &xsdt), 0);
    CHECK_EQ(root, 0x07FE14A0u);
    CHECK(!xsdt);
}

TEST(acpi_rsdp_revision2_without_xsdt_falls_back)
{
    uint8_t r[RSDP_V2_LENGTH];
    build_rsdp(r, 2, 0x07FE14A0, 0);
    uint64_t root;
    bool xsdt = true;
    CHECK_EQ(parse_rsdp(r, sizeof(r), &root, &xsdt), 0);
    CHECK_EQ(root, 0x07FE14A0u);
    CHECK(!xsdt);
}

TEST(acpi_rsdp_bad_signature_and_checksums)
{
    uint8_t r[RSDP_V2_LENGTH];
    uint64_t root;
    bool xsdt;

    build_rsdp(r, 2, 0x1000, 0x2000);
    r[4] = 'p'; /* "RSD pTR ": checksums made right again, only the signature wrong */
    r[8] = 0;
    r[8] = (uint8_t)(0x100 - sum8(r, 20));
    r[32] = 0;
    r[32] = (uint8_t)(0x100 - sum8(r, RSDP_V2_LENGTH));
    CHECK_EQ(parse_rsdp(r, sizeof(r), &root, &xsdt), ACPI_ERR_SIGNATURE);

    build_rsdp(r, 2, 0x1000, 0x2000);
    r[8]++; /* the first checksum */
    CHECK_EQ(parse_rsdp(r, sizeof(r), &root, &xsdt), ACPI_ERR_CHECKSUM);

    build_rsdp(r, 0, 0x1000, 0);
    r[16]++; /* the RSDT address, under the first checksum */
    CHECK_EQ(parse_rsdp(r, 20, &root, &xsdt), ACPI_ERR_CHECKSUM);

    build_rsdp(r, 2, 0x1000, 0x2000);
    r[33] = 1; /* a reserved byte: only the extended checksum covers it */
    CHECK(acpi_checksum_ok(r, 20));
    CHECK_EQ(parse_rsdp(r, sizeof(r), &root, &xsdt), ACPI_ERR_CHECKSUM);

    build_rsdp(r, 2, 0x1000, 0x2000);
    r[24]++; /* the XSDT address */
    CHECK_EQ(parse_rsdp(r, sizeof(r), &root, &xsdt), ACPI_ERR_CHECKSUM);
}

TEST(acpi_rsdp_truncated)
{
    uint8_t r[RSDP_V2_LENGTH];
    uint64_t root;
    bool xsdt;
    build_rsdp(r, 0, 0x1000, 0);
    CHECK_EQ(parse_rsdp(r, 19, &root, &xsdt), ACPI_ERR_TRUNCATED);

    build_rsdp(r, 2, 0x1000, 0x2000);
    CHECK_EQ(parse_rsdp(r, 20, &root, &xsdt), ACPI_ERR_TRUNCATED); /* revision 2 needs 36 */
    CHECK_EQ(parse_rsdp(r, 35, &root, &xsdt), ACPI_ERR_TRUNCATED);

    /* The length field says more than is readable, or less than a revision 2 RSDP. */
    put_u32(r + 20, 40);
    r[32] = 0;
    r[32] = (uint8_t)(0x100 - sum8(r, RSDP_V2_LENGTH));
    CHECK_EQ(parse_rsdp(r, sizeof(r), &root, &xsdt), ACPI_ERR_TRUNCATED);
    put_u32(r + 20, 20);
    r[32] = 0;
    r[32] = (uint8_t)(0x100 - sum8(r, RSDP_V2_LENGTH));
    CHECK_EQ(parse_rsdp(r, sizeof(r), &root, &xsdt), ACPI_ERR_TRUNCATED);
}

/* ---- tests: table headers, root tables ---- */

static int validate(const struct table *t, size_t available, const char *sig)
{
    return parse_isolated(PARSE_VALIDATE, t->bytes, available, sig, NULL, 0);
}

TEST(acpi_validate_table_cases)
{
    struct table t;
    build_q35_madt(&t);
    CHECK_EQ(validate(&t, t.len, "APIC"), 0);
    CHECK_EQ(validate(&t, t.len, NULL), 0); /* any signature */
    CHECK_EQ(validate(&t, t.len, "FACP"), ACPI_ERR_SIGNATURE);
    CHECK_EQ(validate(&t, t.len - 1, "APIC"), ACPI_ERR_TRUNCATED); /* the table runs past what is readable */
    CHECK_EQ(validate(&t, SDT_HEADER - 1, "APIC"), ACPI_ERR_TRUNCATED); /* not even a header */

    /* Bytes after the table's length are not part of it. */
    struct table longer = t;
    memset(longer.bytes + t.len, 0x5A, 16);
    CHECK_EQ(validate(&longer, t.len + 16, "APIC"), 0);

    struct table bad = t;
    bad.bytes[t.len - 1] ^= 0x01;
    CHECK_EQ(validate(&bad, bad.len, "APIC"), ACPI_ERR_CHECKSUM);

    /* A length shorter than the header itself, checksum fixed over those bytes. */
    struct table shortlen = t;
    put_u32(shortlen.bytes + 4, 20);
    tb_fix_checksum(&shortlen, 20);
    CHECK_EQ(validate(&shortlen, shortlen.len, "APIC"), ACPI_ERR_TRUNCATED);
    put_u32(shortlen.bytes + 4, 0);
    CHECK_EQ(validate(&shortlen, shortlen.len, "APIC"), ACPI_ERR_TRUNCATED);
}

TEST(acpi_root_entries_xsdt_and_rsdt)
{
    struct table x;
    tb_header(&x, "XSDT", 1);
    tb_u64(&x, 0x07FE1000);
    tb_u64(&x, 0x07FE2000);
    tb_u64(&x, 0x1000003000ull);
    tb_finish(&x);
    uint8_t *copy = exact(x.bytes, x.len);
    uint64_t e[4] = { 0 };
    CHECK_EQ(acpi_root_entries(copy, true, e, 4), 3);
    CHECK_EQ(e[0], 0x07FE1000u);
    CHECK_EQ(e[1], 0x07FE2000u);
    CHECK_EQ(e[2], 0x1000003000ull);
    uint64_t e3[3];
    CHECK_EQ(acpi_root_entries(copy, true, e3, 3), 3); /* exactly max */
    uint64_t e2[2] = { 0, 0 };
    CHECK_EQ(acpi_root_entries(copy, true, e2, 2), ACPI_ERR_TOO_MANY);
    free(copy);

    struct table r;
    tb_header(&r, "RSDT", 1);
    tb_u32(&r, 0x07FE1000);
    tb_u32(&r, 0xFFFFF000);
    tb_finish(&r);
    copy = exact(r.bytes, r.len);
    memset(e, 0xA5, sizeof(e));
    CHECK_EQ(acpi_root_entries(copy, false, e, 4), 2);
    CHECK_EQ(e[0], 0x07FE1000u);
    CHECK_EQ(e[1], 0xFFFFF000u); /* zero-extended, not sign-extended */
    free(copy);

    struct table empty;
    tb_header(&empty, "XSDT", 1);
    tb_finish(&empty);
    copy = exact(empty.bytes, empty.len);
    CHECK_EQ(acpi_root_entries(copy, true, e, 4), 0);
    free(copy);
}

TEST(acpi_root_entries_partial_trailing_entry_ignored)
{
    /* 12 bytes after the header: one whole 8-byte entry and 4 stray bytes,
     * which are not read (the copy is exactly 48 bytes long). */
    struct table x;
    tb_header(&x, "XSDT", 1);
    tb_u64(&x, 0x07FE1000);
    tb_u32(&x, 0x07FE2000);
    tb_finish(&x);
    uint8_t *copy = exact(x.bytes, x.len);
    uint64_t e[4] = { 0 };
    CHECK_EQ(acpi_root_entries(copy, true, e, 4), 1);
    CHECK_EQ(e[0], 0x07FE1000u);
    free(copy);
}

/* ---- tests: MADT ---- */

TEST(acpi_madt_q35)
{
    struct table t;
    build_q35_madt(&t);
    CHECK_EQ(validate(&t, t.len, "APIC"), 0);
    struct madt_info m;
    CHECK_EQ(parse_madt(&t, &m), 0);
    CHECK_EQ(m.lapic_address, 0xFEE00000u);
    CHECK(m.pcat_compat);
    CHECK_EQ(m.cpu_count, 1);
    CHECK_EQ(m.cpu_apic_ids[0], 0);
    CHECK_EQ(m.ioapic_count, 1);
    CHECK_EQ(m.ioapics[0].id, 0);
    CHECK_EQ(m.ioapics[0].address, 0xFEC00000u);
    CHECK_EQ(m.ioapics[0].gsi_base, 0u);
    CHECK_EQ(m.override_count, 5);
    static const struct { uint8_t irq; uint32_t gsi; uint16_t flags; } ov[] = {
        { 0, 2, 0x0000 }, { 5, 5, 0x000D }, { 9, 9, 0x000D }, { 10, 10, 0x000D }, { 11, 11, 0x000D },
    };
    for (int i = 0; i < 5 && i < m.override_count; i++) {
        CHECK_EQ(m.overrides[i].bus, 0);
        CHECK_EQ(m.overrides[i].source_irq, ov[i].irq);
        CHECK_EQ(m.overrides[i].gsi, ov[i].gsi);
        CHECK_EQ(m.overrides[i].flags, ov[i].flags);
    }
    CHECK_EQ(m.nmi_count, 1);
    CHECK_EQ(m.nmis[0].processor_uid, 0xFF);
    CHECK_EQ(m.nmis[0].flags, 0);
    CHECK_EQ(m.nmis[0].lint, 1);
    CHECK_EQ(m.skipped_entries, 0);

    /* FACTS.md: IRQs 5, 9, 10, 11 are level, active high; IRQ 0 conforms (edge, high). */
    struct irq_line_mode mode = isa_line_mode(m.overrides[1].flags);
    CHECK(mode.level_triggered && !mode.active_low);
    mode = isa_line_mode(m.overrides[0].flags);
    CHECK(!mode.level_triggered && !mode.active_low);
}

TEST(acpi_madt_without_pcat_compat)
{
    struct table t;
    madt_begin(&t, 0xFEE00000, 0);
    madt_lapic(&t, 0, 0, LAPIC_ENABLED);
    tb_finish(&t);
    struct madt_info m;
    CHECK_EQ(parse_madt(&t, &m), 0);
    CHECK(!m.pcat_compat);
    CHECK_EQ(m.ioapic_count, 0);
    CHECK_EQ(m.override_count, 0);
}

TEST(acpi_madt_override_active_low)
{
    struct table t;
    madt_begin(&t, 0xFEE00000, PCAT_COMPAT);
    madt_override(&t, 9, 20, 0x0003); /* active low, trigger conforming (edge for ISA) */
    madt_override(&t, 10, 21, 0x000F); /* active low, level */
    tb_finish(&t);
    struct madt_info m;
    CHECK_EQ(parse_madt(&t, &m), 0);
    CHECK_EQ(m.override_count, 2);
    CHECK_EQ(m.overrides[0].source_irq, 9);
    CHECK_EQ(m.overrides[0].gsi, 20u);
    struct irq_line_mode mode = isa_line_mode(m.overrides[0].flags);
    CHECK(mode.active_low);
    CHECK(!mode.level_triggered);
    mode = isa_line_mode(m.overrides[1].flags);
    CHECK(mode.active_low);
    CHECK(mode.level_triggered);
}

TEST(acpi_madt_disabled_cpus_not_counted)
{
    struct table t;
    madt_begin(&t, 0xFEE00000, PCAT_COMPAT);
    madt_lapic(&t, 0, 0, LAPIC_ENABLED);
    madt_lapic(&t, 1, 1, 0);                    /* disabled */
    madt_lapic(&t, 2, 2, LAPIC_ONLINE_CAPABLE); /* not enabled now */
    madt_lapic(&t, 3, 7, LAPIC_ENABLED);
    tb_finish(&t);
    struct madt_info m;
    CHECK_EQ(parse_madt(&t, &m), 0);
    CHECK_EQ(m.cpu_count, 2);
    CHECK_EQ(m.cpu_apic_ids[0], 0);
    CHECK_EQ(m.cpu_apic_ids[1], 7);
}

TEST(acpi_madt_lapic_address_override)
{
    struct table t;
    madt_begin(&t, 0xFEE00000, PCAT_COMPAT);
    madt_lapic(&t, 0, 0, LAPIC_ENABLED);
    madt_lapic_address_override(&t, 0x00000001FEE00000ull);
    madt_ioapic(&t, 0, 0xFEC00000, 0);
    tb_finish(&t);
    struct madt_info m;
    CHECK_EQ(parse_madt(&t, &m), 0);
    CHECK_EQ(m.lapic_address, 0x00000001FEE00000ull);
    CHECK_EQ(m.ioapic_count, 1); /* entries after it still parsed */
    CHECK_EQ(m.skipped_entries, 0);
}

TEST(acpi_madt_unknown_entries_skipped)
{
    struct table t;
    madt_begin(&t, 0xFEE00000, PCAT_COMPAT);
    madt_raw(&t, 3, 8, 0xEE);    /* NMI source */
    madt_lapic(&t, 0, 0, LAPIC_ENABLED);
    madt_raw(&t, 9, 16, 0xEE);   /* processor local x2APIC */
    madt_raw(&t, 0x7F, 2, 0xEE); /* reserved type, bare header */
    madt_ioapic(&t, 2, 0xFEC01000, 24);
    madt_raw(&t, 0xFF, 40, 0xEE);
    tb_finish(&t);
    struct madt_info m;
    CHECK_EQ(parse_madt(&t, &m), 0);
    CHECK_EQ(m.skipped_entries, 4);
    CHECK_EQ(m.cpu_count, 1);
    CHECK_EQ(m.ioapic_count, 1);
    CHECK_EQ(m.ioapics[0].id, 2);
    CHECK_EQ(m.ioapics[0].gsi_base, 24u);
}

TEST(acpi_madt_longer_entries_accepted)
{
    /* A later ACPI revision may grow an entry: the parser steps by its length. */
    struct table t;
    madt_begin(&t, 0xFEE00000, PCAT_COMPAT);
    tb_u8(&t, 0); tb_u8(&t, 16); tb_u8(&t, 0); tb_u8(&t, 3); tb_u32(&t, LAPIC_ENABLED); tb_u64(&t, ~0ull);
    madt_ioapic(&t, 1, 0xFEC00000, 0);
    tb_finish(&t);
    struct madt_info m;
    CHECK_EQ(parse_madt(&t, &m), 0);
    CHECK_EQ(m.cpu_count, 1);
    CHECK_EQ(m.cpu_apic_ids[0], 3);
    CHECK_EQ(m.ioapic_count, 1);
    CHECK_EQ(m.ioapics[0].id, 1);
}

TEST(acpi_madt_bad_entry_lengths)
{
    struct table t;
    struct madt_info m;
    for (uint8_t len = 0; len < 2; len++) {
        /* Length 0 would loop forever, 1 would step into the middle of an entry. */
        madt_begin(&t, 0xFEE00000, PCAT_COMPAT);
        madt_lapic(&t, 0, 0, LAPIC_ENABLED);
        tb_u8(&t, 0x7F);
        tb_u8(&t, len);
        tb_u32(&t, 0);
        tb_finish(&t);
        CHECK_EQ(parse_madt(&t, &m), ACPI_ERR_TRUNCATED);
    }

    /* The last entry says 12 bytes, 8 are left. */
    madt_begin(&t, 0xFEE00000, PCAT_COMPAT);
    madt_lapic(&t, 0, 0, LAPIC_ENABLED);
    tb_u8(&t, 1); tb_u8(&t, 12); tb_u8(&t, 0); tb_u8(&t, 0); tb_u32(&t, 0xFEC00000);
    tb_finish(&t);
    CHECK_EQ(parse_madt(&t, &m), ACPI_ERR_TRUNCATED);

    /* One stray byte at the end: not even an entry header. */
    madt_begin(&t, 0xFEE00000, PCAT_COMPAT);
    madt_lapic(&t, 0, 0, LAPIC_ENABLED);
    tb_u8(&t, 0);
    tb_finish(&t);
    CHECK_EQ(parse_madt(&t, &m), ACPI_ERR_TRUNCATED);

    /* Known types shorter than their fields. */
    static const struct { uint8_t type, len; } short_entries[] = { { 0, 7 }, { 1, 11 }, { 2, 9 }, { 4, 5 }, { 5, 11 } };
    for (size_t i = 0; i < sizeof(short_entries) / sizeof(short_entries[0]); i++) {
        madt_begin(&t, 0xFEE00000, PCAT_COMPAT);
        madt_raw(&t, short_entries[i].type, short_entries[i].len, 0x01);
        tb_finish(&t);
        int rc = parse_madt(&t, &m);
        if (rc != ACPI_ERR_TRUNCATED)
            unit_fail(__FILE__, __LINE__, "type %u length %u: rc %d, expected ACPI_ERR_TRUNCATED",
                      short_entries[i].type, short_entries[i].len, rc);
        else
            unit_pass();
    }

    /* A MADT too short for its LAPIC address and flags. */
    tb_header(&t, "APIC", 3);
    tb_u32(&t, 0xFEE00000);
    tb_finish(&t);
    CHECK_EQ(parse_madt(&t, &m), ACPI_ERR_TRUNCATED);
}

TEST(acpi_madt_empty_entry_list)
{
    struct table t;
    madt_begin(&t, 0xFEE00000, PCAT_COMPAT);
    tb_finish(&t);
    struct madt_info m;
    CHECK_EQ(parse_madt(&t, &m), 0);
    CHECK_EQ(m.cpu_count, 0);
    CHECK_EQ(m.ioapic_count, 0);
    CHECK_EQ(m.skipped_entries, 0);
    CHECK(m.pcat_compat);
}

TEST(acpi_madt_too_many)
{
    struct table t;
    struct madt_info m;

    madt_begin(&t, 0xFEE00000, PCAT_COMPAT);
    for (int i = 0; i < MADT_MAX_IOAPICS; i++)
        madt_ioapic(&t, (uint8_t)i, 0xFEC00000 + 0x1000u * (uint32_t)i, 24u * (uint32_t)i);
    struct table at_limit = t;
    tb_finish(&at_limit);
    CHECK_EQ(parse_madt(&at_limit, &m), 0);
    CHECK_EQ(m.ioapic_count, MADT_MAX_IOAPICS);
    CHECK_EQ(m.ioapics[MADT_MAX_IOAPICS - 1].gsi_base, 24u * (MADT_MAX_IOAPICS - 1));
    madt_ioapic(&t, 99, 0xFED00000, 999);
    tb_finish(&t);
    CHECK_EQ(parse_madt(&t, &m), ACPI_ERR_TOO_MANY);

    madt_begin(&t, 0xFEE00000, PCAT_COMPAT);
    for (int i = 0; i < MADT_MAX_OVERRIDES; i++)
        madt_override(&t, (uint8_t)i, (uint32_t)i, 0x000D);
    at_limit = t;
    tb_finish(&at_limit);
    CHECK_EQ(parse_madt(&at_limit, &m), 0);
    CHECK_EQ(m.override_count, MADT_MAX_OVERRIDES);
    madt_override(&t, 99, 99, 0);
    tb_finish(&t);
    CHECK_EQ(parse_madt(&t, &m), ACPI_ERR_TOO_MANY);

    madt_begin(&t, 0xFEE00000, PCAT_COMPAT);
    for (int i = 0; i <= MADT_MAX_NMIS; i++)
        madt_lapic_nmi(&t, (uint8_t)i, 0, 1);
    tb_finish(&t);
    CHECK_EQ(parse_madt(&t, &m), ACPI_ERR_TOO_MANY);

    /* Enabled CPUs beyond the limit fail; disabled ones never count. */
    madt_begin(&t, 0xFEE00000, PCAT_COMPAT);
    for (int i = 0; i < MADT_MAX_CPUS; i++)
        madt_lapic(&t, (uint8_t)i, (uint8_t)i, LAPIC_ENABLED);
    for (int i = 0; i < 8; i++)
        madt_lapic(&t, (uint8_t)(100 + i), (uint8_t)(100 + i), 0);
    at_limit = t;
    tb_finish(&at_limit);
    CHECK_EQ(parse_madt(&at_limit, &m), 0);
    CHECK_EQ(m.cpu_count, MADT_MAX_CPUS);
    CHECK_EQ(m.cpu_apic_ids[MADT_MAX_CPUS - 1], MADT_MAX_CPUS - 1);
    madt_lapic(&t, 200, 200, LAPIC_ENABLED);
    tb_finish(&t);
    CHECK_EQ(parse_madt(&t, &m), ACPI_ERR_TOO_MANY);
}

/* ---- tests: MCFG ---- */

TEST(acpi_mcfg_q35)
{
    struct table t;
    mcfg_begin(&t);
    mcfg_entry(&t, 0xB0000000, 0, 0, 255);
    tb_finish(&t);
    CHECK_EQ(validate(&t, t.len, "MCFG"), 0);
    struct mcfg_info info;
    CHECK_EQ(parse_mcfg(&t, &info), 0);
    CHECK_EQ(info.count, 1);
    CHECK_EQ(info.entries[0].base, 0xB0000000u);
    CHECK_EQ(info.entries[0].segment, 0);
    CHECK_EQ(info.entries[0].bus_start, 0);
    CHECK_EQ(info.entries[0].bus_end, 255);
}

TEST(acpi_mcfg_several_segments)
{
    struct table t;
    mcfg_begin(&t);
    mcfg_entry(&t, 0xB0000000, 0, 0, 255);
    mcfg_entry(&t, 0x4000000000ull, 1, 0x80, 0x8F);
    tb_finish(&t);
    struct mcfg_info info;
    CHECK_EQ(parse_mcfg(&t, &info), 0);
    CHECK_EQ(info.count, 2);
    CHECK_EQ(info.entries[1].base, 0x4000000000ull);
    CHECK_EQ(info.entries[1].segment, 1);
    CHECK_EQ(info.entries[1].bus_start, 0x80);
    CHECK_EQ(info.entries[1].bus_end, 0x8F);

    mcfg_begin(&t);
    tb_finish(&t);
    CHECK_EQ(parse_mcfg(&t, &info), 0);
    CHECK_EQ(info.count, 0);
}

TEST(acpi_mcfg_partial_entry_and_too_many)
{
    struct table t;
    struct mcfg_info info;
    mcfg_begin(&t);
    mcfg_entry(&t, 0xB0000000, 0, 0, 255);
    tb_u64(&t, 0xC0000000); /* 8 of an entry's 16 bytes */
    tb_finish(&t);
    CHECK_EQ(parse_mcfg(&t, &info), ACPI_ERR_TRUNCATED);

    /* Shorter than the reserved field before the entries. */
    tb_header(&t, "MCFG", 1);
    tb_u32(&t, 0);
    tb_finish(&t);
    CHECK_EQ(parse_mcfg(&t, &info), ACPI_ERR_TRUNCATED);

    mcfg_begin(&t);
    for (int i = 0; i < MCFG_MAX_ENTRIES; i++)
        mcfg_entry(&t, 0xB0000000 + 0x10000000ull * (uint64_t)i, (uint16_t)i, 0, 255);
    struct table at_limit = t;
    tb_finish(&at_limit);
    CHECK_EQ(parse_mcfg(&at_limit, &info), 0);
    CHECK_EQ(info.count, MCFG_MAX_ENTRIES);
    CHECK_EQ(info.entries[MCFG_MAX_ENTRIES - 1].segment, MCFG_MAX_ENTRIES - 1);
    mcfg_entry(&t, 0xF0000000, 99, 0, 255);
    tb_finish(&t);
    CHECK_EQ(parse_mcfg(&t, &info), ACPI_ERR_TOO_MANY);
}

/* ---- tests: FADT ---- */

TEST(acpi_fadt_q35)
{
    struct table t;
    build_q35_fadt(&t);
    CHECK_EQ(validate(&t, t.len, "FACP"), 0);
    struct fadt_info f;
    CHECK_EQ(parse_fadt(&t, &f), 0);
    CHECK_EQ(f.pm_timer_port, 0x608u);
    CHECK(!f.pm_timer_32bit);
    CHECK_EQ(f.sci_interrupt, 9);
    CHECK_EQ(f.boot_arch_flags, 0x0002);
    CHECK(f.reset_supported);
    CHECK_EQ(f.reset_register.space_id, ACPI_GAS_IO);
    CHECK_EQ(f.reset_register.bit_width, 8);
    CHECK_EQ(f.reset_register.address, 0xCF9u);
    CHECK_EQ(f.reset_value, 0x0F);
}

TEST(acpi_fadt_power_button_fields)
{
    struct table t;
    struct fadt_info f;
    build_q35_fadt(&t);
    CHECK_EQ(parse_fadt(&t, &f), 0);
    CHECK_EQ(f.smi_cmd, 0xB2u);
    CHECK_EQ(f.acpi_enable, 0xF1);
    CHECK_EQ(f.pm1a_evt, 0x600);
    CHECK_EQ(f.pm1a_cnt, 0x604);
    CHECK_EQ(f.pm1b_evt, 0);
    CHECK_EQ(f.pm1_evt_len, 4);
    CHECK(!f.power_button_device && !f.hw_reduced && !f.has_sleep_control);

    /* The X_ block wins when it is an I/O port; a 32-bit one past 0xFFFF is none. */
    put_gas(t.bytes + FADT_X_PM1A_EVT_BLK, ACPI_GAS_IO, 32, 2, 0xB000);
    put_u32(t.bytes + FADT_PM1A_CNT_BLK, 0x10004);
    put_u32(t.bytes + FADT_FLAGS, FADT_FLAGS_COMMON | FADT_F_PWR_BUTTON);
    tb_fix_checksum(&t, t.len);
    CHECK_EQ(parse_fadt(&t, &f), 0);
    CHECK_EQ(f.pm1a_evt, 0xB000);
    CHECK_EQ(f.pm1a_cnt, 0);
    CHECK(f.power_button_device);

    /* microvm's: hardware-reduced, no PM1 blocks, a sleep control register. */
    fadt_begin(&t, 5, FADT_LENGTH_V5);
    put_u32(t.bytes + FADT_FLAGS, FADT_F_HW_REDUCED_ACPI);
    put_gas(t.bytes + FADT_SLEEP_CONTROL_REG, ACPI_GAS_MEMORY, 8, 0, 0xFEA00100);
    tb_fix_checksum(&t, t.len);
    CHECK_EQ(parse_fadt(&t, &f), 0);
    CHECK(f.hw_reduced);
    CHECK_EQ(f.pm1a_evt, 0);
    CHECK_EQ(f.pm1a_cnt, 0);
    CHECK(f.has_sleep_control);
    CHECK_EQ(f.sleep_control.space_id, ACPI_GAS_MEMORY);
    CHECK_EQ(f.sleep_control.address, 0xFEA00100u);

    /* A revision-3 FADT ends before the sleep control register. */
    build_q35_fadt(&t);
    CHECK_EQ(parse_fadt(&t, &f), 0);
    CHECK(!f.has_sleep_control);
}

TEST(acpi_fadt_pc)
{
    struct table t;
    build_pc_fadt(&t);
    CHECK_EQ(validate(&t, t.len, "FACP"), 0);
    struct fadt_info f;
    CHECK_EQ(parse_fadt(&t, &f), 0);
    CHECK_EQ(f.pm_timer_port, 0xB008u);
    CHECK(!f.reset_supported);
    CHECK_EQ(f.reset_register.address, 0u);
    CHECK_EQ(f.reset_value, 0);
    CHECK_EQ(f.sci_interrupt, 9);
}

TEST(acpi_fadt_dsdt_address)
{
    /* pc's revision-1 FADT has only the 32-bit DSDT. */
    struct table t;
    struct fadt_info f;
    build_pc_fadt(&t);
    CHECK_EQ(parse_fadt(&t, &f), 0);
    CHECK_EQ(f.dsdt_address, 0u);
    put_u32(t.bytes + FADT_DSDT, 0x07FE0040);
    tb_fix_checksum(&t, t.len);
    CHECK_EQ(parse_fadt(&t, &f), 0);
    CHECK_EQ(f.dsdt_address, 0x07FE0040u);

    /* Revision 3 with both set, as QEMU's microvm writes them: X_DSDT wins; zero falls back. */
    build_q35_fadt(&t);
    put_u32(t.bytes + FADT_DSDT, 0x000EFC80);
    put_u64(t.bytes + FADT_X_DSDT, 0x1000EFC80ull);
    tb_fix_checksum(&t, t.len);
    CHECK_EQ(parse_fadt(&t, &f), 0);
    CHECK_EQ(f.dsdt_address, 0x1000EFC80ull);
    put_u64(t.bytes + FADT_X_DSDT, 0);
    tb_fix_checksum(&t, t.len);
    CHECK_EQ(parse_fadt(&t, &f), 0);
    CHECK_EQ(f.dsdt_address, 0x000EFC80u);
}

TEST(acpi_fadt_reset_flag_without_reset_field)
{
    /* A 116-byte FADT ends where RESET_REG would begin: the flag alone is not enough. */
    struct table t;
    build_pc_fadt(&t);
    put_u32(t.bytes + FADT_FLAGS, FADT_FLAGS_COMMON | FADT_F_RESET_REG_SUP);
    tb_fix_checksum(&t, t.len);
    struct fadt_info f;
    CHECK_EQ(parse_fadt(&t, &f), 0);
    CHECK(!f.reset_supported);
    CHECK_EQ(f.pm_timer_port, 0xB008u);

    /* And a full FADT whose flag is clear: the register is there but not to be used. */
    build_q35_fadt(&t);
    put_u32(t.bytes + FADT_FLAGS, FADT_FLAGS_COMMON);
    tb_fix_checksum(&t, t.len);
    CHECK_EQ(parse_fadt(&t, &f), 0);
    CHECK(!f.reset_supported);
}

TEST(acpi_fadt_timer_32bit_flag)
{
    struct table t;
    build_q35_fadt(&t);
    put_u32(t.bytes + FADT_FLAGS, FADT_FLAGS_COMMON | FADT_F_RESET_REG_SUP | FADT_F_TMR_VAL_EXT);
    tb_fix_checksum(&t, t.len);
    struct fadt_info f;
    CHECK_EQ(parse_fadt(&t, &f), 0);
    CHECK(f.pm_timer_32bit);
}

TEST(acpi_fadt_shorter_than_pm_timer)
{
    struct table t;
    struct fadt_info f;
    fadt_begin(&t, 1, FADT_PM_TMR_BLK + 3); /* the 32-bit field cut by one byte */
    put_u16(t.bytes + FADT_SCI_INT, 9);
    tb_fix_checksum(&t, t.len);
    CHECK_EQ(parse_fadt(&t, &f), ACPI_ERR_TRUNCATED);

    tb_header(&t, "FACP", 1);
    tb_finish(&t);
    CHECK_EQ(parse_fadt(&t, &f), ACPI_ERR_TRUNCATED);

    /* Just long enough: the timer, but no flags. */
    fadt_begin(&t, 1, FADT_PM_TMR_BLK + 4);
    put_u16(t.bytes + FADT_SCI_INT, 9);
    put_u32(t.bytes + FADT_PM_TMR_BLK, 0xB008);
    tb_fix_checksum(&t, t.len);
    CHECK_EQ(parse_fadt(&t, &f), 0);
    CHECK_EQ(f.pm_timer_port, 0xB008u);
    CHECK_EQ(f.sci_interrupt, 9);
    CHECK(!f.reset_supported);
    CHECK(!f.pm_timer_32bit);
}

/* The PM timer port parsed from q35's FADT with X_PM_TMR_BLK set as given
 * (its 32-bit PM_TMR_BLK is 0x608). */
static uint16_t pm_timer_port_with_x(uint8_t space, uint64_t address)
{
    struct table t;
    struct fadt_info f;
    build_q35_fadt(&t);
    put_gas(t.bytes + FADT_X_PM_TMR_BLK, space, 32, 3, address);
    tb_fix_checksum(&t, t.len);
    CHECK_EQ(parse_fadt(&t, &f), 0);
    return f.pm_timer_port;
}

TEST(acpi_fadt_x_pm_timer_block)
{
    struct table t;
    struct fadt_info f;

    /* In I/O space, X_PM_TMR_BLK wins over the 32-bit field. */
    CHECK_EQ(pm_timer_port_with_x(ACPI_GAS_IO, 0x1608), 0x1608u);

    /* A FADT with only the X field (32-bit field zero). */
    build_q35_fadt(&t);
    put_u32(t.bytes + FADT_PM_TMR_BLK, 0);
    put_gas(t.bytes + FADT_X_PM_TMR_BLK, ACPI_GAS_IO, 32, 3, 0x608);
    tb_fix_checksum(&t, t.len);
    CHECK_EQ(parse_fadt(&t, &f), 0);
    CHECK_EQ(f.pm_timer_port, 0x608u);

    /* In memory space it is not a port: the 32-bit field stays. */
    CHECK_EQ(pm_timer_port_with_x(ACPI_GAS_MEMORY, 0xFED00000), 0x608u);

    /* An I/O address past 0xFFFF is no port: the 32-bit field stays (it
     * was taken, and inl() read port 0x1608 for 0x11608). */
    CHECK_EQ(pm_timer_port_with_x(ACPI_GAS_IO, 0x11608), 0x608u);

    /* Nor is a 32-bit PM_TMR_BLK past 0xFFFF (and no X_ field): no timer. */
    build_q35_fadt(&t);
    put_u32(t.bytes + FADT_PM_TMR_BLK, 0x10608);
    put_gas(t.bytes + FADT_X_PM_TMR_BLK, ACPI_GAS_IO, 32, 3, 0);
    tb_fix_checksum(&t, t.len);
    CHECK_EQ(parse_fadt(&t, &f), 0);
    CHECK_EQ(f.pm_timer_port, 0u);

    /* Address zero means absent, whatever the space. */
    CHECK_EQ(pm_timer_port_with_x(ACPI_GAS_IO, 0), 0x608u);

    /* A FADT that ends inside X_PM_TMR_BLK: the field is not read. */
    build_q35_fadt(&t);
    put_gas(t.bytes + FADT_X_PM_TMR_BLK, ACPI_GAS_IO, 32, 3, 0x1608);
    t.len = FADT_X_PM_TMR_BLK + 11;
    put_u32(t.bytes + 4, (uint32_t)t.len);
    tb_fix_checksum(&t, t.len);
    CHECK_EQ(parse_fadt(&t, &f), 0);
    CHECK_EQ(f.pm_timer_port, 0x608u);
}

/* ---- the whole walk: RSDP -> XSDT -> tables, over a fake physical memory ---- */

struct fake_mem {
    uint64_t address;
    const struct table *table;
};

static const struct table *fake_lookup(const struct fake_mem *mem, size_t n, uint64_t address)
{
    for (size_t i = 0; i < n; i++)
        if (mem[i].address == address)
            return mem[i].table;
    return NULL;
}

TEST(acpi_q35_walk_from_rsdp)
{
    static struct table xsdt, madt, mcfg, fadt, hpet; /* static: 4 KiB each */
    build_q35_madt(&madt);
    mcfg_begin(&mcfg);
    mcfg_entry(&mcfg, 0xB0000000, 0, 0, 255);
    tb_finish(&mcfg);
    build_q35_fadt(&fadt);
    tb_header(&hpet, "HPET", 1);
    tb_u32(&hpet, 0x8086A201);
    tb_finish(&hpet);
    tb_header(&xsdt, "XSDT", 1);
    tb_u64(&xsdt, 0x07FE1000);
    tb_u64(&xsdt, 0x07FE2000);
    tb_u64(&xsdt, 0x07FE3000);
    tb_u64(&xsdt, 0x07FE4000);
    tb_finish(&xsdt);
    const struct fake_mem mem[] = {
        { 0x07FE0000, &xsdt }, { 0x07FE1000, &fadt }, { 0x07FE2000, &madt },
        { 0x07FE3000, &hpet }, { 0x07FE4000, &mcfg },
    };
    uint8_t rsdp[RSDP_V2_LENGTH];
    build_rsdp(rsdp, 2, 0x07FD0000, 0x07FE0000);

    uint64_t root;
    bool is_xsdt;
    CHECK_EQ(parse_rsdp(rsdp, sizeof(rsdp), &root, &is_xsdt), 0);
    CHECK(is_xsdt);
    const struct table *rt = fake_lookup(mem, 5, root);
    CHECK(rt == &xsdt);
    if (!rt)
        return;
    CHECK_EQ(validate(rt, rt->len, "XSDT"), 0);
    uint64_t entries[8];
    int n = acpi_root_entries(rt->bytes, is_xsdt, entries, 8);
    CHECK_EQ(n, 4);
    int found = 0;
    for (int i = 0; i < n; i++) {
        const struct table *t = fake_lookup(mem, 5, entries[i]);
        if (!t)
            continue;
        if (validate(t, t->len, "APIC") == 0) {
            struct madt_info m;
            CHECK_EQ(parse_madt(t, &m), 0);
            CHECK_EQ(m.ioapics[0].address, 0xFEC00000u);
            found |= 1;
        } else if (validate(t, t->len, "MCFG") == 0) {
            struct mcfg_info info;
            CHECK_EQ(parse_mcfg(t, &info), 0);
            CHECK_EQ(info.entries[0].base, 0xB0000000u);
            found |= 2;
        } else if (validate(t, t->len, "FACP") == 0) {
            struct fadt_info f;
            CHECK_EQ(parse_fadt(t, &f), 0);
            CHECK_EQ(f.pm_timer_port, 0x608u);
            found |= 4;
        } else {
            CHECK_EQ(validate(t, t->len, NULL), 0); /* HPET: valid, just not one of ours */
            found |= 8;
        }
    }
    CHECK_EQ(found, 15);
}
