/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The configuration model: global settings (conf.d) and a container (NAME.toml + drop-ins).
 * TOML → value tree (toml/) → this model through a key table; validation is its own pass.
 * Depends on basic/ and toml/ only.
 *
 * CONTRACT: other modules use these structs. Fields may be added; do not rename or remove. */

#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "macros.h"
#include "unit-limits.h"

/* Where a value came from */
typedef struct ConfigOrigin {
        const char *file; /* points into the owning config's file list; NULL = built-in default */
        unsigned line, column;
} ConfigOrigin;

/* One problem found while loading/validating; printed as "file:line:col: key.path: message" */
typedef struct ConfigProblem {
        char *file; /* NULL when not tied to a file */
        unsigned line, column;
        char *key_path; /* e.g. "resources.memory_max", "mount[1].target"; may be NULL */
        char *message;  /* "invalid size '12Q' (a number with optional K, M, G or T suffix)" */
} ConfigProblem;

typedef struct ConfigDiag {
        ConfigProblem *problems;
        size_t n_problems;
} ConfigDiag;
void config_diag_done(ConfigDiag *d);
/* Formats all problems one per line, each "file:line:col: key.path: message\n"; NULL on OOM */
char *config_diag_format(const ConfigDiag *d);

typedef enum NetworkMode {
        NETWORK_MODE_BRIDGE,
        NETWORK_MODE_NONE,
        NETWORK_MODE_HOST,
} NetworkMode;

typedef enum MountType {
        MOUNT_TYPE_BIND,
        MOUNT_TYPE_TMPFS,
        MOUNT_TYPE_VOLUME, /* a named directory under <storage_root>/volumes/<source> */
} MountType;

typedef enum ImagePullPolicy {
        IMAGE_PULL_MISSING, /* pull at up when the image is not in the store (the default) */
        IMAGE_PULL_ALWAYS,  /* pull at every up: a moved tag is followed */
        IMAGE_PULL_NEVER,   /* never: a missing image is an error */
} ImagePullPolicy;

typedef enum AutoUpdatePolicy {
        AUTO_UPDATE_DISABLED, /* `cbox auto-update` leaves the container alone (the default) */
        AUTO_UPDATE_REGISTRY, /* it follows the image's tag on its registry (container-autoupdate.c) */
} AutoUpdatePolicy;

typedef enum HealthOnFailure {
        HEALTH_ON_FAILURE_IGNORE,
        HEALTH_ON_FAILURE_EXIT,
} HealthOnFailure;

typedef struct PortMap {
        struct in_addr host_address;                 /* INADDR_ANY when not given */
        uint16_t host_port, host_port_end;           /* inclusive range; equal for one port */
        uint16_t container_port, container_port_end; /* same length as the host range */
        uint8_t protocol;                            /* IPPROTO_TCP or IPPROTO_UDP */
        ConfigOrigin origin;
} PortMap;

typedef struct MountSpec {
        MountType type;
        char *source; /* bind: absolute host path; volume: a name; tmpfs: NULL */
        char *target; /* absolute path in the container */
        bool read_only;
        bool suid;     /* false (default): nosuid */
        bool dev;      /* false (default): nodev */
        uint64_t size; /* tmpfs size in bytes, 0 = kernel default */
        ConfigOrigin origin;
} MountSpec;

/* A resource limit: soft and hard, UINT64_MAX = infinity */
typedef struct ConfigRlimit {
        uint64_t soft, hard;
} ConfigRlimit;

/* The defaults of resources.nofile: systemd's since v240 (a soft limit that select() copes with,
 * a hard limit for whoever needs more); Docker's 1048576 for both makes programs that close or
 * poll every possible fd slow */
#define CONFIG_DEFAULT_NOFILE_SOFT UINT64_C(1024)
#define CONFIG_DEFAULT_NOFILE_HARD UINT64_C(524288)

typedef struct ResourceConfig {
        /* Each maps 1:1 to a systemd property (basic/unit-limits.h); limits.set[i] says the file set it. */
        UnitLimits limits;
        bool cpuset_set;
        char *cpuset;         /* AllowedCPUs as written, normalised ("0-3,8") */
        uint8_t *cpuset_mask; /* AllowedCPUs as the byte array systemd wants (bit n = CPU n) */
        size_t cpuset_mask_size;

        /* Not unit properties: set by spawn/ on every process of the container (payload, exec,
         * health) instead of what the caller had. Unset (*_set false): the defaults below, lowered
         * to what the caller may set when it cannot raise a hard limit (no CAP_SYS_RESOURCE). */
        bool nofile_set, nproc_set, oom_score_adj_set;
        ConfigRlimit nofile; /* RLIMIT_NOFILE; default 1024:524288 (CONFIG_DEFAULT_NOFILE_*) */
        ConfigRlimit nproc;  /* RLIMIT_NPROC; default infinity (tasks_max is the container's limit) */
        int oom_score_adj;   /* -1000..1000; default 0 */
} ResourceConfig;

typedef struct NetworkConfig {
        NetworkMode mode; /* default bridge */
        char *network;    /* a network name from global config; default the global default_network */
        bool address_set;
        struct in_addr address; /* static address */
        PortMap *ports;
        size_t n_ports;
        char **dns;   /* nameserver addresses; NULL = from the host */
        char **hosts; /* extra /etc/hosts entries as "NAME:ADDRESS" */
} NetworkConfig;

typedef struct SecurityConfig {
        char **capabilities_add;  /* "CAP_NET_ADMIN" form, upper case */
        char **capabilities_drop; /* "ALL" allowed */
        bool no_new_privileges;   /* default true */
        char *seccomp;            /* "default", "unconfined" or an absolute path; default "default" */
        bool user_namespace;      /* false or "auto" (→ true) */
        char **devices;           /* extra device nodes: "/dev/fuse" or "/dev/fuse:rwm" */
} SecurityConfig;

typedef struct HealthConfig {
        bool enabled;               /* a [health] table with a command exists */
        char **command;             /* argv, run inside the container */
        uint64_t interval_usec;     /* default 30s */
        uint64_t timeout_usec;      /* default 30s */
        uint64_t start_period_usec; /* default 0 */
        unsigned retries;           /* default 3 */
        HealthOnFailure on_failure; /* default ignore */
} HealthConfig;

typedef struct ContainerConfig {
        char *name;     /* from the file name (NAME.toml); [a-zA-Z0-9_-.], ≤ 64, no leading '.' or '-' */
        char *path;     /* the main file */
        char **dropins; /* drop-in files applied, in order */

        char *image;          /* "NAME:TAG" in the store, or NULL */
        char *rootfs;         /* absolute directory path, or NULL (exactly one of image/rootfs) */
        ImagePullPolicy pull; /* when up pulls the image; default missing */
        /* `cbox auto-update`: default disabled; registry needs an image by tag */
        AutoUpdatePolicy auto_update;
        char **command;    /* NULL = the image's Cmd */
        char **entrypoint; /* NULL = the image's Entrypoint */
        bool command_set, entrypoint_set;
        char **env;       /* "KEY=VALUE", sorted by key, from the [env] table */
        char **env_files; /* absolute host paths */
        char *workdir;    /* absolute path in the container; NULL = image's or "/" */
        char *user;       /* "name", "uid", "uid:gid" or "name:group"; NULL = image's or root */
        char *hostname;   /* default: the container name ('_' → '-'); NULL if that is no hostname */
        bool read_only;   /* read-only rootfs (no upper layer writes) */
        int stop_signal;  /* default SIGTERM; accepts "SIGTERM", "TERM", or a number */
        uint64_t stop_timeout_usec; /* default 10s */
        char *slice;                /* default from global, "machine.slice" */

        ResourceConfig resources;
        NetworkConfig network;
        MountSpec *mounts; /* in file order; a later file's [[mount]] with an earlier target replaces it */
        size_t n_mounts;
        SecurityConfig security;
        HealthConfig health;

        /* Private: origin bookkeeping for `cbox cat`, owned by the config */
        void *origins;
} ContainerConfig;

typedef struct NetworkDef {
        char *name;             /* the key in [network.NAME] */
        char *bridge;           /* interface name, default = name */
        struct in_addr subnet;  /* network address */
        unsigned prefixlen;     /* 8..30 */
        struct in_addr gateway; /* default: first host address of the subnet */
        bool masquerade;        /* default true */
} NetworkDef;

typedef struct RegistryDef {
        char *name;      /* "host[:port]" as the key of [registry."host:port"] */
        bool insecure;   /* plain HTTP / no TLS verification allowed */
        char *ca_file;   /* extra CA bundle */
        char *auth_file; /* credentials file (see cbox.toml(5)) */
} RegistryDef;

#define CONFIG_DEFAULT_STORAGE_ROOT "/var/lib/cbox"
#define CONFIG_DEFAULT_RUN_ROOT "/run/cbox"

typedef struct GlobalConfig {
        char *storage_root;         /* default CONFIG_DEFAULT_STORAGE_ROOT */
        char *run_root;             /* default CONFIG_DEFAULT_RUN_ROOT */
        char *default_network;      /* default "cbox0" */
        char *default_slice;        /* default "machine.slice" */
        char *forward_accept_chain; /* "ip|inet TABLE CHAIN" (opt-in) or NULL: see nft.h */
        NetworkDef *networks;
        size_t n_networks;
        RegistryDef *registries;
        size_t n_registries;
        char **files; /* conf.d files applied, in order */
        void *origins;
        void *priv; /* private: the parsed conf.d files and their [defaults] tables */
} GlobalConfig;

/* g's storage and run roots, or the defaults when g (or the key) is unset */
const char *global_config_storage_root(const GlobalConfig *g);
const char *global_config_run_root(const GlobalConfig *g);

/* Directory roots. Tests point them at a temporary tree with $CBOX_CONFIG_ROOT (a prefix put in
 * front of /etc/cbox, /run/cbox and /usr/lib/cbox). */
const char *config_root(void);

ContainerConfig *container_config_free(ContainerConfig *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(ContainerConfig *, container_config_free);
GlobalConfig *global_config_free(GlobalConfig *g);
DEFINE_TRIVIAL_CLEANUP_FUNC(GlobalConfig *, global_config_free);

/* built-in defaults < /usr/lib/cbox/conf.d/FILE.toml < /etc/cbox/conf.d/FILE.toml (lexical by file name,
 * a file in /etc masks one of the same name in /usr/lib). Returns -EINVAL with problems in diag. */
int global_config_load(GlobalConfig **ret, ConfigDiag *diag);

/* name_or_path: a path (contains '/' or ends in ".toml") or a NAME looked up as NAME.toml in
 * /etc/cbox, /run/cbox, /usr/lib/cbox (first found wins), then drop-ins NAME.toml.d/FILE.toml from all
 * three (lexical by file name; same-named drop-in in an earlier directory masks later ones; for a path,
 * PATH.d/ beside it comes first). Order of application: built-in defaults, g's conf.d [defaults], the
 * file, its drop-ins. Tables merge key by key, arrays are replaced whole, [env] merges per variable,
 * [[mount]] entries append (a later file's entry with an existing target replaces that entry).
 * Then the validation pass (needs g for network checks; g may be NULL). Nothing on disk other than the
 * configuration files is looked at: a missing rootfs or env_file is a runtime error of `up`.
 * Returns 0, -ENOENT (no such container file), -EISDIR, or -EINVAL with every problem in diag.
 * ConfigOrigin.file pointers in the result stay valid while it lives. */
int container_config_load(const char *name_or_path, const GlobalConfig *g, ContainerConfig **ret,
                          ConfigDiag *diag);

/* `cbox verify` of one conf.d file: built-in defaults plus this file alone, validated. Returns 0, -ENOENT,
 * or -EINVAL with problems in diag. */
int global_config_verify_file(const char *path, ConfigDiag *diag);

const NetworkDef *global_config_find_network(const GlobalConfig *g, const char *name);

/* The checks of the workdir and user keys and of [env] names, for values that come from elsewhere
 * (an image's WorkingDir, User and Env are held to the same rules as the file's keys) */
bool config_workdir_is_valid(const char *s);
bool config_user_is_valid(const char *s);
/* "NAME=VALUE" with NAME valid as an [env] name, and no NUL or newline in VALUE is possible */
bool config_env_assignment_is_valid(const char *s);

/* Where the effective value of key_path came from ("image", "resources.memory_max", "env.FOO",
 * "network.ports", "mount[0].target", for GlobalConfig "network.cbox0.subnet"); NULL when it is a
 * built-in default. Use it to point runtime errors at the file and line that asked for the thing. */
const ConfigOrigin *container_config_origin(const ContainerConfig *c, const char *key_path);
const ConfigOrigin *global_config_origin(const GlobalConfig *g, const char *key_path);

/* `cbox cat`: effective configuration as TOML with "# from FILE:LINE" annotations */
char *container_config_format_toml(const ContainerConfig *c);
/* `cbox cat --json` */
char *container_config_format_json(const ContainerConfig *c);
/* A stable digest (hex sha256) of the effective configuration, for "changed since up?" checks */
char *container_config_digest(const ContainerConfig *c);
