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

static int device_feature(const char *spec, const char *tok,
			  struct device_config *dev, char *err, size_t errlen)
{
	bool off = tok[0] == '-';

	if (tok[0] != '-' && tok[0] != '+') {
		errf(err, errlen, "--device '%s': feature '%s' needs a + or - "
		     "in front", spec, tok);
		return -1;
	}
	if (!strcmp(tok + 1, "event_idx")) {
		dev->virtio.no_event_idx = off;
	} else if (!strcmp(tok + 1, "indirect_desc")) {
		dev->virtio.no_indirect = off;
	} else {
		errf(err, errlen, "--device '%s': unknown feature '%s' (known: "
		     "event_idx, indirect_desc)", spec, tok + 1);
		return -1;
	}
	return 0;
}

int config_parse_device(const char *spec, struct device_config *dev,
			char *err, size_t errlen)
{
	static const char *const transports[] = { "pci", "mmio", "mmio-legacy" };
	static const char *const rings[] = { "split", "packed" };
	char buf[256], *tok, *save = NULL, opt[300];
	bool in_features = false;
	int choice;

	memset(dev, 0, sizeof(*dev));
	if (strlen(spec) >= sizeof(buf)) {
		errf(err, errlen, "--device: the value is too long");
		return -1;
	}
	strcpy(buf, spec);
	tok = strtok_r(buf, ",", &save);
	if (!tok || strcmp(tok, "rng")) {
		errf(err, errlen, "--device '%s': unknown device type '%s' "
		     "(known: rng)", spec, tok ? tok : "");
		return -1;
	}
	dev->kind = DEVICE_RNG;
	while ((tok = strtok_r(NULL, ",", &save))) {
		char *eq = strchr(tok, '=');

		if (!eq && in_features) {
			if (device_feature(spec, tok, dev, err, errlen))
				return -1;
			continue;
		}
		if (!eq) {
			errf(err, errlen, "--device '%s': '%s' is not KEY=VALUE",
			     spec, tok);
			return -1;
		}
		*eq = '\0';
		in_features = false;
		snprintf(opt, sizeof(opt), "--device '%s': %s", spec, tok);
		if (!strcmp(tok, "transport")) {
			if (parse_choice(opt, eq + 1, transports, 3, &choice, err,
					 errlen))
				return -1;
			dev->virtio.transport = (enum virtio_transport)choice;
		} else if (!strcmp(tok, "ring")) {
			if (parse_choice(opt, eq + 1, rings, 2, &choice, err,
					 errlen))
				return -1;
			dev->virtio.packed = choice == 1;
		} else if (!strcmp(tok, "features")) {
			in_features = true;
			if (device_feature(spec, eq + 1, dev, err, errlen))
				return -1;
		} else {
			errf(err, errlen, "--device '%s': unknown option '%s' "
			     "(known: transport, ring, features)", spec, tok);
			return -1;
		}
	}
	if (dev->virtio.packed && dev->virtio.transport == VIRTIO_MMIO_LEGACY) {
		errf(err, errlen, "--device '%s': ring=packed needs a modern "
		     "transport (mmio-legacy has split rings only)", spec);
		return -1;
	}
	return 0;
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
			if (cfg->nr_devices == CONFIG_MAX_DEVICES) {
				errf(err, errlen, "at most %d --device options",
				     CONFIG_MAX_DEVICES);
				return CONFIG_ERROR;
			}
			if (config_parse_device(optarg,
						&cfg->devices[cfg->nr_devices],
						err, errlen))
				return CONFIG_ERROR;
			cfg->nr_devices++;
			break;
		case OPT_MMIO_CMDLINE:
			cfg->mmio_cmdline = true;
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
	return CONFIG_RUN;
}
