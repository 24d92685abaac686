// SPDX-License-Identifier: GPL-2.0
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opts.h"
#include "util.h"
#include "vdevs.h"
#include "vm.h"

static const char usage[] =
"usage: vireo run --kernel FILE [options]\n"
"       vireo run --api-sock PATH [--config-file FILE] [options]\n"
"       vireo restore --snapshot DIR [restore options]\n"
"       vireo run --incoming unix:PATH|tcp:[HOST]:PORT [restore options]\n"
"       vireo ctl --api-sock PATH COMMAND   (vireo ctl --help lists them)\n"
"       vireo --help | --version\n"
"\n"
"Boot a Linux guest on KVM. Its serial console (COM1) is this terminal;\n"
"press Ctrl-A x to quit, Ctrl-A Ctrl-A to send Ctrl-A.\n"
"\n"
"options for 'run':\n"
"  -k, --kernel FILE       bzImage or ELF vmlinux to boot (required unless\n"
"                          the VM is configured through --api-sock or\n"
"                          --config-file). A\n"
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
"                          types: rng, blk, net, balloon (--device blk,...\n"
"                          is --disk ..., and so on)\n"
"                          transport=pci (default), mmio or mmio-legacy\n"
"                          ring=split (default) or packed (modern only)\n"
"                          features=-event_idx,-indirect_desc: do not offer\n"
"      --disk SPEC         add a virtio-blk disk (repeatable): a raw image,\n"
"                          never probed for a format, e.g.\n"
"                          path=disk.img,readonly=on,serial=ID,cache=writeback\n"
"                          cache=writeback (default: a completed FLUSH makes\n"
"                          earlier writes stable), writethrough (every write\n"
"                          stable before it completes) or unsafe (FLUSH is a\n"
"                          no-op); direct=on opens with O_DIRECT; queues=N\n"
"                          virtqueues (1-8; default one per vCPU, up to 4);\n"
"                          iothread=on serves its queues on a thread of\n"
"                          its own instead of the event loop;\n"
"                          transport, ring, features as for --device.\n"
"                          inject=RULE[+RULE..][,seed=S]: fault injection\n"
"                          for driver tests: ioerr@N, ioerr%P, ioerr:A-B\n"
"                          (sectors), unsupp@N, reset@N, delay@MS,\n"
"                          delayrand@MS, reorder@N, burst@N, capacity@S,\n"
"                          irqlate@MS, irqcoalesce@N, irqspurious@MS,\n"
"                          queue@N (see README; also PUT /faults/ID)\n"
"                          vhost-user=SOCKET[,server=on] instead of path:\n"
"                          a disk served by a vhost-user backend process\n"
"                          (e.g. qemu-storage-daemon); vireo connects to\n"
"                          SOCKET, or listens there with server=on.\n"
"                          vhost-vdpa=/dev/vhost-vdpa-N instead of path: a\n"
"                          vDPA block device serves the queues (hardware,\n"
"                          or a VDUSE export of qemu-storage-daemon); its\n"
"                          features, size and queues are the device's; it\n"
"                          cannot be paused unless it can suspend\n"
"      --net SPEC          add a virtio-net NIC on a tap (repeatable), e.g.\n"
"                          tap=vireo0,mac=02:00:00:00:00:01,mtu=9000,queues=2\n"
"                          tap=NAME opens (or creates) the tap, fd=N adopts\n"
"                          an open tap fd (IFF_VNET_HDR); mac defaults to\n"
"                          one derived from the tap name; queues=1-4 needs a\n"
"                          multi_queue tap; transport, ring, features as\n"
"                          for --device, plus -mrg_rxbuf, -tso, -csum.\n"
"                          vhost=auto (default: the kernel's vhost-net\n"
"                          serves the queues if /dev/vhost-net is usable,\n"
"                          else vireo, with a notice), on (vhost-net or an\n"
"                          error) or off (vireo); vhost-dev=PATH instead of\n"
"                          /dev/vhost-net.\n"
"                          vhost-user=SOCKET[,server=on] instead of a tap:\n"
"                          a vhost-user backend process (e.g. DPDK) serves\n"
"                          the queues; the link goes down while it is gone.\n"
"                          iothread=on: vireo's data path (no vhost-net)\n"
"                          on a thread of its own (queues and taps).\n"
"                          inject=RULE[+RULE..][,seed=S]: faults for driver\n"
"                          tests (no vhost-net): rxdrop%P, rxdup%P,\n"
"                          badcsum%P, shortlen%P (P% of received frames),\n"
"                          linkflap@MS, irqlate@MS, irqcoalesce@N,\n"
"                          irqspurious@MS, queue@N (see README; also PUT\n"
"                          /faults/ID)\n"
"                          vhost-vdpa=/dev/vhost-vdpa-N instead of a tap: a\n"
"                          vDPA net device (its own MAC and MTU; one queue\n"
"                          pair). Counters are printed at exit\n"
"      --balloon [SPEC]    add a virtio-balloon (once): alone for its\n"
"                          defaults, or e.g.\n"
"                          deflate_on_oom=on,free_page_reporting=on,\n"
"                          stats_period=5,target=128M\n"
"                          target: memory to take back at start; at run\n"
"                          time through --api-sock ('vireo ctl balloon')\n"
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
"      --api-sock PATH     serve the control API (Firecracker-shaped\n"
"                          HTTP/1.1 with JSON bodies) on the unix socket\n"
"                          PATH: configure and start the VM, pause, resume,\n"
"                          snapshot, balloon, metrics. Without --kernel the\n"
"                          VM waits for PUT /actions InstanceStart\n"
"      --config-file FILE  a JSON VM configuration (Firecracker's layout:\n"
"                          boot-source, machine-config, drives,\n"
"                          network-interfaces, balloon), applied as API\n"
"                          requests, then the VM starts\n"
"      --track-dirty-pages record the pages written since the last\n"
"                          snapshot, so that 'ctl snapshot --diff' can\n"
"                          write only those\n"
"      --driver-log FILE   driver test mode: every time a guest driver\n"
"                          breaks the virtio spec (features, status, queue\n"
"                          registers, notifications, config accesses,\n"
"                          malformed rings), append a JSON line naming the\n"
"                          spec section, device, queue and values. Counts\n"
"                          are on each device's exit line and in GET\n"
"                          /metrics with or without the file\n"
"      --strict            each such violation also puts the device in\n"
"                          DEVICE_NEEDS_RESET (driver CI that must fail\n"
"                          loudly)\n"
"\n"
"least privilege (applied once the machine is built, before it runs):\n"
"      --seccomp on|off    a system call filter per thread kind (vcpu,\n"
"                          event loop, worker, migration); a call outside\n"
"                          it stops vireo with a line naming the call and\n"
"                          the thread (exit 159). Default on; off is for\n"
"                          debugging and says so\n"
"      --user UID:GID      run as this unprivileged user (numbers or\n"
"                          names) once /dev/kvm, the kernel, disks, taps\n"
"                          and sockets are open: no capabilities are kept.\n"
"                          Files named later (snapshots, API-configured\n"
"                          VMs) are opened as that user. Without it, vireo\n"
"                          keeps only CAP_DAC_OVERRIDE, DAC_READ_SEARCH,\n"
"                          FOWNER and IPC_LOCK once the machine is built\n"
"                          (all with --on-reboot restart)\n"
"      --jail DIR          run in new mount, PID and IPC namespaces with\n"
"                          DIR as / (pivot_root) once the machine is\n"
"                          built: paths given later (snapshots, sockets)\n"
"                          are inside DIR. Needs root. With --user, DIR\n"
"                          must be writable by that user for snapshots\n"
"\n"
"options for 'restore' (the machine comes from the snapshot):\n"
"      --snapshot DIR      DIR/state and DIR/mem, as 'vireo ctl snapshot'\n"
"                          wrote them (required)\n"
"      --net-override ID=TAP\n"
"                          put NIC ID (e.g. net0) on tap TAP instead of the\n"
"                          saved one (repeatable; for running clones)\n"
"      --paused            stay paused after the restore (resume with\n"
"                          'vireo ctl ... resume')\n"
"      --api-sock PATH, --track-dirty-pages as for 'run'\n"
"\n"
"live migration (the machine comes from another vireo):\n"
"  vireo run --incoming unix:PATH|tcp:[HOST]:PORT [--net-override ID=TAP]\n"
"                          [--paused] [--api-sock PATH]\n"
"                          wait for one migration stream, then run the\n"
"                          guest it brings; the source starts it with\n"
"                          'vireo ctl --api-sock S migrate --to URI'\n"
"\n"
"  -h, --help              show this help\n"
"  -V, --version           show the version\n"
"\n"
"exit status:\n"
"  0  the guest powered off or rebooted, or Ctrl-A x was pressed\n"
"  1  vireo could not set up or run the VM (the message says why)\n"
"  2  the command line is wrong\n"
"  3  the guest kernel panicked (reported through pvpanic)\n"
"  4  a vCPU failed: triple fault, KVM internal or entry error, or the\n"
"     host's KVM lost its state (a vCPU that took no interrupt once its\n"
"     GIF was set again, or ran seconds at a rip its page tables do not\n"
"     map); the vCPU registers are printed on stderr\n"
"  128+N  vireo was stopped by signal N (159: a system call outside\n"
"     its seccomp filter, named on stderr)\n";

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
	OPT_CONSOLE,
	OPT_CPORT,
	OPT_API_SOCK,
	OPT_CONFIG_FILE,
	OPT_TRACK_DIRTY,
	OPT_SNAPSHOT,
	OPT_NET_OVERRIDE,
	OPT_PAUSED,
	OPT_INCOMING,
	OPT_DRIVER_LOG,
	OPT_STRICT,
	OPT_SECCOMP,
	OPT_USER,
	OPT_JAIL,
	OPT_CLASS,		/* + index in vdev_classes[]: --disk, --net, ... */
};

static const struct option fixed_opts[] = {
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
	{ "console", required_argument, NULL, OPT_CONSOLE },
	{ "console-port", required_argument, NULL, OPT_CPORT },
	{ "virtio-mmio-cmdline", no_argument, NULL, OPT_MMIO_CMDLINE },
	{ "api-sock", required_argument, NULL, OPT_API_SOCK },
	{ "config-file", required_argument, NULL, OPT_CONFIG_FILE },
	{ "track-dirty-pages", no_argument, NULL, OPT_TRACK_DIRTY },
	{ "snapshot", required_argument, NULL, OPT_SNAPSHOT },
	{ "net-override", required_argument, NULL, OPT_NET_OVERRIDE },
	{ "paused", no_argument, NULL, OPT_PAUSED },
	{ "incoming", required_argument, NULL, OPT_INCOMING },
	{ "driver-log", required_argument, NULL, OPT_DRIVER_LOG },
	{ "strict", no_argument, NULL, OPT_STRICT },
	{ "seccomp", required_argument, NULL, OPT_SECCOMP },
	{ "user", required_argument, NULL, OPT_USER },
	{ "jail", required_argument, NULL, OPT_JAIL },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
};

/* The fixed options, then one per device class that has its own. */
static void build_long_opts(struct option *opts)
{
	unsigned int n = 0, i;

	for (i = 0; i < ARRAY_SIZE(fixed_opts); i++)
		opts[n++] = fixed_opts[i];
	for (i = 0; vdev_classes[i]; i++) {
		if (!vdev_classes[i]->option)
			continue;
		opts[n].name = vdev_classes[i]->option;
		/* --balloon alone means its defaults. */
		opts[n].has_arg = required_argument;
		opts[n].flag = NULL;
		opts[n].val = OPT_CLASS + (int)i;
		n++;
	}
	memset(&opts[n], 0, sizeof(opts[n]));
}

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

/* The options every virtio device takes; 1 if key was one of them. */
static int common_key(const char *opt, const char *key, const char *val,
		      struct device_config *dev, char *err, size_t errlen)
{
	static const char *const transports[] = { "pci", "mmio", "mmio-legacy" };
	static const char *const rings[] = { "split", "packed" };
	int choice;

	if (!strcmp(key, "transport")) {
		if (opt_choice(opt, val, transports, 3, &choice, err, errlen))
			return -1;
		dev->virtio.transport = (enum virtio_transport)choice;
		return 1;
	}
	if (!strcmp(key, "ring")) {
		if (opt_choice(opt, val, rings, 2, &choice, err, errlen))
			return -1;
		dev->virtio.packed = choice == 1;
		return 1;
	}
	if (!strcmp(key, "id"))
		return opt_string(opt, "an id", val, dev->id, sizeof(dev->id),
				  err, errlen) ? -1 : 1;
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
	const struct vdev_feature *f = dev->cls ? dev->cls->features : NULL;
	bool off = tok[0] == '-';
	char known[256] = "event_idx, indirect_desc";

	if (tok[0] != '-' && tok[0] != '+') {
		errf(err, errlen, "%s '%s': feature '%s' needs a + or - in front",
		     what, spec, tok);
		return -1;
	}
	if (!strcmp(tok + 1, "event_idx")) {
		dev->virtio.no_event_idx = off;
		return 0;
	}
	if (!strcmp(tok + 1, "indirect_desc")) {
		dev->virtio.no_indirect = off;
		return 0;
	}
	for (; f && f->name; f++) {
		if (!strcmp(tok + 1, f->name)) {
			set_bits(&dev->virtio.no_features, f->bits, off);
			return 0;
		}
		snprintf(known + strlen(known), sizeof(known) - strlen(known),
			 ", %s", f->name);
	}
	errf(err, errlen, "%s '%s': unknown feature '%s' (known: %s)", what,
	     spec, tok + 1, known);
	return -1;
}

/*
 * KEY=VALUE[,KEY=VALUE...], after the leading type word if typed.
 * "features=-a,-b" continues over tokens that start with + or -.
 */
static int parse_device_opts(const char *what, const char *spec, bool typed,
			     struct device_config *dev, char *err,
			     size_t errlen)
{
	const struct vdev_class *cls = dev->cls;
	char buf[4400], opt[4600], *tok, *save = NULL;
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
		snprintf(opt, sizeof(opt), "%s '%s': %s", what, spec, tok);
		ret = common_key(opt, tok, eq + 1, dev, err, errlen);
		if (!ret && cls && cls->parse_key)
			ret = cls->parse_key(dev->cfg, opt, tok, eq + 1, err,
					     errlen);
		if (ret < 0)
			return -1;
		if (!ret) {
			errf(err, errlen, "%s '%s': unknown option '%s' (known: "
			     "%s%stransport, ring, features, id)", what, spec, tok,
			     cls && cls->keys ? cls->keys : "",
			     cls && cls->keys && cls->keys[0] ? ", " : "");
			return -1;
		}
	}
	if (dev->virtio.packed && dev->virtio.transport == VIRTIO_MMIO_LEGACY) {
		errf(err, errlen, "%s '%s': ring=packed needs a modern transport "
		     "(mmio-legacy has split rings only)", what, spec);
		return -1;
	}
	snprintf(opt, sizeof(opt), "%s '%s'", what, spec);
	if (cls && cls->config_check && cls->config_check(dev->cfg, opt, err,
							   errlen))
		return -1;
	return 0;
}

void device_config_free(struct device_config *dev)
{
	free(dev->cfg);
	free(dev->spec);
	dev->cfg = NULL;
	dev->spec = NULL;
}

/* A zeroed device_config of class cls, its options at their defaults. */
static int device_config_new(struct device_config *dev,
			     const struct vdev_class *cls, char *err,
			     size_t errlen)
{
	memset(dev, 0, sizeof(*dev));
	dev->cls = cls;
	dev->cfg = calloc(1, cls->config_size ? cls->config_size : 1);
	if (!dev->cfg) {
		errf(err, errlen, "out of memory");
		return -1;
	}
	if (cls->config_init)
		cls->config_init(dev->cfg);
	return 0;
}

const struct vdev_class *config_find_class(const char *name, size_t len)
{
	unsigned int i;

	for (i = 0; vdev_classes[i]; i++)
		if (strlen(vdev_classes[i]->name) == len &&
		    !strncmp(vdev_classes[i]->name, name, len) &&
		    vdev_classes[i]->parse_key)
			return vdev_classes[i];
	return NULL;
}

int config_parse_device(const char *spec, struct device_config *dev,
			char *err, size_t errlen)
{
	size_t n = strcspn(spec, ",");
	const struct vdev_class *cls = config_find_class(spec, n);

	memset(dev, 0, sizeof(*dev));
	if (!cls) {
		char known[256] = "";
		unsigned int i;

		for (i = 0; vdev_classes[i]; i++)
			if (vdev_classes[i]->parse_key)
				snprintf(known + strlen(known),
					 sizeof(known) - strlen(known), "%s%s",
					 known[0] ? ", " : "",
					 vdev_classes[i]->name);
		errf(err, errlen, "--device '%s': unknown device type '%.*s' "
		     "(known: %s)", spec, (int)n, spec, known);
		return -1;
	}
	if (device_config_new(dev, cls, err, errlen))
		return -1;
	if (parse_device_opts("--device", spec, true, dev, err, errlen)) {
		device_config_free(dev);
		return -1;
	}
	/* Kept without the type word: what --OPTION or a class parse takes. */
	dev->spec = strdup(spec[n] ? spec + n + 1 : "");
	return dev->spec ? 0 : -1;
}

int config_parse_class(const struct vdev_class *cls, const char *spec,
		       struct device_config *dev, char *err, size_t errlen)
{
	char what[64];

	snprintf(what, sizeof(what), "--%s", cls->option ? cls->option :
							  cls->name);
	if (device_config_new(dev, cls, err, errlen))
		return -1;
	dev->spec = strdup(spec);
	if (!dev->spec) {
		device_config_free(dev);
		errf(err, errlen, "out of memory");
		return -1;
	}
	/* "--balloon on": every default. */
	if (!strcmp(spec, "on"))
		return 0;
	if (parse_device_opts(what, spec, false, dev, err, errlen)) {
		device_config_free(dev);
		return -1;
	}
	return 0;
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
	if (parse_device_opts("--console", spec, true, &dev, err, errlen))
		return -1;
	cfg->virtio_console = true;
	cfg->console_virtio = dev.virtio;
	return 0;
}

/* --console virtio / --console-port: the console device goes first. */
static int add_console(struct vm_config *cfg, char *err, size_t errlen)
{
	struct device_config *dev = &cfg->devices[0];
	struct console_config c;

	if (!cfg->virtio_console && !cfg->nr_cports)
		return 0;
	memmove(cfg->devices + 1, cfg->devices,
		cfg->nr_devices * sizeof(cfg->devices[0]));
	cfg->nr_devices++;
	memset(&c, 0, sizeof(c));
	c.ports[0].kind = cfg->virtio_console ? CPORT_STDIO : CPORT_NONE;
	memcpy(c.ports + 1, cfg->cports, cfg->nr_cports * sizeof(c.ports[0]));
	c.nr_ports = cfg->nr_cports + 1;
	if (config_console_device(dev, &c, err, errlen))
		return -1;
	dev->virtio = cfg->console_virtio;
	return 0;
}

int config_console_device(struct device_config *dev,
			  const struct console_config *cc, char *err,
			  size_t errlen)
{
	if (device_config_new(dev, &virtio_console_class, err, errlen))
		return -1;
	dev->spec = strdup("");
	if (!dev->spec) {
		device_config_free(dev);
		errf(err, errlen, "out of memory");
		return -1;
	}
	snprintf(dev->id, sizeof(dev->id), "console0");
	memcpy(dev->cfg, cc, sizeof(*cc));
	return 0;
}

static int add_class_device(struct vm_config *cfg, const struct vdev_class *cls,
			    const char *spec, char *err, size_t errlen)
{
	unsigned int i;

	if (cfg->nr_devices == CONFIG_MAX_DEVICES) {
		errf(err, errlen, "at most %d devices", CONFIG_MAX_DEVICES);
		return -1;
	}
	if (cls && (cls == &virtio_console_class || !cls->parse_key)) {
		errf(err, errlen, "--device %s: use --console", cls->name);
		return -1;
	}
	if (cls ? config_parse_class(cls, spec, &cfg->devices[cfg->nr_devices],
				     err, errlen) :
		  config_parse_device(spec, &cfg->devices[cfg->nr_devices], err,
				      errlen))
		return -1;
	cls = cfg->devices[cfg->nr_devices].cls;
	if (!cfg->devices[cfg->nr_devices].id[0]) {
		unsigned int same = 0;

		for (i = 0; i < cfg->nr_devices; i++)
			same += cfg->devices[i].cls == cls;
		snprintf(cfg->devices[cfg->nr_devices].id,
			 sizeof(cfg->devices[0].id), "%s%u", cls->name, same);
	}
	for (i = 0; i < cfg->nr_devices; i++) {
		if (!strcmp(cfg->devices[i].id, cfg->devices[cfg->nr_devices].id)) {
			errf(err, errlen, "two devices with id '%s'",
			     cfg->devices[i].id);
			device_config_free(&cfg->devices[cfg->nr_devices]);
			return -1;
		}
	}
	for (i = 0; cls->once && i < cfg->nr_devices; i++) {
		if (cfg->devices[i].cls == cls) {
			errf(err, errlen, "--%s may be given once", cls->option ?
			     cls->option : cls->name);
			device_config_free(&cfg->devices[cfg->nr_devices]);
			return -1;
		}
	}
	cfg->nr_devices++;
	return 0;
}

void config_free(struct vm_config *cfg)
{
	unsigned int i;

	for (i = 0; i < cfg->nr_devices; i++)
		device_config_free(&cfg->devices[i]);
	cfg->nr_devices = 0;
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

/* One option of 'run'; CONFIG_RUN to go on. */
static enum config_result parse_one(int c, int argc, char **argv,
				    struct vm_config *cfg, char *err,
				    size_t errlen)
{
	static const char *const reboot_names[] = { "exit", "restart" };
	static const char *const onoff_names[] = { "on", "off" };
	static const char *const boot_names[] = { "auto", "linux", "pvh" };
	int choice;

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
		if (opt_choice("--on-reboot", optarg, reboot_names, 2, &choice,
			       err, errlen))
			return CONFIG_ERROR;
		cfg->on_reboot = (enum on_reboot)choice;
		break;
	case OPT_BOOT:
		if (opt_choice("--boot", optarg, boot_names, 3, &choice, err,
			       errlen))
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
		if (add_class_device(cfg, NULL, optarg, err, errlen))
			return CONFIG_ERROR;
		break;
	case OPT_MMIO_CMDLINE:
		cfg->mmio_cmdline = true;
		break;
	case OPT_API_SOCK:
		cfg->api_sock = optarg;
		break;
	case OPT_DRIVER_LOG:
		cfg->driver_log = optarg;
		break;
	case OPT_STRICT:
		cfg->strict = true;
		break;
	case OPT_SECCOMP:
		if (opt_choice("--seccomp", optarg, onoff_names, 2, &choice,
			       err, errlen))
			return CONFIG_ERROR;
		cfg->sandbox.seccomp = choice == 0;
		break;
	case OPT_USER:
		if (sandbox_parse_user(optarg, &cfg->sandbox, err, errlen))
			return CONFIG_ERROR;
		break;
	case OPT_JAIL:
		cfg->sandbox.jail = optarg;
		break;
	case OPT_CONFIG_FILE:
		cfg->config_file = optarg;
		break;
	case OPT_TRACK_DIRTY:
		cfg->track_dirty = true;
		break;
	case OPT_SNAPSHOT:
		cfg->snapshot = optarg;
		break;
	case OPT_PAUSED:
		cfg->restore_paused = true;
		break;
	case OPT_INCOMING:
		cfg->incoming = optarg;
		break;
	case OPT_NET_OVERRIDE: {
		const char *eq = strchr(optarg, '=');
		unsigned int n = cfg->nr_net_overrides;

		if (!eq || eq == optarg || !eq[1] ||
		    (size_t)(eq - optarg) >= sizeof(cfg->net_overrides[0].id) ||
		    strlen(eq + 1) >= sizeof(cfg->net_overrides[0].tap)) {
			errf(err, errlen, "--net-override '%s': ID=TAP, the id of "
			     "a network device in the snapshot and a tap name of "
			     "at most 15 characters", optarg);
			return CONFIG_ERROR;
		}
		if (n == CONFIG_MAX_DEVICES) {
			errf(err, errlen, "at most %d --net-override options",
			     CONFIG_MAX_DEVICES);
			return CONFIG_ERROR;
		}
		memcpy(cfg->net_overrides[n].id, optarg, (size_t)(eq - optarg));
		cfg->net_overrides[n].id[eq - optarg] = '\0';
		strcpy(cfg->net_overrides[n].tap, eq + 1);
		cfg->nr_net_overrides++;
		break;
	}
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
			errf(err, errlen, "option '-%c' needs a value", optopt);
		return CONFIG_ERROR;
	default:
		if (c >= OPT_CLASS) {
			if (add_class_device(cfg, vdev_classes[c - OPT_CLASS],
					     optarg, err, errlen))
				return CONFIG_ERROR;
			break;
		}
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
	(void)argc;
	return CONFIG_RUN;
}

/*
 * vireo restore: --snapshot, and only what a restore takes; vireo run
 * --incoming takes the same (the machine comes in the stream).
 */
static enum config_result check_restore(struct vm_config *cfg, char *err,
					size_t errlen)
{
	if (cfg->incoming) {
		if (cfg->snapshot) {
			errf(err, errlen, "--incoming takes the machine from the "
			     "migration stream, not from --snapshot");
			return CONFIG_ERROR;
		}
		if (cfg->kernel || cfg->initrd || cfg->cmdline_set ||
		    cfg->nr_devices || cfg->nr_cports || cfg->virtio_console ||
		    cfg->config_file) {
			errf(err, errlen, "vireo run --incoming takes the machine "
			     "from the migration stream: only --net-override, "
			     "--api-sock, --paused and --track-dirty-pages go "
			     "with it");
			return CONFIG_ERROR;
		}
		return CONFIG_RESTORE;
	}
	if (!cfg->snapshot) {
		errf(err, errlen, "vireo restore: --snapshot DIR is required "
		     "(the directory 'vireo ctl snapshot' wrote)");
		return CONFIG_ERROR;
	}
	if (cfg->kernel || cfg->initrd || cfg->cmdline_set || cfg->nr_devices ||
	    cfg->nr_cports || cfg->virtio_console || cfg->config_file) {
		errf(err, errlen, "vireo restore takes the machine from the "
		     "snapshot: only --snapshot, --net-override, --api-sock, "
		     "--paused and --track-dirty-pages");
		return CONFIG_ERROR;
	}
	return CONFIG_RESTORE;
}

/*
 * "--balloon" with no value means its defaults: getopt wants a value, so
 * one is supplied when the next word is another option or missing.
 */
static void default_values(int argc, char **argv, char **fixed)
{
	int i;

	for (i = 0; i < argc; i++) {
		fixed[i] = argv[i];
		if (!strcmp(argv[i], "--balloon") &&
		    (i + 1 == argc || argv[i + 1][0] == '-'))
			fixed[i] = "--balloon=on";
	}
	fixed[argc] = NULL;
}

enum config_result config_parse(int argc, char **argv, struct vm_config *cfg,
				char *err, size_t errlen)
{
	struct option opts[ARRAY_SIZE(fixed_opts) + 16];
	enum config_result r;
	char **args;
	int c;

	memset(cfg, 0, sizeof(*cfg));
	cfg->cmdline = CONFIG_DEFAULT_CMDLINE;
	cfg->mem_size = CONFIG_DEFAULT_MEMORY;
	cfg->cpus = 1;
	cfg->kernel_cache = true;
	cfg->sandbox.seccomp = true;
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
	if (!strcmp(argv[1], "ctl"))
		return CONFIG_CTL;
	if (strcmp(argv[1], "run") && strcmp(argv[1], "restore")) {
		errf(err, errlen, "unknown command '%s' (try 'vireo --help')",
		     argv[1]);
		return CONFIG_ERROR;
	}

	build_long_opts(opts);
	args = calloc((size_t)argc + 1, sizeof(*args));
	if (!args) {
		errf(err, errlen, "out of memory");
		return CONFIG_ERROR;
	}
	default_values(argc - 1, argv + 1, args);
	optind = 0;	/* glibc: reinitialise (parse may run more than once) */
	opterr = 0;
	r = CONFIG_RUN;
	while (r == CONFIG_RUN &&
	       (c = getopt_long(argc - 1, args, ":k:i:c:m:p:d:hV", opts,
				NULL)) != -1)
		r = parse_one(c, argc - 1, args, cfg, err, errlen);
	if (r == CONFIG_RUN && optind < argc - 1) {
		errf(err, errlen, "unexpected argument '%s' (try 'vireo --help')",
		     args[optind]);
		r = CONFIG_ERROR;
	}
	free(args);
	if (r == CONFIG_RUN && !strcmp(argv[1], "restore") && cfg->incoming) {
		errf(err, errlen, "--incoming is for 'vireo run'");
		r = CONFIG_ERROR;
	} else if (r == CONFIG_RUN && (!strcmp(argv[1], "restore") || cfg->incoming))
		r = check_restore(cfg, err, errlen);
	else if (r == CONFIG_RUN && (cfg->snapshot || cfg->nr_net_overrides ||
				     cfg->restore_paused)) {
		errf(err, errlen, "--snapshot, --net-override and --paused are "
		     "for 'vireo restore' (and 'vireo run --incoming')");
		r = CONFIG_ERROR;
	} else if (r == CONFIG_RUN && !cfg->kernel && !cfg->api_sock &&
		   !cfg->config_file) {
		errf(err, errlen, "--kernel is required (or --api-sock to "
		     "configure the VM through the API; try 'vireo --help')");
		r = CONFIG_ERROR;
	}
	if (r == CONFIG_RUN && cfg->on_reboot == ON_REBOOT_RESTART &&
	    (cfg->sandbox.user || cfg->sandbox.jail)) {
		errf(err, errlen, "--on-reboot restart cannot go with --user or "
		     "--jail: a restart opens /dev/kvm, the kernel, disks and "
		     "taps again, which the jailed or unprivileged vireo can no "
		     "longer reach (let the caller start a new vireo)");
		r = CONFIG_ERROR;
	}
	/* A restart opens taps and /dev/kvm again: it keeps its rights. */
	cfg->sandbox.keep_caps = cfg->on_reboot == ON_REBOOT_RESTART;
	if (r == CONFIG_RUN && add_console(cfg, err, errlen))
		r = CONFIG_ERROR;
	if (r != CONFIG_RUN && r != CONFIG_RESTORE) {
		config_free(cfg);
		return r;
	}
	if (cfg->virtio_console && !cfg->cmdline_set)
		cfg->cmdline = CONFIG_VIRTIO_CMDLINE;
	return r;
}
