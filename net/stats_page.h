/* /stats: every driver, stack and service counter in the Prometheus text
 * exposition format (version 0.0.4). */
#ifndef NET_STATS_PAGE_H
#define NET_STATS_PAGE_H

#include <stddef.h>

/* A kmalloc'ed text (the caller kfree()s it) and its length; NULL when out of memory. */
char *stats_page_render(size_t *len);

#endif
