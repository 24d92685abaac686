// SPDX-License-Identifier: GPL-2.0
/* Pause, snapshot and restore of the default machine (machine.h). */
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../devices/virtio-console.h"
#include "../devices/virtio-net.h"
#include "loop.h"
#include "machine.h"
#include "sandbox.h"
#include "snapshot.h"
#include "util.h"

int machine_can_pause(const struct machine *m, char *err, size_t errlen)
{
	unsigned int i;

	for (i = 0; i < m->nr_vdevs; i++) {
		const struct machine_vdev *md = m->vdevs[i];
		const char *why;

		if (!md->cls->cannot_pause)
			continue;
		why = md->cls->cannot_pause(md->vdev);
		if (why) {
			errf(err, errlen, "%s: %s; pausing, snapshots and "
			     "migration are refused for this VM",
			     m->cfg->devices[i].id, why);
			return -ENOTSUP;
		}
	}
	return 0;
}

/*
 * The vCPUs are stopped: the guest's clock stands still from now, its
 * TSCs with it (vcpu-state.h: vm_clock_pause(), vm_tsc_follow_clock()).
 */
static void pause_clock(struct machine *m)
{
	uint64_t ns;

	/* (no clock read: none set back at the resume, as before) */
	m->paused_tsc_ok = !vm_clock_pause(&m->vm, &ns, &m->paused_tsc);
	memset(&m->paused_clock, 0, sizeof(m->paused_clock));
	m->paused_clock.clock = ns;
}

static void pause_finish(struct machine *m)
{
	m->pausing = false;
	m->paused = true;
}

void machine_pause(struct machine *m)
{
	unsigned int i;

	if (m->paused)
		return;
	if (m->pausing) {
		machine_pause_end(m);
		return;
	}
	vm_pause(&m->vm);
	for (i = 0; i < m->nr_vdevs; i++)
		virtio_dev_quiesce(m->vdevs[i]->vdev);
	pause_clock(m);
	pause_finish(m);
}

/* A device has its rings' state (on the loop, its lock held). */
static void dev_paused(void *ctx)
{
	struct machine *m = ctx;

	if (m->pause_waiting && !--m->pause_waiting && m->pause_efd >= 0)
		eventfd_signal(m->pause_efd);
}

int machine_pause_begin(struct machine *m, int efd)
{
	unsigned int i;

	if (m->paused || m->pausing)
		return m->pausing;
	vm_pause(&m->vm);
	pause_clock(m);
	m->pause_waiting = 0;
	m->pause_efd = efd;
	for (i = 0; i < m->nr_vdevs; i++)
		if (virtio_dev_quiesce_async(m->vdevs[i]->vdev, dev_paused, m))
			m->pause_waiting++;
	if (!m->pause_waiting) {
		pause_finish(m);
		return 0;
	}
	m->pausing = true;
	return 1;
}

void machine_pause_end(struct machine *m)
{
	unsigned int i;

	if (!m->pausing)
		return;
	/* Whatever is still owed, waited for (bounded): vireo is stopping,
	 * or a migration needs the machine still now. */
	for (i = 0; m->pause_waiting && i < m->nr_vdevs; i++)
		virtio_dev_settle(m->vdevs[i]->vdev);
	m->pause_waiting = 0;
	pause_finish(m);
}

bool machine_pausing(const struct machine *m)
{
	return m->pausing;
}

void machine_resume(struct machine *m)
{
	unsigned int i;

	if (!m->paused)
		return;
	if (m->paused_clock.clock) {
		struct kvm_clock_data c = { .clock = m->paused_clock.clock };
		int ret;

		ioctl(m->vm.vm_fd, KVM_SET_CLOCK, &c);
		ret = m->paused_tsc_ok ?
		      vm_tsc_follow_clock(&m->vm, m->paused_tsc, c.clock) : 0;
		if (ret)
			fprintf(stderr, "vireo: the guest's TSC could not be set "
				"back with its clock (%s): it runs ahead of "
				"kvm-clock by the pause\n", strerror(-ret));
	}
	for (i = 0; i < m->nr_vdevs; i++)
		virtio_dev_unquiesce(m->vdevs[i]->vdev);
	vm_resume(&m->vm);
	m->paused = false;
}

bool machine_paused(const struct machine *m)
{
	return m->paused;
}

/* ---- snapshot ----------------------------------------------------------- */

/* What device i is: its class, id, options (no state). */
static void save_dev_config(const struct machine *m, unsigned int i,
			    struct snapshot_dev *sd)
{
	const struct machine_vdev *md = m->vdevs[i];
	const struct device_config *dc = &m->cfg->devices[i];

	sd->cls = md->cls;
	snprintf(sd->id, sizeof(sd->id), "%s", dc->id);
	snprintf(sd->spec, sizeof(sd->spec), "%s", dc->spec ? dc->spec : "");
	sd->opts = dc->virtio;
	if (md->cls == &virtio_console_class)
		sd->console = *(const struct console_config *)dc->cfg;
	sd->pci = md->transport == VIRTIO_PCI;
}

static int save_dev(struct machine *m, unsigned int i, struct snapshot_dev *sd)
{
	struct machine_vdev *md = m->vdevs[i];

	save_dev_config(m, i, sd);
	if (sd->pci)
		virtio_pci_save(&md->pci, &sd->pci_state);
	else
		virtio_mmio_save(&md->mmio, &sd->mmio_state);
	virtio_dev_save(md->vdev, &sd->virtio);
	if (md->cls->save) {
		pthread_mutex_lock(&md->vdev->lock);
		sd->dev_state_len = (uint32_t)md->cls->save(md->vdev, sd->dev_state,
							     sizeof(sd->dev_state));
		pthread_mutex_unlock(&md->vdev->lock);
	}
	return 0;
}

int machine_state_encode(struct machine *m, const char *base, uint8_t **blob,
			 size_t *len, char *err, size_t errlen)
{
	struct snapshot s;
	unsigned int i;
	int ret;

	*blob = NULL;
	if (!m->paused) {
		errf(err, errlen, "the VM is not paused");
		return -EBUSY;
	}
	memset(&s, 0, sizeof(s));
	s.mem_size = m->vm.mem.ram_size;
	s.cpus = m->vm.nr_vcpus;
	s.virtio_console = m->cfg->virtio_console;
	if (base) {
		s.diff = true;
		snprintf(s.mem_base, sizeof(s.mem_base), "%s", base);
	}
	s.vcpu = calloc(s.cpus, sizeof(*s.vcpu));
	s.dev = calloc(m->nr_vdevs ? m->nr_vdevs : 1, sizeof(*s.dev));
	if (!s.vcpu || !s.dev) {
		ret = -ENOMEM;
		goto out;
	}
	for (i = 0; i < s.cpus; i++) {
		ret = vcpu_state_save(&m->vm, i, &s.vcpu[i]);
		if (ret) {
			errf(err, errlen, "cannot read vCPU %u's state: %s", i,
			     strerror(-ret));
			goto out;
		}
	}
	ret = vm_kvm_state_save(&m->vm, &s.kvm);
	if (ret) {
		errf(err, errlen, "cannot read the VM's state: %s", strerror(-ret));
		goto out;
	}
	if (m->paused_clock.clock) {
		uint64_t tsc0;

		/* The TSCs as they were beside the clock (to each other as now). */
		s.kvm.clock = m->paused_clock;
		if (m->paused_tsc_ok && s.cpus && vcpu_state_tsc(&s.vcpu[0], &tsc0))
			for (i = 0; i < s.cpus; i++)
				vcpu_state_add_tsc(&s.vcpu[i], m->paused_tsc - tsc0);
	}
	serial_save(&m->com1, &s.com1);
	rtc_save(&m->rtc, &s.rtc);
	i8042_save(&m->i8042, &s.i8042);
	s.nr_devs = m->nr_vdevs;
	for (i = 0; i < m->nr_vdevs; i++)
		save_dev(m, i, &s.dev[i]);
	ret = snapshot_encode(&s, blob, len);
	if (ret)
		errf(err, errlen, "cannot encode the state: %s", strerror(-ret));
out:
	snapshot_free(&s);
	return ret;
}

int machine_config_encode(const struct machine *m, uint8_t **blob,
			  size_t *len)
{
	struct snapshot s;
	unsigned int i;
	int ret = -ENOMEM;

	*blob = NULL;
	memset(&s, 0, sizeof(s));
	s.mem_size = m->vm.mem.ram_size;
	s.cpus = m->vm.nr_vcpus;
	s.virtio_console = m->cfg->virtio_console;
	s.vcpu = calloc(s.cpus, sizeof(*s.vcpu));
	s.dev = calloc(m->nr_vdevs ? m->nr_vdevs : 1, sizeof(*s.dev));
	if (!s.vcpu || !s.dev)
		goto out;
	/* (a state file's vCPU has an xsave area: an empty one) */
	for (i = 0; i < s.cpus; i++) {
		s.vcpu[i].xsave = calloc(1, sizeof(struct kvm_xsave));
		if (!s.vcpu[i].xsave)
			goto out;
		s.vcpu[i].xsave_size = sizeof(struct kvm_xsave);
	}
	s.nr_devs = m->nr_vdevs;
	for (i = 0; i < s.nr_devs; i++) {
		struct machine_vdev *md = m->vdevs[i];

		save_dev_config(m, i, &s.dev[i]);
		/* What a target needs to build the device without its
		 * backend (held by this process until the switch). */
		if (md->cls->save) {
			pthread_mutex_lock(&md->vdev->lock);
			s.dev[i].dev_state_len = (uint32_t)md->cls->save(
				md->vdev, s.dev[i].dev_state,
				sizeof(s.dev[i].dev_state));
			pthread_mutex_unlock(&md->vdev->lock);
		}
	}
	ret = snapshot_encode(&s, blob, len);
out:
	snapshot_free(&s);
	return ret;
}

const char *machine_vhost_device(const struct machine *m)
{
	unsigned int i;

	for (i = 0; i < m->nr_vdevs; i++)
		if ((m->cfg->devices[i].spec &&
		     strstr(m->cfg->devices[i].spec, "vhost-user=")) ||
		    m->vdevs[i]->vdev->external)
			return m->cfg->devices[i].id;
	return NULL;
}

const char *machine_cannot_move(const struct machine *m, bool local,
				char *why, size_t len)
{
	unsigned int i;

	for (i = 0; i < m->nr_vdevs; i++) {
		const struct machine_vdev *md = m->vdevs[i];
		const char *r = md->cls->cannot_move ?
				md->cls->cannot_move(md->vdev, local) : NULL;

		if (r) {
			snprintf(why, len, "%s: %s", m->cfg->devices[i].id, r);
			return why;
		}
	}
	return NULL;
}

/* Device i's backend logs into log (NULL: stops). -errno with err. */
static int dev_log(struct machine *m, unsigned int i, uint64_t *log, char *err,
		   size_t errlen)
{
	struct machine_vdev *md = m->vdevs[i];
	char why[256] = "";
	int ret;

	if (!md->cls->dirty_log) {
		if (!log || !md->vdev->external)
			return 0;
		errf(err, errlen, "%s is served by a backend whose writes to "
		     "guest memory vireo cannot follow", m->cfg->devices[i].id);
		return -ENOTSUP;
	}
	pthread_mutex_lock(&md->vdev->lock);
	ret = md->cls->dirty_log(md->vdev, log, why, sizeof(why));
	pthread_mutex_unlock(&md->vdev->lock);
	if (ret)
		errf(err, errlen, "%s: %s", m->cfg->devices[i].id, why);
	return ret;
}

int machine_locks(struct machine *m, bool take, char *err, size_t errlen)
{
	unsigned int i;
	char why[512];
	int ret = 0;

	for (i = 0; i < m->nr_vdevs; i++) {
		struct machine_vdev *md = m->vdevs[i];
		int r;

		if (!md->cls->lock)
			continue;
		pthread_mutex_lock(&md->vdev->lock);
		r = md->cls->lock(md->vdev, take, why, sizeof(why));
		pthread_mutex_unlock(&md->vdev->lock);
		if (r && !ret) {
			ret = r;
			errf(err, errlen, "%s", why);
		}
	}
	return ret;
}

int machine_backend_log(struct machine *m, bool on, char *err, size_t errlen)
{
	unsigned int i;
	int ret = 0;

	if (!on) {
		for (i = 0; i < m->nr_vdevs; i++)
			if (dev_log(m, i, NULL, err, errlen) && !ret)
				ret = -EIO;
		/* A backend that may still log into it keeps it (leaked). */
		if (!ret)
			vm_backend_log_free(&m->vm);
		else
			m->vm.backend_log = NULL;
		return ret;
	}
	ret = vm_backend_log_alloc(&m->vm);
	if (ret) {
		errf(err, errlen, "no memory for the backends' dirty log");
		return ret;
	}
	for (i = 0; i < m->nr_vdevs && !ret; i++)
		ret = dev_log(m, i, m->vm.backend_log, err, errlen);
	if (ret) {
		while (i--)
			dev_log(m, i, NULL, NULL, 0);
		vm_backend_log_free(&m->vm);
	}
	return ret;
}

struct snap_job {
	struct machine *m;
	bool diff;
	uint8_t *blob;
	size_t len;
	char mem_path[4096], state_path[4096];
	char mem_tmp[4200], state_tmp[4200];
	int mem_fd, state_fd;
	int done_fd;
	pthread_t thread;
	int ret;			/* the writer's: -errno */
	bool mem_failed;		/* ... and which file it was */
};

static void job_free(struct snap_job *j)
{
	if (j->mem_fd >= 0)
		close(j->mem_fd);
	if (j->state_fd >= 0)
		close(j->state_fd);
	if (j->ret) {
		unlink(j->mem_tmp);
		unlink(j->state_tmp);
	}
	free(j->blob);
	free(j);
}

/* A file beside path (path.tmp), to be renamed over it when complete. */
static int open_tmp(const char *path, char *tmp, size_t tmplen, const char *what,
		    char *err, size_t errlen)
{
	int fd;

	if (snprintf(tmp, tmplen, "%s.tmp", path) >= (int)tmplen) {
		errf(err, errlen, "%s file '%s': the path is too long", what, path);
		return -ENAMETOOLONG;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		errf(err, errlen, "%s file '%s': %s", what, tmp, strerror(errno));
		return -errno;
	}
	return fd;
}

/* The worker: the memory, then the state; each synced. */
static void *snap_write(void *arg)
{
	struct snap_job *j = arg;
	struct machine *m = j->m;
	int ret;

	sandbox_thread(SB_WORKER);
	ret = gm_save(&m->vm.mem, j->mem_fd, j->diff ? m->vm.mem.dirty : NULL);
	if (!ret && fsync(j->mem_fd) < 0)
		ret = -errno;
	j->mem_failed = ret != 0;
	if (!ret && (write_full(j->state_fd, j->blob, j->len) != (ssize_t)j->len ||
		     fsync(j->state_fd) < 0))
		ret = -EIO;
	j->ret = ret;
	eventfd_signal(j->done_fd);
	return NULL;
}

int machine_snapshot_begin(struct machine *m, const char *state_path,
			   const char *mem_path, const char *base, int done_fd,
			   struct snap_job **job, char *err, size_t errlen)
{
	struct snap_job *j;
	int ret;

	*job = NULL;
	if (!m->paused) {
		errf(err, errlen, "the VM is not paused");
		return -EBUSY;
	}
	if (base && !m->vm.dirty_log) {
		errf(err, errlen, "a diff snapshot needs dirty page tracking "
		     "(track_dirty_pages in the machine config, or "
		     "--track-dirty-pages)");
		return -EINVAL;
	}
	if (base && machine_vhost_device(m)) {
		errf(err, errlen, "a diff snapshot cannot see what %s's vhost "
		     "backend wrote; take a full snapshot", machine_vhost_device(m));
		return -ENOTSUP;
	}
	if (base) {
		ret = vm_dirty_log_sync(&m->vm);
		if (ret) {
			errf(err, errlen, "cannot read KVM's dirty log: %s",
			     strerror(-ret));
			return ret;
		}
	}
	j = calloc(1, sizeof(*j));
	if (!j) {
		errf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	j->m = m;
	j->diff = base != NULL;
	j->mem_fd = j->state_fd = -1;
	j->done_fd = done_fd;
	j->ret = -EINVAL;		/* until the writer says otherwise */
	snprintf(j->mem_path, sizeof(j->mem_path), "%s", mem_path);
	snprintf(j->state_path, sizeof(j->state_path), "%s", state_path);
	ret = machine_state_encode(m, base, &j->blob, &j->len, err, errlen);
	/*
	 * Both are written beside and renamed over: a state file only names
	 * a complete snapshot, and the old memory file may be the one a
	 * restored VM's RAM is mapped from (copy-on-write), which must not
	 * change under it.
	 */
	if (!ret) {
		j->mem_fd = open_tmp(mem_path, j->mem_tmp, sizeof(j->mem_tmp),
				     "memory", err, errlen);
		ret = j->mem_fd < 0 ? j->mem_fd : 0;
	}
	if (!ret) {
		j->state_fd = open_tmp(state_path, j->state_tmp,
				       sizeof(j->state_tmp), "state", err, errlen);
		ret = j->state_fd < 0 ? j->state_fd : 0;
	}
	if (!ret) {
		ret = -pthread_create(&j->thread, NULL, snap_write, j);
		if (ret)
			errf(err, errlen, "cannot start the snapshot writer: %s",
			     strerror(-ret));
	}
	if (ret) {
		j->ret = ret;
		job_free(j);
		return ret;
	}
	*job = j;
	return 0;
}

int machine_snapshot_end(struct snap_job *j, char *err, size_t errlen)
{
	int ret;

	pthread_join(j->thread, NULL);
	ret = j->ret;
	if (ret) {
		errf(err, errlen, "%s file '%s': %s",
		     j->mem_failed ? "memory" : "state",
		     j->mem_failed ? j->mem_path : j->state_path,
		     strerror(-ret));
	} else if (rename(j->mem_tmp, j->mem_path) < 0) {
		ret = j->ret = -errno;
		errf(err, errlen, "memory file '%s': %s", j->mem_path,
		     strerror(errno));
	} else if (rename(j->state_tmp, j->state_path) < 0) {
		ret = j->ret = -errno;
		errf(err, errlen, "state file '%s': %s", j->state_path,
		     strerror(errno));
	} else {
		vm_dirty_log_clear(&j->m->vm);	/* the next diff starts here */
	}
	job_free(j);
	return ret;
}

int machine_snapshot(struct machine *m, const char *state_path,
		     const char *mem_path, const char *base, char *err,
		     size_t errlen)
{
	struct snap_job *j;
	int efd = eventfd_new(), ret;

	if (efd < 0) {
		errf(err, errlen, "cannot make an eventfd: %s", strerror(-efd));
		return efd;
	}
	ret = machine_snapshot_begin(m, state_path, mem_path, base, efd, &j,
				     err, errlen);
	if (!ret)
		ret = machine_snapshot_end(j, err, errlen);
	close(efd);
	return ret;
}

/* ---- restore ------------------------------------------------------------ */

static int read_state(const char *path, uint8_t **buf, size_t *len, char *err,
		      size_t errlen)
{
	struct file_map fm;
	int ret = file_map(path, SNAPSHOT_MAX_SIZE, &fm);

	if (ret) {
		errf(err, errlen, "state file '%s': %s", path,
		     ret == -EFBIG ? "larger than any vireo writes" :
		     strerror(-ret));
		return ret;
	}
	*buf = malloc(fm.len ? fm.len : 1);
	if (!*buf) {
		file_unmap(&fm);
		return -ENOMEM;
	}
	memcpy(*buf, fm.data, fm.len);
	*len = fm.len;
	file_unmap(&fm);
	return 0;
}

/* The devices as they were made, with the taps of the overrides. */
static int snapshot_config(const struct snapshot *s, struct vm_config *cfg,
			   const struct restore_opts *o, char *err,
			   size_t errlen)
{
	unsigned int i, k;

	memset(cfg, 0, sizeof(*cfg));
	cfg->mem_size = s->mem_size;
	cfg->cpus = s->cpus;
	cfg->virtio_console = s->virtio_console;
	cfg->cmdline = "";
	for (i = 0; i < s->nr_devs; i++) {
		const struct snapshot_dev *sd = &s->dev[i];
		struct device_config *dc = &cfg->devices[i];

		if (sd->cls == &virtio_console_class) {
			if (config_console_device(dc, &sd->console, err, errlen))
				return -EINVAL;
		} else if (config_parse_class(sd->cls, sd->spec, dc, err, errlen)) {
			return -EINVAL;
		}
		cfg->nr_devices++;
		dc->virtio = sd->opts;
		dc->saved = sd->dev_state;
		dc->saved_len = sd->dev_state_len;
		snprintf(dc->id, sizeof(dc->id), "%s", sd->id);
		for (k = 0; k < o->nr_overrides; k++) {
			struct net_config *nc = dc->cfg;

			if (strcmp(o->overrides[k].id, sd->id))
				continue;
			if (sd->cls != &virtio_net_class || !nc->tap[0]) {
				errf(err, errlen, "--net-override %s: not a tap "
				     "network device", o->overrides[k].id);
				return -EINVAL;
			}
			snprintf(nc->tap, sizeof(nc->tap), "%s",
				 o->overrides[k].tap);
		}
	}
	for (k = 0; k < o->nr_overrides; k++) {
		for (i = 0; i < s->nr_devs; i++)
			if (!strcmp(o->overrides[k].id, s->dev[i].id))
				break;
		if (i == s->nr_devs) {
			errf(err, errlen, "--net-override %s: the VM being "
			     "restored has no device with that id",
			     o->overrides[k].id);
			return -EINVAL;
		}
	}
	return 0;
}

static int restore_dev(struct machine *m, unsigned int i,
		       const struct snapshot_dev *sd, char *err, size_t errlen)
{
	struct machine_vdev *md = m->vdevs[i];
	char why[512];
	int ret;

	if (md->cls != sd->cls || (md->transport == VIRTIO_PCI) != sd->pci) {
		errf(err, errlen, "device %u (%s): not the device the snapshot "
		     "has there", i, sd->id);
		return -EINVAL;
	}
	ret = virtio_dev_restore(md->vdev, &sd->virtio, why, sizeof(why));
	if (!ret && md->cls->restore) {
		pthread_mutex_lock(&md->vdev->lock);
		ret = md->cls->restore(md->vdev, sd->dev_state, sd->dev_state_len,
				       why, sizeof(why));
		pthread_mutex_unlock(&md->vdev->lock);
	}
	if (!ret && sd->pci)
		ret = virtio_pci_restore(&md->pci, &sd->pci_state, why,
					 sizeof(why));
	else if (!ret)
		virtio_mmio_restore(&md->mmio, &sd->mmio_state);
	if (ret)
		errf(err, errlen, "device %s: %s", sd->id, why);
	return ret;
}

static void forget_saved(struct vm_config *cfg)
{
	unsigned int i;

	for (i = 0; i < cfg->nr_devices; i++) {
		cfg->devices[i].saved = NULL;
		cfg->devices[i].saved_len = 0;
	}
}

static bool has_vhost_user(const struct vm_config *cfg)
{
	unsigned int i;

	for (i = 0; i < cfg->nr_devices; i++) {
		const char *spec = cfg->devices[i].spec;

		if (spec && strstr(spec, "vhost-user="))
			return true;
	}
	return false;
}

/* Apply a diff snapshot's pages over RAM loaded from its base. */
static int apply_diff(struct guest_mem *gm, int fd)
{
	unsigned int i;

	for (i = 0; i < gm->nr; i++) {
		off_t at = (off_t)gm->r[i].fd_offset;
		off_t end = at + (off_t)gm->r[i].size;

		while (at < end) {
			off_t data = lseek(fd, at, SEEK_DATA), hole;

			if (data < 0 || data >= end)
				break;
			hole = lseek(fd, data, SEEK_HOLE);
			if (hole < 0 || hole > end)
				hole = end;
			if (pread_full(fd, gm->r[i].hva + (data - (off_t)gm->r[i].fd_offset),
				       (size_t)(hole - data), data) != hole - data)
				return -EIO;
			at = hole;
		}
	}
	return 0;
}

/*
 * Build m (cfg filled by snapshot_config()) from a parsed state s over
 * RAM from mem_fd (as from says), the
 * diff file diff_path laid over it when s is a diff: the devices, the
 * platform and the vCPUs; the vCPU threads start paused. Nothing is left
 * half-built on failure.
 */
/* A restore's step done: what took how long since t (then t is now). */
static void restore_step(struct machine *m, struct timespec *t,
			 const char *what)
{
	size_t said = strlen(m->restore_said);
	uint64_t us = us_since(t);

	snprintf(m->restore_said + said, sizeof(m->restore_said) - said,
		 "%s%s %llu.%llu ms", said ? ", " : "", what,
		 (unsigned long long)(us / 1000),
		 (unsigned long long)(us % 1000 / 100));
	clock_gettime(CLOCK_MONOTONIC, t);
}

static int restore_parsed(struct machine *m, struct vm_config *cfg,
			  const struct restore_opts *o, const struct snapshot *s,
			  int mem_fd, enum gm_from from, const char *diff_path,
			  struct console *con, struct ev_loop *loop, char *err,
			  size_t errlen)
{
	struct timespec t;
	unsigned int i;
	int diff_fd = -1, ret;

	m->restore_said[0] = '\0';
	clock_gettime(CLOCK_MONOTONIC, &t);
	/* (mem_fd < 0: m was built already, by machine_prebuild()) */
	if (mem_fd >= 0) {
		ret = machine_build(m, cfg, con, loop, mem_fd, from, err, errlen);
		if (ret)
			return ret;
		restore_step(m, &t, "build");
	}
	if (s->diff) {
		diff_fd = open(diff_path, O_RDONLY | O_CLOEXEC);
		ret = diff_fd < 0 ? -errno : apply_diff(&m->vm.mem, diff_fd);
		if (diff_fd >= 0)
			close(diff_fd);
		if (ret) {
			errf(err, errlen, "diff memory file '%s': %s", diff_path,
			     strerror(-ret));
			goto out;
		}
	}
	if (m->nr_vdevs != s->nr_devs) {
		errf(err, errlen, "%u devices built, %u saved", m->nr_vdevs,
		     s->nr_devs);
		ret = -EINVAL;
		goto out;
	}
	for (i = 0; i < s->nr_devs; i++) {
		ret = restore_dev(m, i, &s->dev[i], err, errlen);
		if (ret)
			goto out;
	}
	serial_restore(&m->com1, &s->com1);
	rtc_restore(&m->rtc, &s->rtc);
	i8042_restore(&m->i8042, &s->i8042);
	restore_step(m, &t, "devices");
	ret = vm_configure_vcpus(&m->vm, err, errlen);
	for (i = 0; !ret && i < s->cpus; i++)
		ret = vcpu_state_load(&m->vm, i, &s->vcpu[i], err, errlen);
	if (!ret)
		ret = vm_kvm_state_load(&m->vm, &s->kvm, err, errlen);
	if (ret)
		goto out;
	restore_step(m, &t, "vCPUs and KVM");
	m->paused_clock = s->kvm.clock;
	m->paused_tsc_ok = s->cpus && vcpu_state_tsc(&s->vcpu[0], &m->paused_tsc);
	m->paused = true;
	ret = vm_start_threads(&m->vm, true, err, errlen);
	restore_step(m, &t, "threads");
	if (!ret && o->before_run) {
		ret = o->before_run(o->before_run_ctx, err, errlen);
		restore_step(m, &t, "lockdown");
	}
	if (!ret && o->resume) {
		machine_resume(m);
		/* On another host or tap now: the guest tells its peers. */
		for (i = 0; i < m->nr_vdevs; i++)
			if (m->vdevs[i]->cls == &virtio_net_class)
				virtio_net_announce(m->vdevs[i]->vdev);
		restore_step(m, &t, "resume");
	}
out:
	if (ret)
		machine_destroy(m);
	return ret;
}

int machine_restore(struct machine *m, struct vm_config *cfg,
		    const struct restore_opts *o, struct console *con,
		    struct ev_loop *loop, char *err, size_t errlen)
{
	struct snapshot s;
	uint8_t *buf = NULL;
	size_t len;
	int mem_fd = -1, ret;

	memset(m, 0, sizeof(*m));
	ret = read_state(o->state_path, &buf, &len, err, errlen);
	if (ret)
		return ret;
	ret = snapshot_parse(buf, len, &s, err, errlen);
	free(buf);
	if (ret)
		return ret;
	mem_fd = open(s.diff ? s.mem_base : o->mem_path, O_RDONLY | O_CLOEXEC);
	if (mem_fd < 0) {
		ret = -errno;
		errf(err, errlen, "memory file '%s': %s",
		     s.diff ? s.mem_base : o->mem_path, strerror(errno));
		goto out;
	}
	/* Copy-on-write unless a backend must map the RAM or a diff goes
	 * over it (snapshot_config() fills cfg first: has_vhost_user()). */
	ret = snapshot_config(&s, cfg, o, err, errlen);
	if (!ret)
		ret = restore_parsed(m, cfg, o, &s, mem_fd,
				     o->copy_mem || s.diff || has_vhost_user(cfg) ?
				     GM_COPY : GM_PRIVATE, o->mem_path, con, loop,
				     err, errlen);
out:
	if (mem_fd >= 0)
		close(mem_fd);
	forget_saved(cfg);
	snapshot_free(&s);
	return ret;
}

int machine_prebuild(struct machine *m, struct vm_config *cfg,
		     const struct restore_opts *o, const uint8_t *blob,
		     size_t len, int mem_fd, struct console *con,
		     struct ev_loop *loop, char *err, size_t errlen)
{
	struct snapshot s;
	int ret;

	memset(m, 0, sizeof(*m));
	ret = snapshot_parse(blob, len, &s, err, errlen);
	if (ret)
		return ret;
	if (s.diff) {
		errf(err, errlen, "the configuration is a diff snapshot's");
		ret = -EINVAL;
	} else {
		ret = snapshot_config(&s, cfg, o, err, errlen);
		cfg->migrating_in = true;
		if (!ret)
			ret = machine_build(m, cfg, con, loop, mem_fd, GM_ADOPT,
					    err, errlen);
		forget_saved(cfg);	/* (they point into s) */
	}
	snapshot_free(&s);
	return ret;
}

/* The state s is of the machine m was built as (machine_prebuild()). */
static int same_machine(const struct machine *m, const struct snapshot *s,
			char *err, size_t errlen)
{
	unsigned int i;

	if (s->mem_size != m->vm.mem.ram_size || s->cpus != m->vm.nr_vcpus ||
	    s->virtio_console != m->cfg->virtio_console ||
	    s->nr_devs != m->nr_vdevs) {
		errf(err, errlen, "the state is of another machine than the "
		     "configuration sent first (%llu bytes, %u vCPUs, %u "
		     "devices; built %llu, %u, %u)",
		     (unsigned long long)s->mem_size, s->cpus, s->nr_devs,
		     (unsigned long long)m->vm.mem.ram_size, m->vm.nr_vcpus,
		     m->nr_vdevs);
		return -EINVAL;
	}
	for (i = 0; i < s->nr_devs; i++) {
		const struct device_config *dc = &m->cfg->devices[i];

		if (strcmp(s->dev[i].id, dc->id) ||
		    strcmp(s->dev[i].spec, dc->spec ? dc->spec : "")) {
			errf(err, errlen, "device %u: the state is of '%s', "
			     "the configuration sent first had '%s'", i,
			     s->dev[i].id, dc->id);
			return -EINVAL;
		}
	}
	return 0;
}

int machine_restore_blob(struct machine *m, struct vm_config *cfg,
			 const struct restore_opts *o, const uint8_t *blob,
			 size_t len, int mem_fd, bool built,
			 struct console *con, struct ev_loop *loop, char *err,
			 size_t errlen)
{
	struct snapshot s;
	int ret;

	if (!built)
		memset(m, 0, sizeof(*m));
	ret = snapshot_parse(blob, len, &s, err, errlen);
	if (ret)
		goto out;
	if (s.diff) {
		errf(err, errlen, "the state is a diff snapshot's");
		ret = -EINVAL;
	} else if (built) {
		ret = same_machine(m, &s, err, errlen);
		/* The source has let go of its disks: they are ours now. */
		if (!ret)
			ret = machine_locks(m, true, err, errlen);
		if (!ret)
			cfg->migrating_in = false;
		if (!ret) {
			ret = restore_parsed(m, cfg, o, &s, -1, GM_ADOPT, NULL,
					     con, loop, err, errlen);
			built = false;	/* (it destroys m on failure) */
		}
	} else {
		ret = snapshot_config(&s, cfg, o, err, errlen);
		if (!ret)
			ret = restore_parsed(m, cfg, o, &s, mem_fd, GM_ADOPT,
					     NULL, con, loop, err, errlen);
	}
	forget_saved(cfg);
	snapshot_free(&s);
out:
	if (ret && built)
		machine_destroy(m);
	return ret;
}
