#include "arch/x86_64/gdt.h"

/* 64-bit TSS layout (Intel SDM vol. 3A, 8.7 "Task management in 64-bit mode"). */
struct tss {
    uint32_t reserved0;
    uint64_t rsp[3];
    uint64_t reserved1;
    uint64_t ist[7];
    uint64_t reserved2;
    uint16_t reserved3;
    uint16_t iomap_base;
} __attribute__((packed));

/* Descriptor encodings (Intel SDM vol. 3A, 3.4.5): present, DPL 0, 4 GiB limit;
 * code has L=1 (64-bit), data is writable. */
#define DESC_KERNEL_CODE64 0x00AF9A000000FFFFULL
#define DESC_KERNEL_DATA 0x00CF92000000FFFFULL
#define DESC_TSS_AVAILABLE 0x89ULL /* present, type 9: available 64-bit TSS */

static struct tss kernel_tss;
static uint64_t kernel_gdt[5] __attribute__((aligned(16)));

struct descriptor_pointer {
    uint16_t limit;
    uint64_t base;
} __attribute__((packed));

void gdt_init(const uint64_t ist_tops[IST_COUNT])
{
    for (int i = 0; i < IST_COUNT; i++)
        kernel_tss.ist[i] = ist_tops[i];
    kernel_tss.iomap_base = sizeof(kernel_tss); /* no I/O permission bitmap */

    uint64_t base = (uint64_t)&kernel_tss;
    uint64_t limit = sizeof(kernel_tss) - 1;
    kernel_gdt[0] = 0;
    kernel_gdt[1] = DESC_KERNEL_CODE64;
    kernel_gdt[2] = DESC_KERNEL_DATA;
    kernel_gdt[3] = (limit & 0xFFFF) | ((base & 0xFFFFFF) << 16) | (DESC_TSS_AVAILABLE << 40) |
                    (((limit >> 16) & 0xF) << 48) | (((base >> 24) & 0xFF) << 56);
    kernel_gdt[4] = base >> 32;

    struct descriptor_pointer gdtr = { sizeof(kernel_gdt) - 1, (uint64_t)kernel_gdt };
    __asm__ volatile(
        "lgdt %0\n\t"
        "pushq %1\n\t"
        "leaq 1f(%%rip), %%rax\n\t"
        "pushq %%rax\n\t"
        "lretq\n"
        "1:\n\t"
        "movw %w2, %%ax\n\t"
        "movw %%ax, %%ds\n\t"
        "movw %%ax, %%es\n\t"
        "movw %%ax, %%ss\n\t"
        "movw %%ax, %%fs\n\t"
        "movw %%ax, %%gs\n\t"
        "ltr %w3"
        :
        : "m"(gdtr), "i"(GDT_KERNEL_CODE), "r"((uint32_t)GDT_KERNEL_DATA), "r"((uint32_t)GDT_TSS)
        : "rax", "memory");
}
