/*
 * boot/cmdline.c: defaults, every key with valid values, every problem with
 * its exact message (and the value that stays), word splitting, over-long
 * words and values, and parse_ipv4 on its own.
 */
#include <stdint.h>
#include <string.h>

#include "boot/cmdline.h"
#include "lib/printf.h"
#include "tests/unit/check.h"

#define MAX_REPORTS 16
#define REPORT_LEN 256

/* Collects the problems cmdline_parse reports. */
struct reports {
    int count;
    char text[MAX_REPORTS][REPORT_LEN];
};

static void collect_report(const char *problem, void *ctx)
{
    struct reports *r = ctx;
    if (r->count < MAX_REPORTS) {
        strncpy(r->text[r->count], problem, REPORT_LEN - 1);
        r->text[r->count][REPORT_LEN - 1] = '\0';
    }
    r->count++;
}

/* Parses `line` over fresh defaults; returns cmdline_parse's result. */
static int parse(const char *line, struct kernel_options *o, struct reports *r)
{
    memset(o, 0xa5, sizeof(*o)); /* anything the defaults do not set shows up */
    kernel_options_defaults(o);
    memset(r, 0, sizeof(*r));
    return cmdline_parse(line, o, collect_report, r);
}

/* Every field equal to the defaults (field by field: padding is not compared). */
static void check_defaults(const char *file, int line, const struct kernel_options *o)
{
    struct kernel_options d;
    kernel_options_defaults(&d);
    bool same = o->ip_mode == d.ip_mode && o->ip_addr == d.ip_addr && o->ip_prefix == d.ip_prefix &&
                o->gw_set == d.gw_set && o->gw_addr == d.gw_addr && o->irq_mode == d.irq_mode &&
                o->budget == d.budget && o->log == d.log && strcmp(o->selftest, d.selftest) == 0 &&
                strcmp(o->crash, d.crash) == 0 && o->gdb_wait == d.gdb_wait && o->mmio_count == d.mmio_count &&
                o->panic_timeout_s == d.panic_timeout_s && o->pci == d.pci;
    if (same)
        unit_pass();
    else
        unit_fail(file, line, "options differ from the defaults (ip_mode %d ip %#x/%u gw %d %#x irq %d budget %u "
                  "log %d selftest '%s' crash '%s' gdb %d)", o->ip_mode, o->ip_addr, o->ip_prefix, o->gw_set,
                  o->gw_addr, o->irq_mode, o->budget, o->log, o->selftest, o->crash, o->gdb_wait);
}
#define CHECK_DEFAULTS(o) check_defaults(__FILE__, __LINE__, (o))

/* Parses a line expected to give exactly one problem, `message`, and to leave the defaults. */
#define CHECK_ONE_PROBLEM(line, message)                    \
    do {                                                    \
        struct kernel_options o_;                           \
        struct reports r_;                                  \
        CHECK_EQ(parse((line), &o_, &r_), 1);               \
        CHECK_EQ(r_.count, 1);                              \
        CHECK_STR_EQ(r_.text[0], (message));                \
        CHECK_DEFAULTS(&o_);                                \
    } while (0)

TEST(cmdline_defaults)
{
    struct kernel_options o;
    memset(&o, 0xa5, sizeof(o));
    kernel_options_defaults(&o);
    CHECK_EQ(o.ip_mode, IP_MODE_DHCP);
    CHECK_EQ(o.ip_addr, 0);
    CHECK_EQ(o.ip_prefix, 24);
    CHECK_EQ(o.gw_set, false);
    CHECK_EQ(o.gw_addr, 0);
    CHECK_EQ(o.irq_mode, IRQ_MODE_AUTO);
    CHECK_EQ(o.budget, 64);
    CHECK_EQ(o.log, LOG_VERBOSITY_INFO);
    CHECK_STR_EQ(o.selftest, "");
    CHECK_STR_EQ(o.crash, "");
    CHECK_EQ(o.gdb_wait, false);
    CHECK_EQ(o.panic_timeout_s, 0);
    CHECK_EQ(o.pci, true);
}

TEST(cmdline_empty_and_blank_lines)
{
    const char *lines[] = { "", " ", "     ", "\t", " \t \t ", "\t\t\t" };
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        struct kernel_options o;
        struct reports r;
        CHECK_EQ(parse(lines[i], &o, &r), 0);
        CHECK_EQ(r.count, 0);
        CHECK_DEFAULTS(&o);
    }
}

TEST(cmdline_ip_static_and_dhcp)
{
    struct kernel_options o;
    struct reports r;
    CHECK_EQ(parse("ip=10.0.2.15/24", &o, &r), 0);
    CHECK_EQ(o.ip_mode, IP_MODE_STATIC);
    CHECK_EQ(o.ip_addr, 0x0A00020F);
    CHECK_EQ(o.ip_prefix, 24);

    CHECK_EQ(parse("ip=192.168.100.200/16", &o, &r), 0);
    CHECK_EQ(o.ip_mode, IP_MODE_STATIC);
    CHECK_EQ(o.ip_addr, 0xC0A864C8);
    CHECK_EQ(o.ip_prefix, 16);

    /* Without /N the prefix is 24. */
    CHECK_EQ(parse("ip=172.16.0.1", &o, &r), 0);
    CHECK_EQ(o.ip_mode, IP_MODE_STATIC);
    CHECK_EQ(o.ip_addr, 0xAC100001);
    CHECK_EQ(o.ip_prefix, 24);

    /* The prefix bounds: 0 and 32 are accepted. */
    CHECK_EQ(parse("ip=1.2.3.4/0", &o, &r), 0);
    CHECK_EQ(o.ip_mode, IP_MODE_STATIC);
    CHECK_EQ(o.ip_prefix, 0);
    CHECK_EQ(parse("ip=1.2.3.4/32", &o, &r), 0);
    CHECK_EQ(o.ip_prefix, 32);
    CHECK_EQ(parse("ip=1.2.3.4/08", &o, &r), 0);
    CHECK_EQ(o.ip_prefix, 8);

    CHECK_EQ(parse("ip=dhcp", &o, &r), 0);
    CHECK_EQ(r.count, 0);
    CHECK_DEFAULTS(&o);

    /* dhcp after a static address switches back. */
    CHECK_EQ(parse("ip=10.0.2.15/24 ip=dhcp", &o, &r), 0);
    CHECK_EQ(o.ip_mode, IP_MODE_DHCP);
}

TEST(cmdline_gateway)
{
    struct kernel_options o;
    struct reports r;
    CHECK_EQ(parse("gw=10.0.2.2", &o, &r), 0);
    CHECK_EQ(o.gw_set, true);
    CHECK_EQ(o.gw_addr, 0x0A000202);
    CHECK_EQ(o.ip_mode, IP_MODE_DHCP);

    CHECK_EQ(parse("gw=255.255.255.255", &o, &r), 0);
    CHECK_EQ(o.gw_set, true);
    CHECK_EQ(o.gw_addr, 0xFFFFFFFFu);

    CHECK_ONE_PROBLEM("gw=1.2.3", "gw=1.2.3 is not an address A.B.C.D, using none");
    CHECK_ONE_PROBLEM("gw=10.0.2.2/24", "gw=10.0.2.2/24 is not an address A.B.C.D, using none");
    CHECK_ONE_PROBLEM("gw=", "gw= is not an address A.B.C.D, using none");

    /* A bad gateway after a good one: "using none". */
    CHECK_EQ(parse("gw=10.0.2.2 gw=x", &o, &r), 1);
    CHECK_STR_EQ(r.text[0], "gw=x is not an address A.B.C.D, using none");
    CHECK_EQ(o.gw_set, false);
}

TEST(cmdline_irq_modes)
{
    static const struct {
        const char *line;
        enum irq_mode mode;
        const char *name;
    } cases[] = {
        { "irq=auto", IRQ_MODE_AUTO, "auto" },       { "irq=msix", IRQ_MODE_MSIX, "msix" },
        { "irq=shared", IRQ_MODE_SHARED, "shared" }, { "irq=intx", IRQ_MODE_INTX, "intx" },
        { "irq=poll", IRQ_MODE_POLL, "poll" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct kernel_options o;
        struct reports r;
        CHECK_EQ(parse(cases[i].line, &o, &r), 0);
        CHECK_EQ(o.irq_mode, cases[i].mode);
        CHECK_STR_EQ(irq_mode_name(cases[i].mode), cases[i].name);
    }
    CHECK_STR_EQ(irq_mode_name((enum irq_mode)5), "?");
    CHECK_STR_EQ(irq_mode_name((enum irq_mode)-1), "?");
    CHECK_STR_EQ(irq_mode_name((enum irq_mode)1000), "?");

    CHECK_ONE_PROBLEM("irq=MSIX", "irq=MSIX unknown mode (auto|msix|shared|intx|poll), using auto");
    CHECK_ONE_PROBLEM("irq=msi", "irq=msi unknown mode (auto|msix|shared|intx|poll), using auto");
    CHECK_ONE_PROBLEM("irq=", "irq= unknown mode (auto|msix|shared|intx|poll), using auto");

    struct kernel_options o;
    struct reports r;
    CHECK_EQ(parse("irq=poll irq=bogus", &o, &r), 1);
    CHECK_EQ(o.irq_mode, IRQ_MODE_AUTO);
}

TEST(cmdline_budget)
{
    struct kernel_options o;
    struct reports r;
    CHECK_EQ(parse("budget=1", &o, &r), 0);
    CHECK_EQ(o.budget, 1);
    CHECK_EQ(parse("budget=4096", &o, &r), 0);
    CHECK_EQ(o.budget, 4096);
    CHECK_EQ(parse("budget=256", &o, &r), 0);
    CHECK_EQ(o.budget, 256);
    CHECK_EQ(parse("budget=0007", &o, &r), 0);
    CHECK_EQ(o.budget, 7);

    CHECK_ONE_PROBLEM("budget=0", "budget=0 out of range (1..4096), using 64");
    CHECK_ONE_PROBLEM("budget=4097", "budget=4097 out of range (1..4096), using 64");
    CHECK_ONE_PROBLEM("budget=-1", "budget=-1 out of range (1..4096), using 64");
    CHECK_ONE_PROBLEM("budget=+5", "budget=+5 out of range (1..4096), using 64");
    CHECK_ONE_PROBLEM("budget=12x", "budget=12x out of range (1..4096), using 64");
    CHECK_ONE_PROBLEM("budget=0x10", "budget=0x10 out of range (1..4096), using 64");
    CHECK_ONE_PROBLEM("budget=", "budget= out of range (1..4096), using 64");
    /* Far beyond 64 bits: no wrap-around into range. */
    CHECK_ONE_PROBLEM("budget=18446744073709551617", "budget=18446744073709551617 out of range (1..4096), using 64");

    /* A bad value after a good one: "using 64", as the message says. */
    CHECK_EQ(parse("budget=8 budget=0", &o, &r), 1);
    CHECK_EQ(o.budget, 64);
}

TEST(cmdline_log_levels)
{
    struct kernel_options o;
    struct reports r;
    CHECK_EQ(parse("log=quiet", &o, &r), 0);
    CHECK_EQ(o.log, LOG_VERBOSITY_QUIET);
    CHECK_EQ(parse("log=debug", &o, &r), 0);
    CHECK_EQ(o.log, LOG_VERBOSITY_DEBUG);
    CHECK_EQ(parse("log=debug log=info", &o, &r), 0);
    CHECK_EQ(o.log, LOG_VERBOSITY_INFO);

    CHECK_ONE_PROBLEM("log=verbose", "log=verbose unknown level (quiet|info|debug), using info");
    CHECK_ONE_PROBLEM("log=", "log= unknown level (quiet|info|debug), using info");
    CHECK_EQ(parse("log=quiet log=loud", &o, &r), 1);
    CHECK_EQ(o.log, LOG_VERBOSITY_INFO);
}

TEST(cmdline_selftest_crash_gdb)
{
    struct kernel_options o;
    struct reports r;
    CHECK_EQ(parse("selftest=timer,pci", &o, &r), 0);
    CHECK_STR_EQ(o.selftest, "timer,pci");
    CHECK_EQ(parse("selftest=all", &o, &r), 0);
    CHECK_STR_EQ(o.selftest, "all");
    CHECK_EQ(parse("selftest=timer selftest=pci", &o, &r), 0);
    CHECK_STR_EQ(o.selftest, "pci");
    /* An empty value means none. */
    CHECK_EQ(parse("selftest=all selftest=", &o, &r), 0);
    CHECK_STR_EQ(o.selftest, "");

    CHECK_EQ(parse("crash=pagefault", &o, &r), 0);
    CHECK_STR_EQ(o.crash, "pagefault");
    CHECK_STR_EQ(o.selftest, "");

    CHECK_EQ(parse("gdb=wait", &o, &r), 0);
    CHECK_EQ(o.gdb_wait, true);
    CHECK_ONE_PROBLEM("gdb=now", "gdb=now unknown (only gdb=wait), using none");
    CHECK_ONE_PROBLEM("gdb=", "gdb= unknown (only gdb=wait), using none");
    CHECK_EQ(parse("gdb=wait gdb=no", &o, &r), 1);
    CHECK_EQ(o.gdb_wait, false);
}

/* What OVMF appends for QEMU's -initrd (Linux's EFI stub convention): known, no problem. */
TEST(cmdline_initrd)
{
    struct kernel_options o;
    struct reports r;
    CHECK_EQ(parse("ip=10.0.2.15/24 initrd=initrd", &o, &r), 0);
    CHECK_STR_EQ(o.initrd, "initrd");
    CHECK_EQ(parse("initrd=/EFI/BOOT/site.cpio", &o, &r), 0);
    CHECK_STR_EQ(o.initrd, "/EFI/BOOT/site.cpio");
    CHECK_EQ(parse("", &o, &r), 0);
    CHECK_STR_EQ(o.initrd, "");
}

TEST(cmdline_every_key_at_once)
{
    struct kernel_options o;
    struct reports r;
    CHECK_EQ(parse("ip=10.0.2.15/24 gw=10.0.2.2 irq=msix budget=128 log=debug selftest=timer,pci "
                   "crash=pagefault gdb=wait", &o, &r), 0);
    CHECK_EQ(r.count, 0);
    CHECK_EQ(o.ip_mode, IP_MODE_STATIC);
    CHECK_EQ(o.ip_addr, 0x0A00020F);
    CHECK_EQ(o.ip_prefix, 24);
    CHECK_EQ(o.gw_set, true);
    CHECK_EQ(o.gw_addr, 0x0A000202);
    CHECK_EQ(o.irq_mode, IRQ_MODE_MSIX);
    CHECK_EQ(o.budget, 128);
    CHECK_EQ(o.log, LOG_VERBOSITY_DEBUG);
    CHECK_STR_EQ(o.selftest, "timer,pci");
    CHECK_STR_EQ(o.crash, "pagefault");
    CHECK_EQ(o.gdb_wait, true);
}

TEST(cmdline_parses_over_existing_options)
{
    /* cmdline_parse starts from what is in *opts, not from the defaults. */
    struct kernel_options o;
    kernel_options_defaults(&o);
    o.budget = 7;
    o.log = LOG_VERBOSITY_QUIET;
    struct reports r = { 0 };
    CHECK_EQ(cmdline_parse("irq=poll", &o, collect_report, &r), 0);
    CHECK_EQ(o.irq_mode, IRQ_MODE_POLL);
    CHECK_EQ(o.budget, 7);
    CHECK_EQ(o.log, LOG_VERBOSITY_QUIET);
}

TEST(cmdline_known_key_twice_last_wins)
{
    struct kernel_options o;
    struct reports r;
    CHECK_EQ(parse("budget=8 budget=16", &o, &r), 0);
    CHECK_EQ(o.budget, 16);
    CHECK_EQ(parse("irq=intx irq=msix irq=shared", &o, &r), 0);
    CHECK_EQ(o.irq_mode, IRQ_MODE_SHARED);
    /* The later ip= has no /N, so its prefix is the default again. */
    CHECK_EQ(parse("ip=1.2.3.4/8 ip=5.6.7.8", &o, &r), 0);
    CHECK_EQ(o.ip_addr, 0x05060708);
    CHECK_EQ(o.ip_prefix, 24);
    CHECK_EQ(parse("gw=1.1.1.1 gw=2.2.2.2", &o, &r), 0);
    CHECK_EQ(o.gw_addr, 0x02020202);
}

TEST(cmdline_unknown_keys)
{
    struct kernel_options o;
    struct reports r;
    CHECK_ONE_PROBLEM("foo=1", "unknown key 'foo' ignored");
    CHECK_ONE_PROBLEM("foo=", "unknown key 'foo' ignored");
    CHECK_ONE_PROBLEM("IP=10.0.2.15", "unknown key 'IP' ignored");
    CHECK_ONE_PROBLEM("budget2=5", "unknown key 'budget2' ignored");

    /* The same unknown key twice is reported once... */
    CHECK_EQ(parse("foo=1 foo=2", &o, &r), 1);
    CHECK_EQ(r.count, 1);
    CHECK_STR_EQ(r.text[0], "unknown key 'foo' ignored");
    CHECK_EQ(parse("foo=1 budget=9 foo=2\tfoo=3", &o, &r), 1);
    CHECK_EQ(o.budget, 9);

    /* ...but different keys each once, in order, even when one is a prefix
     * or a suffix of another. */
    CHECK_EQ(parse("foo=1 bar=2 foo=3 foobar=4 xfoo=5 bar=6", &o, &r), 4);
    CHECK_EQ(r.count, 4);
    CHECK_STR_EQ(r.text[0], "unknown key 'foo' ignored");
    CHECK_STR_EQ(r.text[1], "unknown key 'bar' ignored");
    CHECK_STR_EQ(r.text[2], "unknown key 'foobar' ignored");
    CHECK_STR_EQ(r.text[3], "unknown key 'xfoo' ignored");
    CHECK_DEFAULTS(&o);

    /* "foo" inside an earlier value is not an earlier "foo" key. */
    CHECK_EQ(parse("selftest=foo=1 foo=2", &o, &r), 1);
    CHECK_STR_EQ(r.text[0], "unknown key 'foo' ignored");
    CHECK_STR_EQ(o.selftest, "foo=1");
}

/* DESIGN.md: "unknown keys are reported on serial and ignored". An earlier
 * occurrence that was rejected for its length was never reported as an
 * unknown key, so the later, well-formed one must be. */
TEST(cmdline_unknown_key_reported_after_rejected_occurrence)
{
    char line[400];
    struct kernel_options o;
    struct reports r;

    /* A long value of an unknown key is no reason to refuse it: reported once, as unknown. */
    strcpy(line, "foo=");
    memset(line + 4, 'v', 64);
    strcpy(line + 68, " foo=1");
    CHECK_EQ(parse(line, &o, &r), 1);
    CHECK_STR_EQ(r.text[0], "unknown key 'foo' ignored");

    /* Whole word too long (300 characters), then a short one. */
    strcpy(line, "foo=");
    memset(line + 4, 'v', 296);
    strcpy(line + 300, " foo=1");
    CHECK_EQ(parse(line, &o, &r), 2);
    CHECK_EQ(r.count, 2);
    CHECK_STR_EQ(r.text[1], "unknown key 'foo' ignored");
}

TEST(cmdline_words_that_are_not_key_value)
{
    CHECK_ONE_PROBLEM("novalue", "'novalue' is not key=value, ignored");
    CHECK_ONE_PROBLEM("=5", "'=5' is not key=value, ignored");
    CHECK_ONE_PROBLEM("=", "'=' is not key=value, ignored");
    CHECK_ONE_PROBLEM("==", "'==' is not key=value, ignored");

    /* The rest of the line still counts. */
    struct kernel_options o;
    struct reports r;
    CHECK_EQ(parse("verbose budget=5 =x nosmp", &o, &r), 3);
    CHECK_EQ(o.budget, 5);
    CHECK_STR_EQ(r.text[0], "'verbose' is not key=value, ignored");
    CHECK_STR_EQ(r.text[1], "'=x' is not key=value, ignored");
    CHECK_STR_EQ(r.text[2], "'nosmp' is not key=value, ignored");

    /* A value may itself contain '=' (only the first one splits). */
    CHECK_EQ(parse("crash=a=b", &o, &r), 0);
    CHECK_STR_EQ(o.crash, "a=b");
}

TEST(cmdline_whitespace)
{
    struct kernel_options o;
    struct reports r;
    CHECK_EQ(parse("  budget=8\t\tlog=debug   irq=poll\t", &o, &r), 0);
    CHECK_EQ(o.budget, 8);
    CHECK_EQ(o.log, LOG_VERBOSITY_DEBUG);
    CHECK_EQ(o.irq_mode, IRQ_MODE_POLL);
    CHECK_EQ(parse("\tbudget=9", &o, &r), 0);
    CHECK_EQ(o.budget, 9);
    /* Only space and tab separate words: a newline belongs to the value. */
    CHECK_EQ(parse("budget=10\nlog=quiet", &o, &r), 1);
    CHECK_STR_EQ(r.text[0], "budget=10\nlog=quiet out of range (1..4096), using 64");
    CHECK_EQ(o.log, LOG_VERBOSITY_INFO);
}

TEST(cmdline_overlong_word_and_value)
{
    char line[400];
    struct kernel_options o;
    struct reports r;

    /* selftest= plus 63 characters: the longest value taken. */
    strcpy(line, "selftest=");
    memset(line + 9, 'a', 63);
    line[72] = '\0';
    CHECK_EQ(parse(line, &o, &r), 0);
    CHECK_EQ(strlen(o.selftest), 63);
    CHECK_EQ(o.selftest[62], 'a');

    /* 64 characters: refused, the default stays. */
    strcpy(line, "selftest=");
    memset(line + 9, 'a', 64);
    line[73] = '\0';
    CHECK_ONE_PROBLEM(line, "selftest= value is too long (max 63 characters), ignored");

    /* 255 characters in the word fit the word buffer; 256 do not. */
    strcpy(line, "crash=");
    memset(line + 6, 'c', 249);
    line[255] = '\0';
    CHECK_ONE_PROBLEM(line, "crash= value is too long (max 63 characters), ignored");
    strcpy(line, "crash=");
    memset(line + 6, 'c', 250);
    line[256] = '\0';
    CHECK_ONE_PROBLEM(line, "'crash=cccccccccccccccccccccccccc...' is too long (256 characters), ignored");

    /* A much longer word, surrounded by good ones that still apply. */
    strcpy(line, "budget=3 ");
    size_t at = strlen(line);
    memcpy(line + at, "gw=", 3);
    memset(line + at + 3, '9', 297);
    strcpy(line + at + 300, " log=quiet");
    CHECK_EQ(parse(line, &o, &r), 1);
    CHECK_STR_EQ(r.text[0], "'gw=99999999999999999999999999999...' is too long (300 characters), ignored");
    CHECK_EQ(o.budget, 3);
    CHECK_EQ(o.log, LOG_VERBOSITY_QUIET);
    CHECK_EQ(o.gw_set, false);

    /* A long unknown key (its word fits) is reported with its whole name. */
    char key[80];
    memset(key, 'k', 70);
    key[70] = '\0';
    snprintf(line, sizeof(line), "%s=1", key);
    char expect[120];
    snprintf(expect, sizeof(expect), "unknown key '%s' ignored", key);
    CHECK_ONE_PROBLEM(line, expect);
}

TEST(cmdline_malformed_ip)
{
    static const char *const bad[] = {
        "256.1.1.1",  "1.2.3",       "1.2.3.4.5",  "a.b.c.d",   "1.2.3.4/33",  "1.2.3.4/",
        "1.2.3.4/-1", "1.2.3.4/2a",  "1.2.3.4/24/8", "/24",     "1..2.3",      ".1.2.3",
        "1.2.3.",     "1234.1.1.1",  "1.2.3.4x",   "DHCP",      "dhcp/24",     "1.2.3.256",
        "0x1.2.3.4",  "1.2.3.4/100",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char line[80], expect[120];
        snprintf(line, sizeof(line), "ip=%s", bad[i]);
        snprintf(expect, sizeof(expect), "ip=%s is not dhcp or A.B.C.D/N, using dhcp", bad[i]);
        CHECK_ONE_PROBLEM(line, expect);
    }
    CHECK_ONE_PROBLEM("ip=", "ip= is not dhcp or A.B.C.D/N, using dhcp");

    /* A bad ip= after a good one falls back to dhcp, as the message says. */
    struct kernel_options o;
    struct reports r;
    CHECK_EQ(parse("ip=10.0.2.15/24 ip=10.0.2", &o, &r), 1);
    CHECK_EQ(o.ip_mode, IP_MODE_DHCP);

    /* Leading zeros are decimal, not octal (inet_aton would read 010 as 8). */
    CHECK_EQ(parse("ip=010.000.002.015/024", &o, &r), 0);
    CHECK_EQ(o.ip_mode, IP_MODE_STATIC);
    CHECK_EQ(o.ip_addr, 0x0A00020F);
    CHECK_EQ(o.ip_prefix, 24);
}

TEST(cmdline_ip_in_linux_form)
{
    struct kernel_options o;
    struct reports r;
    /* Firecracker's guides: a /30 and its gateway, autoconfiguration off. */
    CHECK_EQ(parse("ip=172.16.0.2::172.16.0.1:255.255.255.252::eth0:off", &o, &r), 0);
    CHECK_EQ(o.ip_mode, IP_MODE_STATIC);
    CHECK_EQ(o.ip_addr, 0xAC100002);
    CHECK_EQ(o.ip_prefix, 30);
    CHECK(o.gw_set && o.gw_addr == 0xAC100001);

    /* Every field, name servers too; AUTOCONF does not matter with a client address (as in Linux). */
    CHECK_EQ(parse("ip=10.0.2.15:10.0.2.9:10.0.2.2:255.255.0.0:guest-name:eth0:dhcp:10.0.2.3:1.1.1.1:10.0.2.4",
                   &o, &r), 0);
    CHECK(o.ip_mode == IP_MODE_STATIC && o.ip_addr == 0x0A00020F && o.ip_prefix == 16);
    CHECK(o.gw_set && o.gw_addr == 0x0A000202);

    /* No netmask: the address's class, as Linux; no gateway: the one given before stays. */
    CHECK_EQ(parse("gw=10.0.2.2 ip=10.0.2.15", &o, &r), 0);
    CHECK_EQ(parse("gw=10.0.2.2 ip=10.0.2.15:", &o, &r), 0);
    CHECK(o.ip_mode == IP_MODE_STATIC && o.ip_prefix == 8 && o.gw_set && o.gw_addr == 0x0A000202);
    CHECK_EQ(parse("ip=172.16.5.4::::", &o, &r), 0);
    CHECK(o.ip_prefix == 16 && !o.gw_set);
    CHECK_EQ(parse("ip=192.168.1.2:", &o, &r), 0);
    CHECK_EQ(o.ip_prefix, 24);
    CHECK_EQ(parse("ip=10.0.2.15:::0.0.0.0", &o, &r), 0);
    CHECK_EQ(o.ip_prefix, 0);
    CHECK_EQ(parse("ip=10.0.2.15:::255.255.255.255", &o, &r), 0);
    CHECK_EQ(o.ip_prefix, 32);

    /* No client address: dhcp, and said so when AUTOCONF asked for none. */
    CHECK_EQ(parse("ip=10.0.2.15/24 ip=:::::eth0:dhcp", &o, &r), 0);
    CHECK_EQ(o.ip_mode, IP_MODE_DHCP);
    CHECK_EQ(parse("ip=10.0.2.15/24 ip=::::::", &o, &r), 0);
    CHECK_EQ(o.ip_mode, IP_MODE_DHCP);
    CHECK_EQ(parse("ip=10.0.2.15/24 ip=:::::eth0:off", &o, &r), 1);
    CHECK_EQ(o.ip_mode, IP_MODE_DHCP);
    CHECK_STR_EQ(r.text[0], "ip=:::::eth0:off: no client address and autoconfiguration off, using dhcp");
    CHECK_EQ(parse("ip=::::::none", &o, &r), 1);

    /* Linux's words for dhcp. */
    CHECK_EQ(parse("ip=10.0.2.15/24 ip=on", &o, &r), 0);
    CHECK_EQ(o.ip_mode, IP_MODE_DHCP);
    CHECK_EQ(parse("ip=10.0.2.15/24 ip=any", &o, &r), 0);
    CHECK_EQ(o.ip_mode, IP_MODE_DHCP);

    /* A field it cannot use: dhcp, and said so. */
    static const char *const bad[] = {
        "10.0.2:", "10.0.2.15::10.0.2:", "10.0.2.15:::255.0.255.0", "10.0.2.15:::255.255.255.1",
        "10.0.2.15:::24", "10.0.2.15::10.0.2.2.2:", "10.0.2.15/24:", "1234567890123456789:", ":::x",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char line[80], expect[160];
        snprintf(line, sizeof(line), "ip=%s", bad[i]);
        snprintf(expect, sizeof(expect),
                 "ip=%s is not CLIENT:SERVER:GW:NETMASK:HOSTNAME:DEVICE:AUTOCONF, using dhcp", bad[i]);
        CHECK_ONE_PROBLEM(line, expect);
    }
}

TEST(cmdline_linux_words)
{
    struct kernel_options o;
    struct reports r;
    /* Bare quiet and debug set the log level; the last word wins. */
    CHECK_EQ(parse("quiet", &o, &r), 0);
    CHECK_EQ(o.log, LOG_VERBOSITY_QUIET);
    CHECK_EQ(parse("log=quiet debug", &o, &r), 0);
    CHECK_EQ(o.log, LOG_VERBOSITY_DEBUG);
    CHECK_EQ(parse("debug log=info", &o, &r), 0);
    CHECK_EQ(o.log, LOG_VERBOSITY_INFO);

    /* console=ttyS0 is what the console is; anything else is said and ignored. */
    CHECK_EQ(parse("console=ttyS0 console=ttyS0,115200n8", &o, &r), 0);
    CHECK_DEFAULTS(&o);
    CHECK_ONE_PROBLEM("console=tty0", "console=tty0: the console is COM1 (ttyS0) only, ignored");
    CHECK_ONE_PROBLEM("console=ttyS1", "console=ttyS1: the console is COM1 (ttyS0) only, ignored");
    CHECK_ONE_PROBLEM("console=ttyS01", "console=ttyS01: the console is COM1 (ttyS0) only, ignored");

    /* Firecracker's default line and its guides' ip=: every word applies or is Linux's modules'. */
    CHECK_EQ(parse("console=ttyS0 reboot=k panic=1 pci=off nomodule 8250.nr_uarts=0 i8042.noaux i8042.nomux "
                   "i8042.nopnp i8042.dumbkbd quiet ip=10.0.2.15::10.0.2.2:255.255.255.0::eth0:off",
                   &o, &r), 0);
    CHECK(o.log == LOG_VERBOSITY_QUIET && o.ip_mode == IP_MODE_STATIC && o.ip_prefix == 24 && o.gw_set);
    CHECK(o.panic_timeout_s == 1 && !o.pci && o.restart_first == RESTART_KEYBOARD);
    CHECK_EQ(o.linux_module_words, 6);
}

TEST(cmdline_panic_timeout_as_linux_reads_it)
{
    struct kernel_options o;
    struct reports r;
    static const struct {
        const char *line;
        int32_t timeout_s;
    } good[] = {
        { "panic=0", 0 },         { "panic=1", 1 },           { "panic=60", 60 },
        { "panic=-1", -1 },       { "panic=-30", -1 },        { "panic=-0", 0 },
        { "panic=2147483647", 2147483647 }, { "panic=5 panic=0", 0 }, { "panic=0 panic=-1", -1 },
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        CHECK_EQ(parse(good[i].line, &o, &r), 0);
        CHECK_EQ(o.panic_timeout_s, good[i].timeout_s);
    }
    CHECK_ONE_PROBLEM("panic=", "panic= is not seconds, halting on PANIC");
    CHECK_ONE_PROBLEM("panic=-", "panic=- is not seconds, halting on PANIC");
    CHECK_ONE_PROBLEM("panic=1s", "panic=1s is not seconds, halting on PANIC");
    CHECK_ONE_PROBLEM("panic=+1", "panic=+1 is not seconds, halting on PANIC");
    CHECK_ONE_PROBLEM("panic=--1", "panic=--1 is not seconds, halting on PANIC");
    CHECK_ONE_PROBLEM("panic=2147483648", "panic=2147483648 is not seconds, halting on PANIC");
    CHECK_ONE_PROBLEM("panic=99999999999999999999", "panic=99999999999999999999 is not seconds, halting on PANIC");
    /* A bad value takes the default, whatever came before it. */
    CHECK_EQ(parse("panic=10 panic=x", &o, &r), 1);
    CHECK_EQ(o.panic_timeout_s, 0);
}

TEST(cmdline_pci_off)
{
    struct kernel_options o;
    struct reports r;
    CHECK_EQ(parse("pci=off", &o, &r), 0);
    CHECK_EQ(o.pci, false);
    CHECK_EQ(parse("pci=off pci=on", &o, &r), 0);
    CHECK_EQ(o.pci, true);
    /* Linux's other pci= words tune a PCI probe this kernel does its own way. */
    CHECK_ONE_PROBLEM("pci=nomsi", "pci=nomsi is not on or off, using on");
}

TEST(cmdline_reboot_as_linux_reads_it)
{
    struct kernel_options o;
    struct reports r;
    CHECK_EQ(parse("", &o, &r), 0);
    CHECK_EQ(o.restart_first, RESTART_ACPI);
    /* Firecracker's guides pass reboot=k. */
    CHECK_EQ(parse("reboot=k", &o, &r), 0);
    CHECK_EQ(o.restart_first, RESTART_KEYBOARD);
    CHECK_EQ(parse("reboot=triple", &o, &r), 0);
    CHECK_EQ(o.restart_first, RESTART_TRIPLE_FAULT);
    CHECK_EQ(parse("reboot=pci", &o, &r), 0);
    CHECK_EQ(o.restart_first, RESTART_PCI_CF9);
    /* Modes, force and smp change nothing; the last type given wins. */
    CHECK_EQ(parse("reboot=warm,kbd,acpi,force reboot=cold,s1", &o, &r), 0);
    CHECK_EQ(o.restart_first, RESTART_ACPI);
    CHECK_EQ(parse("reboot=t,,w", &o, &r), 0);
    CHECK_EQ(o.restart_first, RESTART_TRIPLE_FAULT);
    /* The BIOS's and EFI's ways are not kept after boot: said, and the rest of the value still read. */
    CHECK_EQ(parse("reboot=bios,k", &o, &r), 1);
    CHECK_STR_EQ(r.text[0], "reboot=bios: not a way this kernel restarts (a|k|t|p), ignored");
    CHECK_EQ(o.restart_first, RESTART_KEYBOARD);
    CHECK_ONE_PROBLEM("reboot=efi", "reboot=efi: not a way this kernel restarts (a|k|t|p), ignored");
}

TEST(cmdline_cut_inside_a_word_drops_it)
{
    char line[32];
    strcpy(line, "log=info ip=10.0.2.1");
    cmdline_drop_cut_word(line, '5'); /* "ip=10.0.2.15" was cut */
    CHECK_STR_EQ(line, "log=info ");
    strcpy(line, "log=info ip=10.0.2.15");
    cmdline_drop_cut_word(line, ' '); /* cut between words: all kept */
    CHECK_STR_EQ(line, "log=info ip=10.0.2.15");
    cmdline_drop_cut_word(line, '\t');
    CHECK_STR_EQ(line, "log=info ip=10.0.2.15");
    strcpy(line, "budget=4");
    cmdline_drop_cut_word(line, '0'); /* one word, cut: nothing left */
    CHECK_STR_EQ(line, "");
    strcpy(line, "log=info ");
    cmdline_drop_cut_word(line, 'x'); /* the cut word had not begun */
    CHECK_STR_EQ(line, "log=info ");
}

TEST(cmdline_linux_module_words_counted_not_reported)
{
    struct kernel_options o;
    struct reports r;
    CHECK_EQ(parse("nomodule i8042.noaux 8250.nr_uarts=0 virtio_net.napi_tx=1", &o, &r), 0);
    CHECK_EQ(o.linux_module_words, 4);
    /* A dot in the value, not the key: this kernel's own words. */
    CHECK_EQ(parse("ip=10.0.2.15/24 gw=10.0.2.2", &o, &r), 0);
    CHECK_EQ(o.linux_module_words, 0);
    /* virtio_mmio.* is this kernel's; no module name before the dot, or no parameter after it: unknown. */
    CHECK_ONE_PROBLEM("virtio_mmio.devices=512@0x1000:5", "unknown key 'virtio_mmio.devices' ignored");
    CHECK_ONE_PROBLEM(".x=1", "unknown key '.x' ignored");
    CHECK_ONE_PROBLEM("i8042.=1", "unknown key 'i8042.' ignored");
    CHECK_ONE_PROBLEM("modules", "'modules' is not key=value, ignored");
}

TEST(cmdline_report_callback_optional)
{
    struct kernel_options o;
    kernel_options_defaults(&o);
    CHECK_EQ(cmdline_parse("foo=1 budget=0 bare budget=12", &o, NULL, NULL), 3);
    CHECK_EQ(o.budget, 12);
}

TEST(cmdline_parse_ipv4)
{
    static const struct {
        const char *text;
        uint32_t addr;
    } good[] = {
        { "0.0.0.0", 0 },
        { "255.255.255.255", 0xFFFFFFFFu },
        { "10.0.2.15", 0x0A00020F },
        { "1.2.3.4", 0x01020304 },
        { "192.168.1.254", 0xC0A801FE },
        { "001.002.003.004", 0x01020304 },
        { "0.0.0.255", 0x000000FF },
        { "128.0.0.0", 0x80000000u },
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        uint32_t addr = 0xdeadbeef;
        CHECK_EQ(parse_ipv4(good[i].text, &addr), 0);
        CHECK_EQ(addr, good[i].addr);
    }

    static const char *const bad[] = {
        "",         "1",         "1.2",        "1.2.3",     "1.2.3.4.",  "1.2.3.4.5", "256.0.0.0",
        "0.0.0.256", "999.1.1.1", "1234.1.1.1", "0001.1.1.1", "a.b.c.d", "1.2.3.4/24", " 1.2.3.4",
        "1.2.3.4 ",  "+1.2.3.4",  "-1.2.3.4",   "1..3.4",    ".2.3.4",    "1.2.3.-4",  "1,2,3,4",
        "1.2.3.4\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint32_t addr = 0xdeadbeef;
        int rc = parse_ipv4(bad[i], &addr);
        if (rc != -1)
            unit_fail(__FILE__, __LINE__, "parse_ipv4(\"%s\") returned %d, want -1", bad[i], rc);
        else
            unit_pass();
        /* On failure the output is left alone. */
        CHECK_EQ(addr, 0xdeadbeef);
    }
}

TEST(cmdline_on_off_flags)
{
    struct kernel_options o;
    struct reports r;
    CHECK_EQ(parse("", &o, &r), 0);
    CHECK(o.virtio_indirect && o.virtio_event_idx && o.virtio_packed && !o.fault_port);
    CHECK_EQ(parse("indirect=off event_idx=off packed=off faults=on", &o, &r), 0);
    CHECK(!o.virtio_indirect && !o.virtio_event_idx && !o.virtio_packed && o.fault_port);
    CHECK_EQ(parse("faults=on faults=off indirect=off indirect=on packed=off packed=on", &o, &r), 0);
    CHECK(o.virtio_indirect && o.virtio_packed && !o.fault_port);
    CHECK_EQ(parse("packed=off", &o, &r), 0);
    CHECK(!o.virtio_packed && o.virtio_indirect && o.virtio_event_idx);
    /* A bad value takes the key's default, whatever came before it. */
    CHECK_EQ(parse("faults=on faults=yes event_idx=off event_idx=1", &o, &r), 2);
    CHECK(!o.fault_port && o.virtio_event_idx);
    CHECK_STR_EQ(r.text[0], "faults=yes is not on or off, using off");
    CHECK_STR_EQ(r.text[1], "event_idx=1 is not on or off, using on");
    CHECK(o.virtio_ctrl);
    CHECK_EQ(parse("ctrl=off", &o, &r), 0);
    CHECK(!o.virtio_ctrl && o.virtio_packed);
    CHECK_EQ(parse("packed=off packed=no", &o, &r), 1);
    CHECK(o.virtio_packed);
    CHECK_STR_EQ(r.text[0], "packed=no is not on or off, using on");
}

/* ---- virtio_mmio.device=SIZE@BASE:IRQ[:ID] ---- */

TEST(cmdline_virtio_mmio_device_as_qemu_appends_it)
{
    struct kernel_options o;
    struct reports r;
    CHECK_EQ(parse("ip=10.0.2.15/24 virtio_mmio.device=512@0xfeb00e00:12", &o, &r), 0);
    CHECK_EQ(r.count, 0); /* not an unknown key */
    CHECK_EQ(o.ip_mode, IP_MODE_STATIC);
    CHECK_EQ(o.mmio_count, 1);
    CHECK_EQ(o.mmio[0].base, 0xFEB00E00u);
    CHECK_EQ(o.mmio[0].size, 512u);
    CHECK_EQ(o.mmio[0].gsi, 12u);
    CHECK(o.mmio[0].line.level_triggered); /* docs/virtio.md: QEMU drives a level */
    CHECK(!o.mmio[0].line.active_low);

    /* Two devices, in the order given. */
    CHECK_EQ(parse("virtio_mmio.device=512@0xfeb00e00:12 virtio_mmio.device=512@0xfeb00c00:11", &o, &r), 0);
    CHECK_EQ(o.mmio_count, 2);
    CHECK_EQ(o.mmio[0].base, 0xFEB00E00u);
    CHECK_EQ(o.mmio[1].base, 0xFEB00C00u);
    CHECK_EQ(o.mmio[1].gsi, 11u);
}

TEST(cmdline_virtio_mmio_device_number_forms)
{
    static const struct {
        const char *value;
        uint64_t size, base;
        uint32_t irq;
    } cases[] = {
        { "4K@0xd0000000:5", 4096, 0xD0000000u, 5 },
        { "4k@0xD0000000:5", 4096, 0xD0000000u, 5 },
        { "1M@0x100000000:40", 1u << 20, 0x100000000ull, 40 },
        { "1G@0x80000000:0", 1u << 30, 0x80000000u, 0 },
        { "0x200@4272950784:12", 512, 0xFEB00E00u, 12 },   /* decimal base, hex size */
        { "01000@0xfeb00000:5", 512, 0xFEB00000u, 5 },     /* a leading 0 is octal, as in C */
        { "512@0xfeb00e00:12:3", 512, 0xFEB00E00u, 12 },   /* Linux's optional platform device id */
        { "512@0xfeb00e00:4294967295", 512, 0xFEB00E00u, 4294967295u },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct virtio_mmio_window w;
        memset(&w, 0xA5, sizeof(w));
        CHECK_EQ(parse_virtio_mmio_device(cases[i].value, &w), 0);
        CHECK_EQ(w.size, cases[i].size);
        CHECK_EQ(w.base, cases[i].base);
        CHECK_EQ(w.gsi, cases[i].irq);
    }
}

TEST(cmdline_virtio_mmio_device_malformed)
{
    static const char *const bad[] = {
        "", "512", "512@", "@0x1000:5", "512@0xfeb00e00", "512@0xfeb00e00:", "512@0xfeb00e00:x",
        "512@0xfeb00e00:12:", "512@0xfeb00e00:12x", "512@0xfeb00e00:12:3:4", "512@0xfeb00e00:0x12",
        "0@0xfeb00e00:12", "512@0:12", "512@0x:12", "512x@0x1000:5", "512KB@0x1000:5",
        "512@0xffffffffffffffff:1", "99999999999999999999@0x1000:1", "17179869184G@0x1000:1",
        "512@0x1000:4294967296", "-512@0x1000:5", "512 @0x1000:5",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct virtio_mmio_window w;
        CHECK_EQ(parse_virtio_mmio_device(bad[i], &w), -1);
    }
    CHECK_ONE_PROBLEM("virtio_mmio.device=512@0xfeb00e00", "virtio_mmio.device=512@0xfeb00e00 is not SIZE@BASE:IRQ[:ID], ignored");
    CHECK_ONE_PROBLEM("virtio_mmio.device=", "virtio_mmio.device= is not SIZE@BASE:IRQ[:ID], ignored");
}

TEST(cmdline_virtio_mmio_device_limit_and_duplicates)
{
    char line[CMDLINE_MAX] = "";
    for (int i = 0; i <= VIRTIO_MMIO_WINDOWS_MAX; i++) {
        char word[64];
        snprintf(word, sizeof(word), "%svirtio_mmio.device=512@0x%x:%d", i ? " " : "", 0xFEB00000u + 0x200u * (unsigned)i, 5 + i);
        strcat(line, word);
    }
    struct kernel_options o;
    struct reports r;
    CHECK_EQ(parse(line, &o, &r), 1);
    CHECK_STR_EQ(r.text[0], "virtio_mmio.device=512@0xfeb01000:13: more than 8 devices, ignored");
    CHECK_EQ(o.mmio_count, VIRTIO_MMIO_WINDOWS_MAX);
    CHECK_EQ(o.mmio[7].base, 0xFEB00E00u);
    CHECK_EQ(o.mmio[7].gsi, 12u);

    CHECK_EQ(parse("virtio_mmio.device=512@0xfeb00e00:12 virtio_mmio.device=1K@0xfeb00e00:7", &o, &r), 1);
    CHECK_STR_EQ(r.text[0], "virtio_mmio.device=1K@0xfeb00e00:7: the window at 0xfeb00e00 is already given, ignored");
    CHECK_EQ(o.mmio_count, 1);
    CHECK_EQ(o.mmio[0].gsi, 12u);
}
