#include "arch/x86_64/acpi_aml.h"

#include "lib/string.h"

/* Opcodes (ACPI 6.5, 20.3 and 20.2.5). */
#define AML_ZERO_OP 0x00
#define AML_ONE_OP 0x01
#define AML_ALIAS_OP 0x06
#define AML_NAME_OP 0x08
#define AML_BYTE_PREFIX 0x0A
#define AML_WORD_PREFIX 0x0B
#define AML_DWORD_PREFIX 0x0C
#define AML_STRING_PREFIX 0x0D
#define AML_QWORD_PREFIX 0x0E
#define AML_SCOPE_OP 0x10
#define AML_BUFFER_OP 0x11
#define AML_PACKAGE_OP 0x12
#define AML_VAR_PACKAGE_OP 0x13
#define AML_METHOD_OP 0x14
#define AML_EXTERNAL_OP 0x15
#define AML_EXT_OP_PREFIX 0x5B
#define AML_LOCAL0_OP 0x60
#define AML_LOCAL7_OP 0x67
#define AML_AND_OP 0x7B
#define AML_NOTIFY_OP 0x86
#define AML_LEQUAL_OP 0x93
#define AML_IF_OP 0xA0
#define AML_ELSE_OP 0xA1
#define AML_WHILE_OP 0xA2
#define AML_NOOP_OP 0xA3
#define AML_RETURN_OP 0xA4
#define AML_ONES_OP 0xFF
/* After AML_EXT_OP_PREFIX. */
#define AML_EXT_MUTEX_OP 0x01
#define AML_EXT_EVENT_OP 0x02
#define AML_EXT_REVISION_OP 0x30
#define AML_EXT_OP_REGION_OP 0x80
#define AML_EXT_FIELD_OP 0x81
#define AML_EXT_DEVICE_OP 0x82
#define AML_EXT_PROCESSOR_OP 0x83
#define AML_EXT_POWER_RES_OP 0x84
#define AML_EXT_THERMAL_ZONE_OP 0x85
#define AML_EXT_INDEX_FIELD_OP 0x86
#define AML_EXT_BANK_FIELD_OP 0x87
#define AML_EXT_DATA_REGION_OP 0x88

/* OperationRegion's RegionSpace (19.6.100). */
#define AML_REGION_SYSTEM_MEMORY 0x00

/* Name strings (20.2.2). */
#define AML_ROOT_CHAR '\\'
#define AML_PARENT_PREFIX '^'
#define AML_NULL_NAME 0x00
#define AML_DUAL_NAME_PREFIX 0x2E
#define AML_MULTI_NAME_PREFIX 0x2F
#define AML_NAME_SEG_SIZE 4

/* Resource descriptors (6.4). Small: bit 7 clear, type in bits 6:3, length in 2:0.
 * Large: bit 7 set, type in bits 6:0, then a 16-bit length. */
#define RES_LARGE 0x80
#define RES_SMALL_TYPE(tag) (((tag) >> 3) & 0x0F)
#define RES_SMALL_LENGTH(tag) ((tag) & 0x07)
#define RES_LARGE_TYPE(tag) ((tag) & 0x7F)
#define RES_LARGE_HEADER 3
#define RES_SMALL_IRQ 0x04                /* 6.4.2.1 */
#define RES_SMALL_END_TAG 0x0F            /* 6.4.2.9 */
#define RES_LARGE_MEMORY32 0x05           /* 6.4.3.3 */
#define RES_LARGE_MEMORY32_FIXED 0x06     /* 6.4.3.4 */
#define RES_LARGE_DWORD_ADDRESS 0x07      /* 6.4.3.5.2 */
#define RES_LARGE_WORD_ADDRESS 0x08       /* 6.4.3.5.3 */
#define RES_LARGE_EXTENDED_IRQ 0x09       /* 6.4.3.6 */
#define RES_LARGE_QWORD_ADDRESS 0x0A      /* 6.4.3.5.1 */
#define RES_ADDRESS_MEMORY 0              /* Resource Type byte of an address space descriptor */
#define RES_ADDRESS_BUS 2
#define RES_IRQ_FLAG_EDGE 0x01            /* IRQ byte 3 bit 0 (_HE) */
#define RES_IRQ_FLAG_ACTIVE_LOW 0x08      /* IRQ byte 3 bit 3 (_LL) */
#define RES_EXT_IRQ_FLAG_EDGE 0x02        /* Extended Interrupt byte 3 bit 1 (_HE) */
#define RES_EXT_IRQ_FLAG_ACTIVE_LOW 0x04  /* Extended Interrupt byte 3 bit 2 (_LL) */

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd32(const uint8_t *p) { return (uint32_t)rd16(p) | (uint32_t)rd16(p + 2) << 16; }
static uint64_t rd64(const uint8_t *p) { return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32; }

/* ---- the pieces of the grammar ---- */

/* PkgLength (20.2.4): the lead byte's bits 7:6 count the bytes that follow;
 * the length counts itself. Sets *body and *pkg_end; false when it runs past `end`. */
static bool aml_pkg_length(const uint8_t *p, const uint8_t *end, const uint8_t **body, const uint8_t **pkg_end)
{
    if (p >= end)
        return false;
    size_t follow = p[0] >> 6;
    if ((size_t)(end - p) < 1 + follow)
        return false;
    uint32_t length = follow ? p[0] & 0x0Fu : p[0] & 0x3Fu;
    for (size_t i = 1; i <= follow; i++)
        length |= (uint32_t)p[i] << (4 + 8 * (i - 1));
    if (length < 1 + follow || length > (size_t)(end - p))
        return false;
    *body = p + 1 + follow;
    *pkg_end = p + length;
    return true;
}

static bool aml_lead_name_char(uint8_t c) { return (c >= 'A' && c <= 'Z') || c == '_'; }
static bool aml_name_char(uint8_t c) { return aml_lead_name_char(c) || (c >= '0' && c <= '9'); }

/* NameString (20.2.2): returns the bytes it spans, 0 when malformed. `seg`
 * gets its last NameSeg ("" for the null name); *simple says it is one
 * NameSeg with no prefix (how _HID and _CRS are declared in their Device). */
static size_t aml_name_string(const uint8_t *p, const uint8_t *end, char seg[5], bool *simple)
{
    const uint8_t *s = p;
    bool prefixed = false, one_seg = false;
    if (s < end && *s == AML_ROOT_CHAR) {
        s++;
        prefixed = true;
    } else {
        while (s < end && *s == AML_PARENT_PREFIX) {
            s++;
            prefixed = true;
        }
    }
    if (s >= end)
        return 0;
    size_t segs = 1;
    if (*s == AML_NULL_NAME) {
        segs = 0;
        s++;
    } else if (*s == AML_DUAL_NAME_PREFIX) {
        segs = 2;
        s++;
    } else if (*s == AML_MULTI_NAME_PREFIX) {
        if (end - s < 2 || s[1] == 0)
            return 0;
        segs = s[1];
        s += 2;
    } else {
        one_seg = true;
    }
    if ((size_t)(end - s) < AML_NAME_SEG_SIZE * segs)
        return 0;
    for (size_t i = 0; i < AML_NAME_SEG_SIZE * segs; i++)
        if (!(i % AML_NAME_SEG_SIZE == 0 ? aml_lead_name_char(s[i]) : aml_name_char(s[i])))
            return 0;
    seg[0] = '\0';
    if (segs) {
        memcpy(seg, s + AML_NAME_SEG_SIZE * (segs - 1), AML_NAME_SEG_SIZE);
        seg[AML_NAME_SEG_SIZE] = '\0';
    }
    *simple = !prefixed && one_seg;
    return (size_t)(s - p) + AML_NAME_SEG_SIZE * segs;
}

/* An integer constant (20.2.3: ConstObj or a prefixed Byte/Word/DWord/QWord):
 * the bytes it spans and its value, 0 when it is something else. */
static size_t aml_integer(const uint8_t *p, const uint8_t *end, uint64_t *value)
{
    if (p >= end)
        return 0;
    size_t avail = (size_t)(end - p);
    switch (p[0]) {
    case AML_ZERO_OP: *value = 0; return 1;
    case AML_ONE_OP: *value = 1; return 1;
    case AML_ONES_OP: *value = ~0ULL; return 1;
    case AML_BYTE_PREFIX: if (avail < 2) return 0; *value = p[1]; return 2;
    case AML_WORD_PREFIX: if (avail < 3) return 0; *value = rd16(p + 1); return 3;
    case AML_DWORD_PREFIX: if (avail < 5) return 0; *value = rd32(p + 1); return 5;
    case AML_QWORD_PREFIX: if (avail < 9) return 0; *value = rd64(p + 1); return 9;
    default: return 0;
    }
}

/* A constant DataRefObject (20.2.3): integer, string, buffer, package or
 * Revision. The bytes it spans, 0 when it is not constant or runs past `end`. */
static size_t aml_data_object(const uint8_t *p, const uint8_t *end)
{
    uint64_t ignored;
    size_t n = aml_integer(p, end, &ignored);
    if (n || p >= end)
        return n;
    const uint8_t *body, *pkg_end;
    switch (p[0]) {
    case AML_STRING_PREFIX:
        for (const uint8_t *c = p + 1; c < end; c++)
            if (*c == '\0')
                return (size_t)(c + 1 - p);
        return 0;
    case AML_BUFFER_OP:
    case AML_PACKAGE_OP:
    case AML_VAR_PACKAGE_OP:
        return aml_pkg_length(p + 1, end, &body, &pkg_end) ? (size_t)(pkg_end - p) : 0;
    case AML_EXT_OP_PREFIX:
        return end - p >= 2 && p[1] == AML_EXT_REVISION_OP ? 2 : 0;
    default:
        return 0;
    }
}

/* DefBuffer (20.2.5.4): BufferOp PkgLength BufferSize ByteList. The bytes
 * present, up to BufferSize (the rest of a longer buffer would be zeros). */
static bool aml_buffer(const uint8_t *p, const uint8_t *end, const uint8_t **data, size_t *len)
{
    const uint8_t *body, *pkg_end;
    uint64_t size;
    if (p >= end || p[0] != AML_BUFFER_OP || !aml_pkg_length(p + 1, end, &body, &pkg_end))
        return false;
    size_t n = aml_integer(body, pkg_end, &size);
    if (!n)
        return false;
    *data = body + n;
    size_t present = (size_t)(pkg_end - *data);
    *len = size < present ? (size_t)size : present;
    return true;
}

void acpi_aml_eisa_id(uint32_t value, char out[8])
{
    static const char hex[] = "0123456789ABCDEF";
    /* The first two bytes hold three 5-bit letters, big-endian; the last two, four hex digits. */
    uint16_t vendor = (uint16_t)((value & 0xFF) << 8 | ((value >> 8) & 0xFF));
    out[0] = (char)('@' + ((vendor >> 10) & 0x1F));
    out[1] = (char)('@' + ((vendor >> 5) & 0x1F));
    out[2] = (char)('@' + (vendor & 0x1F));
    out[3] = hex[(value >> 20) & 0xF];
    out[4] = hex[(value >> 16) & 0xF];
    out[5] = hex[(value >> 28) & 0xF];
    out[6] = hex[(value >> 24) & 0xF];
    out[7] = '\0';
}

/* ---- resource templates ---- */

static void aml_take_interrupt(struct acpi_aml_device *dev, uint32_t gsi, bool level, bool active_low)
{
    if (dev->has_interrupt)
        return;
    dev->has_interrupt = true;
    dev->gsi = gsi;
    dev->line = (struct irq_line_mode){ .level_triggered = level, .active_low = active_low };
}

static void aml_take_memory(struct acpi_aml_device *dev, uint64_t base, uint64_t length)
{
    if (dev->has_memory)
        return;
    dev->has_memory = true;
    dev->memory_base = base;
    dev->memory_length = length;
}

static void aml_small_descriptor(struct acpi_aml_device *dev, uint8_t type, const uint8_t *d, size_t n)
{
    if (type != RES_SMALL_IRQ || (n != 2 && n != 3))
        return;
    uint16_t mask = rd16(d);
    if (!mask)
        return;
    /* Without the flags byte the IRQ is edge-triggered, active high (6.4.2.1). */
    uint8_t flags = n == 3 ? d[2] : RES_IRQ_FLAG_EDGE;
    aml_take_interrupt(dev, (uint32_t)__builtin_ctz(mask), !(flags & RES_IRQ_FLAG_EDGE),
                       flags & RES_IRQ_FLAG_ACTIVE_LOW);
}

/* Word, DWord and QWord address space descriptors share one layout: Resource
 * Type, two flag bytes, then granularity, minimum, maximum, translation
 * offset and length, each `width` bytes. Only the bus range and the first
 * memory window below 4 GiB are kept; translated windows are not (x86 has none). */
static void aml_address_descriptor(struct acpi_aml_device *dev, const uint8_t *d, size_t n, size_t width)
{
    if (n < 3 + 5 * width)
        return;
    uint64_t v[5];
    for (size_t i = 0; i < 5; i++) {
        const uint8_t *f = d + 3 + i * width;
        v[i] = width == 2 ? rd16(f) : width == 4 ? rd32(f) : rd64(f);
    }
    uint64_t min = v[1], max = v[2], translation = v[3], length = v[4];
    if (!length || max < min || max - min != length - 1 || translation)
        return;
    if (d[0] == RES_ADDRESS_BUS && !dev->has_bus_range && max <= 0xFF) {
        dev->has_bus_range = true;
        dev->bus_start = (uint8_t)min;
        dev->bus_end = (uint8_t)max;
    } else if (d[0] == RES_ADDRESS_MEMORY && !dev->has_window32 && max <= 0xFFFFFFFFu) {
        dev->has_window32 = true;
        dev->window32_base = min;
        dev->window32_length = length;
    }
}

static void aml_large_descriptor(struct acpi_aml_device *dev, uint8_t type, const uint8_t *d, size_t n)
{
    switch (type) {
    case RES_LARGE_WORD_ADDRESS:
        aml_address_descriptor(dev, d, n, 2);
        break;
    case RES_LARGE_DWORD_ADDRESS:
        aml_address_descriptor(dev, d, n, 4);
        break;
    case RES_LARGE_QWORD_ADDRESS:
        aml_address_descriptor(dev, d, n, 8);
        break;
    case RES_LARGE_MEMORY32_FIXED: /* information, base, length */
        if (n >= 9)
            aml_take_memory(dev, rd32(d + 1), rd32(d + 5));
        break;
    case RES_LARGE_MEMORY32: /* information, minimum, maximum, alignment, length */
        if (n >= 17)
            aml_take_memory(dev, rd32(d + 1), rd32(d + 13));
        break;
    case RES_LARGE_EXTENDED_IRQ: /* flags, count, count x 32-bit interrupt numbers */
        if (n >= 6 && d[1] >= 1 && n >= 2 + 4 * (size_t)d[1])
            aml_take_interrupt(dev, rd32(d + 2), !(d[0] & RES_EXT_IRQ_FLAG_EDGE), d[0] & RES_EXT_IRQ_FLAG_ACTIVE_LOW);
        break;
    default:
        break;
    }
}

bool acpi_aml_parse_resources(const uint8_t *buf, size_t len, struct acpi_aml_device *dev)
{
    dev->has_memory = dev->has_interrupt = dev->crs_ok = dev->has_bus_range = dev->has_window32 = false;
    size_t off = 0;
    while (off < len) {
        uint8_t tag = buf[off];
        if (!(tag & RES_LARGE)) {
            size_t n = RES_SMALL_LENGTH(tag);
            if (len - off < 1 + n)
                break;
            if (RES_SMALL_TYPE(tag) == RES_SMALL_END_TAG) {
                dev->crs_ok = true;
                return true;
            }
            aml_small_descriptor(dev, RES_SMALL_TYPE(tag), buf + off + 1, n);
            off += 1 + n;
        } else {
            if (len - off < RES_LARGE_HEADER)
                break;
            size_t n = rd16(buf + off + 1);
            if (len - off - RES_LARGE_HEADER < n)
                break;
            aml_large_descriptor(dev, RES_LARGE_TYPE(tag), buf + off + RES_LARGE_HEADER, n);
            off += RES_LARGE_HEADER + n;
        }
    }
    /* No end tag inside the buffer: nothing read from it is trusted. */
    dev->has_memory = dev->has_interrupt = dev->has_bus_range = dev->has_window32 = false;
    return false;
}

/* ---- the walk ---- */

struct aml_walk {
    const char *hid;
    struct acpi_aml_device *out;
    int max;
    struct acpi_aml_scan *scan;
};

/* What the terms of one Device body said about it. */
struct aml_device_terms {
    bool hid_matches;
    bool has_crs;
    const uint8_t *crs;
    size_t crs_len;
    bool has_region;
    uint64_t region_base, region_length;
    uint32_t evt_mask;
    char evt_name[5];
    bool has_cba;
    uint64_t cba;
    const uint8_t *prt;
    size_t prt_len;
};

static void aml_term_list(struct aml_walk *w, const uint8_t *p, const uint8_t *end, int depth,
                          struct aml_device_terms *device);

static bool aml_hid_matches(const struct aml_walk *w, const uint8_t *data, const uint8_t *end)
{
    if (data[0] == AML_STRING_PREFIX) {
        size_t n = strlen(w->hid);
        return n < ACPI_AML_HID_MAX && (size_t)(end - data) > n + 1 && memcmp(data + 1, w->hid, n) == 0 &&
               data[1 + n] == '\0';
    }
    uint64_t value;
    if (data[0] == AML_DWORD_PREFIX && aml_integer(data, end, &value)) {
        char eisa[8];
        acpi_aml_eisa_id((uint32_t)value, eisa);
        return strcmp(eisa, w->hid) == 0;
    }
    return false;
}

/* _S5_'s Package (7.4.2): NumElements, then SLP_TYPa and SLP_TYPb as integers. */
static void aml_sleep_package(struct aml_walk *w, const uint8_t *p, const uint8_t *end)
{
    const uint8_t *body, *pkg_end;
    uint64_t a, b;
    if (p[0] != AML_PACKAGE_OP || !aml_pkg_length(p + 1, end, &body, &pkg_end) || pkg_end - body < 2 || body[0] < 2)
        return;
    size_t n = aml_integer(body + 1, pkg_end, &a);
    if (!n || !aml_integer(body + 1 + n, pkg_end, &b))
        return;
    w->scan->has_s5 = true;
    w->scan->s5_slp_typ_a = (uint8_t)(a & 7);
    w->scan->s5_slp_typ_b = (uint8_t)(b & 7);
}

/* Name(NameString, DataRefObject): inside a Device, _HID and _CRS are noted;
 * outside, _S5_. */
static size_t aml_name_term(struct aml_walk *w, const uint8_t *p, const uint8_t *end, struct aml_device_terms *device)
{
    char seg[5];
    bool simple;
    size_t name = aml_name_string(p + 1, end, seg, &simple);
    if (!name)
        return 0;
    const uint8_t *data = p + 1 + name;
    size_t n = aml_data_object(data, end);
    if (!n)
        return 0;
    if (device && simple && strcmp(seg, "_HID") == 0)
        device->hid_matches = aml_hid_matches(w, data, data + n);
    if (device && simple && strcmp(seg, "_CRS") == 0)
        device->has_crs = aml_buffer(data, data + n, &device->crs, &device->crs_len);
    if (device && simple && strcmp(seg, "_PRT") == 0) {
        device->prt = data;
        device->prt_len = n;
    }
    if (device && simple && strcmp(seg, "_CBA") == 0)
        device->has_cba = aml_integer(data, data + n, &device->cba) == n;
    if (!device && strcmp(seg, "_S5_") == 0)
        aml_sleep_package(w, data, data + n);
    return 1 + name + n;
}

static void aml_store_device(struct aml_walk *w, const char seg[5], const struct aml_device_terms *terms)
{
    if (w->scan->found++ >= w->max)
        return;
    struct acpi_aml_device *dev = &w->out[w->scan->found - 1];
    memset(dev, 0, sizeof(*dev));
    memcpy(dev->name, seg, sizeof(dev->name));
    if (terms->has_crs)
        acpi_aml_parse_resources(terms->crs, terms->crs_len, dev);
    dev->has_region = terms->has_region;
    dev->region_base = terms->region_base;
    dev->region_length = terms->region_length;
    dev->evt_notify_mask = terms->evt_mask;
    memcpy(dev->evt_notify_name, terms->evt_name, sizeof(dev->evt_notify_name));
    dev->has_cba = terms->has_cba;
    dev->cba = terms->cba;
    dev->prt = terms->prt;
    dev->prt_len = terms->prt_len;
}

/* Each entry: Package { Address (slot << 16 | 0xFFFF), Pin, Source, Source Index }. */
bool acpi_aml_prt_route(const uint8_t *prt, size_t len, uint8_t slot, uint8_t pin, char source[5], uint32_t *gsi)
{
    const uint8_t *end = prt + len, *q, *pkg_end;
    uint64_t count = 0;
    if (!len || (prt[0] != AML_PACKAGE_OP && prt[0] != AML_VAR_PACKAGE_OP) ||
        !aml_pkg_length(prt + 1, end, &q, &pkg_end) || q >= pkg_end)
        return false;
    size_t n = prt[0] == AML_PACKAGE_OP ? (count = *q, 1) : aml_integer(q, pkg_end, &count);
    for (q += n; n && count-- && q < pkg_end;) {
        const uint8_t *e, *e_end;
        uint64_t address, entry_pin, index;
        bool simple;
        if (*q != AML_PACKAGE_OP || !aml_pkg_length(q + 1, pkg_end, &e, &e_end) || e >= e_end)
            return false;
        q = e_end;
        size_t a = aml_integer(++e, e_end, &address); /* after NumElements */
        size_t b = a ? aml_integer(e + a, e_end, &entry_pin) : 0;
        if (!b || address != ((uint64_t)slot << 16 | 0xFFFF) || entry_pin != pin)
            continue;
        e += a + b;
        size_t c = aml_name_string(e, e_end, source, &simple); /* ZeroOp reads as the null name */
        if (!c || !aml_integer(e + c, e_end, &index) || index > 0xFFFFFFFFu)
            return false;
        *gsi = (uint32_t)index;
        return true;
    }
    return false;
}

/* Scope or Device: PkgLength NameString TermList. */
static size_t aml_named_package(struct aml_walk *w, const uint8_t *p, const uint8_t *end, size_t opcode_len,
                                int depth, bool is_device)
{
    const uint8_t *body, *pkg_end;
    char seg[5];
    bool simple;
    if (!aml_pkg_length(p + opcode_len, end, &body, &pkg_end))
        return 0;
    size_t name = aml_name_string(body, pkg_end, seg, &simple);
    if (!name)
        return 0;
    if (!is_device) {
        aml_term_list(w, body + name, pkg_end, depth + 1, NULL);
    } else {
        struct aml_device_terms terms = { 0 };
        aml_term_list(w, body + name, pkg_end, depth + 1, &terms);
        if (terms.hid_matches)
            aml_store_device(w, seg, &terms);
    }
    return (size_t)(pkg_end - p);
}

/* The bytes an opcode with a PkgLength spans (Method, If, Field, ...), 0 when it runs past `end`. */
static size_t aml_skip_package(const uint8_t *p, const uint8_t *end, size_t opcode_len)
{
    const uint8_t *body, *pkg_end;
    return aml_pkg_length(p + opcode_len, end, &body, &pkg_end) ? (size_t)(pkg_end - p) : 0;
}

/* NameString, then `bytes` plain bytes, then `operands` constant TermArgs (OperationRegion,
 * DataRegion, Mutex, Event, External). 0 when an operand is not constant data. */
static size_t aml_skip_named(const uint8_t *p, const uint8_t *end, size_t opcode_len, int bytes, int operands)
{
    char seg[5];
    bool simple;
    size_t n = opcode_len;
    size_t name = aml_name_string(p + n, end, seg, &simple);
    if (!name)
        return 0;
    n += name;
    if ((size_t)(end - p) - n < (size_t)bytes)
        return 0;
    n += (size_t)bytes;
    for (int i = 0; i < operands; i++) {
        size_t k = aml_data_object(p + n, end);
        if (!k)
            return 0;
        n += k;
    }
    return n;
}

/* OperationRegion(NameString, RegionSpace, RegionOffset, RegionLen) in a
 * Device: the first in SystemMemory whose offset and length are integers. */
static void aml_note_region(const uint8_t *p, const uint8_t *end, struct aml_device_terms *device)
{
    char seg[5];
    bool simple;
    uint64_t base, length;
    size_t name = aml_name_string(p + 2, end, seg, &simple);
    const uint8_t *q = p + 2 + name;
    if (device->has_region || !name || q >= end || *q != AML_REGION_SYSTEM_MEMORY)
        return;
    size_t n = aml_integer(q + 1, end, &base);
    if (!n || !aml_integer(q + 1 + n, end, &length))
        return;
    device->has_region = true;
    device->region_base = base;
    device->region_length = length;
}

/* An operand as a GED's _EVT writes them: a Local, an integer (ZeroOp is
 * also the null target) or a name. The bytes it spans, 0 for anything else. */
static size_t aml_simple_operand(const uint8_t *p, const uint8_t *end)
{
    uint64_t value;
    char seg[5];
    bool simple;
    if (p >= end)
        return 0;
    if (*p >= AML_LOCAL0_OP && *p <= AML_LOCAL7_OP)
        return 1;
    size_t n = aml_integer(p, end, &value);
    return n ? n : aml_name_string(p, end, seg, &simple);
}

/* If (LEqual (X, K)) { Notify (Name, 0x80) ... }, X an operand or
 * And (operand, operand, target): the event bit K and Name's last NameSeg.
 * QEMU's GED writes If (LEqual (And (Local0, 2, Zero), 2)); others store the
 * And in a Local first. False for any other shape. */
static bool aml_notify_if(const uint8_t *p, const uint8_t *end, uint64_t *mask, char name[5])
{
    const uint8_t *q, *pkg_end;
    if (p[0] != AML_IF_OP || !aml_pkg_length(p + 1, end, &q, &pkg_end) || q >= pkg_end || *q++ != AML_LEQUAL_OP)
        return false;
    int operands = q < pkg_end && *q == AML_AND_OP ? 3 : 1;
    q += operands == 3;
    for (int i = 0; i < operands; i++) {
        size_t n = aml_simple_operand(q, pkg_end);
        if (!n)
            return false;
        q += n;
    }
    size_t n = aml_integer(q, pkg_end, mask);
    if (!n || q + n >= pkg_end || q[n] != AML_NOTIFY_OP)
        return false;
    q += n + 1;
    bool simple;
    uint64_t value;
    n = aml_name_string(q, pkg_end, name, &simple);
    return n && name[0] && aml_integer(q + n, pkg_end, &value) && value == 0x80;
}

/* Method(_CBA) { Return (K) }: K, QEMU's GPEX way of giving the ECAM base. */
static void aml_note_cba(const uint8_t *q, const uint8_t *pkg_end, struct aml_device_terms *device)
{
    if (q < pkg_end && *q == AML_RETURN_OP) {
        size_t n = aml_integer(q + 1, pkg_end, &device->cba);
        device->has_cba = n && q + 1 + n == pkg_end;
    }
}

/* A Method in a Device, read without running it. _EVT: the first If that
 * notifies a device with 0x80 ("button pressed" for a power button, 5.6.6)
 * on one event bit. _CBA: its constant. */
static void aml_note_method(const uint8_t *p, const uint8_t *end, struct aml_device_terms *device)
{
    const uint8_t *body, *pkg_end;
    char seg[5];
    bool simple;
    if (!aml_pkg_length(p + 1, end, &body, &pkg_end))
        return;
    size_t name = aml_name_string(body, pkg_end, seg, &simple);
    if (!name || !simple || body + name >= pkg_end)
        return;
    if (strcmp(seg, "_CBA") == 0)
        aml_note_cba(body + name + 1, pkg_end, device);
    if (device->evt_mask || strcmp(seg, "_EVT") != 0)
        return;
    for (const uint8_t *q = body + name + 1; q < pkg_end; q++) { /* after MethodFlags */
        uint64_t mask;
        char target[5];
        if (*q == AML_IF_OP && aml_notify_if(q, pkg_end, &mask, target) && mask && mask <= 0x80000000u &&
            !(mask & (mask - 1))) {
            device->evt_mask = (uint32_t)mask;
            memcpy(device->evt_name, target, sizeof(device->evt_name));
            return;
        }
    }
}

/* What aml_term says when it cannot go on: an opcode it cannot size, or a
 * term whose shape it knows running past its container. */
#define AML_TERM_UNKNOWN 0
#define AML_TERM_MALFORMED (-1)

/* The span of a term whose shape is known: 0 from its parser means malformed. */
static long aml_known(size_t n) { return n ? (long)n : AML_TERM_MALFORMED; }

/* One term: the bytes it spans, or AML_TERM_UNKNOWN / AML_TERM_MALFORMED to leave this term list. */
static long aml_term(struct aml_walk *w, const uint8_t *p, const uint8_t *end, int depth,
                     struct aml_device_terms *device)
{
    char seg[5];
    bool simple;
    switch (p[0]) {
    case AML_SCOPE_OP:
        return aml_known(aml_named_package(w, p, end, 1, depth, false));
    case AML_NAME_OP:
        return aml_known(aml_name_term(w, p, end, device));
    case AML_METHOD_OP:
        if (device)
            aml_note_method(p, end, device);
        return aml_known(aml_skip_package(p, end, 1));
    case AML_IF_OP:
    case AML_ELSE_OP:
    case AML_WHILE_OP:
        return aml_known(aml_skip_package(p, end, 1));
    case AML_NOOP_OP:
        return 1;
    case AML_ALIAS_OP: {
        size_t a = aml_name_string(p + 1, end, seg, &simple);
        size_t b = a ? aml_name_string(p + 1 + a, end, seg, &simple) : 0;
        return aml_known(b ? 1 + a + b : 0);
    }
    case AML_EXTERNAL_OP: /* ObjectType, ArgumentCount */
        return aml_known(aml_skip_named(p, end, 1, 2, 0));
    case AML_EXT_OP_PREFIX:
        if (end - p < 2)
            return AML_TERM_MALFORMED;
        switch (p[1]) {
        case AML_EXT_DEVICE_OP:
            return aml_known(aml_named_package(w, p, end, 2, depth, true));
        case AML_EXT_FIELD_OP:
        case AML_EXT_INDEX_FIELD_OP:
        case AML_EXT_BANK_FIELD_OP:
        case AML_EXT_PROCESSOR_OP:
        case AML_EXT_POWER_RES_OP:
        case AML_EXT_THERMAL_ZONE_OP:
            return aml_known(aml_skip_package(p, end, 2));
        /* Operands that may be expressions: when they are not constant, the term cannot be sized. */
        case AML_EXT_OP_REGION_OP: /* RegionSpace, RegionOffset, RegionLen */
            if (device)
                aml_note_region(p, end, device);
            return (long)aml_skip_named(p, end, 2, 1, 2);
        case AML_EXT_DATA_REGION_OP: /* signature, OEM id, OEM table id */
            return (long)aml_skip_named(p, end, 2, 0, 3);
        case AML_EXT_MUTEX_OP: /* SyncFlags */
            return (long)aml_skip_named(p, end, 2, 1, 0);
        case AML_EXT_EVENT_OP:
            return (long)aml_skip_named(p, end, 2, 0, 0);
        default:
            return AML_TERM_UNKNOWN;
        }
    default:
        return AML_TERM_UNKNOWN;
    }
}

static void aml_term_list(struct aml_walk *w, const uint8_t *p, const uint8_t *end, int depth,
                          struct aml_device_terms *device)
{
    if (depth > ACPI_AML_NESTING_MAX) {
        w->scan->malformed++;
        return;
    }
    while (p < end) {
        long n = aml_term(w, p, end, depth, device);
        if (n == AML_TERM_MALFORMED)
            w->scan->malformed++;
        if (n == AML_TERM_UNKNOWN)
            w->scan->unparsed++;
        if (n <= 0)
            return;
        p += n;
    }
}

void acpi_aml_find_devices(const uint8_t *aml, size_t len, const char *hid, struct acpi_aml_device *out, int max,
                           struct acpi_aml_scan *scan)
{
    memset(scan, 0, sizeof(*scan));
    struct aml_walk w = { hid, out, max < 0 ? 0 : max, scan };
    aml_term_list(&w, aml, aml + len, 0, NULL);
}
