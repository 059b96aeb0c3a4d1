/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

static int max_level = LOG_INFO;
static const char *log_prefix = NULL;
static int stderr_is_journal = -1;

void log_set_max_level(int level) {
        max_level = level;
}

int log_get_max_level(void) {
        return max_level;
}

void log_set_prefix(const char *prefix) {
        log_prefix = prefix;
}

static int level_from_string(const char *s) {
        static const char *const names[] = { "emerg",   "alert",  "crit", "err",
                                             "warning", "notice", "info", "debug" };
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (strcasecmp(s, names[i]) == 0)
                        return (int) i;
        if (strcasecmp(s, "error") == 0)
                return LOG_ERR;
        return -EINVAL;
}

void log_parse_environment(void) {
        const char *e = getenv("CBOX_LOG_LEVEL");
        if (e) {
                int l = level_from_string(e);
                if (l >= 0)
                        max_level = l;
        }
}

/* journald sets $JOURNAL_STREAM to "dev:ino" of the stream it hands us */
static bool detect_journal_stream(void) {
        const char *e = getenv("JOURNAL_STREAM");
        struct stat st;
        unsigned long long dev, ino;

        if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
                return false;
        if (fstat(STDERR_FILENO, &st) < 0)
                return false;
        return st.st_dev == (dev_t) dev && st.st_ino == (ino_t) ino;
}

int log_internal(int level, int error, const char *file, int line, const char *func, const char *fmt, ...) {
        int saved = errno;
        va_list ap;

        if (stderr_is_journal < 0)
                stderr_is_journal = detect_journal_stream();

        if (error != 0)
                errno = abs(error);

        flockfile(stderr);
        if (stderr_is_journal)
                fprintf(stderr, "<%d>", level);
        else if (log_prefix)
                fprintf(stderr, "%s: ", log_prefix);
        if (max_level >= LOG_DEBUG)
                fprintf(stderr, "(%s:%d) ", file, line);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        funlockfile(stderr);

        errno = saved;
        return -abs(error);
}
