/* The firmware floor for scripts/bench: an EFI application that does nothing
 * but write one line to COM1 and end QEMU through isa-debug-exit. The time
 * from QEMU launch to its line is what OVMF costs any EFI guest. It writes
 * the UART directly rather than through ConOut so that the line's arrival is
 * not delayed by the firmware's console layer. */
#include <efi.h>

#define COM1 0x3f8
#define COM1_LINE_STATUS (COM1 + 5)
#define LINE_STATUS_THR_EMPTY 0x20
#define DEBUG_EXIT_PORT 0xf4

static inline void outb(UINT16 port, UINT8 value) { __asm__ volatile("outb %0, %1" : : "a"(value), "Nd"(port)); }
static inline UINT8 inb(UINT16 port)
{
    UINT8 value;
    __asm__ volatile("inb %1, %0" : "=a"(value) : "Nd"(port));
    return value;
}

EFI_STATUS EFIAPI efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *system_table)
{
    (void)image;
    (void)system_table;
    static const char line[] = "EMPTY-EFI READY\r\n";
    for (const char *c = line; *c; c++) {
        while (!(inb(COM1_LINE_STATUS) & LINE_STATUS_THR_EMPTY))
            ;
        outb(COM1, (UINT8)*c);
    }
    outb(DEBUG_EXIT_PORT, 0); /* QEMU exits with status 1 */
    return EFI_SUCCESS;
}
