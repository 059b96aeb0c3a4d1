/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "journal-native.h"

bool journal_field_name_valid(const char *name, size_t len) {
        if (!name || len == 0 || len > 64)
                return false;
        if (name[0] == '_' || (name[0] >= '0' && name[0] <= '9'))
                return false;
        for (size_t i = 0; i < len; i++)
                if (!((name[i] >= 'A' && name[i] <= 'Z') || (name[i] >= '0' && name[i] <= '9') ||
                      name[i] == '_'))
                        return false;
        return true;
}

int journal_native_append(Buffer *b, const char *name, const void *value, size_t size) {
        size_t name_len;
        int r;

        assert(b);
        assert(name);
        assert(value || size == 0);

        name_len = strlen(name);
        if (!journal_field_name_valid(name, name_len))
                return -EINVAL;

        r = buffer_append(b, name, name_len);
        if (r < 0)
                return r;

        /* The length-prefixed form for anything that is not a plain line of text */
        if (size > 0 && (memchr(value, '\n', size) || memchr(value, '\0', size))) {
                uint8_t le[8];
                uint64_t n = size;

                for (size_t i = 0; i < 8; i++)
                        le[i] = (uint8_t) (n >> (8 * i));
                r = buffer_append(b, "\n", 1);
                if (r < 0)
                        return r;
                r = buffer_append(b, le, sizeof(le));
        } else
                r = buffer_append(b, "=", 1);
        if (r < 0)
                return r;

        r = buffer_append(b, value, size);
        if (r < 0)
                return r;
        return buffer_append(b, "\n", 1);
}

int journal_native_append_string(Buffer *b, const char *name, const char *value) {
        return journal_native_append(b, name, value, strlen(value));
}

int journal_native_parse(const void *data, size_t size, JournalFieldFunc cb, void *userdata) {
        const char *p = data, *end = p + size;
        int r;

        assert(data || size == 0);
        assert(cb);

        while (p < end) {
                const char *name = p, *sep;
                size_t name_len;

                /* the name ends at the first '=' or '\n' */
                for (sep = p; sep < end && *sep != '=' && *sep != '\n'; sep++)
                        ;
                if (sep >= end)
                        return -EBADMSG;
                name_len = (size_t) (sep - name);
                if (!journal_field_name_valid(name, name_len))
                        return -EBADMSG;

                if (*sep == '=') {
                        const char *value = sep + 1, *nl = memchr(value, '\n', (size_t) (end - value));
                        if (!nl)
                                return -EBADMSG;
                        r = cb(name, name_len, value, (size_t) (nl - value), userdata);
                        if (r < 0)
                                return r;
                        p = nl + 1;
                } else {
                        const uint8_t *le = (const uint8_t *) sep + 1;
                        uint64_t n = 0;

                        if ((size_t) (end - (const char *) le) < 8)
                                return -EBADMSG;
                        for (size_t i = 0; i < 8; i++)
                                n |= (uint64_t) le[i] << (8 * i);
                        const char *value = (const char *) le + 8;
                        if (n >= (uint64_t) (end - value) || value[n] != '\n')
                                return -EBADMSG;
                        r = cb(name, name_len, value, (size_t) n, userdata);
                        if (r < 0)
                                return r;
                        p = value + n + 1;
                }
        }

        return 0;
}

int journal_native_send(int fd, const Buffer *b) {
        struct iovec iov = { .iov_base = b->data, .iov_len = b->size };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

        assert(fd >= 0);
        assert(b);

        for (;;) {
                if (sendmsg(fd, &mh, MSG_NOSIGNAL) >= 0)
                        return 0;
                if (errno != EINTR)
                        return -errno;
        }
}
