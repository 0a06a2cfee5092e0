/* newc cpio archives built in memory for the tests (lib/cpio.h's format). */
#ifndef TESTS_UNIT_CPIO_BUILD_H
#define TESTS_UNIT_CPIO_BUILD_H

#include <stddef.h>

#define CPIO_BUILD_MAX (64 * 1024)

struct cpio_build {
    unsigned char bytes[CPIO_BUILD_MAX];
    size_t len;
    unsigned next_ino;
};

struct cpio_build_entry {
    const char *magic;      /* NULL: "070701" */
    const char *name;
    unsigned namesize;      /* 0: strlen(name) + 1 */
    unsigned mode, mtime, nlink, ino; /* ino 0: a fresh one */
    const void *data;
    unsigned size;
    unsigned check;
};

/* Appends an entry; returns the offset of its header. */
size_t cpio_build_add(struct cpio_build *a, const struct cpio_build_entry *e);
size_t cpio_build_file(struct cpio_build *a, const char *name, const char *text, unsigned mtime);
size_t cpio_build_dir(struct cpio_build *a, const char *name);
size_t cpio_build_link(struct cpio_build *a, const char *name, const char *target); /* a symbolic link */
void cpio_build_trailer(struct cpio_build *a);

#endif
