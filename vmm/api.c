// SPDX-License-Identifier: GPL-2.0
#include "api.h"

#include <errno.h>
#include <http_parser.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"
#include "util.h"

#define OUT_MAX		(256 * 1024)
#define API_DRAIN_MAX	(1024 * 1024)

struct api_conn {
	struct api *a;
	struct ev_handler h;
	bool watched;
	bool want_out;
	bool closing;			/* close once the reply is out */
	bool draining;			/* an error reply: read the rest first */
	size_t drained;
	http_parser parser;
	char url[API_MAX_URL + 1];
	size_t url_len;
	char *body;
	size_t body_len;
	int too_big;			/* 413 or 414 to answer */
	char *out;			/* reply bytes not yet written */
	size_t out_len, out_off;
	uint8_t *stash;			/* read after a request answered later */
	size_t stash_len;
};

/* ---- JSON helpers ----------------------------------------------------------- */

/* Every key of o is in allowed (NULL-terminated); else err names it. */
static int only_fields(json_t *o, const char *const *allowed, char *err,
		       size_t errlen)
{
	const char *key;
	json_t *v;

	json_object_foreach(o, key, v) {
		const char *const *k;

		for (k = allowed; *k; k++)
			if (!strcmp(*k, key))
				break;
		if (!*k) {
			errf(err, errlen, "unknown field '%s'", key);
			return -1;
		}
	}
	return 0;
}

static int get_str(json_t *o, const char *key, bool required, const char **v,
		   char *err, size_t errlen)
{
	json_t *j = json_object_get(o, key);

	*v = NULL;
	if (!j) {
		if (required)
			errf(err, errlen, "'%s' is required", key);
		return required ? -1 : 0;
	}
	if (!json_is_string(j)) {
		errf(err, errlen, "'%s' must be a string", key);
		return -1;
	}
	*v = json_string_value(j);
	if (strlen(*v) >= 4096 || strlen(*v) != json_string_length(j)) {
		errf(err, errlen, "'%s' is too long or holds a NUL", key);
		return -1;
	}
	return 0;
}

static int get_int(json_t *o, const char *key, int64_t min, int64_t max,
		   int64_t *v, char *err, size_t errlen)
{
	json_t *j = json_object_get(o, key);

	if (!j)
		return 0;
	if (!json_is_integer(j) || json_integer_value(j) < min ||
	    json_integer_value(j) > max) {
		errf(err, errlen, "'%s' must be an integer from %lld to %lld",
		     key, (long long)min, (long long)max);
		return -1;
	}
	*v = json_integer_value(j);
	return 0;
}

static int get_bool(json_t *o, const char *key, int *v, char *err,
		    size_t errlen)
{
	json_t *j = json_object_get(o, key);

	if (!j)
		return 0;
	if (!json_is_boolean(j)) {
		errf(err, errlen, "'%s' must be true or false", key);
		return -1;
	}
	*v = json_is_true(j);
	return 0;
}

static void req_init(struct api_request *r, enum api_action action, bool patch)
{
	memset(r, 0, sizeof(*r));
	r->action = action;
	r->patch = patch;
	r->vcpu_count = -1;
	r->mem_size_mib = -1;
	r->track_dirty = -1;
	r->read_only = -1;
	r->root = -1;
	r->amount_mib = -1;
	r->deflate_on_oom = -1;
	r->stats_period = -1;
}

/* ---- the resources ---------------------------------------------------------- */

static const char *const machine_fields[] = {
	"vcpu_count", "mem_size_mib", "smt", "track_dirty_pages",
	"cpu_template", "huge_pages", NULL,
};

static int parse_machine(json_t *o, bool patch, struct api_request *r,
			 char *err, size_t errlen)
{
	int64_t v = -1;
	int smt = 0, track = -1;
	const char *s;

	req_init(r, API_MACHINE_CONFIG, patch);
	if (only_fields(o, machine_fields, err, errlen) ||
	    get_int(o, "vcpu_count", 1, 254, &v, err, errlen))
		return -1;
	r->vcpu_count = (int)v;
	v = -1;
	if (get_int(o, "mem_size_mib", 16, 1 << 20, &v, err, errlen) ||
	    get_bool(o, "smt", &smt, err, errlen) ||
	    get_bool(o, "track_dirty_pages", &track, err, errlen))
		return -1;
	r->mem_size_mib = v;
	r->track_dirty = track;
	if (smt) {
		errf(err, errlen, "'smt': vireo gives each vCPU its own core");
		return -1;
	}
	if (get_str(o, "cpu_template", false, &s, err, errlen) ||
	    (s && strcmp(s, "None"))) {
		if (s)
			errf(err, errlen, "'cpu_template': only \"None\"");
		return -1;
	}
	if (get_str(o, "huge_pages", false, &s, err, errlen) ||
	    (s && strcmp(s, "None"))) {
		if (s)
			errf(err, errlen, "'huge_pages': only \"None\"");
		return -1;
	}
	if (!patch && (r->vcpu_count < 0 || r->mem_size_mib < 0)) {
		errf(err, errlen, "'vcpu_count' and 'mem_size_mib' are required");
		return -1;
	}
	return 0;
}

static int parse_boot(json_t *o, struct api_request *r, char *err,
		      size_t errlen)
{
	static const char *const f[] = { "kernel_image_path", "initrd_path",
					 "boot_args", NULL };

	req_init(r, API_BOOT_SOURCE, false);
	return only_fields(o, f, err, errlen) ||
	       get_str(o, "kernel_image_path", true, &r->kernel, err, errlen) ||
	       get_str(o, "initrd_path", false, &r->initrd, err, errlen) ||
	       get_str(o, "boot_args", false, &r->boot_args, err, errlen) ? -1 : 0;
}

/* The id in the URL and the body must agree. */
static int same_id(const char *url_id, const char *body_id, const char *key,
		   char *err, size_t errlen)
{
	if (body_id && strcmp(url_id, body_id)) {
		errf(err, errlen, "'%s' is '%s', the path says '%s'", key,
		     body_id, url_id);
		return -1;
	}
	return 0;
}

static int parse_drive(json_t *o, const char *id, bool patch,
		       struct api_request *r, char *err, size_t errlen)
{
	static const char *const f[] = {
		"drive_id", "path_on_host", "is_root_device", "is_read_only",
		"cache_type", "io_engine", "partuuid", NULL,
	};
	const char *body_id, *s;

	req_init(r, API_DRIVE, patch);
	r->id = id;
	if (only_fields(o, f, err, errlen) ||
	    get_str(o, "drive_id", !patch, &body_id, err, errlen) ||
	    same_id(id, body_id, "drive_id", err, errlen) ||
	    get_str(o, "path_on_host", !patch, &r->path, err, errlen) ||
	    get_bool(o, "is_root_device", &r->root, err, errlen) ||
	    get_bool(o, "is_read_only", &r->read_only, err, errlen))
		return -1;
	if (get_str(o, "cache_type", false, &s, err, errlen) ||
	    (s && strcmp(s, "Unsafe") && strcmp(s, "Writeback"))) {
		if (s)
			errf(err, errlen, "'cache_type': \"Unsafe\" or \"Writeback\"");
		return -1;
	}
	if (get_str(o, "io_engine", false, &s, err, errlen) ||
	    (s && strcmp(s, "Sync") && strcmp(s, "Async"))) {
		if (s)
			errf(err, errlen, "'io_engine': \"Sync\" or \"Async\"");
		return -1;
	}
	return 0;
}

static int parse_net(json_t *o, const char *id, bool patch,
		     struct api_request *r, char *err, size_t errlen)
{
	static const char *const f[] = {
		"iface_id", "host_dev_name", "guest_mac", NULL,
	};
	const char *body_id;

	req_init(r, API_NET, patch);
	r->id = id;
	return only_fields(o, f, err, errlen) ||
	       get_str(o, "iface_id", !patch, &body_id, err, errlen) ||
	       same_id(id, body_id, "iface_id", err, errlen) ||
	       get_str(o, "host_dev_name", !patch, &r->tap, err, errlen) ||
	       get_str(o, "guest_mac", false, &r->mac, err, errlen) ? -1 : 0;
}

static int parse_actions(json_t *o, struct api_request *r, char *err,
			 size_t errlen)
{
	static const char *const f[] = { "action_type", NULL };
	static const struct {
		const char *name;
		enum api_action a;
	} actions[] = {
		{ "InstanceStart", API_START },
		{ "SendCtrlAltDel", API_CTRL_ALT_DEL },
		{ "FlushMetrics", API_FLUSH_METRICS },
		{ "Poweroff", API_POWEROFF },		/* vireo's */
	};
	const char *t;
	unsigned int i;

	if (only_fields(o, f, err, errlen) ||
	    get_str(o, "action_type", true, &t, err, errlen))
		return -1;
	for (i = 0; i < ARRAY_SIZE(actions); i++) {
		if (!strcmp(t, actions[i].name)) {
			req_init(r, actions[i].a, false);
			return 0;
		}
	}
	errf(err, errlen, "unknown action_type '%s' (known: InstanceStart, "
	     "SendCtrlAltDel, FlushMetrics, Poweroff)", t);
	return -1;
}

static int parse_vm_state(json_t *o, struct api_request *r, char *err,
			  size_t errlen)
{
	static const char *const f[] = { "state", NULL };
	const char *s;

	if (only_fields(o, f, err, errlen) ||
	    get_str(o, "state", true, &s, err, errlen))
		return -1;
	if (!strcmp(s, "Paused"))
		req_init(r, API_PAUSE, true);
	else if (!strcmp(s, "Resumed"))
		req_init(r, API_RESUME, true);
	else {
		errf(err, errlen, "'state' must be \"Paused\" or \"Resumed\"");
		return -1;
	}
	return 0;
}

static int parse_snapshot(json_t *o, struct api_request *r, char *err,
			  size_t errlen)
{
	static const char *const f[] = {
		"snapshot_type", "snapshot_path", "mem_file_path", "version",
		"base_mem_file_path", NULL,
	};
	const char *type;

	req_init(r, API_SNAPSHOT, false);
	if (only_fields(o, f, err, errlen) ||
	    get_str(o, "snapshot_path", true, &r->state_path, err, errlen) ||
	    get_str(o, "mem_file_path", true, &r->mem_path, err, errlen) ||
	    get_str(o, "snapshot_type", false, &type, err, errlen) ||
	    get_str(o, "base_mem_file_path", false, &r->path, err, errlen))
		return -1;
	if (type && strcmp(type, "Full") && strcmp(type, "Diff")) {
		errf(err, errlen, "'snapshot_type' must be \"Full\" or \"Diff\"");
		return -1;
	}
	r->diff = type && !strcmp(type, "Diff");
	if (r->diff && !r->path) {
		errf(err, errlen, "a Diff snapshot needs 'base_mem_file_path', "
		     "the full memory file it goes over");
		return -1;
	}
	return 0;
}

static int parse_load(json_t *o, struct api_request *r, char *err,
		      size_t errlen)
{
	static const char *const f[] = {
		"snapshot_path", "mem_backend", "mem_file_path", "resume_vm",
		"network_overrides", "enable_diff_snapshots",
		"track_dirty_pages", NULL,
	};
	static const char *const mf[] = { "backend_type", "backend_path", NULL };
	static const char *const nf[] = { "iface_id", "host_dev_name", NULL };
	json_t *mem, *ovs, *ov;
	const char *type;
	int resume = 0, track = -1, diff = -1;
	size_t i;

	req_init(r, API_LOAD, false);
	if (only_fields(o, f, err, errlen) ||
	    get_str(o, "snapshot_path", true, &r->state_path, err, errlen) ||
	    get_str(o, "mem_file_path", false, &r->mem_path, err, errlen) ||
	    get_bool(o, "resume_vm", &resume, err, errlen) ||
	    get_bool(o, "track_dirty_pages", &track, err, errlen) ||
	    get_bool(o, "enable_diff_snapshots", &diff, err, errlen))
		return -1;
	r->resume = resume;
	r->track_dirty = track > 0 || diff > 0;
	mem = json_object_get(o, "mem_backend");
	if (mem) {
		if (!json_is_object(mem) || only_fields(mem, mf, err, errlen) ||
		    get_str(mem, "backend_type", true, &type, err, errlen) ||
		    get_str(mem, "backend_path", true, &r->mem_path, err, errlen)) {
			if (!json_is_object(mem))
				errf(err, errlen, "'mem_backend' must be an object");
			return -1;
		}
		if (strcmp(type, "File")) {
			errf(err, errlen, "'backend_type': only \"File\"");
			return -1;
		}
	}
	if (!r->mem_path) {
		errf(err, errlen, "'mem_backend' (or 'mem_file_path') is required");
		return -1;
	}
	ovs = json_object_get(o, "network_overrides");
	if (ovs && (!json_is_array(ovs) || json_array_size(ovs) > 16)) {
		errf(err, errlen, "'network_overrides' must be a list of at "
		     "most 16");
		return -1;
	}
	json_array_foreach(ovs, i, ov) {
		if (!json_is_object(ov) || only_fields(ov, nf, err, errlen) ||
		    get_str(ov, "iface_id", true, &r->override_id[i], err, errlen) ||
		    get_str(ov, "host_dev_name", true, &r->override_tap[i], err,
			    errlen)) {
			if (!json_is_object(ov))
				errf(err, errlen, "each network override must be "
				     "an object");
			return -1;
		}
		r->nr_overrides++;
	}
	return 0;
}

static int parse_migrate(json_t *o, struct api_request *r, char *err,
			 size_t errlen)
{
	static const char *const f[] = {
		"destination", "local", "max_downtime_ms", "bandwidth_mbps",
		"max_rounds", NULL,
	};

	req_init(r, API_MIGRATE, false);
	return only_fields(o, f, err, errlen) ||
	       get_str(o, "destination", true, &r->path, err, errlen) ||
	       get_bool(o, "local", &r->mig_local, err, errlen) ||
	       get_int(o, "max_downtime_ms", 1, 60000, &r->max_downtime_ms,
		       err, errlen) ||
	       get_int(o, "bandwidth_mbps", 1, 100000, &r->bandwidth_mbps, err,
		       errlen) ||
	       get_int(o, "max_rounds", 1, 1000, &r->max_rounds, err, errlen) ?
	       -1 : 0;
}

/* PUT /faults/ID {"inject": "SPEC", "seed": N}: a device's faults now. */
static int parse_faults(json_t *o, const char *id, struct api_request *r,
			char *err, size_t errlen)
{
	static const char *const f[] = { "inject", "seed", NULL };

	req_init(r, API_FAULTS, false);
	r->id = id;
	r->seed = -1;
	return only_fields(o, f, err, errlen) ||
	       get_str(o, "inject", true, &r->path, err, errlen) ||
	       get_int(o, "seed", 1, INT64_MAX, &r->seed, err, errlen) ? -1 : 0;
}

static int parse_balloon(json_t *o, bool patch, struct api_request *r,
			 char *err, size_t errlen)
{
	static const char *const f[] = {
		"amount_mib", "deflate_on_oom", "stats_polling_interval_s",
		"free_page_reporting", "free_page_hinting", NULL,
	};
	int fpr = 0;

	req_init(r, patch ? API_BALLOON_TARGET : API_BALLOON, patch);
	if (only_fields(o, f, err, errlen) ||
	    get_int(o, "amount_mib", 0, 1 << 20, &r->amount_mib, err, errlen) ||
	    get_bool(o, "deflate_on_oom", &r->deflate_on_oom, err, errlen) ||
	    get_int(o, "stats_polling_interval_s", 0, 86400, &r->stats_period,
		    err, errlen) ||
	    get_bool(o, "free_page_reporting", &fpr, err, errlen))
		return -1;
	r->root = fpr;		/* free page reporting rides here */
	if (!patch && r->amount_mib < 0) {
		errf(err, errlen, "'amount_mib' is required");
		return -1;
	}
	if (patch && r->amount_mib < 0) {
		errf(err, errlen, "'amount_mib' is required (PATCH /balloon sets "
		     "the target)");
		return -1;
	}
	return 0;
}

static int parse_balloon_stats(json_t *o, struct api_request *r, char *err,
			       size_t errlen)
{
	static const char *const f[] = { "stats_polling_interval_s", NULL };

	req_init(r, API_BALLOON_STATS_PERIOD, true);
	if (only_fields(o, f, err, errlen) ||
	    get_int(o, "stats_polling_interval_s", 0, 86400, &r->stats_period,
		    err, errlen))
		return -1;
	if (r->stats_period < 0) {
		errf(err, errlen, "'stats_polling_interval_s' is required");
		return -1;
	}
	return 0;
}

/* ---- routing ------------------------------------------------------------------- */

static char *fault(int status, const char *msg, int *out)
{
	json_t *j = json_pack("{s:s}", "fault_message", msg);
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;

	json_decref(j);
	*out = status;
	return s;
}

/* An id in a path: 1 to 63 of [A-Za-z0-9_-]. */
static bool good_id(const char *id)
{
	size_t n = strlen(id), i;

	if (!n || n > 63)
		return false;
	for (i = 0; i < n; i++) {
		char c = id[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return false;
	}
	return true;
}

int api_handle(struct api *a, const char *method, const char *url,
	       const char *body, size_t len, char **reply)
{
	char path[API_MAX_URL + 1], err[512] = "";
	bool get = !strcmp(method, "GET"), put = !strcmp(method, "PUT");
	bool patch = !strcmp(method, "PATCH");
	struct api_request r;
	json_t *o = NULL, *out = NULL;
	const char *id = NULL;
	int status = 204, ret = -2;

	*reply = NULL;
	a->requests++;
	snprintf(path, sizeof(path), "%s", url);
	path[strcspn(path, "?#")] = '\0';
	while (strlen(path) > 1 && path[strlen(path) - 1] == '/')
		path[strlen(path) - 1] = '\0';
	if (!strncmp(path, "/drives/", 8))
		id = path + 8;
	else if (!strncmp(path, "/network-interfaces/", 20))
		id = path + 20;
	else if (!strncmp(path, "/faults/", 8))
		id = path + 8;
	if (id && !good_id(id)) {
		*reply = fault(400, "ids are 1 to 63 letters, digits, _ or -", &status);
		goto done;
	}
	if (put || patch) {
		json_error_t je;

		o = json_loadb(body ? body : "", len, JSON_REJECT_DUPLICATES, &je);
		if (!o || !json_is_object(o)) {
			snprintf(err, sizeof(err), "the body is not a JSON object%s%s",
				 o ? "" : ": ", o ? "" : je.text);
			*reply = fault(400, err, &status);
			goto done;
		}
	}
	if (get) {
		if (!strcmp(path, "/")) {
			enum api_state st = a->be->state(a->ctx);

			out = json_pack("{s:s,s:s,s:s,s:s}", "id", a->id[0] ? a->id : "vireo",
					"state", st == API_RUNNING ? "Running" :
					st == API_PAUSED ? "Paused" : "Not started",
					"vmm_version", VIREO_VERSION, "app_name", "vireo");
		} else {
			out = a->be->get(a->ctx, path, err, sizeof(err));
			if (!out) {
				*reply = fault(strstr(err, "no such") ? 404 : 400,
					       err, &status);
				goto done;
			}
		}
		status = 200;
		goto done;
	}
	if (!put && !patch) {
		*reply = fault(405, "methods: GET, PUT, PATCH", &status);
		goto done;
	}
	if (!strcmp(path, "/machine-config"))
		ret = parse_machine(o, patch, &r, err, sizeof(err));
	else if (!strcmp(path, "/boot-source") && put)
		ret = parse_boot(o, &r, err, sizeof(err));
	else if (!strncmp(path, "/drives/", 8))
		ret = parse_drive(o, id, patch, &r, err, sizeof(err));
	else if (!strncmp(path, "/network-interfaces/", 20))
		ret = parse_net(o, id, patch, &r, err, sizeof(err));
	else if (!strcmp(path, "/actions") && put)
		ret = parse_actions(o, &r, err, sizeof(err));
	else if (!strcmp(path, "/vm") && patch)
		ret = parse_vm_state(o, &r, err, sizeof(err));
	else if (!strcmp(path, "/snapshot/create") && put)
		ret = parse_snapshot(o, &r, err, sizeof(err));
	else if (!strcmp(path, "/snapshot/load") && put)
		ret = parse_load(o, &r, err, sizeof(err));
	else if (!strcmp(path, "/balloon"))
		ret = parse_balloon(o, patch, &r, err, sizeof(err));
	else if (!strcmp(path, "/migrate") && put)
		ret = parse_migrate(o, &r, err, sizeof(err));
	else if (!strcmp(path, "/balloon/statistics") && patch)
		ret = parse_balloon_stats(o, &r, err, sizeof(err));
	else if (!strncmp(path, "/faults/", 8) && put)
		ret = parse_faults(o, id, &r, err, sizeof(err));
	if (ret == -2) {
		snprintf(err, sizeof(err), "no %.16s %.400s here", method, path);
		*reply = fault(404, err, &status);
		goto done;
	}
	if (!ret)
		ret = a->be->act(a->ctx, &r, err, sizeof(err));
	if (ret == API_LATER) {
		status = 0;		/* the answer comes with api_finish() */
		goto done;
	}
	if (ret) {
		*reply = fault(400, err[0] ? err : "refused", &status);
		goto done;
	}
	status = 204;
done:
	if (out) {
		*reply = json_dumps(out, JSON_COMPACT);
		json_decref(out);
	}
	json_decref(o);
	if (status >= 400)
		a->errors++;
	return status;
}

/* ---- HTTP on the socket --------------------------------------------------------- */

static const char *reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 413: return "Payload Too Large";
	case 414: return "URI Too Long";
	default: return "Error";
	}
}

static void conn_close(struct api_conn *c);

static void conn_queue(struct api_conn *c, int status, const char *body)
{
	size_t blen = body ? strlen(body) : 0, need;
	char head[256];
	int n;

	n = snprintf(head, sizeof(head), "HTTP/1.1 %d %s\r\nServer: vireo\r\n"
		     "%sContent-Length: %zu\r\n%s\r\n", status, reason(status),
		     blen ? "Content-Type: application/json\r\n" : "", blen,
		     c->closing ? "Connection: close\r\n" : "");
	need = c->out_len + (size_t)n + blen;
	if (need > OUT_MAX) {
		c->closing = true;	/* a client that never reads */
		return;
	}
	c->out = realloc(c->out, need);
	if (!c->out) {
		c->closing = true;
		c->out_len = c->out_off = 0;
		return;
	}
	memcpy(c->out + c->out_len, head, (size_t)n);
	if (blen)
		memcpy(c->out + c->out_len + n, body, blen);
	c->out_len = need;
}

static void conn_flush(struct api_conn *c)
{
	struct vm_notify *nt = &c->a->notify;

	while (c->out_off < c->out_len && c->h.fd >= 0) {
		ssize_t n = send(c->h.fd, c->out + c->out_off,
				 c->out_len - c->out_off, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			if (!c->want_out && c->watched)
				nt->ops->rewatch(nt->ctx, &c->h, EPOLLIN | EPOLLOUT);
			c->want_out = true;
			return;
		}
		if (n <= 0) {
			c->closing = true;
			c->out_off = c->out_len;
			break;
		}
		c->out_off += (size_t)n;
	}
	c->out_off = c->out_len = 0;
	if (c->want_out && c->watched)
		nt->ops->rewatch(nt->ctx, &c->h, EPOLLIN);
	c->want_out = false;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
	struct api_conn *c = p->data;

	if (c->url_len + len > API_MAX_URL) {
		c->too_big = 414;
		return -1;
	}
	memcpy(c->url + c->url_len, at, len);
	c->url_len += len;
	c->url[c->url_len] = '\0';
	return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
	struct api_conn *c = p->data;
	char *b;

	if (c->body_len + len > API_MAX_BODY) {
		c->too_big = 413;
		return -1;
	}
	b = realloc(c->body, c->body_len + len + 1);
	if (!b) {
		c->too_big = 413;
		return -1;
	}
	c->body = b;
	memcpy(c->body + c->body_len, at, len);
	c->body_len += len;
	c->body[c->body_len] = '\0';
	return 0;
}

static int on_headers(http_parser *p)
{
	struct api_conn *c = p->data;

	/* Refuse a huge body before it arrives (1 would mean "no body"). */
	if (p->content_length != ULLONG_MAX && p->content_length > API_MAX_BODY) {
		c->too_big = 413;
		return -1;
	}
	return 0;
}

static int on_complete(http_parser *p)
{
	struct api_conn *c = p->data;
	char *reply = NULL;
	int status;

	status = api_handle(c->a, http_method_str((enum http_method)p->method),
			    c->url, c->body, c->body_len, &reply);
	if (!http_should_keep_alive(p))
		c->closing = true;
	if (status == 0) {
		/* Answered later: nothing more is read from this client
		 * until then (the loop stops watching it). */
		c->a->later = c;
		if (c->watched)
			c->a->notify.ops->unwatch(c->a->notify.ctx, &c->h);
		c->watched = false;
		http_parser_pause(p, 1);
	} else {
		conn_queue(c, status, reply);
	}
	free(reply);
	c->url_len = 0;
	c->url[0] = '\0';
	free(c->body);
	c->body = NULL;
	c->body_len = 0;
	return 0;
}

static const http_parser_settings settings = {
	.on_url = on_url,
	.on_body = on_body,
	.on_headers_complete = on_headers,
	.on_message_complete = on_complete,
};

/* Write out what is queued (the loop does this on EPOLLOUT). */
void api_conn_flush_for_tests(struct api_conn *c);
void api_conn_flush_for_tests(struct api_conn *c)
{
	conn_flush(c);
}

void api_conn_feed(struct api_conn *c, const uint8_t *buf, size_t len)
{
	size_t done;

	if (c->closing)
		return;
	done = http_parser_execute(&c->parser, &settings, (const char *)buf, len);
	if (HTTP_PARSER_ERRNO(&c->parser) == HPE_PAUSED) {
		/* A request answered later: what came after it waits. */
		free(c->stash);
		c->stash_len = len - done;
		c->stash = c->stash_len ? malloc(c->stash_len) : NULL;
		if (c->stash)
			memcpy(c->stash, buf + done, c->stash_len);
		else
			c->stash_len = 0;
		return;
	}
	if (c->too_big || done != len ||
	    HTTP_PARSER_ERRNO(&c->parser) != HPE_OK) {
		char msg[160];
		char *reply;
		int status;

		c->closing = true;
		c->draining = true;
		if (c->too_big)
			snprintf(msg, sizeof(msg), c->too_big == 413 ?
				 "the body is over %d bytes" : "the URL is over %d bytes",
				 c->too_big == 413 ? API_MAX_BODY : API_MAX_URL);
		else
			snprintf(msg, sizeof(msg), "malformed HTTP: %s",
				 http_errno_description(HTTP_PARSER_ERRNO(&c->parser)));
		reply = fault(c->too_big ? c->too_big : 400, msg, &status);
		conn_queue(c, status, reply);
		free(reply);
		c->a->errors++;
	}
}

static void on_conn(struct ev_handler *h, uint32_t events)
{
	struct api_conn *c = container_of(h, struct api_conn, h);
	uint8_t buf[4096];
	ssize_t n;

	if (events & EPOLLOUT)
		conn_flush(c);
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		n = recv(h->fd, buf, sizeof(buf), 0);
		if (n > 0 && c->draining) {
			c->drained += (size_t)n;
			if (c->drained > API_DRAIN_MAX)
				c->draining = false;
		} else if (n > 0) {
			api_conn_feed(c, buf, (size_t)n);
		} else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
			c->closing = true;
			c->draining = false;
		}
	}
	conn_flush(c);
	if (!c->closing || c->out_len || c->a->later == c)
		return;		/* (one answered later closes after it) */
	/*
	 * An error reply (413, malformed request) while the client still
	 * sends: closing now would reset the connection and lose the reply
	 * in the client's receive queue. Half-close instead and discard what
	 * still comes, up to API_DRAIN_MAX bytes, until the client closes.
	 */
	if (c->draining) {
		shutdown(h->fd, SHUT_WR);
		return;
	}
	conn_close(c);
}

struct api_conn *api_conn_new(struct api *a, int fd)
{
	struct api_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->a = a;
	c->h.fd = fd;
	c->h.fn = on_conn;
	http_parser_init(&c->parser, HTTP_REQUEST);
	c->parser.data = c;
	return c;
}

void api_conn_free(struct api_conn *c)
{
	free(c->stash);
	free(c->body);
	free(c->out);
	free(c);
}

void api_finish(struct api *a, const char *err)
{
	struct api_conn *c = a->later;
	char *reply = NULL;
	int status = 204;

	a->later = NULL;
	if (!c)
		return;
	if (err) {
		reply = fault(400, err, &status);
		a->errors++;
	}
	conn_queue(c, status, reply);
	free(reply);
	http_parser_pause(&c->parser, 0);
	if (c->stash) {
		uint8_t *s = c->stash;

		c->stash = NULL;
		api_conn_feed(c, s, c->stash_len);
		free(s);
	}
	if (a->later)
		return;		/* the stash held another one for later */
	if (!a->notify.ops->watch(a->notify.ctx, &c->h))
		c->watched = true;
	else
		c->closing = true;
	conn_flush(c);
	if (c->closing && !c->out_len)
		conn_close(c);
}

static void conn_close(struct api_conn *c)
{
	struct api *a = c->a;
	unsigned int i;

	if (c->watched)
		a->notify.ops->unwatch(a->notify.ctx, &c->h);
	if (a->later == c)
		a->later = NULL;
	close(c->h.fd);
	for (i = 0; i < API_MAX_CONNS; i++)
		if (a->conns[i] == c)
			a->conns[i] = NULL;
	api_conn_free(c);
}

static void on_accept(struct ev_handler *h, uint32_t events)
{
	struct api *a = container_of(h, struct api, listen_h);
	struct api_conn *c;
	unsigned int i;
	int fd;

	(void)events;
	fd = accept4(h->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return;
	for (i = 0; i < API_MAX_CONNS && a->conns[i]; i++)
		;
	c = i < API_MAX_CONNS ? api_conn_new(a, fd) : NULL;
	if (!c) {
		/* Too many clients at once: this one is told so, briefly. */
		static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\n"
					   "Content-Length: 0\r\nConnection: close\r\n\r\n";

		send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
		close(fd);
		return;
	}
	c->watched = !a->notify.ops->watch(a->notify.ctx, &c->h);
	if (!c->watched) {
		close(fd);
		api_conn_free(c);
		return;
	}
	a->conns[i] = c;
}

int api_init(struct api *a, const char *path, const struct vm_notify *notify,
	     const struct api_backend *be, void *ctx, char *err, size_t errlen)
{
	int fd;

	memset(a, 0, sizeof(*a));
	a->notify = *notify;
	a->be = be;
	a->ctx = ctx;
	snprintf(a->path, sizeof(a->path), "%s", path);
	fd = unix_listen(path, "--api-sock", err, errlen);
	if (fd < 0)
		return fd;
	a->path_id = unix_path_id(path);
	a->listen_h.fd = fd;
	a->listen_h.fn = on_accept;
	if (notify->ops->watch(notify->ctx, &a->listen_h)) {
		close(fd);
		unix_unlink_own(path, a->path_id);
		errf(err, errlen, "--api-sock '%s': cannot watch it", path);
		return -EIO;
	}
	a->listening = true;
	return 0;
}

void api_fini(struct api *a)
{
	unsigned int i;

	for (i = 0; i < API_MAX_CONNS; i++)
		if (a->conns[i])
			conn_close(a->conns[i]);
	if (a->listening) {
		a->notify.ops->unwatch(a->notify.ctx, &a->listen_h);
		close(a->listen_h.fd);
		unix_unlink_own(a->path, a->path_id);
	}
	a->listening = false;
}
