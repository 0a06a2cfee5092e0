#include "lib/archive_kind.h"

#include <stdint.h>

#include "lib/string.h"

#define TAR_MAGIC_AT 257 /* POSIX ustar's "ustar" (GNU tar's "ustar  ") */

struct magic {
    uint8_t len;
    char bytes[7];
    const char *kind;
};

const char *archive_kind(const void *data, size_t len)
{
    /* The magics of the compressors Linux's initramfs takes, and of the archives people confuse with newc. */
    static const struct magic magics[] = {
        { 2, "\x1f\x8b", "gzip-compressed data" },
        { 6, "\xfd" "7zXZ\0", "xz-compressed data" },
        { 4, "\x28\xb5\x2f\xfd", "zstd-compressed data" },
        { 3, "BZh", "bzip2-compressed data" },
        { 3, "\x5d\0\0", "lzma-compressed data" },
        { 4, "\x02\x21\x4c\x18", "lz4-compressed data" },
        { 4, "\x04\x22\x4d\x18", "lz4-compressed data" },
        { 4, "\x89LZO", "lzop-compressed data" },
        { 6, "070707", "an odc cpio archive (cpio -H odc)" },
        { 2, "\xc7\x71", "a binary cpio archive (cpio -H bin)" },
        { 2, "\x71\xc7", "a binary cpio archive (cpio -H bin)" },
        { 4, "PK\3\4", "a zip archive" },
    };
    const uint8_t *p = data;
    for (size_t i = 0; i < sizeof magics / sizeof magics[0]; i++)
        if (len >= magics[i].len && memcmp(p, magics[i].bytes, magics[i].len) == 0)
            return magics[i].kind;
    if (len >= TAR_MAGIC_AT + 5 && memcmp(p + TAR_MAGIC_AT, "ustar", 5) == 0)
        return "a tar archive";
    return NULL;
}
