/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Internal helpers shared by the files of image/. Not part of the module's API. */

#include <json-c/json.h>
#include <openssl/evp.h>

#include "crypto-dl.h"
#include "image.h"
#include "macros.h"

#define SHA256_HEX_LEN 64
#define DIGEST_PREFIX "sha256:"

/* Defaults for ImageLimits (documented in image.h) */
#define IMAGE_DEFAULT_MAX_LAYER_BYTES (UINT64_C(8) << 30)
#define IMAGE_DEFAULT_MAX_FILE_BYTES (UINT64_C(4) << 30)
#define IMAGE_DEFAULT_MAX_ENTRIES UINT64_C(500000)
#define IMAGE_DEFAULT_MAX_PATH_LENGTH UINT64_C(4095)
#define IMAGE_DEFAULT_MAX_PATH_DEPTH UINT64_C(256)
#define IMAGE_DEFAULT_MAX_EXPAND_RATIO UINT64_C(200)
#define IMAGE_EXPAND_RATIO_THRESHOLD (UINT64_C(256) << 20)
#define IMAGE_DEFAULT_MAX_JSON_BYTES (UINT64_C(4) << 20)
#define IMAGE_JSON_MAX_DEPTH 64

struct archive;
/* Registers the decompression filters image archives may use (gzip, xz, zstd; none is implied), all
 * in-process: -EOPNOTSUPP if libarchive would need an external program for one of them */
int image_archive_support_filters(struct archive *a);

/* Fills in the defaults for zero fields */
void image_limits_fill(ImageLimits *l, const ImageLimits *from);

/* Sets the fields still unset (object and message may be NULL; .error with the message) and returns r,
 * for "return image_error_set(e, r, object, ...)". */
int image_error_set(ImageError *e, int r, const char *object, const char *fmt, ...) _printf_(4, 5);

/* An optional library's symbols: dlopen()ed on first use instead of linked (see archive-dl.c) */
typedef struct ImageDlSymbol {
        const char *name;
        void **sym;
} ImageDlSymbol;
#define IMAGE_DL_SYMBOL(f)                                                                                  \
        { #f, (void **) &sym_##f }

/* dlopen()s soname once (*handle caches it: 0 at once on later calls) and resolves every symbol.
 * -EOPNOTSUPP, with "<need>: <dlerror>" or "<lib> lacks <symbol>" as the message, when it cannot. */
int image_dlopen(void **handle, const char *soname, const char *lib, const char *need,
                 const ImageDlSymbol *syms, size_t n, ImageError *error);

DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_MD_CTX *, sym_EVP_MD_CTX_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put);

int sha256_new(EVP_MD_CTX **ret);
int sha256_update(EVP_MD_CTX *ctx, const void *p, size_t n);
/* "sha256:<hex>" */
int sha256_final_digest(EVP_MD_CTX *ctx, char **ret);

/* true for "sha256:<64 lowercase hex>"; *ret_hex points into digest */
bool digest_is_valid(const char *digest);
const char *digest_hex(const char *digest);
bool hex64_is_valid(const char *s);

/* Parses a bounded JSON document; -EBADMSG on syntax errors (message in error) */
int json_parse_bounded(const char *data, size_t size, size_t max, json_object **ret, ImageError *error,
                       const char *what);
/* Typed getters: NULL when missing or of another type */
const char *json_get_string(json_object *o, const char *key);
json_object *json_get_object(json_object *o, const char *key);
json_object *json_get_array(json_object *o, const char *key);
/* Copies a JSON array of strings into a strv; -EBADMSG if not all strings. NULL/absent → *ret = NULL */
int json_strv(json_object *a, char ***ret);

/* The OCI architecture name of the host ("amd64", "arm64", …) */
const char *image_host_arch(void);

/* A parsed OCI/Docker v2 image manifest */
typedef struct ImageManifest {
        char *config_digest;
        size_t n_layers;
        char **layer_digests; /* strv, bottom first */
        uint64_t *layer_sizes;
} ImageManifest;
ImageManifest *image_manifest_free(ImageManifest *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(ImageManifest *, image_manifest_free);
int image_manifest_parse(const char *json, size_t size, ImageManifest **ret, ImageError *error);
/* true when the JSON document is an OCI image index or a Docker manifest list */
bool image_json_is_index(json_object *o);
/* From an index: the digest of the manifest for linux/<host arch> (or the only one) */
int image_index_pick_platform(json_object *index, char **ret_digest, ImageError *error);

/* image_unpack_layer_above() reporting progress (label, uncompressed bytes so far) */
int unpack_layer_progress(int fd, int dir_fd, const int *lower_fds, size_t n_lowers,
                          const ImageLimits *limits, char **ret_diff_id, ImageImportStats *stats,
                          ImageProgressFn progress, void *userdata, const char *label, ImageError *error);

/* ---- registry-auth.c: what a registry tells us, parsed without trusting it ---- */

#define AUTH_HEADER_MAX 8192   /* bytes of one WWW-Authenticate header */
#define AUTH_CHALLENGES_MAX 16 /* challenges in it */
#define AUTH_PARAMS_MAX 32     /* auth-params per challenge */
#define TOKEN_RESPONSE_MAX (1U << 20)

/* One challenge of a WWW-Authenticate header (RFC 7235 §4.1) */
typedef struct AuthChallenge {
        char *scheme;  /* lowercased: "basic", "bearer" */
        char *token68; /* or NULL */
        char **params; /* name, value, name, value, …: names lowercased, quoted values unescaped */
} AuthChallenge;
/* Parses the header's value: 1#challenge, each `scheme [ token68 / #auth-param ]`, quoted-strings with
 * escapes and commas inside, case-insensitive names. -EBADMSG when malformed (or a parameter repeats),
 * -E2BIG past the bounds above. */
int auth_challenges_parse(const char *header, AuthChallenge **ret, size_t *ret_n);
void auth_challenges_free(AuthChallenge *c, size_t n);
/* The value of the parameter (name compared without case), or NULL */
const char *auth_challenge_param(const AuthChallenge *c, const char *name);

/* The token server's answer: {"token": …} or {"access_token": …}, at most TOKEN_RESPONSE_MAX bytes, the
 * token non-empty and visible ASCII (it becomes a header line) */
int token_response_parse(const char *data, size_t size, char **ret_token, ImageError *error);

/* The sizes a manifest's descriptors declare (config, then each layer bottom first): -EBADMSG when one
 * has none, since the size is what bounds the download */
int manifest_declared_sizes(json_object *manifest, uint64_t *ret_config, uint64_t **ret_layers,
                            size_t *ret_n, ImageError *error);
/* The size an index declares for the manifest with that digest */
int index_declared_size(json_object *index, const char *digest, uint64_t *ret, ImageError *error);

/* URLs a registry sends us (redirect targets, Bearer realms), checked before anything goes there.
 * url_check(): 0 for an absolute http(s) URL with a host and no userinfo (*ret_tls: https),
 * -EPROTONOSUPPORT for another scheme, -EBADMSG otherwise. */
int url_check(const char *url, bool *ret_tls);
/* 1 when both have the same scheme, host and port (an explicit default port is the same as none), 0 when
 * not, <0 when either is not a URL url_check() accepts */
int url_same_origin(const char *a, const char *b);
/* May a response from `from` send us to `to`? -EPERM for https → http (a downgrade: whatever the TLS
 * server asked for would cross the network in the clear), the errors of url_check() for either */
int redirect_check(const char *from, const char *to);
/* May credentials (Basic, or a token) go to url? Over TLS, or over plain http to a registry configured
 * insecure */
bool credentials_allowed(const char *url, bool insecure);
#define URL_MAX 8192 /* bytes of a URL a registry sends us */
/* A URI reference a registry sends (a blob upload's Location: absolute, "//host/…", "/v2/…", "uuid?…")
 * resolved against the URL of the request it answered (RFC 3986 §5.2: dot segments removed, the fragment
 * dropped). The result passes url_check(); -EBADMSG for what is no URI reference (spaces, controls,
 * non-ASCII, backslashes), -E2BIG past URL_MAX, the errors of url_check() for base or the result (a base of
 * other characters is refused as well). */
int url_resolve(const char *base, const char *ref, char **ret);

/* ---- credentials.c: where a registry's credentials come from ----
 * file (the --auth-file or the registry's auth_file in conf.d): that file alone. Else the first of
 * IMAGE_DEFAULT_AUTH_FILE, $REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR/containers/auth.json,
 * /run/containers/0/auth.json (root) and $DOCKER_CONFIG/config.json or ~/.docker/config.json that
 * names registry. A file in docker's format: credHelpers[registry] runs docker-credential-NAME get
 * (registry on stdin, {"Username","Secret"} on stdout), else auths[registry] (auth, or username and
 * password), else credsStore for an empty auths entry. Keys may be "host", "https://host/…"; Docker
 * Hub's index.docker.io and docker.io name registry-1.docker.io. *ret: base64 of "user:secret", or
 * NULL for none. */
int registry_credentials(const char *file, const char *registry, char **ret, ImageError *error);

/* ---- pull.c: the registry client, shared with push.c ---- */

/* A reference as a registry sees it */
typedef struct RegistryRef {
        char *registry; /* "host[:port]" as used in URLs */
        char *repo;     /* "library/busybox" */
        char *tag;      /* or, for NAME@sha256:…, the digest: what /v2/REPO/manifests/ is asked for */
        bool by_digest; /* tag is a digest the manifest (or index) must hash to */
        bool explicit_registry; /* the reference names its registry (else Docker Hub is implied) */
        char *local;            /* NAME:TAG or NAME@sha256:… in the local index */
} RegistryRef;
/* "busybox" → registry-1.docker.io, library/busybox, latest; "127.0.0.1:5000/a/b:1" → 127.0.0.1:5000 */
int registry_ref_parse(const char *ref, RegistryRef *ret);
void registry_ref_done(RegistryRef *p);

/* The registry's settings from opts (insecure, CA, credentials), libcurl loaded. With push, Bearer tokens
 * are asked for with the scope repository:REPO:pull,push (beside the one a challenge names). ref must
 * outlive the client; error is where later requests put what errno cannot carry. */
typedef struct RegistryClient RegistryClient;
int registry_client_new(const RegistryRef *ref, bool push, const ImagePullOptions *opts, ImageError *error,
                        RegistryClient **ret);
RegistryClient *registry_client_free(RegistryClient *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(RegistryClient *, registry_client_free);

/* What a request sends: size bytes of fd (read with pread from offset 0 on each attempt) or of data */
typedef struct RegistryBody {
        const char *content_type; /* or NULL */
        const char *accept;       /* for a HEAD or GET: the media type asked for, or NULL */
        int fd;                   /* < 0: data */
        const void *data;
        uint64_t size;
        ImageProgressFn progress; /* (what, bytes sent, size) while sending; may be NULL */
        void *userdata;
        const char *what;
} RegistryBody;

typedef struct RegistryReply {
        long code;
        char *location; /* the Location of a 2xx, resolved (url_resolve()) against the URL asked, or NULL */
        char *content_digest; /* Docker-Content-Digest, or NULL */
} RegistryReply;
void registry_reply_done(RegistryReply *r);

/* One request as pull's are made: auth on a 401, retries of transient failures, redirects hop by hop (a
 * POST or PUT only by 307/308, which keep the method and body), credentials only to the registry's
 * origin. method: "GET", "HEAD", "POST" or "PUT"; target: a path under the registry ("/v2/…") or an
 * absolute URL the registry gave (a Location: never from https to http). A 2xx body is read (64 KiB at
 * most) and dropped. 0 on a 2xx; else -errno (-ENOENT for 404) with the registry's error code and
 * message from its JSON error body in the client's ImageError. */
int registry_request(RegistryClient *c, const char *method, const char *target, const RegistryBody *body,
                     RegistryReply *ret);
