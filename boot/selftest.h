/*
 * In-guest self-tests (`selftest=NAME[,NAME]` or `selftest=all`): code only
 * the real machine can exercise. Results are KTAP (the line format of Linux's
 * KUnit): `KTAP version 1`, `1..N`, then `ok N name` or `not ok N name # reason`;
 * diagnostics are lines starting with `# `. QEMU then exits with the verdict.
 */
#ifndef BOOT_SELFTEST_H
#define BOOT_SELFTEST_H

#include "lib/ktap.h"

/* Runs the named tests and ends the machine: success only if all passed. */
__attribute__((noreturn)) void selftest_run(const char *spec);

#endif
