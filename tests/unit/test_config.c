// SPDX-License-Identifier: GPL-2.0
#include <stdio.h>
#include <string.h>

#include "unit.h"
#include "devices/virtio-balloon.h"
#include "devices/virtio-blk.h"
#include "devices/virtio-net.h"
#include "devices/virtio-rng.h"
#include "vmm/config.h"

#define ARGV(...) ((char *[]){ "vireo", __VA_ARGS__, NULL })
#define ARGC(...) ((int)(sizeof((char *[]){ "vireo", __VA_ARGS__ }) / sizeof(char *)))
#define PARSE(cfg, err, ...) \
	config_parse(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), cfg, err, sizeof(err))

START_TEST(defaults)
{
	struct vm_config cfg;
	char err[256];

	ck_assert_int_eq(PARSE(&cfg, err, "run", "--kernel", "bz"), CONFIG_RUN);
	ck_assert_str_eq(cfg.kernel, "bz");
	ck_assert_ptr_null(cfg.initrd);
	ck_assert_str_eq(cfg.cmdline, CONFIG_DEFAULT_CMDLINE);
	ck_assert_uint_eq(cfg.mem_size, 256ULL << 20);
	ck_assert_uint_eq(cfg.cpus, 1);
	ck_assert_int_eq(cfg.on_reboot, ON_REBOOT_EXIT);
	ck_assert_int_eq(cfg.boot, BOOT_AUTO);
	ck_assert(cfg.kernel_cache);
}
END_TEST

START_TEST(all_options)
{
	struct vm_config cfg;
	char err[256];

	ck_assert_int_eq(PARSE(&cfg, err, "run", "-k", "k", "-i", "i", "-c",
			       "console=ttyS0 quiet", "-m", "1G", "-p", "4",
			       "--on-reboot", "restart", "--boot", "pvh",
			       "--no-kernel-cache", "--kernel-cache-dir", "/c"),
			 CONFIG_RUN);
	ck_assert_str_eq(cfg.initrd, "i");
	ck_assert_str_eq(cfg.cmdline, "console=ttyS0 quiet");
	ck_assert_uint_eq(cfg.mem_size, 1ULL << 30);
	ck_assert_uint_eq(cfg.cpus, 4);
	ck_assert_int_eq(cfg.on_reboot, ON_REBOOT_RESTART);
	ck_assert_int_eq(cfg.boot, BOOT_PVH);
	ck_assert(!cfg.kernel_cache);
	ck_assert_str_eq(cfg.cache_dir, "/c");
	/* --opt=value works too. */
	ck_assert_int_eq(PARSE(&cfg, err, "run", "--kernel=x", "--memory=2048"),
			 CONFIG_RUN);
	ck_assert_uint_eq(cfg.mem_size, 2ULL << 30);
}
END_TEST

START_TEST(help_and_version)
{
	struct vm_config cfg;
	char err[256];

	ck_assert_int_eq(PARSE(&cfg, err, "--help"), CONFIG_HELP);
	ck_assert_int_eq(PARSE(&cfg, err, "help"), CONFIG_HELP);
	ck_assert_int_eq(PARSE(&cfg, err, "-V"), CONFIG_VERSION);
	ck_assert_int_eq(PARSE(&cfg, err, "run", "--help"), CONFIG_HELP);
	ck_assert_ptr_nonnull(strstr(config_usage(), "--kernel"));
	ck_assert_ptr_nonnull(strstr(config_usage(), "exit status"));
}
END_TEST

/* Every error is one line that names the culprit. */
static void expect_error(enum config_result r, const char *err,
			 const char *needle)
{
	ck_assert_int_eq(r, CONFIG_ERROR);
	ck_assert_msg(strstr(err, needle), "'%s' does not mention '%s'", err,
		      needle);
	ck_assert_ptr_null(strchr(err, '\n'));
}

START_TEST(errors_name_the_problem)
{
	struct vm_config cfg;
	char err[256];
	enum config_result r;

	config_parse(1, (char *[]){ "vireo", NULL }, &cfg, err, sizeof(err));
	ck_assert_ptr_nonnull(strstr(err, "no command"));
	r = PARSE(&cfg, err, "frobnicate");
	expect_error(r, err, "unknown command 'frobnicate'");
	r = PARSE(&cfg, err, "run");
	expect_error(r, err, "--kernel is required");
	r = PARSE(&cfg, err, "run", "--kernel", "k", "--bogus");
	expect_error(r, err, "unknown option '--bogus'");
	r = PARSE(&cfg, err, "run", "--kernel", "k", "-z");
	expect_error(r, err, "unknown option '-z'");
	r = PARSE(&cfg, err, "run", "--kernel");
	expect_error(r, err, "'--kernel' needs a value");
	r = PARSE(&cfg, err, "run", "--kernel", "k", "--memory", "12Q");
	expect_error(r, err, "--memory '12Q' is not a size");
	r = PARSE(&cfg, err, "run", "--kernel", "k", "--memory", "1M");
	expect_error(r, err, "out of range");
	r = PARSE(&cfg, err, "run", "--kernel", "k", "--memory", "2T");
	expect_error(r, err, "out of range");
	r = PARSE(&cfg, err, "run", "--kernel", "k", "--memory", "16385K");
	expect_error(r, err, "multiple of 4K");
	r = PARSE(&cfg, err, "run", "--kernel", "k", "--cpus", "0");
	expect_error(r, err, "--cpus '0'");
	r = PARSE(&cfg, err, "run", "--kernel", "k", "--cpus", "255");
	expect_error(r, err, "--cpus '255'");
	r = PARSE(&cfg, err, "run", "--kernel", "k", "--cpus", "2x");
	expect_error(r, err, "--cpus '2x'");
	r = PARSE(&cfg, err, "run", "--kernel", "k", "--cpus", "-1");
	expect_error(r, err, "--cpus '-1'");
	r = PARSE(&cfg, err, "run", "--kernel", "k", "--on-reboot", "halt");
	expect_error(r, err, "--on-reboot 'halt' is not one of: exit, restart");
	r = PARSE(&cfg, err, "run", "--kernel", "k", "--boot", "efi");
	expect_error(r, err, "--boot 'efi'");
	/* Inside a cluster of short options, the letter is named. */
	r = PARSE(&cfg, err, "run", "-xy");
	expect_error(r, err, "unknown option '-x'");
	r = PARSE(&cfg, err, "run", "-k", "x", "-zk");
	expect_error(r, err, "unknown option '-z'");
	r = PARSE(&cfg, err, "run", "-k", "x", "--frob=3");
	expect_error(r, err, "unknown option '--frob'");
	r = PARSE(&cfg, err, "run", "-k");
	expect_error(r, err, "option '-k' needs a value");
	r = PARSE(&cfg, err, "run", "--kernel", "k", "stray");
	expect_error(r, err, "unexpected argument 'stray'");
}
END_TEST

/* --disk, --net, --balloon: values land in the config; bad ones are named. */
START_TEST(device_options)
{
	struct device_config dev;
	struct blk_config *blk;
	struct net_config *net;
	struct balloon_config *bal;
	char err[256], longname[40], spec[64];

	ck_assert_int_eq(config_parse_class(&virtio_blk_class,
					    "path=a.img,readonly=on,serial=s1,"
					    "cache=writethrough", &dev, err,
					    sizeof(err)), 0);
	blk = dev.cfg;
	ck_assert_ptr_eq(dev.cls, &virtio_blk_class);
	ck_assert_str_eq(blk->path, "a.img");
	ck_assert(blk->readonly);
	ck_assert_int_eq(blk->cache, BLK_CACHE_WRITETHROUGH);
	device_config_free(&dev);
	ck_assert_int_eq(config_parse_class(&virtio_blk_class, "path=,readonly=on",
					    &dev, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "path must be 1 to"));
	ck_assert_int_eq(config_parse_class(&virtio_blk_class, "path=a,cache=maybe",
					    &dev, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "maybe"));
	ck_assert_int_eq(config_parse_class(&virtio_blk_class, "readonly=on",
					    &dev, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "path=FILE is required"));
	ck_assert_int_eq(config_parse_class(&virtio_blk_class, "path=a,queues=3",
					    &dev, err, sizeof(err)), 0);
	ck_assert_uint_eq(((struct blk_config *)dev.cfg)->queues, 3);
	device_config_free(&dev);
	ck_assert_int_eq(config_parse_class(&virtio_blk_class, "path=a,queues=0",
					    &dev, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "queues '0' is not a number from 1 to 8"));
	ck_assert_int_eq(config_parse_class(&virtio_blk_class, "path=a,queues=9",
					    &dev, err, sizeof(err)), -1);
	ck_assert_int_eq(config_parse_class(&virtio_blk_class,
					    "vhost-user=/s,queues=2", &dev, err,
					    sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "queues= is for disks vireo serves"));

	ck_assert_int_eq(config_parse_class(&virtio_net_class,
					    "tap=vt0,mac=02:00:00:00:00:01,"
					    "queues=2,mtu=9000", &dev, err,
					    sizeof(err)), 0);
	net = dev.cfg;
	ck_assert_str_eq(net->tap, "vt0");
	ck_assert_int_eq(net->fd, -1);
	ck_assert_uint_eq(net->queues, 2);
	ck_assert_uint_eq(net->mtu, 9000);
	ck_assert_uint_eq(net->mac[5], 1);
	device_config_free(&dev);
	ck_assert_int_eq(config_parse_class(&virtio_net_class,
					    "tap=vt0,inject=rxdup%5+badcsum%7+"
					    "shortlen%9+linkflap@1000+rxdrop%3",
					    &dev, err, sizeof(err)), 0);
	net = dev.cfg;
	ck_assert(net->rxdup_pct == 5 && net->badcsum_pct == 7 &&
		  net->shortlen_pct == 9 && net->linkflap_ms == 1000 &&
		  net->rxdrop_pct == 3);
	device_config_free(&dev);
	ck_assert_int_eq(config_parse_class(&virtio_net_class,
					    "tap=vt0,inject=linkflap@5", &dev,
					    err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "linkflap@MS"));
	ck_assert_int_eq(config_parse_class(&virtio_net_class,
					    "tap=vt0,inject=rxdup%101", &dev,
					    err, sizeof(err)), -1);
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	snprintf(spec, sizeof(spec), "tap=%s", longname);
	ck_assert_int_eq(config_parse_class(&virtio_net_class, spec, &dev, err,
					    sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "tap name must be 1 to 15"));
	ck_assert_int_eq(config_parse_class(&virtio_net_class, "tap=vt0,mac=zz",
					    &dev, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "mac"));
	ck_assert_int_eq(config_parse_class(&virtio_net_class, "tap=vt0,queues=9",
					    &dev, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "queues"));
	ck_assert_int_eq(config_parse_class(&virtio_net_class, "mtu=1500", &dev,
					    err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "give one of tap=NAME, fd=N, vhost-user=SOCKET or vhost-vdpa="));
	/* inject=: rules joined by +, each checked; not for backends. */
	ck_assert_int_eq(config_parse_class(&virtio_blk_class,
					    "path=x.img,inject=ioerr@3+ioerr%5+ioerr:8-15+reset@9,seed=7",
					    &dev, err, sizeof(err)), 0);
	ck_assert(((struct blk_config *)dev.cfg)->inject.on);
	ck_assert_uint_eq(((struct blk_config *)dev.cfg)->inject.last, 15);
	device_config_free(&dev);
	ck_assert_int_eq(config_parse_class(&virtio_blk_class,
					    "path=x.img,inject=ioerr@0",
					    &dev, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "inject rule 'ioerr@0' is not one of"));
	ck_assert_int_eq(config_parse_class(&virtio_blk_class,
					    "path=x.img,inject=ioerr:9-3",
					    &dev, err, sizeof(err)), -1);
	ck_assert_int_eq(config_parse_class(&virtio_blk_class,
					    "path=x.img,inject=ioerr%101",
					    &dev, err, sizeof(err)), -1);
	ck_assert_int_eq(config_parse_class(&virtio_blk_class,
					    "path=x.img,seed=abc",
					    &dev, err, sizeof(err)), -1);
	ck_assert_int_eq(config_parse_class(&virtio_blk_class,
					    "vhost-user=/s,inject=ioerr@1",
					    &dev, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "inject= is for disks vireo serves"));
	/* vDPA: one backend only; what is the device's is not an option. */
	ck_assert_int_eq(config_parse_class(&virtio_net_class,
					    "vhost-vdpa=/dev/vhost-vdpa-0,mac=02:00:00:00:00:01",
					    &dev, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "own MAC"));
	ck_assert_int_eq(config_parse_class(&virtio_net_class,
					    "vhost-vdpa=/dev/vhost-vdpa-0,tap=t",
					    &dev, err, sizeof(err)), -1);
	ck_assert_int_eq(config_parse_class(&virtio_blk_class,
					    "vhost-vdpa=/dev/vhost-vdpa-0,readonly=on",
					    &dev, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "vDPA device's to choose"));
	ck_assert_int_eq(config_parse_class(&virtio_blk_class,
					    "vhost-vdpa=/dev/vhost-vdpa-0,path=x.img",
					    &dev, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "one of the three"));
	ck_assert_int_eq(config_parse_class(&virtio_blk_class,
					    "vhost-vdpa=/dev/vhost-vdpa-0,cache=unsafe",
					    &dev, err, sizeof(err)), -1);
	ck_assert_int_eq(config_parse_class(&virtio_blk_class,
					    "vhost-vdpa=/dev/vhost-vdpa-0,transport=mmio",
					    &dev, err, sizeof(err)), 0);
	device_config_free(&dev);
	/* Class features by name; unknown ones list what is known. */
	ck_assert_int_eq(config_parse_class(&virtio_net_class,
					    "tap=t,features=-tso,-event_idx",
					    &dev, err, sizeof(err)), 0);
	ck_assert(dev.virtio.no_event_idx);
	ck_assert_uint_eq(dev.virtio.no_features, 0x1980);
	device_config_free(&dev);
	ck_assert_int_eq(config_parse_class(&virtio_net_class,
					    "tap=t,features=-frob", &dev, err,
					    sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "known: event_idx, indirect_desc, "
					  "mrg_rxbuf, tso, csum"));

	ck_assert_int_eq(config_parse_class(&virtio_balloon_class,
					    "deflate_on_oom=on,stats_period=5",
					    &dev, err, sizeof(err)), 0);
	bal = dev.cfg;
	ck_assert(bal->deflate_on_oom);
	ck_assert_uint_eq(bal->stats_period, 5);
	device_config_free(&dev);
	/* The control socket went to the API: the message says where. */
	ck_assert_int_eq(config_parse_class(&virtio_balloon_class,
					    "socket=/tmp/b.sock", &dev, err,
					    sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "--api-sock"));

	/* --device TYPE: any class that takes options. */
	ck_assert_int_eq(config_parse_device("rng,transport=mmio,ring=packed",
					     &dev, err, sizeof(err)), 0);
	ck_assert_ptr_eq(dev.cls, &virtio_rng_class);
	ck_assert_int_eq(dev.virtio.transport, VIRTIO_MMIO);
	ck_assert(dev.virtio.packed);
	device_config_free(&dev);
	ck_assert_int_eq(config_parse_device("blk,path=x.img", &dev, err,
					     sizeof(err)), 0);
	ck_assert_ptr_eq(dev.cls, &virtio_blk_class);
	device_config_free(&dev);
	ck_assert_int_eq(config_parse_device("gpu", &dev, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "unknown device type 'gpu' (known: "
					  "rng, blk, net, balloon)"));
	ck_assert_int_eq(config_parse_device("rng,bogus=1", &dev, err,
					     sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "unknown option 'bogus' (known: "
					  "transport, ring, features, id)"));
}
END_TEST

/* Devices from the command line, in order; the console goes first. */
START_TEST(device_list)
{
	struct vm_config cfg;
	char err[256];

	ck_assert_int_eq(PARSE(&cfg, err, "run", "-k", "k", "--disk", "path=d",
			       "--net", "tap=t0", "--device", "rng",
			       "--console-port", "name=a,file=/tmp/a",
			       "--balloon"), CONFIG_RUN);
	ck_assert_uint_eq(cfg.nr_devices, 5);
	ck_assert_ptr_eq(cfg.devices[0].cls, &virtio_console_class);
	ck_assert_uint_eq(((struct console_config *)cfg.devices[0].cfg)->nr_ports, 2);
	ck_assert_ptr_eq(cfg.devices[1].cls, &virtio_blk_class);
	ck_assert_ptr_eq(cfg.devices[2].cls, &virtio_net_class);
	ck_assert_ptr_eq(cfg.devices[3].cls, &virtio_rng_class);
	ck_assert_ptr_eq(cfg.devices[4].cls, &virtio_balloon_class);
	config_free(&cfg);
	/* --balloon alone, or with options; once only. */
	ck_assert_int_eq(PARSE(&cfg, err, "run", "--balloon", "-k", "k"),
			 CONFIG_RUN);
	ck_assert_ptr_eq(cfg.devices[0].cls, &virtio_balloon_class);
	config_free(&cfg);
	ck_assert_int_eq(PARSE(&cfg, err, "run", "-k", "k", "--balloon",
			       "stats_period=2"), CONFIG_RUN);
	ck_assert_uint_eq(((struct balloon_config *)cfg.devices[0].cfg)->stats_period, 2);
	config_free(&cfg);
	expect_error(PARSE(&cfg, err, "run", "-k", "k", "--balloon", "--balloon"),
		     err, "--balloon may be given once");
	expect_error(PARSE(&cfg, err, "run", "-k", "k", "--device", "console"),
		     err, "unknown device type 'console'");
	expect_error(PARSE(&cfg, err, "run", "-k", "k", "--disk", "path=a",
			   "--disk", "nopath=1"), err, "unknown option 'nopath'");
}
END_TEST

Suite *config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("cli");

	tcase_add_test(tc, defaults);
	tcase_add_test(tc, all_options);
	tcase_add_test(tc, help_and_version);
	tcase_add_test(tc, errors_name_the_problem);
	tcase_add_test(tc, device_options);
	tcase_add_test(tc, device_list);
	suite_add_tcase(s, tc);
	return s;
}
