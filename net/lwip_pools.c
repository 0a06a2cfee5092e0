#include "net/lwip_pools.h"

#include "lib/kheap.h"
#include "lwip/memp.h"
#include "lwip/priv/memp_priv.h"
#include "lwip/stats.h"
#include "net/lwip_hooks.h"

#ifndef LWIP_PATCH_POOL_MEMORY
#error "third_party/lwip lacks scripts/lwip-pool-memory.patch: run scripts/setup"
#endif

#if !MEMP_STATS
#error "lwip_pools_report reads what each pool got from lwIP's pool statistics (MEMP_STATS)"
#endif

static uint16_t planned_tcp_pcbs = MEMP_NUM_TCP_PCB;

uint16_t lwip_pools_tcp_pcbs_for(uint64_t free_bytes)
{
    uint64_t n = free_bytes / LWIP_POOLS_BYTES_PER_CONNECTION;
    if (n < LWIP_POOLS_TCP_PCBS_MIN)
        n = LWIP_POOLS_TCP_PCBS_MIN;
    if (n > MEMP_NUM_TCP_PCB)
        n = MEMP_NUM_TCP_PCB;
    return (uint16_t)n;
}

void lwip_pools_plan(uint64_t free_bytes)
{
    planned_tcp_pcbs = lwip_pools_tcp_pcbs_for(free_bytes);
}

static u16_t planned(const struct memp_desc *desc)
{
    return desc == memp_pools[MEMP_TCP_PCB] ? planned_tcp_pcbs : desc->num;
}

static size_t element_bytes(const struct memp_desc *desc)
{
    return MEMP_SIZE + desc->size;
}

/* memp_init_pool asks for each pool's memory in turn. A heap that cannot
 * give a pool its count gives it half as many, down to none: lwIP then
 * refuses those allocations (counted in lwip_pool_errors_total) rather than
 * the kernel stopping. */
void net_memp_pool_memory(const struct memp_desc *desc, u8_t **base, u16_t *num)
{
    u16_t n = planned(desc);
    void *memory = NULL;
    while (n && !(memory = kmalloc((size_t)n * element_bytes(desc) + MEM_ALIGNMENT - 1)))
        n /= 2;
    *base = memory;
    *num = n;
}

/* What each pool got is its `avail` in lwIP's statistics (the patch sets it). */
struct lwip_pools_report lwip_pools_report(void)
{
    struct lwip_pools_report r = { .tcp_pcbs = lwip_stats.memp[MEMP_TCP_PCB]->avail,
                                   .tcp_pcbs_planned = planned_tcp_pcbs };
    for (int i = 0; i < MEMP_MAX; i++) {
        mem_size_t got = lwip_stats.memp[i]->avail;
        r.bytes += (size_t)got * element_bytes(memp_pools[i]);
        r.pools_short += got < planned(memp_pools[i]);
    }
    return r;
}
