// SPDX-License-Identifier: GPL-2.0
/*
 * A unix-socket client for console-port tests inside the test host (which
 * has only busybox).
 *   unixcat PATH LINE...   connect, send each LINE, print each reply line
 *                          (60 s timeout each: the guest may still be booting), disconnect
 *   unixcat PATH --hold S  connect and read nothing for S seconds
 * Retries the connection for up to 20 s (vireo may still be starting).
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
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

/* Read one line (without the newline) within 60 s. */
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

int main(int argc, char **argv)
{
	char line[4096];
	int fd, i;

	if (argc < 3)
		return 2;
	fd = connect_retry(argv[1]);
	if (fd < 0) {
		fprintf(stderr, "unixcat: cannot connect to %s\n", argv[1]);
		return 1;
	}
	if (!strcmp(argv[2], "--hold") && argc == 4) {
		sleep((unsigned int)atoi(argv[3]));
		close(fd);
		return 0;
	}
	for (i = 2; i < argc; i++) {
		snprintf(line, sizeof(line), "%s\n", argv[i]);
		if (write(fd, line, strlen(line)) < 0 || read_line(fd, line, sizeof(line))) {
			fprintf(stderr, "unixcat: no reply to '%s'\n", argv[i]);
			return 1;
		}
		printf("%s\n", line);
	}
	close(fd);
	return 0;
}
