/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errmsg.h"

void error_message_done(ErrorMessage *e) {
        if (!e)
                return;
        free(e->message);
        free(e->object);
        *e = (ErrorMessage){};
}

int error_message_set(ErrorMessage *e, int error, const char *message) {
        if (e) {
                free(e->message);
                e->error = error;
                e->message = message ? strdup(message) : NULL;
        }
        return error;
}

int error_message_setv(ErrorMessage *e, int error, const char *fmt, va_list ap) {
        if (e) {
                char *m = NULL;
                if (vasprintf(&m, fmt, ap) < 0)
                        m = NULL;
                free(e->message);
                e->error = error;
                e->message = m;
        }
        return error;
}

int error_message_setf(ErrorMessage *e, int error, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        error = error_message_setv(e, error, fmt, ap);
        va_end(ap);
        return error;
}
