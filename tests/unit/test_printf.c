/*
 * lib/printf.c: every conversion, flag, width, precision and length modifier,
 * truncation and termination, checked against expected text and against the
 * host libc's snprintf as an oracle. (snprintf here is the kernel's: this file
 * is compiled with -Dsnprintf=k_snprintf -Dvsnprintf=k_vsnprintf.)
 */
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/printf.h"
#include "tests/unit/check.h"
#include "tests/unit/libc_ref.h"

#define OUT_MAX 512

/* The kernel's snprintf without the format attribute, for formats the
 * compiler would (rightly) reject: unknown conversions, a trailing '%'. */
static int kfmt_unchecked(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}

/* Formats into a fresh buffer with the kernel's snprintf, checks text and return value. */
#define CHECK_FMT(expected, ...)                                              \
    do {                                                                      \
        char out_[OUT_MAX];                                                   \
        memset(out_, 0x5a, sizeof(out_));                                     \
        int n_ = snprintf(out_, sizeof(out_), __VA_ARGS__);                   \
        CHECK_STR_EQ(out_, expected);                                         \
        CHECK_EQ(n_, (int)strlen(expected));                                  \
    } while (0)

/* For formats that are well defined but that gcc's format checker flags as
 * suspicious ('0' with '-' or with a precision, a repeated flag, a NULL %s,
 * an empty format): the same check with those diagnostics off. */
#define UNIT_FORMAT_CHECKS_OFF                                        \
    _Pragma("GCC diagnostic push")                                    \
    _Pragma("GCC diagnostic ignored \"-Wformat\"")                    \
    _Pragma("GCC diagnostic ignored \"-Wformat-overflow\"")           \
    _Pragma("GCC diagnostic ignored \"-Wformat-zero-length\"")
#define UNIT_FORMAT_CHECKS_ON _Pragma("GCC diagnostic pop")

#define CHECK_ODD_FMT(expected, ...)                                  \
    do {                                                              \
        UNIT_FORMAT_CHECKS_OFF                                        \
        CHECK_FMT(expected, __VA_ARGS__);                             \
        UNIT_FORMAT_CHECKS_ON                                         \
    } while (0)

#define SAME_AS_LIBC_ODD(...)                                         \
    do {                                                              \
        UNIT_FORMAT_CHECKS_OFF                                        \
        SAME_AS_LIBC(__VA_ARGS__);                                    \
        UNIT_FORMAT_CHECKS_ON                                         \
    } while (0)

/* Compares one kernel result with libc's; a mismatch names the format and the size. */
static void oracle_compare(const char *file, int line, const char *fmt_text, size_t size,
                           const char *kbuf, int kn, const char *lbuf, int ln)
{
    if (kn == ln && strcmp(kbuf, lbuf) == 0) {
        unit_pass();
        return;
    }
    unit_fail(file, line, "format %s, size %zu: kernel \"%s\" returned %d, libc \"%s\" returned %d",
              fmt_text, size, kbuf, kn, lbuf, ln);
}

/* Formats with both the kernel's snprintf and libc's, at full size and at
 * sizes that truncate (0, 1, 2, half, exact, one short), and compares the
 * text and the return value each time. Sizes are capped at OUT_MAX. */
#define SAME_AS_LIBC(...)                                                                       \
    do {                                                                                        \
        char full_[OUT_MAX];                                                                    \
        int len_ = libc_snprintf(full_, sizeof(full_), __VA_ARGS__);                            \
        size_t sizes_[] = { OUT_MAX, 0, 1, 2, (size_t)len_ / 2, (size_t)len_, (size_t)len_ + 1 }; \
        for (size_t i_ = 0; i_ < sizeof(sizes_) / sizeof(sizes_[0]); i_++) {                    \
            size_t sz_ = sizes_[i_] < OUT_MAX ? sizes_[i_] : OUT_MAX;                           \
            char kbuf_[OUT_MAX + 1], lbuf_[OUT_MAX + 1];                                        \
            memset(kbuf_, 0, sizeof(kbuf_));                                                    \
            memset(lbuf_, 0, sizeof(lbuf_));                                                    \
            int kn_ = snprintf(kbuf_, sz_, __VA_ARGS__);                                        \
            int ln_ = libc_snprintf(lbuf_, sz_, __VA_ARGS__);                                   \
            oracle_compare(__FILE__, __LINE__, #__VA_ARGS__, sz_, kbuf_, kn_, lbuf_, ln_);      \
        }                                                                                       \
    } while (0)

TEST(printf_plain_text)
{
    CHECK_FMT("", "%s", "");
    CHECK_FMT("hello, world", "hello, world");
    CHECK_FMT("100%", "100%%");
    CHECK_FMT("%%", "%%%%");
    CHECK_FMT("a%b", "a%cb", '%');

    char buf[8];
    memset(buf, 'x', sizeof(buf));
    CHECK_EQ(snprintf(buf, sizeof(buf), "%s", ""), 0);
    CHECK_EQ(buf[0], '\0');
    CHECK_EQ(buf[1], 'x');
}

TEST(printf_signed_decimal)
{
    CHECK_FMT("0", "%d", 0);
    CHECK_FMT("42", "%d", 42);
    CHECK_FMT("-42", "%d", -42);
    CHECK_FMT("-42", "%i", -42);
    CHECK_FMT("2147483647", "%d", INT_MAX);
    CHECK_FMT("-2147483648", "%d", INT_MIN);
    CHECK_FMT("-2147483648", "%i", INT_MIN);
    CHECK_FMT("-1 0 1", "%d %d %d", -1, 0, 1);
}

TEST(printf_signed_64bit)
{
    CHECK_FMT("-9223372036854775808", "%lld", LLONG_MIN);
    CHECK_FMT("9223372036854775807", "%lld", LLONG_MAX);
    CHECK_FMT("-9223372036854775808", "%ld", LONG_MIN);
    CHECK_FMT("-9223372036854775808", "%lli", LLONG_MIN);
    CHECK_FMT("-9223372036854775808", "%jd", INTMAX_MIN);
    CHECK_FMT("-9223372036854775808", "%td", PTRDIFF_MIN);
    CHECK_FMT("9223372036854775807", "%td", PTRDIFF_MAX);
    CHECK_FMT("-1", "%ld", -1L);
    /* A 64-bit value whose low 32 bits alone would print differently. */
    CHECK_FMT("4294967296", "%lld", 4294967296LL);
    CHECK_FMT("-4294967297", "%ld", -4294967297L);
}

TEST(printf_unsigned_decimal)
{
    CHECK_FMT("0", "%u", 0u);
    CHECK_FMT("4294967295", "%u", UINT_MAX);
    CHECK_FMT("18446744073709551615", "%lu", ULONG_MAX);
    CHECK_FMT("18446744073709551615", "%llu", ULLONG_MAX);
    CHECK_FMT("18446744073709551615", "%zu", SIZE_MAX);
    CHECK_FMT("18446744073709551615", "%ju", UINTMAX_MAX);
    CHECK_FMT("4294967296", "%zu", (size_t)4294967296ULL);
    /* -1 through %u is UINT_MAX, not a 64-bit value. */
    CHECK_FMT("4294967295", "%u", (unsigned)-1);
}

TEST(printf_hex_and_octal)
{
    CHECK_FMT("0", "%x", 0u);
    CHECK_FMT("deadbeef", "%x", 0xdeadbeefu);
    CHECK_FMT("DEADBEEF", "%X", 0xdeadbeefu);
    CHECK_FMT("ffffffffffffffff", "%lx", ULONG_MAX);
    CHECK_FMT("FFFFFFFFFFFFFFFF", "%llX", ULLONG_MAX);
    CHECK_FMT("123456789abcdef0", "%lx", 0x123456789abcdef0UL);
    CHECK_FMT("fedcba9876543210", "%zx", (size_t)0xfedcba9876543210ULL);
    CHECK_FMT("0", "%o", 0u);
    CHECK_FMT("10", "%o", 8u);
    CHECK_FMT("777", "%o", 0777u);
    CHECK_FMT("37777777777", "%o", UINT_MAX);
    /* 22 octal digits: the longest any conversion produces. */
    CHECK_FMT("1777777777777777777777", "%lo", ULONG_MAX);
    CHECK_FMT("1000000000000000000000", "%llo", 1ULL << 63);
}

TEST(printf_char)
{
    CHECK_FMT("A", "%c", 'A');
    CHECK_FMT("  A", "%3c", 'A');
    CHECK_FMT("A  |", "%-3c|", 'A');
    CHECK_FMT("xyz", "%c%c%c", 'x', 'y', 'z');
    /* %c of 0 puts a NUL in the middle and counts it. */
    char buf[8];
    memset(buf, 'q', sizeof(buf));
    CHECK_EQ(snprintf(buf, sizeof(buf), "a%cb", 0), 3);
    CHECK_EQ(buf[0], 'a');
    CHECK_EQ(buf[1], '\0');
    CHECK_EQ(buf[2], 'b');
    CHECK_EQ(buf[3], '\0');
    CHECK_EQ(buf[4], 'q');
    /* A char argument above 127 comes out as that byte. */
    CHECK_EQ(snprintf(buf, sizeof(buf), "%c", 0xe9), 1);
    CHECK_EQ((unsigned char)buf[0], 0xe9);
}

TEST(printf_string)
{
    CHECK_FMT("abc", "%s", "abc");
    CHECK_ODD_FMT("(null)", "%s", (const char *)NULL);
    CHECK_ODD_FMT("[(null)]", "[%s]", (const char *)NULL);
    CHECK_FMT("abc", "%.3s", "abcdef");
    CHECK_FMT("abc", "%.10s", "abc");
    CHECK_FMT("", "%.0s", "abc");
    CHECK_FMT("", "%.s", "abc");
    CHECK_FMT("  abc", "%5s", "abc");
    CHECK_FMT("abc  |", "%-5s|", "abc");
    CHECK_FMT("   ab", "%5.2s", "abc");
    CHECK_FMT("ab   |", "%-5.2s|", "abc");
    CHECK_FMT("abcdef", "%2s", "abcdef");
    CHECK_FMT("a b", "%s %s", "a", "b");
}

/* C11 7.21.6.1p8: with a precision, %s reads no more than that many bytes,
 * and the array need not hold a NUL. Under ASan an over-read aborts, hence
 * the child process. */
static int print_unterminated(void *arg)
{
    (void)arg;
    char *three = malloc(3); /* exactly "abc", no NUL */
    if (!three)
        return 3;
    memcpy(three, "abc", 3);
    char out[16];
    int n = snprintf(out, sizeof(out), "[%.3s]", three);
    int ok = n == 5 && strcmp(out, "[abc]") == 0;
    n = snprintf(out, sizeof(out), "[%.*s]", 2, three + 1);
    ok = ok && n == 4 && strcmp(out, "[bc]") == 0;
    free(three);
    return ok ? 0 : 2;
}

TEST(printf_string_precision_reads_no_further)
{
    CHECK_EQ(unit_run_in_child(print_unterminated, NULL), 0);
}

TEST(printf_width_and_flags)
{
    CHECK_FMT("   42", "%5d", 42);
    CHECK_FMT("  -42", "%5d", -42);
    CHECK_FMT("42   |", "%-5d|", 42);
    CHECK_FMT("-42  |", "%-5d|", -42);
    CHECK_FMT("00042", "%05d", 42);
    CHECK_FMT("-0042", "%05d", -42);
    CHECK_FMT("-2147483648", "%05d", INT_MIN);
    CHECK_ODD_FMT("00042", "%005d", 42);
    /* '-' overrides '0' in either order. */
    CHECK_ODD_FMT("42   |", "%-05d|", 42);
    CHECK_ODD_FMT("42   |", "%0-5d|", 42);
    /* A width smaller than the number does not cut it. */
    CHECK_FMT("12345", "%3d", 12345);
    CHECK_FMT("000000ff", "%08x", 0xffu);
    CHECK_FMT("      FF", "%8X", 0xffu);
    CHECK_FMT("ff      |", "%-8x|", 0xffu);
    CHECK_FMT("00000000000000000042", "%020llu", 42ULL);
    /* Zero-padding does not apply to %s and %c. */
    CHECK_ODD_FMT("  abc", "%05s", "abc");
    CHECK_ODD_FMT("    x", "%05c", 'x');
}

TEST(printf_star_width)
{
    CHECK_FMT("   42", "%*d", 5, 42);
    /* A negative '*' width is a '-' flag with the absolute width. */
    CHECK_FMT("42   |", "%*d|", -5, 42);
    CHECK_FMT("42   |", "%-*d|", -5, 42);
    CHECK_FMT("42   |", "%0*d|", -5, 42);
    CHECK_FMT("00042", "%0*d", 5, 42);
    CHECK_FMT("42", "%*d", 0, 42);
    CHECK_FMT("  abc", "%*s", 5, "abc");
    CHECK_FMT("abc  |", "%*s|", -5, "abc");
    CHECK_FMT("ab", "%.*s", 2, "abc");
    /* A negative '*' precision counts as none. */
    CHECK_FMT("abc", "%.*s", -1, "abc");
    CHECK_ODD_FMT("00005", "%05.*d", -1, 5);
    CHECK_FMT("     005", "%*.*d", 8, 3, 5);
    CHECK_FMT("005     |", "%*.*d|", -8, 3, 5);
    /* The arguments after a '*' are still the right ones. */
    CHECK_FMT("[  x][7]", "[%*c][%d]", 3, 'x', 7);
}

TEST(printf_integer_precision)
{
    /* Precision 0 and value 0: no digits at all. */
    CHECK_FMT("", "%.0d", 0);
    CHECK_FMT("", "%.d", 0);
    CHECK_FMT("     ", "%5.0d", 0);
    CHECK_FMT("", "%.0u", 0u);
    CHECK_FMT("", "%.0x", 0u);
    CHECK_FMT("", "%.0o", 0u);
    CHECK_FMT("[]", "[%.0lld]", 0LL);
    CHECK_FMT("1", "%.0d", 1);
    CHECK_FMT("0", "%.1d", 0);
    /* Precision is a minimum digit count. */
    CHECK_FMT("005", "%.3d", 5);
    CHECK_FMT("-005", "%.3d", -5);
    CHECK_FMT("12345", "%.3d", 12345);
    CHECK_FMT("000ff", "%.5x", 0xffu);
    /* With a precision the '0' flag is ignored. */
    CHECK_ODD_FMT("     005", "%08.3d", 5);
    CHECK_ODD_FMT("    -005", "%08.3d", -5);
    CHECK_FMT("005     |", "%-8.3d|", 5);
    CHECK_FMT("-0000000000000000000000000000042", "%.31d", -42);
}

TEST(printf_length_modifiers_truncate)
{
    /* hh and h convert the (promoted) argument to char and short. */
    CHECK_FMT("-56", "%hhd", 200);
    CHECK_FMT("127", "%hhd", -129);
    CHECK_FMT("-128", "%hhd", 128);
    CHECK_FMT("5", "%hhu", 261);
    CHECK_FMT("255", "%hhu", -1);
    CHECK_FMT("ff", "%hhx", 0x1ff);
    CHECK_FMT("-25536", "%hd", 40000);
    CHECK_FMT("4464", "%hu", 70000);
    CHECK_FMT("65535", "%hu", -1);
    CHECK_FMT("2345", "%hx", 0x12345);
    CHECK_FMT("-32768", "%hi", 32768);
    /* A following argument is not disturbed by a narrowed one. */
    CHECK_FMT("-1 9", "%hhd %d", 255, 9);
}

TEST(printf_pointer)
{
    CHECK_FMT("0x1234", "%p", (void *)0x1234);
    CHECK_FMT("0xffff800000001000", "%p", (void *)0xffff800000001000ULL);
    CHECK_FMT("0xffffffffffffffff", "%p", (void *)UINTPTR_MAX);
    /* Unlike glibc's "(nil)": the kernel prints NULL as an address. */
    CHECK_FMT("0x0", "%p", (void *)NULL);
    CHECK_FMT("  0xabc", "%7p", (void *)0xabc);
    CHECK_FMT("0xabc  |", "%-7p|", (void *)0xabc);
    int local;
    char expect[32];
    CHECK(libc_snprintf(expect, sizeof(expect), "%p", (void *)&local) > 2);
    CHECK_FMT(expect, "%p", (void *)&local);
}

TEST(printf_unknown_conversions_are_shown)
{
    char buf[32];
    CHECK_EQ(kfmt_unchecked(buf, sizeof(buf), "%y"), 2);
    CHECK_STR_EQ(buf, "%y");
    /* An unknown conversion consumes no argument. */
    CHECK_EQ(kfmt_unchecked(buf, sizeof(buf), "%+d|%d", 1, 2), 5);
    CHECK_STR_EQ(buf, "%+d|1");
    CHECK_EQ(kfmt_unchecked(buf, sizeof(buf), "a%5y!"), 5);
    CHECK_STR_EQ(buf, "a%5y!");
    /* A '%' at the very end is printed as it is. */
    CHECK_EQ(kfmt_unchecked(buf, sizeof(buf), "50%"), 3);
    CHECK_STR_EQ(buf, "50%");
    CHECK_EQ(kfmt_unchecked(buf, sizeof(buf), "x%-08"), 5);
    CHECK_STR_EQ(buf, "x%-08");
    CHECK_EQ(kfmt_unchecked(buf, sizeof(buf), "x%ll"), 4);
    CHECK_STR_EQ(buf, "x%ll");
    /* %n is not supported: it must print, never write through the argument. */
    int target = 1234;
    CHECK_EQ(kfmt_unchecked(buf, sizeof(buf), "ab%n", &target), 4);
    CHECK_STR_EQ(buf, "ab%n");
    CHECK_EQ(target, 1234);
}

TEST(printf_return_value_is_untruncated_length)
{
    char buf[8];
    memset(buf, 'x', sizeof(buf));
    CHECK_EQ(snprintf(buf, 5, "hello world"), 11);
    CHECK_STR_EQ(buf, "hell");
    CHECK_EQ(buf[5], 'x');

    memset(buf, 'x', sizeof(buf));
    CHECK_EQ(snprintf(buf, 6, "%d", -123456789), 10);
    CHECK_STR_EQ(buf, "-1234");
    CHECK_EQ(buf[6], 'x');

    /* Exactly fitting, and one short. */
    memset(buf, 'x', sizeof(buf));
    CHECK_EQ(snprintf(buf, 4, "abc"), 3);
    CHECK_STR_EQ(buf, "abc");
    memset(buf, 'x', sizeof(buf));
    CHECK_EQ(snprintf(buf, 3, "abc"), 3);
    CHECK_STR_EQ(buf, "ab");
    CHECK_EQ(buf[3], 'x');

    /* Padding counts too, even when none of it fits. */
    memset(buf, 'x', sizeof(buf));
    CHECK_EQ(snprintf(buf, sizeof(buf), "%300d", 7), 300);
    CHECK_STR_EQ(buf, "       ");
    memset(buf, 'x', sizeof(buf));
    CHECK_EQ(snprintf(buf, sizeof(buf), "%-300d", 7), 300);
    CHECK_STR_EQ(buf, "7      ");
    memset(buf, 'x', sizeof(buf));
    CHECK_EQ(snprintf(buf, sizeof(buf), "%0300d", -7), 300);
    CHECK_STR_EQ(buf, "-000000");
}

TEST(printf_size_one_and_zero)
{
    char buf[4] = { 'x', 'x', 'x', 'x' };
    CHECK_EQ(snprintf(buf, 1, "abc"), 3);
    CHECK_EQ(buf[0], '\0');
    CHECK_EQ(buf[1], 'x');

    memset(buf, 'x', sizeof(buf));
    CHECK_EQ(snprintf(buf, 0, "abc%d", 12), 5);
    CHECK_EQ(buf[0], 'x');
    CHECK_EQ(buf[1], 'x');

    /* Size 0 with no buffer: only the length is computed. */
    CHECK_EQ(snprintf(NULL, 0, "%s-%d", "abc", 12345), 9);
    UNIT_FORMAT_CHECKS_OFF
    CHECK_EQ(snprintf(NULL, 0, ""), 0);
    UNIT_FORMAT_CHECKS_ON
}

TEST(printf_long_output_fills_exactly)
{
    char big[600];
    memset(big, 'x', sizeof(big));
    /* One byte short: the last digit gives way to the NUL. */
    int n = snprintf(big, 394, "%s%0390d", "head", 1);
    CHECK_EQ(n, 394);
    CHECK_EQ(strlen(big), 393);
    CHECK_EQ(big[393], '\0');
    CHECK_EQ(big[392], '0');
    CHECK_EQ(big[0], 'h');
    CHECK_EQ(big[394], 'x');

    n = snprintf(big, sizeof(big), "%s%0390d", "head", 1);
    CHECK_EQ(n, 394);
    CHECK_EQ(strlen(big), 394);
    CHECK_EQ(big[393], '1');
    CHECK_EQ(big[392], '0');
    CHECK_EQ(big[4], '0');
}

/* vcbprintf: the sink sees every byte, in order, and the count matches. */
struct collect {
    char text[256];
    size_t used;
    int calls;
    int zero_length_calls;
};

static void collect_sink(const char *s, size_t n, void *ctx)
{
    struct collect *c = ctx;
    c->calls++;
    if (n == 0)
        c->zero_length_calls++;
    for (size_t i = 0; i < n && c->used + 1 < sizeof(c->text); i++)
        c->text[c->used++] = s[i];
    c->text[c->used] = '\0';
}

static int collect_printf(struct collect *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int collect_printf(struct collect *c, const char *fmt, ...)
{
    memset(c, 0, sizeof(*c));
    va_list ap;
    va_start(ap, fmt);
    int n = vcbprintf(collect_sink, c, fmt, ap);
    va_end(ap);
    return n;
}

TEST(printf_vcbprintf_sink)
{
    struct collect c;
    CHECK_EQ(collect_printf(&c, "x=%d y=%s %5x%%", -3, "yes", 0xabu), 17);
    CHECK_STR_EQ(c.text, "x=-3 y=yes    ab%");
    CHECK_EQ(c.used, 17);
    CHECK(c.calls >= 1);

    /* Padding longer than one chunk of the pad buffer. */
    CHECK_EQ(collect_printf(&c, "%40d|%-40s|", 1, "a"), 82);
    CHECK_EQ(c.used, 82);
    CHECK_EQ(c.text[39], '1');
    CHECK_EQ(c.text[38], ' ');
    CHECK_EQ(c.text[40], '|');
    CHECK_EQ(c.text[41], 'a');
    CHECK_EQ(c.text[81], '|');

    CHECK_EQ(collect_printf(&c, "%s", ""), 0);
    CHECK_EQ(c.used, 0);
}

/* The host's snprintf as the oracle, over formats where the two must agree
 * (not %p of NULL, which glibc prints as "(nil)"). */
TEST(printf_matches_libc)
{
    SAME_AS_LIBC("plain text");
    SAME_AS_LIBC("%d|%i|%u|%x|%X|%o", -17, 17, 17u, 0xbeefu, 0xbeefu, 017u);
    SAME_AS_LIBC("%d %d %d", INT_MIN, INT_MAX, 0);
    SAME_AS_LIBC("%lld %lld %llu", LLONG_MIN, LLONG_MAX, ULLONG_MAX);
    SAME_AS_LIBC("%ld %lu %lx %lo", LONG_MIN, ULONG_MAX, ULONG_MAX, ULONG_MAX);
    SAME_AS_LIBC("%zu %zx %jd %ju %td", SIZE_MAX, (size_t)0x1234, INTMAX_MIN, UINTMAX_MAX, PTRDIFF_MIN);
    SAME_AS_LIBC("%hhd %hhu %hhx %hd %hu %hx", 200, 261, 0x1ff, 40000, 70000, 0x12345);
    SAME_AS_LIBC_ODD("[%5d] [%-5d] [%05d] [%-05d] [%5d]", 42, 42, 42, 42, -42);
    SAME_AS_LIBC("[%05d] [%010d] [%010lld]", -42, INT_MIN, LLONG_MIN);
    SAME_AS_LIBC("[%*d] [%*d] [%-*d] [%0*d]", 6, 1, -6, 2, 6, 3, -6, 4);
    SAME_AS_LIBC("[%.0d] [%5.0d] [%.0x] [%.0o] [%.0u] [%-3.0d]", 0, 0, 0u, 0u, 0u, 0);
    SAME_AS_LIBC_ODD("[%.3d] [%.3d] [%08.3d] [%-8.3d] [%8.3x]", 7, -7, 7, -7, 0xau);
    SAME_AS_LIBC("[%.*d] [%.*d] [%*.*d]", 4, 9, -2, 9, 7, 4, -9);
    SAME_AS_LIBC_ODD("[%05.*d]", -1, 5);
    SAME_AS_LIBC("[%s] [%10s] [%-10s] [%.2s] [%8.3s] [%-8.3s] [%.0s]", "str", "str", "str", "str", "string",
                 "string", "str");
    SAME_AS_LIBC("[%.*s] [%*s] [%.*s]", 3, "abcdef", -4, "ab", -1, "abc");
    SAME_AS_LIBC("[%c] [%3c] [%-3c]", 'a', 'b', 'c');
    SAME_AS_LIBC("[%p] [%20p] [%-20p]", (void *)0x7fff1234, (void *)0xdead, (void *)0xffff800000000000ULL);
    SAME_AS_LIBC("%%|%5s%%|%-5s%%", "a", "b");
    SAME_AS_LIBC("%s=%d, %s=0x%08x (%c)", "rx", 1024, "flags", 0x80000001u, 'Z');
    SAME_AS_LIBC("[%300d]", 12345);
    SAME_AS_LIBC("[%-300s]", "left");
    SAME_AS_LIBC("%.40d", -1);
    SAME_AS_LIBC("%llx %llX %llo", 0x8000000000000000ULL, 0xabcdef0123456789ULL, 0x8000000000000000ULL);
    SAME_AS_LIBC("%hhd|%hhd|%hd|%hd", -128, 127, -32768, 32767);
}
