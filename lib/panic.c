#include "lib/panic.h"

#include <stdarg.h>

#include "lib/printf.h"

/* Static: panic() may run when the heap is broken or the stack nearly gone. */
static char panic_message[256];

void panic(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(panic_message, sizeof(panic_message), fmt, ap);
    va_end(ap);
    panic_report(panic_message);
}
