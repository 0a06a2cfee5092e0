#include "net/lwip_pools.h"

#include "lib/kheap.h"
#include "lwip/memp.h"
#include "lwip/priv/memp_priv.h"
#include "net/lwip_hooks.h"

#ifndef LWIP_PATCH_POOL_MEMORY
#error "third_party/lwip lacks scripts/lwip-pool-memory.patch: run scripts/setup"
#endif

static uint16_t planned_tcp_pcbs = MEMP_NUM_TCP_PCB;
static struct lwip_pools_report report;

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

const struct lwip_pools_report *lwip_pools_report(void)
{
    return &report;
}

/* memp_init_pool asks for each pool's memory in turn. A heap that cannot
 * give a pool its count gives it half as many, down to none: lwIP then
 * refuses those allocations (counted in lwip_pool_errors_total) rather than
 * the kernel stopping. */
void net_memp_pool_memory(const struct memp_desc *desc, u8_t **base, u16_t *num)
{
    u16_t want = desc == memp_pools[MEMP_TCP_PCB] ? planned_tcp_pcbs : desc->num;
    size_t element = MEMP_SIZE + desc->size;
    u16_t n = want;
    void *memory = NULL;
    while (n && !(memory = kmalloc((size_t)n * element + MEM_ALIGNMENT - 1)))
        n /= 2;
    *base = memory;
    *num = n;
    report.bytes += (size_t)n * element;
    if (n < want)
        report.pools_short++;
    if (desc == memp_pools[MEMP_TCP_PCB]) {
        report.tcp_pcbs = n;
        report.tcp_pcbs_planned = want;
    }
}
