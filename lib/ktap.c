#include "lib/ktap.h"

#include <stdarg.h>

#include "lib/log.h"
#include "lib/printf.h"

void ktap_diag(const char *fmt, ...)
{
    char line[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    kprintf("# %s\n", line);
}
