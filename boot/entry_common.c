#include "boot/entry_common.h"

#include "arch/x86_64/cpu.h"
#include "arch/x86_64/tsc.h"
#include "drivers/serial.h"
#include "lib/log.h"

/* `make debug` clears this from gdb to let a gdb=wait boot continue. */
volatile int gdb_release_wait = 0;

/* Named by tsc_calibrate; logged once the command line says how much to log. */
static const char *tsc_source;

void entry_console_and_clock(uint64_t entry_tsc)
{
    tsc_mark_entry(entry_tsc);
    serial_init();
    log_set_output(serial_write);
    kprintf("\n");  /* end whatever the firmware left on the line */
    /* Deferred from the first line (lib/log.c): a line written at once costs
     * about 1 ms of UART polling under TCG; the main loop writes them out. */
    log_set_deferred(true);
    tsc_source = tsc_calibrate();
    log_set_clock(clock_since_entry_ns);
}

static enum log_level log_level_for(enum log_verbosity v)
{
    return v == LOG_VERBOSITY_QUIET ? LOG_WARN : v == LOG_VERBOSITY_DEBUG ? LOG_DEBUG : LOG_INFO;
}

static void report_cmdline_problem(const char *problem, void *ctx)
{
    (void)ctx;
    log_warn("cmdline: %s", problem);
}

void entry_cmdline_cut(char *line, size_t size, char next)
{
    cmdline_drop_cut_word(line, next);
    log_warn("cmdline: longer than %zu characters: cut there, the word cut dropped", size - 1);
}

void entry_parse_cmdline(struct boot_info *bi)
{
    kernel_options_defaults(&bi->options);
    cmdline_parse(bi->cmdline, &bi->options, report_cmdline_problem, NULL);
    /* The level comes from the line itself, so the first lines come after it:
     * log=quiet prints nothing but warnings and READY. A problem with the
     * line is a warning, printed at any level, before them. */
    log_set_level(log_level_for(bi->options.log));
    log_info("boot: image base=0x%llx size=%llu KiB", (unsigned long long)bi->image_base,
             (unsigned long long)(bi->image_size / 1024));
    uint64_t hz = tsc_hz();
    log_info("boot: tsc %llu.%03llu MHz from %s%s", (unsigned long long)(hz / 1000000),
             (unsigned long long)(hz / 1000 % 1000), tsc_source,
             tsc_is_invariant() ? ", invariant" : ", not flagged invariant");
    log_info("cmdline: \"%s\"", bi->cmdline);
    if (bi->cmdline_source)
        log_info("cmdline: from %s", bi->cmdline_source);
    if (bi->options.linux_module_words)
        log_info("cmdline: %u word%s for Linux's modules ignored (nomodule, module.param)",
                 bi->options.linux_module_words, bi->options.linux_module_words == 1 ? "" : "s");
    /* log=debug: someone debugging a hang during init wants every line at
     * once; so does someone attaching a debugger. */
    if (bi->options.log == LOG_VERBOSITY_DEBUG || bi->options.gdb_wait)
        log_set_deferred(false);
    if (bi->options.gdb_wait) {
        log_info("gdb: waiting for a debugger (set gdb_release_wait=1 to go on)");
        while (!gdb_release_wait)
            cpu_relax();
    }
}
