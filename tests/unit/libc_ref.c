/* Compiled WITHOUT -Dsnprintf/-Dvsnprintf: these are libc's (see libc_ref.h). */
#include "tests/unit/libc_ref.h"

#include <stdio.h>

int libc_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
    return vsnprintf(buf, size, fmt, ap);
}

int libc_snprintf(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}
