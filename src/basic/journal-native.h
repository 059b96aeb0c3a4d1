/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* systemd's Native Journal Protocol (https://systemd.io/JOURNAL_NATIVE_PROTOCOL/), libc only:
 * one datagram per entry on /run/systemd/journal/socket, fields as "NAME=value\n", or, when the
 * value contains a newline or a NUL byte, "NAME\n" + 64-bit little-endian length + value + "\n". */

#include <stddef.h>
#include <stdint.h>

#include "macros.h"
#include "string-util.h"

/* Field names: 1..64 chars of [A-Z0-9_], not starting with a digit or '_' */
bool journal_field_name_valid(const char *name, size_t len);

/* Appends one field to b. -EINVAL for an invalid name, -ENOMEM. */
int journal_native_append(Buffer *b, const char *name, const void *value, size_t size);
/* Same with a NUL-terminated value */
int journal_native_append_string(Buffer *b, const char *name, const char *value);

/* Parses one entry, calling cb for each field in order; a negative return from cb stops and is
 * returned. -EBADMSG on malformed input. */
typedef int (*JournalFieldFunc)(const char *name, size_t name_len, const void *value, size_t value_size,
                                void *userdata);
int journal_native_parse(const void *data, size_t size, JournalFieldFunc cb, void *userdata);

/* Sends b as one datagram on fd (a SOCK_DGRAM socket connected to the journal). -errno. */
int journal_native_send(int fd, const Buffer *b);
