/*
 * What every entry point (boot/efi_main.c, boot/pvh_main.c) does before it
 * hands boot_info to kmain: the console and the clock first, then the
 * command line. The entry itself seeds the stack protector: that must happen
 * in a function that never returns.
 */
#ifndef BOOT_ENTRY_COMMON_H
#define BOOT_ENTRY_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "boot/boot_info.h"

/* Starts the clock at `entry_tsc`, the serial console and the TSC
 * calibration. .bss must be clear. Logs nothing but warnings: the level is
 * not known yet. */
void entry_console_and_clock(uint64_t entry_tsc);

/* The entry's copy of its command line stopped at `size` - 1 characters,
 * `next` the first left out: drops the word cut in two and says so. */
void entry_cmdline_cut(char *line, size_t size, char next);

/* Parses bi->cmdline into bi->options, sets the log level from it, then logs
 * the image, the clock and the line; waits for a debugger on gdb=wait. The
 * console is deferred from the first line, synchronous from here on with
 * log=debug or gdb=wait. */
void entry_parse_cmdline(struct boot_info *bi);

#endif
