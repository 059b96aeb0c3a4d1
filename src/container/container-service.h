/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Containers run by the template unit cbox@NAME.service: `cbox start|stop|restart NAME` of such a
 * container go through the unit (StartUnit/StopUnit), so systemd's view and cbox's never disagree. */

#include "config.h"

/* "cbox@NAME.service" */
char *container_service_unit(const char *name);

/* 1 when NAME is to be driven through its service: its state names cbox@NAME.service, or no detached
 * container of that name runs, <config root>/etc/cbox/NAME.toml exists and systemd has cbox@.service
 * (installed). 0 otherwise. */
int container_is_service(const GlobalConfig *g, const char *name);

/* StartUnit(cbox@NAME.service) and wait until it is active (READY=1 from cbox: the payload runs, or
 * its first health check passed) or failed. Logs; returns 0 or -errno (-EIO: the unit failed). */
int container_service_start(const char *name);

/* StopUnit(cbox@NAME.service) and wait (stop_signal, stop_timeout; the foreground cbox in the unit
 * releases everything). Not running is no error. Logs; returns 0 or -errno. */
int container_service_stop(const char *name);
