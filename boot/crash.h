/* Deliberate faults on request (`crash=KIND`), to prove the PANIC path end to end. */
#ifndef BOOT_CRASH_H
#define BOOT_CRASH_H

#include <stdbool.h>

bool crash_kind_known(const char *kind);

/* Faults as `kind` asks; returns only if the fault did not happen. */
void crash_now(const char *kind);

#endif
