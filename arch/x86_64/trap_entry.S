/*
 * Interrupt and exception entry. One 9-byte stub per vector pushes a dummy
 * error code (where the CPU pushes none) and the vector number, so every
 * frame has the same shape; trap_common saves the general registers in the
 * order of struct trap_frame (trap.h), calls trap_dispatch, and returns with
 * iretq. The IDT computes trap_stubs + 9 * vector (TRAP_STUB_SIZE in idt.c):
 * push imm8 (2 bytes) at most twice and a jmp rel32 (5), padded with int3.
 * 16-byte stubs took 4 KiB, 1.8 KiB more than these.
 */
    .section .text
    .globl trap_stubs
    .hidden trap_stubs
    .balign 16
trap_stubs:
    vector = 0
    .rept 256
    /* Exceptions that push an error code (Intel SDM vol. 3A, table 6-1). */
    error_code = (vector == 8) || ((vector >= 10) && (vector <= 14)) || (vector == 17) || (vector == 21) || (vector == 29) || (vector == 30)
    .if !error_code
    .byte 0x6a, 0               /* pushq $0 */
    .endif
    .byte 0x6a, vector & 0xff   /* pushq $vector, sign-extended: trap_common masks it */
    .byte 0xe9                  /* jmp rel32: GAS would shorten a jmp near trap_common */
    .long trap_common - . - 4
    .if error_code
    .byte 0xcc, 0xcc            /* int3, never run: keeps the stride */
    .endif
    vector = vector + 1
    .endr
    .if . - trap_stubs != 256 * 9
    .error "trap stubs are not 9 bytes apart"
    .endif

    .balign 16
trap_common:
    andq $0xff, (%rsp)          /* the vector: 128-255 were pushed sign-extended */
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
