/*
 * newc cpio archives, the initramfs format (`find . | cpio -o -H newc`): a
 * walk over the entries of an archive in memory, every field checked against
 * the bytes there are. Nothing is copied: names and data point into the
 * archive. Pure logic, unit-tested and fuzzed on the host.
 *
 * The format (cpio(5) "New ASCII Format"; Linux's
 * Documentation/driver-api/early-userspace/buffer-format.rst):
 *   header  110 ASCII bytes: magic "070701" (or "070702": with a checksum),
 *           then 13 fields of 8 hex digits (below, in order);
 *   name    c_namesize bytes, its NUL included; header and name together
 *           padded with NULs to a multiple of 4;
 *   data    c_filesize bytes, padded to a multiple of 4.
 * An entry named "TRAILER!!!" ends an archive. As for an initramfs, zero
 * bytes may follow (cpio pads to 512-byte blocks) and then another archive,
 * starting on a multiple of 4; a later entry of the same name wins (the
 * caller's choice: the walk reports every entry).
 */
#ifndef LIB_CPIO_H
#define LIB_CPIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CPIO_HEADER_SIZE 110
#define CPIO_FIELD_DIGITS 8
#define CPIO_ALIGN 4
#define CPIO_MAGIC "070701"
#define CPIO_MAGIC_CRC "070702"  /* c_check = sum of the data's bytes, mod 2^32 */
#define CPIO_TRAILER "TRAILER!!!"

/* c_mode's file type bits (the st_mode values of POSIX <sys/stat.h>). */
#define CPIO_MODE_TYPE 0170000
#define CPIO_MODE_FILE 0100000
#define CPIO_MODE_DIR 0040000
#define CPIO_MODE_LINK 0120000  /* a symbolic link: the data is its target */

struct cpio_entry {
    const char *name;       /* NUL-terminated, inside the archive */
    size_t name_len;        /* without the NUL */
    uint32_t ino, mode, uid, gid, nlink, mtime, devmajor, devminor;
    const uint8_t *data;    /* inside the archive */
    size_t size;
    size_t offset;          /* of the entry's header in the archive */
};

enum cpio_status {
    CPIO_ENTRY = 0,         /* *entry holds the next entry */
    CPIO_END,               /* every archive ended with its trailer; only zeros follow */
    CPIO_BAD_MAGIC,         /* no "070701"/"070702" where a header must start */
    CPIO_MISALIGNED,        /* an archive after a trailer starts off a multiple of 4 */
    CPIO_TRUNCATED_HEADER,  /* fewer than 110 bytes left for a header */
    CPIO_BAD_FIELD,         /* a header field is not 8 hex digits */
    CPIO_BAD_NAME,          /* c_namesize 0, no NUL at its end, or a NUL inside the name */
    CPIO_NAME_PAST_END,     /* c_namesize runs past the end of the bytes */
    CPIO_DATA_PAST_END,     /* c_filesize runs past the end of the bytes */
    CPIO_BAD_CHECKSUM,      /* "070702": the data's byte sum is not c_check */
    CPIO_NO_TRAILER,        /* the bytes end inside an archive, before its trailer */
};

struct cpio_reader {
    const uint8_t *base;
    size_t size;
    size_t pos;             /* the next header, or the padding before it */
    enum cpio_status error; /* CPIO_ENTRY while none */
    size_t error_offset;    /* after an error: the byte it is about */
    bool between_archives;  /* before the first header, or after a trailer: zeros may come */
};

void cpio_reader_init(struct cpio_reader *r, const void *archive, size_t size);

/* The next entry (the trailer itself is not reported). After an error the
 * reader stays on it: every further call returns the same status. */
enum cpio_status cpio_next(struct cpio_reader *r, struct cpio_entry *entry);

/* "bad magic", "name without NUL", ...: for a console line. */
const char *cpio_status_text(enum cpio_status status);

#endif
