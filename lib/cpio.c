#include "lib/cpio.h"

#include "lib/string.h"

#define MAGIC_LEN 6

/* The header's fields after the magic, each CPIO_FIELD_DIGITS hex digits (cpio(5)). */
enum cpio_field {
    F_INO, F_MODE, F_UID, F_GID, F_NLINK, F_MTIME, F_FILESIZE,
    F_DEVMAJOR, F_DEVMINOR, F_RDEVMAJOR, F_RDEVMINOR, F_NAMESIZE, F_CHECK, F_COUNT
};

static size_t align_up(size_t n)
{
    return (n + CPIO_ALIGN - 1) & ~(size_t)(CPIO_ALIGN - 1);
}

static enum cpio_status fail(struct cpio_reader *r, enum cpio_status status, size_t offset)
{
    r->error = status;
    r->error_offset = offset;
    return status;
}

static bool parse_hex(const uint8_t *s, uint32_t *out)
{
    uint32_t v = 0;
    for (int i = 0; i < CPIO_FIELD_DIGITS; i++) {
        uint8_t c = s[i];
        uint32_t d = c >= '0' && c <= '9' ? (uint32_t)(c - '0')
                     : c >= 'a' && c <= 'f' ? (uint32_t)(c - 'a' + 10)
                     : c >= 'A' && c <= 'F' ? (uint32_t)(c - 'A' + 10) : 16;
        if (d == 16)
            return false;
        v = v << 4 | d;
    }
    *out = v;
    return true;
}

void cpio_reader_init(struct cpio_reader *r, const void *archive, size_t size)
{
    *r = (struct cpio_reader){ .base = archive, .size = size, .between_archives = true };
}

enum cpio_status cpio_next(struct cpio_reader *r, struct cpio_entry *e)
{
    if (r->error != CPIO_ENTRY)
        return r->error;
    for (;;) {
        size_t at = r->pos;
        if (r->between_archives) {
            while (at < r->size && r->base[at] == 0)
                at++;
            if (at == r->size) {
                r->pos = at;
                return CPIO_END;
            }
            if (at % CPIO_ALIGN)
                return fail(r, CPIO_MISALIGNED, at);
            r->between_archives = false;
        }
        if (at == r->size)
            return fail(r, CPIO_NO_TRAILER, at);
        if (r->size - at < CPIO_HEADER_SIZE)
            return fail(r, CPIO_TRUNCATED_HEADER, at);
        const uint8_t *h = r->base + at;
        bool with_check = memcmp(h, CPIO_MAGIC_CRC, MAGIC_LEN) == 0;
        if (!with_check && memcmp(h, CPIO_MAGIC, MAGIC_LEN) != 0)
            return fail(r, CPIO_BAD_MAGIC, at);
        uint32_t f[F_COUNT];
        for (int i = 0; i < F_COUNT; i++)
            if (!parse_hex(h + MAGIC_LEN + i * CPIO_FIELD_DIGITS, &f[i]))
                return fail(r, CPIO_BAD_FIELD, at + MAGIC_LEN + (size_t)i * CPIO_FIELD_DIGITS);

        size_t name_at = at + CPIO_HEADER_SIZE;
        size_t name_size = f[F_NAMESIZE];
        if (name_size == 0)
            return fail(r, CPIO_BAD_NAME, at + MAGIC_LEN + F_NAMESIZE * CPIO_FIELD_DIGITS);
        if (name_size > r->size - name_at)
            return fail(r, CPIO_NAME_PAST_END, name_at);
        const char *name = (const char *)r->base + name_at;
        if (name[name_size - 1] != '\0')
            return fail(r, CPIO_BAD_NAME, name_at + name_size - 1);
        size_t name_len = strnlen(name, name_size);
        if (name_len != name_size - 1)
            return fail(r, CPIO_BAD_NAME, name_at + name_len);

        size_t data_at = align_up(name_at + name_size);
        size_t size = f[F_FILESIZE];
        if (data_at > r->size || size > r->size - data_at)
            return fail(r, CPIO_DATA_PAST_END, at);
        const uint8_t *data = r->base + data_at;
        if (with_check) {
            uint32_t sum = 0;
            for (size_t i = 0; i < size; i++)
                sum += data[i];
            if (sum != f[F_CHECK])
                return fail(r, CPIO_BAD_CHECKSUM, data_at);
        }
        size_t next = align_up(data_at + size);
        r->pos = next < r->size ? next : r->size; /* the last entry's padding may be missing */

        if (name_len == sizeof(CPIO_TRAILER) - 1 && memcmp(name, CPIO_TRAILER, name_len) == 0) {
            r->between_archives = true;
            continue;
        }
        *e = (struct cpio_entry){
            .name = name, .name_len = name_len,
            .ino = f[F_INO], .mode = f[F_MODE], .uid = f[F_UID], .gid = f[F_GID], .nlink = f[F_NLINK],
            .mtime = f[F_MTIME], .devmajor = f[F_DEVMAJOR], .devminor = f[F_DEVMINOR],
            .data = data, .size = size, .offset = at,
        };
        return CPIO_ENTRY;
    }
}

const char *cpio_status_text(enum cpio_status status)
{
    switch (status) {
    case CPIO_ENTRY: return "entry";
    case CPIO_END: return "end";
    case CPIO_BAD_MAGIC: return "bad magic (not a newc cpio header)";
    case CPIO_MISALIGNED: return "archive after a trailer not on a multiple of 4";
    case CPIO_TRUNCATED_HEADER: return "truncated header";
    case CPIO_BAD_FIELD: return "header field not 8 hex digits";
    case CPIO_BAD_NAME: return "name without NUL (or empty, or with a NUL inside)";
    case CPIO_NAME_PAST_END: return "name past the end";
    case CPIO_DATA_PAST_END: return "size past the end";
    case CPIO_BAD_CHECKSUM: return "data checksum mismatch";
    case CPIO_NO_TRAILER: return "no TRAILER!!! (truncated archive)";
    }
    return "unknown";
}
