/*
 * net/site.c: the file table over an archive -- paths without "./", listed
 * and implied directories, .gz variants, hard links, names that must not be
 * served, the later of two entries, and malformed archives refused with a
 * console line.
 */
#include <stdio.h>
#include <string.h>

#include "lib/archive_kind.h"
#include "lib/cpio.h"
#include "net/site.h"
#include "tests/unit/check.h"
#include "tests/unit/cpio_build.h"

extern unsigned long vnenv_error_lines; /* the console's error lines (tests/unit/virtio_net_env.c) */
extern char vnenv_errors[1024];         /* and their text */

static struct cpio_build archive;

static const struct site_file *find(const char *path)
{
    return site_find(path, strlen(path));
}

static bool is_dir(const char *path)
{
    return site_is_dir(path, strlen(path));
}

static bool file_is(const char *path, const char *text)
{
    const struct site_file *f = find(path);
    return f && !f->is_dir && f->size == strlen(text) && memcmp(f->data, text, f->size) == 0;
}

static int load(void)
{
    return site_load(archive.bytes, archive.len);
}

TEST(site_paths_and_directories)
{
    archive.len = 0;
    cpio_build_dir(&archive, ".");
    cpio_build_file(&archive, "./index.html", "<h1>home</h1>", 1000);
    cpio_build_dir(&archive, "./docs");
    cpio_build_file(&archive, "./docs/a b.txt", "spaced", 2000);
    cpio_build_file(&archive, "/abs/x.css", "body{}", 3000);
    cpio_build_file(&archive, "deep/er/\xc3\xa9t\xc3\xa9.txt", "utf8", 4000);
    cpio_build_file(&archive, "docs-x", "sorts between docs and docs/", 1);
    cpio_build_trailer(&archive);
    CHECK_EQ(load(), 0);

    const struct site_stats *s = site_stats();
    CHECK(s->given && s->served);
    CHECK_EQ(s->files, 5);
    CHECK_EQ(s->dirs, 1);
    CHECK_EQ(s->archive_bytes, archive.len);
    CHECK_EQ(s->skipped, 0);

    CHECK(file_is("index.html", "<h1>home</h1>"));
    CHECK_EQ(find("index.html")->mtime, 1000);
    CHECK_STR_EQ(find("index.html")->content_type, "text/html; charset=utf-8");
    CHECK(file_is("docs/a b.txt", "spaced"));
    CHECK(file_is("abs/x.css", "body{}"));
    CHECK(file_is("deep/er/\xc3\xa9t\xc3\xa9.txt", "utf8"));
    CHECK(find("./index.html") == NULL);
    CHECK(find("docs/a") == NULL);
    CHECK(find("") == NULL);

    /* The data is the archive's own bytes: served by reference. */
    const struct site_file *f = find("abs/x.css");
    CHECK(f->data >= archive.bytes && f->data < archive.bytes + archive.len);

    CHECK(is_dir(""));
    CHECK(is_dir("docs"));      /* listed */
    CHECK(is_dir("abs"));       /* implied by abs/x.css */
    CHECK(is_dir("deep"));
    CHECK(is_dir("deep/er"));
    CHECK(!is_dir("deep/e"));
    CHECK(!is_dir("docs-x"));
    CHECK(!is_dir("index.html"));
    CHECK(!is_dir("nothing"));
    CHECK(!is_dir("abs/x.css/more"));
}

TEST(site_gzip_variants_and_etags)
{
    archive.len = 0;
    cpio_build_file(&archive, "app.js", "console.log(1)", 5);
    cpio_build_file(&archive, "app.js.gz", "\x1f\x8b-fake", 6);
    cpio_build_file(&archive, "lonely.gz", "\x1f\x8b", 7);
    cpio_build_file(&archive, "same.txt", "console.log(1)", 99);
    cpio_build_trailer(&archive);
    CHECK_EQ(load(), 0);
    const struct site_file *js = find("app.js");
    CHECK(js && js->gzip == find("app.js.gz"));
    CHECK(find("app.js.gz")->gzip == NULL);
    CHECK(find("lonely.gz") && find("lonely.gz")->gzip == NULL);
    CHECK_STR_EQ(find("lonely.gz")->content_type, "application/gzip");

    uint64_t e = site_file_etag(js);
    CHECK(e != 0);
    CHECK_EQ(site_file_etag(js), e);                       /* kept */
    CHECK_EQ(site_file_etag(find("same.txt")), e);         /* the same bytes: the same tag */
    CHECK(site_file_etag(find("app.js.gz")) != e);
}

TEST(site_later_entries_win_and_bad_names_skip)
{
    archive.len = 0;
    cpio_build_file(&archive, "./page.html", "old", 1);
    cpio_build_file(&archive, "../escape.txt", "no", 1);
    cpio_build_file(&archive, "a/./b.txt", "no", 1);
    cpio_build_file(&archive, "a//b.txt", "no", 1);
    cpio_build_file(&archive, "a/../b.txt", "no", 1);
    cpio_build_add(&archive, &(struct cpio_build_entry){ .name = "link", .mode = 0120000 | 0777, .data = "page.html",
                                                         .size = 9 });
    cpio_build_add(&archive, &(struct cpio_build_entry){ .name = "fifo", .mode = 0010000 | 0644 });
    cpio_build_trailer(&archive);
    cpio_build_file(&archive, "page.html", "new", 2); /* a second archive, concatenated */
    cpio_build_trailer(&archive);
    CHECK_EQ(load(), 0);
    CHECK(file_is("page.html", "new"));
    CHECK_EQ(find("page.html")->mtime, 2);
    CHECK(file_is("link", "new")); /* links are followed once every archive is read */
    CHECK(find("fifo") == NULL);
    CHECK(find("escape.txt") == NULL && find("../escape.txt") == NULL);
    CHECK(find("a/b.txt") == NULL);
    CHECK_EQ(site_stats()->files, 2);
    CHECK_EQ(site_stats()->skipped, 6);
}

TEST(site_hard_links_share_data)
{
    archive.len = 0;
    /* cpio -H newc: the data only with the last link. */
    cpio_build_add(&archive, &(struct cpio_build_entry){ .name = "one", .mode = CPIO_MODE_FILE | 0644, .nlink = 2,
                                                         .ino = 77 });
    cpio_build_add(&archive, &(struct cpio_build_entry){ .name = "two", .mode = CPIO_MODE_FILE | 0644, .nlink = 2,
                                                         .ino = 77, .data = "shared", .size = 6 });
    cpio_build_add(&archive, &(struct cpio_build_entry){ .name = "empty", .mode = CPIO_MODE_FILE | 0644 });
    cpio_build_trailer(&archive);
    CHECK_EQ(load(), 0);
    CHECK(file_is("one", "shared"));
    CHECK(file_is("two", "shared"));
    CHECK(file_is("empty", ""));
}

TEST(site_malformed_archive_is_refused_and_reported)
{
    archive.len = 0;
    cpio_build_file(&archive, "ok.txt", "fine", 1);
    size_t bad = cpio_build_file(&archive, "bad.txt", "x", 1);
    cpio_build_trailer(&archive);
    archive.bytes[bad] = 'X';
    unsigned long errors = vnenv_error_lines;
    uint64_t refused = site_stats()->refused;
    CHECK_EQ(load(), -1);
    CHECK_EQ(vnenv_error_lines, errors + 1); /* one console line, with the offset */
    vnenv_error_lines = errors;
    CHECK(!site_stats()->served);
    CHECK_EQ(site_stats()->refused, refused + 1);
    CHECK(find("ok.txt") == NULL); /* nothing of a refused archive is served */
    CHECK(!is_dir(""));

    site_note_refused(1 << 30); /* refused for its size before loading */
    CHECK(site_stats()->given && !site_stats()->served);
    CHECK_EQ(site_stats()->refused, refused + 2);
}

TEST(archive_kind_names_what_is_not_newc)
{
    static const struct {
        const char *bytes;
        size_t len;
        const char *kind;
    } cases[] = {
        { "\x1f\x8b\x08\x00", 4, "gzip-compressed data" },
        { "\xfd" "7zXZ\0\0\x04", 8, "xz-compressed data" },
        { "\x28\xb5\x2f\xfd\x24", 5, "zstd-compressed data" },
        { "BZh91AY", 7, "bzip2-compressed data" },
        { "\x5d\0\0\x80\0", 5, "lzma-compressed data" },
        { "\x02\x21\x4c\x18", 4, "lz4-compressed data" },
        { "\x04\x22\x4d\x18", 4, "lz4-compressed data" },
        { "\x89LZO\0", 5, "lzop-compressed data" },
        { "070707000000", 12, "an odc cpio archive (cpio -H odc)" },
        { "\xc7\x71\0\0", 4, "a binary cpio archive (cpio -H bin)" },
        { "PK\3\4", 4, "a zip archive" },
        { "070701000000", 12, NULL },  /* newc itself */
        { "07070", 5, NULL },
        { "\x1f", 1, NULL },           /* too short to tell */
        { "", 0, NULL },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *kind = archive_kind(cases[i].bytes, cases[i].len);
        CHECK(cases[i].kind ? kind && strcmp(kind, cases[i].kind) == 0 : kind == NULL);
    }
    uint8_t tar[512] = "index.html";
    memcpy(tar + 257, "ustar\0" "00", 8);
    CHECK(archive_kind(tar, sizeof tar) && strcmp(archive_kind(tar, sizeof tar), "a tar archive") == 0);
    CHECK(archive_kind(tar, 261) == NULL); /* "ustar" cut short */
}

TEST(site_compressed_archive_is_named_and_refused)
{
    static const uint8_t xz[] = { 0xfd, '7', 'z', 'X', 'Z', 0, 0, 4, 0xe6, 0xd6, 0xb4, 0x46 }; /* shorter than a header */
    unsigned long errors = vnenv_error_lines;
    vnenv_errors[0] = '\0';
    CHECK_EQ(site_load(xz, sizeof xz), -1);
    CHECK_EQ(vnenv_error_lines, errors + 2);
    vnenv_error_lines = errors;
    CHECK(strstr(vnenv_errors, "malformed at offset 0 (0x0): truncated header: "
                               "it is xz-compressed data; serving the built-in pages\n") != NULL);
    CHECK(strstr(vnenv_errors, "uncompressed newc cpio archive") != NULL);
    CHECK(!site_stats()->served);

    /* A bad magic further in is a malformed archive, not another format. */
    archive.len = 0;
    cpio_build_file(&archive, "ok.txt", "fine", 1);
    size_t at = archive.len;
    cpio_build_trailer(&archive);
    memcpy(archive.bytes + at, "\x1f\x8b", 2);
    vnenv_errors[0] = '\0';
    CHECK_EQ(load(), -1);
    vnenv_error_lines = errors;
    CHECK(strstr(vnenv_errors, "bad magic (not a newc cpio header); serving") != NULL);
    CHECK(strstr(vnenv_errors, "it is") == NULL);
}

TEST(site_links_serve_the_file_they_lead_to)
{
    archive.len = 0;
    cpio_build_file(&archive, "./v2/app.js", "console.log(2)", 500);
    cpio_build_file(&archive, "./v2/docs/guide.html", "<p>guide</p>", 600);
    cpio_build_file(&archive, "./top.txt", "top", 700);
    cpio_build_link(&archive, "./app.js", "v2/app.js");                 /* into a directory */
    cpio_build_link(&archive, "./v2/docs/up.txt", "../../top.txt");    /* up, within the site */
    cpio_build_link(&archive, "./v2/docs/self.html", "./guide.html");
    cpio_build_link(&archive, "./latest", "v2//docs/./../app.js");     /* empty and . components; no extension */
    cpio_build_link(&archive, "./chain1.js", "chain2.js");              /* through other links */
    cpio_build_link(&archive, "./chain2.js", "app.js");
    cpio_build_link(&archive, "./dangling.txt", "nothing.txt");
    cpio_build_link(&archive, "./abs.txt", "/etc/passwd");
    cpio_build_link(&archive, "./escape.txt", "../top.txt");
    cpio_build_link(&archive, "./v2/deep.txt", "../../../top.txt");
    cpio_build_link(&archive, "./dir", "v2");
    cpio_build_link(&archive, "./root", "v2/..");
    cpio_build_link(&archive, "./loop1", "loop2");
    cpio_build_link(&archive, "./loop2", "loop1");
    cpio_build_link(&archive, "./empty", "");
    cpio_build_trailer(&archive);
    CHECK_EQ(load(), 0);

    CHECK(file_is("app.js", "console.log(2)"));
    CHECK_EQ(find("app.js")->mtime, 500); /* the file's, as stat() through a link gives */
    CHECK(strcmp(find("app.js")->content_type, "text/javascript; charset=utf-8") == 0);
    CHECK(file_is("v2/docs/up.txt", "top"));
    CHECK(file_is("v2/docs/self.html", "<p>guide</p>"));
    CHECK(file_is("latest", "console.log(2)"));
    CHECK(strcmp(find("latest")->content_type, "application/octet-stream") == 0); /* its own name's type */
    CHECK(file_is("chain1.js", "console.log(2)"));
    CHECK(file_is("chain2.js", "console.log(2)"));
    const char *refused[] = { "dangling.txt", "abs.txt", "escape.txt", "v2/deep.txt", "root", "loop1", "loop2",
                              "empty" };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        CHECK(find(refused[i]) == NULL);
    /* A link to a directory: the paths below it are the directory's. */
    CHECK(find("dir") == NULL);
    CHECK(is_dir("dir"));
    CHECK(file_is("dir/app.js", "console.log(2)"));
    CHECK(file_is("dir/docs/guide.html", "<p>guide</p>"));
    CHECK(is_dir("dir/docs"));
    CHECK(find("dir/missing") == NULL);
    CHECK(!is_dir("dir/app.js"));
    CHECK_EQ(site_stats()->files, 3 + 6);
    CHECK_EQ(site_stats()->dir_links, 1);
    CHECK_EQ(site_stats()->skipped, 8);
}

TEST(site_links_to_directories)
{
    archive.len = 0;
    cpio_build_file(&archive, "./releases/v1/index.html", "<p>v1</p>", 100);
    cpio_build_file(&archive, "./releases/v2/index.html", "<p>v2</p>", 200);
    cpio_build_file(&archive, "./releases/v2/notes/a.txt", "a", 200);
    cpio_build_file(&archive, "./releases/v2/a.txt.gz", "gz", 200);
    cpio_build_file(&archive, "./releases/v2/a.txt", "plain", 200);
    cpio_build_link(&archive, "./releases/latest", "v2");            /* beside its target */
    cpio_build_link(&archive, "./latest", "releases/latest");        /* to a link to a directory */
    cpio_build_link(&archive, "./docs", "releases/latest/notes");    /* through one */
    cpio_build_link(&archive, "./releases/v2/up", "../v1");          /* inside a linked directory, and up */
    cpio_build_link(&archive, "./self", "self/x");                   /* into itself: not in the site */
    cpio_build_link(&archive, "./x.gz", "releases");                 /* no .gz variant of "x" */
    cpio_build_file(&archive, "./x", "x", 300);
    cpio_build_link(&archive, "./ring1", "ring2");
    cpio_build_link(&archive, "./ring2", "ring1");
    cpio_build_trailer(&archive);
    CHECK_EQ(load(), 0);

    CHECK(file_is("releases/latest/index.html", "<p>v2</p>"));
    CHECK(file_is("latest/index.html", "<p>v2</p>"));
    CHECK(file_is("latest/notes/a.txt", "a"));
    CHECK(file_is("docs/a.txt", "a"));
    CHECK(file_is("latest/up/index.html", "<p>v1</p>"));
    CHECK(find("latest/a.txt") != NULL && find("latest/a.txt")->gzip != NULL); /* the target's variant */
    CHECK(is_dir("latest") && is_dir("docs") && is_dir("latest/up") && is_dir("releases/latest"));
    CHECK(find("latest") == NULL && find("docs") == NULL);
    CHECK(find("self") == NULL && !is_dir("self") && find("self/x") == NULL);
    CHECK(file_is("x", "x") && find("x")->gzip == NULL);
    CHECK(!is_dir("ring1") && find("ring1/a") == NULL);
    CHECK_EQ(site_stats()->dir_links, 5); /* releases/latest, latest, docs, up, x.gz */
}

TEST(site_link_in_a_directory_longer_than_a_target_may_be)
{
    static char name[SITE_LINK_PATH_MAX + 64];
    archive.len = 0;
    memset(name, 'd', sizeof name - 1);
    memcpy(name + sizeof name - 8, "/link", 6); /* "ddd...d/link": a directory name past SITE_LINK_PATH_MAX */
    cpio_build_link(&archive, name, "target");
    cpio_build_trailer(&archive);
    CHECK_EQ(load(), 0);
    CHECK_EQ(site_stats()->files, 0);
    CHECK_EQ(site_stats()->skipped, 1);
}

TEST(site_link_at_the_hop_limit)
{
    /* l0 -> l1 -> ... -> l7 -> f: eight links in a row are followed, nine are not. */
    char names[SITE_LINK_HOPS + 2][8];
    for (int extra = 0; extra < 2; extra++) {
        archive.len = 0;
        cpio_build_file(&archive, "f", "end", 1);
        int links = SITE_LINK_HOPS + extra;
        for (int i = 0; i < links; i++) {
            snprintf(names[i], sizeof names[i], "l%d", i);
            snprintf(names[i + 1], sizeof names[i + 1], "l%d", i + 1);
            cpio_build_link(&archive, names[i], i + 1 == links ? "f" : names[i + 1]);
        }
        cpio_build_trailer(&archive);
        CHECK_EQ(load(), 0);
        CHECK(extra ? find("l0") == NULL : file_is("l0", "end"));
        CHECK(file_is("l1", "end"));
    }
}

TEST(site_empty_archive)
{
    archive.len = 0;
    cpio_build_trailer(&archive);
    CHECK_EQ(load(), 0);
    CHECK_EQ(site_stats()->files, 0);
    CHECK(is_dir(""));
    CHECK(find("index.html") == NULL);
}
