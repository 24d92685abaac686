/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Device classes: what vmm/ needs to know of a virtio device to offer it
 * on the command line, build it, and report on it. Each device file
 * exports one constant struct vdev_class; vmm/vdevs.c lists them. A new
 * device is one new file and one line in that table.
 *
 * Options: "--device NAME,KEY=VALUE,..." reaches any class with a
 * parse_key; a class may also have its own option ("--disk KEY=VALUE,...").
 * transport=, ring= and features= are parsed by vmm/ for every class;
 * features= also takes the names in the class's feature table.
 */
#ifndef VIREO_VDEV_H
#define VIREO_VDEV_H

#include <stddef.h>
#include <stdint.h>

#include "../virtio/virtio.h"
#include "../vmm/irq.h"

struct console;

/* What a device is built with. */
struct vdev_env {
	const struct guest_mem *gm;
	struct vm_notify notify;
	struct console *console;	/* the terminal (console class) */
	unsigned int nr_cpus;
	/* A migration target's: what another process holds until the
	 * switch (disk locks) is taken by lock(), not at create. */
	bool incoming;
	/* ...and then the class state the source had (cls->save), if any. */
	const uint8_t *saved;
	size_t saved_len;
};

/* A name for features=-NAME and the device feature bits it stands for. */
struct vdev_feature {
	const char *name;
	uint64_t bits;
};

struct vdev_class {
	const char *name;		/* --device NAME */
	const char *option;		/* its own --OPTION, or NULL */
	const char *keys;		/* its KEYs, for errors: "path, serial" */
	bool once;			/* at most one per VM */
	size_t config_size;
	const struct vdev_feature *features;	/* NULL-terminated, or NULL */

	/* Defaults into a zeroed config. */
	void (*config_init)(void *cfg);
	/*
	 * One KEY=VALUE: 1 if taken, 0 if the key is unknown, -1 with err
	 * set. opt names the option for messages ("--disk 'spec': key").
	 */
	int (*parse_key)(void *cfg, const char *opt, const char *key,
			 const char *val, char *err, size_t errlen);
	/* After the last key: are the required ones there? 0 or -1 + err. */
	int (*config_check)(const void *cfg, const char *opt, char *err,
			    size_t errlen);

	/* Build an instance; NULL with err naming what failed. */
	struct virtio_dev *(*create)(const void *cfg,
				     const struct virtio_opts *opts,
				     const struct vdev_env *env, char *err,
				     size_t errlen);
	void (*destroy)(struct virtio_dev *d);
	/* One line of counters for the exit report; NULL if none. */
	void (*stats_line)(struct virtio_dev *d, char *buf, size_t len);

	/*
	 * Snapshots: the class's own state (beyond the device model's) as a
	 * plain struct of at most max bytes; the length, 0 if none. restore
	 * gets the same bytes back in a device just built from the same
	 * options, and checks them: -EINVAL with err. NULL: nothing to keep.
	 */
	size_t (*save)(struct virtio_dev *d, uint8_t *buf, size_t max);
	int (*restore)(struct virtio_dev *d, const uint8_t *buf, size_t len,
		       char *err, size_t errlen);
	/*
	 * Migration: a backend outside vireo that writes guest memory logs
	 * those pages into log (a bitmap by guest-physical page) from now
	 * on; NULL stops it. Called under the device lock. -ENOTSUP with err
	 * if the backend cannot. NULL: nothing writes guest memory unseen.
	 */
	int (*dirty_log)(struct virtio_dev *d, uint64_t *log, char *err,
			 size_t errlen);
	/*
	 * Migration: drop (the source, paused) or take (the target, at the
	 * switch) what only one process may hold: a disk's lock. -errno with
	 * err. NULL: nothing such.
	 */
	int (*lock)(struct virtio_dev *d, bool take, char *err, size_t errlen);
	/*
	 * Migration: why this instance cannot move to another process (with
	 * local=on: its RAM handed over), or NULL. NULL hook: it can.
	 */
	const char *(*cannot_move)(struct virtio_dev *d, bool local);
	/*
	 * Pause (and so snapshots and migration): why this instance cannot
	 * be paused with its state kept, or NULL. NULL hook: it always can.
	 */
	const char *(*cannot_pause)(struct virtio_dev *d);
	/*
	 * Fault injection at run time (PUT /faults/ID): replace this
	 * instance's faults with spec (the inject= syntax; "" for none) and
	 * seed (0: keep the generator's state). d->lock held. -1 with err.
	 */
	int (*set_faults)(struct virtio_dev *d, const char *spec, uint64_t seed,
			  char *err, size_t errlen);
};

#endif
