/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What nft.c (cbox's own table) and nft-foreign.c (the administrator's forward chains) share: the
 * nfnetlink socket, requests and dumps, batches, and the few expressions both build. Not for use
 * outside src/nft/. */

#include <libmnl/libmnl.h>
#include <libnftnl/rule.h>
#include <stdbool.h>
#include <stdint.h>

#include "nft.h"

#define RECV_BUFFER (256U * 1024U)
#define MSG_MAX (128U * 1024U) /* room reserved for one message of the batch */

#define err_set error_message_set
#define err_setf error_message_setf

/* how long an optimistic operation is tried again while others keep committing */
#define NFT_RETRY_USEC (30ULL * 1000000ULL)

typedef struct Retry {
        uint64_t deadline_usec; /* CLOCK_MONOTONIC */
        unsigned attempt;
} Retry;

void retry_start(Retry *t);
/* waits a jittered, growing pause and returns true, or false once the deadline has passed */
bool retry_next(Retry *t);

typedef struct Nfnl {
        struct mnl_socket *sock;
        uint32_t portid;
        uint32_t seq;
        char *buf;
} Nfnl;

void nfnl_done(Nfnl *n);
int nfnl_open(Nfnl *n);
uint32_t nfnl_next_seq(Nfnl *n);

typedef int (*msg_cb)(const struct nlmsghdr *nlh, void *userdata);

/* A single (non-batched) request, typically a GET or a dump (each message to cb). */
int nfnl_query(Nfnl *n, struct nlmsghdr *nlh, bool dump, msg_cb cb, void *userdata, NftError *err);

typedef struct Batch {
        char *data;
        size_t size, allocated;
        uint32_t seq_begin; /* seq of BATCH_BEGIN; messages follow with rising seqs */
        char **what;        /* description of each message, by seq - seq_begin */
} Batch;

void batch_done(Batch *b);
/* n zeroed bytes at the end of the batch (a message is built there, then batch_commit()) */
int batch_reserve(Batch *b, size_t n, char **ret);
int batch_commit(Batch *b, struct nlmsghdr *nlh, const char *what);
int batch_begin(Batch *b, Nfnl *n);
/* genid: the ruleset generation the batch's checks were made against; the kernel refuses the whole
 * batch with -ERESTART when anything was committed since (optimistic concurrency). */
int batch_begin_at(Batch *b, Nfnl *n, const uint32_t *genid);
int get_genid(Nfnl *n, uint32_t *ret, NftError *err);
/* Ends and sends the batch, reads every reply; the first error wins (err names its message). */
int batch_send(Batch *b, Nfnl *n, NftError *err);

bool e_meta(struct nftnl_rule *r, uint32_t key, uint32_t dreg);
bool e_cmp(struct nftnl_rule *r, uint32_t sreg, uint32_t op, const void *data, uint32_t len);
bool e_verdict(struct nftnl_rule *r, int verdict, const char *chain);
