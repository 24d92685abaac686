// SPDX-License-Identifier: GPL-2.0
/*
 * stamp MARKER CMD [ARGS...]: run CMD with its output on a pipe; when a
 * line containing MARKER appears, note the milliseconds since the start and
 * CMD's memory (/proc/PID/status: VmRSS, RssAnon, RssFile, RssShmem). Then
 * wait for CMD and print one line:
 *   STAMP ms=... status=... rss_kb=... anon_kb=... file_kb=... shmem_kb=...
 * (ms=-1 if the marker never came). CMD's output goes to stderr.
 * STAMP_TIMEOUT=SEC: kill CMD (SIGKILL, status=137) if it runs longer.
 * STAMP_STOP=1: kill CMD (SIGKILL) as soon as the marker is seen.
 * MARKER "-": ms is the time until CMD exits.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long status_kb(pid_t pid, const char *key)
{
	char path[64], line[256];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, strlen(key)))
			v = strtol(line + strlen(key), NULL, 10);
	fclose(f);
	return v;
}

static pid_t child;

static void on_alarm(int sig)
{
	(void)sig;
	kill(child, SIGKILL);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
	long rss = -1, anon = -1, file = -1, shmem = -1;
	char buf[4096], line[8192];
	size_t ll = 0;
	double t0, ms = -1;
	int p[2], st;
	pid_t pid;
	ssize_t n;

	if (argc < 3) {
		fprintf(stderr, "usage: stamp MARKER CMD [ARGS...]\n");
		return 2;
	}
	if (pipe(p))
		return 1;
	t0 = now_ms();
	pid = fork();
	if (pid == 0) {
		dup2(p[1], 1);
		dup2(p[1], 2);
		close(p[0]);
		close(p[1]);
		execvp(argv[2], argv + 2);
		perror(argv[2]);
		_exit(127);
	}
	close(p[1]);
	child = pid;
	if (getenv("STAMP_TIMEOUT")) {
		signal(SIGALRM, on_alarm);
		alarm((unsigned int)atoi(getenv("STAMP_TIMEOUT")));
	}
	while ((n = read(p[0], buf, sizeof(buf))) > 0) {
		ssize_t i;

		fwrite(buf, 1, (size_t)n, stderr);
		for (i = 0; i < n; i++) {
			if (buf[i] != '\n' && ll < sizeof(line) - 1) {
				line[ll++] = buf[i];
				continue;
			}
			line[ll] = '\0';
			ll = 0;
			if (ms < 0 && strstr(line, argv[1])) {
				ms = now_ms() - t0;
				rss = status_kb(pid, "VmRSS:");
				anon = status_kb(pid, "RssAnon:");
				file = status_kb(pid, "RssFile:");
				shmem = status_kb(pid, "RssShmem:");
				if (getenv("STAMP_STOP"))
					kill(pid, SIGKILL);
			}
		}
	}
	waitpid(pid, &st, 0);
	if (!strcmp(argv[1], "-"))
		ms = now_ms() - t0;
	if (getenv("STAMP_STOP") && ms >= 0 && WIFSIGNALED(st) &&
	    WTERMSIG(st) == SIGKILL)
		st = 0;		/* stopped by us, after the marker */
	printf("STAMP ms=%.0f status=%d rss_kb=%ld anon_kb=%ld file_kb=%ld shmem_kb=%ld\n",
	       ms, WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st), rss,
	       anon, file, shmem);
	return 0;
}
