#include "drivers/serial.h"

#include "arch/x86_64/cpu.h"

/* 16550 registers, offsets from the base port (PC16550D datasheet). */
#define COM1_BASE 0x3F8
#define UART_DATA 0        /* DLAB=0: transmit/receive buffer */
#define UART_IER 1         /* DLAB=0: interrupt enable */
#define UART_DLL 0         /* DLAB=1: divisor latch, low byte */
#define UART_DLM 1         /* DLAB=1: divisor latch, high byte */
#define UART_FCR 2         /* FIFO control */
#define UART_LCR 3         /* line control */
#define UART_MCR 4         /* modem control */
#define UART_LSR 5         /* line status */

#define LCR_DLAB 0x80
#define LCR_8N1 0x03
#define FCR_ENABLE_CLEAR_14 0xC7 /* enable FIFOs, clear both, 14-byte trigger */
#define MCR_DTR_RTS_OUT2 0x0B
#define LSR_THR_EMPTY 0x20

#define UART_CLOCK_DIVISOR_115200 1 /* 1.8432 MHz / 16 / 115200 */

/* A transmitter that never drains (no UART at all) must not hang the kernel. */
#define TX_SPIN_LIMIT 100000

void serial_init(void)
{
    outb(COM1_BASE + UART_IER, 0);
    outb(COM1_BASE + UART_LCR, LCR_DLAB);
    outb(COM1_BASE + UART_DLL, UART_CLOCK_DIVISOR_115200);
    outb(COM1_BASE + UART_DLM, 0);
    outb(COM1_BASE + UART_LCR, LCR_8N1);
    outb(COM1_BASE + UART_FCR, FCR_ENABLE_CLEAR_14);
    outb(COM1_BASE + UART_MCR, MCR_DTR_RTS_OUT2);
}

/* THRE means the whole 16-byte transmit FIFO is empty: one status read per 16 bytes, not per byte. */
#define UART_FIFO_BYTES 16

static void wait_transmitter_empty(void)
{
    for (int spin = 0; spin < TX_SPIN_LIMIT; spin++)
        if (inb(COM1_BASE + UART_LSR) & LSR_THR_EMPTY)
            return;
}

void serial_write(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (i % UART_FIFO_BYTES == 0)
            wait_transmitter_empty();
        outb(COM1_BASE + UART_DATA, (uint8_t)s[i]);
    }
}
