/*
 * In-guest self-tests (`selftest=NAME[,NAME]` or `selftest=all`): code only
 * the real machine can exercise. Results are KTAP (the line format of Linux's
 * KUnit): `KTAP version 1`, `1..N`, then `ok N name` or `not ok N name # reason`;
 * diagnostics are lines starting with `# `. QEMU then exits with the verdict.
 */
#ifndef BOOT_SELFTEST_H
#define BOOT_SELFTEST_H

#include <stddef.h>

/* A test returns 0 on success, or a negative value with `reason` filled in. */
typedef int (*selftest_fn)(char *reason, size_t reason_size);

/* Prints a KTAP diagnostic line ("# ..."). */
void ktap_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Runs the named tests and ends the machine: success only if all passed. */
__attribute__((noreturn)) void selftest_run(const char *spec);

#endif
