// SPDX-License-Identifier: GPL-2.0
#include "snapshot.h"

#include <errno.h>
#include <libfdt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "util.h"
#include "vdevs.h"

#define MAGIC_PROP	"vireo-snapshot"
#define CRC_PROP	"crc32"

/* ---- writing ------------------------------------------------------------ */

static int prop(void *fdt, const char *name, const void *v, size_t len)
{
	return fdt_property(fdt, name, v, (int)len);
}

static int prop_u32(void *fdt, const char *name, uint32_t v)
{
	return fdt_property_u32(fdt, name, v);
}

static int prop_u64(void *fdt, const char *name, uint64_t v)
{
	return fdt_property_u64(fdt, name, v);
}

static int encode_vcpu(void *fdt, unsigned int i, const struct vcpu_state *v)
{
	char name[32];
	int r = 0;

	snprintf(name, sizeof(name), "cpu@%u", i);
	r |= fdt_begin_node(fdt, name);
	r |= prop(fdt, "regs", &v->regs, sizeof(v->regs));
	r |= prop(fdt, "sregs", &v->sregs, sizeof(v->sregs));
	r |= prop(fdt, "xcrs", &v->xcrs, sizeof(v->xcrs));
	r |= prop(fdt, "lapic", &v->lapic, sizeof(v->lapic));
	r |= prop(fdt, "events", &v->events, sizeof(v->events));
	r |= prop(fdt, "mp-state", &v->mp, sizeof(v->mp));
	r |= prop(fdt, "debugregs", &v->dregs, sizeof(v->dregs));
	r |= prop(fdt, "xsave", v->xsave, v->xsave_size);
	r |= prop(fdt, "msrs", v->msrs, v->nmsrs * sizeof(v->msrs[0]));
	r |= fdt_end_node(fdt);
	return r;
}

static int encode_dev(void *fdt, unsigned int i, const struct snapshot_dev *d)
{
	char name[32];
	int r = 0;

	snprintf(name, sizeof(name), "device@%u", i);
	r |= fdt_begin_node(fdt, name);
	r |= fdt_property_string(fdt, "class", d->cls->name);
	r |= fdt_property_string(fdt, "id", d->id);
	r |= fdt_property_string(fdt, "options", d->spec);
	r |= prop(fdt, "virtio-options", &d->opts, sizeof(d->opts));
	if (d->cls == &virtio_console_class)
		r |= prop(fdt, "console", &d->console, sizeof(d->console));
	if (d->pci)
		r |= prop(fdt, "pci", &d->pci_state, sizeof(d->pci_state));
	else
		r |= prop(fdt, "mmio", &d->mmio_state, sizeof(d->mmio_state));
	r |= prop(fdt, "virtio", &d->virtio, sizeof(d->virtio));
	r |= prop(fdt, "state", d->dev_state, d->dev_state_len);
	r |= fdt_end_node(fdt);
	return r;
}

static int encode(const struct snapshot *s, void *fdt, size_t size)
{
	unsigned int i;
	int r = 0;

	r |= fdt_create(fdt, (int)size);
	r |= fdt_finish_reservemap(fdt);
	r |= fdt_begin_node(fdt, "");
	r |= prop_u32(fdt, MAGIC_PROP, SNAPSHOT_VERSION);
	r |= prop_u32(fdt, CRC_PROP, 0);
	r |= fdt_begin_node(fdt, "machine");
	r |= prop_u64(fdt, "memory", s->mem_size);
	r |= prop_u32(fdt, "cpus", s->cpus);
	r |= prop_u32(fdt, "virtio-console", s->virtio_console);
	r |= prop_u32(fdt, "diff", s->diff);
	if (s->diff)
		r |= fdt_property_string(fdt, "memory-base", s->mem_base);
	r |= fdt_end_node(fdt);
	r |= fdt_begin_node(fdt, "cpus");
	for (i = 0; i < s->cpus; i++)
		r |= encode_vcpu(fdt, i, &s->vcpu[i]);
	r |= fdt_end_node(fdt);
	r |= fdt_begin_node(fdt, "kvm");
	r |= prop(fdt, "clock", &s->kvm.clock, sizeof(s->kvm.clock));
	r |= prop(fdt, "pit", &s->kvm.pit, sizeof(s->kvm.pit));
	r |= prop(fdt, "pic-master", &s->kvm.pic_master, sizeof(s->kvm.pic_master));
	r |= prop(fdt, "pic-slave", &s->kvm.pic_slave, sizeof(s->kvm.pic_slave));
	r |= prop(fdt, "ioapic", &s->kvm.ioapic, sizeof(s->kvm.ioapic));
	r |= fdt_end_node(fdt);
	r |= fdt_begin_node(fdt, "platform");
	r |= prop(fdt, "com1", &s->com1, sizeof(s->com1));
	r |= prop(fdt, "rtc", &s->rtc, sizeof(s->rtc));
	r |= prop(fdt, "i8042", &s->i8042, sizeof(s->i8042));
	r |= fdt_end_node(fdt);
	r |= fdt_begin_node(fdt, "devices");
	for (i = 0; i < s->nr_devs; i++)
		r |= encode_dev(fdt, i, &s->dev[i]);
	r |= fdt_end_node(fdt);
	r |= fdt_end_node(fdt);
	r |= fdt_finish(fdt);
	return r;
}

/* The CRC of the blob with the CRC cell read as zero. */
static uint32_t blob_crc(const uint8_t *blob, size_t len, const void *cell)
{
	size_t at = (size_t)((const uint8_t *)cell - blob);
	static const uint8_t zero[4];
	uLong c = crc32(0L, Z_NULL, 0);

	c = crc32(c, blob, (uInt)at);
	c = crc32(c, zero, 4);
	c = crc32(c, blob + at + 4, (uInt)(len - at - 4));
	return (uint32_t)c;
}

void snapshot_seal(uint8_t *blob, size_t len)
{
	const void *cell = fdt_getprop(blob, 0, CRC_PROP, NULL);

	if (cell)
		fdt_setprop_inplace_u32(blob, 0, CRC_PROP, 0);
	if (cell)
		fdt_setprop_inplace_u32(blob, 0, CRC_PROP,
					blob_crc(blob, len, cell));
}

int snapshot_encode(const struct snapshot *s, uint8_t **out, size_t *len)
{
	size_t size = 256 * 1024 + s->cpus * (64 * 1024) +
		      s->nr_devs * sizeof(struct snapshot_dev) * 2;
	uint8_t *fdt = NULL;
	const void *cell;

	for (;;) {
		uint8_t *n = realloc(fdt, size);

		if (!n) {
			free(fdt);
			return -ENOMEM;
		}
		fdt = n;
		if (encode(s, fdt, size) == 0)
			break;
		if (size > SNAPSHOT_MAX_SIZE) {
			free(fdt);
			return -E2BIG;
		}
		size *= 2;
	}
	*len = fdt_totalsize(fdt);
	cell = fdt_getprop(fdt, 0, CRC_PROP, NULL);
	if (!cell) {
		free(fdt);
		return -EIO;
	}
	fdt_setprop_inplace_u32(fdt, 0, CRC_PROP,
				blob_crc(fdt, *len, cell));
	*out = fdt;
	return 0;
}

/* ---- reading ------------------------------------------------------------ */

struct reader {
	const void *fdt;
	char *err;
	size_t errlen;
};

/* A property of exactly len bytes into dst; false with err set. */
static bool get_exact(struct reader *rd, int node, const char *where,
		      const char *name, void *dst, size_t len)
{
	int got;
	const void *p = fdt_getprop(rd->fdt, node, name, &got);

	if (!p) {
		errf(rd->err, rd->errlen, "%s has no %s", where, name);
		return false;
	}
	if ((size_t)got != len) {
		errf(rd->err, rd->errlen, "%s: %s is %d bytes, want %zu (a "
		     "different vireo or KVM wrote it?)", where, name, got, len);
		return false;
	}
	memcpy(dst, p, len);
	return true;
}

static bool get_u32(struct reader *rd, int node, const char *where,
		    const char *name, uint32_t *v)
{
	uint8_t b[4];

	if (!get_exact(rd, node, where, name, b, 4))
		return false;
	*v = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
	return true;
}

static bool get_u64(struct reader *rd, int node, const char *where,
		    const char *name, uint64_t *v)
{
	uint32_t hi, lo;
	uint8_t b[8];

	if (!get_exact(rd, node, where, name, b, 8))
		return false;
	hi = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
	lo = (uint32_t)b[4] << 24 | (uint32_t)b[5] << 16 | (uint32_t)b[6] << 8 | b[7];
	*v = (uint64_t)hi << 32 | lo;
	return true;
}

/* A NUL-terminated string property of at most size - 1 bytes. */
static bool get_string(struct reader *rd, int node, const char *where,
		       const char *name, char *dst, size_t size)
{
	int got;
	const char *p = fdt_getprop(rd->fdt, node, name, &got);

	if (!p || got < 1 || p[got - 1] != '\0' || (size_t)got > size ||
	    strlen(p) != (size_t)got - 1) {
		errf(rd->err, rd->errlen, "%s: %s is missing or not a string "
		     "of at most %zu bytes", where, name, size - 1);
		return false;
	}
	memcpy(dst, p, (size_t)got);
	return true;
}

static int node(struct reader *rd, int parent, const char *name)
{
	int n = fdt_subnode_offset(rd->fdt, parent, name);

	if (n < 0)
		errf(rd->err, rd->errlen, "the state file has no %s node", name);
	return n;
}

static bool parse_vcpu(struct reader *rd, int n, unsigned int i,
		       struct vcpu_state *v)
{
	char where[32];
	const void *p;
	int len;

	snprintf(where, sizeof(where), "cpu@%u", i);
	if (!get_exact(rd, n, where, "regs", &v->regs, sizeof(v->regs)) ||
	    !get_exact(rd, n, where, "sregs", &v->sregs, sizeof(v->sregs)) ||
	    !get_exact(rd, n, where, "xcrs", &v->xcrs, sizeof(v->xcrs)) ||
	    !get_exact(rd, n, where, "lapic", &v->lapic, sizeof(v->lapic)) ||
	    !get_exact(rd, n, where, "events", &v->events, sizeof(v->events)) ||
	    !get_exact(rd, n, where, "mp-state", &v->mp, sizeof(v->mp)) ||
	    !get_exact(rd, n, where, "debugregs", &v->dregs, sizeof(v->dregs)))
		return false;
	if (v->xcrs.nr_xcrs > KVM_MAX_XCRS) {
		errf(rd->err, rd->errlen, "%s: %u XCRs (at most %d)", where,
		     v->xcrs.nr_xcrs, KVM_MAX_XCRS);
		return false;
	}
	p = fdt_getprop(rd->fdt, n, "xsave", &len);
	if (!p || len < (int)sizeof(struct kvm_xsave) || len > 65536) {
		errf(rd->err, rd->errlen, "%s: xsave is missing or of a wrong "
		     "size (%d bytes)", where, p ? len : -1);
		return false;
	}
	v->xsave = malloc((size_t)len);
	if (!v->xsave)
		goto nomem;
	memcpy(v->xsave, p, (size_t)len);
	v->xsave_size = (uint32_t)len;
	p = fdt_getprop(rd->fdt, n, "msrs", &len);
	if (!p || len % (int)sizeof(struct kvm_msr_entry) ||
	    len / (int)sizeof(struct kvm_msr_entry) > VCPU_MAX_MSRS) {
		errf(rd->err, rd->errlen, "%s: msrs is missing or not a list of "
		     "at most %d entries", where, VCPU_MAX_MSRS);
		return false;
	}
	v->nmsrs = (uint32_t)(len / (int)sizeof(struct kvm_msr_entry));
	v->msrs = malloc(len ? (size_t)len : 1);
	if (!v->msrs)
		goto nomem;
	memcpy(v->msrs, p, (size_t)len);
	return true;
nomem:
	errf(rd->err, rd->errlen, "out of memory");
	return false;
}

static const struct vdev_class *class_named(const char *name)
{
	unsigned int i;

	for (i = 0; vdev_classes[i]; i++)
		if (!strcmp(vdev_classes[i]->name, name))
			return vdev_classes[i];
	return NULL;
}

static bool parse_dev(struct reader *rd, int n, unsigned int i,
		      struct snapshot_dev *d)
{
	char where[32], cls[32];
	const void *p;
	int len;

	snprintf(where, sizeof(where), "device@%u", i);
	if (!get_string(rd, n, where, "class", cls, sizeof(cls)) ||
	    !get_string(rd, n, where, "id", d->id, sizeof(d->id)) ||
	    !get_string(rd, n, where, "options", d->spec, sizeof(d->spec)) ||
	    !get_exact(rd, n, where, "virtio-options", &d->opts, sizeof(d->opts)) ||
	    !get_exact(rd, n, where, "virtio", &d->virtio, sizeof(d->virtio)))
		return false;
	d->cls = class_named(cls);
	if (!d->cls) {
		errf(rd->err, rd->errlen, "%s: unknown device class '%s'", where,
		     cls);
		return false;
	}
	if (d->opts.transport > VIRTIO_MMIO_LEGACY) {
		errf(rd->err, rd->errlen, "%s: unknown transport %d", where,
		     (int)d->opts.transport);
		return false;
	}
	d->pci = d->opts.transport == VIRTIO_PCI;
	if (d->pci ? !get_exact(rd, n, where, "pci", &d->pci_state,
				sizeof(d->pci_state)) :
		     !get_exact(rd, n, where, "mmio", &d->mmio_state,
				sizeof(d->mmio_state)))
		return false;
	if (d->cls == &virtio_console_class) {
		unsigned int k;

		if (!get_exact(rd, n, where, "console", &d->console,
			       sizeof(d->console)))
			return false;
		if (!d->console.nr_ports || d->console.nr_ports > CON_MAX_PORTS) {
			errf(rd->err, rd->errlen, "%s: %u console ports", where,
			     d->console.nr_ports);
			return false;
		}
		for (k = 0; k < CON_MAX_PORTS; k++) {
			struct cport_config *c = &d->console.ports[k];

			c->name[sizeof(c->name) - 1] = '\0';
			c->path[sizeof(c->path) - 1] = '\0';
			if (c->kind > CPORT_FILE) {
				errf(rd->err, rd->errlen, "%s: port %u of unknown "
				     "kind", where, k);
				return false;
			}
		}
	}
	if (d->virtio.nr_queues > VIRTIO_MAX_QUEUES) {
		errf(rd->err, rd->errlen, "%s: %u queues (at most %d)", where,
		     d->virtio.nr_queues, VIRTIO_MAX_QUEUES);
		return false;
	}
	p = fdt_getprop(rd->fdt, n, "state", &len);
	if (!p || len > SNAPSHOT_DEV_STATE_MAX) {
		errf(rd->err, rd->errlen, "%s: state is missing or over %d bytes",
		     where, SNAPSHOT_DEV_STATE_MAX);
		return false;
	}
	memcpy(d->dev_state, p, (size_t)len);
	d->dev_state_len = (uint32_t)len;
	return true;
}

static int count_subnodes(const void *fdt, int parent)
{
	int n, c = 0;

	fdt_for_each_subnode(n, fdt, parent)
		c++;
	return c;
}

int snapshot_parse(const uint8_t *buf, size_t len, struct snapshot *s,
		   char *err, size_t errlen)
{
	struct reader rd = { buf, err, errlen };
	int root = 0, m, cpus, kvm, plat, devs, n;
	uint32_t v, crc, ncpus, flag;
	unsigned int i;
	const void *cell;

	memset(s, 0, sizeof(*s));
	if (len < sizeof(struct fdt_header) || fdt_magic(buf) != FDT_MAGIC) {
		errf(err, errlen, "not a vireo state file (no device tree magic)");
		return -EINVAL;
	}
	/* vireo writes version 17, the only one libfdt walks safely: 1.6.1's
	 * fdt_check_full() reads through NULL on a version-6 tree
	 * (fuzz_snapshot, 2026-12-07), where names are paths. */
	if (fdt_version(buf) != 17) {
		errf(err, errlen, "the state file's device tree is version %u; "
		     "vireo writes and reads version 17", fdt_version(buf));
		return -EINVAL;
	}
	if (fdt_totalsize(buf) != len || fdt_check_full(buf, len)) {
		errf(err, errlen, "the state file is truncated or corrupt (%zu "
		     "bytes, its header says %u)", len, fdt_totalsize(buf));
		return -EINVAL;
	}
	if (!get_u32(&rd, root, "the state file", MAGIC_PROP, &v))
		return -EINVAL;
	if (v != SNAPSHOT_VERSION) {
		errf(err, errlen, "state file format version %u; this vireo "
		     "reads version %d", v, SNAPSHOT_VERSION);
		return -EINVAL;
	}
	cell = fdt_getprop(buf, root, CRC_PROP, &n);
	if (!cell || n != 4 || !get_u32(&rd, root, "the state file", CRC_PROP,
					&crc)) {
		errf(err, errlen, "the state file has no CRC");
		return -EINVAL;
	}
	if (blob_crc(buf, len, cell) != crc) {
		errf(err, errlen, "the state file is corrupt (CRC mismatch)");
		return -EINVAL;
	}
	m = node(&rd, root, "machine");
	cpus = m < 0 ? m : node(&rd, root, "cpus");
	kvm = cpus < 0 ? cpus : node(&rd, root, "kvm");
	plat = kvm < 0 ? kvm : node(&rd, root, "platform");
	devs = plat < 0 ? plat : node(&rd, root, "devices");
	if (devs < 0)
		return -EINVAL;
	if (!get_u64(&rd, m, "machine", "memory", &s->mem_size) ||
	    !get_u32(&rd, m, "machine", "cpus", &ncpus) ||
	    !get_u32(&rd, m, "machine", "virtio-console", &flag))
		goto bad;
	s->virtio_console = flag;
	if (!get_u32(&rd, m, "machine", "diff", &flag))
		goto bad;
	s->diff = flag;
	if (s->diff && !get_string(&rd, m, "machine", "memory-base", s->mem_base,
				   sizeof(s->mem_base)))
		goto bad;
	if (s->mem_size < CONFIG_MIN_MEMORY || s->mem_size > CONFIG_MAX_MEMORY ||
	    s->mem_size % 4096) {
		errf(err, errlen, "machine: memory %llu bytes is out of range",
		     (unsigned long long)s->mem_size);
		goto bad;
	}
	if (ncpus < 1 || ncpus > VM_MAX_VCPUS ||
	    count_subnodes(buf, cpus) != (int)ncpus) {
		errf(err, errlen, "machine: %u vCPUs, %d cpu nodes", ncpus,
		     count_subnodes(buf, cpus));
		goto bad;
	}
	s->cpus = ncpus;
	s->vcpu = calloc(ncpus, sizeof(*s->vcpu));
	if (!s->vcpu)
		goto nomem;
	for (i = 0; i < ncpus; i++) {
		char name[32];

		snprintf(name, sizeof(name), "cpu@%u", i);
		n = node(&rd, cpus, name);
		if (n < 0 || !parse_vcpu(&rd, n, i, &s->vcpu[i]))
			goto bad;
	}
	if (!get_exact(&rd, kvm, "kvm", "clock", &s->kvm.clock, sizeof(s->kvm.clock)) ||
	    !get_exact(&rd, kvm, "kvm", "pit", &s->kvm.pit, sizeof(s->kvm.pit)) ||
	    !get_exact(&rd, kvm, "kvm", "pic-master", &s->kvm.pic_master,
		       sizeof(s->kvm.pic_master)) ||
	    !get_exact(&rd, kvm, "kvm", "pic-slave", &s->kvm.pic_slave,
		       sizeof(s->kvm.pic_slave)) ||
	    !get_exact(&rd, kvm, "kvm", "ioapic", &s->kvm.ioapic,
		       sizeof(s->kvm.ioapic)))
		goto bad;
	/* Which chip each is, is not the file's to say. */
	s->kvm.pic_master.chip_id = KVM_IRQCHIP_PIC_MASTER;
	s->kvm.pic_slave.chip_id = KVM_IRQCHIP_PIC_SLAVE;
	s->kvm.ioapic.chip_id = KVM_IRQCHIP_IOAPIC;
	if (!get_exact(&rd, plat, "platform", "com1", &s->com1, sizeof(s->com1)) ||
	    !get_exact(&rd, plat, "platform", "rtc", &s->rtc, sizeof(s->rtc)) ||
	    !get_exact(&rd, plat, "platform", "i8042", &s->i8042,
		       sizeof(s->i8042)))
		goto bad;
	n = count_subnodes(buf, devs);
	if (n > CONFIG_MAX_DEVICES + 1) {
		errf(err, errlen, "%d devices (at most %d)", n,
		     CONFIG_MAX_DEVICES + 1);
		goto bad;
	}
	s->nr_devs = (unsigned int)n;
	s->dev = calloc(s->nr_devs ? s->nr_devs : 1, sizeof(*s->dev));
	if (!s->dev)
		goto nomem;
	for (i = 0; i < s->nr_devs; i++) {
		char name[32];

		snprintf(name, sizeof(name), "device@%u", i);
		n = node(&rd, devs, name);
		if (n < 0 || !parse_dev(&rd, n, i, &s->dev[i]))
			goto bad;
	}
	return 0;
nomem:
	errf(err, errlen, "out of memory");
bad:
	snapshot_free(s);
	return -EINVAL;
}

void snapshot_free(struct snapshot *s)
{
	unsigned int i;

	for (i = 0; s->vcpu && i < s->cpus; i++)
		vcpu_state_free(&s->vcpu[i]);
	free(s->vcpu);
	free(s->dev);
	s->vcpu = NULL;
	s->dev = NULL;
}
