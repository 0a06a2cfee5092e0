/* What lwIP gets for <stdlib.h>: only atoi is used (netif.c). */
#ifndef NET_LIBC_STDLIB_H
#define NET_LIBC_STDLIB_H
int atoi(const char *s);
#endif
