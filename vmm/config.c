// SPDX-License-Identifier: GPL-2.0
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "vm.h"

static const char usage[] =
"usage: vireo run --kernel FILE [options]\n"
"       vireo --help | --version\n"
"\n"
"Boot a Linux guest on KVM. Its serial console (COM1) is this terminal;\n"
"press Ctrl-A x to quit, Ctrl-A Ctrl-A to send Ctrl-A.\n"
"\n"
"options for 'run':\n"
"  -k, --kernel FILE       bzImage or ELF vmlinux to boot (required). A\n"
"                          bzImage's compressed payload (gzip, xz, lzma, lz4,\n"
"                          zstd) is extracted on the host and cached\n"
"  -i, --initrd FILE       initial ramdisk\n"
"  -c, --cmdline STRING    kernel command line\n"
"                          (default: \"" CONFIG_DEFAULT_CMDLINE "\")\n"
"  -m, --memory SIZE       guest RAM, e.g. 512M or 2G; a bare number is MiB\n"
"                          (default: 256M)\n"
"  -p, --cpus N            number of vCPUs, 1-254 (default: 1)\n"
"      --on-reboot ACTION  when the guest reboots: 'exit' (default) or\n"
"                          'restart'\n"
"      --boot PROTOCOL     'auto' (default: PVH for an ELF vmlinux that has\n"
"                          a PVH note, else the 64-bit Linux entry),\n"
"                          'linux' or 'pvh'\n"
"  -d, --device SPEC       add a virtio device (repeatable), e.g.\n"
"                          rng,transport=pci,ring=packed,features=-event_idx\n"
"                          types: rng\n"
"                          transport=pci (default), mmio or mmio-legacy\n"
"                          ring=split (default) or packed (modern only)\n"
"                          features=-event_idx,-indirect_desc: do not offer\n"
"      --disk SPEC         add a virtio-blk disk (repeatable): a raw image,\n"
"                          never probed for a format, e.g.\n"
"                          path=disk.img,readonly=on,serial=ID,cache=writeback\n"
"                          cache=writeback (default: a completed FLUSH makes\n"
"                          earlier writes stable), writethrough (every write\n"
"                          stable before it completes) or unsafe (FLUSH is a\n"
"                          no-op); direct=on opens with O_DIRECT; transport,\n"
"                          ring, features as for --device\n"
"      --net SPEC          add a virtio-net NIC on a tap (repeatable), e.g.\n"
"                          tap=vireo0,mac=02:00:00:00:00:01,mtu=9000,queues=2\n"
"                          tap=NAME opens (or creates) the tap, fd=N adopts\n"
"                          an open tap fd (IFF_VNET_HDR); mac defaults to\n"
"                          one derived from the tap name; queues=1-4 needs a\n"
"                          multi_queue tap; transport, ring, features as\n"
"                          for --device, plus -mrg_rxbuf, -tso, -csum.\n"
"                          Counters are printed at exit\n"
"      --balloon SPEC      add a virtio-balloon (once): 'on', or e.g.\n"
"                          deflate_on_oom=on,free_page_reporting=on,\n"
"                          stats_period=5,target=128M,socket=PATH\n"
"                          target: memory to take back at start; socket:\n"
"                          a unix socket taking 'target SIZE', 'stats' and\n"
"                          'info' lines at run time\n"
"      --console serial|virtio[,transport=...,ring=...]\n"
"                          where the terminal goes: COM1 (default) or\n"
"                          virtio-console hvc0 (the default command line\n"
"                          becomes \"" CONFIG_VIRTIO_CMDLINE "\")\n"
"      --console-port name=NAME,socket=PATH|file=PATH\n"
"                          a named virtio-console port (repeatable, up to 6):\n"
"                          vireo listens on the unix socket PATH (one client\n"
"                          at a time, reconnectable) or appends to file PATH\n"
"      --virtio-mmio-cmdline\n"
"                          also list virtio-mmio devices on the kernel\n"
"                          command line (virtio_mmio.device=); they are\n"
"                          always in the ACPI DSDT\n"
"      --no-kernel-cache   extract a bzImage's payload on every boot\n"
"      --kernel-cache-dir DIR\n"
"                          where extracted kernels are kept (default:\n"
"                          $VIREO_CACHE_DIR, else $XDG_CACHE_HOME/vireo,\n"
"                          else ~/.cache/vireo)\n"
"  -h, --help              show this help\n"
"  -V, --version           show the version\n"
"\n"
"exit status:\n"
"  0  the guest powered off or rebooted, or Ctrl-A x was pressed\n"
"  1  vireo could not set up or run the VM (the message says why)\n"
"  2  the command line is wrong\n"
"  3  the guest kernel panicked (reported through pvpanic)\n"
"  4  a vCPU failed: triple fault, KVM internal or entry error; the vCPU\n"
"     registers are printed on stderr\n"
"  128+N  vireo was stopped by signal N\n";

const char *config_usage(void)
{
	return usage;
}

enum {
	OPT_ON_REBOOT = 256,
	OPT_BOOT,
	OPT_NO_CACHE,
	OPT_CACHE_DIR,
	OPT_MMIO_CMDLINE,
	OPT_DISK,
	OPT_CONSOLE,
	OPT_CPORT,
	OPT_NET,
	OPT_BALLOON,
};

static const struct option long_opts[] = {
	{ "kernel", required_argument, NULL, 'k' },
	{ "initrd", required_argument, NULL, 'i' },
	{ "cmdline", required_argument, NULL, 'c' },
	{ "memory", required_argument, NULL, 'm' },
	{ "cpus", required_argument, NULL, 'p' },
	{ "on-reboot", required_argument, NULL, OPT_ON_REBOOT },
	{ "boot", required_argument, NULL, OPT_BOOT },
	{ "no-kernel-cache", no_argument, NULL, OPT_NO_CACHE },
	{ "kernel-cache-dir", required_argument, NULL, OPT_CACHE_DIR },
	{ "device", required_argument, NULL, 'd' },
	{ "disk", required_argument, NULL, OPT_DISK },
	{ "console", required_argument, NULL, OPT_CONSOLE },
	{ "console-port", required_argument, NULL, OPT_CPORT },
	{ "net", required_argument, NULL, OPT_NET },
	{ "balloon", required_argument, NULL, OPT_BALLOON },
	{ "virtio-mmio-cmdline", no_argument, NULL, OPT_MMIO_CMDLINE },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

static int parse_memory(const char *s, uint64_t *out, char *err, size_t errlen)
{
	uint64_t v;

	if (parse_size(s, &v)) {
		errf(err, errlen, "--memory '%s' is not a size (use e.g. 512M "
		     "or 2G)", s);
		return -1;
	}
	if (v < CONFIG_MIN_MEMORY || v > CONFIG_MAX_MEMORY) {
		errf(err, errlen, "--memory '%s' is out of range (16M to 1T)", s);
		return -1;
	}
	if (!IS_ALIGNED(v, 4096)) {
		errf(err, errlen, "--memory '%s' is not a multiple of 4K", s);
		return -1;
	}
	*out = v;
	return 0;
}

static int parse_cpus(const char *s, unsigned int *out, char *err,
		      size_t errlen)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (*s < '0' || *s > '9' || *end || errno || v < 1 ||
	    v > VM_MAX_VCPUS) {
		errf(err, errlen, "--cpus '%s' must be a number from 1 to %d", s,
		     VM_MAX_VCPUS);
		return -1;
	}
	*out = (unsigned int)v;
	return 0;
}

static int parse_choice(const char *opt, const char *s,
			const char *const *names, unsigned int n, int *out,
			char *err, size_t errlen)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		if (!strcmp(s, names[i])) {
			*out = (int)i;
			return 0;
		}
	}
	errf(err, errlen, "%s '%s' is not one of: %s%s%s%s%s", opt, s, names[0],
	     n > 1 ? ", " : "", n > 1 ? names[1] : "", n > 2 ? ", " : "",
	     n > 2 ? names[2] : "");
	return -1;
}

/* The options every virtio device takes; 1 if key was one of them. */
static int common_key(const char *what, const char *spec, const char *key,
		      const char *val, struct device_config *dev, char *err,
		      size_t errlen)
{
	static const char *const transports[] = { "pci", "mmio", "mmio-legacy" };
	static const char *const rings[] = { "split", "packed" };
	char opt[300];
	int choice;

	snprintf(opt, sizeof(opt), "%s '%s': %s", what, spec, key);
	if (!strcmp(key, "transport")) {
		if (parse_choice(opt, val, transports, 3, &choice, err, errlen))
			return -1;
		dev->virtio.transport = (enum virtio_transport)choice;
		return 1;
	}
	if (!strcmp(key, "ring")) {
		if (parse_choice(opt, val, rings, 2, &choice, err, errlen))
			return -1;
		dev->virtio.packed = choice == 1;
		return 1;
	}
	return 0;
}

static void set_bits(uint64_t *mask, uint64_t bits, bool on)
{
	if (on)
		*mask |= bits;
	else
		*mask &= ~bits;
}

static int device_feature(const char *what, const char *spec, const char *tok,
			  struct device_config *dev, char *err, size_t errlen)
{
	bool off = tok[0] == '-';

	if (tok[0] != '-' && tok[0] != '+') {
		errf(err, errlen, "%s '%s': feature '%s' needs a + or - in front",
		     what, spec, tok);
		return -1;
	}
	if (!strcmp(tok + 1, "event_idx")) {
		dev->virtio.no_event_idx = off;
	} else if (!strcmp(tok + 1, "indirect_desc")) {
		dev->virtio.no_indirect = off;
	} else if (dev->kind == DEVICE_NET && !strcmp(tok + 1, "mrg_rxbuf")) {
		set_bits(&dev->virtio.no_features, 1ULL << 15, off);
	} else if (dev->kind == DEVICE_NET && !strcmp(tok + 1, "tso")) {
		/* GUEST_TSO4/6, HOST_TSO4/6 */
		set_bits(&dev->virtio.no_features, 0x1980, off);
	} else if (dev->kind == DEVICE_NET && !strcmp(tok + 1, "csum")) {
		/* CSUM, GUEST_CSUM and the TSO bits that need them */
		set_bits(&dev->virtio.no_features, 0x1983, off);
	} else {
		errf(err, errlen, "%s '%s': unknown feature '%s' (known: "
		     "event_idx, indirect_desc%s)", what, spec, tok + 1,
		     dev->kind == DEVICE_NET ? ", mrg_rxbuf, tso, csum" : "");
		return -1;
	}
	return 0;
}

/* A string option into a fixed buffer: 1 to size - 1 characters. */
static int copy_opt(const char *opt, const char *what, const char *val,
		    char *dst, size_t size, char *err, size_t errlen)
{
	if (!*val || strlen(val) >= size) {
		errf(err, errlen, "%s: %s must be 1 to %zu characters", opt,
		     what, size - 1);
		return -1;
	}
	strcpy(dst, val);
	return 0;
}

static int parse_on_off(const char *opt, const char *val, bool *out,
			char *err, size_t errlen)
{
	static const char *const names[] = { "off", "on" };
	int choice;

	if (parse_choice(opt, val, names, 2, &choice, err, errlen))
		return -1;
	*out = choice == 1;
	return 0;
}

/* --disk keys; 1 if handled, 0 if unknown, -1 on error. */
static int disk_key(const char *spec, const char *key, const char *val,
		    struct device_config *dev, char *err, size_t errlen)
{
	static const char *const caches[] = { "writeback", "writethrough", "unsafe" };
	struct blk_config *b = &dev->blk;
	char opt[300];
	int choice;

	snprintf(opt, sizeof(opt), "--disk '%s': %s", spec, key);
	if (!strcmp(key, "path")) {
		if (copy_opt(opt, "the path", val, b->path, sizeof(b->path),
			     err, errlen))
			return -1;
	} else if (!strcmp(key, "readonly")) {
		return parse_on_off(opt, val, &b->readonly, err, errlen) ? -1 : 1;
	} else if (!strcmp(key, "direct")) {
		return parse_on_off(opt, val, &b->direct, err, errlen) ? -1 : 1;
	} else if (!strcmp(key, "serial")) {
		if (strlen(val) > BLK_SERIAL_LEN) {
			errf(err, errlen, "--disk '%s': serial '%s' is longer "
			     "than %d characters", spec, val, BLK_SERIAL_LEN);
			return -1;
		}
		strcpy(b->serial, val);
	} else if (!strcmp(key, "cache")) {
		if (parse_choice(opt, val, caches, 3, &choice, err, errlen))
			return -1;
		b->cache = (enum blk_cache)choice;
	} else {
		return 0;
	}
	return 1;
}

static int parse_uint(const char *opt, const char *val, unsigned long min,
		      unsigned long max, unsigned long *out, char *err,
		      size_t errlen)
{
	char *end;

	errno = 0;
	*out = strtoul(val, &end, 10);
	if (errno || end == val || *end || *out < min || *out > max) {
		errf(err, errlen, "%s: '%s' is not a number from %lu to %lu",
		     opt, val, min, max);
		return -1;
	}
	return 0;
}

static int parse_mac(const char *opt, const char *val, uint8_t mac[6],
		     char *err, size_t errlen)
{
	unsigned int b[6], i;
	char tail;

	if (sscanf(val, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2],
		   &b[3], &b[4], &b[5], &tail) != 6 || strlen(val) != 17) {
		errf(err, errlen, "%s: '%s' is not a MAC address like "
		     "02:00:00:00:00:01", opt, val);
		return -1;
	}
	if (b[0] & 1) {
		errf(err, errlen, "%s: '%s' is a multicast address (the first "
		     "byte must be even)", opt, val);
		return -1;
	}
	for (i = 0; i < 6; i++)
		mac[i] = (uint8_t)b[i];
	return 0;
}

/* --net keys; 1 if handled, 0 if unknown, -1 on error. */
static int net_key(const char *spec, const char *key, const char *val,
		   struct device_config *dev, char *err, size_t errlen)
{
	struct net_config *n = &dev->net;
	unsigned long v;
	char opt[300];

	snprintf(opt, sizeof(opt), "--net '%s': %s", spec, key);
	if (!strcmp(key, "tap")) {
		if (copy_opt(opt, "a tap name", val, n->tap, sizeof(n->tap),
			     err, errlen))
			return -1;
	} else if (!strcmp(key, "fd")) {
		if (parse_uint(opt, val, 0, INT32_MAX, &v, err, errlen))
			return -1;
		n->fd = (int)v;
	} else if (!strcmp(key, "mac")) {
		if (parse_mac(opt, val, n->mac, err, errlen))
			return -1;
		n->mac_set = true;
	} else if (!strcmp(key, "mtu")) {
		if (parse_uint(opt, val, 68, 65535, &v, err, errlen))
			return -1;
		n->mtu = (unsigned int)v;
	} else if (!strcmp(key, "queues")) {
		if (parse_uint(opt, val, 1, NET_MAX_PAIRS, &v, err, errlen))
			return -1;
		n->queues = (unsigned int)v;
	} else {
		return 0;
	}
	return 1;
}

/* --balloon keys; 1 if handled, 0 if unknown, -1 on error. */
static int balloon_key(const char *spec, const char *key, const char *val,
		       struct device_config *dev, char *err, size_t errlen)
{
	struct balloon_config *b = &dev->balloon;
	unsigned long v;
	char opt[300];

	snprintf(opt, sizeof(opt), "--balloon '%s': %s", spec, key);
	if (!strcmp(key, "deflate_on_oom"))
		return parse_on_off(opt, val, &b->deflate_on_oom, err, errlen) ? -1 : 1;
	if (!strcmp(key, "free_page_reporting"))
		return parse_on_off(opt, val, &b->free_page_reporting, err,
				    errlen) ? -1 : 1;
	if (!strcmp(key, "stats_period")) {
		if (parse_uint(opt, val, 0, 86400, &v, err, errlen))
			return -1;
		b->stats_period = (unsigned int)v;
	} else if (!strcmp(key, "target")) {
		if (parse_size(val, &b->target)) {
			errf(err, errlen, "%s: '%s' is not a size (e.g. 128M)",
			     opt, val);
			return -1;
		}
	} else if (!strcmp(key, "socket")) {
		if (copy_opt(opt, "the path", val, b->socket,
			     sizeof(b->socket), err, errlen))
			return -1;
	} else {
		return 0;
	}
	return 1;
}

/*
 * KEY=VALUE[,KEY=VALUE...] after an optional leading type word (kept in
 * *type). "features=-a,-b" continues over tokens that start with +/-.
 */
static int parse_device_opts(const char *what, const char *spec, bool typed,
			     const char *known, struct device_config *dev,
			     char *err, size_t errlen)
{
	char buf[4400], *tok, *save = NULL;
	bool in_features = false;
	int ret;

	if (strlen(spec) >= sizeof(buf)) {
		errf(err, errlen, "%s: the value is too long", what);
		return -1;
	}
	strcpy(buf, spec);
	tok = strtok_r(buf, ",", &save);
	if (typed)
		tok = strtok_r(NULL, ",", &save);
	for (; tok; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');

		if (!eq && in_features) {
			if (device_feature(what, spec, tok, dev, err, errlen))
				return -1;
			continue;
		}
		if (!eq) {
			errf(err, errlen, "%s '%s': '%s' is not KEY=VALUE", what,
			     spec, tok);
			return -1;
		}
		*eq = '\0';
		in_features = !strcmp(tok, "features");
		if (in_features) {
			if (device_feature(what, spec, eq + 1, dev, err, errlen))
				return -1;
			continue;
		}
		ret = common_key(what, spec, tok, eq + 1, dev, err, errlen);
		if (!ret && dev->kind == DEVICE_BLK)
			ret = disk_key(spec, tok, eq + 1, dev, err, errlen);
		if (!ret && dev->kind == DEVICE_NET)
			ret = net_key(spec, tok, eq + 1, dev, err, errlen);
		if (!ret && dev->kind == DEVICE_BALLOON)
			ret = balloon_key(spec, tok, eq + 1, dev, err, errlen);
		if (ret < 0)
			return -1;
		if (!ret) {
			errf(err, errlen, "%s '%s': unknown option '%s' (known: %s)",
			     what, spec, tok, known);
			return -1;
		}
	}
	if (dev->virtio.packed && dev->virtio.transport == VIRTIO_MMIO_LEGACY) {
		errf(err, errlen, "%s '%s': ring=packed needs a modern transport "
		     "(mmio-legacy has split rings only)", what, spec);
		return -1;
	}
	return 0;
}

int config_parse_device(const char *spec, struct device_config *dev,
			char *err, size_t errlen)
{
	size_t n = strcspn(spec, ",");

	memset(dev, 0, sizeof(*dev));
	if (n != 3 || strncmp(spec, "rng", 3)) {
		errf(err, errlen, "--device '%s': unknown device type '%.*s' "
		     "(known: rng; disks are --disk)", spec, (int)n, spec);
		return -1;
	}
	dev->kind = DEVICE_RNG;
	return parse_device_opts("--device", spec, true,
				 "transport, ring, features", dev, err, errlen);
}

int config_parse_cport(const char *spec, struct cport_config *p, char *err,
		       size_t errlen)
{
	char buf[512], *tok, *save = NULL;

	memset(p, 0, sizeof(*p));
	if (strlen(spec) >= sizeof(buf)) {
		errf(err, errlen, "--console-port: the value is too long");
		return -1;
	}
	strcpy(buf, spec);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');
		const char *val = eq ? eq + 1 : "";

		if (eq)
			*eq = '\0';
		if (!strcmp(tok, "name") && *val && strlen(val) <= CON_NAME_MAX) {
			strcpy(p->name, val);
		} else if ((!strcmp(tok, "socket") || !strcmp(tok, "file")) &&
			   *val && strlen(val) < sizeof(p->path)) {
			if (p->kind != CPORT_NONE) {
				errf(err, errlen, "--console-port '%s': give one of "
				     "socket= or file=", spec);
				return -1;
			}
			p->kind = tok[0] == 's' ? CPORT_SOCKET : CPORT_FILE;
			strcpy(p->path, val);
		} else {
			errf(err, errlen, "--console-port '%s': bad or unknown "
			     "option '%s' (known: name, socket, file)", spec, tok);
			return -1;
		}
	}
	if (!p->name[0] || p->kind == CPORT_NONE) {
		errf(err, errlen, "--console-port '%s': needs name= and one of "
		     "socket= or file=", spec);
		return -1;
	}
	return 0;
}

static int parse_console(const char *spec, struct vm_config *cfg, char *err,
			 size_t errlen)
{
	struct device_config dev;
	size_t n = strcspn(spec, ",");

	if (n == 6 && !strncmp(spec, "serial", 6) && !spec[6]) {
		cfg->virtio_console = false;
		return 0;
	}
	if (n != 6 || strncmp(spec, "virtio", 6)) {
		errf(err, errlen, "--console '%s': use serial or virtio", spec);
		return -1;
	}
	memset(&dev, 0, sizeof(dev));
	if (parse_device_opts("--console", spec, true, "transport, ring, features",
			      &dev, err, errlen))
		return -1;
	cfg->virtio_console = true;
	cfg->console_virtio = dev.virtio;
	return 0;
}

int config_parse_disk(const char *spec, struct device_config *dev, char *err,
		      size_t errlen)
{
	memset(dev, 0, sizeof(*dev));
	dev->kind = DEVICE_BLK;
	if (parse_device_opts("--disk", spec, false,
			      "path, readonly, serial, cache, direct, transport, "
			      "ring, features", dev, err, errlen))
		return -1;
	if (!dev->blk.path[0]) {
		errf(err, errlen, "--disk '%s': path=FILE is required", spec);
		return -1;
	}
	return 0;
}

int config_parse_net(const char *spec, struct device_config *dev, char *err,
		     size_t errlen)
{
	memset(dev, 0, sizeof(*dev));
	dev->kind = DEVICE_NET;
	dev->net.fd = -1;
	if (parse_device_opts("--net", spec, false,
			      "tap, fd, mac, mtu, queues, transport, ring, "
			      "features", dev, err, errlen))
		return -1;
	if (!dev->net.tap[0] == (dev->net.fd < 0)) {
		errf(err, errlen, "--net '%s': give one of tap=NAME or fd=N",
		     spec);
		return -1;
	}
	return 0;
}

int config_parse_balloon(const char *spec, struct device_config *dev,
			 char *err, size_t errlen)
{
	memset(dev, 0, sizeof(*dev));
	dev->kind = DEVICE_BALLOON;
	if (!strcmp(spec, "on"))
		return 0;		/* all defaults */
	return parse_device_opts("--balloon", spec, false,
				 "deflate_on_oom, free_page_reporting, "
				 "stats_period, target, socket, transport, "
				 "ring, features", dev, err, errlen);
}

static bool long_form(const char *arg)
{
	return arg && !strncmp(arg, "--", 2);
}

/* "--name=value" is reported as "--name". */
static int long_len(const char *arg)
{
	return (int)strcspn(arg, "=");
}

enum config_result config_parse(int argc, char **argv, struct vm_config *cfg,
				char *err, size_t errlen)
{
	static const char *const reboot_names[] = { "exit", "restart" };
	static const char *const boot_names[] = { "auto", "linux", "pvh" };
	int c, choice;

	memset(cfg, 0, sizeof(*cfg));
	cfg->cmdline = CONFIG_DEFAULT_CMDLINE;
	cfg->mem_size = CONFIG_DEFAULT_MEMORY;
	cfg->cpus = 1;
	cfg->kernel_cache = true;
	cfg->boot = BOOT_AUTO;
	if (err && errlen)
		err[0] = '\0';

	if (argc < 2) {
		errf(err, errlen, "no command given (try 'vireo --help')");
		return CONFIG_ERROR;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help"))
		return CONFIG_HELP;
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V"))
		return CONFIG_VERSION;
	if (strcmp(argv[1], "run")) {
		errf(err, errlen, "unknown command '%s' (try 'vireo --help')",
		     argv[1]);
		return CONFIG_ERROR;
	}

	optind = 0;	/* glibc: reinitialise (parse may run more than once) */
	opterr = 0;
	argc--;
	argv++;
	while ((c = getopt_long(argc, argv, ":k:i:c:m:p:d:hV", long_opts,
				NULL)) != -1) {
		switch (c) {
		case 'k':
			cfg->kernel = optarg;
			break;
		case 'i':
			cfg->initrd = optarg;
			break;
		case 'c':
			cfg->cmdline = optarg;
			cfg->cmdline_set = true;
			break;
		case 'm':
			if (parse_memory(optarg, &cfg->mem_size, err, errlen))
				return CONFIG_ERROR;
			break;
		case 'p':
			if (parse_cpus(optarg, &cfg->cpus, err, errlen))
				return CONFIG_ERROR;
			break;
		case OPT_ON_REBOOT:
			if (parse_choice("--on-reboot", optarg, reboot_names, 2,
					 &choice, err, errlen))
				return CONFIG_ERROR;
			cfg->on_reboot = (enum on_reboot)choice;
			break;
		case OPT_BOOT:
			if (parse_choice("--boot", optarg, boot_names, 3,
					 &choice, err, errlen))
				return CONFIG_ERROR;
			cfg->boot = (enum boot_protocol)choice;
			break;
		case OPT_NO_CACHE:
			cfg->kernel_cache = false;
			break;
		case OPT_CACHE_DIR:
			cfg->cache_dir = optarg;
			break;
		case 'd':
		case OPT_DISK:
			if (cfg->nr_devices == CONFIG_MAX_DEVICES) {
				errf(err, errlen, "at most %d --device and --disk "
				     "options", CONFIG_MAX_DEVICES);
				return CONFIG_ERROR;
			}
			if ((c == 'd' ? config_parse_device : config_parse_disk)(
				    optarg, &cfg->devices[cfg->nr_devices], err,
				    errlen))
				return CONFIG_ERROR;
			cfg->nr_devices++;
			break;
		case OPT_NET:
		case OPT_BALLOON: {
			unsigned int i;

			if (cfg->nr_devices == CONFIG_MAX_DEVICES) {
				errf(err, errlen, "at most %d devices",
				     CONFIG_MAX_DEVICES);
				return CONFIG_ERROR;
			}
			for (i = 0; c == OPT_BALLOON && i < cfg->nr_devices; i++) {
				if (cfg->devices[i].kind == DEVICE_BALLOON) {
					errf(err, errlen, "--balloon may be given "
					     "once");
					return CONFIG_ERROR;
				}
			}
			if ((c == OPT_NET ? config_parse_net :
			     config_parse_balloon)(optarg,
						   &cfg->devices[cfg->nr_devices],
						   err, errlen))
				return CONFIG_ERROR;
			cfg->nr_devices++;
			break;
		}
		case OPT_MMIO_CMDLINE:
			cfg->mmio_cmdline = true;
			break;
		case OPT_CONSOLE:
			if (parse_console(optarg, cfg, err, errlen))
				return CONFIG_ERROR;
			break;
		case OPT_CPORT:
			if (cfg->nr_cports == CON_MAX_PORTS - 1) {
				errf(err, errlen, "at most %d --console-port options",
				     CON_MAX_PORTS - 1);
				return CONFIG_ERROR;
			}
			if (config_parse_cport(optarg, &cfg->cports[cfg->nr_cports],
					       err, errlen))
				return CONFIG_ERROR;
			cfg->nr_cports++;
			break;
		case 'h':
			return CONFIG_HELP;
		case 'V':
			return CONFIG_VERSION;
		case ':':
			if (long_form(argv[optind - 1]))
				errf(err, errlen, "option '%.*s' needs a value",
				     long_len(argv[optind - 1]), argv[optind - 1]);
			else
				errf(err, errlen, "option '-%c' needs a value",
				     optopt);
			return CONFIG_ERROR;
		default:
			/* In a cluster of short options, name the letter. */
			if (long_form(argv[optind - 1]))
				errf(err, errlen, "unknown option '%.*s' (try "
				     "'vireo --help')", long_len(argv[optind - 1]),
				     argv[optind - 1]);
			else
				errf(err, errlen, "unknown option '-%c' (try "
				     "'vireo --help')", optopt);
			return CONFIG_ERROR;
		}
	}
	if (optind < argc) {
		errf(err, errlen, "unexpected argument '%s' (try 'vireo --help')",
		     argv[optind]);
		return CONFIG_ERROR;
	}
	if (!cfg->kernel) {
		errf(err, errlen, "--kernel is required (try 'vireo --help')");
		return CONFIG_ERROR;
	}
	if (cfg->virtio_console && !cfg->cmdline_set)
		cfg->cmdline = CONFIG_VIRTIO_CMDLINE;
	return CONFIG_RUN;
}
