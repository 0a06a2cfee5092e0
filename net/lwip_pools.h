/*
 * lwIP's pools get their memory from the kernel heap when lwip_init runs,
 * through LWIP_HOOK_MEMP_POOL_MEMORY (scripts/lwip-pool-memory.patch), not
 * from arrays in the image: the EFI image then leaves OVMF room at -m 40,
 * and the number of TCP PCBs, which caps concurrent connections, follows
 * the memory the guest has. Every other pool keeps its lwipopts.h count.
 */
#ifndef NET_LWIP_POOLS_H
#define NET_LWIP_POOLS_H

#include <stddef.h>
#include <stdint.h>

/* What one connection may cost the heap at most besides its PCB: HTTP's
 * request and header buffers (about 10 KiB), twice over for what TCP holds
 * for it and for fragmentation. So connections can take at most about 40 %
 * of the memory free when lwIP starts. */
#define LWIP_POOLS_BYTES_PER_CONNECTION (24u * 1024)
#define LWIP_POOLS_TCP_PCBS_MIN 64

/* TCP PCBs for `free_bytes` of free memory: one per
 * LWIP_POOLS_BYTES_PER_CONNECTION, from LWIP_POOLS_TCP_PCBS_MIN to
 * MEMP_NUM_TCP_PCB. Pure. */
uint16_t lwip_pools_tcp_pcbs_for(uint64_t free_bytes);

/* Before lwip_init: the free memory the pools are sized from. */
void lwip_pools_plan(uint64_t free_bytes);

struct lwip_pools_report {
    size_t bytes;          /* heap taken by every pool */
    uint16_t tcp_pcbs;     /* TCP PCBs made */
    uint16_t tcp_pcbs_planned;
    uint16_t pools_short;  /* pools given fewer elements than planned (the heap refused) */
};

/* After lwip_init: what the pools got. */
struct lwip_pools_report lwip_pools_report(void);

#endif
