/* SPDX-License-Identifier: GPL-2.0 */
/* Command-line parsing into a vm_config; no side effects, unit-tested. */
#ifndef VIREO_CONFIG_H
#define VIREO_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../boot/x86.h"
#include "../devices/vdev.h"
#include "../devices/virtio-console.h"
#include "../virtio/virtio.h"
#include "sandbox.h"

#define VIREO_VERSION "0.1.0"
#define CONFIG_DEFAULT_CMDLINE "console=ttyS0 panic=-1"
#define CONFIG_VIRTIO_CMDLINE "console=hvc0 panic=-1"
#define CONFIG_DEFAULT_MEMORY (256ULL << 20)
#define CONFIG_MIN_MEMORY (16ULL << 20)
#define CONFIG_MAX_MEMORY (1ULL << 40)

#define CONFIG_MAX_DEVICES 16

/* One device: its class, the options every device takes, and its own. */
struct device_config {
	const struct vdev_class *cls;
	char id[64];			/* id=, else the class name and a number */
	char *spec;			/* the options as given, owned */
	struct virtio_opts virtio;
	void *cfg;			/* cls->config_size bytes, owned */
	/* A migration target's: the class state the source had when the
	 * stream began (cls->save), while the machine is built; not owned. */
	const uint8_t *saved;
	size_t saved_len;
};

enum on_reboot {
	ON_REBOOT_EXIT,
	ON_REBOOT_RESTART,
};

struct vm_config {
	const char *kernel;
	const char *initrd;
	const char *cmdline;
	uint64_t mem_size;
	unsigned int cpus;
	enum on_reboot on_reboot;
	enum boot_protocol boot;
	bool kernel_cache;
	const char *cache_dir;
	bool mmio_cmdline;		/* also announce mmio devices on the cmdline */
	bool track_dirty;		/* KVM dirty logging (diff snapshots) */
	const char *api_sock;		/* --api-sock */
	const char *driver_log;		/* --driver-log FILE */
	bool strict;			/* --strict */
	const char *config_file;	/* --config-file */
	struct sandbox_opts sandbox;	/* --seccomp, --user, --jail */
	/* vireo restore: */
	const char *snapshot;		/* --snapshot DIR (state, mem inside) */
	bool restore_paused;		/* --paused */
	const char *incoming;		/* vireo run --incoming URI */
	bool migrating_in;		/* built for a migration's stream: disks
					 * are locked at the switch */
	unsigned int nr_net_overrides;
	struct {
		char id[64];
		char tap[16];
	} net_overrides[CONFIG_MAX_DEVICES];
	bool cmdline_set;		/* --cmdline was given */
	bool virtio_console;		/* --console virtio: hvc0 on stdio */
	struct virtio_opts console_virtio;
	unsigned int nr_cports;		/* named ports (1..) */
	struct cport_config cports[CON_MAX_PORTS];
	/* Every virtio device, the console (if any) first. */
	unsigned int nr_devices;
	struct device_config devices[CONFIG_MAX_DEVICES + 1];
};

/*
 * Parse one --device value, "rng,transport=pci,ring=packed,
 * features=-event_idx,-indirect_desc", into *dev. -1 with err set.
 */
int config_parse_device(const char *s, struct device_config *dev, char *err,
			size_t errlen);
/* The value of a class's own option (--disk "path=disk.img,readonly=on"). */
int config_parse_class(const struct vdev_class *cls, const char *s,
		       struct device_config *dev, char *err, size_t errlen);
/* The class named name[0..len) that --device can make, or NULL. */
const struct vdev_class *config_find_class(const char *name, size_t len);
void device_config_free(struct device_config *dev);
/* The console device with these ports. */
int config_console_device(struct device_config *dev,
			  const struct console_config *cc, char *err,
			  size_t errlen);
/* Parse one --console-port value, "name=agent,socket=/run/agent.sock". */
int config_parse_cport(const char *s, struct cport_config *p, char *err,
		       size_t errlen);

enum config_result {
	CONFIG_RUN,
	CONFIG_RESTORE,		/* vireo restore --snapshot DIR */
	CONFIG_CTL,		/* vireo ctl: the API client (vmm/ctl.c) */
	CONFIG_HELP,
	CONFIG_VERSION,
	CONFIG_ERROR,
};

/*
 * Parse argv (argv[0] is the program). On CONFIG_ERROR, err says why and
 * nothing is left to free; after CONFIG_RUN, config_free() releases the
 * device configs.
 */
enum config_result config_parse(int argc, char **argv, struct vm_config *cfg,
				char *err, size_t errlen);
void config_free(struct vm_config *cfg);

/* The --help text. */
const char *config_usage(void);

#endif
