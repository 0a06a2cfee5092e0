/* COM1 16550 UART at 115200 8N1: the console (DESIGN.md, "Serial console"). */
#ifndef DRIVERS_SERIAL_H
#define DRIVERS_SERIAL_H

#include <stddef.h>

void serial_init(void);
void serial_write(const char *s, size_t n);

#endif
