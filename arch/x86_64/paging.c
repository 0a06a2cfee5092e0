#include "arch/x86_64/paging.h"

#include <stddef.h>

#include "arch/x86_64/cpu.h"

/* Page-table entry bits (Intel SDM vol. 3A, 4.5, tables 4-15 to 4-20). */
#define PTE_PRESENT (1ULL << 0)
#define PTE_WRITE (1ULL << 1)
#define PTE_PWT (1ULL << 3)
#define PTE_PCD (1ULL << 4)
#define PTE_LARGE (1ULL << 7) /* PS: in a PD entry, maps 2 MiB */
#define PTE_NX (1ULL << 63)
#define PTE_ADDR_MASK 0x000FFFFFFFFFF000ULL
#define PTE_LEAF_FLAGS (PTE_PRESENT | PTE_WRITE | PTE_PWT | PTE_PCD | PTE_NX)

#define ENTRIES 512
#define SIZE_4K 0x1000ULL
#define SIZE_2M 0x200000ULL

static uint64_t *pml4;
static page_table_alloc_fn table_alloc;
static page_table_free_fn table_free;
static bool active;
static bool nx_supported;

static unsigned index_at(uint64_t addr, int level) /* level 3 = PML4 ... 0 = PT */
{
    return (addr >> (12 + 9 * level)) & (ENTRIES - 1);
}

static uint64_t *table_at(uint64_t entry)
{
    return (uint64_t *)(entry & PTE_ADDR_MASK);
}

bool paging_nx_supported(void)
{
    return nx_supported;
}

int paging_begin(page_table_alloc_fn alloc, page_table_free_fn release)
{
    table_alloc = alloc;
    table_free = release;
    nx_supported = cpuid(0x80000000u, 0).eax >= 0x80000001u &&
                   (cpuid(0x80000001u, 0).edx & CPUID_80000001_EDX_NX);
    pml4 = (uint64_t *)table_alloc();
    return pml4 ? 0 : -1;
}

static uint64_t leaf_flags(unsigned attrs)
{
    uint64_t f = PTE_PRESENT;
    if (attrs & PAGE_WRITE)
        f |= PTE_WRITE;
    if (attrs & PAGE_UNCACHED)
        f |= PTE_PCD | PTE_PWT;
    if (!(attrs & PAGE_EXEC) && nx_supported)
        f |= PTE_NX;
    return f;
}

/* The table an entry points to, created (empty, or split from a 2 MiB page) if needed. */
static uint64_t *next_table(uint64_t *entry)
{
    if ((*entry & PTE_PRESENT) && !(*entry & PTE_LARGE))
        return table_at(*entry);
    uint64_t *table = (uint64_t *)table_alloc();
    if (!table)
        return NULL;
    if (*entry & PTE_LARGE) {
        /* Only PD entries are ever large here: split into 512 4 KiB pages alike. */
        uint64_t base = *entry & PTE_ADDR_MASK & ~(SIZE_2M - 1);
        for (int i = 0; i < ENTRIES; i++)
            table[i] = (base + i * SIZE_4K) | (*entry & PTE_LEAF_FLAGS);
    }
    /* Intermediate levels allow everything; the leaf decides. */
    *entry = (uint64_t)table | PTE_PRESENT | PTE_WRITE;
    return table;
}

/* The PD entry covering addr, creating the PML4/PDPT levels on the way. */
static uint64_t *pd_entry(uint64_t addr)
{
    uint64_t *pdpt = next_table(&pml4[index_at(addr, 3)]);
    if (!pdpt)
        return NULL;
    uint64_t *pd = next_table(&pdpt[index_at(addr, 2)]);
    return pd ? &pd[index_at(addr, 1)] : NULL;
}

static int set_leaf(uint64_t addr, uint64_t entry, bool large)
{
    uint64_t *pde = pd_entry(addr);
    if (!pde)
        return -1;
    if (large) {
        if ((*pde & PTE_PRESENT) && !(*pde & PTE_LARGE))
            table_free(*pde & PTE_ADDR_MASK);
        *pde = entry;
        return 0;
    }
    if (!(*pde & PTE_PRESENT) && !entry)
        return 0; /* unmapping what was never mapped */
    uint64_t *pt = next_table(pde);
    if (!pt)
        return -1;
    pt[index_at(addr, 0)] = entry;
    return 0;
}

static void flush_tlb(void)
{
    if (active)
        write_cr3(read_cr3());
}

int paging_map(uint64_t addr, uint64_t size, unsigned attrs)
{
    uint64_t start = addr & ~(SIZE_4K - 1);
    uint64_t end = (addr + size + SIZE_4K - 1) & ~(SIZE_4K - 1);
    uint64_t flags = leaf_flags(attrs);
    int rc = 0;
    for (uint64_t a = start; a < end && rc == 0;) {
        if (a % SIZE_2M == 0 && end - a >= SIZE_2M) {
            rc = set_leaf(a, a | flags | PTE_LARGE, true);
            a += SIZE_2M;
        } else {
            rc = set_leaf(a, a | flags, false);
            a += SIZE_4K;
        }
    }
    flush_tlb();
    return rc;
}

int paging_unmap(uint64_t addr, uint64_t size)
{
    uint64_t start = addr & ~(SIZE_4K - 1);
    uint64_t end = (addr + size + SIZE_4K - 1) & ~(SIZE_4K - 1);
    int rc = 0;
    for (uint64_t a = start; a < end && rc == 0; a += SIZE_4K)
        rc = set_leaf(a, 0, false);
    flush_tlb();
    return rc;
}

void paging_activate(void)
{
    if (nx_supported)
        wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_NXE);
    write_cr0(read_cr0() | CR0_WP); /* kernel writes honour read-only pages */
    write_cr3((uint64_t)pml4);
    active = true;
}

#define CR4_LA57 (1ULL << 12)

/* `table`, which maps from `va` on, and the tables below it on the way to
 * addresses under `below`; level 0 is a PT. At most `left` pages. */
static unsigned walk_tables(uint64_t table, int level, uint64_t va, uint64_t below, void (*fn)(uint64_t page),
                            unsigned left)
{
    fn(table);
    unsigned seen = 1;
    const uint64_t *t = (const uint64_t *)table;
    uint64_t span = 1ULL << (12 + 9 * level); /* what one entry maps */
    for (int i = 0; level > 0 && i < ENTRIES && va + i * span < below && seen < left; i++) {
        /* PS maps 1 GiB in a PDPT entry and 2 MiB in a PD entry: a page, not a table. */
        if ((t[i] & PTE_PRESENT) && !(level <= 2 && (t[i] & PTE_LARGE)))
            seen += walk_tables(t[i] & PTE_ADDR_MASK, level - 1, va + i * span, below, fn, left - seen);
    }
    return seen;
}

void paging_for_each_firmware_table(uint64_t below, void (*fn)(uint64_t page))
{
    if (!active)
        walk_tables(read_cr3() & PTE_ADDR_MASK, (read_cr4() & CR4_LA57) ? 4 : 3, 0, below, fn,
                    PAGING_FIRMWARE_TABLES_MAX);
}

bool paging_is_mapped(uint64_t addr)
{
    if (!pml4)
        return false;
    uint64_t e = pml4[index_at(addr, 3)];
    for (int level = 2; level >= 0; level--) {
        if (!(e & PTE_PRESENT))
            return false;
        e = table_at(e)[index_at(addr, level)];
        if (level == 1 && (e & PTE_LARGE))
            return e & PTE_PRESENT;
    }
    return e & PTE_PRESENT;
}

const void *paging_map_firmware(uint64_t addr, uint64_t size)
{
    /* Page by page: a page already mapped (RAM beside the table) keeps its mapping. */
    for (uint64_t a = addr & ~(SIZE_4K - 1); a < addr + size; a += SIZE_4K)
        if (!paging_is_mapped(a) && paging_map(a, SIZE_4K, 0) < 0)
            return NULL;
    return (const void *)(uintptr_t)addr;
}

volatile void *mmio_map(uint64_t phys, uint64_t size)
{
    if (phys == 0 || paging_map(phys, size, PAGE_WRITE | PAGE_UNCACHED) < 0)
        return NULL;
    return (volatile void *)phys;
}

static void count_leaves(const uint64_t *table, int level, struct paging_stats *s)
{
    s->table_pages++;
    for (int i = 0; i < ENTRIES; i++) {
        uint64_t e = table[i];
        if (!(e & PTE_PRESENT))
            continue;
        if (level == 0)
            s->pages_4k++;
        else if (level == 1 && (e & PTE_LARGE))
            s->pages_2m++;
        else
            count_leaves(table_at(e), level - 1, s);
    }
}

struct paging_stats paging_get_stats(void)
{
    struct paging_stats s = { 0 };
    if (pml4)
        count_leaves(pml4, 3, &s);
    return s;
}
