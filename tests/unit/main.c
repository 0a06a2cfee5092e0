/*
 * Runs every registered test in registration order (link order of the test
 * files, then order within a file) and prints one line per test, the failures
 * under it, and a closing line "unit: N passed, N failed". Arguments, if any,
 * are substrings: only tests whose name contains one of them run.
 *
 * Reporting goes through stdio streams (fprintf, open_memstream): this file
 * is compiled with snprintf/vsnprintf renamed to the kernel's, and the runner
 * must not depend on the code under test.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/unit/check.h"

static struct unit_test *tests_head;
static struct unit_test **tests_tail = &tests_head;

/* State of the running test: how many checks ran, and its failure lines. */
static unsigned long test_checks;
static unsigned long test_failures;
static FILE *test_failure_text;

void unit_register(struct unit_test *test)
{
    test->next = NULL;
    *tests_tail = test;
    tests_tail = &test->next;
}

void unit_pass(void)
{
    test_checks++;
}

void unit_fail(const char *file, int line, const char *fmt, ...)
{
    test_checks++;
    test_failures++;
    FILE *out = test_failure_text ? test_failure_text : stdout;
    fprintf(out, "    %s:%d: ", file, line);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(out, fmt, ap);
    va_end(ap);
    fputc('\n', out);
}

static long long signed_value(struct unit_int v)
{
    return (long long)v.bits; /* gcc: modulo 2^64, the inverse of the conversion in UNIT_INT */
}

bool unit_int_equal(struct unit_int a, struct unit_int b)
{
    /* Mixed signedness: a negative value never equals an unsigned one. */
    if (a.is_signed && !b.is_signed && signed_value(a) < 0)
        return false;
    if (b.is_signed && !a.is_signed && signed_value(b) < 0)
        return false;
    return a.bits == b.bits;
}

static void print_int(FILE *out, struct unit_int v)
{
    if (v.is_signed)
        fprintf(out, "%lld", signed_value(v));
    else
        fprintf(out, "%llu (0x%llx)", v.bits, v.bits);
}

void unit_check_int(const char *file, int line, const char *expr_a, const char *expr_b,
                    struct unit_int a, struct unit_int b)
{
    if (unit_int_equal(a, b)) {
        unit_pass();
        return;
    }
    char *text = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&text, &len);
    if (!m)
        abort();
    print_int(m, a);
    fputs(" != ", m);
    print_int(m, b);
    fclose(m);
    unit_fail(file, line, "CHECK_EQ(%s, %s): %s", expr_a, expr_b, text);
    free(text);
}

/* Prints a string in double quotes with control and non-ASCII bytes escaped. */
static void print_quoted(FILE *out, const char *s)
{
    if (!s) {
        fputs("NULL", out);
        return;
    }
    fputc('"', out);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c < 0x20 || c >= 0x7f)
            fprintf(out, "\\x%02x", c);
        else
            fputc(c, out);
    }
    fputc('"', out);
}

void unit_check_str(const char *file, int line, const char *expr_a, const char *expr_b,
                    const char *a, const char *b)
{
    if ((!a && !b) || (a && b && strcmp(a, b) == 0)) {
        unit_pass();
        return;
    }
    char *text = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&text, &len);
    if (!m)
        abort();
    print_quoted(m, a);
    fputs(" != ", m);
    print_quoted(m, b);
    fclose(m);
    unit_fail(file, line, "CHECK_STR_EQ(%s, %s): %s", expr_a, expr_b, text);
    free(text);
}

int unit_run_in_child(int (*fn)(void *arg), void *arg)
{
    fflush(stdout);
    fflush(stderr);
    if (test_failure_text)
        fflush(test_failure_text);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        abort();
    }
    if (pid == 0)
        _exit(fn(arg)); /* _exit: no atexit handlers, no flushing of the parent's buffers */
    int status;
    if (waitpid(pid, &status, 0) != pid) {
        perror("waitpid");
        abort();
    }
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

static bool selected(const struct unit_test *t, int argc, char **argv)
{
    if (argc < 2)
        return true;
    for (int i = 1; i < argc; i++)
        if (strstr(t->name, argv[i]))
            return true;
    return false;
}

/* Two tests with one name would make the report ambiguous. */
static int count_duplicate_names(void)
{
    int dups = 0;
    for (struct unit_test *a = tests_head; a; a = a->next)
        for (struct unit_test *b = a->next; b; b = b->next)
            if (strcmp(a->name, b->name) == 0) {
                fprintf(stdout, "FAIL duplicate test name %s (%s and %s)\n", a->name, a->file, b->file);
                dups++;
            }
    return dups;
}

int main(int argc, char **argv)
{
    unsigned passed = 0, failed = (unsigned)count_duplicate_names();

    for (struct unit_test *t = tests_head; t; t = t->next) {
        if (!selected(t, argc, argv))
            continue;
        char *text = NULL;
        size_t len = 0;
        test_failure_text = open_memstream(&text, &len);
        if (!test_failure_text)
            abort();
        test_checks = 0;
        test_failures = 0;
        fflush(stdout); /* a crash inside the test then shows after the last line printed */

        t->fn();

        if (test_checks == 0)
            unit_fail(t->file, t->line, "test %s ran no checks", t->name);
        fclose(test_failure_text);
        test_failure_text = NULL;
        if (test_failures == 0) {
            printf("ok   %s\n", t->name);
            passed++;
        } else {
            printf("FAIL %s\n%s", t->name, text);
            failed++;
        }
        free(text);
    }

    printf("unit: %u passed, %u failed\n", passed, failed);
    return failed ? 1 : 0;
}
