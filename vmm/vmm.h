/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One control plane (ARCHITECTURE.md §6): the actions a VM can be put
 * through — configure, start, pause, resume, snapshot, restore, balloon,
 * stop — whoever asks: the command line (vmm/main.c), the API socket
 * (vmm/api.c, through vmm_api_backend) and a --config-file, which is
 * replayed as API requests.
 */
#ifndef VIREO_VMM_H
#define VIREO_VMM_H

#include "api.h"
#include "config.h"
#include "console.h"
#include "loop.h"
#include "machine.h"

struct vmm {
	struct vm_config *cfg;		/* the caller's; devices owned by it */
	struct machine machine;
	bool built;			/* machine is there (running or paused) */
	bool restore_track_dirty;	/* (vmm_build_from() to its hook) */
	bool lockdown_failed;		/* vireo stops: exit status 1 */
	struct console *con;
	struct ev_loop *loop;
	struct api api;
	bool api_on;
	bool quit;			/* leave vmm_run() */
	struct migration *mig;		/* the last migration from here */
	bool mig_told;			/* GET /migrate said it completed */
	struct snap_job *snap;		/* a snapshot being written */
	struct ev_handler snap_h;	/* its writer's "done" eventfd */
	bool snap_watched;
	struct ev_handler pause_h;	/* a pause waiting for backends */
	bool pause_watched;
	bool pause_reply_owed;		/* its PATCH /vm is not answered */
	char id[64];
	char root_drive[64];		/* is_root_device */
	/* Strings the API set (cfg points at them). */
	char kernel[4096], initrd[4096], cmdline[4096];
};

extern const struct api_backend vmm_api_backend;

void vmm_init(struct vmm *v, struct vm_config *cfg, struct console *con,
	      struct ev_loop *loop);
/* Serve the API on path. -errno with err. */
int vmm_api(struct vmm *v, const char *path, char *err, size_t errlen);
/* Replay a --config-file (JSON shaped like GET /vm/config). -1 with err. */
int vmm_config_file(struct vmm *v, const char *path, char *err, size_t errlen);

/* Boot what cfg describes. -errno with err. */
int vmm_start(struct vmm *v, char *err, size_t errlen);
int vmm_restore(struct vmm *v, const struct restore_opts *o, char *err,
		size_t errlen);
/* Wait on uri for a migration and run the guest it brings. */
int vmm_incoming(struct vmm *v, const char *uri, const struct restore_opts *o,
		 char *err, size_t errlen);
/*
 * Serve the loop until the VM ends (and is not restarted) or, without a
 * VM, until a stop is asked for. Returns with the machine stopped.
 */
void vmm_run(struct vmm *v);
/* The machine is about to go (a restart): end what waits on it. */
void vmm_machine_ending(struct vmm *v);
void vmm_fini(struct vmm *v);

#endif
