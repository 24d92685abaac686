// SPDX-License-Identifier: GPL-2.0
/*
 * Jail, user switch and per-thread seccomp filters (see sandbox.h).
 *
 * The filters list what each kind of thread calls; anything else traps
 * (SIGSYS) and vireo stops with one line naming the system call and the
 * thread, never silently. A vCPU emulates device registers and activates
 * queues itself, so it does most of what the loop does except opening
 * files and creating listening sockets; helper threads copy bytes and
 * (re)connect unix sockets; the migration sender also opens its TCP
 * socket. Filters stack: a thread started after arming gets its creator's
 * filter and its own, so each list includes what the threads that kind
 * starts need at their start (clone, set_robust_list, rseq).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/sched.h>
#include <pwd.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sandbox.h"
#include "util.h"

#define SB_MAX_NR 512

atomic_bool sandbox_armed;
_Thread_local bool sandbox_have_filter;
bool sandbox_selftest_early;
static _Thread_local const char *thread_kind = "unfiltered";

static struct sandbox_opts opts;
static bool locked;
static bool caps_drop;		/* each thread drops its capabilities */
static scmp_filter_ctx filters[SB_NR_KINDS];
static const char *sys_names[SB_MAX_NR];

static const char *const kind_names[SB_NR_KINDS] = {
	[SB_LOOP] = "event-loop",
	[SB_VCPU] = "vcpu",
	[SB_WORKER] = "worker",
	[SB_MIGRATE] = "migration",
	[SB_IO] = "iothread",
};

const char *sandbox_kind_name(enum sandbox_kind kind)
{
	return kind < SB_NR_KINDS ? kind_names[kind] : "?";
}

bool sandbox_locked(void)
{
	return locked;
}

/* Every thread: memory, locks, signals, time, plain I/O on its fds. */
static const int base_calls[] = {
	SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(readv), SCMP_SYS(writev),
	SCMP_SYS(pread64), SCMP_SYS(pwrite64), SCMP_SYS(preadv),
	SCMP_SYS(pwritev), SCMP_SYS(close), SCMP_SYS(lseek), SCMP_SYS(fstat),
	SCMP_SYS(newfstatat), SCMP_SYS(statx), SCMP_SYS(fcntl), SCMP_SYS(dup),
	SCMP_SYS(futex), SCMP_SYS(rt_sigprocmask), SCMP_SYS(rt_sigreturn),
	SCMP_SYS(rt_sigtimedwait), SCMP_SYS(sigaltstack), SCMP_SYS(mmap),
	SCMP_SYS(munmap), SCMP_SYS(mprotect), SCMP_SYS(madvise),
	SCMP_SYS(mremap), SCMP_SYS(brk), SCMP_SYS(exit), SCMP_SYS(exit_group),
	SCMP_SYS(gettid), SCMP_SYS(getpid), SCMP_SYS(tgkill),
	SCMP_SYS(clock_gettime), SCMP_SYS(clock_nanosleep),
	SCMP_SYS(gettimeofday), SCMP_SYS(nanosleep), SCMP_SYS(sched_yield),
	SCMP_SYS(sched_getaffinity), SCMP_SYS(getrandom),
	SCMP_SYS(set_robust_list), SCMP_SYS(rseq), SCMP_SYS(restart_syscall),
	SCMP_SYS(seccomp), SCMP_SYS(poll), SCMP_SYS(ppoll),
	SCMP_SYS(epoll_wait), SCMP_SYS(epoll_pwait), SCMP_SYS(getuid),
	SCMP_SYS(geteuid), SCMP_SYS(getgid), SCMP_SYS(getegid),
	SCMP_SYS(capget),
};

/* Devices at work: ioctls, io_uring, eventfds, unix sockets. */
static const int io_calls[] = {
	SCMP_SYS(eventfd2), SCMP_SYS(epoll_ctl), SCMP_SYS(io_uring_enter),
	SCMP_SYS(fallocate), SCMP_SYS(fsync), SCMP_SYS(fdatasync),
	SCMP_SYS(sync_file_range), SCMP_SYS(ftruncate), SCMP_SYS(sendmsg),
	SCMP_SYS(recvmsg), SCMP_SYS(sendto), SCMP_SYS(recvfrom),
	SCMP_SYS(sendmmsg), SCMP_SYS(recvmmsg), SCMP_SYS(shutdown),
	SCMP_SYS(getsockopt), SCMP_SYS(setsockopt), SCMP_SYS(connect),
	SCMP_SYS(getsockname), SCMP_SYS(getpeername), SCMP_SYS(dup3),
	SCMP_SYS(timerfd_settime), SCMP_SYS(timerfd_gettime), SCMP_SYS(pipe2),
	SCMP_SYS(accept4), SCMP_SYS(accept),
};

/* The loop also builds machines: files, listening sockets, io_uring. */
static const int loop_calls[] = {
	SCMP_SYS(openat), SCMP_SYS(open), SCMP_SYS(bind), SCMP_SYS(listen),
	SCMP_SYS(unlink), SCMP_SYS(unlinkat), SCMP_SYS(rename),
	SCMP_SYS(renameat), SCMP_SYS(renameat2), SCMP_SYS(mkdir),
	SCMP_SYS(mkdirat), SCMP_SYS(memfd_create), SCMP_SYS(flock),
	SCMP_SYS(fchmod), SCMP_SYS(io_uring_setup), SCMP_SYS(io_uring_register),
	SCMP_SYS(signalfd4), SCMP_SYS(timerfd_create),
	SCMP_SYS(epoll_create1), SCMP_SYS(uname), SCMP_SYS(readlink),
	SCMP_SYS(readlinkat), SCMP_SYS(getcwd), SCMP_SYS(sysinfo),
	SCMP_SYS(prlimit64), SCMP_SYS(statfs), SCMP_SYS(fstatfs),
	SCMP_SYS(fadvise64), SCMP_SYS(getdents64), SCMP_SYS(access),
	SCMP_SYS(faccessat), SCMP_SYS(faccessat2), SCMP_SYS(umask),
	SCMP_SYS(sched_setaffinity), SCMP_SYS(copy_file_range),
	SCMP_SYS(sendfile), SCMP_SYS(splice), SCMP_SYS(mincore),
	SCMP_SYS(fsetxattr), SCMP_SYS(fgetxattr),
};

/* The migration sender opens its stream and its memory file. */
static const int migrate_calls[] = {
	SCMP_SYS(openat), SCMP_SYS(memfd_create),
};

static int allow_list(scmp_filter_ctx f, const int *calls, size_t n)
{
	size_t i;
	int ret;

	for (i = 0; i < n; i++) {
		if (calls[i] < 0)
			continue;	/* not on this architecture */
		ret = seccomp_rule_add(f, SCMP_ACT_ALLOW, calls[i], 0);
		if (ret)
			return ret;
	}
	return 0;
}

static int allow_socket(scmp_filter_ctx f, bool inet)
{
	int ret = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
				   SCMP_A0(SCMP_CMP_EQ, AF_UNIX));

	if (!ret && inet)
		ret = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
				       SCMP_A0(SCMP_CMP_EQ, AF_INET));
	if (!ret && inet)
		ret = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
				       SCMP_A0(SCMP_CMP_EQ, AF_INET6));
	return ret;
}

/* Rules every kind shares that look at arguments. */
static int common_rules(scmp_filter_ctx f)
{
	static const int prctl_ops[] = {
		PR_SET_NAME, PR_GET_NAME, PR_SET_NO_NEW_PRIVS,
		PR_GET_NO_NEW_PRIVS, PR_SET_SECCOMP, PR_GET_SECCOMP,
	};
	size_t i;
	int ret;

	/* Threads only: no fork, no new namespaces. */
	ret = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
			       SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD,
				       CLONE_THREAD));
	/* clone3's flags are behind a pointer: glibc falls back to clone. */
	if (!ret)
		ret = seccomp_rule_add(f, SCMP_ACT_ERRNO(ENOSYS),
				       SCMP_SYS(clone3), 0);
	for (i = 0; !ret && i < ARRAY_SIZE(prctl_ops); i++)
		ret = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1,
				       SCMP_A0(SCMP_CMP_EQ,
					       (scmp_datum_t)prctl_ops[i]));
	return ret;
}

/* Every ioctl but TIOCSTI (typing into the terminal vireo runs on). */
static int allow_ioctl(scmp_filter_ctx f)
{
	return seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
				SCMP_A1(SCMP_CMP_NE, TIOCSTI));
}

static scmp_filter_ctx build_filter(enum sandbox_kind kind)
{
	scmp_filter_ctx f = seccomp_init(SCMP_ACT_TRAP);
	int ret;

	if (!f)
		return NULL;
	ret = common_rules(f);
	if (!ret)
		ret = allow_list(f, base_calls, ARRAY_SIZE(base_calls));
	if (!ret)
		ret = allow_list(f, io_calls, ARRAY_SIZE(io_calls));
	if (!ret)
		ret = allow_ioctl(f);
	if (!ret)
		ret = allow_socket(f, kind == SB_LOOP || kind == SB_MIGRATE);
	if (!ret && kind == SB_LOOP)
		ret = allow_list(f, loop_calls, ARRAY_SIZE(loop_calls));
	/* A restarted machine sets its vCPU kick handler again. */
	if (!ret && kind == SB_LOOP)
		ret = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(rt_sigaction),
				       1, SCMP_A0(SCMP_CMP_NE, SIGSYS));
	if (!ret && kind == SB_MIGRATE)
		ret = allow_list(f, migrate_calls, ARRAY_SIZE(migrate_calls));
	if (ret) {
		seccomp_release(f);
		return NULL;
	}
	return f;
}

static size_t put_str(char *buf, size_t at, size_t len, const char *s)
{
	while (*s && at + 1 < len)
		buf[at++] = *s++;
	return at;
}

static size_t put_num(char *buf, size_t at, size_t len, long v)
{
	char tmp[24];
	int n = 0;

	if (v < 0) {
		at = put_str(buf, at, len, "-");
		v = -v;
	}
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v && n < (int)sizeof(tmp));
	while (n && at + 1 < len)
		buf[at++] = tmp[--n];
	return at;
}

/* SIGSYS from a filter: name the call and the thread, then stop. */
static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
	char msg[512];
	size_t n = 0;
	int nr = si->si_syscall;

	(void)sig;
	(void)uc;
	n = put_str(msg, n, sizeof(msg), "\r\nvireo: seccomp: the ");
	n = put_str(msg, n, sizeof(msg), thread_kind);
	n = put_str(msg, n, sizeof(msg), " thread made the system call ");
	n = put_str(msg, n, sizeof(msg),
		    nr >= 0 && nr < SB_MAX_NR && sys_names[nr] ?
		    sys_names[nr] : "?");
	n = put_str(msg, n, sizeof(msg), " (");
	n = put_num(msg, n, sizeof(msg), nr);
	n = put_str(msg, n, sizeof(msg), "), which its filter does not "
		    "allow; vireo stops. This is a bug in vireo: please report "
		    "it (--seccomp=off runs without the filters)\n");
	if (write(STDERR_FILENO, msg, n) < 0)
		n = 0;
	_exit(128 + SIGSYS);
}

/*
 * Without --user, once the machine is built, vireo still opens files it
 * is asked to write (snapshots, a migration's, logs) and connects to
 * sockets (vhost-user backends), wherever they are, and a vDPA device
 * that pins guest RAM maps it again at each driver reset (IPC_LOCK, past
 * RLIMIT_MEMLOCK): those rights stay, every other capability goes.
 */
#define KEEP_CAPS ((1ULL << CAP_DAC_OVERRIDE) | \
		   (1ULL << CAP_DAC_READ_SEARCH) | (1ULL << CAP_FOWNER) | \
		   (1ULL << CAP_IPC_LOCK))

/*
 * This thread's capabilities (each thread has its own) down to KEEP_CAPS:
 * effective, permitted, inheritable, bounding and ambient. A thread
 * created after it inherits the result and finds nothing to do. 0 or
 * -errno.
 */
static int drop_caps(void)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct d[2];
	uint64_t have;
	int c, i;

	if (syscall(SYS_capget, &h, d))
		return -errno;
	have = 0;
	for (i = 0; i < 2; i++)
		have |= (uint64_t)(d[i].effective | d[i].permitted |
				   d[i].inheritable) << (32 * i);
	if (!(have & ~KEEP_CAPS))
		return 0;	/* an ordinary user, or done (inherited) */
	/* The bounding set too, where this thread may change it. */
	for (c = 0; (d[0].effective & (1U << CAP_SETPCAP)) && c <= CAP_LAST_CAP;
	     c++)
		if (!(KEEP_CAPS & (1ULL << c)) &&
		    prctl(PR_CAPBSET_DROP, c, 0, 0, 0) && errno != EINVAL)
			return -errno;
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	for (i = 0; i < 2; i++) {
		uint32_t keep = (uint32_t)(KEEP_CAPS >> (32 * i));

		d[i].effective &= keep;
		d[i].permitted &= keep;
		d[i].inheritable = 0;
	}
	return syscall(SYS_capset, &h, d) ? -errno : 0;
}

void sandbox_enter(enum sandbox_kind kind)
{
	const char *test = getenv("VIREO_SECCOMP_SELFTEST");
	int ret;

	sandbox_have_filter = true;
	if (caps_drop && (ret = drop_caps())) {
		pr_err("cannot drop the capabilities vireo no longer needs: %s; "
		       "vireo stops", strerror(-ret));
		_exit(1);
	}
	if (!opts.seccomp || kind >= SB_NR_KINDS || !filters[kind])
		return;
	thread_kind = kind_names[kind];
	if (seccomp_load(filters[kind])) {
		pr_err("seccomp: cannot load the %s thread's filter; vireo "
		       "stops (--seccomp=off runs without the filters)",
		       kind_names[kind]);
		_exit(1);
	}
	/* Tests: this kind of thread makes a call no filter allows. */
	if (test && !strcmp(test, kind_names[kind]))
		syscall(SYS_syslog, 10, NULL, 0);
}

void sandbox_early(enum sandbox_kind kind)
{
	/* (Not armed: not locked down yet, with the filters on.) */
	if (kind != SB_VCPU || !opts.seccomp)
		return;
	pr_err("seccomp selftest: a vCPU ran the guest before vireo was "
	       "locked down");
	_exit(158);
}

/* Names from /etc/passwd and /etc/group (a static vireo has no NSS). */
static bool lookup_id(const char *file, const char *name, unsigned int *id)
{
	FILE *f = fopen(file, "re");
	bool found = false;

	if (!f)
		return false;
	if (!strcmp(file, "/etc/passwd")) {
		struct passwd *pw;

		while (!found && (pw = fgetpwent(f)))
			if (!strcmp(pw->pw_name, name)) {
				*id = pw->pw_uid;
				found = true;
			}
	} else {
		struct group *gr;

		while (!found && (gr = fgetgrent(f)))
			if (!strcmp(gr->gr_name, name)) {
				*id = gr->gr_gid;
				found = true;
			}
	}
	fclose(f);
	return found;
}

int sandbox_parse_user(const char *s, struct sandbox_opts *o, char *err,
		       size_t errlen)
{
	char name[256], *end;
	const char *colon = strchr(s, ':');
	unsigned long v;
	size_t len;

	if (!colon || colon == s || !colon[1] ||
	    (size_t)(colon - s) >= sizeof(name) || strlen(colon + 1) >= sizeof(name)) {
		errf(err, errlen, "--user '%s': UID:GID, e.g. 65534:65534 or "
		     "nobody:nogroup", s);
		return -1;
	}
	len = (size_t)(colon - s);
	memcpy(name, s, len);
	name[len] = '\0';
	errno = 0;
	v = strtoul(name, &end, 10);
	if (!*end && !errno && v < 0xffffffffUL) {
		o->uid = (uid_t)v;
	} else {
		unsigned int id;

		if (!lookup_id("/etc/passwd", name, &id)) {
			errf(err, errlen, "--user '%s': no user '%s' in "
			     "/etc/passwd", s, name);
			return -1;
		}
		o->uid = (uid_t)id;
	}
	errno = 0;
	v = strtoul(colon + 1, &end, 10);
	if (!*end && !errno && v < 0xffffffffUL) {
		o->gid = (gid_t)v;
	} else {
		unsigned int id;

		if (!lookup_id("/etc/group", colon + 1, &id)) {
			errf(err, errlen, "--user '%s': no group '%s' in "
			     "/etc/group", s, colon + 1);
			return -1;
		}
		o->gid = (gid_t)id;
	}
	if (o->uid == 0) {
		errf(err, errlen, "--user '%s': the point is to leave root: "
		     "give an unprivileged user", s);
		return -1;
	}
	o->user = true;
	return 0;
}

/* The parent outside the PID namespace: pass on signals, wait. */
static pid_t jail_child;

static void forward_signal(int sig)
{
	if (jail_child > 0)
		kill(jail_child, sig);
}

static int wait_jailed(pid_t child)
{
	static const int fwd[] = { SIGTERM, SIGINT, SIGHUP, SIGWINCH };
	struct sigaction sa = { .sa_handler = forward_signal };
	unsigned int i;
	int st;

	jail_child = child;
	for (i = 0; i < ARRAY_SIZE(fwd); i++)
		sigaction(fwd[i], &sa, NULL);
	while (waitpid(child, &st, 0) < 0)
		if (errno != EINTR)
			return 1;
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	return WIFSIGNALED(st) ? 128 + WTERMSIG(st) : 1;
}

static int jail_prepare(const char *dir, char *err, size_t errlen)
{
	struct stat st;

	if (stat(dir, &st) || !S_ISDIR(st.st_mode)) {
		errf(err, errlen, "--jail %s: %s", dir,
		     errno && !S_ISDIR(st.st_mode) ? strerror(errno) :
		     "not a directory");
		return -1;
	}
	if (unshare(CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWPID)) {
		errf(err, errlen, "--jail %s: cannot make new mount, IPC and "
		     "PID namespaces: %s (a jail needs root, or CAP_SYS_ADMIN)",
		     dir, strerror(errno));
		return -1;
	}
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
	    mount(dir, dir, NULL, MS_BIND | MS_REC, NULL)) {
		errf(err, errlen, "--jail %s: cannot bind-mount the jail "
		     "directory: %s", dir, strerror(errno));
		return -1;
	}
	return 0;
}

int sandbox_setup(const struct sandbox_opts *o, bool *parent_done,
		  int *status, char *err, size_t errlen)
{
	const char *test = getenv("VIREO_SECCOMP_SELFTEST");
	pid_t child;

	opts = *o;
	*parent_done = false;
	sandbox_selftest_early = test && !strcmp(test, "early");
	if (!o->seccomp)
		pr_err("warning: --seccomp=off: vireo runs without system call "
		       "filters; a guest that takes over a device emulator "
		       "can make any system call vireo's user can. For "
		       "debugging only");
	if (!o->jail)
		return 0;
	if (jail_prepare(o->jail, err, errlen))
		return -1;
	fflush(NULL);
	child = fork();
	if (child < 0) {
		errf(err, errlen, "--jail: cannot fork into the PID namespace: "
		     "%s", strerror(errno));
		return -1;
	}
	if (child > 0) {
		*parent_done = true;
		*status = wait_jailed(child);
		return 0;
	}
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	return 0;
}

/*
 * DIR (a mount point of its own since jail_prepare) becomes /: pivot_root
 * and the old root detached. Where / is the initramfs (rootfs, which
 * cannot be pivoted away from) DIR is moved over / and chrooted into
 * instead, as switch_root does; no filter allows chroot afterwards.
 */
static int enter_jail(const char *dir, char *err, size_t errlen)
{
	if (chdir(dir))
		goto fail;
	if (syscall(SYS_pivot_root, ".", ".") == 0) {
		if (umount2(".", MNT_DETACH) || chdir("/"))
			goto fail;
		return 0;
	}
	if (errno != EINVAL || mount(".", "/", NULL, MS_MOVE, NULL) ||
	    chroot(".") || chdir("/"))
		goto fail;
	return 0;
fail:
	errf(err, errlen, "--jail %s: cannot make it the root: %s", dir,
	     strerror(errno));
	return -1;
}

static int drop_user(char *err, size_t errlen)
{
	/* glibc applies these to every thread of the process. */
	if (setgroups(0, NULL) || setresgid(opts.gid, opts.gid, opts.gid) ||
	    setresuid(opts.uid, opts.uid, opts.uid)) {
		errf(err, errlen, "--user %u:%u: cannot switch: %s",
		     (unsigned int)opts.uid, (unsigned int)opts.gid,
		     strerror(errno));
		return -1;
	}
	/* Changing every uid away from 0 cleared the capabilities. */
	if (setresuid((uid_t)-1, 0, (uid_t)-1) == 0) {
		errf(err, errlen, "--user: root came back after the switch");
		return -1;
	}
	return 0;
}

static int build_filters(char *err, size_t errlen)
{
	struct sigaction sa = { .sa_sigaction = on_sigsys,
				.sa_flags = SA_SIGINFO };
	static bool built;
	unsigned int k;
	int nr;

	if (built)
		return 0;
	tzset();	/* libc's zone file read now, not under a filter */
	for (nr = 0; nr < SB_MAX_NR; nr++)
		sys_names[nr] = seccomp_syscall_resolve_num_arch(
					SCMP_ARCH_NATIVE, nr);
	for (k = 0; k < SB_NR_KINDS; k++) {
		filters[k] = build_filter((enum sandbox_kind)k);
		if (!filters[k]) {
			errf(err, errlen, "seccomp: cannot build the %s thread's "
			     "filter (--seccomp=off runs without the filters)",
			     kind_names[k]);
			return -1;
		}
	}
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL)) {
		errf(err, errlen, "seccomp: cannot catch SIGSYS: %s",
		     strerror(errno));
		return -1;
	}
	built = true;
	return 0;
}

int sandbox_prepare(char *err, size_t errlen)
{
	if (locked || !opts.seccomp)
		return 0;
	return build_filters(err, errlen);
}

int sandbox_lockdown(char *err, size_t errlen)
{
	if (locked)
		return 0;
	if (opts.jail && enter_jail(opts.jail, err, errlen))
		return -1;
	if (opts.user && drop_user(err, errlen))
		return -1;
	if (opts.seccomp && build_filters(err, errlen))
		return -1;
	locked = true;
	caps_drop = !opts.user && !opts.keep_caps;
	if (!opts.seccomp && !caps_drop)
		return 0;
	atomic_store_explicit(&sandbox_armed, true, memory_order_release);
	sandbox_enter(SB_LOOP);
	return 0;
}
