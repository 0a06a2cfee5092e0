/* net/media_types.c: Content-Type from the extension, case-insensitive; the default otherwise. */
#include <string.h>

#include "net/media_types.h"
#include "tests/unit/check.h"

static const char *type_of(const char *name)
{
    return media_type_for(name, strlen(name));
}

TEST(media_types_by_extension)
{
    CHECK_STR_EQ(type_of("index.html"), "text/html; charset=utf-8");
    CHECK_STR_EQ(type_of("a/b/INDEX.HTM"), "text/html; charset=utf-8");
    CHECK_STR_EQ(type_of("app.js"), "text/javascript; charset=utf-8");
    CHECK_STR_EQ(type_of("s.css"), "text/css; charset=utf-8");
    CHECK_STR_EQ(type_of("x.svg"), "image/svg+xml");
    CHECK_STR_EQ(type_of("p.PNG"), "image/png");
    CHECK_STR_EQ(type_of("f.woff2"), "font/woff2");
    CHECK_STR_EQ(type_of("d.json"), "application/json");
    CHECK_STR_EQ(type_of("a.tar.gz"), "application/gzip");
}

TEST(media_types_default)
{
    CHECK_STR_EQ(type_of("README"), MEDIA_TYPE_DEFAULT);
    CHECK_STR_EQ(type_of("data.bin"), MEDIA_TYPE_DEFAULT);
    CHECK_STR_EQ(type_of(".html"), MEDIA_TYPE_DEFAULT);       /* a dot file, not an extension */
    CHECK_STR_EQ(type_of("dir/.css"), MEDIA_TYPE_DEFAULT);
    CHECK_STR_EQ(type_of("dir.html/file"), MEDIA_TYPE_DEFAULT);
    CHECK_STR_EQ(type_of("file."), MEDIA_TYPE_DEFAULT);
    CHECK_STR_EQ(type_of("x.htmlx"), MEDIA_TYPE_DEFAULT);
    CHECK_STR_EQ(type_of(""), MEDIA_TYPE_DEFAULT);
    CHECK_STR_EQ(media_type_for("x.html.bak", 6), "text/html; charset=utf-8"); /* only len bytes count */
}
