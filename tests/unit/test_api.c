// SPDX-License-Identifier: GPL-2.0
/*
 * The control API's parsing against a stub backend (BAD-INPUTS 26):
 * Firecracker-shaped requests land as the backend sees them; malformed
 * HTTP or JSON, unknown fields, wrong types, bad ids, unknown paths and
 * methods, and oversized requests are refused with a reason and never
 * reach the backend.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fakevmm.h"
#include "unit.h"
#include "vmm/api.h"

static struct api_request last;
static int acts;
static enum api_state st;
static bool later;		/* snapshots are answered later */
/* The request's strings live in its JSON: copies for the checks. */
static char s_kernel[64], s_id[64], s_tap[64], s_state[64], s_mem[64],
	    s_ov[64];

static const char *keep(char *dst, const char *src)
{
	if (!src)
		return NULL;
	snprintf(dst, 64, "%s", src);
	return dst;
}

static enum api_state b_state(void *ctx)
{
	(void)ctx;
	return st;
}

static int b_act(void *ctx, const struct api_request *r, char *err,
		 size_t errlen)
{
	(void)ctx;
	acts++;
	last = *r;
	last.kernel = keep(s_kernel, r->kernel);
	last.id = keep(s_id, r->id);
	last.tap = keep(s_tap, r->tap);
	last.state_path = keep(s_state, r->state_path);
	last.mem_path = keep(s_mem, r->mem_path);
	last.override_tap[0] = keep(s_ov, r->override_tap[0]);
	if (r->action == API_PAUSE && st != API_RUNNING) {
		snprintf(err, errlen, "pause: the VM is not running");
		return -1;
	}
	if (r->action == API_SNAPSHOT && later)
		return API_LATER;
	return 0;
}

static json_t *b_get(void *ctx, const char *what, char *err, size_t errlen)
{
	(void)ctx;
	if (!strcmp(what, "/machine-config"))
		return json_pack("{s:i}", "vcpu_count", 2);
	snprintf(err, errlen, "no such resource: %s", what);
	return NULL;
}

static const struct api_backend stub = { b_state, b_act, b_get };
static struct api a;

static int req(const char *method, const char *url, const char *body,
	       char **reply)
{
	return api_handle(&a, method, url, body, body ? strlen(body) : 0, reply);
}

/* status, and the reply contains needle (or is empty for NULL). */
static void expect(int status, const char *method, const char *url,
		   const char *body, const char *needle)
{
	char *reply = NULL;
	int got = req(method, url, body, &reply);

	ck_assert_msg(got == status, "%s %s: %d, want %d (%s)", method, url,
		      got, status, reply ? reply : "");
	if (needle)
		ck_assert_msg(reply && strstr(reply, needle), "%s %s: '%s' lacks '%s'",
			      method, url, reply ? reply : "", needle);
	free(reply);
}

static void setup(void)
{
	memset(&a, 0, sizeof(a));
	a.be = &stub;
	strcpy(a.id, "test-vm");
	acts = 0;
	st = API_NOT_STARTED;
}

START_TEST(firecracker_requests)
{
	setup();
	expect(200, "GET", "/", NULL, "\"state\":\"Not started\"");
	expect(200, "GET", "/", NULL, "\"id\":\"test-vm\"");
	expect(204, "PUT", "/machine-config",
	       "{\"vcpu_count\": 2, \"mem_size_mib\": 1024, \"smt\": false}", NULL);
	ck_assert_int_eq(last.action, API_MACHINE_CONFIG);
	ck_assert_int_eq(last.vcpu_count, 2);
	ck_assert_int_eq(last.mem_size_mib, 1024);
	expect(204, "PUT", "/boot-source",
	       "{\"kernel_image_path\": \"/k\", \"boot_args\": \"console=ttyS0\"}",
	       NULL);
	ck_assert_str_eq(last.kernel, "/k");
	expect(204, "PUT", "/drives/rootfs",
	       "{\"drive_id\": \"rootfs\", \"path_on_host\": \"/r.img\", "
	       "\"is_root_device\": true, \"is_read_only\": false}", NULL);
	ck_assert_int_eq(last.action, API_DRIVE);
	ck_assert_str_eq(last.id, "rootfs");
	ck_assert_int_eq(last.root, 1);
	expect(204, "PUT", "/network-interfaces/eth0",
	       "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\", "
	       "\"guest_mac\": \"06:00:AC:10:00:02\"}", NULL);
	ck_assert_str_eq(last.tap, "tap0");
	expect(204, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}", NULL);
	ck_assert_int_eq(last.action, API_START);
	st = API_RUNNING;
	expect(204, "PATCH", "/vm", "{\"state\": \"Paused\"}", NULL);
	ck_assert_int_eq(last.action, API_PAUSE);
	expect(204, "PUT", "/snapshot/create",
	       "{\"snapshot_type\": \"Full\", \"snapshot_path\": \"/s\", "
	       "\"mem_file_path\": \"/m\"}", NULL);
	ck_assert_str_eq(last.state_path, "/s");
	ck_assert(!last.diff);
	expect(204, "PUT", "/snapshot/load",
	       "{\"snapshot_path\": \"/s\", \"mem_backend\": {\"backend_type\": "
	       "\"File\", \"backend_path\": \"/m\"}, \"resume_vm\": true, "
	       "\"network_overrides\": [{\"iface_id\": \"eth0\", "
	       "\"host_dev_name\": \"tap9\"}]}", NULL);
	ck_assert_str_eq(last.mem_path, "/m");
	ck_assert(last.resume);
	ck_assert_uint_eq(last.nr_overrides, 1);
	ck_assert_str_eq(last.override_tap[0], "tap9");
	expect(204, "PATCH", "/balloon", "{\"amount_mib\": 64}", NULL);
	ck_assert_int_eq(last.amount_mib, 64);
	expect(204, "PUT", "/faults/net0",
	       "{\"inject\": \"linkflap@500+rxdup%2\", \"seed\": 7}", NULL);
	ck_assert_int_eq(last.action, API_FAULTS);
	ck_assert_str_eq(last.id, "net0");
	ck_assert_int_eq(last.seed, 7);
	expect(200, "GET", "/machine-config", NULL, "\"vcpu_count\":2");
	expect(200, "GET", "/machine-config/", NULL, "\"vcpu_count\":2");
	expect(200, "GET", "/machine-config?x=1", NULL, "\"vcpu_count\":2");
}
END_TEST

START_TEST(refusals)
{
	setup();
	expect(400, "PUT", "/machine-config",
	       "{\"vcpu_count\": 2, \"mem_size_mib\": 64, \"frob\": 1}",
	       "unknown field 'frob'");
	expect(400, "PUT", "/machine-config", "{\"vcpu_count\": \"2\", "
	       "\"mem_size_mib\": 64}", "'vcpu_count' must be an integer");
	expect(400, "PUT", "/machine-config", "{\"vcpu_count\": 999, "
	       "\"mem_size_mib\": 64}", "from 1 to 254");
	expect(400, "PUT", "/machine-config", "{\"vcpu_count\": 2}",
	       "required");
	expect(400, "PUT", "/machine-config", "{\"vcpu_count\": 2, "
	       "\"mem_size_mib\": 64, \"smt\": true}", "smt");
	expect(400, "PUT", "/boot-source", "{\"kernel_image_path\": ",
	       "not a JSON object");
	expect(400, "PUT", "/boot-source", "[1, 2]", "not a JSON object");
	expect(400, "PUT", "/boot-source",
	       "{\"kernel_image_path\": \"a\", \"kernel_image_path\": \"b\"}",
	       "not a JSON object");
	expect(400, "PUT", "/drives/a%20b", "{\"drive_id\": \"a b\", "
	       "\"path_on_host\": \"/x\"}", "ids are");
	expect(400, "PUT", "/drives/d1", "{\"drive_id\": \"d2\", "
	       "\"path_on_host\": \"/x\"}", "the path says 'd1'");
	expect(400, "PUT", "/actions", "{\"action_type\": \"Explode\"}",
	       "unknown action_type 'Explode'");
	expect(400, "PATCH", "/vm", "{\"state\": \"Frozen\"}", "must be");
	expect(400, "PUT", "/snapshot/create", "{\"snapshot_type\": \"Diff\", "
	       "\"snapshot_path\": \"/s\", \"mem_file_path\": \"/m\"}",
	       "base_mem_file_path");
	expect(400, "PUT", "/snapshot/load", "{\"snapshot_path\": \"/s\", "
	       "\"mem_backend\": {\"backend_type\": \"Uffd\", "
	       "\"backend_path\": \"/m\"}}", "only \\\"File\\\"");
	expect(404, "PUT", "/frobnicate", "{}", "no PUT /frobnicate");
	expect(400, "PUT", "/faults/blk0", "{\"seed\": 3}", "'inject'");
	expect(400, "PUT", "/faults/blk0", "{\"inject\": \"\", \"x\": 1}",
	       "unknown field 'x'");
	expect(400, "PUT", "/faults/a$b", "{\"inject\": \"\"}", "ids are");
	expect(404, "PATCH", "/faults/blk0", "{\"inject\": \"\"}", "no PATCH");
	expect(404, "GET", "/nothing", NULL, "no such resource");
	expect(405, "DELETE", "/vm", NULL, "methods");
	ck_assert_int_eq(acts, 0);		/* none reached the backend */
	/* The backend's own refusal comes back as a fault. */
	expect(400, "PATCH", "/vm", "{\"state\": \"Paused\"}", "not running");
}
END_TEST

/* Raw HTTP through a connection: pipelined requests, garbage, huge. */
START_TEST(http_framing)
{
	int sv[2];
	char buf[8192];
	struct api_conn *c;
	ssize_t n;

	setup();
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	c = api_conn_new(&a, sv[0]);
	static const char two[] =
		"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
		"PUT /actions HTTP/1.1\r\nContent-Length: 33\r\n\r\n"
		"{\"action_type\": \"FlushMetrics\"}  ";
	api_conn_feed(c, (const uint8_t *)two, sizeof(two) - 1);
	/* Replies are queued; push them out the way the loop would. */
	{
		extern void api_conn_flush_for_tests(struct api_conn *);

		api_conn_flush_for_tests(c);
	}
	n = read(sv[1], buf, sizeof(buf) - 1);
	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
	ck_assert_ptr_nonnull(strstr(buf, "HTTP/1.1 200 OK"));
	ck_assert_ptr_nonnull(strstr(buf, "HTTP/1.1 204 No Content"));
	ck_assert_int_eq(acts, 1);
	api_conn_free(c);
	c = api_conn_new(&a, sv[0]);
	api_conn_feed(c, (const uint8_t *)"\x01\x02 garbage\r\n\r\n", 14);
	{
		extern void api_conn_flush_for_tests(struct api_conn *);

		api_conn_flush_for_tests(c);
	}
	n = read(sv[1], buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = '\0';
	ck_assert_ptr_nonnull(strstr(buf, "400 Bad Request"));
	ck_assert_ptr_nonnull(strstr(buf, "malformed HTTP"));
	api_conn_free(c);
	c = api_conn_new(&a, sv[0]);
	api_conn_feed(c, (const uint8_t *)"PUT /vm HTTP/1.1\r\nContent-Length: "
		      "99999999\r\n\r\n", 49);
	{
		extern void api_conn_flush_for_tests(struct api_conn *);

		api_conn_flush_for_tests(c);
	}
	n = read(sv[1], buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = '\0';
	ck_assert_ptr_nonnull(strstr(buf, "413"));
	api_conn_free(c);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/*
 * A request answered later (a snapshot being written): nothing goes out
 * until api_finish(); what the client sent after it waits, then is
 * answered in order; the connection closes as the client asked.
 */
START_TEST(answered_later)
{
	static const char two[] =
		"PUT /snapshot/create HTTP/1.1\r\nContent-Length: 54\r\n\r\n"
		"{\"snapshot_path\": \"/s/state\", \"mem_file_path\": \"/s/m\"}"
		"GET / HTTP/1.1\r\nConnection: close\r\n\r\n";
	char buf[8192];
	struct api_conn *c;
	int sv[2];
	ssize_t n;

	setup();
	a.notify = fake;
	later = true;
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0,
				    sv), 0);
	c = api_conn_new(&a, sv[0]);
	api_conn_feed(c, (const uint8_t *)two, sizeof(two) - 1);
	{
		extern void api_conn_flush_for_tests(struct api_conn *);

		api_conn_flush_for_tests(c);
	}
	ck_assert_int_lt(read(sv[1], buf, sizeof(buf)), 0);	/* nothing yet */
	ck_assert_ptr_eq(a.later, c);
	ck_assert_int_eq(acts, 1);
	api_finish(&a, NULL);		/* the 204, the GET's 200, closed */
	ck_assert_ptr_null(a.later);
	n = read(sv[1], buf, sizeof(buf) - 1);
	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
	ck_assert_ptr_nonnull(strstr(buf, "HTTP/1.1 204 No Content"));
	ck_assert_ptr_nonnull(strstr(buf, "HTTP/1.1 200 OK"));
	ck_assert(strstr(buf, "204") < strstr(buf, "200 OK"));
	ck_assert_int_eq(read(sv[1], buf, sizeof(buf)), 0);	/* closed */
	ck_assert_int_eq(vmm.watched, 0);
	close(sv[1]);
	later = false;
}
END_TEST

Suite *api_suite(void)
{
	Suite *s = suite_create("api");
	TCase *tc = tcase_create("requests");

	tcase_add_test(tc, firecracker_requests);
	tcase_add_test(tc, refusals);
	tcase_add_test(tc, http_framing);
	tcase_add_test(tc, answered_later);
	suite_add_tcase(s, tc);
	return s;
}
