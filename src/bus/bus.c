/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "bus.h"

void bus_error_done(BusError *e) {
        if (!e)
                return;
        free(e->name);
        free(e->message);
        free(e->job_result);
        free(e->unit_result);
        *e = BUS_ERROR_NULL;
}
int bus_open_system(sd_bus **ret) {
        return -EOPNOTSUPP;
}
bool bus_systemd_booted(void) {
        return false;
}
int bus_scope_name(const char *name, char **ret) {
        return -EOPNOTSUPP;
}
int bus_start_scope(sd_bus *bus, const BusScopeParams *p, BusError *error) {
        return -EOPNOTSUPP;
}
int bus_stop_unit(sd_bus *bus, const char *unit, BusError *error) {
        return -EOPNOTSUPP;
}
int bus_kill_unit(sd_bus *bus, const char *unit, const char *whom, int signo, BusError *error) {
        return -EOPNOTSUPP;
}
int bus_reset_failed_unit(sd_bus *bus, const char *unit, BusError *error) {
        return -EOPNOTSUPP;
}
int bus_unit_exists(sd_bus *bus, const char *unit) {
        return -EOPNOTSUPP;
}
int bus_unit_state(sd_bus *bus, const char *unit, char **a, char **s) {
        return -EOPNOTSUPP;
}
void bus_scope_limits_done(BusScopeLimits *l) {
}
int bus_read_scope_limits(sd_bus *bus, const char *unit, BusScopeLimits *ret) {
        return -EOPNOTSUPP;
}
int bus_machine_register(sd_bus *bus, const BusMachineParams *p, BusError *error) {
        return -EOPNOTSUPP;
}
int bus_machine_terminate(sd_bus *bus, const char *name, BusError *error) {
        return -EOPNOTSUPP;
}
int bus_machine_exists(sd_bus *bus, const char *name, char **ret_unit) {
        return -EOPNOTSUPP;
}
int bus_start_companion(sd_bus *bus, const BusCompanionParams *p, BusError *error) {
        return -EOPNOTSUPP;
}
