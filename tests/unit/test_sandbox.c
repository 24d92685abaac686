// SPDX-License-Identifier: GPL-2.0
/*
 * Least privilege: --user parsing, the option checks, and the seccomp
 * filters, each loaded in a forked child that then makes one call.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "unit.h"
#include "vmm/config.h"
#include "vmm/sandbox.h"

enum probe {
	PROBE_OPEN,		/* openat(/dev/null) */
	PROBE_TCP,		/* socket(AF_INET) */
	PROBE_UNIX,		/* socket(AF_UNIX) */
	PROBE_FORK,		/* fork() */
	PROBE_TIOCSTI,		/* type into the terminal */
	PROBE_WRITE,		/* write to a pipe: allowed everywhere */
};

static int probe(enum probe p)
{
	char c = 'x';
	int fds[2], fd;

	switch (p) {
	case PROBE_OPEN:
		fd = open("/dev/null", O_RDONLY);
		return fd >= 0 ? 0 : 1;
	case PROBE_TCP:
		return socket(AF_INET, SOCK_STREAM, 0) >= 0 ? 0 : 1;
	case PROBE_UNIX:
		return socket(AF_UNIX, SOCK_STREAM, 0) >= 0 ? 0 : 1;
	case PROBE_FORK:
		return (int)syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0) > 0 ? 0 : 1;
	case PROBE_TIOCSTI:
		ioctl(0, TIOCSTI, &c);
		return 0;
	case PROBE_WRITE:
		if (pipe(fds) || write(fds[1], &c, 1) != 1)
			return 1;
		return 0;
	}
	return 1;
}

/*
 * In a child: arm the filters (the loop's, as vireo does), add kind's on
 * top unless it is the loop, run the probe. Returns its exit status and
 * what it wrote on stderr.
 */
static int filtered(enum sandbox_kind kind, enum probe p, char *out,
		    size_t outlen)
{
	int pfd[2], st;
	pid_t pid;
	ssize_t n;

	ck_assert_int_eq(pipe(pfd), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct sandbox_opts o = { .seccomp = true };
		char err[256];
		bool parent;
		int status;

		dup2(pfd[1], STDERR_FILENO);
		if (sandbox_setup(&o, &parent, &status, err, sizeof(err)) ||
		    sandbox_lockdown(err, sizeof(err)))
			_exit(90);
		if (kind != SB_LOOP)
			sandbox_enter(kind);
		_exit(probe(p));
	}
	close(pfd[1]);
	n = read(pfd[0], out, outlen - 1);
	out[n > 0 ? n : 0] = '\0';
	close(pfd[0]);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 1000 + WTERMSIG(st);
}

static void expect_denied(enum sandbox_kind kind, enum probe p,
			  const char *call)
{
	char out[1024], want[128];
	int rc = filtered(kind, p, out, sizeof(out));

	snprintf(want, sizeof(want), "the %s thread made the system call %s ",
		 sandbox_kind_name(kind), call);
	ck_assert_msg(rc == 159 && strstr(out, want),
		      "%s/%s: rc %d, '%s'", sandbox_kind_name(kind), call, rc,
		      out);
}

static void expect_allowed(enum sandbox_kind kind, enum probe p)
{
	char out[1024];
	int rc = filtered(kind, p, out, sizeof(out));

	ck_assert_msg(rc == 0, "%s probe %d: rc %d, '%s'",
		      sandbox_kind_name(kind), p, rc, out);
}

START_TEST(filters_per_thread_kind)
{
	unsigned int k;

	/* The loop builds machines: files and TCP sockets, never fork. */
	expect_allowed(SB_LOOP, PROBE_OPEN);
	expect_allowed(SB_LOOP, PROBE_TCP);
	expect_denied(SB_LOOP, PROBE_FORK, "clone");
	/* A vCPU opens nothing and reaches no network. */
	expect_denied(SB_VCPU, PROBE_OPEN, "openat");
	expect_denied(SB_VCPU, PROBE_TCP, "socket");
	expect_allowed(SB_VCPU, PROBE_UNIX);
	expect_denied(SB_WORKER, PROBE_OPEN, "openat");
	expect_denied(SB_WORKER, PROBE_TCP, "socket");
	/* The migration sender opens its TCP stream. */
	expect_allowed(SB_MIGRATE, PROBE_TCP);
	for (k = 0; k < SB_NR_KINDS; k++) {
		expect_allowed(k, PROBE_WRITE);
		expect_denied(k, PROBE_TIOCSTI, "ioctl");
	}
}
END_TEST

START_TEST(user_option)
{
	struct sandbox_opts o = { 0 };
	char err[256];

	ck_assert_int_eq(sandbox_parse_user("65534:65533", &o, err,
					    sizeof(err)), 0);
	ck_assert(o.user && o.uid == 65534 && o.gid == 65533);
	ck_assert_int_eq(sandbox_parse_user("0:0", &o, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "leave root"));
	ck_assert_int_eq(sandbox_parse_user("65534", &o, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "UID:GID"));
	ck_assert_int_eq(sandbox_parse_user("no-such-user-x:1", &o, err,
					    sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "no user 'no-such-user-x'"));
	ck_assert_int_eq(sandbox_parse_user("1:no-such-group-x", &o, err,
					    sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "no group 'no-such-group-x'"));
	if (sandbox_parse_user("root:1", &o, err, sizeof(err)) != -1 ||
	    !strstr(err, "leave root"))
		ck_abort_msg("root by name: '%s'", err);
}
END_TEST

START_TEST(options_in_config)
{
	struct vm_config cfg;
	char err[512];
	enum config_result r;

	r = config_parse(4, (char *[]){ "vireo", "run", "--kernel", "k", NULL },
			 &cfg, err, sizeof(err));
	ck_assert_int_eq(r, CONFIG_RUN);
	ck_assert(cfg.sandbox.seccomp && !cfg.sandbox.user && !cfg.sandbox.jail);
	config_free(&cfg);
	r = config_parse(10, (char *[]){ "vireo", "run", "--kernel", "k",
					 "--seccomp", "off", "--user",
					 "1000:1000", "--jail", "/srv/j", NULL },
			 &cfg, err, sizeof(err));
	ck_assert_int_eq(r, CONFIG_RUN);
	ck_assert(!cfg.sandbox.seccomp && cfg.sandbox.user &&
		  cfg.sandbox.uid == 1000 && !strcmp(cfg.sandbox.jail, "/srv/j"));
	config_free(&cfg);
	r = config_parse(6, (char *[]){ "vireo", "run", "--kernel", "k",
					"--seccomp", "maybe", NULL },
			 &cfg, err, sizeof(err));
	ck_assert_int_eq(r, CONFIG_ERROR);
	ck_assert_ptr_nonnull(strstr(err, "--seccomp 'maybe' is not one of: on, off"));
	r = config_parse(8, (char *[]){ "vireo", "run", "--kernel", "k",
					"--jail", "/j", "--on-reboot",
					"restart", NULL },
			 &cfg, err, sizeof(err));
	ck_assert_int_eq(r, CONFIG_ERROR);
	ck_assert_ptr_nonnull(strstr(err, "--on-reboot restart cannot go with"));
}
END_TEST

Suite *sandbox_suite(void)
{
	Suite *s = suite_create("sandbox");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, filters_per_thread_kind);
	tcase_add_test(tc, user_option);
	tcase_add_test(tc, options_in_config);
	suite_add_tcase(s, tc);
	return s;
}
