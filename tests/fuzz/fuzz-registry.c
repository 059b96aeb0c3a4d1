/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Feeds the input to what image pull parses of a registry's answers before trusting any of it
 * (registry-auth.c): the WWW-Authenticate challenge parser, the token server's JSON answer, the URL
 * policy for redirects and realms, the resolution of an upload's Location (push), and the sizes a manifest
 * or an index declares (with the index's platform pick). Each result is checked against the invariants
 * pull.c relies on: a violated one aborts. */

#include <stdio.h>
#include <string.h>

#include "image-internal.h"
#include "macros.h"
#include "string-util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool is_lower_token(const char *s) {
        if (isempty(s))
                return false;
        for (; *s; s++)
                if ((*s >= 'A' && *s <= 'Z') || *s <= 0x20 || *s >= 0x7f ||
                    strchr("\"(),/:;<=>?@[\\]{}", *s))
                        return false;
        return true;
}

static void fuzz_challenges(const char *header) {
        AuthChallenge *c = NULL;
        size_t n = 0;

        if (auth_challenges_parse(header, &c, &n) < 0)
                return;
        if (n == 0 || n > AUTH_CHALLENGES_MAX)
                abort();
        for (size_t i = 0; i < n; i++) {
                if (!is_lower_token(c[i].scheme))
                        abort();
                if (c[i].token68 && c[i].params)
                        abort(); /* one or the other */
                size_t np = strv_length(c[i].params);
                if (np % 2 != 0 || np > 2 * AUTH_PARAMS_MAX)
                        abort();
                for (size_t j = 0; j < np; j += 2) {
                        if (!is_lower_token(c[i].params[j]))
                                abort();
                        /* names are unique: the lookup finds this very pair */
                        if (auth_challenge_param(&c[i], c[i].params[j]) != c[i].params[j + 1])
                                abort();
                }
        }
        auth_challenges_free(c, n);
}

static void fuzz_token(const uint8_t *data, size_t size) {
        _cleanup_free_ char *tok = NULL;
        ImageError e = {};

        if (token_response_parse((const char *) data, size, &tok, &e) >= 0) {
                if (isempty(tok))
                        abort();
                for (const char *q = tok; *q; q++)
                        if (*q < 0x21 || *q > 0x7e)
                                abort(); /* it would become a header line */
        }
        error_message_done(&e);
}

/* The path of an absolute URL: after the authority, up to the query */
static const char *path_of(const char *url, size_t *ret_len) {
        const char *a = strstr(url, "://");
        const char *p = a ? a + 3 + strcspn(a + 3, "/?#") : url;
        *ret_len = strcspn(p, "?#");
        return p;
}

static bool has_dot_segment(const char *p, size_t n) {
        for (size_t i = 0; i < n; i++) {
                if (p[i] != '/')
                        continue;
                size_t k = i + 1;
                while (k < n && p[k] == '.')
                        k++;
                if (k - i - 1 >= 1 && k - i - 1 <= 2 && (k == n || p[k] == '/'))
                        return true;
        }
        return false;
}

static void fuzz_resolve(const char *base, const char *ref) {
        _cleanup_free_ char *res = NULL, *again = NULL;
        size_t n;

        if (url_resolve(base, ref, &res) < 0)
                return;
        /* pull.c sends to it: a URL url_check() accepts, no fragment, no dot segment left */
        if (url_check(res, NULL) < 0 || strchr(res, '#'))
                abort();
        const char *p = path_of(res, &n);
        if (has_dot_segment(p, n))
                abort();
        /* the result is absolute and clean: resolving it again gives it back, against any base */
        if (url_resolve(base, res, &again) < 0 || !streq(again, res))
                abort();
        again = mfree(again);
        if (url_resolve(res, res, &again) < 0 || !streq(again, res))
                abort();
        /* a reference that was absolute and clean already comes back as it was */
        size_t rn;
        const char *rp = path_of(ref, &rn);
        if (url_check(ref, NULL) >= 0 && !strchr(ref, '#') && !has_dot_segment(rp, rn) && !streq(res, ref))
                abort();
        /* a relative reference stays at the base's origin */
        if (!strstr(ref, "://") && !startswith(ref, "//") && url_same_origin(base, res) != 1)
                abort();
}

static void fuzz_urls(const char *s) {
        /* the input as one URL, and split at its first newline into a redirect's from and to */
        bool tls;
        if (url_check(s, &tls) >= 0) {
                if (url_same_origin(s, s) != 1)
                        abort();
                if (!credentials_allowed(s, true) || credentials_allowed(s, false) != tls)
                        abort();
                if (redirect_check(s, s) < 0)
                        abort();
        } else if (credentials_allowed(s, true) || url_same_origin(s, s) >= 0)
                abort();

        const char *nl = strchr(s, '\n');
        if (!nl)
                return;
        _cleanup_free_ char *from = strndup(s, (size_t) (nl - s));
        const char *to = nl + 1;
        if (!from)
                abort();
        int r = redirect_check(from, to);
        bool ftls, ttls;
        if (r >= 0 && (url_check(from, &ftls) < 0 || url_check(to, &ttls) < 0 || (ftls && !ttls)))
                abort(); /* followed: both good URLs, no downgrade */
        if (r == -EPERM && (url_check(from, &ftls) < 0 || url_check(to, &ttls) < 0 || !ftls || ttls))
                abort();
        int so = url_same_origin(from, to);
        if ((so == 1) != (url_same_origin(to, from) == 1))
                abort(); /* symmetric (which error comes first is not) */
        if (so == 1 && r < 0)
                abort(); /* the same origin is never a downgrade */
        fuzz_resolve(from, to);
}

static void fuzz_descriptors(const uint8_t *data, size_t size) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        ImageError e = {};

        if (json_parse_bounded((const char *) data, size, IMAGE_DEFAULT_MAX_JSON_BYTES, &o, NULL, NULL) < 0)
                return;
        if (image_json_is_index(o)) {
                _cleanup_free_ char *pick = NULL;
                uint64_t declared;
                if (image_index_pick_platform(o, &pick, &e) >= 0) {
                        if (!digest_is_valid(pick))
                                abort();
                        (void) index_declared_size(o, pick, &declared, &e);
                }
                error_message_done(&e);
                return;
        }
        _cleanup_free_ uint64_t *sizes = NULL;
        uint64_t config;
        size_t n;
        if (manifest_declared_sizes(o, &config, &sizes, &n, &e) >= 0) {
                ImageManifest *m = NULL;
                ImageError e2 = {};
                /* what pull.c asserts: the manifest parser sees as many layers */
                if (image_manifest_parse((const char *) data, size, &m, &e2) >= 0) {
                        if (m->n_layers != n)
                                abort();
                        image_manifest_free(m);
                }
                error_message_done(&e2);
                if (config > INT64_MAX)
                        abort();
                for (size_t i = 0; i < n; i++)
                        if (sizes[i] > INT64_MAX)
                                abort();
        }
        error_message_done(&e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size > AUTH_HEADER_MAX * 2)
                return 0;
        _cleanup_free_ char *s = strndup((const char *) data, size);
        if (!s)
                abort();
        fuzz_challenges(s);
        fuzz_token(data, size);
        fuzz_urls(s);
        fuzz_descriptors(data, size);
        return 0;
}
