/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* An error with the reason errno cannot carry: what netlink/, nft/, image/ and spawn/ hand back
 * (NetlinkError, NftError and ImageError are this type). Every function takes e == NULL (then it only
 * returns the error). */

#include <stdarg.h>

#include "macros.h"

typedef struct ErrorMessage {
        int error;     /* -errno (0: none) */
        char *message; /* the kernel's extended-ack text or our own reason; NULL when none; owned */
        char *object;  /* what the error is about (an archive entry, a file, a reference); NULL when none;
                        * owned; the setters below leave it alone */
} ErrorMessage;

/* Frees the message and the object and zeroes the struct; safe on a zeroed struct. */
void error_message_done(ErrorMessage *e);

/* Records error (a -errno) and a copy of message (may be NULL); returns error. */
int error_message_set(ErrorMessage *e, int error, const char *message);
_printf_(3, 4) int error_message_setf(ErrorMessage *e, int error, const char *fmt, ...);
_printf_(3, 0) int error_message_setv(ErrorMessage *e, int error, const char *fmt, va_list ap);
