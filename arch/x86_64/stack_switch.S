/*
 * stack_switch_call(top, fn, arg): runs fn(arg) on the stack ending at `top`,
 * with a zero frame pointer so backtraces stop there. fn must not return.
 */
    .section .text
    .globl stack_switch_call
    .hidden stack_switch_call
stack_switch_call:
    movq %rdi, %rsp
    xorl %ebp, %ebp
    movq %rdx, %rdi
    call *%rsi
    ud2

    .section .note.GNU-stack, "", @progbits
