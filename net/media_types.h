/*
 * Content-Type (RFC 9110, 8.3) of a file of the site, from its name's
 * extension: the common web types (IANA media types; text with
 * charset=utf-8), else application/octet-stream. Pure logic, unit-tested.
 */
#ifndef NET_MEDIA_TYPES_H
#define NET_MEDIA_TYPES_H

#include <stddef.h>

#define MEDIA_TYPE_DEFAULT "application/octet-stream"

/* The media type for a file named name[0..len) (any directories before it are ignored). */
const char *media_type_for(const char *name, size_t len);

#endif
