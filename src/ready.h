/* ready: systemd's readiness protocol (sd_notify) without libsystemd: READY=1 once the
 * listeners answer, RELOADING=1 around a reload, STATUS= with the table's size. */
#ifndef LD_READY_H
#define LD_READY_H

/* Sends "state" to $NOTIFY_SOCKET if set; 0, or a negative errno. */
int ld_ready(const char *state);

#endif
