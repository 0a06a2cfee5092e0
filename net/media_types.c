#include "net/media_types.h"

#include "net/http_parser.h"

/* Extensions (lower case) and their types; the text types say their charset
 * so a browser does not guess it. A name matches case-insensitively. */
static const struct {
    const char *ext, *type;
} media_types[] = {
    { "html", "text/html; charset=utf-8" },
    { "htm", "text/html; charset=utf-8" },
    { "css", "text/css; charset=utf-8" },
    { "js", "text/javascript; charset=utf-8" },   /* RFC 9239 */
    { "mjs", "text/javascript; charset=utf-8" },
    { "json", "application/json" },
    { "map", "application/json" },
    { "webmanifest", "application/manifest+json" },
    { "txt", "text/plain; charset=utf-8" },
    { "md", "text/markdown; charset=utf-8" },
    { "csv", "text/csv; charset=utf-8" },
    { "xml", "application/xml" },
    { "rss", "application/rss+xml" },
    { "atom", "application/atom+xml" },
    { "svg", "image/svg+xml" },
    { "png", "image/png" },
    { "jpg", "image/jpeg" },
    { "jpeg", "image/jpeg" },
    { "gif", "image/gif" },
    { "webp", "image/webp" },
    { "avif", "image/avif" },
    { "ico", "image/vnd.microsoft.icon" },
    { "bmp", "image/bmp" },
    { "woff", "font/woff" },
    { "woff2", "font/woff2" },
    { "ttf", "font/ttf" },
    { "otf", "font/otf" },
    { "pdf", "application/pdf" },
    { "wasm", "application/wasm" },
    { "zip", "application/zip" },
    { "gz", "application/gzip" },
    { "tar", "application/x-tar" },
    { "mp3", "audio/mpeg" },
    { "ogg", "audio/ogg" },
    { "wav", "audio/wav" },
    { "mp4", "video/mp4" },
    { "webm", "video/webm" },
};

const char *media_type_for(const char *name, size_t len)
{
    size_t dot = len;
    while (dot > 0 && name[dot - 1] != '.' && name[dot - 1] != '/')
        dot--;
    if (dot == 0 || name[dot - 1] != '.' || dot == 1 || name[dot - 2] == '/')
        return MEDIA_TYPE_DEFAULT; /* no extension, or a dot file such as ".htaccess" */
    for (size_t i = 0; i < sizeof(media_types) / sizeof(media_types[0]); i++)
        if (http_equals_ci(name + dot, len - dot, media_types[i].ext))
            return media_types[i].type;
    return MEDIA_TYPE_DEFAULT;
}
