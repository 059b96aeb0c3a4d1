/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The key tables of cbox.toml(5) and of conf.d: what a reader looks for — each key's path, parser,
 * formatter, field, range and the sentence of what is accepted. The parsers and syntaxes are in
 * config-parse.c, the formatters in config-format.c. */
#include "config-internal.h"

#define C(f) offsetof(ContainerConfig, f)
#define CS(f) ((ssize_t) offsetof(ContainerConfig, f))
/* a key of basic/unit-limits.h: its value and its flag in ResourceConfig.limits */
#define LIMIT(l) C(resources.limits.value[UNIT_LIMIT_##l]), CS(resources.limits.set[UNIT_LIMIT_##l])

#define M(f) offsetof(MountSpec, f)
const ConfigKey mount_keys[] = {
        { "type", parse_scalar, format_enum, M(type), -1, 0, 0, "\"bind\", \"tmpfs\" or \"volume\"",
          &mount_type_syntax },
        { "source", parse_scalar, format_string, M(source), -1, 0, 0,
          "bind: an absolute host path; volume: a volume name", &nonempty_syntax },
        { "target", parse_scalar, format_string, M(target), -1, 0, 0, A_PATH " in the container",
          &abs_path_syntax },
        { "read_only", parse_bool, format_bool, M(read_only), -1, 0, 0, "true or false" },
        { "suid", parse_bool, format_bool, M(suid), -1, 0, 0, "true or false" },
        { "dev", parse_bool, format_bool, M(dev), -1, 0, 0, "true or false" },
        { "size", parse_scalar, format_size, M(size), -1, 0, 0, A_SIZE, &size_syntax },
};
const size_t mount_keys_count = ELEMENTSOF(mount_keys);

static const ConfigTable mount_table = { .keys = mount_keys, .n_keys = ELEMENTSOF(mount_keys) };

const ConfigKey container_keys[] = {
        { "image", parse_scalar, format_string, C(image), -1, 0, 0,
          "a store image \"NAME:TAG\" or \"NAME@sha256:HEX\"", &image_syntax },
        { "rootfs", parse_scalar, format_string, C(rootfs), -1, 0, 0, A_PATH " to the root directory",
          &abs_path_syntax },
        { "pull", parse_scalar, format_enum, C(pull), -1, 0, 0, "\"missing\", \"always\" or \"never\"",
          &pull_syntax },
        { "auto_update", parse_scalar, format_enum, C(auto_update), -1, 0, 0, "\"registry\" or \"disabled\"",
          &auto_update_syntax },
        { "command", parse_strv, format_strv, C(command), CS(command_set), 0, 1, A_ARGV, &nonempty_syntax },
        { "entrypoint", parse_strv, format_strv, C(entrypoint), CS(entrypoint_set), 0, 0,
          "an array of strings; [] clears the image's entrypoint", &nonempty_syntax },
        { "env", parse_env, NULL, 0, -1, 0, 0, "a table of strings: NAME = \"value\"" },
        { "env_files", parse_strv, format_strv, C(env_files), -1, 0, 0, "an array of absolute paths",
          &abs_path_syntax },
        { "workdir", parse_scalar, format_string, C(workdir), -1, 0, 0, A_PATH " in the container",
          &abs_path_syntax },
        { "user", parse_scalar, format_string, C(user), -1, 0, 0,
          "\"name\", \"uid\", \"uid:gid\" or \"name:group\"", &user_syntax },
        { "hostname", parse_scalar, format_string, C(hostname), -1, 0, 0,
          "a hostname: labels of letters, digits and '-', up to 253 characters", &hostname_syntax },
        { "read_only", parse_bool, format_bool, C(read_only), -1, 0, 0, "true or false" },
        { "stop_signal", parse_scalar, format_signal, C(stop_signal), -1, 0, 0,
          "a signal name like \"SIGTERM\" or \"TERM\", or its number", &signal_syntax },
        { "stop_timeout", parse_scalar, format_timespan, C(stop_timeout_usec), -1, 0, 1,
          A_TIME ", or \"infinity\"", &timespan_syntax },
        { "slice", parse_scalar, format_string, C(slice), -1, 0, 0,
          "a slice unit name like \"machine.slice\"", &slice_syntax },

        { "resources.memory_max", parse_scalar, format_size, LIMIT(MEMORY_MAX), 0, 1, A_SIZE_INF,
          &size_syntax },
        { "resources.memory_high", parse_scalar, format_size, LIMIT(MEMORY_HIGH), 0, 1, A_SIZE_INF,
          &size_syntax },
        { "resources.memory_swap_max", parse_scalar, format_size, LIMIT(MEMORY_SWAP_MAX), 0, 1, A_SIZE_INF,
          &size_syntax },
        { "resources.cpu_quota", parse_scalar, format_cpu_quota, LIMIT(CPU_QUOTA), 0, 0,
          "a percentage above 0 like \"50%\" or \"150%\" for 1.5 CPUs", &cpu_quota_syntax },
        { "resources.cpu_weight", parse_scalar, format_u64, LIMIT(CPU_WEIGHT), 1, 10000,
          "an integer from 1 to 10000", &u64_syntax },
        { "resources.cpuset", parse_scalar, format_cpuset, C(resources), -1, 0, 0,
          "CPU numbers and ranges like \"0-3,8\", CPUs 0 to 8191", &cpuset_syntax },
        { "resources.tasks_max", parse_scalar, format_u64, LIMIT(TASKS_MAX), 1, UINT64_MAX - 1,
          "an integer of at least 1, or \"infinity\"", &u64_or_infinity_syntax },
        { "resources.io_weight", parse_scalar, format_u64, LIMIT(IO_WEIGHT), 1, 10000,
          "an integer from 1 to 10000", &u64_syntax },
        { "resources.nofile", parse_scalar, format_rlimit, C(resources.nofile), CS(resources.nofile_set), 0,
          0, "an integer, \"infinity\", or \"SOFT:HARD\" of those with SOFT at most HARD", &rlimit_syntax },
        { "resources.nproc", parse_scalar, format_rlimit, C(resources.nproc), CS(resources.nproc_set), 0, 0,
          "an integer, \"infinity\", or \"SOFT:HARD\" of those with SOFT at most HARD", &rlimit_syntax },
        { "resources.oom_score_adj", parse_scalar, format_int, C(resources.oom_score_adj),
          CS(resources.oom_score_adj_set), 0, 0, "an integer from -1000 to 1000", &oom_score_adj_syntax },

        { "network.mode", parse_scalar, format_enum, C(network.mode), -1, 0, 0,
          "\"bridge\", \"none\" or \"host\"", &network_mode_syntax },
        { "network.network", parse_scalar, format_string, C(network.network), -1, 0, 0,
          "the name of a network defined in conf.d", &ifname_syntax },
        { "network.address", parse_scalar, format_ipv4, C(network.address), CS(network.address_set), 0, 0,
          "an IPv4 address inside the network's subnet", &ipv4_syntax },
        { "network.ports", parse_ports, format_ports, C(network), -1, 0, 0,
          "an array of \"HOST:CONTAINER\", \"ADDRESS:HOST:CONTAINER\" with optional \"/tcp\" or \"/udp\"; "
          "ports 1-65535 or ranges \"A-B\" of equal length",
          &port_syntax },
        { "network.dns", parse_strv, format_strv, C(network.dns), -1, 0, 0, "an array of IPv4 addresses",
          &ipv4_string_syntax },
        { "network.hosts", parse_strv, format_strv, C(network.hosts), -1, 0, 0,
          "an array of \"HOSTNAME:ADDRESS\"", &host_entry_syntax },

        { "mount", parse_mounts, NULL, 0, -1, 0, 0, "[[mount]] tables", NULL, &mount_table },

        { "security.capabilities.add", parse_strv, format_strv, C(security.capabilities_add), -1, 0, 0,
          "an array of capability names like \"CAP_NET_ADMIN\"", &cap_syntax },
        { "security.capabilities.drop", parse_strv, format_strv, C(security.capabilities_drop), -1, 0, 0,
          "an array of capability names like \"CAP_NET_RAW\", or \"ALL\"", &cap_or_all_syntax },
        { "security.no_new_privileges", parse_bool, format_bool, C(security.no_new_privileges), -1, 0, 0,
          "true or false" },
        { "security.seccomp", parse_scalar, format_string, C(security.seccomp), -1, 0, 0,
          "\"default\", \"unconfined\" or an absolute path to a profile", &seccomp_syntax },
        { "security.user_namespace", parse_user_namespace, format_user_namespace, C(security.user_namespace),
          -1, 0, 0, "false or \"auto\"" },
        { "security.devices", parse_strv, format_strv, C(security.devices), -1, 0, 0,
          "an array of \"/dev/NAME\" or \"/dev/NAME:rwm\"", &device_syntax },

        { "health.command", parse_strv, format_strv, C(health.command), -1, 0, 1, A_ARGV, &nonempty_syntax },
        { "health.interval", parse_scalar, format_timespan, C(health.interval_usec), -1, 0, 0, A_TIME,
          &timespan_syntax },
        { "health.timeout", parse_scalar, format_timespan, C(health.timeout_usec), -1, 0, 0, A_TIME,
          &timespan_syntax },
        { "health.start_period", parse_scalar, format_timespan, C(health.start_period_usec), -1, 0, 0,
          A_TIME, &timespan_syntax },
        { "health.retries", parse_scalar, format_unsigned, C(health.retries), -1, 1, 100,
          "an integer from 1 to 100", &unsigned_syntax },
        { "health.on_failure", parse_scalar, format_enum, C(health.on_failure), -1, 0, 0,
          "\"ignore\" or \"exit\"", &on_failure_syntax },
};
const size_t container_keys_count = ELEMENTSOF(container_keys);

#define N(f) offsetof(NetworkDef, f)
static const ConfigKey network_def_keys[] = {
        { "subnet", parse_scalar, NULL, 0, -1, 0, 0, "an IPv4 subnet like \"10.88.0.0/16\", prefix 8 to 30",
          &subnet_syntax },
        { "gateway", parse_scalar, format_ipv4, N(gateway), -1, 0, 0, "an IPv4 address inside the subnet",
          &ipv4_syntax },
        { "masquerade", parse_bool, format_bool, N(masquerade), -1, 0, 0, "true or false" },
        { "bridge", parse_scalar, format_string, N(bridge), -1, 0, 0,
          "an interface name of up to 15 characters", &ifname_syntax },
};

#define R(f) offsetof(RegistryDef, f)
static const ConfigKey registry_def_keys[] = {
        { "insecure", parse_bool, format_bool, R(insecure), -1, 0, 0, "true or false" },
        { "ca_file", parse_scalar, format_string, R(ca_file), -1, 0, 0, A_PATH, &abs_path_syntax },
        { "auth_file", parse_scalar, format_string, R(auth_file), -1, 0, 0, A_PATH, &abs_path_syntax },
};

/* [network.NAME] and [registry."HOST"]: arrays of GlobalConfig whose entries start with their char *name */

/* [network.NAME] and [registry."HOST"]: arrays of GlobalConfig whose entries start with their char *name;
 * init: the new entry, of the array's type */
#define NAMED_TABLES(w, k, array, count, new_entry)                                                         \
        {                                                                                                   \
                .keys = k, .n_keys = ELEMENTSOF(k), .what = w,                                              \
                .array_offset = offsetof(GlobalConfig, array),                                              \
                .count_offset = offsetof(GlobalConfig, count), .size = sizeof(new_entry),                   \
                .init = &new_entry                                                                          \
        }
static const NetworkDef network_init = { .masquerade = true };
static const RegistryDef registry_init = {};
static const ConfigTable network_tables =
        NAMED_TABLES("network name", network_def_keys, networks, n_networks, network_init);
static const ConfigTable registry_tables =
        NAMED_TABLES("registry name", registry_def_keys, registries, n_registries, registry_init);

/* The container keys a conf.d [defaults] table may set */
static bool is_defaults_key(const char *p) {
        return startswith(p, "resources.") || startswith(p, "security.") ||
                IN_SET(0, strcmp(p, "stop_signal"), strcmp(p, "stop_timeout"), strcmp(p, "read_only"),
                       strcmp(p, "network.dns"));
}
const ConfigTable defaults_table = { .keys = container_keys,
                                     .n_keys = ELEMENTSOF(container_keys),
                                     .filter = is_defaults_key };

#define G(f) offsetof(GlobalConfig, f)
const ConfigKey global_keys[] = {
        { "storage_root", parse_scalar, format_string, G(storage_root), -1, 0, 0, A_PATH, &abs_path_syntax },
        { "run_root", parse_scalar, format_string, G(run_root), -1, 0, 0, A_PATH, &abs_path_syntax },
        { "default_network", parse_scalar, format_string, G(default_network), -1, 0, 0,
          "the name of a network defined in [network.NAME]", &ifname_syntax },
        { "default_slice", parse_scalar, format_string, G(default_slice), -1, 0, 0,
          "a slice unit name like \"machine.slice\"", &slice_syntax },
        { "forward_accept_chain", parse_scalar, format_string, G(forward_accept_chain), -1, 0, 0,
          "\"ip|inet TABLE CHAIN\": the administrator's forward chain where cbox may add its accept rules",
          &nft_chain_syntax },
        { "network", parse_named_tables, NULL, 0, -1, 0, 0, "[network.NAME] tables", &ifname_syntax,
          &network_tables },
        { "registry", parse_named_tables, NULL, 0, -1, 0, 0, "[registry.\"HOST[:PORT]\"] tables",
          &image_syntax, &registry_tables },
        { "defaults", parse_defaults, NULL, 0, -1, 0, 0,
          "a table of container keys: resources.*, security.*, stop_signal, stop_timeout, read_only, "
          "network.dns",
          NULL, &defaults_table },
};
const size_t global_keys_count = ELEMENTSOF(global_keys);
