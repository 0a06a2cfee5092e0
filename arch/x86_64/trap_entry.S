/*
 * Interrupt and exception entry. One 16-byte stub per vector pushes a dummy
 * error code (where the CPU pushes none) and the vector number, so every
 * frame has the same shape; trap_common saves the general registers in the
 * order of struct trap_frame (trap.h), calls trap_dispatch, and returns with
 * iretq. Stubs are 16 bytes apart: the IDT computes trap_stubs + 16 * vector.
 */
    .section .text
    .globl trap_stubs
    .hidden trap_stubs
    .balign 16
trap_stubs:
    vector = 0
    .rept 256
    .balign 16
    /* Exceptions that push an error code (Intel SDM vol. 3A, table 6-1). */
    .if (vector == 8) || ((vector >= 10) && (vector <= 14)) || (vector == 17) || (vector == 21) || (vector == 29) || (vector == 30)
    .else
    pushq $0
    .endif
    pushq $vector
    jmp trap_common
    vector = vector + 1
    .endr

    .balign 16
trap_common:
    pushq %rax
    pushq %rbx
    pushq %rcx
    pushq %rdx
    pushq %rsi
    pushq %rdi
    pushq %rbp
    pushq %r8
    pushq %r9
    pushq %r10
    pushq %r11
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, %rdi
    cld
    /* The CPU aligned RSP to 16 before pushing 7 quadwords; 15 more keep it 16-aligned here. */
    call trap_dispatch
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %r11
    popq %r10
    popq %r9
    popq %r8
    popq %rbp
    popq %rdi
    popq %rsi
    popq %rdx
    popq %rcx
    popq %rbx
    popq %rax
    addq $16, %rsp
    iretq

    .section .note.GNU-stack, "", @progbits
