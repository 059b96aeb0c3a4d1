/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The models' destructors and the queries on them: where a value came from, a network by name, the
 * storage and run roots. */
#include "config-internal.h"

GlobalConfig *global_config_free(GlobalConfig *g) {
        if (!g)
                return NULL;
        free(g->storage_root);
        free(g->run_root);
        free(g->default_network);
        free(g->default_slice);
        free(g->forward_accept_chain);
        for (size_t i = 0; i < g->n_networks; i++) {
                free(g->networks[i].name);
                free(g->networks[i].bridge);
        }
        free(g->networks);
        for (size_t i = 0; i < g->n_registries; i++) {
                free(g->registries[i].name);
                free(g->registries[i].ca_file);
                free(g->registries[i].auth_file);
        }
        free(g->registries);
        strv_free(g->files);
        origin_table_free(g->origins);
        if (g->priv) {
                GlobalPrivate *p = g->priv;
                for (size_t i = 0; i < p->n_roots; i++)
                        toml_value_free(p->roots[i]);
                free(p->roots);
                free(p->defaults);
                free(p);
        }
        free(g);
        return NULL;
}

const NetworkDef *global_config_find_network(const GlobalConfig *g, const char *name) {
        if (!g || !name)
                return NULL;
        for (size_t i = 0; i < g->n_networks; i++)
                if (streq(g->networks[i].name, name))
                        return &g->networks[i];
        return NULL;
}

const char *global_config_storage_root(const GlobalConfig *g) {
        return g && g->storage_root ? g->storage_root : CONFIG_DEFAULT_STORAGE_ROOT;
}

const char *global_config_run_root(const GlobalConfig *g) {
        return g && g->run_root ? g->run_root : CONFIG_DEFAULT_RUN_ROOT;
}

ContainerConfig *container_config_new(void) {
        _cleanup_(container_config_freep) ContainerConfig *c = new0(ContainerConfig, 1);

        if (!c)
                return NULL;
        c->origins = new0(OriginTable, 1);
        if (!c->origins)
                return NULL;
        return TAKE_PTR(c);
}

ContainerConfig *container_config_free(ContainerConfig *c) {
        if (!c)
                return NULL;
        free(c->name);
        free(c->path);
        strv_free(c->dropins);
        free(c->image);
        free(c->rootfs);
        strv_free(c->command);
        strv_free(c->entrypoint);
        strv_free(c->env);
        strv_free(c->env_files);
        free(c->workdir);
        free(c->user);
        free(c->hostname);
        free(c->slice);
        free(c->resources.cpuset);
        free(c->resources.cpuset_mask);
        free(c->network.network);
        free(c->network.ports);
        strv_free(c->network.dns);
        strv_free(c->network.hosts);
        for (size_t i = 0; i < c->n_mounts; i++) {
                free(c->mounts[i].source);
                free(c->mounts[i].target);
        }
        free(c->mounts);
        strv_free(c->security.capabilities_add);
        strv_free(c->security.capabilities_drop);
        free(c->security.seccomp);
        strv_free(c->security.devices);
        strv_free(c->health.command);
        origin_table_free(c->origins);
        free(c);
        return NULL;
}

const ConfigOrigin *container_config_origin(const ContainerConfig *c, const char *key_path) {
        const ConfigOrigin *o = c ? origin_table_get(c->origins, key_path) : NULL;
        return o && o->file ? o : NULL;
}

const ConfigOrigin *global_config_origin(const GlobalConfig *g, const char *key_path) {
        const ConfigOrigin *o = g ? origin_table_get(g->origins, key_path) : NULL;
        return o && o->file ? o : NULL;
}
