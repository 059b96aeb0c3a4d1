/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* libarchive, dlopen()ed on first use instead of linked: with its dependencies (libxml2, ICU and
 * libstdc++, nettle, acl, bz2…) it made up most of the symbol relocations ld.so did on every `cbox`
 * start, for the few verbs that read or write tarballs. Call image_dlopen_archive() before the first
 * archive_*_new() of an operation; every other call works on an object made by one of those, so the
 * pointers are set. */

#include <archive.h>
#include <archive_entry.h>

#include "image.h"

#define ARCHIVE_SYMBOLS(X)                                                                                  \
        X(archive_entry_atime)                                                                              \
        X(archive_entry_atime_is_set)                                                                       \
        X(archive_entry_atime_nsec)                                                                         \
        X(archive_entry_filetype)                                                                           \
        X(archive_entry_free)                                                                               \
        X(archive_entry_gid)                                                                                \
        X(archive_entry_hardlink)                                                                           \
        X(archive_entry_mtime)                                                                              \
        X(archive_entry_mtime_nsec)                                                                         \
        X(archive_entry_new)                                                                                \
        X(archive_entry_pathname)                                                                           \
        X(archive_entry_perm)                                                                               \
        X(archive_entry_rdevmajor)                                                                          \
        X(archive_entry_rdevminor)                                                                          \
        X(archive_entry_set_filetype)                                                                       \
        X(archive_entry_set_gid)                                                                            \
        X(archive_entry_set_hardlink)                                                                       \
        X(archive_entry_set_mode)                                                                           \
        X(archive_entry_set_mtime)                                                                          \
        X(archive_entry_set_pathname)                                                                       \
        X(archive_entry_set_perm)                                                                           \
        X(archive_entry_set_rdevmajor)                                                                      \
        X(archive_entry_set_rdevminor)                                                                      \
        X(archive_entry_set_size)                                                                           \
        X(archive_entry_set_symlink)                                                                        \
        X(archive_entry_set_uid)                                                                            \
        X(archive_entry_size)                                                                               \
        X(archive_entry_size_is_set)                                                                        \
        X(archive_entry_symlink)                                                                            \
        X(archive_entry_uid)                                                                                \
        X(archive_entry_xattr_add_entry)                                                                    \
        X(archive_entry_xattr_next)                                                                         \
        X(archive_entry_xattr_reset)                                                                        \
        X(archive_error_string)                                                                             \
        X(archive_filter_bytes)                                                                             \
        X(archive_read_data)                                                                                \
        X(archive_read_data_block)                                                                          \
        X(archive_read_free)                                                                                \
        X(archive_read_new)                                                                                 \
        X(archive_read_next_header)                                                                         \
        X(archive_read_open)                                                                                \
        X(archive_read_open_fd)                                                                             \
        X(archive_read_open_filename)                                                                       \
        X(archive_read_support_filter_all)                                                                  \
        X(archive_read_support_filter_gzip)                                                                 \
        X(archive_read_support_filter_xz)                                                                   \
        X(archive_read_support_filter_zstd)                                                                 \
        X(archive_read_support_format_raw)                                                                  \
        X(archive_read_support_format_tar)                                                                  \
        X(archive_set_error)                                                                                \
        X(archive_write_add_filter_gzip)                                                                    \
        X(archive_write_add_filter_none)                                                                    \
        X(archive_write_close)                                                                              \
        X(archive_write_data)                                                                               \
        X(archive_write_free)                                                                               \
        X(archive_write_header)                                                                             \
        X(archive_write_new)                                                                                \
        X(archive_write_open2)                                                                              \
        X(archive_write_open_fd)                                                                            \
        X(archive_write_set_bytes_per_block)                                                                \
        X(archive_write_set_filter_option)                                                                  \
        X(archive_write_set_format_pax_restricted)                                                          \
        X(archive_write_set_format_raw)

#define X(f) extern typeof(f) *sym_##f;
ARCHIVE_SYMBOLS(X)
#undef X

/* 0, or -EOPNOTSUPP (error filled) when libarchive.so.13 or one of its functions is missing */
int image_dlopen_archive(ImageError *error);
