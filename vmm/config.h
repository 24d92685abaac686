/* SPDX-License-Identifier: GPL-2.0 */
/* Command-line parsing into a vm_config; no side effects, unit-tested. */
#ifndef VIREO_CONFIG_H
#define VIREO_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../boot/x86.h"
#include "../devices/virtio-balloon.h"
#include "../devices/virtio-console.h"
#include "../devices/virtio-net.h"
#include "../virtio/virtio.h"

#define VIREO_VERSION "0.1.0"
#define CONFIG_DEFAULT_CMDLINE "console=ttyS0 panic=-1"
#define CONFIG_VIRTIO_CMDLINE "console=hvc0 panic=-1"
#define CONFIG_DEFAULT_MEMORY (256ULL << 20)
#define CONFIG_MIN_MEMORY (16ULL << 20)
#define CONFIG_MAX_MEMORY (1ULL << 40)

#define CONFIG_MAX_DEVICES 16

enum device_kind {
	DEVICE_RNG,
	DEVICE_BLK,
	DEVICE_CONSOLE,
	DEVICE_NET,
	DEVICE_BALLOON,
};

enum blk_cache {
	BLK_CACHE_WRITEBACK,	/* FLUSH makes completed writes stable */
	BLK_CACHE_WRITETHROUGH,	/* every write is stable before completion */
	BLK_CACHE_UNSAFE,	/* FLUSH does nothing */
};

#define BLK_SERIAL_LEN 20

struct blk_config {
	char path[4096];
	bool readonly;
	char serial[BLK_SERIAL_LEN + 1];
	enum blk_cache cache;
	bool direct;
};

/* One --device or --disk: its class and the options every device takes. */
struct device_config {
	enum device_kind kind;
	struct virtio_opts virtio;
	struct blk_config blk;
	struct net_config net;
	struct balloon_config balloon;
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
	bool cmdline_set;		/* --cmdline was given */
	bool virtio_console;		/* --console virtio: hvc0 on stdio */
	struct virtio_opts console_virtio;
	unsigned int nr_cports;		/* named ports (1..) */
	struct cport_config cports[CON_MAX_PORTS];
	unsigned int nr_devices;
	struct device_config devices[CONFIG_MAX_DEVICES];
};

/*
 * Parse one --device value, "rng,transport=pci,ring=packed,
 * features=-event_idx,-indirect_desc", into *dev. -1 with err set.
 */
int config_parse_device(const char *s, struct device_config *dev, char *err,
			size_t errlen);
/* Parse one --console-port value, "name=agent,socket=/run/agent.sock". */
int config_parse_cport(const char *s, struct cport_config *p, char *err,
		       size_t errlen);
/* Parse one --disk value, "path=disk.img,readonly=on,transport=mmio". */
int config_parse_disk(const char *s, struct device_config *dev, char *err,
		      size_t errlen);

/* Parse one --net value, "tap=vireo0,mac=02:00:00:00:00:01,queues=2". */
int config_parse_net(const char *s, struct device_config *dev, char *err,
		     size_t errlen);
/* Parse one --balloon value, "deflate_on_oom=on,stats_period=5". */
int config_parse_balloon(const char *s, struct device_config *dev, char *err,
			 size_t errlen);

enum config_result {
	CONFIG_RUN,
	CONFIG_HELP,
	CONFIG_VERSION,
	CONFIG_ERROR,
};

/* Parse argv (argv[0] is the program). On CONFIG_ERROR, err says why. */
enum config_result config_parse(int argc, char **argv, struct vm_config *cfg,
				char *err, size_t errlen);

/* The --help text. */
const char *config_usage(void);

#endif
