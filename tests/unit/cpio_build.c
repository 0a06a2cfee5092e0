#include "tests/unit/cpio_build.h"

#include <stdio.h>
#include <string.h>

#include "lib/cpio.h"

static void pad4(struct cpio_build *a)
{
    while (a->len % 4)
        a->bytes[a->len++] = 0;
}

size_t cpio_build_add(struct cpio_build *a, const struct cpio_build_entry *e)
{
    size_t at = a->len;
    unsigned name_len = (unsigned)strlen(e->name);
    unsigned namesize = e->namesize ? e->namesize : name_len + 1;
    unsigned ino = e->ino ? e->ino : ++a->next_ino + 1000;
    a->len += (size_t)snprintf((char *)a->bytes + a->len, CPIO_BUILD_MAX - a->len,
                               "%s%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X", e->magic ? e->magic : CPIO_MAGIC,
                               ino, e->mode, 0u, 0u, e->nlink ? e->nlink : 1u, e->mtime, e->size, 0u, 0u, 0u, 0u,
                               namesize, e->check);
    memcpy(a->bytes + a->len, e->name, name_len + 1);
    a->len += namesize;
    pad4(a);
    if (e->size)
        memcpy(a->bytes + a->len, e->data, e->size);
    a->len += e->size;
    pad4(a);
    return at;
}

size_t cpio_build_file(struct cpio_build *a, const char *name, const char *text, unsigned mtime)
{
    return cpio_build_add(a, &(struct cpio_build_entry){ .name = name, .mode = CPIO_MODE_FILE | 0644, .mtime = mtime,
                                                         .data = text, .size = (unsigned)strlen(text) });
}

size_t cpio_build_dir(struct cpio_build *a, const char *name)
{
    return cpio_build_add(a, &(struct cpio_build_entry){ .name = name, .mode = CPIO_MODE_DIR | 0755, .nlink = 2 });
}

size_t cpio_build_link(struct cpio_build *a, const char *name, const char *target)
{
    return cpio_build_add(a, &(struct cpio_build_entry){ .name = name, .mode = CPIO_MODE_LINK | 0777, .mtime = 7,
                                                         .data = target, .size = (unsigned)strlen(target) });
}

void cpio_build_trailer(struct cpio_build *a)
{
    cpio_build_add(a, &(struct cpio_build_entry){ .name = CPIO_TRAILER });
}
