/*
 * The kernel's only thread of control after init. Interrupt handlers record
 * work; this loop does it, then sleeps with `sti; hlt` until the next timer
 * deadline or interrupt (DESIGN.md, "Data path").
 */
#ifndef ARCH_X86_64_MAIN_LOOP_H
#define ARCH_X86_64_MAIN_LOOP_H

#include <stdbool.h>
#include <stdint.h>

/* Work to do on every pass, after polls and timers (e.g. the network
 * stack's own timeouts). */
struct main_loop_hook {
    void (*fn)(void *arg);
    void *arg;
    struct main_loop_hook *next;
};
void main_loop_add_hook(struct main_loop_hook *hook);

/* One pass: scheduled polls, due timers, hooks; then halt unless a poll is waiting. */
void main_loop_once(void);

__attribute__((noreturn)) void main_loop_run(void);

/* Runs the loop until done(ctx) is true or timeout_ns pass; returns done(ctx). */
bool main_loop_run_until(bool (*done)(void *ctx), void *ctx, uint64_t timeout_ns);

#endif
