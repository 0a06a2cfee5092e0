/*
 * Memory ordering for memory shared with devices. x86-64 keeps stores in
 * order with stores and loads with loads (TSO), so write and read barriers
 * only have to stop the compiler; a store followed by a load of another
 * location needs a real fence.
 */
#ifndef ARCH_X86_64_BARRIER_H
#define ARCH_X86_64_BARRIER_H

#define compiler_barrier() __asm__ volatile("" ::: "memory")
#define dma_wmb() compiler_barrier()
#define dma_rmb() compiler_barrier()
#define dma_mb() __asm__ volatile("mfence" ::: "memory")

#endif
