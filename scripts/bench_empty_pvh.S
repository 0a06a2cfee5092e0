/*
 * The floor for the PVH row of scripts/bench: a PVH kernel that does nothing
 * but write one line to COM1 and end QEMU through isa-debug-exit. Launch to
 * its line is what QEMU and its firmware (qboot on microvm, SeaBIOS on
 * q35/pc) cost any PVH guest. Built by the bench:
 *   gcc -c -m32 bench_empty_pvh.S && ld -m elf_i386 -Ttext=0x100000 -e start
 */
    .section .note.Xen, "a", @note
    .balign 4
    .long 4, 4, 18              /* "Xen", 4-byte descriptor, XEN_ELFNOTE_PHYS32_ENTRY */
    .asciz "Xen"
    .balign 4
    .long start

    .text
    .code32
    .globl start
start:
    mov $line, %esi
1:  movb (%esi), %al
    test %al, %al
    jz 3f
    mov $0x3fd, %dx             /* COM1 line status: wait for an empty holding register */
2:  inb %dx, %al
    test $0x20, %al
    jz 2b
    movb (%esi), %al
    mov $0x3f8, %dx
    outb %al, %dx
    inc %esi
    jmp 1b
3:  mov $0, %al                 /* QEMU exits with status 1 */
    outb %al, $0xf4
4:  hlt
    jmp 4b

    .section .rodata
line:
    .asciz "EMPTY-PVH READY\r\n"
    .section .note.GNU-stack, "", @progbits
