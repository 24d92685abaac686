/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The default x86_64 machine: a VM with COM1, the CMOS RTC, the i8042
 * reset line, ACPI power management, pvpanic, ACPI tables, and a kernel
 * loaded per vm_config. machine_create() unwinds whatever it built if a
 * step fails.
 */
#ifndef VIREO_MACHINE_H
#define VIREO_MACHINE_H

#include "../devices/platform.h"
#include "../devices/rtc.h"
#include "../devices/serial.h"
#include "../devices/vdev.h"
#include "../virtio/mmio.h"
#include "../virtio/pci.h"
#include "config.h"
#include "console.h"
#include "loop.h"
#include "vm.h"

/* A virtio device: its class instance and its transport. */
struct machine_vdev {
	const struct vdev_class *cls;
	struct virtio_dev *vdev;
	enum virtio_transport transport;
	bool wired;
	uint64_t mmio_base;
	unsigned int gsi;
	struct virtio_mmio mmio;
	struct virtio_pci pci;
};

struct machine {
	const struct vm_config *cfg;
	struct vm vm;
	struct console *con;
	struct ev_loop *loop;
	struct ev_handler exit_h;
	bool exit_watched;
	bool vm_created;
	bool devices_ready;
	struct serial com1;
	struct rtc rtc;
	struct i8042 i8042;
	struct pm pm;
	struct pvpanic pvpanic;
	bool pci_ready;
	struct pci_host pci;
	unsigned int nr_vdevs;
	struct machine_vdev *vdevs[CONFIG_MAX_DEVICES + 1];
	bool paused;
	struct kvm_clock_data paused_clock;	/* kvm-clock when paused */
	uint64_t paused_tsc;			/* vCPU 0's TSC then */
	bool paused_tsc_ok;			/* (read) */
	/* Where a restore's time went, once it is done (the target's
	 * part of a migration's downtime): "devices N ms, ..." */
	char restore_said[160];
	/* machine_pause_begin(): devices whose backends still owe state. */
	bool pausing;
	unsigned int pause_waiting;
	int pause_efd;				/* signalled when none does */
};

/*
 * Each device's rings as they stand, on stderr (a VM stopped by a signal:
 * what a hung guest was waiting for). A queue "handed off" is served
 * outside the loop: by an I/O thread (the counts hold) or by a vhost
 * backend (what it took and has in flight are not vireo's to know).
 */
void machine_queue_report(struct machine *m);

/* The host terminal changed size. */
void machine_resize(struct machine *m);

int machine_create(struct machine *m, const struct vm_config *cfg,
		   struct console *con, struct ev_loop *loop, char *err,
		   size_t errlen);
/*
 * The machine without a guest in it: the VM (RAM fresh, or from a
 * snapshot's memory file mem_fd), the platform devices, cfg's virtio
 * devices. machine_create() then loads the kernel; a restore loads state.
 */
int machine_build(struct machine *m, const struct vm_config *cfg,
		  struct console *con, struct ev_loop *loop, int mem_fd,
		  enum gm_from mem_from, char *err, size_t errlen);

/* Pause: vCPUs parked, every device quiesced; the loop keeps running. */
void machine_pause(struct machine *m);
/*
 * The same without waiting on the event loop for backends (vhost-user):
 * 0 if paused now; 1 if a device's backend still owes its rings' state,
 * efd is then signalled once none does, and machine_pause_end() ends the
 * pause (meanwhile machine_pausing() is true).
 */
int machine_pause_begin(struct machine *m, int efd);
void machine_pause_end(struct machine *m);
bool machine_pausing(const struct machine *m);
void machine_resume(struct machine *m);
bool machine_paused(const struct machine *m);
/*
 * A paused machine into a state file and a memory file (machine-snapshot.c).
 * diff: only the pages written since the last snapshot, over the memory
 * file named by base. -errno with err.
 */
int machine_snapshot(struct machine *m, const char *state_path,
		     const char *mem_path, const char *base, char *err,
		     size_t errlen);
/*
 * The same in two halves, so that the event loop never writes the files
 * itself: begin (on the loop, quick) checks, encodes the state and opens
 * the files, then a worker thread writes and syncs them and signals
 * done_fd (an eventfd); end (on the loop, after done_fd) names the files
 * and says how it went. The machine stays paused in between. -errno
 * with err from either.
 */
struct snap_job;
int machine_snapshot_begin(struct machine *m, const char *state_path,
			   const char *mem_path, const char *base, int done_fd,
			   struct snap_job **job, char *err, size_t errlen);
int machine_snapshot_end(struct snap_job *job, char *err, size_t errlen);

struct restore_opts {
	const char *state_path;
	const char *mem_path;		/* NULL: the one next to the state */
	bool resume;			/* run at once, else stay paused */
	bool copy_mem;			/* RAM in a memfd, not copy-on-write */
	bool track_dirty;		/* for diff snapshots after this one */
	/* Once the state is in, before any vCPU may run (and even when it
	 * stays paused): vireo's lockdown. Non-zero fails the restore. */
	int (*before_run)(void *ctx, char *err, size_t errlen);
	void *before_run_ctx;
	unsigned int nr_overrides;
	struct {
		char id[64];
		char tap[16];
	} overrides[CONFIG_MAX_DEVICES];
};

/*
 * Build a machine from a snapshot (instead of machine_create()): cfg is
 * filled from the state file (and owned by the caller: config_free()).
 * Nothing is left half-built on failure. -errno with err.
 */
int machine_restore(struct machine *m, struct vm_config *cfg,
		    const struct restore_opts *o, struct console *con,
		    struct ev_loop *loop, char *err, size_t errlen);

/* The id of a device a vhost backend serves (it writes RAM unseen), or NULL. */
const char *machine_vhost_device(const struct machine *m);
/* "ID: why" (in why) for a device that cannot move to another process
 * (a migration; local: local=on, the RAM handed over), or NULL. */
const char *machine_cannot_move(const struct machine *m, bool local,
				char *why, size_t len);
/* 0 if every device can be paused with its state kept; else -errno + err. */
int machine_can_pause(const struct machine *m, char *err, size_t errlen);
/*
 * Migration: every backend outside vireo that writes guest memory (vhost-
 * net) logs those pages into vm.backend_log, from now on (on) or no more
 * (off, which frees the log). -ENOTSUP with err naming a device whose
 * backend cannot (nothing left logging then).
 */
int machine_backend_log(struct machine *m, bool on, char *err, size_t errlen);
/*
 * Migration: drop (the paused source) or take (the target, at the switch)
 * what one process may hold at a time: disk locks. Goes through every
 * device; the first failure's -errno with err.
 */
int machine_locks(struct machine *m, bool take, char *err, size_t errlen);
/*
 * The state file of a paused machine, in memory (malloc'ed *blob); base:
 * it is a diff over that memory file. -errno with err.
 */
int machine_state_encode(struct machine *m, const char *base, uint8_t **blob,
			 size_t *len, char *err, size_t errlen);
/*
 * m's configuration as a state file (malloc'ed *blob) with no state in
 * it: what a migration target builds the VM from while the source still
 * runs. Safe while m runs (it reads only what m was built from). -errno.
 */
int machine_config_encode(const struct machine *m, uint8_t **blob,
			  size_t *len);
/*
 * Build m from machine_config_encode()'s bytes over RAM that is the memfd
 * mem_fd, vCPUs not started: machine_restore_blob(..., built = true)
 * then loads the state. -errno with err; nothing is left built on error.
 */
int machine_prebuild(struct machine *m, struct vm_config *cfg,
		     const struct restore_opts *o, const uint8_t *blob,
		     size_t len, int mem_fd, struct console *con,
		     struct ev_loop *loop, char *err, size_t errlen);
/*
 * A machine from a state file's bytes over RAM that is the memfd mem_fd
 * (a migration's): as machine_restore() does; or, built, into the m
 * machine_prebuild() made (which must be the machine the state is of;
 * mem_fd is then unused). -errno with err; a built m is destroyed then.
 */
int machine_restore_blob(struct machine *m, struct vm_config *cfg,
			 const struct restore_opts *o, const uint8_t *blob,
			 size_t len, int mem_fd, bool built,
			 struct console *con, struct ev_loop *loop, char *err,
			 size_t errlen);

/* Run until something ends the VM; returns why. vCPUs are stopped. */
enum vm_exit_reason machine_run(struct machine *m);
void machine_destroy(struct machine *m);

#endif
