/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Least privilege once the VM is built: an optional jail (new mount, PID
 * and IPC namespaces, pivot_root into a prepared directory), an optional
 * switch to an unprivileged user, and a seccomp filter per thread kind.
 *
 * Order: sandbox_setup() checks the options and, with a jail, forks into
 * the new PID namespace (before any thread exists). sandbox_lockdown(),
 * called once the first machine is built, enters the jail, drops the user
 * and arms the filters; the calling thread (the event loop) takes its own
 * at once, every other thread at its next sandbox_thread() call, made
 * where it wakes to work (a vCPU after each exit to vireo). A thread that
 * starts after arming inherits its creator's filter and adds its own.
 */
#ifndef VIREO_SANDBOX_H
#define VIREO_SANDBOX_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

enum sandbox_kind {
	SB_LOOP,		/* the event loop, API and device back ends */
	SB_VCPU,		/* a vCPU: exits, device registers, activation */
	SB_WORKER,		/* helper threads: console pumps, reconnects */
	SB_MIGRATE,		/* the migration sender */
	SB_IO,			/* an I/O thread serving device queues */
	SB_NR_KINDS,
};

struct sandbox_opts {
	bool seccomp;		/* default on; --seccomp=off */
	bool user;		/* --user UID:GID */
	uid_t uid;
	gid_t gid;
	const char *jail;	/* --jail DIR */
	bool keep_caps;		/* (not an option) --on-reboot restart */
};

/* "UID:GID" (numbers or names) into o; -1 with err set. */
int sandbox_parse_user(const char *s, struct sandbox_opts *o, char *err,
		       size_t errlen);

/*
 * Before anything else: check the options and, with a jail, move into new
 * namespaces. May fork: the parent then only waits and returns the child's
 * exit status through *status with true; false means carry on.
 */
int sandbox_setup(const struct sandbox_opts *o, bool *parent_done,
		  int *status, char *err, size_t errlen);

/* Once the machine is built: jail, user, filters. -1 with err set. */
int sandbox_lockdown(char *err, size_t errlen);

/*
 * Build the filters ahead of sandbox_lockdown() (which then only arms
 * them): for a restore or a migration, whose guest may run only after
 * lockdown and should not wait for the build. -1 with err set.
 */
int sandbox_prepare(char *err, size_t errlen);

/* True once sandbox_lockdown() armed anything (jail, user or filters). */
bool sandbox_locked(void);

extern atomic_bool sandbox_armed;
extern _Thread_local bool sandbox_have_filter;
void sandbox_enter(enum sandbox_kind kind);

/*
 * Tests (VIREO_SECCOMP_SELFTEST=early): vireo exits with status 158 when
 * a vCPU serves an exit before lockdown (no guest instruction may run on
 * an unfiltered vCPU).
 */
extern bool sandbox_selftest_early;
void sandbox_early(enum sandbox_kind kind);

/* Where a thread wakes to do work: take this kind's filter once armed. */
static inline void sandbox_thread(enum sandbox_kind kind)
{
	if (__builtin_expect(sandbox_have_filter, 1))
		return;
	if (atomic_load_explicit(&sandbox_armed, memory_order_acquire))
		sandbox_enter(kind);
	else if (sandbox_selftest_early)
		sandbox_early(kind);
}

/* The name of a thread kind ("vcpu", ...). */
const char *sandbox_kind_name(enum sandbox_kind kind);

#endif
