/*
 * Formatted printing without a libc: %d %i %u %x %X %o %p %s %c %%, with the
 * flags '-' (left-justify) and '0' (zero-pad), a width (number or '*'), a
 * precision for strings and integers, and the length modifiers hh h l ll z j t.
 */
#ifndef LIB_PRINTF_H
#define LIB_PRINTF_H

#include <stdarg.h>
#include <stddef.h>

/* Receives the formatted output one chunk at a time. */
typedef void (*printf_sink)(const char *s, size_t n, void *ctx);

/* Formats into `sink`; returns the number of characters produced. */
int vcbprintf(printf_sink sink, void *ctx, const char *fmt, va_list ap);

/* Like C's: always NUL-terminates when size > 0; returns the untruncated length. */
int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int snprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
