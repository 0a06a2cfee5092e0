/*
 * What an archive that is not a newc cpio is, from its first bytes: for the
 * console line that refuses it, so that the user learns what to give
 * instead. Linux's initramfs habits (a compressed cpio) and the archives
 * people take for newc (tar, cpio's other formats, zip). Pure logic.
 */
#ifndef LIB_ARCHIVE_KIND_H
#define LIB_ARCHIVE_KIND_H

#include <stddef.h>

/* "xz-compressed data", "a tar archive", ...; NULL when not recognised. */
const char *archive_kind(const void *data, size_t len);

#endif
