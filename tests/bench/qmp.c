// SPDX-License-Identifier: GPL-2.0
/*
 * A QMP client for the snapshot benchmark inside the test host (which has
 * only busybox):
 *   qmp SOCK [--wait-migration] JSON...
 * connects (retrying for up to 20 s), negotiates capabilities, sends each
 * JSON command and prints its reply (events are skipped); with
 * --wait-migration it then polls query-migrate every 5 ms until the
 * migration completes, and prints that last reply. Exit 0 on success, 1 on an error reply, a failed
 * migration or a timeout (60 s per reply, 180 s for the migration).
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static int connect_retry(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int i;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	for (i = 0; i < 200; i++) {
		int fd = socket(AF_UNIX, SOCK_STREAM, 0);

		if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			return fd;
		if (fd >= 0)
			close(fd);
		usleep(100000);
	}
	return -1;
}

/* One line (no newline) within 60 s; -1 on timeout or EOF. */
static int read_line(int fd, char *buf, size_t len)
{
	size_t n = 0;

	while (n + 1 < len) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		char c;

		if (poll(&p, 1, 60000) <= 0 || read(fd, &c, 1) != 1)
			return -1;
		if (c == '\n')
			break;
		if (c != '\r')
			buf[n++] = c;
	}
	buf[n] = '\0';
	return 0;
}

/* Send cmd; the reply line (not an event) into buf. 0, or -1 on error. */
static int call(int fd, const char *cmd, char *buf, size_t len)
{
	size_t l = strlen(cmd);

	if (write(fd, cmd, l) != (ssize_t)l || write(fd, "\n", 1) != 1)
		return -1;
	for (;;) {
		if (read_line(fd, buf, len))
			return -1;
		if (strstr(buf, "\"return\""))
			return 0;
		if (strstr(buf, "\"error\""))
			return -1;
	}
}

int main(int argc, char **argv)
{
	static char line[65536];
	int fd, i = 2, wait_mig = 0;
	time_t start;

	if (argc < 3) {
		fprintf(stderr, "usage: qmp SOCK [--wait-migration] JSON...\n");
		return 2;
	}
	if (!strcmp(argv[2], "--wait-migration")) {
		wait_mig = 1;
		i++;
	}
	fd = connect_retry(argv[1]);
	if (fd < 0) {
		fprintf(stderr, "qmp: cannot connect to %s\n", argv[1]);
		return 1;
	}
	if (read_line(fd, line, sizeof(line)) ||
	    call(fd, "{\"execute\": \"qmp_capabilities\"}", line, sizeof(line))) {
		fprintf(stderr, "qmp: no greeting on %s\n", argv[1]);
		return 1;
	}
	for (; i < argc; i++) {
		if (call(fd, argv[i], line, sizeof(line))) {
			fprintf(stderr, "qmp: '%s': %s\n", argv[i], line);
			return 1;
		}
		printf("%s\n", line);
	}
	start = time(NULL);
	while (wait_mig) {
		if (call(fd, "{\"execute\": \"query-migrate\"}", line, sizeof(line)))
			return 1;
		/* A busy guest may never converge: give up, saying so. */
		if (time(NULL) - start > 180) {
			fprintf(stderr, "qmp: the migration did not complete in "
				"180 s: %s\n", line);
			return 1;
		}
		if (strstr(line, "\"completed\"")) {
			printf("%s\n", line);	/* total-time, downtime */
			break;
		}
		if (strstr(line, "\"failed\"") || strstr(line, "\"cancelled\"")) {
			fprintf(stderr, "qmp: migration: %s\n", line);
			return 1;
		}
		usleep(5000);
	}
	close(fd);
	return 0;
}
