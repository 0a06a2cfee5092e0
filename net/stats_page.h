/* /stats: every driver, stack and service counter in the Prometheus text
 * exposition format (version 0.0.4). */
#ifndef NET_STATS_PAGE_H
#define NET_STATS_PAGE_H

#include <stddef.h>
#include <stdint.h>

/* What the page shows that net/ does not own; kmain passes it down (net_config). */
struct stats_sources {
    /* Calls emit(ctx, vector, count, unclaimed) for each interrupt vector that fired. */
    void (*interrupt_counts)(void (*emit)(void *ctx, unsigned vector, uint64_t count, uint64_t unclaimed), void *ctx);
};

void stats_page_init(const struct stats_sources *src);

/* A kmalloc'ed text (the caller kfree()s it) and its length; NULL when out of memory. */
char *stats_page_render(size_t *len);

#endif
