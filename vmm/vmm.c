// SPDX-License-Identifier: GPL-2.0
#include "vmm.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "../devices/virtio-balloon.h"
#include "../devices/virtio-blk.h"
#include "../devices/virtio-net.h"
#include "migrate.h"
#include "sandbox.h"
#include "util.h"
#include "vdevs.h"

void vmm_init(struct vmm *v, struct vm_config *cfg, struct console *con,
	      struct ev_loop *loop)
{
	memset(v, 0, sizeof(*v));
	v->cfg = cfg;
	v->con = con;
	v->loop = loop;
	v->snap_h.fd = -1;
	v->pause_h.fd = -1;
	snprintf(v->id, sizeof(v->id), "vireo-%d", (int)getpid());
}

int vmm_api(struct vmm *v, const char *path, char *err, size_t errlen)
{
	struct vm_notify nt;
	int ret;

	loop_notifier_init(&nt, v->loop);
	ret = api_init(&v->api, path, &nt, &vmm_api_backend, v, err, errlen);
	v->api_on = !ret;
	if (!ret)
		snprintf(v->api.id, sizeof(v->api.id), "%s", v->id);
	return ret;
}

/* ---- actions ---------------------------------------------------------------- */

static int need_state(struct vmm *v, enum api_state want, const char *what,
		      char *err, size_t errlen)
{
	enum api_state st = !v->built ? API_NOT_STARTED :
			    machine_paused(&v->machine) ? API_PAUSED : API_RUNNING;
	static const char *const names[] = { "not started", "running",
					     "paused" };

	if (v->built && machine_pausing(&v->machine)) {
		errf(err, errlen, "%s: the VM is pausing (a vhost-user backend "
		     "is giving back its rings); try again when PATCH /vm "
		     "has answered", what);
		return -EBUSY;
	}
	if (st == want)
		return 0;
	errf(err, errlen, "%s: the VM is %s (it must be %s)", what, names[st],
	     names[want]);
	return -EBUSY;
}

/* Add (or replace, same id) a device of class cls made from spec. */
static int put_device(struct vmm *v, const struct vdev_class *cls,
		      const char *id, const char *spec, char *err,
		      size_t errlen)
{
	struct vm_config *cfg = v->cfg;
	struct device_config dc;
	unsigned int i;

	if (config_parse_class(cls, spec, &dc, err, errlen))
		return -EINVAL;
	snprintf(dc.id, sizeof(dc.id), "%s", id);
	for (i = 0; i < cfg->nr_devices; i++) {
		if (strcmp(cfg->devices[i].id, id))
			continue;
		if (cfg->devices[i].cls != cls) {
			errf(err, errlen, "id '%s' is a %s device already", id,
			     cfg->devices[i].cls->name);
			device_config_free(&dc);
			return -EINVAL;
		}
		device_config_free(&cfg->devices[i]);
		cfg->devices[i] = dc;
		return 0;
	}
	for (i = 0; cls->once && i < cfg->nr_devices; i++) {
		if (cfg->devices[i].cls == cls) {
			errf(err, errlen, "there is a %s device already (%s)",
			     cls->name, cfg->devices[i].id);
			device_config_free(&dc);
			return -EINVAL;
		}
	}
	if (cfg->nr_devices == CONFIG_MAX_DEVICES) {
		errf(err, errlen, "at most %d devices", CONFIG_MAX_DEVICES);
		device_config_free(&dc);
		return -ENOSPC;
	}
	cfg->devices[cfg->nr_devices++] = dc;
	return 0;
}

static struct device_config *find_device(struct vmm *v, const char *id,
					 const struct vdev_class *cls)
{
	unsigned int i;

	for (i = 0; i < v->cfg->nr_devices; i++)
		if (!strcmp(v->cfg->devices[i].id, id) &&
		    (!cls || v->cfg->devices[i].cls == cls))
			return &v->cfg->devices[i];
	return NULL;
}

static struct virtio_dev *live_device(struct vmm *v, const struct vdev_class *cls)
{
	unsigned int i;

	if (!v->built)
		return NULL;
	for (i = 0; i < v->machine.nr_vdevs; i++)
		if (v->machine.vdevs[i]->cls == cls)
			return v->machine.vdevs[i]->vdev;
	return NULL;
}

/* PUT /faults/ID: the running device ID's faults, from now on. */
static int act_faults(struct vmm *v, const struct api_request *r, char *err,
		      size_t errlen)
{
	struct device_config *dc = find_device(v, r->id, NULL);
	struct machine_vdev *md = NULL;
	int ret;

	if (!v->built) {
		errf(err, errlen, "the VM has not started: faults are set on "
		     "running devices (or with inject= in their options)");
		return -1;
	}
	/* The machine's devices are the configuration's, in its order. */
	if (dc && (unsigned int)(dc - v->cfg->devices) < v->machine.nr_vdevs)
		md = v->machine.vdevs[dc - v->cfg->devices];
	if (!md) {
		errf(err, errlen, "no device '%s' (GET /metrics lists them)",
		     r->id);
		return -1;
	}
	if (!md->cls->set_faults) {
		errf(err, errlen, "device '%s' (%s) has no fault injection "
		     "(blk and net have)", r->id, md->cls->name);
		return -1;
	}
	pthread_mutex_lock(&md->vdev->lock);
	ret = md->cls->set_faults(md->vdev, r->path,
				  r->seed > 0 ? (uint64_t)r->seed : 0, err,
				  errlen);
	pthread_mutex_unlock(&md->vdev->lock);
	return ret < 0 ? -1 : 0;
}

static int act_drive(struct vmm *v, const struct api_request *r, char *err,
		     size_t errlen)
{
	struct device_config *dc = find_device(v, r->id, &virtio_blk_class);
	const struct blk_config *old = dc ? dc->cfg : NULL;
	char spec[4400];
	const char *path = r->path ? r->path : old ? old->path : NULL;
	bool ro = r->read_only >= 0 ? r->read_only : old && old->readonly;

	if (r->patch && !dc) {
		errf(err, errlen, "no drive '%s' to change", r->id);
		return -ENOENT;
	}
	if (!path || snprintf(spec, sizeof(spec), "path=%s%s", path,
			      ro ? ",readonly=on" : "") >= (int)sizeof(spec)) {
		errf(err, errlen, "'path_on_host' is missing or too long");
		return -EINVAL;
	}
	if (put_device(v, &virtio_blk_class, r->id, spec, err, errlen))
		return -EINVAL;
	if (r->root > 0)
		snprintf(v->root_drive, sizeof(v->root_drive), "%s", r->id);
	else if (r->root == 0 && !strcmp(v->root_drive, r->id))
		v->root_drive[0] = '\0';
	return 0;
}

static int act_net(struct vmm *v, const struct api_request *r, char *err,
		   size_t errlen)
{
	struct device_config *dc = find_device(v, r->id, &virtio_net_class);
	const struct net_config *old = dc ? dc->cfg : NULL;
	char spec[256], mac[24] = "";
	const char *tap = r->tap ? r->tap : old ? old->tap : NULL;

	if (r->patch && !dc) {
		errf(err, errlen, "no network interface '%s' to change", r->id);
		return -ENOENT;
	}
	if (r->mac)
		snprintf(mac, sizeof(mac), ",mac=%.17s", r->mac);
	else if (old && old->mac_set)
		snprintf(mac, sizeof(mac), ",mac=%02x:%02x:%02x:%02x:%02x:%02x",
			 old->mac[0], old->mac[1], old->mac[2], old->mac[3],
			 old->mac[4], old->mac[5]);
	if (!tap || snprintf(spec, sizeof(spec), "tap=%s%s", tap, mac) >=
		    (int)sizeof(spec)) {
		errf(err, errlen, "'host_dev_name' is missing or too long");
		return -EINVAL;
	}
	return put_device(v, &virtio_net_class, r->id, spec, err, errlen);
}

static int act_balloon(struct vmm *v, const struct api_request *r, char *err,
		       size_t errlen)
{
	char spec[256];

	snprintf(spec, sizeof(spec), "target=%lldM%s%s%s",
		 (long long)r->amount_mib,
		 r->deflate_on_oom > 0 ? ",deflate_on_oom=on" : "",
		 r->root > 0 ? ",free_page_reporting=on" : "",
		 r->stats_period > 0 ? ",stats_period=" : "");
	if (r->stats_period > 0)
		snprintf(spec + strlen(spec), sizeof(spec) - strlen(spec), "%lld",
			 (long long)r->stats_period);
	return put_device(v, &virtio_balloon_class, "balloon0", spec, err,
			  errlen);
}

/* The root= the guest needs for an is_root_device drive: its vdX. */
static void root_arg(struct vmm *v, char *buf, size_t len)
{
	unsigned int i, n = 0;

	buf[0] = '\0';
	if (!v->root_drive[0])
		return;
	for (i = 0; i < v->cfg->nr_devices; i++) {
		const struct device_config *dc = &v->cfg->devices[i];

		if (dc->cls != &virtio_blk_class)
			continue;
		if (!strcmp(dc->id, v->root_drive)) {
			snprintf(buf, len, " root=/dev/vd%c %s", 'a' + n,
				 ((const struct blk_config *)dc->cfg)->readonly ?
				 "ro" : "rw");
			return;
		}
		n++;
	}
}

/*
 * The machine is built: from here on vireo keeps only what running it
 * takes (sandbox.h). A failure stops the VM rather than run it with more
 * privilege than asked for.
 */
static int vmm_lockdown(struct vmm *v, char *err, size_t errlen)
{
	if (!sandbox_lockdown(err, errlen))
		return 0;
	vm_request_exit(&v->machine.vm, VM_EXIT_FAULT, "%s", err);
	return -EPERM;
}

/* Dirty pages tracked for diff snapshots (a warning if KVM cannot). */
static void track_dirty(struct vmm *v)
{
	if (vm_dirty_track(&v->machine.vm))
		pr_err("warning: cannot track dirty pages; diff snapshots "
		       "will be refused");
}

int vmm_start(struct vmm *v, char *err, size_t errlen)
{
	char root[64];
	int ret;

	if (v->built) {
		errf(err, errlen, "the VM has started already");
		return -EBUSY;
	}
	if (!v->cfg->kernel) {
		errf(err, errlen, "no kernel: PUT /boot-source (or --kernel) first");
		return -EINVAL;
	}
	root_arg(v, root, sizeof(root));
	if (root[0] && !strstr(v->cfg->cmdline, "root=")) {
		snprintf(v->cmdline + strlen(v->cmdline),
			 sizeof(v->cmdline) - strlen(v->cmdline), "%s", root);
		if (v->cfg->cmdline != v->cmdline) {
			char tmp[4096];

			snprintf(tmp, sizeof(tmp), "%s%s", v->cfg->cmdline, root);
			snprintf(v->cmdline, sizeof(v->cmdline), "%s", tmp);
			v->cfg->cmdline = v->cmdline;
		}
	}
	ret = machine_create(&v->machine, v->cfg, v->con, v->loop, err, errlen);
	if (ret)
		return ret;
	if (v->cfg->track_dirty)
		track_dirty(v);
	v->built = true;
	ret = vmm_lockdown(v, err, errlen);
	/* The guest's first instructions already meet filtered vCPUs. */
	if (!ret)
		vm_resume(&v->machine.vm);
	return ret;
}

/*
 * A restored machine, its state in, before its guest runs: dirty pages
 * tracked from the guest's first write (a diff snapshot misses none),
 * then vireo locked down.
 */
static int restored_before_run(void *ctx, char *err, size_t errlen)
{
	struct vmm *v = ctx;

	if (v->restore_track_dirty)
		track_dirty(v);
	if (!sandbox_lockdown(err, errlen))
		return 0;
	v->lockdown_failed = true;
	return -EPERM;
}

/*
 * A machine from a snapshot (uri NULL) or a migration stream on uri. The
 * filters are built first, so that the lockdown between the state's load
 * and the guest's first instruction is short (a migration's downtime).
 */
static int vmm_build_from(struct vmm *v, const char *uri,
			  const struct restore_opts *opts, char *err,
			  size_t errlen)
{
	struct restore_opts ro = *opts, *o = &ro;
	int ret;

	if (v->built || v->cfg->nr_devices) {
		errf(err, errlen, "a %s loads into a VM that was not configured "
		     "or started", uri ? "migration" : "snapshot");
		return -EBUSY;
	}
	if (sandbox_prepare(err, errlen))
		return -EPERM;
	o->before_run = restored_before_run;
	o->before_run_ctx = v;
	v->restore_track_dirty = o->track_dirty;
	config_free(v->cfg);
	ret = uri ? mig_incoming(&v->machine, v->cfg, uri, o, v->con, v->loop,
				 err, errlen) :
		    machine_restore(&v->machine, v->cfg, o, v->con, v->loop, err,
				    errlen);
	if (ret) {
		config_free(v->cfg);
		/* Half locked down (a jail entered, say): no second try. */
		if (v->lockdown_failed) {
			pr_err("%s; vireo stops", err);
			v->quit = true;
			v->loop->stop = true;
		}
		return ret;
	}
	v->cfg->track_dirty = o->track_dirty;
	v->built = true;
	return 0;
}

int vmm_restore(struct vmm *v, const struct restore_opts *o, char *err,
		size_t errlen)
{
	return vmm_build_from(v, NULL, o, err, errlen);
}

int vmm_incoming(struct vmm *v, const char *uri, const struct restore_opts *o,
		 char *err, size_t errlen)
{
	return vmm_build_from(v, uri, o, err, errlen);
}

static int act_load(struct vmm *v, const struct api_request *r, char *err,
		    size_t errlen)
{
	struct restore_opts o = {
		.state_path = r->state_path,
		.mem_path = r->mem_path,
		.resume = r->resume,
		.track_dirty = r->track_dirty > 0,
	};
	unsigned int i;

	for (i = 0; i < r->nr_overrides; i++) {
		snprintf(o.overrides[i].id, sizeof(o.overrides[i].id), "%s",
			 r->override_id[i]);
		if (strlen(r->override_tap[i]) >= sizeof(o.overrides[i].tap)) {
			errf(err, errlen, "tap name '%s' is too long",
			     r->override_tap[i]);
			return -EINVAL;
		}
		strcpy(o.overrides[i].tap, r->override_tap[i]);
	}
	o.nr_overrides = r->nr_overrides;
	return vmm_restore(v, &o, err, errlen);
}

/* A migration under way leaves the VM's run state to itself. */
static int migrating(struct vmm *v, char *err, size_t errlen)
{
	struct mig_progress p;

	if (!v->mig)
		return 0;
	mig_progress(v->mig, &p);
	if (p.state != MIG_ACTIVE && p.state != MIG_COMPLETING)
		return 0;
	errf(err, errlen, "a migration is under way (GET /migrate)");
	return -1;
}

/* The snapshot writer is done: name the files, answer the client. */
static void on_snap_done(struct ev_handler *h, uint32_t events)
{
	struct vmm *v = container_of(h, struct vmm, snap_h);
	char err[512];
	int ret;

	(void)events;
	eventfd_drain(h->fd);
	if (!v->snap)
		return;
	ret = machine_snapshot_end(v->snap, err, sizeof(err));
	v->snap = NULL;
	if (v->api_on)
		api_finish(&v->api, ret ? err : NULL);
}

/* An eventfd on the loop for work that ends later (h->fd, once). */
static int watch_done(struct vmm *v, struct ev_handler *h, bool *watched,
		      void (*fn)(struct ev_handler *h, uint32_t events))
{
	if (h->fd >= 0)
		return 0;
	h->fd = eventfd_new();
	h->fn = fn;
	if (h->fd < 0 || ev_add(v->loop, h, EPOLLIN)) {
		if (h->fd >= 0)
			close(h->fd);
		h->fd = -1;
		return -1;
	}
	*watched = true;
	return 0;
}

static void unwatch_done(struct vmm *v, struct ev_handler *h, bool *watched)
{
	if (*watched)
		ev_del(v->loop, h);
	*watched = false;
	if (h->fd >= 0)
		close(h->fd);
	h->fd = -1;
}

/*
 * A pause waiting for backends ends (now, bounded, if they still owe
 * anything); its PATCH is answered: done, or why not (why).
 */
static void pause_end(struct vmm *v, const char *why)
{
	if (v->built)
		machine_pause_end(&v->machine);
	if (v->pause_reply_owed && v->api_on)
		api_finish(&v->api, why);
	v->pause_reply_owed = false;
}

/* The backends gave the rings' state: the pause is done. */
static void on_paused(struct ev_handler *h, uint32_t events)
{
	(void)events;
	eventfd_drain(h->fd);
	pause_end(container_of(h, struct vmm, pause_h), NULL);
}

void vmm_machine_ending(struct vmm *v)
{
	pause_end(v, "the VM restarted while it was pausing");
}

/*
 * PATCH /vm Paused: the vCPUs stop at once; a device whose backend
 * (vhost-user) owes its rings' state gets it on the loop, and the reply
 * comes when it has.
 */
static int act_pause(struct vmm *v, char *err, size_t errlen)
{
	if (watch_done(v, &v->pause_h, &v->pause_watched, on_paused)) {
		errf(err, errlen, "cannot wait for the devices to pause");
		return -1;
	}
	if (!machine_pause_begin(&v->machine, v->pause_h.fd))
		return 0;
	v->pause_reply_owed = true;
	return API_LATER;
}

/*
 * PUT /snapshot/create: the state is taken here, the files are written
 * by a worker while the loop goes on (the API, the console, Ctrl-A x);
 * the reply comes when they are on disk.
 */
static int act_snapshot(struct vmm *v, const struct api_request *r, char *err,
			size_t errlen)
{
	if (watch_done(v, &v->snap_h, &v->snap_watched, on_snap_done)) {
		errf(err, errlen, "cannot wait for a snapshot writer");
		return -1;
	}
	if (machine_snapshot_begin(&v->machine, r->state_path, r->mem_path,
				   r->diff ? r->path : NULL, v->snap_h.fd,
				   &v->snap, err, errlen))
		return -1;
	return API_LATER;
}

/* The snapshot being written, if any, to its end (vireo is stopping). */
static void snap_wait(struct vmm *v)
{
	char err[512];

	if (v->snap && machine_snapshot_end(v->snap, err, sizeof(err)))
		pr_err("the snapshot being written when vireo stopped: %s", err);
	v->snap = NULL;
	unwatch_done(v, &v->snap_h, &v->snap_watched);
	pause_end(v, "vireo stopped while the VM was pausing");
	unwatch_done(v, &v->pause_h, &v->pause_watched);
}

static int act_migrate(struct vmm *v, const struct api_request *r, char *err,
		       size_t errlen)
{
	struct mig_opts o = { 0 };

	if (!v->built) {
		errf(err, errlen, "the VM has not started");
		return -1;
	}
	if (migrating(v, err, errlen) ||
	    mig_parse_uri(r->path, &o, err, errlen))
		return -1;
	if (r->mig_local > 0)
		o.local = true;
	if (o.local && strncmp(o.to, "unix:", 5)) {
		errf(err, errlen, "'local' hands the memory over a unix socket: "
		     "the destination must be unix:PATH");
		return -1;
	}
	o.max_downtime_ms = (unsigned int)MAX(r->max_downtime_ms, 0);
	o.bandwidth_mbps = (unsigned int)MAX(r->bandwidth_mbps, 0);
	o.max_rounds = (unsigned int)MAX(r->max_rounds, 0);
	return mig_start(&v->mig, &v->machine, v->loop, &o, err, errlen) ? -1 : 0;
}

static int act(void *ctx, const struct api_request *r, char *err,
	       size_t errlen)
{
	struct vmm *v = ctx;
	struct vm_config *cfg = v->cfg;
	struct virtio_dev *bd;

	if (v->snap) {
		errf(err, errlen, "a snapshot is being written (its PUT "
		     "/snapshot/create has not been answered yet)");
		return -1;
	}
	switch (r->action) {
	case API_MACHINE_CONFIG:
		if (need_state(v, API_NOT_STARTED, "machine-config", err, errlen))
			return -1;
		if (r->vcpu_count > 0)
			cfg->cpus = (unsigned int)r->vcpu_count;
		if (r->mem_size_mib > 0)
			cfg->mem_size = (uint64_t)r->mem_size_mib << 20;
		if (r->track_dirty >= 0)
			cfg->track_dirty = r->track_dirty;
		return 0;
	case API_BOOT_SOURCE:
		if (need_state(v, API_NOT_STARTED, "boot-source", err, errlen))
			return -1;
		snprintf(v->kernel, sizeof(v->kernel), "%s", r->kernel);
		cfg->kernel = v->kernel;
		snprintf(v->initrd, sizeof(v->initrd), "%s", r->initrd ? r->initrd : "");
		cfg->initrd = r->initrd ? v->initrd : NULL;
		if (r->boot_args) {
			snprintf(v->cmdline, sizeof(v->cmdline), "%s", r->boot_args);
			cfg->cmdline = v->cmdline;
			cfg->cmdline_set = true;
		}
		return 0;
	case API_DRIVE:
		if (need_state(v, API_NOT_STARTED, "drives", err, errlen))
			return -1;
		return act_drive(v, r, err, errlen);
	case API_NET:
		if (need_state(v, API_NOT_STARTED, "network-interfaces", err,
			       errlen))
			return -1;
		return act_net(v, r, err, errlen);
	case API_BALLOON:
		if (need_state(v, API_NOT_STARTED, "balloon", err, errlen))
			return -1;
		return act_balloon(v, r, err, errlen);
	case API_START:
		return vmm_start(v, err, errlen);
	case API_CTRL_ALT_DEL:
		if (!v->built) {
			errf(err, errlen, "the VM has not started "
			     "(InstanceStart first)");
			return -1;
		}
		if (i8042_ctrl_alt_del(&v->machine.i8042)) {
			errf(err, errlen, "the keyboard's buffer is full: the "
			     "guest is not reading its keyboard (is its i8042 "
			     "driver there?); \"Poweroff\" stops the VM");
			return -1;
		}
		return 0;
	case API_POWEROFF:
		if (!v->built) {
			v->quit = true;
			v->loop->stop = true;
			return 0;
		}
		vm_request_exit(&v->machine.vm, VM_EXIT_USER,
				"stopped through the API");
		return 0;
	case API_FLUSH_METRICS:
		return 0;		/* GET /metrics is always current */
	case API_MIGRATE:
		return act_migrate(v, r, err, errlen);
	case API_FAULTS:
		return act_faults(v, r, err, errlen);
	case API_PAUSE:
		if (migrating(v, err, errlen) ||
		    need_state(v, API_RUNNING, "pause", err, errlen) ||
		    machine_can_pause(&v->machine, err, errlen))
			return -1;
		return act_pause(v, err, errlen);
	case API_RESUME:
		if (migrating(v, err, errlen) ||
		    need_state(v, API_PAUSED, "resume", err, errlen))
			return -1;
		machine_resume(&v->machine);
		return 0;
	case API_SNAPSHOT:
		if (migrating(v, err, errlen) ||
		    need_state(v, API_PAUSED, "snapshot/create", err, errlen))
			return -1;
		return act_snapshot(v, r, err, errlen);
	case API_LOAD:
		return act_load(v, r, err, errlen);
	case API_BALLOON_TARGET:
	case API_BALLOON_STATS_PERIOD:
		bd = live_device(v, &virtio_balloon_class);
		if (!bd) {
			errf(err, errlen, v->built ? "there is no balloon" :
			     "the VM has not started (PUT /balloon to set it up)");
			return -1;
		}
		if (r->action == API_BALLOON_TARGET) {
			pthread_mutex_lock(&bd->lock);
			virtio_balloon_set_target(bd->priv,
						  (uint64_t)r->amount_mib << 20);
			pthread_mutex_unlock(&bd->lock);
			return 0;
		}
		if (virtio_balloon_set_period(bd->priv,
					      (unsigned int)r->stats_period)) {
			errf(err, errlen, "cannot set the statistics timer");
			return -1;
		}
		return 0;
	}
	errf(err, errlen, "not supported");
	return -1;
}

/* ---- GETs -------------------------------------------------------------------- */

static json_t *machine_json(struct vmm *v)
{
	return json_pack("{s:i,s:I,s:b,s:b}", "vcpu_count", (int)v->cfg->cpus,
			 "mem_size_mib", (json_int_t)(v->cfg->mem_size >> 20),
			 "smt", 0, "track_dirty_pages", v->cfg->track_dirty);
}

static json_t *config_json(struct vmm *v)
{
	json_t *drives = json_array(), *nets = json_array(), *devs = json_array();
	json_t *balloon = json_null(), *boot;
	unsigned int i;

	for (i = 0; i < v->cfg->nr_devices; i++) {
		const struct device_config *dc = &v->cfg->devices[i];

		json_array_append_new(devs, json_pack("{s:s,s:s,s:s}", "id", dc->id,
						      "class", dc->cls->name,
						      "options", dc->spec ? dc->spec : ""));
		if (dc->cls == &virtio_blk_class) {
			const struct blk_config *b = dc->cfg;

			if (b->vhost_user[0] || b->vhost_vdpa[0])
				continue;
			json_array_append_new(drives, json_pack(
				"{s:s,s:s,s:b,s:b}", "drive_id", dc->id,
				"path_on_host", b->path, "is_root_device",
				!strcmp(dc->id, v->root_drive),
				"is_read_only", b->readonly));
		} else if (dc->cls == &virtio_net_class) {
			const struct net_config *n = dc->cfg;
			char mac[18];

			if (!n->tap[0])
				continue;
			snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x",
				 n->mac[0], n->mac[1], n->mac[2], n->mac[3],
				 n->mac[4], n->mac[5]);
			json_array_append_new(nets, n->mac_set ?
				json_pack("{s:s,s:s,s:s}", "iface_id", dc->id,
					  "host_dev_name", n->tap, "guest_mac", mac) :
				json_pack("{s:s,s:s}", "iface_id", dc->id,
					  "host_dev_name", n->tap));
		} else if (dc->cls == &virtio_balloon_class) {
			const struct balloon_config *b = dc->cfg;

			json_decref(balloon);
			balloon = json_pack("{s:I,s:b,s:i}", "amount_mib",
					    (json_int_t)(b->target >> 20),
					    "deflate_on_oom", b->deflate_on_oom,
					    "stats_polling_interval_s",
					    (int)b->stats_period);
		}
	}
	boot = v->cfg->kernel ?
	       json_pack("{s:s,s:s?,s:s}", "kernel_image_path", v->cfg->kernel,
			 "initrd_path", v->cfg->initrd, "boot_args",
			 v->cfg->cmdline ? v->cfg->cmdline : "") : json_null();
	return json_pack("{s:o,s:o,s:o,s:o,s:o,s:o}", "boot-source", boot,
			 "machine-config", machine_json(v), "drives", drives,
			 "network-interfaces", nets, "balloon", balloon,
			 "vireo-devices", devs);
}

static json_t *balloon_stats_json(struct vmm *v, char *err, size_t errlen)
{
	static const char *const names[BALLOON_NR_TAGS] = {
		"swap_in", "swap_out", "major_faults", "minor_faults",
		"free_memory", "total_memory", "available_memory",
		"disk_caches", "hugetlb_allocations", "hugetlb_failures",
	};
	struct virtio_dev *bd = live_device(v, &virtio_balloon_class);
	struct balloon_report r;
	json_t *j;
	unsigned int i;

	if (!bd) {
		errf(err, errlen, "no such thing: no running balloon");
		return NULL;
	}
	virtio_balloon_report(bd->priv, &r);
	j = json_pack("{s:I,s:I,s:I,s:I}", "target_pages",
		      (json_int_t)r.target_pages, "actual_pages",
		      (json_int_t)r.actual_pages, "target_mib",
		      (json_int_t)(r.target_pages >> 8), "actual_mib",
		      (json_int_t)(r.actual_pages >> 8));
	/* vireo's own: what it did with what the guest gave. */
	json_object_set_new(j, "vireo", json_pack("{s:I,s:I,s:I,s:I,s:I}",
		"inflated_pages", (json_int_t)r.count.inflated,
		"deflated_pages", (json_int_t)r.count.deflated,
		"ignored_pfns", (json_int_t)r.count.ignored,
		"released_mib", (json_int_t)(r.count.released >> 20),
		"reported_mib", (json_int_t)(r.count.reported >> 20)));
	for (i = 0; i < BALLOON_NR_TAGS; i++)
		if (names[i] && (r.seen & (1U << i)))
			json_object_set_new(j, names[i], json_integer((json_int_t)r.stat[i]));
	return j;
}

static json_t *metrics_json(struct vmm *v)
{
	json_t *devs = json_object();
	unsigned int i;

	for (i = 0; v->built && i < v->machine.nr_vdevs; i++) {
		struct machine_vdev *md = v->machine.vdevs[i];
		char line[4400] = "";

		if (md->cls->stats_line)
			md->cls->stats_line(md->vdev, line, sizeof(line));
		json_object_set_new(devs, v->cfg->devices[i].id, json_pack(
			"{s:s,s:I,s:I,s:I,s:I,s:s}", "class", md->cls->name,
			"kicks", (json_int_t)md->vdev->kicks, "interrupts",
			(json_int_t)md->vdev->interrupts, "driver_violations",
			(json_int_t)md->vdev->nr_violations, "faults_injected",
			(json_int_t)md->vdev->injected, "counters", line));
	}
	return json_pack("{s:o,s:{s:I,s:I}}", "devices", devs, "api",
			 "requests", (json_int_t)v->api.requests, "errors",
			 (json_int_t)v->api.errors);
}

static json_t *migrate_json(struct vmm *v)
{
	static const char *const names[] = {
		[MIG_NONE] = "none", [MIG_ACTIVE] = "active",
		[MIG_COMPLETING] = "completing", [MIG_COMPLETED] = "completed",
		[MIG_FAILED] = "failed",
	};
	struct mig_progress p = { .state = MIG_NONE };

	if (v->mig)
		mig_progress(v->mig, &p);
	if (p.state == MIG_COMPLETED)
		v->mig_told = true;
	return json_pack("{s:s,s:I,s:I,s:I,s:I,s:f,s:I,s:I,s:s}",
			 "state", names[p.state], "round", (json_int_t)p.round,
			 "pages_sent", (json_int_t)p.pages_sent,
			 "bytes_sent", (json_int_t)p.bytes_sent,
			 "dirty_pages", (json_int_t)p.dirty_pages,
			 "mbps", p.mbps, "total_ms", (json_int_t)p.total_ms,
			 "downtime_ms", (json_int_t)p.downtime_ms,
			 "error", p.error);
}

static json_t *get(void *ctx, const char *what, char *err, size_t errlen)
{
	struct vmm *v = ctx;

	if (!strcmp(what, "/machine-config"))
		return machine_json(v);
	if (!strcmp(what, "/vm/config"))
		return config_json(v);
	if (!strcmp(what, "/metrics"))
		return metrics_json(v);
	if (!strcmp(what, "/balloon/statistics"))
		return balloon_stats_json(v, err, errlen);
	if (!strcmp(what, "/migrate"))
		return migrate_json(v);
	if (!strcmp(what, "/balloon")) {
		json_t *c = config_json(v), *b = json_incref(json_object_get(c, "balloon"));

		json_decref(c);
		if (json_is_null(b)) {
			json_decref(b);
			errf(err, errlen, "no such thing: no balloon configured");
			return NULL;
		}
		return b;
	}
	errf(err, errlen, "no such resource: GET %s", what);
	return NULL;
}

static enum api_state state(void *ctx)
{
	struct vmm *v = ctx;

	/* Pausing: the vCPUs are stopped already. */
	return !v->built ? API_NOT_STARTED :
	       machine_paused(&v->machine) || machine_pausing(&v->machine) ?
	       API_PAUSED : API_RUNNING;
}

const struct api_backend vmm_api_backend = {
	.state = state,
	.act = act,
	.get = get,
};

/* ---- a config file ---------------------------------------------------------- */

/* One API request from a piece of the file; -1 with err on a refusal. */
static int replay(struct vmm *v, const char *url, json_t *body, char *err,
		  size_t errlen)
{
	char *text = json_dumps(body, JSON_COMPACT), *reply = NULL;
	int status = api_handle(&v->api, "PUT", url, text, text ? strlen(text) : 0,
				&reply);
	int ret = 0;

	if (status >= 300) {
		json_t *j = reply ? json_loads(reply, 0, NULL) : NULL;
		const char *msg = json_string_value(json_object_get(j, "fault_message"));

		errf(err, errlen, "%s: %s", url, msg ? msg : "refused");
		json_decref(j);
		ret = -1;
	}
	free(text);
	free(reply);
	return ret;
}

int vmm_config_file(struct vmm *v, const char *path, char *err, size_t errlen)
{
	json_error_t je;
	json_t *j = json_load_file(path, JSON_REJECT_DUPLICATES, &je), *x;
	char url[256], why[1024];
	const char *key;
	size_t i;
	int ret = 0;

	if (!j || !json_is_object(j)) {
		errf(err, errlen, "--config-file '%s': %s (line %d)", path,
		     j ? "not a JSON object" : je.text, j ? 0 : je.line);
		json_decref(j);
		return -1;
	}
	v->api.be = &vmm_api_backend;
	v->api.ctx = v;
	json_object_foreach(j, key, x) {
		if (json_is_null(x))
			continue;
		if (!strcmp(key, "boot-source") || !strcmp(key, "machine-config") ||
		    !strcmp(key, "balloon")) {
			snprintf(url, sizeof(url), "/%s", key);
			ret = replay(v, url, x, why, sizeof(why));
		} else if (!strcmp(key, "drives") || !strcmp(key, "network-interfaces")) {
			json_t *e;

			json_array_foreach(x, i, e) {
				const char *id = json_string_value(json_object_get(e,
					key[0] == 'd' ? "drive_id" : "iface_id"));

				snprintf(url, sizeof(url), "/%s/%s", key, id ? id : "");
				ret = replay(v, url, e, why, sizeof(why));
				if (ret)
					break;
			}
		} else if (!strcmp(key, "vireo-devices")) {
			json_t *e;

			json_array_foreach(x, i, e) {
				const char *id = json_string_value(json_object_get(e, "id"));
				const char *cls = json_string_value(json_object_get(e, "class"));
				const char *spec = json_string_value(json_object_get(e, "options"));
				const struct vdev_class *c = cls ?
					config_find_class(cls, strlen(cls)) : NULL;

				/* Drives and NICs came as such already. */
				if (id && find_device(v, id, NULL))
					continue;
				if (!id || !c || !spec) {
					snprintf(why, sizeof(why), "vireo-devices[%zu]: "
						 "needs id, a known class and options", i);
					ret = -1;
					break;
				}
				ret = put_device(v, c, id, spec, why, sizeof(why));
				if (ret)
					break;
			}
		} else {
			snprintf(why, sizeof(why), "unknown section '%s'", key);
			ret = -1;
		}
		if (ret)
			break;
	}
	if (ret)
		errf(err, errlen, "--config-file '%s': %s", path, why);
	json_decref(j);
	return ret ? -1 : 0;
}

/* ---- running ------------------------------------------------------------------ */

void vmm_run(struct vmm *v)
{
	while (!v->quit) {
		v->loop->stop = false;
		if (ev_run(v->loop))
			break;
		if (v->built && v->machine.vm.exit_reason != VM_EXIT_NONE)
			break;
	}
	/* Moved away: a 'ctl migrate' polling the API gets to read the
	 * outcome (up to 2 s) before this process goes. */
	if (v->built && v->machine.vm.exit_reason == VM_EXIT_MIGRATED &&
	    v->api_on) {
		int i;

		v->loop->stop = false;		/* dispatch again */
		for (i = 0; i < 20 && !v->mig_told && !v->loop->stop; i++)
			ev_run_once(v->loop, 100);
		for (i = 0; i < 5 && !v->loop->stop; i++)	/* the reply goes out */
			ev_run_once(v->loop, 20);
	}
	if (v->built) {
		console_release_writers(v->con, true);
		vm_stop(&v->machine.vm);
	}
}

void vmm_fini(struct vmm *v)
{
	snap_wait(v);
	mig_free(v->mig);
	v->mig = NULL;
	if (v->built)
		machine_destroy(&v->machine);
	v->built = false;
	if (v->api_on)
		api_fini(&v->api);
	v->api_on = false;
}
