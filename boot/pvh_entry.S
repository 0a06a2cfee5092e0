/*
 * The PVH entry (build/kernel-pvh.elf only): 32-bit protected mode, paging
 * off, %ebx = struct hvm_start_info (boot/pvh_start_info.h). It clears .bss,
 * identity-maps the first 4 GiB with 2 MiB pages (enough for the image, the
 * start_info data and the firmware's tables until kmain builds its own page
 * tables), enters long mode and calls pvh_main(start_info) on a stack in .bss.
 */
#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define CR0_PE 0x1
#define CR0_PG 0x80000000
#define CR4_PAE 0x20
#define MSR_EFER 0xC0000080
#define EFER_LME 0x100
#define PTE_PRESENT 0x1
#define PTE_WRITE 0x2
#define PTE_LARGE 0x80
#define EARLY_STACK_SIZE 32768
#define SEL_CODE64 0x08
#define SEL_DATA 0x10
#define CPUID_EXT_LM (1 << 29)      /* CPUID 0x80000001 EDX: long mode */
#define COM1 0x3F8
#define COM1_LSR (COM1 + 5)
#define LSR_THR_EMPTY 0x20
#define ISA_DEBUG_EXIT_PORT 0xF4
#define MACHINE_EXIT_PANIC 0x12     /* arch/x86_64/machine_exit.h */

    .section .note.Xen, "a", @note
    .balign 4
    .long 4                     /* name size: "Xen\0" */
    .long 4                     /* descriptor size */
    .long XEN_ELFNOTE_PHYS32_ENTRY
    .asciz "Xen"
    .balign 4
    .long pvh_start32
    .balign 4

    .section .text.pvh_entry, "ax"
    .code32
    .globl pvh_start32
pvh_start32:
    cli
    cld
    rdtsc                       /* the kernel's clock counts from here (pvh_main) */
    mov %eax, pvh_entry_tsc
    mov %edx, pvh_entry_tsc + 4
    mov %ebx, %esi              /* start_info: kept in %esi throughout */

    /* A CPU without long mode (QEMU's -cpu pentium3, qemu32) would fault
     * at the first 64-bit step with nothing on the console: say so. */
    mov $0x80000000, %eax
    cpuid
    cmp $0x80000001, %eax
    jb no_long_mode
    mov $0x80000001, %eax
    cpuid
    test $CPUID_EXT_LM, %edx
    jz no_long_mode

    /* .bss first: the page tables and the stack live there. Four bytes a
     * step (the linker script aligns both ends to a page): TCG runs each
     * step of a rep string instruction as one pass through its block. */
    mov $__bss_start, %edi
    mov $__bss_end, %ecx
    sub %edi, %ecx
    shr $2, %ecx
    xor %eax, %eax
    rep stosl

    /* PML4[0] -> PDPT; PDPT[0..3] -> the four page directories. */
    mov $pvh_pdpt, %eax
    or $(PTE_PRESENT | PTE_WRITE), %eax
    mov %eax, pvh_pml4
    mov $pvh_pd, %eax
    or $(PTE_PRESENT | PTE_WRITE), %eax
    xor %ecx, %ecx
1:  mov %eax, pvh_pdpt(, %ecx, 8)
    add $4096, %eax
    inc %ecx
    cmp $4, %ecx
    jne 1b
    /* 2048 entries of 2 MiB: physical address = index << 21. */
    xor %ecx, %ecx
2:  mov %ecx, %eax
    shl $21, %eax
    or $(PTE_PRESENT | PTE_WRITE | PTE_LARGE), %eax
    mov %eax, pvh_pd(, %ecx, 8)
    mov %ecx, %eax
    shr $11, %eax               /* the upper half: bits 32+ of the address */
    mov %eax, pvh_pd + 4(, %ecx, 8)
    inc %ecx
    cmp $2048, %ecx
    jne 2b

    mov %cr4, %eax
    or $CR4_PAE, %eax
    mov %eax, %cr4
    mov $pvh_pml4, %eax
    mov %eax, %cr3
    mov $MSR_EFER, %ecx
    rdmsr
    or $EFER_LME, %eax
    wrmsr
    mov %cr0, %eax
    or $(CR0_PG | CR0_PE), %eax
    mov %eax, %cr0
    lgdt pvh_gdt_desc
    ljmp $SEL_CODE64, $pvh_start64

    .code64
pvh_start64:
    mov $SEL_DATA, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %ss
    mov %eax, %fs
    mov %eax, %gs
    mov $pvh_stack_top, %esp
    xor %ebp, %ebp              /* the end of every backtrace */
    mov %esi, %edi
    call pvh_main
3:  hlt
    jmp 3b

    .code32
no_long_mode:
    mov $no_long_mode_text, %esi
1:  movb (%esi), %bl
    test %bl, %bl
    jz 4f
    mov $100000, %ecx           /* a UART that never empties costs a bounded wait */
    mov $COM1_LSR, %dx
2:  inb %dx, %al
    test $LSR_THR_EMPTY, %al
    loopz 2b
    mov $COM1, %dx
    mov %bl, %al
    outb %al, %dx
    inc %esi
    jmp 1b
4:  mov $ISA_DEBUG_EXIT_PORT, %dx
    mov $MACHINE_EXIT_PANIC, %eax
    outl %eax, %dx
5:  hlt
    jmp 5b

    .section .rodata.pvh_entry, "a"
    .balign 8
pvh_gdt:
    .quad 0
    /* The same descriptors as arch/x86_64/gdt.c's: TCG keys its translations
     * on SS's B bit among other flags, so a data segment that differed would
     * have every block translated before gdt_init translated again after. */
    .quad 0x00af9a000000ffff    /* 0x08: 64-bit code, present, DPL 0 */
    .quad 0x00cf92000000ffff    /* 0x10: data, present, writable, B (32-bit stack) */
pvh_gdt_end:
pvh_gdt_desc:
    .word pvh_gdt_end - pvh_gdt - 1
    .long pvh_gdt
no_long_mode_text:
    .asciz "\nPANIC: this CPU has no long mode (x86-64), which the kernel needs\n"

    .section .data.pvh_entry, "aw"
    .balign 8
    .globl pvh_entry_tsc
pvh_entry_tsc:                  /* in .data: the .bss clear must not erase it */
    .quad 0

    .section .bss.pvh_entry, "aw", @nobits
    .balign 4096
pvh_pml4:
    .skip 4096
pvh_pdpt:
    .skip 4096
pvh_pd:
    .skip 4 * 4096
pvh_stack:
    .skip EARLY_STACK_SIZE
pvh_stack_top:

    .section .note.GNU-stack, "", @progbits
