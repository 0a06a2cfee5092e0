/*
 * In-guest self-tests report in KTAP (the line format of Linux's KUnit):
 * `KTAP version 1`, `1..N`, then `ok N name` or `not ok N name # reason`;
 * diagnostics are lines starting with `# `. A test is a function of this
 * type; boot/selftest.c runs the ones the command line names.
 */
#ifndef LIB_KTAP_H
#define LIB_KTAP_H

#include <stddef.h>

/* A test returns 0 on success, or a negative value with `reason` filled in. */
typedef int (*selftest_fn)(char *reason, size_t reason_size);

/* Prints a KTAP diagnostic line ("# ..."). */
void ktap_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
