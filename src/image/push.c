/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Registry v2 push (the distribution spec's "push"), over pull.c's client (auth, retries, redirects,
 * bounds).
 *
 * The image goes up as it is stored: its manifest's own bytes and media type, its config and layer blobs as
 * the store keeps them, so the registry's digest for it is the store's (`image inspect`'s "manifest"). For
 * each blob, config first: HEAD /v2/REPO/blobs/DIGEST, nothing more if the registry has it; else POST
 * /v2/REPO/blobs/uploads/ for an upload URL (its Location, resolved against the request; never from https
 * to http; credentials only to the registry's origin) and one monolithic PUT LOCATION?digest=DIGEST of the
 * whole blob. Then PUT /v2/REPO/manifests/TAG, and the Docker-Content-Digest the registry answers must be
 * the local digest. The store is only read (under its shared lock, so that gc removes nothing meanwhile). */
#include <inttypes.h>
#include <sys/stat.h>

#include "fd-util.h"
#include "image-internal.h"
#include "store.h"
#include "string-util.h"

#define MEDIA_TYPE_MAX 255 /* RFC 6838 §4.2: 127 + "/" + 127 */

typedef struct Push {
        ImageStore *s;
        const RegistryRef *dest;
        RegistryClient *client;
        /* what the client says of one request, copied into error with the object it was about */
        ImageError *client_error;
        ImageError *error;
        ImageProgressFn progress;
        void *userdata;
        ImagePushStats stats;
} Push;

/* A failed request: its error, naming the object (a blob's digest, or the manifest) and what the registry
 * said (the URL, the HTTP status, the code and message of its JSON error body) */
static int push_fail(Push *p, int r, const char *object) {
        if (p->client_error->object && p->client_error->message)
                (void) image_error_set(p->error, r, object, "%s: %s", p->client_error->object,
                                       p->client_error->message);
        else if (p->client_error->message || p->client_error->object)
                (void) image_error_set(p->error, r, object, "%s",
                                       p->client_error->message ?: p->client_error->object);
        else
                (void) image_error_set(p->error, r, object, NULL);
        error_message_done(p->client_error);
        return r;
}

/* The manifest's mediaType, which its PUT is sent with (it becomes a header line: a type/subtype of
 * RFC 6838 characters only); OCI allows it absent in a manifest */
static int manifest_media_type(json_object *m, const char **ret, ImageError *error) {
        const char *t = json_get_string(m, "mediaType");
        if (!t) {
                *ret = "application/vnd.oci.image.manifest.v1+json";
                return 0;
        }
        size_t n = strlen(t);
        bool slash = false;
        for (const char *q = t; *q; q++) {
                if (*q == '/' && !slash && q != t && q[1]) {
                        slash = true;
                        continue;
                }
                if (!((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') || (*q >= '0' && *q <= '9') ||
                      strchr("!#$&-^_.+", *q)))
                        return image_error_set(error, -EBADMSG, "manifest", "invalid mediaType");
        }
        if (!slash || n > MEDIA_TYPE_MAX)
                return image_error_set(error, -EBADMSG, "manifest", "invalid mediaType");
        *ret = t;
        return 0;
}

static int push_blob(Push *p, const char *digest, uint64_t declared) {
        _cleanup_free_ char *path = strprintf("/v2/%s/blobs/%s", p->dest->repo, digest),
                            *uploads = strprintf("/v2/%s/blobs/uploads/", p->dest->repo),
                            *object = strprintf("blob %s", digest),
                            *label = strprintf("Uploading %.19s", digest), *put = NULL;
        _cleanup_close_ int fd = -EBADF;
        RegistryReply rep = {};
        struct stat st;
        int r;

        if (!path || !uploads || !object || !label)
                return -ENOMEM;
        fd = blob_open(p->s, digest);
        if (fd < 0)
                return image_error_set(p->error, fd == -ENOENT ? -EUCLEAN : fd, object, "not in the store");
        if (fstat(fd, &st) < 0)
                return -errno;
        if ((uint64_t) st.st_size != declared)
                return image_error_set(p->error, -EBADMSG, object,
                                       "the store has %" PRIu64 " bytes, the manifest declares %" PRIu64,
                                       (uint64_t) st.st_size, declared);

        /* present already: a HEAD's 200 (404: absent) */
        r = registry_request(p->client, "HEAD", path, NULL, &rep);
        registry_reply_done(&rep);
        if (r >= 0) {
                p->stats.blobs_present++;
                error_message_done(p->client_error);
                return 0;
        }
        if (r != -ENOENT)
                return push_fail(p, r, object);
        error_message_done(p->client_error);

        r = registry_request(p->client, "POST", uploads, &(RegistryBody){ .fd = -EBADF }, &rep);
        if (r < 0)
                return push_fail(p, r, object);
        if (!rep.location) {
                registry_reply_done(&rep);
                return image_error_set(p->error, -EPROTO, object,
                                       "the registry opened an upload (HTTP %ld) without a Location",
                                       rep.code);
        }
        put = strjoin(rep.location, strchr(rep.location, '?') ? "&" : "?", "digest=", digest);
        registry_reply_done(&rep);
        if (!put)
                return -ENOMEM;

        RegistryBody body = {
                .content_type = "application/octet-stream",
                .fd = fd,
                .size = declared,
                .progress = p->progress,
                .userdata = p->userdata,
                .what = label,
        };
        r = registry_request(p->client, "PUT", put, &body, &rep);
        if (r < 0)
                return push_fail(p, r, object);
        if (rep.content_digest && !streq(rep.content_digest, digest)) {
                (void) image_error_set(p->error, -EBADMSG, object, "the registry stored it as '%s'",
                                       digest_is_valid(rep.content_digest) ? rep.content_digest
                                                                           : "(an invalid digest)");
                registry_reply_done(&rep);
                return -EBADMSG;
        }
        registry_reply_done(&rep);
        p->stats.blobs_uploaded++;
        p->stats.bytes_uploaded += declared;
        return 0;
}

int image_push(ImageStore *s, const char *ref, const char *dest, const ImagePullOptions *opts,
               ImageProgressFn progress, void *userdata, ImagePushStats *ret_stats, char **ret_dest,
               char **ret_digest, ImageError *error) {
        _cleanup_(registry_ref_done) RegistryRef d = {};
        _cleanup_(registry_client_freep) RegistryClient *client = NULL;
        _cleanup_(json_object_putp) json_object *mo = NULL;
        _cleanup_free_ char *digest = NULL, *data = NULL, *path = NULL;
        _cleanup_free_ uint64_t *layer_sizes = NULL;
        _cleanup_close_ int lock = -EBADF;
        _cleanup_(error_message_done) ImageError client_error = {};
        Push p = { .s = s,
                   .dest = &d,
                   .client_error = &client_error,
                   .error = error,
                   .progress = progress,
                   .userdata = userdata };
        RegistryReply rep = {};
        const char *media_type = NULL;
        uint64_t config_size;
        size_t size, n;
        int r;

        r = registry_ref_parse(dest ?: ref, &d);
        if (r < 0)
                return image_error_set(error, r, dest ?: ref, "invalid image reference");
        if (!d.explicit_registry)
                return image_error_set(error, -EINVAL, dest ?: ref,
                                       dest ? "names no registry host (HOST[:PORT]/NAME:TAG)"
                                            : "names no registry host: give the destination "
                                              "(HOST[:PORT]/NAME:TAG) after it");
        if (d.by_digest)
                return image_error_set(error, -EOPNOTSUPP, dest ?: ref,
                                       "a push goes to a tag, not to a digest");

        lock = store_lock_shared(s);
        if (lock < 0)
                return lock;
        r = image_manifest_digest(s, ref, &digest);
        if (r < 0)
                return image_error_set(error, r, ref, r == -ENOENT ? "no such image in the store" : NULL);
        r = blob_read(s, digest, &data, &size);
        if (r < 0)
                return image_error_set(error, r == -ENOENT ? -EUCLEAN : r, digest,
                                       "the manifest is not in the store");
        r = json_parse_bounded(data, size, s->limits.max_json_bytes, &mo, error, "manifest");
        if (r < 0)
                return r;
        r = manifest_media_type(mo, &media_type, error);
        if (r < 0)
                return r;
        _cleanup_(image_manifest_freep) ImageManifest *m = NULL;
        r = image_manifest_parse(data, size, &m, error);
        if (r < 0)
                return r;
        r = manifest_declared_sizes(mo, &config_size, &layer_sizes, &n, error);
        if (r < 0)
                return r;
        assert(n == m->n_layers);

        r = registry_client_new(&d, /* push= */ true, opts, &client_error, &client);
        if (r < 0)
                return push_fail(&p, r, d.registry);
        p.client = client;
        p.stats.blobs = 1 + (unsigned) m->n_layers;

        r = push_blob(&p, m->config_digest, config_size);
        if (r < 0)
                return r;
        for (size_t i = 0; i < m->n_layers; i++) {
                r = push_blob(&p, m->layer_digests[i], layer_sizes[i]);
                if (r < 0)
                        return r;
        }
        if (progress)
                progress(NULL, 0, 0, userdata);

        path = strprintf("/v2/%s/manifests/%s", d.repo, d.tag);
        if (!path)
                return -ENOMEM;
        r = registry_request(
                client, "PUT", path,
                &(RegistryBody){ .content_type = media_type, .fd = -EBADF, .data = data, .size = size },
                &rep);
        if (r < 0)
                return push_fail(&p, r, "manifest");
        if (!rep.content_digest) {
                /* the spec has the registry say it; ask the manifest's digest of it otherwise */
                registry_reply_done(&rep);
                r = registry_request(client, "HEAD", path,
                                     &(RegistryBody){ .accept = media_type, .fd = -EBADF }, &rep);
                if (r < 0)
                        return push_fail(&p, r, "manifest");
        }
        if (!streq_ptr(rep.content_digest, digest)) {
                (void) image_error_set(error, -EBADMSG, "manifest",
                                       "the registry has digest '%s' for it, the store %s",
                                       digest_is_valid(rep.content_digest) ? rep.content_digest
                                               : rep.content_digest        ? "(an invalid digest)"
                                                                           : "(none)",
                                       digest);
                registry_reply_done(&rep);
                return -EBADMSG;
        }
        registry_reply_done(&rep);

        if (ret_dest) {
                *ret_dest = strdup(d.local);
                if (!*ret_dest)
                        return -ENOMEM;
        }
        if (ret_digest)
                *ret_digest = TAKE_PTR(digest);
        if (ret_stats)
                *ret_stats = p.stats;
        return 0;
}
