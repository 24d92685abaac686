// SPDX-License-Identifier: GPL-2.0
/*
 * vireo ctl --api-sock PATH COMMAND [ARGS]: the command-line client of
 * the control API (vmm/api.h). One request per command (snapshot: pause,
 * snapshot, resume), the reply's body printed, exit 0 on success, 1 with
 * the API's fault message otherwise, 2 for a wrong command line.
 */
#include <errno.h>
#include <http_parser.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "util.h"

#define CTL_TIMEOUT_S 120

int ctl_main(int argc, char **argv);

/* Polling a source that may exit at any moment: no error lines. */
static bool ctl_quiet;
#define ctl_err(...) do { if (!ctl_quiet) pr_err(__VA_ARGS__); } while (0)

static const char ctl_usage[] =
"usage: vireo ctl --api-sock PATH COMMAND [ARGS]\n"
"commands:\n"
"  info                  GET / (id, state, version)\n"
"  config                GET /vm/config\n"
"  metrics               GET /metrics (every device's counters)\n"
"  start                 boot a VM configured through the API\n"
"  pause | resume        PATCH /vm\n"
"  snapshot DIR [--diff BASE_MEM]\n"
"                        DIR/state and DIR/mem (a running VM is paused\n"
"                        for it and resumed after); --diff: only pages\n"
"                        written since the last snapshot, over BASE_MEM\n"
"  load DIR [--resume]   restore DIR into a VM not yet started\n"
"  balloon SIZE          the balloon's target (e.g. 256M)\n"
"  balloon-stats         GET /balloon/statistics\n"
"  poweroff              stop the VM\n"
"  ctrl-alt-del          press Ctrl-Alt-Del on the guest's keyboard\n"
"  migrate --to URI [--local] [--max-downtime MS] [--bandwidth MBPS]\n"
"                        live-migrate to 'vireo run --incoming URI'; exit\n"
"                        0 moved, 1 failed (the guest runs here), 3 the\n"
"                        source died mid-way (outcome unknown)\n"
"                        (unix:PATH or tcp:HOST:PORT; --local: same host,\n"
"                        unix only, the memory is handed over, not\n"
"                        copied); prints each round, waits for the end,\n"
"                        exit 0 once the guest runs on the target\n"
"  migrate-status        GET /migrate\n";

struct reply {
	int status;
	char *body;
	size_t len;
	bool done;
};

static int r_body(http_parser *p, const char *at, size_t len)
{
	struct reply *r = p->data;
	char *b = realloc(r->body, r->len + len + 1);

	if (!b)
		return 1;
	memcpy(b + r->len, at, len);
	r->body = b;
	r->len += len;
	r->body[r->len] = '\0';
	return 0;
}

static int r_done(http_parser *p)
{
	struct reply *r = p->data;

	r->status = (int)p->status_code;
	r->done = true;
	return 0;
}

/* One request; the reply in *r. -1 (said why) if it could not be had. */
static int request(const char *sock, const char *method, const char *path,
		   const char *body, struct reply *r)
{
	static const http_parser_settings s = {
		.on_body = r_body,
		.on_message_complete = r_done,
	};
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	http_parser p;
	char head[1024], buf[4096];
	size_t blen = body ? strlen(body) : 0;
	int fd, n;

	memset(r, 0, sizeof(*r));
	if (strlen(sock) >= sizeof(sa.sun_path)) {
		ctl_err("--api-sock '%s': the path is too long", sock);
		return -1;
	}
	strcpy(sa.sun_path, sock);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		ctl_err("--api-sock '%s': %s (is vireo running with "
		       "--api-sock there?)", sock, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	{
		/* A VMM that stopped answering is reported, not waited on. */
		struct timeval tv = { .tv_sec = CTL_TIMEOUT_S };

		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	}
	n = snprintf(head, sizeof(head), "%s %s HTTP/1.1\r\nHost: localhost\r\n"
		     "Accept: application/json\r\n%sContent-Length: %zu\r\n"
		     "Connection: close\r\n\r\n", method, path,
		     blen ? "Content-Type: application/json\r\n" : "", blen);
	if (write_full(fd, head, (size_t)n) != n ||
	    (blen && write_full(fd, body, blen) != (ssize_t)blen)) {
		ctl_err("--api-sock '%s': %s", sock, strerror(errno));
		close(fd);
		return -1;
	}
	http_parser_init(&p, HTTP_RESPONSE);
	p.data = r;
	while (!r->done) {
		ssize_t got = read(fd, buf, sizeof(buf));

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			ctl_err("--api-sock '%s': no reply to %s %s in %d s (is the "
			       "VMM stuck?)", sock, method, path, CTL_TIMEOUT_S);
			close(fd);
			return -1;
		}
		if (got <= 0)
			break;
		if (http_parser_execute(&p, &s, buf, (size_t)got) != (size_t)got)
			break;
	}
	close(fd);
	if (!r->done) {
		ctl_err("--api-sock '%s': no complete reply", sock);
		return -1;
	}
	return 0;
}

/* Print the reply; 0 for 2xx, 1 with the fault message otherwise. */
static int outcome(const char *what, struct reply *r)
{
	int ret = 0;

	if (r->status >= 200 && r->status < 300) {
		if (r->len)
			printf("%s\n", r->body);
	} else {
		json_t *j = r->body ? json_loads(r->body, 0, NULL) : NULL;
		const char *m = json_string_value(json_object_get(j, "fault_message"));

		pr_err("%s: %s (HTTP %d)", what, m ? m : "refused", r->status);
		json_decref(j);
		ret = 1;
	}
	free(r->body);
	r->body = NULL;
	return ret;
}

static int call(const char *sock, const char *method, const char *path,
		const char *body)
{
	struct reply r;

	if (request(sock, method, path, body, &r))
		return 1;
	return outcome(path, &r);
}

/* A JSON body from a format, strings escaped by jansson. */
static char *jbody(json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT);

	json_decref(j);
	return s;
}

static int state_is(const char *sock, const char *want)
{
	struct reply r;
	json_t *j;
	int is;

	if (request(sock, "GET", "/", NULL, &r) || r.status != 200) {
		free(r.body);
		return -1;
	}
	j = json_loads(r.body, 0, NULL);
	is = !strcmp(json_string_value(json_object_get(j, "state")) ?
		     json_string_value(json_object_get(j, "state")) : "", want);
	json_decref(j);
	free(r.body);
	return is;
}

static int snapshot(const char *sock, int argc, char **argv)
{
	char state[4200], mem[4200];
	const char *base = NULL;
	char *body;
	int running, ret;

	if (argc == 4 && !strcmp(argv[2], "--diff"))
		base = argv[3];
	else if (argc != 2) {
		fputs(ctl_usage, stderr);
		return 2;
	}
	if (mkdir(argv[1], 0755) < 0 && errno != EEXIST) {
		pr_err("snapshot '%s': %s", argv[1], strerror(errno));
		return 1;
	}
	snprintf(state, sizeof(state), "%s/state", argv[1]);
	snprintf(mem, sizeof(mem), "%s/mem", argv[1]);
	running = state_is(sock, "Running");
	if (running < 0)
		return 1;
	if (running && call(sock, "PATCH", "/vm", "{\"state\":\"Paused\"}"))
		return 1;
	body = jbody(base ? json_pack("{s:s,s:s,s:s,s:s}", "snapshot_type",
				      "Diff", "snapshot_path", state,
				      "mem_file_path", mem, "base_mem_file_path",
				      base) :
			    json_pack("{s:s,s:s,s:s}", "snapshot_type", "Full",
				      "snapshot_path", state, "mem_file_path",
				      mem));
	ret = call(sock, "PUT", "/snapshot/create", body);
	free(body);
	if (running && call(sock, "PATCH", "/vm", "{\"state\":\"Resumed\"}"))
		ret = 1;
	return ret;
}

/* The state of GET /migrate, its JSON in *j (NULL: the source is gone). */
static const char *mig_status(const char *sock, json_t **j)
{
	struct reply r;

	*j = NULL;
	ctl_quiet = true;
	if (request(sock, "GET", "/migrate", NULL, &r) || r.status != 200) {
		ctl_quiet = false;
		free(r.body);
		return NULL;
	}
	ctl_quiet = false;
	*j = json_loads(r.body, 0, NULL);
	free(r.body);
	return json_string_value(json_object_get(*j, "state"));
}

static long long jint(json_t *j, const char *key)
{
	return (long long)json_integer_value(json_object_get(j, key));
}

static int migrate(const char *sock, int argc, char **argv)
{
	const char *to = NULL, *st;
	char last[32] = "started";
	long long downtime = 0, bandwidth = 0, round = -1;
	bool local = false;
	json_t *j, *req;
	char *body;
	int i, ret;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--to") && i + 1 < argc)
			to = argv[++i];
		else if (!strcmp(argv[i], "--local"))
			local = true;
		else if (!strcmp(argv[i], "--max-downtime") && i + 1 < argc)
			downtime = atoll(argv[++i]);
		else if (!strcmp(argv[i], "--bandwidth") && i + 1 < argc)
			bandwidth = atoll(argv[++i]);
		else
			to = NULL, i = argc;
	}
	if (!to) {
		fputs(ctl_usage, stderr);
		return 2;
	}
	req = json_pack("{s:s,s:b}", "destination", to, "local", local);
	if (downtime)
		json_object_set_new(req, "max_downtime_ms", json_integer(downtime));
	if (bandwidth)
		json_object_set_new(req, "bandwidth_mbps", json_integer(bandwidth));
	body = jbody(req);
	ret = call(sock, "PUT", "/migrate", body);
	free(body);
	if (ret)
		return ret;
	for (;;) {
		usleep(200 * 1000);
		st = mig_status(sock, &j);
		if (!st) {
			/*
			 * The source waits up to 2 s for this poll to read
			 * "completed" before it exits: gone without it, it
			 * died, and where the guest runs is not known here.
			 */
			pr_err("migrate: the source went away before it reported "
			       "the end of the migration (last seen: %s, round "
			       "%lld); whether the guest runs on the target is "
			       "unknown: look at the target's output", last,
			       round < 0 ? 0 : round);
			json_decref(j);
			return 3;
		}
		snprintf(last, sizeof(last), "%s", st);
		if (jint(j, "round") != round && !strcmp(st, "active")) {
			round = jint(j, "round");
			printf("migrate: round %lld, %lld pages sent, %lld dirty\n",
			       round, jint(j, "pages_sent"), jint(j, "dirty_pages"));
			fflush(stdout);
		}
		if (!strcmp(st, "completed") || !strcmp(st, "failed")) {
			body = json_dumps(j, JSON_COMPACT);
			printf("%s\n", body);
			free(body);
			ret = strcmp(st, "completed") ? 1 : 0;
			if (ret)
				pr_err("migrate: %s", json_string_value(json_object_get(j, "error")));
			json_decref(j);
			return ret;
		}
		json_decref(j);
	}
}

int ctl_main(int argc, char **argv)
{
	const char *sock = NULL;
	char *body;
	int ret;

	/* argv[0] is "ctl". */
	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		fputs(ctl_usage, stdout);
		return 0;
	}
	if (argc >= 3 && !strcmp(argv[1], "--api-sock")) {
		sock = argv[2];
		argc -= 2;
		argv += 2;
	} else if (argc >= 2 && !strncmp(argv[1], "--api-sock=", 11)) {
		sock = argv[1] + 11;
		argc--;
		argv++;
	}
	if (!sock || argc < 2) {
		fputs(ctl_usage, stderr);
		return 2;
	}
	argc--;
	argv++;
	if (!strcmp(argv[0], "info") && argc == 1)
		return call(sock, "GET", "/", NULL);
	if (!strcmp(argv[0], "config") && argc == 1)
		return call(sock, "GET", "/vm/config", NULL);
	if (!strcmp(argv[0], "metrics") && argc == 1)
		return call(sock, "GET", "/metrics", NULL);
	if (!strcmp(argv[0], "balloon-stats") && argc == 1)
		return call(sock, "GET", "/balloon/statistics", NULL);
	if (!strcmp(argv[0], "pause") && argc == 1)
		return call(sock, "PATCH", "/vm", "{\"state\":\"Paused\"}");
	if (!strcmp(argv[0], "resume") && argc == 1)
		return call(sock, "PATCH", "/vm", "{\"state\":\"Resumed\"}");
	if (!strcmp(argv[0], "start") && argc == 1)
		return call(sock, "PUT", "/actions",
			    "{\"action_type\":\"InstanceStart\"}");
	if (!strcmp(argv[0], "ctrl-alt-del") && argc == 1)
		return call(sock, "PUT", "/actions",
			    "{\"action_type\":\"SendCtrlAltDel\"}");
	if (!strcmp(argv[0], "poweroff") && argc == 1)
		return call(sock, "PUT", "/actions",
			    "{\"action_type\":\"Poweroff\"}");
	if (!strcmp(argv[0], "snapshot"))
		return snapshot(sock, argc, argv);
	if (!strcmp(argv[0], "migrate"))
		return migrate(sock, argc, argv);
	if (!strcmp(argv[0], "migrate-status") && argc == 1)
		return call(sock, "GET", "/migrate", NULL);
	if (!strcmp(argv[0], "load") && (argc == 2 || argc == 3)) {
		char state[4200], mem[4200];

		if (argc == 3 && strcmp(argv[2], "--resume")) {
			fputs(ctl_usage, stderr);
			return 2;
		}
		snprintf(state, sizeof(state), "%s/state", argv[1]);
		snprintf(mem, sizeof(mem), "%s/mem", argv[1]);
		body = jbody(json_pack("{s:s,s:{s:s,s:s},s:b}", "snapshot_path",
				       state, "mem_backend", "backend_type", "File",
				       "backend_path", mem, "resume_vm", argc == 3));
		ret = call(sock, "PUT", "/snapshot/load", body);
		free(body);
		return ret;
	}
	if (!strcmp(argv[0], "balloon") && argc == 2) {
		uint64_t bytes;

		if (parse_size(argv[1], &bytes)) {
			pr_err("balloon '%s': not a size (e.g. 256M)", argv[1]);
			return 2;
		}
		body = jbody(json_pack("{s:I}", "amount_mib",
				       (json_int_t)(bytes >> 20)));
		ret = call(sock, "PATCH", "/balloon", body);
		free(body);
		return ret;
	}
	fputs(ctl_usage, stderr);
	return 2;
}
