#include "boot/cmdline.h"

#include <stdarg.h>
#include <stddef.h>

#include "lib/printf.h"
#include "lib/string.h"

#define KEY_MAX 32

static const char *const log_names[] = {
    [LOG_VERBOSITY_QUIET] = "quiet", [LOG_VERBOSITY_INFO] = "info", [LOG_VERBOSITY_DEBUG] = "debug",
};

void kernel_options_defaults(struct kernel_options *opts)
{
    *opts = (struct kernel_options){
        .ip_mode = IP_MODE_DHCP,
        .ip_prefix = IP_PREFIX_DEFAULT,
        .irq_mode = IRQ_MODE_AUTO,
        .budget = BUDGET_DEFAULT,
        .log = LOG_VERBOSITY_INFO,
        .virtio_indirect = true,
        .virtio_event_idx = true,
        .virtio_packed = true,
        .virtio_ctrl = true,
        .pci = true,
    };
}

#define UNKNOWN_KEYS_REMEMBERED 16

struct parser {
    cmdline_report_fn report;
    void *ctx;
    int problems;
    /* Unknown keys already reported, so each is reported once. */
    char unknown[UNKNOWN_KEYS_REMEMBERED][KEY_MAX];
    int unknown_count;
};

__attribute__((format(printf, 2, 3))) static void problem(struct parser *p, const char *fmt, ...)
{
    char msg[192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    p->problems++;
    if (p->report)
        p->report(msg, p->ctx);
}

/* Parses a decimal number made only of digits, at most `max`; returns 0 or -1. */
static int parse_decimal(const char *s, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    if (!*s)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        v = v * 10 + (uint64_t)(*s - '0');
        if (v > max)
            return -1;
    }
    *out = v;
    return 0;
}

/* A number at the start of `s`, in `base`, or with base 0 as C writes it:
 * 0x hex, a leading 0 octal, else decimal (Linux's simple_strtoull). Sets
 * *end past it; -1 without a digit or on overflow. */
static int parse_number_prefix(const char *s, unsigned base, const char **end, uint64_t *out)
{
    if (base == 0 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
    } else if (base == 0) {
        base = s[0] == '0' ? 8 : 10;
    }
    uint64_t v = 0;
    const char *start = s;
    for (;; s++) {
        unsigned digit;
        if (*s >= '0' && *s <= '9')
            digit = (unsigned)(*s - '0');
        else if (*s >= 'a' && *s <= 'f')
            digit = (unsigned)(*s - 'a' + 10);
        else if (*s >= 'A' && *s <= 'F')
            digit = (unsigned)(*s - 'A' + 10);
        else
            break;
        if (digit >= base)
            break;
        if (v > (UINT64_MAX - digit) / base)
            return -1;
        v = v * base + digit;
    }
    if (s == start)
        return -1;
    *end = s;
    *out = v;
    return 0;
}

int parse_virtio_mmio_device(const char *s, struct virtio_mmio_window *window)
{
    uint64_t size, base, irq, id;
    if (parse_number_prefix(s, 0, &s, &size) < 0)
        return -1;
    /* memparse's suffixes, as Linux reads SIZE. */
    unsigned shift = 0;
    if (*s == 'K' || *s == 'k')
        shift = 10;
    else if (*s == 'M' || *s == 'm')
        shift = 20;
    else if (*s == 'G' || *s == 'g')
        shift = 30;
    if (shift) {
        if (size > (UINT64_MAX >> shift))
            return -1;
        size <<= shift;
        s++;
    }
    if (*s++ != '@' || parse_number_prefix(s, 0, &s, &base) < 0 || *s++ != ':')
        return -1;
    /* IRQ and ID are decimal (Linux reads them with %u and %d); the ID names nothing here. */
    if (parse_number_prefix(s, 10, &s, &irq) < 0 || irq > UINT32_MAX)
        return -1;
    if (*s == ':' && parse_number_prefix(s + 1, 10, &s, &id) < 0)
        return -1;
    if (*s || size == 0 || base == 0 || base + size < base)
        return -1;
    *window = (struct virtio_mmio_window){ .base = base, .size = size, .gsi = (uint32_t)irq,
                                           .line = VIRTIO_MMIO_CMDLINE_LINE };
    return 0;
}

static void add_virtio_mmio_device(struct parser *p, struct kernel_options *o, const char *v)
{
    struct virtio_mmio_window w;
    if (parse_virtio_mmio_device(v, &w) < 0) {
        problem(p, "virtio_mmio.device=%s is not SIZE@BASE:IRQ[:ID], ignored", v);
        return;
    }
    for (int i = 0; i < o->mmio_count; i++) {
        if (o->mmio[i].base == w.base) {
            problem(p, "virtio_mmio.device=%s: the window at 0x%llx is already given, ignored", v,
                    (unsigned long long)w.base);
            return;
        }
    }
    if (o->mmio_count == VIRTIO_MMIO_WINDOWS_MAX) {
        problem(p, "virtio_mmio.device=%s: more than %d devices, ignored", v, VIRTIO_MMIO_WINDOWS_MAX);
        return;
    }
    o->mmio[o->mmio_count++] = w;
}

int parse_ipv4(const char *s, uint32_t *addr)
{
    uint32_t result = 0;
    for (int octet = 0; octet < 4; octet++) {
        char part[4];
        size_t n = 0;
        while (s[n] >= '0' && s[n] <= '9' && n < 3) {
            part[n] = s[n];
            n++;
        }
        part[n] = '\0';
        uint64_t v;
        if (n == 0 || parse_decimal(part, 255, &v) < 0)
            return -1;
        result = (result << 8) | (uint32_t)v;
        s += n;
        if (octet < 3 && *s++ != '.')
            return -1;
    }
    if (*s)
        return -1;
    *addr = result;
    return 0;
}

static void strncpy_bounded(char *dst, const char *src, size_t size)
{
    size_t n = strnlen(src, size - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* Looks `value` up in `names`; returns its index or -1. */
static int match_name(const char *value, const char *const *names, int count)
{
    for (int i = 0; i < count; i++)
        if (strcmp(value, names[i]) == 0)
            return i;
    return -1;
}

/* The prefix length of a contiguous netmask; -1 if it has holes. */
static int netmask_prefix(uint32_t mask)
{
    int n = 0;
    while (n < 32 && (mask & (0x80000000u >> n)))
        n++;
    return n < 32 && (mask << n) ? -1 : n;
}

/* Field i (from 0) of a ':'-separated list: *len bytes at the result, or NULL past the end. */
static const char *colon_field(const char *s, int i, size_t *len)
{
    for (; i > 0; i--) {
        s = strchr(s, ':');
        if (!s)
            return NULL;
        s++;
    }
    const char *end = strchr(s, ':');
    *len = end ? (size_t)(end - s) : strlen(s);
    return s;
}

/* Field i as an address; true if it is empty (*present false) or one. */
static bool colon_address(const char *s, int i, bool *present, uint32_t *addr)
{
    size_t len = 0;
    const char *f = colon_field(s, i, &len);
    char buf[16];
    *present = f && len;
    if (!*present)
        return true;
    if (len >= sizeof(buf))
        return false;
    memcpy(buf, f, len);
    buf[len] = '\0';
    return parse_ipv4(buf, addr) == 0;
}

/* Linux's ip=CLIENT:SERVER:GW:NETMASK:HOSTNAME:DEVICE:AUTOCONF[:DNS0:DNS1:NTP0]
 * (Documentation/admin-guide/nfs/nfsroot.rst), the form Firecracker's and
 * many microVM guides pass. As Linux does, a client address makes it static
 * whatever AUTOCONF says, and an empty netmask means the address's class;
 * SERVER, HOSTNAME, DEVICE (the first NIC is the one configured) and the
 * name and time servers name nothing here. False on a field it cannot use. */
static bool parse_ip_linux(struct parser *p, struct kernel_options *o, const char *v)
{
    enum { CLIENT = 0, GW = 2, NETMASK = 3, AUTOCONF = 6 };
    bool has_client, has_gw, has_mask;
    uint32_t client = 0, gw = 0, mask = 0;
    if (!colon_address(v, CLIENT, &has_client, &client) || !colon_address(v, GW, &has_gw, &gw) ||
        !colon_address(v, NETMASK, &has_mask, &mask))
        return false;
    if (!has_client) {
        size_t len = 0;
        const char *a = colon_field(v, AUTOCONF, &len);
        if (a && ((len == 3 && memcmp(a, "off", 3) == 0) || (len == 4 && memcmp(a, "none", 4) == 0)))
            problem(p, "ip=%s: no client address and autoconfiguration off, using dhcp", v);
        o->ip_mode = IP_MODE_DHCP;
        return true;
    }
    int prefix = client < 0x80000000u ? 8 : client < 0xC0000000u ? 16 : 24;
    if (has_mask && (prefix = netmask_prefix(mask)) < 0)
        return false;
    o->ip_mode = IP_MODE_STATIC;
    o->ip_addr = client;
    o->ip_prefix = (uint8_t)prefix;
    if (has_gw) {
        o->gw_addr = gw;
        o->gw_set = true;
    }
    return true;
}

static void parse_ip(struct parser *p, struct kernel_options *o, const char *v)
{
    /* on and any are Linux's words for dhcp. */
    if (strcmp(v, "dhcp") == 0 || strcmp(v, "on") == 0 || strcmp(v, "any") == 0) {
        o->ip_mode = IP_MODE_DHCP;
        return;
    }
    if (strchr(v, ':')) {
        if (!parse_ip_linux(p, o, v)) {
            problem(p, "ip=%s is not CLIENT:SERVER:GW:NETMASK:HOSTNAME:DEVICE:AUTOCONF, using dhcp", v);
            o->ip_mode = IP_MODE_DHCP;
        }
        return;
    }
    char addr[CMDLINE_VALUE_MAX];
    const char *slash = strchr(v, '/');
    size_t len = slash ? (size_t)(slash - v) : strlen(v);
    if (len >= sizeof(addr))
        len = sizeof(addr) - 1; /* too long for an address: parse_ipv4 refuses it */
    memcpy(addr, v, len);
    addr[len] = '\0';
    uint32_t ip;
    uint64_t prefix = IP_PREFIX_DEFAULT;
    if (parse_ipv4(addr, &ip) < 0 || (slash && parse_decimal(slash + 1, 32, &prefix) < 0)) {
        problem(p, "ip=%s is not dhcp or A.B.C.D/N, using dhcp", v);
        o->ip_mode = IP_MODE_DHCP;
        return;
    }
    o->ip_mode = IP_MODE_STATIC;
    o->ip_addr = ip;
    o->ip_prefix = (uint8_t)prefix;
}

/* Linux's reboot=[mode][,type][,force]: each comma-separated word is known by
 * its first letter. The type picks the way tried first (the last type given
 * wins, as in Linux); the modes (warm, cold, hard, soft, gpio), force and an
 * smp CPU change nothing on one CPU in a VM. */
static void parse_reboot(struct parser *p, const char *v, enum restart_way *way)
{
    for (const char *w = v; *w; w++) {
        const char *end = strchr(w, ',');
        size_t len = end ? (size_t)(end - w) : strlen(w);
        switch (*w) {
        case 'a': *way = RESTART_ACPI; break;
        case 'k': *way = RESTART_KEYBOARD; break;
        case 't': *way = RESTART_TRIPLE_FAULT; break;
        case 'p': *way = RESTART_PCI_CF9; break;
        case 'w': case 'c': case 'h': case 's': case 'g': case 'f': case ',': break;
        default:
            /* b (the BIOS's real-mode entry), e (EFI runtime services): not kept after boot */
            problem(p, "reboot=%.*s: not a way this kernel restarts (a|k|t|p), ignored", (int)len, w);
        }
        w += len;
        if (!*w)
            break;
    }
}

/* True the first time an unknown key is seen; remembers it. */
static bool first_report_of_unknown(struct parser *p, const char *key)
{
    for (int i = 0; i < p->unknown_count; i++)
        if (strncmp(p->unknown[i], key, KEY_MAX - 1) == 0)
            return false;
    if (p->unknown_count < UNKNOWN_KEYS_REMEMBERED) {
        strncpy_bounded(p->unknown[p->unknown_count++], key, KEY_MAX);
    }
    return true;
}

static void on_off(struct parser *p, const char *key, const char *v, bool *flag, bool default_value)
{
    if (strcmp(v, "on") == 0 || strcmp(v, "off") == 0) {
        *flag = strcmp(v, "on") == 0;
        return;
    }
    problem(p, "%s=%s is not on or off, using %s", key, v, default_value ? "on" : "off");
    *flag = default_value;
}

/* A string option kept whole, or refused with the default left in place. */
static void copy_value(struct parser *p, const char *key, const char *v, char dst[CMDLINE_VALUE_MAX])
{
    size_t n = strlen(v);
    if (n >= CMDLINE_VALUE_MAX) {
        problem(p, "%s= value is too long (max %d characters), ignored", key, CMDLINE_VALUE_MAX - 1);
        return;
    }
    memcpy(dst, v, n + 1);
}

static void apply(struct parser *p, struct kernel_options *o, const char *key, const char *v)
{
    if (strcmp(key, "ip") == 0) {
        parse_ip(p, o, v);
    } else if (strcmp(key, "gw") == 0) {
        if (parse_ipv4(v, &o->gw_addr) < 0) {
            problem(p, "gw=%s is not an address A.B.C.D, using none", v);
            o->gw_set = false;
        } else {
            o->gw_set = true;
        }
    } else if (strcmp(key, "irq") == 0) {
        const char *irq_mode_names[IRQ_MODE_COUNT];
        for (int i = 0; i < IRQ_MODE_COUNT; i++)
            irq_mode_names[i] = irq_mode_name((enum irq_mode)i);
        int m = match_name(v, irq_mode_names, IRQ_MODE_COUNT);
        if (m < 0)
            problem(p, "irq=%s unknown mode (auto|msix|shared|intx|poll), using auto", v);
        o->irq_mode = m < 0 ? IRQ_MODE_AUTO : (enum irq_mode)m;
    } else if (strcmp(key, "budget") == 0) {
        uint64_t b;
        if (parse_decimal(v, BUDGET_MAX, &b) < 0 || b < BUDGET_MIN) {
            problem(p, "budget=%s out of range (%d..%d), using %d", v, BUDGET_MIN, BUDGET_MAX, BUDGET_DEFAULT);
            b = BUDGET_DEFAULT;
        }
        o->budget = (uint32_t)b;
    } else if (strcmp(key, "log") == 0) {
        int l = match_name(v, log_names, 3);
        if (l < 0)
            problem(p, "log=%s unknown level (quiet|info|debug), using info", v);
        o->log = l < 0 ? LOG_VERBOSITY_INFO : (enum log_verbosity)l;
    } else if (strcmp(key, "indirect") == 0) {
        on_off(p, key, v, &o->virtio_indirect, true);
    } else if (strcmp(key, "event_idx") == 0) {
        on_off(p, key, v, &o->virtio_event_idx, true);
    } else if (strcmp(key, "packed") == 0) {
        on_off(p, key, v, &o->virtio_packed, true);
    } else if (strcmp(key, "ctrl") == 0) {
        on_off(p, key, v, &o->virtio_ctrl, true);
    } else if (strcmp(key, "faults") == 0) {
        on_off(p, key, v, &o->fault_port, false);
    } else if (strcmp(key, "selftest") == 0) {
        copy_value(p, key, v, o->selftest);
    } else if (strcmp(key, "crash") == 0) {
        copy_value(p, key, v, o->crash);
    } else if (strcmp(key, "gdb") == 0) {
        if (strcmp(v, "wait") != 0)
            problem(p, "gdb=%s unknown (only gdb=wait), using none", v);
        o->gdb_wait = strcmp(v, "wait") == 0;
    } else if (strcmp(key, "virtio_mmio.device") == 0) {
        add_virtio_mmio_device(p, o, v);
    } else if (strcmp(key, "initrd") == 0) {
        copy_value(p, key, v, o->initrd);
    } else if (strcmp(key, "panic") == 0) {
        /* Linux's panic=N: negative restarts at once, 0 halts. */
        bool negative = v[0] == '-';
        uint64_t s;
        if (parse_decimal(v + negative, PANIC_TIMEOUT_MAX_S, &s) < 0) {
            problem(p, "panic=%s is not seconds, halting on PANIC", v);
            s = 0;
        }
        o->panic_timeout_s = negative && s ? -1 : (int32_t)s;
    } else if (strcmp(key, "reboot") == 0) {
        parse_reboot(p, v, &o->restart_first);
    } else if (strcmp(key, "pci") == 0) {
        on_off(p, key, v, &o->pci, true); /* Linux's pci=off */
    } else if (strcmp(key, "console") == 0) {
        /* Linux's console=ttyS0[,115200...]: what this kernel always does. */
        if (strncmp(v, "ttyS0", 5) != 0 || (v[5] && v[5] != ','))
            problem(p, "console=%s: the console is COM1 (ttyS0) only, ignored", v);
    } else if (first_report_of_unknown(p, key)) {
        problem(p, "unknown key '%s' ignored", key);
    }
}

/* A word for Linux's modules, which this kernel has none of: nomodule, and
 * module.parameter[=value] (Firecracker's guides pass 8250.nr_uarts=0 and
 * i8042.noaux). Linux drops the parameters of modules it does not have
 * without a word; here they are counted and said once. virtio_mmio.* is
 * this kernel's own, and is parsed or reported. */
static bool linux_module_word(const char *word, const char *eq)
{
    if (!eq && strcmp(word, "nomodule") == 0)
        return true;
    const char *key_end = eq ? eq : word + strlen(word);
    const char *dot = strchr(word, '.');
    return dot && dot != word && dot + 1 < key_end && strncmp(word, "virtio_mmio.", 12) != 0;
}

void cmdline_drop_cut_word(char *line, char next)
{
    if (next == ' ' || next == '\t')
        return;
    size_t n = strlen(line);
    while (n && line[n - 1] != ' ' && line[n - 1] != '\t')
        n--;
    line[n] = '\0';
}

int cmdline_parse(const char *line, struct kernel_options *opts, cmdline_report_fn report, void *ctx)
{
    struct parser p = { .report = report, .ctx = ctx };
    size_t i = 0;
    while (line[i]) {
        while (line[i] == ' ' || line[i] == '\t')
            i++;
        if (!line[i])
            break;
        size_t start = i;
        while (line[i] && line[i] != ' ' && line[i] != '\t')
            i++;
        size_t len = i - start;

        char word[CMDLINE_WORD_MAX];
        if (len >= sizeof(word)) {
            problem(&p, "'%.32s...' is too long (%zu characters), ignored", line + start, len);
            continue;
        }
        memcpy(word, line + start, len);
        word[len] = '\0';
        char *eq = strchr(word, '=');
        /* Linux's bare quiet and debug mean what log= does here. */
        if (!eq && (strcmp(word, "quiet") == 0 || strcmp(word, "debug") == 0)) {
            apply(&p, opts, "log", word);
            continue;
        }
        if (linux_module_word(word, eq)) {
            opts->linux_module_words++;
            continue;
        }
        if (!eq || eq == word) {
            problem(&p, "'%s' is not key=value, ignored", word);
            continue;
        }
        *eq = '\0';
        apply(&p, opts, word, eq + 1);
    }
    return p.problems;
}
