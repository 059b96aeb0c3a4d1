/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What a registry sends us about auth and sizes, parsed without trusting it: WWW-Authenticate challenges
 * (RFC 7235 §4.1 with RFC 9110's token and quoted-string), the token server's JSON answer, and the sizes
 * a manifest's descriptors declare. No libcurl here: pull.c does the talking, this file the parsing,
 * so the fuzzer and the unit tests reach it without a network. */
#include <string.h>
#include <strings.h>

#include "image-internal.h"
#include "string-util.h"

/* RFC 9110 §5.6.2 tchar */
static bool is_tchar(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                (c != 0 && strchr("!#$%&'*+-.^_`|~", c));
}

/* RFC 7235 §2.1 token68 (without the trailing '=') */
static bool is_token68_char(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                (c != 0 && strchr("-._~+/", c));
}

static const char *skip_ows(const char *p) {
        return p + strspn(p, " \t");
}

static char *strndup_lower(const char *p, size_t n) {
        char *s = strndup(p, n);
        if (s)
                for (char *q = s; *q; q++)
                        if (*q >= 'A' && *q <= 'Z')
                                *q = (char) (*q - 'A' + 'a');
        return s;
}

/* Appends name and value to the strv of pairs; frees both on failure */
static int consume_pair(char ***l, char *name, char *value) {
        if (strv_consume(l, name) < 0) {
                free(name);
                free(value);
                return -ENOMEM;
        }
        if (strv_consume(l, value) < 0) {
                free(value);
                return -ENOMEM; /* name stays in the strv: freed with it */
        }
        return 0;
}

/* A quoted-string at *p (which points at the opening quote): the unescaped value, *p moved past it */
static int parse_quoted(const char **p, char **ret) {
        const char *q = *p + 1;
        Buffer b = {};
        int r;

        for (;; q++) {
                unsigned char c = (unsigned char) *q;
                if (c == '"')
                        break;
                if (c == '\\') {
                        q++;
                        c = (unsigned char) *q;
                        /* quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text ) */
                        if (!(c == '\t' || c >= 0x20) || c == 0x7f) {
                                buffer_done(&b);
                                return -EBADMSG;
                        }
                } else if (!(c == '\t' || c >= 0x20) || c == 0x7f) { /* qdtext; NUL ends the header */
                        buffer_done(&b);
                        return -EBADMSG;
                }
                r = buffer_append(&b, &c, 1);
                if (r < 0) {
                        buffer_done(&b);
                        return r;
                }
        }
        r = buffer_append(&b, "", 1);
        if (r < 0) {
                buffer_done(&b);
                return r;
        }
        *p = q + 1;
        *ret = b.data;
        return 0;
}

void auth_challenges_free(AuthChallenge *c, size_t n) {
        for (size_t i = 0; c && i < n; i++) {
                free(c[i].scheme);
                free(c[i].token68);
                strv_free(c[i].params);
        }
        free(c);
}

const char *auth_challenge_param(const AuthChallenge *c, const char *name) {
        for (size_t i = 0; c && c->params && c->params[i] && c->params[i + 1]; i += 2)
                if (strcasecmp(c->params[i], name) == 0)
                        return c->params[i + 1];
        return NULL;
}

/* name=value at *p: token BWS "=" BWS ( token / quoted-string ). Returns 1 and moves *p past it, 0 if
 * what is at *p is not an auth-param (nothing moved), <0 on a malformed value. */
static int parse_param(const char **p, char **ret_name, char **ret_value) {
        const char *q = *p, *n = q;
        size_t nl = 0;

        while (is_tchar(q[nl]))
                nl++;
        if (nl == 0)
                return 0;
        q = skip_ows(q + nl);
        if (*q != '=')
                return 0;
        q = skip_ows(q + 1);

        _cleanup_free_ char *name = strndup_lower(n, nl), *value = NULL;
        if (!name)
                return -ENOMEM;
        if (*q == '"') {
                int r = parse_quoted(&q, &value);
                if (r < 0)
                        return r;
        } else {
                size_t vl = 0;
                while (is_tchar(q[vl]))
                        vl++;
                if (vl == 0) /* "a=" followed by nothing or "=": token68 padding, not a param */
                        return 0;
                value = strndup(q, vl);
                if (!value)
                        return -ENOMEM;
                q += vl;
        }
        *p = q;
        *ret_name = TAKE_PTR(name);
        *ret_value = TAKE_PTR(value);
        return 1;
}

int auth_challenges_parse(const char *header, AuthChallenge **ret, size_t *ret_n) {
        AuthChallenge *c = NULL;
        size_t n = 0;
        const char *p = header;
        int r;

        if (strlen(header) > AUTH_HEADER_MAX)
                return -E2BIG;

        for (;;) {
                /* 1#element allows empty elements: ", ," */
                p = skip_ows(p);
                while (*p == ',')
                        p = skip_ows(p + 1);
                if (*p == 0)
                        break;

                /* p is at an element: a new challenge's scheme or, after a comma, another auth-param of
                 * the current challenge */
                if (n > 0 && !c[n - 1].token68) {
                        char *name = NULL, *value = NULL;
                        r = parse_param(&p, &name, &value);
                        if (r < 0)
                                goto fail;
                        if (r > 0) {
                                if (auth_challenge_param(&c[n - 1], name) ||
                                    strv_length(c[n - 1].params) >= 2 * AUTH_PARAMS_MAX) {
                                        /* RFC 7235 §2.2: each name only once per challenge */
                                        free(name);
                                        free(value);
                                        r = -EBADMSG;
                                        goto fail;
                                }
                                r = consume_pair(&c[n - 1].params, name, value);
                                if (r < 0)
                                        goto fail;
                                p = skip_ows(p);
                                if (*p != ',' && *p != 0) {
                                        r = -EBADMSG;
                                        goto fail;
                                }
                                continue;
                        }
                }

                size_t sl = 0;
                while (is_tchar(p[sl]))
                        sl++;
                if (sl == 0 || n >= AUTH_CHALLENGES_MAX) {
                        r = sl == 0 ? -EBADMSG : -E2BIG;
                        goto fail;
                }
                AuthChallenge *nc = reallocarray(c, n + 1, sizeof(AuthChallenge));
                if (!nc) {
                        r = -ENOMEM;
                        goto fail;
                }
                c = nc;
                c[n] = (AuthChallenge){ .scheme = strndup_lower(p, sl) };
                n++;
                if (!c[n - 1].scheme) {
                        r = -ENOMEM;
                        goto fail;
                }
                p += sl;
                if (*p == ',' || *p == 0)
                        continue;
                if (!IN_SET(*p, ' ', '\t')) {
                        r = -EBADMSG;
                        goto fail;
                }
                p = skip_ows(p);
                if (*p == ',' || *p == 0)
                        continue;

                /* after the scheme: a first auth-param, or a token68 */
                char *name = NULL, *value = NULL;
                r = parse_param(&p, &name, &value);
                if (r < 0)
                        goto fail;
                if (r > 0) {
                        r = consume_pair(&c[n - 1].params, name, value);
                        if (r < 0)
                                goto fail;
                } else {
                        size_t tl = 0;
                        while (is_token68_char(p[tl]))
                                tl++;
                        if (tl == 0) {
                                r = -EBADMSG;
                                goto fail;
                        }
                        while (p[tl] == '=')
                                tl++;
                        c[n - 1].token68 = strndup(p, tl);
                        if (!c[n - 1].token68) {
                                r = -ENOMEM;
                                goto fail;
                        }
                        p += tl;
                }
                p = skip_ows(p);
                if (*p != ',' && *p != 0) {
                        r = -EBADMSG;
                        goto fail;
                }
        }
        if (n == 0) {
                r = -EBADMSG;
                goto fail;
        }
        *ret = c;
        *ret_n = n;
        return 0;
fail:
        auth_challenges_free(c, n);
        return r;
}

int token_response_parse(const char *data, size_t size, char **ret_token, ImageError *error) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        int r;

        if (size > TOKEN_RESPONSE_MAX)
                return image_error_set(error, -EFBIG, "token response", "token response over %u bytes",
                                       TOKEN_RESPONSE_MAX);
        r = json_parse_bounded(data, size, TOKEN_RESPONSE_MAX, &o, error, "token response");
        if (r < 0)
                return r;
        /* the distribution spec's "token", OAuth2's "access_token" */
        const char *tok = json_get_string(o, "token");
        if (isempty(tok))
                tok = json_get_string(o, "access_token");
        if (isempty(tok))
                return image_error_set(error, -EPROTO, "token response", "token response without a token");
        /* it goes into an "Authorization: Bearer" header line: visible ASCII only (RFC 6750's b64token is
         * narrower still), so no CR/LF can smuggle in another header */
        for (const char *q = tok; *q; q++)
                if (*q < 0x21 || *q > 0x7e)
                        return image_error_set(error, -EPROTO, "token response",
                                               "token contains a character not allowed in a header");
        char *t = strdup(tok);
        if (!t)
                return -ENOMEM;
        *ret_token = t;
        return 0;
}

/* A descriptor's "size": present, an integer, >= 0 */
static int descriptor_size(json_object *d, uint64_t *ret) {
        json_object *sz;
        if (!json_object_object_get_ex(d, "size", &sz) || !json_object_is_type(sz, json_type_int))
                return -EBADMSG;
        int64_t v = json_object_get_int64(sz);
        if (v < 0)
                return -EBADMSG;
        *ret = (uint64_t) v;
        return 0;
}

int manifest_declared_sizes(json_object *manifest, uint64_t *ret_config, uint64_t **ret_layers,
                            size_t *ret_n, ImageError *error) {
        uint64_t config;
        int r;

        r = descriptor_size(json_get_object(manifest, "config"), &config);
        if (r < 0)
                return image_error_set(error, r, "manifest", "the config descriptor declares no size");
        json_object *layers = json_get_array(manifest, "layers");
        if (!layers)
                return image_error_set(error, -EBADMSG, "manifest", "missing layers");
        size_t n = json_object_array_length(layers);
        if (n > 1024)
                return image_error_set(error, -E2BIG, "manifest", "too many layers (%zu)", n);
        _cleanup_free_ uint64_t *sizes = new0(uint64_t, MAX(n, (size_t) 1));
        if (!sizes)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                r = descriptor_size(json_object_array_get_idx(layers, i), &sizes[i]);
                if (r < 0)
                        return image_error_set(error, r, "manifest", "layer %zu declares no size", i);
        }
        *ret_config = config;
        *ret_layers = TAKE_PTR(sizes);
        *ret_n = n;
        return 0;
}

int index_declared_size(json_object *index, const char *digest, uint64_t *ret, ImageError *error) {
        json_object *manifests = json_get_array(index, "manifests");
        size_t n = manifests ? json_object_array_length(manifests) : 0;

        for (size_t i = 0; i < n; i++) {
                json_object *m = json_object_array_get_idx(manifests, i);
                if (!streq_ptr(json_get_string(m, "digest"), digest))
                        continue;
                if (descriptor_size(m, ret) < 0)
                        return image_error_set(error, -EBADMSG, "index",
                                               "the index entry for %s declares no size", digest);
                return 0;
        }
        return image_error_set(error, -ENOENT, "index", "%s is not in the index", digest);
}

/* The scheme (lowercased) and authority of an absolute http(s) URL. -EPROTONOSUPPORT for another scheme,
 * -EBADMSG for no authority or one with userinfo (curl would send "user:pass@" as credentials). */
static int url_split(const char *url, char **ret_scheme, char **ret_authority) {
        const char *sep = strstr(url, "://");
        if (!sep)
                return -EBADMSG;
        _cleanup_free_ char *scheme = strndup_lower(url, (size_t) (sep - url));
        if (!scheme)
                return -ENOMEM;
        if (!streq(scheme, "http") && !streq(scheme, "https"))
                return -EPROTONOSUPPORT;
        const char *a = sep + 3;
        size_t al = strcspn(a, "/?#");
        if (al == 0 || memchr(a, '@', al))
                return -EBADMSG;
        for (size_t i = 0; i < al; i++)
                if ((unsigned char) a[i] <= 0x20 || a[i] == 0x7f || a[i] == '\\')
                        return -EBADMSG;
        _cleanup_free_ char *authority = strndup_lower(a, al);
        if (!authority)
                return -ENOMEM;
        /* the default port is the same origin as none (RFC 6454 §4) */
        const char *dflt = streq(scheme, "https") ? ":443" : ":80";
        char *colon = strrchr(authority, ':');
        if (colon && !strchr(colon, ']') && streq(colon, dflt))
                *colon = 0;
        *ret_scheme = TAKE_PTR(scheme);
        *ret_authority = TAKE_PTR(authority);
        return 0;
}

int url_check(const char *url, bool *ret_tls) {
        _cleanup_free_ char *scheme = NULL, *authority = NULL;
        int r = url_split(url, &scheme, &authority);
        if (r < 0)
                return r;
        if (ret_tls)
                *ret_tls = streq(scheme, "https");
        return 0;
}

int url_same_origin(const char *a, const char *b) {
        _cleanup_free_ char *sa = NULL, *aa = NULL, *sb = NULL, *ab = NULL;
        int r;

        r = url_split(a, &sa, &aa);
        if (r < 0)
                return r;
        r = url_split(b, &sb, &ab);
        if (r < 0)
                return r;
        return streq(sa, sb) && streq(aa, ab);
}

int redirect_check(const char *from, const char *to) {
        bool from_tls, to_tls;
        int r;

        r = url_check(from, &from_tls);
        if (r < 0)
                return r;
        r = url_check(to, &to_tls);
        if (r < 0)
                return r;
        if (from_tls && !to_tls)
                return -EPERM;
        return 0;
}

bool credentials_allowed(const char *url, bool insecure) {
        bool tls;
        if (url_check(url, &tls) < 0)
                return false;
        return tls || insecure;
}

/* RFC 3986 §5.2.4 on a copy of path[0..n): "." and ".." segments removed */
static char *remove_dot_segments(const char *path, size_t n) {
        _cleanup_free_ char *buf = strndup(path, n);
        char *out = malloc(n + 1);
        size_t o = 0;

        if (!buf || !out) {
                free(out);
                return NULL;
        }
        char *in = buf, *end = buf + n;
        while (in < end) {
                size_t left = (size_t) (end - in);
                if (left >= 3 && memcmp(in, "../", 3) == 0)
                        in += 3; /* A */
                else if (left >= 2 && memcmp(in, "./", 2) == 0)
                        in += 2;
                else if (left >= 2 && memcmp(in, "/.", 2) == 0 && (left == 2 || in[2] == '/')) {
                        /* B: "/./" or a final "/." becomes "/" */
                        in += left == 2 ? 1 : 2;
                        *in = '/';
                } else if (left >= 3 && memcmp(in, "/..", 3) == 0 && (left == 3 || in[3] == '/')) {
                        /* C: "/../" or a final "/.." becomes "/", and the last output segment goes */
                        in += left == 3 ? 2 : 3;
                        *in = '/';
                        while (o > 0 && out[o - 1] != '/')
                                o--;
                        if (o > 0)
                                o--;
                } else if ((left == 1 && in[0] == '.') || (left == 2 && memcmp(in, "..", 2) == 0))
                        in = end; /* D */
                else {            /* E: the first segment, with its leading "/" */
                        size_t k = 0;
                        if (in[0] == '/')
                                k = 1;
                        while (in + k < end && in[k] != '/')
                                k++;
                        memcpy(out + o, in, k);
                        o += k;
                        in += k;
                }
        }
        out[o] = 0;
        return out;
}

/* base split into scheme ("https"), authority, path and query ("?…" or ""); the fragment is dropped */
static int url_parts(const char *url, char **ret_scheme, char **ret_authority, char **ret_path,
                     char **ret_query) {
        const char *sep = strstr(url, "://");
        if (!sep)
                return -EBADMSG;
        const char *a = sep + 3, *p = a + strcspn(a, "/?#"), *q = p + strcspn(p, "?#");
        size_t ql = strcspn(q, "#");
        _cleanup_free_ char *scheme = strndup(url, (size_t) (sep - url)),
                            *authority = strndup(a, (size_t) (p - a)), *path = strndup(p, (size_t) (q - p)),
                            *query = *q == '?' ? strndup(q, ql) : strdup("");
        if (!scheme || !authority || !path || !query)
                return -ENOMEM;
        *ret_scheme = TAKE_PTR(scheme);
        *ret_authority = TAKE_PTR(authority);
        *ret_path = TAKE_PTR(path);
        *ret_query = TAKE_PTR(query);
        return 0;
}

/* RFC 3986 §3.1: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":" — the length of the scheme, or 0 */
static size_t scheme_length(const char *s) {
        size_t i = 0;
        if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
                return 0;
        while ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
               (s[i] >= '0' && s[i] <= '9') || (s[i] != 0 && strchr("+-.", s[i])))
                i++;
        return s[i] == ':' ? i : 0;
}

/* "//authority/path?query" (or "scheme://…" without the scheme) with the path's dot segments removed */
static char *with_clean_path(const char *prefix, const char *hier) {
        const char *a = hier + 2, *p = a + strcspn(a, "/?"), *q = p + strcspn(p, "?");
        _cleanup_free_ char *path = remove_dot_segments(p, (size_t) (q - p));
        if (!path)
                return NULL;
        return strprintf("%s//%.*s%s%s", prefix, (int) (p - a), a, path, q);
}

/* RFC 3986 §2: what a URI reference may hold (its characters, percent-encoded or not, are all visible ASCII;
 * a backslash is not one of them, though some parsers take it for a slash) */
static bool uri_chars_ok(const char *s) {
        for (; *s; s++)
                if ((unsigned char) *s <= 0x20 || (unsigned char) *s >= 0x7f || *s == '\\')
                        return false;
        return true;
}

int url_resolve(const char *base, const char *ref, char **ret) {
        _cleanup_free_ char *r = NULL, *res = NULL;
        int k;

        k = url_check(base, NULL);
        if (k < 0)
                return k;
        if (strlen(ref) > URL_MAX)
                return -E2BIG;
        if (!uri_chars_ok(base) || !uri_chars_ok(ref))
                return -EBADMSG; /* nothing we would send */
        r = strndup(ref, strcspn(ref, "#"));
        if (!r)
                return -ENOMEM;

        size_t sl = scheme_length(r);
        if (sl > 0) {
                /* absolute: "scheme://…", anything else fails url_check() below */
                if (!startswith(r + sl + 1, "//"))
                        return -EBADMSG;
                _cleanup_free_ char *scheme = strndup(r, sl + 1);
                if (!scheme)
                        return -ENOMEM;
                res = with_clean_path(scheme, r + sl + 1);
        } else {
                _cleanup_free_ char *scheme = NULL, *authority = NULL, *path = NULL, *query = NULL;
                k = url_parts(base, &scheme, &authority, &path, &query);
                if (k < 0)
                        return k;
                if (startswith(r, "//")) { /* network-path reference: the base's scheme */
                        _cleanup_free_ char *prefix = strjoin(scheme, ":");
                        if (!prefix)
                                return -ENOMEM;
                        res = with_clean_path(prefix, r);
                } else {
                        size_t pl = strcspn(r, "?");
                        const char *rq = r + pl;
                        _cleanup_free_ char *merged = NULL, *clean = NULL;
                        if (pl == 0) /* only a query, or nothing: the base's path */
                                merged = strdup(path);
                        else if (r[0] == '/')
                                merged = strndup(r, pl);
                        else if (isempty(path)) /* §5.2.3 */
                                merged = strprintf("/%.*s", (int) pl, r);
                        else {
                                const char *slash = strrchr(path, '/');
                                merged = strprintf("%.*s%.*s", (int) (slash ? slash - path + 1 : 0), path,
                                                   (int) pl, r);
                        }
                        if (!merged)
                                return -ENOMEM;
                        clean = remove_dot_segments(merged, strlen(merged));
                        if (!clean)
                                return -ENOMEM;
                        res = strjoin(scheme, "://", authority, clean, pl == 0 && *rq == 0 ? query : rq);
                }
        }
        if (!res)
                return -ENOMEM;
        if (strlen(res) > URL_MAX)
                return -E2BIG;
        k = url_check(res, NULL);
        if (k < 0)
                return k;
        *ret = TAKE_PTR(res);
        return 0;
}
