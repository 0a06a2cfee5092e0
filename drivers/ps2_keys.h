/*
 * Ctrl-Alt-Del in the byte stream of a PS/2 keyboard, as an i8042 hands it
 * over: scan code set 1 when the controller translates (QEMU's i8042 as the
 * firmware leaves it), set 2 when it does not (Firecracker's, whose
 * SendCtrlAltDel sends 14 11 E0 71: Ctrl, Alt, Delete, never released).
 * Pure logic: unit-tested on both sets.
 */
#ifndef DRIVERS_PS2_KEYS_H
#define DRIVERS_PS2_KEYS_H

#include <stdbool.h>
#include <stdint.h>

/* Starts as { .set2 = ... }, the rest zero: no key held. */
struct ps2_keys {
    bool set2;
    bool extended; /* after E0 */
    bool release;  /* set 2: after F0 */
    uint8_t held;  /* which Ctrl and Alt keys are down (bits in ps2_keys.c) */
};

/* Takes one byte; true when it completes a Delete pressed (either Delete
 * key) while a Ctrl and an Alt are held. */
bool ps2_keys_feed(struct ps2_keys *k, uint8_t byte);

#endif
