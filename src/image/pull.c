/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Registry v2 pull over libcurl.
 *
 * GET /v2/<repo>/manifests/<tag> with Accept for OCI and Docker manifests and indexes (registries answer
 * 404 to an OCI manifest asked for without the OCI type); an index is resolved to the manifest for
 * linux/<host arch>; manifests fetched by digest are checked against it. Blobs are streamed into the
 * store through the same hashing writer as imports, so a corrupted blob fails with a digest error and
 * leaves nothing (the temporary is unnamed).
 *
 * A registry is not trusted with more than it must be: every download is bounded before it starts: a
 * blob, a manifest from an index, the config by the size its descriptor declares (a 2xx whose
 * Content-Length or body goes past it is aborted from the callback, so at most that many bytes reach the
 * store), manifests and configs also by the JSON cap, token answers by TOKEN_RESPONSE_MAX, error bodies by
 * ERROR_BODY_MAX. Auth: the 401's WWW-Authenticate (parsed per RFC 7235, registry-auth.c) is answered
 * with Basic credentials for that registry, or with a token from a Bearer challenge's realm (fetched with
 * the credentials, if any). Credentials only go where TLS protects them: to https URLs, or plain http
 * when the registry is configured insecure; an https registry's plain-http realm gets no credentials.
 * Transient failures (connect, timeouts, 429, 5xx) are retried with backoff. Redirects (to blob storage)
 * are followed hop by hop here, not by curl: each hop must be http(s), never https → http unless the
 * registry is insecure, and the Authorization header goes only to the origin it was made for.
 *
 * libcurl is dlopen()ed here, on the first pull, and not linked: it drags in ~40 shared libraries (TLS,
 * Kerberos, LDAP, ssh, IDN…) that the dynamic loader would otherwise map and relocate on every `cbox`
 * invocation, for the one verb that needs them. */
#include <curl/curl.h>
#include <dlfcn.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

#include "fault.h"
#include "fd-util.h"
#include "fileio.h"
#include "image-internal.h"
#include "store.h"
#include "string-util.h"

/* libcurl, resolved once by dlopen_curl(). The types come from curl.h, so a mismatch is a compile error. */
#define DLSYM_PROTOTYPE(f) static typeof(f) *sym_##f
DLSYM_PROTOTYPE(curl_global_init);
DLSYM_PROTOTYPE(curl_easy_init);
DLSYM_PROTOTYPE(curl_easy_cleanup);
DLSYM_PROTOTYPE(curl_easy_reset);
DLSYM_PROTOTYPE(curl_easy_setopt);
DLSYM_PROTOTYPE(curl_easy_perform);
DLSYM_PROTOTYPE(curl_easy_strerror);
DLSYM_PROTOTYPE(curl_easy_getinfo);
DLSYM_PROTOTYPE(curl_easy_escape);
DLSYM_PROTOTYPE(curl_free);
DLSYM_PROTOTYPE(curl_slist_append);
DLSYM_PROTOTYPE(curl_slist_free_all);

static int dlopen_curl(ImageError *error) {
        static void *dl = NULL;
        static const ImageDlSymbol t[] = {
#define S(f) IMAGE_DL_SYMBOL(f)
                S(curl_global_init), S(curl_easy_init),    S(curl_easy_cleanup),  S(curl_easy_reset),
                S(curl_easy_setopt), S(curl_easy_perform), S(curl_easy_strerror), S(curl_easy_getinfo),
                S(curl_easy_escape), S(curl_free),         S(curl_slist_append),  S(curl_slist_free_all),
#undef S
        };
        return image_dlopen(&dl, "libcurl.so.4", "libcurl", "image pull needs libcurl (install libcurl4)", t,
                            ELEMENTSOF(t), error);
}

#define ACCEPT_MANIFESTS                                                                                    \
        "Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, "     \
        "application/vnd.docker.distribution.manifest.v2+json, "                                            \
        "application/vnd.docker.distribution.manifest.list.v2+json"
#define ERROR_BODY_MAX (64 * 1024)

typedef RegistryRef PullRef;

void registry_ref_done(PullRef *p) {
        free(p->registry);
        free(p->repo);
        free(p->tag);
        free(p->local);
}

/* "busybox" → docker.io/library/busybox:latest; "127.0.0.1:5000/a/b:1" → registry 127.0.0.1:5000;
 * "a/b@sha256:…" → that manifest of a/b */
int registry_ref_parse(const char *ref, PullRef *ret) {
        _cleanup_free_ char *norm = NULL;
        PullRef p = {};
        int r;

        r = image_ref_normalize_any(ref, &norm);
        if (r < 0)
                return r;
        char *colon = strchr(norm, '@');
        p.by_digest = colon;
        if (!colon)
                colon = strrchr(norm, ':');
        *colon = 0;
        const char *name = norm, *slash = strchr(norm, '/');
        if (slash &&
            (memchr(norm, '.', (size_t) (slash - norm)) || memchr(norm, ':', (size_t) (slash - norm)) ||
             strneq(norm, "localhost/", 10))) {
                p.registry = strndup(norm, (size_t) (slash - norm));
                p.repo = strdup(slash + 1);
                p.explicit_registry = true;
        } else {
                p.registry = strdup("registry-1.docker.io");
                p.repo = slash ? strdup(name) : strjoin("library/", name);
        }
        p.tag = strdup(colon + 1);
        *colon = p.by_digest ? '@' : ':';
        p.local = TAKE_PTR(norm);
        if (!p.registry || !p.repo || !p.tag) {
                registry_ref_done(&p);
                return -ENOMEM;
        }
        *ret = p;
        return 0;
}

#define HEADERS_MAX (1024 * 1024) /* bytes of the headers of one response */
#define REDIRECTS_MAX 5

typedef struct Response {
        long code;          /* of the last status line seen */
        Buffer body;        /* 2xx body when not streaming */
        uint64_t bound;     /* a 2xx body longer than this is refused (UINT64_MAX: none) */
        bool too_big;       /* a 2xx body went (or its Content-Length announced it would go) past bound */
        bool error_cut;     /* a non-2xx body went past ERROR_BODY_MAX: the transfer was ended there */
        Buffer error_body;  /* non-2xx body (bounded) */
        BlobWriter *writer; /* streaming target for 2xx */
        int write_error;    /* errno from the writer */
        char *www_authenticate;
        char *content_type;
        char *location;       /* of the last response (push: a 2xx's, resolved against the URL) */
        char *content_digest; /* Docker-Content-Digest */
        bool want_location;   /* resolve a 2xx's Location (push) */
        bool bound_ours;      /* bound is our cap on an answer, not a size a descriptor declares */
        uint64_t header_bytes;
        uint64_t bytes, total;
        ImageProgressFn progress;
        void *userdata;
        const char *what;
} Response;

/* Forgets what one response said; the bound, writer and progress stay */
static void response_reset(Response *r) {
        r->code = 0;
        buffer_done(&r->body);
        buffer_done(&r->error_body);
        r->write_error = 0;
        r->www_authenticate = mfree(r->www_authenticate);
        r->content_type = mfree(r->content_type);
        r->location = mfree(r->location);
        r->content_digest = mfree(r->content_digest);
        r->header_bytes = r->bytes = 0;
        r->too_big = r->error_cut = false;
}

static bool code_is_2xx(long code) {
        return code >= 200 && code < 300;
}

static bool code_is_redirect(long code) {
        return IN_SET(code, 301, 302, 303, 307, 308);
}

static size_t header_cb(char *p, size_t size, size_t n, void *userdata) {
        Response *r = userdata;
        size_t len = size * n;

        r->header_bytes += len;
        if (r->header_bytes > HEADERS_MAX) {
                r->write_error = -E2BIG;
                return 0;
        }
        _cleanup_free_ char *line = strndup(p, len);
        if (!line)
                return 0;
        line[strcspn(line, "\r\n")] = 0;
        if (startswith(line, "HTTP/")) {
                const char *sp = strchr(line, ' ');
                r->code = sp ? strtol(sp + 1, NULL, 10) : 0;
                r->www_authenticate = mfree(r->www_authenticate);
                r->location = mfree(r->location);
                r->content_digest = mfree(r->content_digest);
                buffer_done(&r->error_body);
                return len;
        }
        const char *v;
        if ((v = strchr(line, ':'))) {
                size_t k = (size_t) (v - line);
                v++;
                v += strspn(v, " \t");
                if (k == strlen("WWW-Authenticate") && strncasecmp(line, "WWW-Authenticate", k) == 0) {
                        /* several header lines are one comma-separated list (RFC 9110 §5.3) */
                        if (r->www_authenticate) {
                                char *j = strjoin(r->www_authenticate, ", ", v);
                                if (!j)
                                        return 0;
                                free(r->www_authenticate);
                                r->www_authenticate = j;
                        } else if (free_and_strdup(&r->www_authenticate, v) < 0)
                                return 0;
                } else if (k == strlen("Content-Type") && strncasecmp(line, "Content-Type", k) == 0)
                        (void) free_and_strdup(&r->content_type, v);
                else if (k == strlen("Location") && strncasecmp(line, "Location", k) == 0) {
                        if (free_and_strdup(&r->location, v) < 0)
                                return 0;
                } else if (k == strlen("Docker-Content-Digest") &&
                           strncasecmp(line, "Docker-Content-Digest", k) == 0) {
                        if (free_and_strdup(&r->content_digest, v) < 0)
                                return 0;
                } else if (k == strlen("Content-Length") && strncasecmp(line, "Content-Length", k) == 0 &&
                           code_is_2xx(r->code)) {
                        uint64_t announced = strtoull(v, NULL, 10);
                        if (announced > r->bound) {
                                /* refused before a byte of the body is read */
                                r->too_big = true;
                                r->write_error = -EFBIG;
                                return 0;
                        }
                        if (r->total == 0)
                                r->total = announced;
                }
        }
        return len;
}

static size_t write_cb(char *p, size_t size, size_t n, void *userdata) {
        Response *r = userdata;
        size_t len = size * n;

        if (!code_is_2xx(r->code)) {
                /* a registry's error message is short; one that goes on is cut, not read to its end */
                if (r->error_body.size + len > ERROR_BODY_MAX) {
                        r->error_cut = true;
                        return 0;
                }
                if (buffer_append(&r->error_body, p, len) < 0)
                        return 0;
                return len;
        }
        if (r->bytes > r->bound || len > r->bound - r->bytes) {
                /* stop at the declared size: nothing past it is written */
                r->too_big = true;
                r->write_error = -EFBIG;
                return 0;
        }
        if (r->writer) {
                r->write_error = blob_writer_write(r->writer, p, len);
                if (r->write_error < 0)
                        return 0;
        } else if (buffer_append(&r->body, p, len) < 0) {
                r->write_error = -ENOMEM;
                return 0;
        }
        r->bytes += len;
        if (r->progress)
                r->progress(r->what, r->bytes, r->total, r->userdata);
        return len;
}

typedef struct RegistryClient {
        CURL *curl;
        const ImagePullOptions *opts;
        const PullRef *ref;  /* registry_request()'s */
        bool push;           /* tokens for repository:REPO:pull,push */
        const char *ca_file; /* the options', else the registry's */
        const char *scheme;
        bool insecure;     /* plain http to this registry is configured: credentials may go over it */
        char *basic;       /* base64(user:pass) for this registry, or NULL */
        char *auth_header; /* "Authorization: …" currently in use */
        ImageError *error;
} Client;

static void client_done(Client *c) {
        if (c->curl)
                sym_curl_easy_cleanup(c->curl);
        free(c->basic);
        free(c->auth_header);
}

/* The registry's settings (the options' own win over conf.d's), its credentials, libcurl */
static int client_init(Client *c, const PullRef *p, const ImagePullOptions *opts) {
        int r;

        const ImageRegistry *reg = NULL;
        for (size_t i = 0; opts && i < opts->n_registries && !reg; i++)
                if (streq_ptr(opts->registries[i].name, p->registry))
                        reg = &opts->registries[i];
        c->insecure =
                (opts && strv_contains(opts->insecure_registries, p->registry)) || (reg && reg->insecure);
        c->scheme = c->insecure ? "http" : "https";
        c->ca_file = opts && opts->ca_file ? opts->ca_file : reg ? reg->ca_file : NULL;
        r = image_dlopen_crypto(c->error); /* base64() of the credentials uses it */
        if (r < 0)
                return r;
        r = registry_credentials(opts && opts->auth_file ? opts->auth_file
                                         : reg           ? reg->auth_file
                                                         : NULL,
                                 p->registry, &c->basic, c->error);
        if (r < 0)
                return r;
        r = dlopen_curl(c->error);
        if (r < 0)
                return r;
        if (sym_curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
                return -EIO;
        c->curl = sym_curl_easy_init();
        if (!c->curl)
                return -ENOMEM;
        return 0;
}

static void set_registry_error(Client *c, Response *resp, const char *url, bool authenticated) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        const char *code = NULL, *msg = NULL;

        if (resp->error_body.size > 0 &&
            json_parse_bounded(resp->error_body.data, resp->error_body.size, ERROR_BODY_MAX, &o, NULL,
                               NULL) >= 0) {
                json_object *errs = json_get_array(o, "errors");
                json_object *e0 = errs && json_object_array_length(errs) > 0
                        ? json_object_array_get_idx(errs, 0)
                        : NULL;
                code = json_get_string(e0, "code");
                msg = json_get_string(e0, "message");
        }
        (void) image_error_set(c->error, 0, url, "registry %s HTTP %ld%s%s%s%s",
                               authenticated && resp->code == 401 ? "refused the credentials:" : "answered",
                               resp->code, code ? ": " : "", strempty(code), msg ? ": " : "", strempty(msg));
}

static int http_errno(long code) {
        switch (code) {
        case 401:
        case 403:
                return -EACCES;
        case 404:
                return -ENOENT;
        case 429:
                return -EAGAIN;
        default:
                return code >= 500 ? -EIO : -EPROTO;
        }
}

/* A request's method and body (NULL: a GET) */
typedef struct Send {
        const char *method;
        const RegistryBody *body; /* POST, PUT: may be NULL for none */
        uint64_t offset;          /* sent of the body by this attempt */
        int error;
} Send;

static size_t read_cb(char *p, size_t size, size_t n, void *userdata) {
        Send *sd = userdata;
        const RegistryBody *b = sd->body;
        size_t want = size * n;

        if (!b || sd->offset >= b->size)
                return 0;
        want = (size_t) MIN((uint64_t) want, b->size - sd->offset);
        if (b->fd >= 0) {
                ssize_t k = pread(b->fd, p, want, (off_t) sd->offset);
                if (k <= 0) {
                        sd->error = k < 0 ? -errno : -ENODATA; /* the file ended before its size */
                        return CURL_READFUNC_ABORT;
                }
                want = (size_t) k;
        } else
                memcpy(p, (const char *) b->data + sd->offset, want);
        sd->offset += want;
        if (b->progress)
                b->progress(b->what, sd->offset, b->size, b->userdata);
        return want;
}

/* One request, one response: no redirect followed (perform() does that). Returns 0 with resp->code set,
 * or -errno for transport failures and refused bodies. */
static int perform_once(Client *c, const char *url, const char *accept, const char *auth, Send *sd,
                        Response *resp) {
        struct curl_slist *h = NULL, *t;
        char errbuf[CURL_ERROR_SIZE] = "";
        _cleanup_free_ char *ctype = NULL;
        CURLcode cc;

        sym_curl_easy_reset(c->curl);
        if (sd && sd->body && sd->body->content_type) {
                ctype = strjoin("Content-Type: ", sd->body->content_type);
                if (!ctype)
                        return -ENOMEM;
        }
        const char *lines[] = {
                accept,
                auth,
                /* curl would add "Expect: 100-continue" to a PUT, and a form type to a POST */
                sd ? "Expect:" : NULL,
                sd ? (ctype ?: "Content-Type:") : NULL,
        };
        for (size_t i = 0; i < ELEMENTSOF(lines); i++) {
                if (!lines[i])
                        continue;
                t = sym_curl_slist_append(h, lines[i]);
                if (!t)
                        goto oom;
                h = t;
        }
        if (sd) {
                uint64_t size = sd->body ? sd->body->size : 0;
                sd->offset = 0;
                sd->error = 0;
                if (streq(sd->method, "HEAD"))
                        sym_curl_easy_setopt(c->curl, CURLOPT_NOBODY, 1L);
                else if (streq(sd->method, "POST")) {
                        sym_curl_easy_setopt(c->curl, CURLOPT_POST, 1L);
                        sym_curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) size);
                } else if (streq(sd->method, "PUT")) {
                        sym_curl_easy_setopt(c->curl, CURLOPT_UPLOAD, 1L);
                        sym_curl_easy_setopt(c->curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t) size);
                } else if (!streq(sd->method, "GET")) {
                        sym_curl_slist_free_all(h);
                        return -EOPNOTSUPP;
                }
                sym_curl_easy_setopt(c->curl, CURLOPT_READFUNCTION, read_cb);
                sym_curl_easy_setopt(c->curl, CURLOPT_READDATA, sd);
        }
        sym_curl_easy_setopt(c->curl, CURLOPT_URL, url);
        sym_curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, h);
        sym_curl_easy_setopt(c->curl, CURLOPT_FOLLOWLOCATION, 0L);
        sym_curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "http,https");
        sym_curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
        sym_curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT, 30L);
        sym_curl_easy_setopt(c->curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
        sym_curl_easy_setopt(c->curl, CURLOPT_LOW_SPEED_TIME, 60L);
        sym_curl_easy_setopt(c->curl, CURLOPT_USERAGENT, "cbox");
        sym_curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, errbuf);
        sym_curl_easy_setopt(c->curl, CURLOPT_HEADERFUNCTION, header_cb);
        sym_curl_easy_setopt(c->curl, CURLOPT_HEADERDATA, resp);
        sym_curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, write_cb);
        sym_curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, resp);
        if (c->ca_file)
                sym_curl_easy_setopt(c->curl, CURLOPT_CAINFO, c->ca_file);

        cc = sym_curl_easy_perform(c->curl);
        sym_curl_slist_free_all(h);
        if (cc == CURLE_ABORTED_BY_CALLBACK && sd && sd->error < 0)
                return image_error_set(c->error, sd->error, url, "reading what to send failed");
        if (cc == CURLE_WRITE_ERROR && resp->write_error < 0) {
                if (resp->write_error == -EFBIG && resp->too_big && resp->bound_ours)
                        return image_error_set(c->error, -EFBIG, url,
                                               "the registry answered with more than %" PRIu64 " bytes",
                                               resp->bound);
                if (resp->write_error == -EFBIG && resp->too_big)
                        return image_error_set(c->error, -EFBIG, url,
                                               "the registry sent more than the %" PRIu64
                                               " bytes the descriptor declares",
                                               resp->bound);
                if (resp->write_error == -E2BIG)
                        return image_error_set(c->error, -E2BIG, url, "response headers over %u bytes",
                                               HEADERS_MAX);
                return resp->write_error;
        }
        if (cc != CURLE_OK && !(cc == CURLE_WRITE_ERROR && resp->error_cut)) {
                (void) image_error_set(c->error, 0, url, "%s",
                                       *errbuf ? errbuf : sym_curl_easy_strerror(cc));
                switch (cc) {
                case CURLE_COULDNT_RESOLVE_HOST:
                case CURLE_COULDNT_RESOLVE_PROXY:
                        return -EHOSTUNREACH;
                case CURLE_PEER_FAILED_VERIFICATION:
                case CURLE_SSL_CONNECT_ERROR:
                case CURLE_SSL_CACERT_BADFILE:
                        return -EPERM;
                case CURLE_COULDNT_CONNECT:
                        return -ECONNREFUSED;
                case CURLE_OPERATION_TIMEDOUT:
                        return -ETIMEDOUT;
                default:
                        return -EIO;
                }
        }
        long code = 0;
        sym_curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &code);
        resp->code = code;
        if (resp->want_location && code_is_2xx(code) && resp->location) {
                char *abs = NULL;
                int r = url_resolve(url, resp->location, &abs);
                if (r < 0)
                        return image_error_set(c->error, -EPROTO, url,
                                               "the registry answered with a Location that is no "
                                               "http(s) URL we may use");
                free(resp->location);
                resp->location = abs;
                if (redirect_check(url, abs) == -EPERM)
                        return image_error_set(c->error, -EPERM, url,
                                               "refusing the Location from HTTPS to plain HTTP ('%s')", abs);
        }
        return 0;
oom:
        sym_curl_slist_free_all(h);
        return -ENOMEM;
}

/* One GET, following redirects hop by hop (not by curl, whose rules are not ours): each hop must be an
 * http(s) URL, never from https to http; auth (an "Authorization: …" line) goes only to url's origin, and
 * once a hop has left it, to no later hop. Returns 0 with resp->code set, or -errno. */
static int perform(Client *c, const char *url, const char *accept, const char *auth, Send *sd,
                   Response *resp) {
        _cleanup_free_ char *cur = strdup(url);
        int r;

        if (!cur)
                return -ENOMEM;
        for (unsigned hop = 0;; hop++) {
                r = perform_once(c, cur, accept, auth, sd, resp);
                if (r < 0 || !code_is_redirect(resp->code))
                        return r;
                /* 301, 302 and 303 turn a POST or PUT into a GET: what it was sending would be lost */
                if (sd && !IN_SET(resp->code, 307, 308) && !streq(sd->method, "GET") &&
                    !streq(sd->method, "HEAD"))
                        return image_error_set(c->error, -EPROTO, cur,
                                               "refusing the HTTP %ld redirect of a %s", resp->code,
                                               sd->method);
                if (hop >= REDIRECTS_MAX)
                        return image_error_set(c->error, -ELOOP, url, "more than %u redirects",
                                               REDIRECTS_MAX);
                char *loc = NULL; /* curl's: Location resolved against cur */
                sym_curl_easy_getinfo(c->curl, CURLINFO_REDIRECT_URL, &loc);
                if (!loc)
                        return image_error_set(c->error, -EPROTO, cur,
                                               "HTTP %ld redirect without a Location", resp->code);
                _cleanup_free_ char *next = strdup(loc);
                if (!next)
                        return -ENOMEM;
                r = redirect_check(cur, next);
                if (r == -EPERM)
                        return image_error_set(c->error, -EPERM, cur,
                                               "refusing the redirect from HTTPS to plain HTTP ('%s')",
                                               next);
                if (r < 0)
                        return image_error_set(c->error, -EPROTO, cur, "refusing the redirect to '%s'",
                                               next);
                if (auth && url_same_origin(url, next) <= 0)
                        auth = NULL; /* credentials are for the origin they were made for */
                free(cur);
                cur = TAKE_PTR(next);
                response_reset(resp);
        }
}

static char *url_escape(CURL *curl, const char *s) {
        char *e = sym_curl_easy_escape(curl, s, 0);
        char *r = e ? strdup(e) : NULL;
        sym_curl_free(e);
        return r;
}

/* Answers a Bearer challenge: a token from its realm, asked for with the registry's credentials when TLS
 * protects them on the way there (or the registry is configured insecure) */
static int authenticate_bearer(Client *c, const AuthChallenge *ch, const PullRef *p, const char *url) {
        const char *realm = auth_challenge_param(ch, "realm"),
                   *service = auth_challenge_param(ch, "service"),
                   *scope = auth_challenge_param(ch, "scope");
        _cleanup_free_ char *dflt_scope = NULL;
        int r;

        if (!realm || url_check(realm, NULL) < 0)
                return image_error_set(c->error, -EPROTO, url, "Bearer challenge without a usable realm");
        /* what the pull (or push) needs, as docker asks for it when the challenge names none */
        dflt_scope = strjoin("repository:", p->repo, c->push ? ":pull,push" : ":pull");
        if (!dflt_scope)
                return -ENOMEM;
        if (!scope)
                scope = dflt_scope;
        /* a push asks for its own scope beside the challenge's (which names what that request needed) */
        const char *also = c->push && !streq(scope, dflt_scope) ? dflt_scope : NULL;
        _cleanup_free_ char *basic = NULL;
        if (c->basic) {
                if (!credentials_allowed(realm, c->insecure))
                        return image_error_set(c->error, -EPERM, url,
                                               "refusing to send the credentials for '%s' to the plain-HTTP "
                                               "token realm '%s' "
                                               "(only a registry configured insecure may)",
                                               p->registry, realm);
                basic = strjoin("Authorization: Basic ", c->basic);
                if (!basic)
                        return -ENOMEM;
        }
        _cleanup_free_ char *es = service ? url_escape(c->curl, service) : NULL,
                            *esc = url_escape(c->curl, scope),
                            *esa = also ? url_escape(c->curl, also) : NULL;
        if ((service && !es) || !esc || (also && !esa))
                return -ENOMEM;
        const char *sep = strchr(realm, '?') ? "&" : "?";
        _cleanup_free_ char *turl = service ? strprintf("%s%sservice=%s&scope=%s", realm, sep, es, esc)
                                            : strprintf("%s%sscope=%s", realm, sep, esc);
        if (turl && esa) {
                char *j = strjoin(turl, "&scope=", esa);
                free(turl);
                turl = j;
        }
        if (!turl)
                return -ENOMEM;

        Response resp = { .bound = TOKEN_RESPONSE_MAX };
        r = perform(c, turl, NULL, basic, NULL, &resp);
        if (r >= 0 && !code_is_2xx(resp.code)) {
                set_registry_error(c, &resp, turl, false);
                r = http_errno(resp.code);
        }
        _cleanup_free_ char *tok = NULL;
        if (r >= 0)
                r = token_response_parse(resp.body.data ?: "", resp.body.size, &tok, c->error);
        response_reset(&resp);
        if (r < 0)
                return r;
        free(c->auth_header);
        c->auth_header = strjoin("Authorization: Bearer ", tok);
        return c->auth_header ? 0 : -ENOMEM;
}

/* Answers a 401's challenges (the first we can: Basic with credentials, or Bearer): sets c->auth_header.
 * -EACCES if there is nothing we can answer with. */
static int authenticate(Client *c, const char *header, const PullRef *p, const char *url) {
        AuthChallenge *ch = NULL;
        size_t n = 0;
        int r;

        r = auth_challenges_parse(header, &ch, &n);
        if (r < 0)
                return image_error_set(c->error, r == -E2BIG ? -E2BIG : -EPROTO, url,
                                       "malformed WWW-Authenticate header from the registry");
        bool basic_unanswered = false;
        r = -EOPNOTSUPP;
        for (size_t i = 0; i < n && r == -EOPNOTSUPP; i++) {
                if (streq(ch[i].scheme, "basic")) {
                        if (!c->basic) {
                                basic_unanswered = true;
                                continue;
                        }
                        free(c->auth_header);
                        c->auth_header = strjoin("Authorization: Basic ", c->basic);
                        r = c->auth_header ? 0 : -ENOMEM;
                } else if (streq(ch[i].scheme, "bearer"))
                        r = authenticate_bearer(c, &ch[i], p, url);
        }
        if (r == -EOPNOTSUPP)
                r = basic_unanswered
                        ? image_error_set(c->error, -EACCES, url,
                                          "registry wants Basic auth and no credentials are configured")
                        : image_error_set(c->error, -EACCES, url, "unsupported auth challenge '%s'",
                                          ch[0].scheme);
        auth_challenges_free(ch, n);
        return r;
}

/* A request with auth and retries: sd NULL for a GET. With writer set, a 2xx body streams into it
 * (restarted on retry). The credentials go only to the registry's origin (a Location may name another). */
static int request(Client *c, const PullRef *p, const char *url, const char *accept, Send *sd,
                   Response *resp, BlobWriter *writer, ImageStore *s) {
        _cleanup_free_ char *origin = strjoin(c->scheme, "://", p->registry, "/");
        unsigned retries = c->opts && c->opts->retries > 0 ? c->opts->retries : 3;
        bool authed = false;
        int r;

        if (!origin)
                return -ENOMEM;
        bool ours = url_same_origin(url, origin) > 0;
        for (unsigned attempt = 0;; attempt++) {
                response_reset(resp);
                if (writer) {
                        blob_writer_done(writer);
                        r = blob_writer_begin(s, writer);
                        if (r < 0)
                                return r;
                        resp->writer = writer;
                }
                r = perform(c, url, accept, ours ? c->auth_header : NULL, sd, resp);
                if (r >= 0 && resp->code == 401 && !authed && resp->www_authenticate) {
                        authed = true;
                        _cleanup_free_ char *ch = strdup(resp->www_authenticate);
                        if (!ch)
                                return -ENOMEM;
                        r = authenticate(c, ch, p, url);
                        if (r < 0)
                                return r;
                        attempt--; /* answering a challenge is not a retry */
                        continue;
                }
                if (r >= 0 && code_is_2xx(resp->code))
                        return 0;
                bool transient = IN_SET(r, -ECONNREFUSED, -ETIMEDOUT, -EIO) ||
                        (r >= 0 && (resp->code == 429 || resp->code >= 500));
                if (!transient || attempt + 1 >= retries) {
                        if (r >= 0) {
                                set_registry_error(c, resp, url, authed);
                                r = http_errno(resp->code);
                        }
                        return r;
                }
                usleep((useconds_t) (250000U << attempt));
        }
}

/* GET of registry/path with auth and retries */
static int get(Client *c, const PullRef *p, const char *path, const char *accept, Response *resp,
               BlobWriter *writer, ImageStore *s) {
        _cleanup_free_ char *url = strjoin(c->scheme, "://", path);
        if (!url)
                return -ENOMEM;
        return request(c, p, url, accept, NULL, resp, writer, s);
}

/* A manifest or index, at most `bound` bytes (what an index declares for it, else the JSON cap) */
static int fetch_manifest(Client *c, const PullRef *p, const char *reference, const char *expected,
                          uint64_t bound, ImageStore *s, char **ret_data, size_t *ret_size) {
        _cleanup_free_ char *path = strprintf("%s/v2/%s/manifests/%s", p->registry, p->repo, reference);
        Response resp = { .bound = MIN(bound, s->limits.max_json_bytes) };
        int r;

        if (!path)
                return -ENOMEM;
        r = get(c, p, path, ACCEPT_MANIFESTS, &resp, NULL, s);
        if (r < 0) {
                response_reset(&resp);
                return r;
        }
        if (expected) {
                _cleanup_(sym_EVP_MD_CTX_freep) EVP_MD_CTX *h = NULL;
                _cleanup_free_ char *d = NULL;
                r = sha256_new(&h);
                if (r >= 0)
                        r = sha256_update(h, resp.body.data, resp.body.size);
                if (r >= 0)
                        r = sha256_final_digest(h, &d);
                if (r >= 0 && !streq(d, expected))
                        r = image_error_set(c->error, -EBADMSG, path, "digest mismatch: expected %s, got %s",
                                            expected, d);
                if (r < 0) {
                        response_reset(&resp);
                        return r;
                }
        }
        *ret_size = resp.body.size;
        *ret_data = resp.body.data ?: strdup("");
        resp.body = (Buffer){};
        response_reset(&resp);
        return *ret_data ? 0 : -ENOMEM;
}

/* A blob of exactly the declared size: a byte more ends the transfer and leaves nothing in the store (the
 * temporary is unnamed, or removed) */
static int fetch_blob(Client *c, const PullRef *p, const char *digest, uint64_t size, ImageStore *s,
                      ImageProgressFn progress, void *userdata, ImageImportStats *stats) {
        _cleanup_(blob_writer_done) BlobWriter w = { .fd = -EBADF };
        _cleanup_free_ char *path = strprintf("%s/v2/%s/blobs/%s", p->registry, p->repo, digest);
        _cleanup_free_ char *label = strprintf("Downloading %.19s", digest);
        Response resp = {
                .bound = size, .total = size, .progress = progress, .userdata = userdata, .what = label
        };
        int r;

        if (!path || !label)
                return -ENOMEM;
        if (blob_exists(s, digest))
                return 0;
        r = get(c, p, path, NULL, &resp, &w, s);
        if (r >= 0 && w.size != size)
                r = image_error_set(c->error, -EBADMSG, path,
                                    "the registry sent %" PRIu64 " bytes, the descriptor declares %" PRIu64,
                                    w.size, size);
        if (r >= 0)
                r = blob_writer_commit(&w, digest, NULL, c->error);
        if (r >= 0 && stats)
                stats->blob_bytes += w.size;
        response_reset(&resp);
        if (r < 0)
                (void) image_error_set(c->error, r, path, NULL);
        return r;
}

/* Parses ref into p and sets c up for its registry: scheme, CA, credentials, a curl handle */
static int client_open(Client *c, PullRef *p, const char *ref, const ImagePullOptions *opts,
                       ImageError *error) {
        int r = registry_ref_parse(ref, p);
        if (r < 0)
                return image_error_set(error, r, ref, "invalid image reference");
        return client_init(c, p, opts);
}

/* The layers are fetched up to FETCH_JOBS at a time, each worker on a connection (a curl handle) of its
 * own with a copy of the client's credentials: a blob's fetch, its bound and its digest check are
 * fetch_blob()'s alone, as one at a time. Only the progress of the lowest layer not yet done is shown, so
 * that a label appears once and in layer order. A failure stops the taking of further layers; the one
 * reported is the first in layer order. */
#define FETCH_JOBS 3

typedef struct Fetch {
        pthread_mutex_t lock;
        const PullRef *p;
        const ImageManifest *m;
        const uint64_t *sizes;
        ImageStore *s;
        ImageProgressFn progress;
        void *userdata;
        size_t next;  /* the next layer to take */
        size_t shown; /* the lowest layer not done: the one whose progress is passed on */
        bool failed;
        bool *done;
        bool *shown_any; /* some progress of this layer was passed on */
        uint64_t *bytes; /* what this layer's fetch downloaded */
        int *results;
        ImageError *errors;
        uint64_t blob_bytes;
} Fetch;

typedef struct FetchWorker {
        Fetch *f;
        Client c;
        size_t current;
        pthread_t thread;
        bool started;
} FetchWorker;

static void fetch_progress(const char *what, uint64_t done, uint64_t total, void *userdata) {
        FetchWorker *w = userdata;
        Fetch *f = w->f;

        pthread_mutex_lock(&f->lock);
        if (w->current == f->shown && f->progress) {
                f->progress(what, done, total, f->userdata);
                f->shown_any[w->current] = true;
        }
        pthread_mutex_unlock(&f->lock);
}

static void *fetch_worker(void *userdata) {
        FetchWorker *w = userdata;
        Fetch *f = w->f;

        for (;;) {
                ImageImportStats st = {};
                size_t i;
                int r;

                pthread_mutex_lock(&f->lock);
                if (f->failed || f->next >= f->m->n_layers) {
                        pthread_mutex_unlock(&f->lock);
                        return NULL;
                }
                i = w->current = f->next++;
                pthread_mutex_unlock(&f->lock);

                w->c.error = &f->errors[i];
                r = fetch_blob(&w->c, f->p, f->m->layer_digests[i], f->sizes[i], f->s, fetch_progress, w,
                               &st);
                if (r >= 0)
                        FAULT_POINT("pull.blob");

                pthread_mutex_lock(&f->lock);
                f->results[i] = r;
                f->done[i] = true;
                if (r < 0)
                        f->failed = true;
                f->blob_bytes += st.blob_bytes;
                f->bytes[i] = st.blob_bytes;
                while (f->shown < f->m->n_layers && f->done[f->shown]) {
                        size_t j = f->shown++;
                        /* a layer downloaded while a lower one was shown still gets its label, once */
                        if (f->progress && !f->shown_any[j] && f->results[j] >= 0 && f->bytes[j] > 0) {
                                _cleanup_free_ char *label =
                                        strprintf("Downloading %.19s", f->m->layer_digests[j]);
                                if (label)
                                        f->progress(label, f->bytes[j], f->sizes[j], f->userdata);
                        }
                }
                pthread_mutex_unlock(&f->lock);
        }
}

/* A worker's own client: the same registry, scheme and credentials, a connection of its own */
static int client_clone(const Client *from, Client *ret) {
        *ret = (Client){ .opts = from->opts,
                         .ref = from->ref,
                         .push = from->push,
                         .ca_file = from->ca_file,
                         .scheme = from->scheme,
                         .insecure = from->insecure };
        ret->curl = sym_curl_easy_init();
        if (!ret->curl || free_and_strdup(&ret->basic, from->basic) < 0 ||
            free_and_strdup(&ret->auth_header, from->auth_header) < 0) {
                client_done(ret);
                return -ENOMEM;
        }
        return 0;
}

static int fetch_layers(Client *c, const PullRef *p, const ImageManifest *m, const uint64_t *sizes,
                        ImageStore *s, ImageProgressFn progress, void *userdata, ImageImportStats *stats) {
        size_t n = m->n_layers, n_workers = MIN((size_t) FETCH_JOBS, n);
        FetchWorker workers[FETCH_JOBS] = {};
        Fetch f = {
                .lock = PTHREAD_MUTEX_INITIALIZER,
                .p = p,
                .m = m,
                .sizes = sizes,
                .s = s,
                .progress = progress,
                .userdata = userdata,
        };
        int r = 0;

        if (n == 0)
                return 0;
        f.done = new0(bool, n);
        f.shown_any = new0(bool, n);
        f.bytes = new0(uint64_t, n);
        f.results = new0(int, n);
        f.errors = new0(ImageError, n);
        if (!f.done || !f.shown_any || !f.bytes || !f.results || !f.errors) {
                r = -ENOMEM;
                goto finish;
        }
        /* worker 0 is this thread, on the client's own connection; the others get threads where they can */
        workers[0] = (FetchWorker){ .f = &f, .c = *c };
        for (size_t k = 1; k < n_workers; k++) {
                workers[k].f = &f;
                if (client_clone(c, &workers[k].c) < 0)
                        break;
                if (pthread_create(&workers[k].thread, NULL, fetch_worker, &workers[k]) != 0) {
                        client_done(&workers[k].c);
                        break;
                }
                workers[k].started = true;
        }
        (void) fetch_worker(&workers[0]);
        for (size_t k = 1; k < n_workers; k++)
                if (workers[k].started) {
                        (void) pthread_join(workers[k].thread, NULL);
                        client_done(&workers[k].c);
                }
        /* the client goes on with what worker 0 learnt (a renewed token) and with its own error */
        c->auth_header = workers[0].c.auth_header;
        stats->blob_bytes += f.blob_bytes;
        for (size_t i = 0; i < n && r >= 0; i++)
                if (f.done[i] && f.results[i] < 0) {
                        r = f.results[i];
                        if (c->error && !c->error->object && !c->error->message) {
                                *c->error = f.errors[i];
                                f.errors[i] = (ImageError){};
                        }
                }
finish:
        for (size_t i = 0; f.errors && i < n; i++)
                error_message_done(&f.errors[i]);
        free(f.done);
        free(f.shown_any);
        free(f.bytes);
        free(f.results);
        free(f.errors);
        pthread_mutex_destroy(&f.lock);
        return r;
}

int image_pull(ImageStore *s, const char *ref, const ImagePullOptions *opts, ImageProgressFn progress,
               void *userdata, ImageImportStats *ret_stats, char **ret_ref, ImageError *error) {
        _cleanup_(registry_ref_done) PullRef p = {};
        _cleanup_(client_done) Client c = { .opts = opts, .error = error };
        _cleanup_(json_object_putp) json_object *top = NULL, *mo = NULL;
        _cleanup_(image_manifest_freep) ImageManifest *m = NULL;
        _cleanup_free_ char *data = NULL, *digest = NULL;
        _cleanup_free_ uint64_t *layer_sizes = NULL;
        _cleanup_close_ int lock = -EBADF;
        ImageImportStats stats = {};
        uint64_t config_size;
        size_t size, n_sizes;
        int r;

        r = client_open(&c, &p, ref, opts, error);
        if (r < 0)
                return r;

        lock = store_lock_shared(s);
        if (lock < 0)
                return lock;

        r = fetch_manifest(&c, &p, p.tag, p.by_digest ? p.tag : NULL, UINT64_MAX, s, &data, &size);
        if (r < 0)
                return r;
        r = json_parse_bounded(data, size, s->limits.max_json_bytes, &top, error, "manifest");
        if (r < 0)
                return r;
        if (image_json_is_index(top)) {
                _cleanup_free_ char *pick = NULL;
                uint64_t declared;
                r = image_index_pick_platform(top, &pick, error);
                if (r < 0)
                        return r;
                r = index_declared_size(top, pick, &declared, error);
                if (r < 0)
                        return r;
                data = mfree(data);
                r = fetch_manifest(&c, &p, pick, pick, declared, s, &data, &size);
                if (r < 0)
                        return r;
                r = json_parse_bounded(data, size, s->limits.max_json_bytes, &mo, error, "manifest");
                if (r < 0)
                        return r;
        }
        r = image_manifest_parse(data, size, &m, error);
        if (r < 0)
                return r;
        r = manifest_declared_sizes(mo ?: top, &config_size, &layer_sizes, &n_sizes, error);
        if (r < 0)
                return r;
        assert(n_sizes == m->n_layers);
        if (config_size > s->limits.max_json_bytes)
                return image_error_set(error, -EFBIG, m->config_digest,
                                       "the config descriptor declares %" PRIu64 " bytes, over %" PRIu64,
                                       config_size, s->limits.max_json_bytes);
        r = blob_ingest_data(s, data, size, &digest);
        if (r < 0)
                return r;
        FAULT_POINT("pull.manifest");

        r = fetch_blob(&c, &p, m->config_digest, config_size, s, NULL, NULL, &stats);
        if (r < 0)
                return r;
        r = fetch_layers(&c, &p, m, layer_sizes, s, progress, userdata, &stats);
        if (r < 0)
                return r;
        if (progress)
                progress(NULL, 0, 0, userdata);

        r = store_import_manifest(s, digest, p.local, progress, userdata, &stats, error);
        if (r < 0)
                return r;
        FAULT_POINT("pull.indexed");
        if (ret_stats)
                *ret_stats = stats;
        if (ret_ref)
                *ret_ref = TAKE_PTR(p.local);
        return 0;
}

int image_remote_digest(ImageStore *s, const char *ref, const ImagePullOptions *opts, char **ret,
                        ImageError *error) {
        _cleanup_(registry_ref_done) PullRef p = {};
        _cleanup_(client_done) Client c = { .opts = opts, .error = error };
        _cleanup_(json_object_putp) json_object *top = NULL;
        _cleanup_(sym_EVP_MD_CTX_freep) EVP_MD_CTX *h = NULL;
        _cleanup_free_ char *data = NULL, *digest = NULL;
        size_t size;
        int r;

        r = client_open(&c, &p, ref, opts, error);
        if (r < 0)
                return r;
        if (p.by_digest)
                return image_error_set(error, -EOPNOTSUPP, ref,
                                       "a digest names one manifest: it cannot move");
        r = fetch_manifest(&c, &p, p.tag, NULL, UINT64_MAX, s, &data, &size);
        if (r < 0)
                return r;
        r = json_parse_bounded(data, size, s->limits.max_json_bytes, &top, error, "manifest");
        if (r < 0)
                return r;
        if (image_json_is_index(top)) {
                /* what image_pull() stores is the platform's manifest, under the digest the index names */
                r = image_index_pick_platform(top, &digest, error);
                if (r < 0)
                        return r;
        } else {
                r = sha256_new(&h);
                if (r >= 0)
                        r = sha256_update(h, data, size);
                if (r >= 0)
                        r = sha256_final_digest(h, &digest);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(digest);
        return 0;
}

/* ---- the client as push.c uses it ---- */

int registry_client_new(const RegistryRef *ref, bool push, const ImagePullOptions *opts, ImageError *error,
                        RegistryClient **ret) {
        _cleanup_free_ Client *c = new0(Client, 1);
        int r;

        if (!c)
                return -ENOMEM;
        *c = (Client){ .opts = opts, .ref = ref, .push = push, .error = error };
        r = client_init(c, ref, opts);
        if (r < 0) {
                client_done(c);
                return r;
        }
        *ret = TAKE_PTR(c);
        return 0;
}

RegistryClient *registry_client_free(RegistryClient *c) {
        if (!c)
                return NULL;
        client_done(c);
        return mfree(c);
}

void registry_reply_done(RegistryReply *r) {
        r->location = mfree(r->location);
        r->content_digest = mfree(r->content_digest);
}

int registry_request(RegistryClient *c, const char *method, const char *target, const RegistryBody *body,
                     RegistryReply *ret) {
        _cleanup_free_ char *url =
                target[0] == '/' ? strjoin(c->scheme, "://", c->ref->registry, target) : strdup(target);
        Send sd = { .method = method, .body = body };
        /* a HEAD announces the size of what it would send: nothing is read */
        Response resp = { .bound = streq(method, "HEAD") ? UINT64_MAX : ERROR_BODY_MAX,
                          .bound_ours = true,
                          .want_location = true };
        int r;

        if (!url)
                return -ENOMEM;
        bool tls = true;
        if (target[0] != '/' && (url_check(url, &tls) < 0 || (!tls && !c->insecure)))
                return image_error_set(
                        c->error, -EPERM, url,
                        "refusing a URL that is not HTTPS for a registry not configured insecure");
        _cleanup_free_ char *accept = body && body->accept ? strjoin("Accept: ", body->accept) : NULL;
        if (body && body->accept && !accept)
                return -ENOMEM;
        r = request(c, c->ref, url, accept, &sd, &resp, NULL, NULL);
        if (r >= 0) {
                *ret = (RegistryReply){ .code = resp.code,
                                        .location = TAKE_PTR(resp.location),
                                        .content_digest = TAKE_PTR(resp.content_digest) };
        }
        response_reset(&resp);
        return r;
}
