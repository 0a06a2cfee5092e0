/*
 * The host libc's snprintf, reachable from files compiled with snprintf
 * renamed to the kernel's: an oracle for the kernel's formatting.
 */
#ifndef TESTS_UNIT_LIBC_REF_H
#define TESTS_UNIT_LIBC_REF_H

#include <stdarg.h>
#include <stddef.h>

int libc_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int libc_snprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
