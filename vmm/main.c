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
#include "util.h"

#define EXIT_USAGE	2
#define EXIT_PANIC	3
#define EXIT_FAULT	4

struct runner {
	struct machine *m;		/* the running machine, if any */
	struct ev_handler sig_h;
	int last_signal;
};

static void on_quit(void *opaque)
{
	struct runner *r = opaque;

	if (r->m)
		vm_request_exit(&r->m->vm, VM_EXIT_USER, "quit from the console");
}

static void on_signal(struct ev_handler *h, uint32_t events)
{
	struct runner *r = container_of(h, struct runner, sig_h);
	struct signalfd_siginfo si;

	(void)events;
	if (read(h->fd, &si, sizeof(si)) != sizeof(si))
		return;
	if (si.ssi_signo == SIGWINCH) {
		if (r->m)
			machine_resize(r->m);
		return;
	}
	r->last_signal = (int)si.ssi_signo;
	if (r->m)
		vm_request_exit(&r->m->vm, VM_EXIT_SIGNAL, "stopped by %s",
				strsignal((int)si.ssi_signo));
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
	case VM_EXIT_SIGNAL: {
		char where[512];

		vm_vcpu_positions(&m->vm, where, sizeof(where));
		pr_err("%s; %s", m->vm.exit_detail, where);
		return 128 + r->last_signal;
	}
	default:
		pr_err("%s", m->vm.exit_detail);
		return 1;
	}
}

int main(int argc, char **argv)
{
	static struct machine machine;
	struct runner runner = { 0 };
	struct vm_config cfg;
	struct console con;
	struct ev_loop loop;
	char err[1024];
	int status, ret;

	switch (config_parse(argc, argv, &cfg, err, sizeof(err))) {
	case CONFIG_HELP:
		fputs(config_usage(), stdout);
		return 0;
	case CONFIG_VERSION:
		printf("vireo %s\n", VIREO_VERSION);
		return 0;
	case CONFIG_ERROR:
		pr_err("%s", err);
		return EXIT_USAGE;
	case CONFIG_RUN:
		break;
	}

	if (ev_init(&loop) || setup_signals(&loop, &runner))
		die("cannot set up the event loop: %s", strerror(errno));
	ret = console_init(&con, &loop, STDIN_FILENO, STDOUT_FILENO);
	if (ret)
		die("cannot set up the console: %s", strerror(-ret));
	console_set_quit(&con, on_quit, &runner);

	for (;;) {
		ret = machine_create(&machine, &cfg, &con, &loop, err, sizeof(err));
		if (ret) {
			console_fini(&con);
			pr_err("%s", err);
			config_free(&cfg);
			return 1;
		}
		runner.m = &machine;
		machine_run(&machine);
		runner.m = NULL;
		if (machine.vm.exit_reason == VM_EXIT_REBOOT &&
		    cfg.on_reboot == ON_REBOOT_RESTART) {
			if (!runner.last_signal) {
				machine_destroy(&machine);
				continue;
			}
			/*
			 * A stop signal that came while the guest was already
			 * rebooting found the exit reason taken: it still
			 * stops vireo instead of being lost to the restart.
			 */
			machine.vm.exit_reason = VM_EXIT_SIGNAL;
			snprintf(machine.vm.exit_detail,
				 sizeof(machine.vm.exit_detail), "stopped by %s",
				 strsignal(runner.last_signal));
		}
		break;
	}
	console_fini(&con);
	status = exit_status(&machine, &runner);
	machine_destroy(&machine);
	config_free(&cfg);
	ev_fini(&loop);
	return status;
}
