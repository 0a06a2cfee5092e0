/*
 * The site: the files and directories of a newc cpio archive (lib/cpio.c),
 * by path. The table is built once, at boot, over the archive where the
 * loader put it; names and bodies point into the archive, which is never
 * freed while it is served, so responses send file data by reference.
 *
 * Paths are the archive's names without a leading "./" or "/" ("docs/a b.html";
 * the root is ""). A name with an empty, "." or ".." component, and anything
 * but regular files, directories and symbolic links (devices, fifos), is
 * skipped and counted. Of two entries with one name the later wins, as in an
 * initramfs. A symbolic link (`find . | cpio -o -H newc` keeps them) serves
 * the file it leads to, through up to SITE_LINK_HOPS links, when that is a
 * file of the site; one to a directory of the site makes the paths below it
 * those below the directory (as nginx follows them); one that dangles or
 * leaves the site (an absolute target, ".." above the root, the root
 * itself) is skipped and counted, as scripts/pack-site leaves such links out.
 * A hard link's data (cpio writes it with the last link only) is shared by
 * every link. Directories exist when the archive lists them or a file lies
 * below them.
 */
#ifndef NET_SITE_H
#define NET_SITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SITE_LINK_HOPS 8
#define SITE_LINK_PATH_MAX 1024 /* a link's target path, resolved */

struct site_file {
    const char *path;               /* inside the archive; path_len bytes, no NUL of its own */
    size_t path_len;
    bool is_dir;
    uint32_t mtime;                 /* seconds since 1970 (cpio c_mtime) */
    const uint8_t *data;
    size_t size;
    const char *content_type;       /* from the name's extension (net/media_types.h) */
    const struct site_file *gzip;   /* "path.gz" beside it, precompressed; NULL if none */
    uint64_t etag;                  /* hash of the content: 0 until site_file_etag computes it */
    /* A link to a directory (data[0..size) its target), kept for lookups to
     * go through; site_find never returns one. */
    bool is_dir_link;
    /* Only while the table is built: */
    uint32_t ino, devmajor, devminor, nlink, order;
    bool is_link;                   /* data[0..size) is the target, not yet resolved */
};

struct site_stats {
    bool given;                 /* the loader handed over an archive */
    bool served;                /* and it is being served (false: refused, see the console) */
    uint64_t archive_bytes;     /* the archive in memory */
    uint64_t files, dirs;
    uint64_t dir_links;         /* links to directories, which lookups go through */
    uint64_t file_bytes;        /* the files' data, inside the archive */
    uint64_t skipped;           /* entries that are not served: other types, bad or shadowed names */
    uint64_t table_bytes;       /* the table kept beside the archive */
    uint64_t refused;           /* archives refused as malformed or too large */
};

/* Builds the table over archive[0..size) and reports it on the console.
 * Returns 0, or -1 when the archive is refused (malformed: the line says what
 * and at which offset; or no memory for the table): then no site is served. */
int site_load(const void *archive, size_t size);

/* Records an archive refused before site_load (too large for memory): /stats counts it. */
void site_note_refused(uint64_t archive_bytes);

/* The file or listed directory at path[0..len), or NULL. */
const struct site_file *site_find(const char *path, size_t len);

/* True when path[0..len) is a directory of the site ("" is the root, once a site is served). */
bool site_is_dir(const char *path, size_t len);

/* A strong validator for the file's content (RFC 9110, 8.8.3): a 64-bit hash
 * of its bytes and size, computed on first use and kept. */
uint64_t site_file_etag(const struct site_file *f);

const struct site_stats *site_stats(void);

#endif
