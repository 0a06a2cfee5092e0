/*
 * A small unit-test runner: TEST(name) registers a test before main() runs
 * (a constructor), and the CHECK macros record a failure with file:line, the
 * expression and the values, then let the test carry on so one run shows
 * every broken expectation. A test that checks nothing is failed: an empty
 * test would otherwise pass forever.
 */
#ifndef TESTS_UNIT_CHECK_H
#define TESTS_UNIT_CHECK_H

#include <stdbool.h>

struct unit_test {
    const char *name;
    void (*fn)(void);
    const char *file;
    int line;
    struct unit_test *next;
};

void unit_register(struct unit_test *test);

/* Every CHECK ends in exactly one of these. */
void unit_pass(void);
void unit_fail(const char *file, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define TEST(name)                                                                             \
    static void unit_test_fn_##name(void);                                                     \
    static struct unit_test unit_test_##name = { #name, unit_test_fn_##name, __FILE__, __LINE__, 0 }; \
    __attribute__((constructor)) static void unit_test_register_##name(void)                   \
    {                                                                                          \
        unit_register(&unit_test_##name);                                                      \
    }                                                                                          \
    static void unit_test_fn_##name(void)

#define CHECK(cond)                                                     \
    do {                                                                \
        if (cond)                                                       \
            unit_pass();                                                \
        else                                                            \
            unit_fail(__FILE__, __LINE__, "CHECK(%s)", #cond);          \
    } while (0)

/* An integer value with its signedness, so that -1 and UINT64_MAX are not
 * mistaken for each other (C's == would convert one to the other's type). */
struct unit_int {
    unsigned long long bits; /* the value converted once; a signed one reads back as long long */
    bool is_signed;
};

#define UNIT_IS_SIGNED(x)                                                                      \
    _Generic((x) + 0, int: true, long: true, long long: true, unsigned int: false,             \
             unsigned long: false, unsigned long long: false)

/* Evaluates x once (UNIT_IS_SIGNED only looks at its type). */
#define UNIT_INT(x) ((struct unit_int){ (unsigned long long)(x), UNIT_IS_SIGNED(x) })

bool unit_int_equal(struct unit_int a, struct unit_int b);
void unit_check_int(const char *file, int line, const char *expr_a, const char *expr_b,
                    struct unit_int a, struct unit_int b);
void unit_check_str(const char *file, int line, const char *expr_a, const char *expr_b,
                    const char *a, const char *b);

/* Runs fn(arg) in a forked child and returns its exit code (fn's return
 * value), or 128 + the signal that ended it. For code that may crash or
 * trip a sanitizer (which aborts): that fails one check instead of ending
 * the whole run. The child's CHECKs are not counted; return a verdict. */
int unit_run_in_child(int (*fn)(void *arg), void *arg);

/* Integers of any width and signedness, compared by mathematical value. */
#define CHECK_EQ(a, b) unit_check_int(__FILE__, __LINE__, #a, #b, UNIT_INT(a), UNIT_INT(b))

/* NUL-terminated strings; NULL equals only NULL. */
#define CHECK_STR_EQ(a, b) unit_check_str(__FILE__, __LINE__, #a, #b, (a), (b))

#endif
