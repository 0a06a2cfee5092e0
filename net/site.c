#include "net/site.h"

#include "lib/archive_kind.h"
#include "lib/cpio.h"
#include "lib/kheap.h"
#include "lib/log.h"
#include "lib/printf.h"
#include "lib/string.h"
#include "net/media_types.h"

#define GZIP_SUFFIX ".gz"
#define GZIP_SUFFIX_LEN 3
#define ETAG_MULTIPLIER 0x9E3779B97F4A7C15ull /* 2^64 / golden ratio: spreads every input bit */

/* The one site this kernel serves. */
static struct {
    struct site_file *files;    /* sorted by path */
    size_t count;
    size_t dir_links;           /* entries that are links to directories (is_link stays set) */
    struct site_stats stats;
} the_site;

static int compare_paths(const char *a, size_t alen, const char *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    return c ? c : alen < blen ? -1 : alen > blen;
}

/* Path order, then archive order: equal paths end up oldest first. */
static bool before(const struct site_file *a, const struct site_file *b)
{
    int c = compare_paths(a->path, a->path_len, b->path, b->path_len);
    return c < 0 || (c == 0 && a->order < b->order);
}

static void swap(struct site_file *a, struct site_file *b)
{
    struct site_file t = *a;
    *a = *b;
    *b = t;
}

static void sift_down(struct site_file *f, size_t root, size_t n)
{
    for (size_t child; (child = 2 * root + 1) < n; root = child) {
        if (child + 1 < n && before(&f[child], &f[child + 1]))
            child++;
        if (!before(&f[root], &f[child]))
            return;
        swap(&f[root], &f[child]);
    }
}

/* Heapsort: no recursion, no extra memory, n log n for any archive. */
static void sort_files(struct site_file *f, size_t n)
{
    for (size_t i = n / 2; i-- > 0;)
        sift_down(f, i, n);
    for (size_t end = n; end-- > 1;) {
        swap(&f[0], &f[end]);
        sift_down(f, 0, end);
    }
}

/* The path an archive name serves at: "./a/b" and "/a/b" are "a/b"; false for
 * the root itself and for names with an empty, "." or ".." component. */
static bool served_path(const char *name, size_t len, const char **path, size_t *path_len)
{
    while (len && (name[0] == '/' || (name[0] == '.' && (len == 1 || name[1] == '/')))) {
        name++;
        len--;
    }
    *path = name;
    *path_len = len;
    if (len == 0)
        return false;
    for (size_t start = 0; start <= len;) {
        size_t end = start;
        while (end < len && name[end] != '/')
            end++;
        size_t n = end - start;
        if (n == 0 || (n == 1 && name[start] == '.') || (n == 2 && name[start] == '.' && name[start + 1] == '.'))
            return false;
        start = end + 1;
    }
    return true;
}

static void report_malformed(const struct cpio_reader *r, enum cpio_status s)
{
    const char *kind = r->error_offset == 0 ? archive_kind(r->base, r->size) : NULL;
    log_error("site: archive malformed at offset %zu (0x%zx): %s%s%s; serving the built-in pages", r->error_offset,
              r->error_offset, cpio_status_text(s), kind ? ": it is " : "", kind ? kind : "");
    if (kind)
        log_error("site: files are served in place: give the site as an uncompressed newc cpio archive "
                  "(cd DIR && find . | cpio -o -H newc > ../site.cpio)");
}

/* Counts the entries, checking the whole archive first: a bad one refuses all. */
static bool count_entries(const void *archive, size_t size, size_t *count)
{
    struct cpio_reader r;
    struct cpio_entry e;
    enum cpio_status s;
    cpio_reader_init(&r, archive, size);
    *count = 0;
    while ((s = cpio_next(&r, &e)) == CPIO_ENTRY)
        (*count)++;
    if (s != CPIO_END) {
        report_malformed(&r, s);
        return false;
    }
    return true;
}

/* cpio -H newc writes a hard-linked file's data with its last link only. */
static void share_hard_link_data(struct site_file *f, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (f[i].is_dir || f[i].size || f[i].nlink < 2)
            continue;
        for (size_t j = 0; j < n; j++) {
            if (j != i && !f[j].is_dir && f[j].size && f[j].ino == f[i].ino && f[j].devmajor == f[i].devmajor &&
                f[j].devminor == f[i].devminor) {
                f[i].data = f[j].data;
                f[i].size = f[j].size;
                break;
            }
        }
    }
}

/* The path a link's target names (in buf, without a NUL), or why none. */
static const char *link_target(const struct site_file *link, char *buf, size_t *len)
{
    const char *t = (const char *)link->data;
    if (link->size == 0 || t[0] == '/')
        return link->size ? "an absolute target" : "an empty target";
    size_t n = link->path_len; /* buf holds the link's directory, then each component with a '/' after it */
    while (n && link->path[n - 1] != '/')
        n--;
    if (n > SITE_LINK_PATH_MAX)
        return "a target path too long";
    memcpy(buf, link->path, n);
    for (size_t start = 0; start < link->size;) {
        size_t end = start;
        while (end < link->size && t[end] != '/')
            end++;
        size_t c = end - start;
        if (c == 2 && t[start] == '.' && t[start + 1] == '.') {
            if (n == 0)
                return "a target above the site's root";
            n--;
            while (n && buf[n - 1] != '/')
                n--;
        } else if (c && !(c == 1 && t[start] == '.')) {
            if (strnlen(t + start, c) != c)
                return "a NUL in its target";
            if (n + c + 1 > SITE_LINK_PATH_MAX)
                return "a target path too long";
            memcpy(buf + n, t + start, c);
            n += c;
            buf[n++] = '/';
        }
        start = end + 1;
    }
    if (n == 0)
        return "a target that is the site's root";
    *len = n - 1;
    return NULL;
}

static const char dir_target[] = "a target that is a directory";

/* The file a link leads to, or why none (dir_target: a directory, which
 * lookups then go through). */
static const char *follow_link(const struct site_file *link, const struct site_file **file)
{
    char buf[SITE_LINK_PATH_MAX];
    for (int hop = 0; hop < SITE_LINK_HOPS; hop++) {
        size_t len;
        const char *why = link_target(link, buf, &len);
        if (why)
            return why;
        const struct site_file *t = site_find(buf, len);
        if (!t)
            return site_is_dir(buf, len) ? dir_target : "a target not in the site";
        if (t->is_dir)
            return dir_target;
        if (!t->is_link) {
            *file = t;
            return NULL;
        }
        link = t;
    }
    return "too many links in a row";
}

/* Each link to a file becomes a copy of it (its own name, so its own media
 * type); a link to a directory stays, for lookups to go through; the others
 * leave the table. The links to directories are found first, in passes
 * while one finds more, so that any link may lead through them. */
static void resolve_links(void)
{
    struct site_file *f = the_site.files;
    const struct site_file *target;
    bool found = true;
    for (int pass = 0; found && pass < SITE_LINK_HOPS; pass++) {
        found = false;
        for (size_t i = 0; i < the_site.count; i++) {
            if (f[i].is_link && !f[i].is_dir_link && follow_link(&f[i], &target) == dir_target) {
                f[i].is_dir_link = true;
                the_site.dir_links++; /* from now on lookups go through it */
                found = true;
            }
        }
    }
    bool named = false;
    for (size_t i = 0; i < the_site.count; i++) {
        if (!f[i].is_link || f[i].is_dir_link)
            continue;
        const char *why = follow_link(&f[i], &target);
        if (why) {
            if (!named) /* the first one named; all counted */
                log_warn("site: link \"%.*s\" not served: %s", (int)f[i].path_len, f[i].path, why);
            named = true;
            continue;
        }
        f[i].data = target->data;
        f[i].size = target->size;
        f[i].mtime = target->mtime;
        f[i].is_link = false;
    }
    size_t kept = 0;
    for (size_t i = 0; i < the_site.count; i++) {
        if (f[i].is_link && !f[i].is_dir_link)
            the_site.stats.skipped++;
        else
            f[kept++] = f[i];
    }
    the_site.count = kept;
}

static void link_gzip_variants(void)
{
    for (size_t i = 0; i < the_site.count; i++) {
        struct site_file *gz = &the_site.files[i];
        if (gz->is_dir || gz->is_dir_link || gz->path_len <= GZIP_SUFFIX_LEN ||
            memcmp(gz->path + gz->path_len - GZIP_SUFFIX_LEN, GZIP_SUFFIX, GZIP_SUFFIX_LEN) != 0)
            continue;
        struct site_file *plain = (struct site_file *)site_find(gz->path, gz->path_len - GZIP_SUFFIX_LEN);
        if (plain && !plain->is_dir)
            plain->gzip = gz;
    }
}

static void release_table(void)
{
    kfree(the_site.files);
    the_site.files = NULL;
    the_site.count = 0;
    the_site.dir_links = 0;
}

int site_load(const void *archive, size_t size)
{
    release_table();
    uint64_t refused = the_site.stats.refused;
    the_site.stats = (struct site_stats){ .given = true, .archive_bytes = size, .refused = refused };
    size_t entries;
    if (!count_entries(archive, size, &entries)) {
        the_site.stats.refused++;
        return -1;
    }
    size_t table_bytes = entries * sizeof(struct site_file);
    struct site_file *files = entries ? kmalloc(table_bytes) : NULL;
    if (entries && !files) {
        log_error("site: no memory for the table of %zu entries (%zu KiB); serving the built-in pages", entries,
                  table_bytes / 1024);
        the_site.stats.refused++;
        return -1;
    }

    struct cpio_reader r;
    struct cpio_entry e;
    size_t n = 0;
    cpio_reader_init(&r, archive, size);
    while (cpio_next(&r, &e) == CPIO_ENTRY) {
        const char *path;
        size_t path_len;
        uint32_t type = e.mode & CPIO_MODE_TYPE;
        bool named = served_path(e.name, e.name_len, &path, &path_len);
        if (!named && path_len == 0)
            continue; /* "." itself: the root */
        if (!named || (type != CPIO_MODE_FILE && type != CPIO_MODE_DIR && type != CPIO_MODE_LINK)) {
            if (the_site.stats.skipped++ == 0) /* the first one named; all counted */
                log_warn("site: entry at offset %zu (\"%.64s\") not served: %s", e.offset, e.name,
                         named ? "not a regular file, directory or link" : "an empty, . or .. path component");
            continue;
        }
        files[n] = (struct site_file){
            .path = path, .path_len = path_len, .is_dir = type == CPIO_MODE_DIR, .mtime = e.mtime,
            .data = e.data, .size = type == CPIO_MODE_DIR ? 0 : e.size, .is_link = type == CPIO_MODE_LINK,
            .content_type = media_type_for(path, path_len),
            .ino = e.ino, .devmajor = e.devmajor, .devminor = e.devminor, .nlink = e.nlink, .order = (uint32_t)n,
        };
        n++;
    }
    share_hard_link_data(files, n);
    sort_files(files, n);
    /* Of equal paths (sorted oldest first) keep the last. */
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        if (i + 1 < n && compare_paths(files[i].path, files[i].path_len, files[i + 1].path, files[i + 1].path_len) == 0) {
            the_site.stats.skipped++;
            continue;
        }
        files[kept++] = files[i];
    }
    the_site.files = files;
    the_site.count = kept;
    the_site.stats.served = true; /* site_is_dir answers for the links' targets */
    resolve_links();
    link_gzip_variants();

    struct site_stats *s = &the_site.stats;
    for (size_t i = 0; i < the_site.count; i++) {
        if (files[i].is_dir_link) {
            s->dir_links++;
        } else if (files[i].is_dir) {
            s->dirs++;
        } else {
            s->files++;
            s->file_bytes += files[i].size;
        }
    }
    s->table_bytes = table_bytes;
    char links[48] = "";
    if (s->dir_links)
        snprintf(links, sizeof(links), "; %llu links to directories", (unsigned long long)s->dir_links);
    log_info("site: %llu files (%llu KiB) in %llu listed directories, from a %llu KiB archive at %p; "
             "table %llu KiB; %llu entries not served%s", (unsigned long long)s->files,
             (unsigned long long)(s->file_bytes / 1024), (unsigned long long)s->dirs, (unsigned long long)(size / 1024),
             archive, (unsigned long long)(table_bytes / 1024), (unsigned long long)s->skipped, links);
    return 0;
}

void site_note_refused(uint64_t archive_bytes)
{
    release_table();
    the_site.stats = (struct site_stats){ .given = true, .archive_bytes = archive_bytes,
                                          .refused = the_site.stats.refused + 1 };
}

/* The first entry not before path[0..len). */
static size_t lower_bound(const char *path, size_t len)
{
    size_t lo = 0, hi = the_site.count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct site_file *f = &the_site.files[mid];
        if (compare_paths(f->path, f->path_len, path, len) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static const struct site_file *find_exact(const char *path, size_t len)
{
    size_t i = lower_bound(path, len);
    if (i < the_site.count && compare_paths(the_site.files[i].path, the_site.files[i].path_len, path, len) == 0)
        return &the_site.files[i];
    return NULL;
}

/* path[0..len) with its first component that is a link to a directory
 * replaced by the link's target, again until none is (up to SITE_LINK_HOPS
 * times): true and *path, *len set to the result (in a buffer of this
 * file's, good until the next call), or false if no link was on the way or
 * the result would be too long. Links were checked at load: each leads to a
 * directory of the site. */
static bool through_dir_links(const char **path, size_t *len)
{
    static char bufs[2][SITE_LINK_PATH_MAX], target[SITE_LINK_PATH_MAX];
    const char *p = *path;
    size_t n = *len;
    for (int hop = 0; hop <= SITE_LINK_HOPS; hop++) {
        const struct site_file *link = NULL;
        size_t k = 0;
        for (;; k++) { /* the shortest prefix first: the outermost directory */
            while (k < n && p[k] != '/')
                k++;
            const struct site_file *f = find_exact(p, k);
            if ((f && f->is_dir_link) || k >= n) {
                link = f && f->is_dir_link ? f : NULL;
                break;
            }
        }
        if (!link) {
            *path = p;
            *len = n;
            return hop > 0;
        }
        size_t tlen;
        if (hop == SITE_LINK_HOPS || link_target(link, target, &tlen))
            return false;
        char *out = bufs[hop & 1]; /* p may be the other one */
        if (tlen + (n - k) > sizeof(bufs[0]))
            return false;
        memcpy(out, target, tlen);
        memcpy(out + tlen, p + k, n - k); /* "/rest", or nothing */
        p = out;
        n = tlen + (n - k);
    }
    return false;
}

const struct site_file *site_find(const char *path, size_t len)
{
    const struct site_file *f = find_exact(path, len);
    if (f && !f->is_dir_link)
        return f;
    if (!the_site.dir_links || !through_dir_links(&path, &len))
        return NULL;
    f = find_exact(path, len);
    return f && !f->is_dir_link ? f : NULL;
}

/* Compares a path with path[0..len) + "/" (the key every entry below a directory starts with). */
static int compare_with_dir(const struct site_file *f, const char *path, size_t len)
{
    int c = memcmp(f->path, path, f->path_len < len ? f->path_len : len);
    if (c || f->path_len <= len)
        return c ? c : -1;
    if (f->path[len] != '/')
        return f->path[len] < '/' ? -1 : 1;
    return f->path_len > len + 1;
}

bool site_is_dir(const char *path, size_t len)
{
    if (!the_site.stats.served)
        return false;
    if (the_site.dir_links)
        through_dir_links(&path, &len);
    if (len == 0)
        return true;
    const struct site_file *f = find_exact(path, len);
    if (f)
        return f->is_dir;
    /* Implied by an entry below it: the first entry not before "path/" starts with it. */
    size_t lo = 0, hi = the_site.count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (compare_with_dir(&the_site.files[mid], path, len) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < the_site.count && the_site.files[lo].path_len > len && memcmp(the_site.files[lo].path, path, len) == 0 &&
           the_site.files[lo].path[len] == '/';
}

uint64_t site_file_etag(const struct site_file *f)
{
    if (f->etag)
        return f->etag;
    uint64_t h = f->size * ETAG_MULTIPLIER + 1;
    size_t i = 0;
    for (; i + 8 <= f->size; i += 8) {
        uint64_t w;
        memcpy(&w, f->data + i, 8);
        h = (h ^ w) * ETAG_MULTIPLIER;
        h ^= h >> 29;
    }
    for (; i < f->size; i++)
        h = (h ^ f->data[i]) * ETAG_MULTIPLIER;
    h ^= h >> 32;
    /* The table is ours and writable; callers see it const so only this caches into it. */
    ((struct site_file *)f)->etag = h ? h : 1;
    return h ? h : 1;
}

const struct site_stats *site_stats(void)
{
    return &the_site.stats;
}
