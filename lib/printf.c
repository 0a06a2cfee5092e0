#include "lib/printf.h"

#include <stdbool.h>
#include <stdint.h>

struct spec {
    bool left;      /* '-' */
    bool zero;      /* '0' */
    int width;
    int precision;  /* -1 when absent */
};

static void emit_padding(printf_sink sink, void *ctx, char c, int count)
{
    static const char spaces[16] = "                ";
    static const char zeros[16] = "0000000000000000";
    const char *run = c == '0' ? zeros : spaces;
    while (count > 0) {
        int n = count < 16 ? count : 16;
        sink(run, (size_t)n, ctx);
        count -= n;
    }
}

/* Emits `body` (length n) with an optional sign/prefix, honouring width and flags. */
static int emit_field(printf_sink sink, void *ctx, const struct spec *sp,
                      const char *prefix, const char *body, int n, int min_digits)
{
    int plen = 0;
    while (prefix[plen])
        plen++;
    int digits_pad = min_digits > n ? min_digits - n : 0;
    int total = plen + digits_pad + n;
    int pad = sp->width > total ? sp->width - total : 0;

    if (!sp->left && !sp->zero)
        emit_padding(sink, ctx, ' ', pad);
    if (plen)
        sink(prefix, (size_t)plen, ctx);
    if (!sp->left && sp->zero)
        emit_padding(sink, ctx, '0', pad);
    emit_padding(sink, ctx, '0', digits_pad);
    sink(body, (size_t)n, ctx);
    if (sp->left)
        emit_padding(sink, ctx, ' ', pad);
    return total + pad;
}

static int format_unsigned(char *out_end, uint64_t v, unsigned base, bool upper)
{
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    char *p = out_end;
    do {
        *--p = digits[v % base];
        v /= base;
    } while (v);
    return (int)(out_end - p);
}

int vcbprintf(printf_sink sink, void *ctx, const char *fmt, va_list ap)
{
    int count = 0;
    va_list args;
    va_copy(args, ap);

    while (*fmt) {
        if (*fmt != '%') {
            const char *start = fmt;
            while (*fmt && *fmt != '%')
                fmt++;
            sink(start, (size_t)(fmt - start), ctx);
            count += (int)(fmt - start);
            continue;
        }
        const char *conv_start = fmt++;

        struct spec sp = { .precision = -1 };
        for (;; fmt++) {
            if (*fmt == '-')
                sp.left = true;
            else if (*fmt == '0')
                sp.zero = true;
            else
                break;
        }
        if (*fmt == '*') {
            sp.width = va_arg(args, int);
            if (sp.width < 0) {
                sp.left = true;
                sp.width = -sp.width;
            }
            fmt++;
        } else {
            while (*fmt >= '0' && *fmt <= '9')
                sp.width = sp.width * 10 + (*fmt++ - '0');
        }
        if (*fmt == '.') {
            fmt++;
            sp.precision = 0;
            if (*fmt == '*') {
                sp.precision = va_arg(args, int);
                fmt++;
            } else {
                while (*fmt >= '0' && *fmt <= '9')
                    sp.precision = sp.precision * 10 + (*fmt++ - '0');
            }
        }
        if (sp.left)
            sp.zero = false;

        /* Length modifier: how many bytes the integer argument has. */
        int size = sizeof(int);
        if (fmt[0] == 'h' && fmt[1] == 'h') {
            size = 1; fmt += 2;
        } else if (*fmt == 'h') {
            size = 2; fmt++;
        } else if (fmt[0] == 'l' && fmt[1] == 'l') {
            size = sizeof(long long); fmt += 2;
        } else if (*fmt == 'l' || *fmt == 'z' || *fmt == 'j' || *fmt == 't') {
            size = 8; fmt++;
        }

        char buf[24]; /* 22 octal digits hold 64 bits */
        char *end = buf + sizeof(buf);
        char c = *fmt ? *fmt++ : '\0';
        switch (c) {
        case 'd':
        case 'i': {
            int64_t v = size == 8 ? va_arg(args, int64_t) : va_arg(args, int);
            if (size == 1) v = (signed char)v;
            if (size == 2) v = (short)v;
            uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
            int n = (sp.precision == 0 && v == 0) ? 0 : format_unsigned(end, mag, 10, false);
            if (sp.precision >= 0)
                sp.zero = false;
            count += emit_field(sink, ctx, &sp, v < 0 ? "-" : "", end - n, n, sp.precision);
            break;
        }
        case 'u':
        case 'x':
        case 'X':
        case 'o': {
            uint64_t v = size == 8 ? va_arg(args, uint64_t) : va_arg(args, unsigned int);
            if (size == 1) v = (unsigned char)v;
            if (size == 2) v = (unsigned short)v;
            unsigned base = c == 'u' ? 10 : c == 'o' ? 8 : 16;
            int n = (sp.precision == 0 && v == 0) ? 0 : format_unsigned(end, v, base, c == 'X');
            if (sp.precision >= 0)
                sp.zero = false;
            count += emit_field(sink, ctx, &sp, "", end - n, n, sp.precision);
            break;
        }
        case 'p': {
            uintptr_t v = (uintptr_t)va_arg(args, void *);
            int n = format_unsigned(end, v, 16, false);
            count += emit_field(sink, ctx, &sp, "0x", end - n, n, 0);
            break;
        }
        case 's': {
            const char *s = va_arg(args, const char *);
            if (!s)
                s = "(null)";
            int n = 0;
            while ((sp.precision < 0 || n < sp.precision) && s[n])
                n++;
            sp.zero = false;
            count += emit_field(sink, ctx, &sp, "", s, n, 0);
            break;
        }
        case 'c': {
            char ch = (char)va_arg(args, int);
            sp.zero = false;
            count += emit_field(sink, ctx, &sp, "", &ch, 1, 0);
            break;
        }
        case '%':
            sink("%", 1, ctx);
            count++;
            break;
        default:
            /* Unknown conversion: print it as written so the mistake is visible. */
            sink(conv_start, (size_t)(fmt - conv_start), ctx);
            count += (int)(fmt - conv_start);
            if (c == '\0')
                goto out;
            break;
        }
    }
out:
    va_end(args);
    return count;
}

struct buffer_sink {
    char *buf;
    size_t size;
    size_t used;
};

static void buffer_sink_write(const char *s, size_t n, void *ctx)
{
    struct buffer_sink *b = ctx;
    for (size_t i = 0; i < n; i++, b->used++)
        if (b->used + 1 < b->size)
            b->buf[b->used] = s[i];
}

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
    struct buffer_sink b = { buf, size, 0 };
    int n = vcbprintf(buffer_sink_write, &b, fmt, ap);
    if (size > 0)
        buf[b.used < size ? b.used : size - 1] = '\0';
    return n;
}

int snprintf(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}
