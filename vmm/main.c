// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "config.h"
#include "console.h"
#include "loop.h"
#include "machine.h"
#include "migrate.h"
#include "sandbox.h"
#include "vmm.h"
#include "util.h"

int ctl_main(int argc, char **argv);

#define EXIT_USAGE	2
#define EXIT_PANIC	3
#define EXIT_FAULT	4

struct runner {
	struct vmm *v;
	struct ev_handler sig_h;
	int last_signal;
};

static struct machine *running(struct runner *r)
{
	return r->v && r->v->built ? &r->v->machine : NULL;
}

static void on_quit(void *opaque)
{
	struct runner *r = opaque;

	if (running(r))
		vm_request_exit(&running(r)->vm, VM_EXIT_USER,
				"quit from the console");
	else if (r->v) {
		r->v->quit = true;
		r->v->loop->stop = true;
	}
}

static void on_signal(struct ev_handler *h, uint32_t events)
{
	struct runner *r = container_of(h, struct runner, sig_h);
	struct signalfd_siginfo si;

	(void)events;
	if (read(h->fd, &si, sizeof(si)) != sizeof(si))
		return;
	if (si.ssi_signo == SIGWINCH) {
		if (running(r))
			machine_resize(running(r));
		return;
	}
	r->last_signal = (int)si.ssi_signo;
	if (running(r)) {
		char what[768];

		/* Before the vCPUs are stopped: what they were doing. */
		vm_vcpu_activity(&running(r)->vm, what, sizeof(what));
		vm_request_exit(&running(r)->vm, VM_EXIT_SIGNAL, "stopped by %s "
				"(%s)", strsignal((int)si.ssi_signo), what);
	} else if (r->v) {
		r->v->quit = true;
		r->v->loop->stop = true;
	}
}

static int setup_signals(struct ev_loop *loop, struct runner *r)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGWINCH);
	sigaddset(&set, SIGUSR1);	/* vCPU kicks; unblocked in vCPUs */
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	sigdelset(&set, SIGUSR1);
	signal(SIGPIPE, SIG_IGN);
	r->sig_h.fn = on_signal;
	r->sig_h.fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (r->sig_h.fd < 0)
		return -errno;
	return ev_add(loop, &r->sig_h, EPOLLIN);
}

/* Turn the way the guest ended into vireo's exit status. */
static int exit_status(struct machine *m, const struct runner *r)
{
	switch (m->vm.exit_reason) {
	case VM_EXIT_POWEROFF:
	case VM_EXIT_REBOOT:
	case VM_EXIT_USER:
		return 0;
	case VM_EXIT_PANIC:
		pr_err("%s", m->vm.exit_detail);
		return EXIT_PANIC;
	case VM_EXIT_FAULT:
		pr_err("%s", m->vm.exit_detail);
		return EXIT_FAULT;
	case VM_EXIT_MIGRATED:
		pr_err("%s", m->vm.exit_detail);
		return 0;
	case VM_EXIT_SIGNAL: {
		char where[512];
		unsigned int i;

		/* A line per vCPU: each is long (pr_err's lines are not). */
		pr_err("%s; where each vCPU was:", m->vm.exit_detail);
		for (i = 0; i < m->vm.nr_vcpus; i++) {
			vm_vcpu_position(&m->vm, i, where, sizeof(where));
			pr_err("  %s", where);
		}
		machine_queue_report(m);
		return 128 + r->last_signal;
	}
	default:
		pr_err("%s", m->vm.exit_detail);
		return 1;
	}
}

/* The restore options of 'vireo restore --snapshot DIR'. */
static int restore_opts_from(const struct vm_config *cfg,
			     struct restore_opts *o, char *paths, size_t plen,
			     char *err, size_t errlen)
{
	unsigned int i;
	size_t half = plen / 2;

	memset(o, 0, sizeof(*o));
	if (cfg->snapshot &&
	    (snprintf(paths, half, "%s/state", cfg->snapshot) >= (int)half ||
	     snprintf(paths + half, half, "%s/mem", cfg->snapshot) >= (int)half)) {
		errf(err, errlen, "--snapshot: the path is too long");
		return -1;
	}
	o->state_path = paths;
	o->mem_path = paths + half;
	o->resume = !cfg->restore_paused;
	o->track_dirty = cfg->track_dirty;
	o->nr_overrides = cfg->nr_net_overrides;
	for (i = 0; i < cfg->nr_net_overrides; i++) {
		memcpy(o->overrides[i].id, cfg->net_overrides[i].id,
		       sizeof(o->overrides[i].id));
		memcpy(o->overrides[i].tap, cfg->net_overrides[i].tap,
		       sizeof(o->overrides[i].tap));
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct vmm v;
	struct runner runner = { 0 };
	struct restore_opts ro;
	struct vm_config cfg;
	enum config_result cr;
	struct console con;
	struct ev_loop loop;
	char err[1024], paths[8192];
	int status = 0, ret;

	cr = config_parse(argc, argv, &cfg, err, sizeof(err));
	switch (cr) {
	case CONFIG_HELP:
		fputs(config_usage(), stdout);
		return 0;
	case CONFIG_VERSION:
		printf("vireo %s\n", VIREO_VERSION);
		return 0;
	case CONFIG_CTL:
		return ctl_main(argc - 1, argv + 1);
	case CONFIG_ERROR:
		pr_err("%s", err);
		return EXIT_USAGE;
	case CONFIG_RUN:
	case CONFIG_RESTORE:
		break;
	}

	{
		bool parent_done;

		if (sandbox_setup(&cfg.sandbox, &parent_done, &status, err,
				  sizeof(err))) {
			pr_err("%s", err);
			return 1;
		}
		if (parent_done) {
			config_free(&cfg);
			return status;
		}
	}
	if (cfg.driver_log) {
		if (viol_open(cfg.driver_log, cfg.strict, err, sizeof(err))) {
			pr_err("%s", err);
			return EXIT_USAGE;
		}
	} else if (cfg.strict) {
		viol_setup(NULL, true);
	}
	if (ev_init(&loop) || setup_signals(&loop, &runner))
		die("cannot set up the event loop: %s", strerror(errno));
	ret = console_init(&con, &loop, STDIN_FILENO, STDOUT_FILENO);
	if (ret)
		die("cannot set up the console: %s", strerror(-ret));
	console_set_quit(&con, on_quit, &runner);
	vmm_init(&v, &cfg, &con, &loop);
	runner.v = &v;

	ret = 0;
	if (cfg.api_sock)
		ret = vmm_api(&v, cfg.api_sock, err, sizeof(err));
	if (!ret && cfg.config_file)
		ret = vmm_config_file(&v, cfg.config_file, err, sizeof(err));
	if (!ret && cr == CONFIG_RESTORE) {
		ret = restore_opts_from(&cfg, &ro, paths, sizeof(paths), err,
					sizeof(err));
		if (!ret && cfg.incoming)
			ret = vmm_incoming(&v, cfg.incoming, &ro, err, sizeof(err));
		else if (!ret)
			ret = vmm_restore(&v, &ro, err, sizeof(err));
	} else if (!ret && cfg.kernel) {
		ret = vmm_start(&v, err, sizeof(err));
	}
	if (ret) {
		console_fini(&con);
		pr_err("%s", err);
		vmm_fini(&v);
		viol_close();
		config_free(&cfg);
		return 1;
	}

	for (;;) {
		vmm_run(&v);
		if (!v.built)
			break;		/* stopped before any VM ran */
		if (v.machine.vm.exit_reason == VM_EXIT_REBOOT &&
		    cfg.on_reboot == ON_REBOOT_RESTART) {
			if (!runner.last_signal) {
				mig_free(v.mig);
				v.mig = NULL;
				vmm_machine_ending(&v);
				machine_destroy(&v.machine);
				v.built = false;
				ret = vmm_start(&v, err, sizeof(err));
				if (ret) {
					pr_err("%s", err);
					status = 1;
					break;
				}
				continue;
			}
			/*
			 * A stop signal that came while the guest was already
			 * rebooting found the exit reason taken: it still
			 * stops vireo instead of being lost to the restart.
			 */
			v.machine.vm.exit_reason = VM_EXIT_SIGNAL;
			snprintf(v.machine.vm.exit_detail,
				 sizeof(v.machine.vm.exit_detail), "stopped by %s",
				 strsignal(runner.last_signal));
		}
		break;
	}
	console_fini(&con);
	if (v.built)
		status = exit_status(&v.machine, &runner);
	else if (runner.last_signal)
		status = 128 + runner.last_signal;
	else if (v.lockdown_failed)
		status = 1;
	vmm_fini(&v);
	viol_close();		/* the last driver-log lines out */
	config_free(&cfg);
	ev_fini(&loop);
	return status;
}
