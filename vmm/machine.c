// SPDX-License-Identifier: GPL-2.0
#include "machine.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../boot/acpi.h"
#include "../boot/kernel.h"
#include "../devices/virtio-console.h"
#include "layout.h"
#include "util.h"

static void machine_irq_set(void *opaque, unsigned int gsi, bool level)
{
	vm_irq_line(opaque, gsi, level);
}

static void machine_event(void *opaque, enum platform_event ev)
{
	struct machine *m = opaque;

	switch (ev) {
	case PLATFORM_POWEROFF:
		vm_request_exit(&m->vm, VM_EXIT_POWEROFF, "guest powered off");
		break;
	case PLATFORM_RESET:
		vm_request_exit(&m->vm, VM_EXIT_REBOOT, "guest rebooted");
		break;
	case PLATFORM_PANIC:
		vm_request_exit(&m->vm, VM_EXIT_PANIC,
				"the guest kernel panicked (reported through pvpanic)");
		break;
	case PLATFORM_CRASH_LOADED:
		break;
	}
}

static void serial_tx(void *opaque, const uint8_t *buf, size_t len)
{
	console_write(opaque, buf, len);
}

static void serial_rx_room(void *opaque)
{
	console_rx_room(opaque);
}

static size_t console_to_serial(void *opaque, const uint8_t *buf, size_t len)
{
	return serial_receive(opaque, buf, len);
}

static void machine_devices_init(struct machine *m)
{
	struct vm *vm = &m->vm;
	struct irq_line com1_irq = { machine_irq_set, vm, IRQ_COM1 };
	struct irq_line kbd_irq = { machine_irq_set, vm, IRQ_KBD };
	struct serial_host host = { serial_tx, serial_rx_room, m->con };
	struct platform_hook hook = { machine_event, m };

	/* With the console on hvc0, COM1 is not connected to the terminal. */
	if (m->cfg->virtio_console) {
		host.tx = NULL;
		if (m->cfg->cmdline_set && !strstr(m->cfg->cmdline, "console=hvc0"))
			pr_err("warning: --console virtio puts the terminal on hvc0, but --cmdline has no console=hvc0: the kernel's messages will not be shown");
	}

	serial_init(&m->com1, &com1_irq, &host);
	rtc_init(&m->rtc);
	i8042_init(&m->i8042, &hook);
	i8042_set_irq(&m->i8042, &kbd_irq);
	pm_init(&m->pm, &hook, PM_SLP_TYP_S5, PM_RESET_VALUE);
	pvpanic_init(&m->pvpanic, &hook);
	m->devices_ready = true;

	vm_register_pio(vm, PORT_COM1, 8, &serial_ops, &m->com1, "com1");
	vm_register_pio(vm, PORT_CMOS, 2, &rtc_ops, &m->rtc, "cmos");
	vm_register_pio(vm, PORT_I8042_DATA, 5, &i8042_ops, &m->i8042, "i8042");
	vm_register_pio(vm, PORT_PM, 3, &pm_ops, &m->pm, "acpi-pm");
	vm_register_pio(vm, PORT_PVPANIC, 1, &pvpanic_ops, &m->pvpanic, "pvpanic");
	/* Port 0x80 delays: absorbed in the kernel, no exit to vireo. */
	vm_ignore_pio_writes(vm, PORT_POST, 1);
}

static void pci_reset_request(void *opaque)
{
	machine_event(opaque, PLATFORM_RESET);
}

static void machine_pci_init(struct machine *m)
{
	struct vm *vm = &m->vm;

	pci_host_init(&m->pci, LAYOUT_PCI_MMIO32, LAYOUT_PCI_MMIO32_SIZE);
	m->pci.reset = pci_reset_request;
	m->pci.reset_opaque = m;
	vm_register_pio(vm, 0xcf8, 8, &pci_host_pio_ops, &m->pci, "pci-cf8");
	vm_register_mmio(vm, LAYOUT_PCI_ECAM, LAYOUT_PCI_ECAM_SIZE,
			 &pci_host_ecam_ops, &m->pci, "pci-ecam");
	vm_register_mmio(vm, LAYOUT_PCI_MMIO32, LAYOUT_PCI_MMIO32_SIZE,
			 &pci_host_mmio_ops, &m->pci, "pci-window");
	m->pci_ready = true;
}

static int vdev_add(struct machine *m, const struct device_config *dc,
		    char *err, size_t errlen)
{
	static const unsigned int mmio_gsis[] = IRQ_VIRTIO_MMIO_LIST;
	struct vm_notify notify = vm_notifier(&m->vm);
	struct vdev_env env = {
		.gm = &m->vm.mem,
		.notify = notify,
		.console = m->con,
		.nr_cpus = m->cfg->cpus,
		.incoming = m->cfg->migrating_in,
		.saved = m->cfg->migrating_in ? dc->saved : NULL,
		.saved_len = m->cfg->migrating_in ? dc->saved_len : 0,
	};
	struct machine_vdev *md;
	unsigned int i, nr_mmio = 0;
	int ret;

	for (i = 0; i < m->nr_vdevs; i++)
		nr_mmio += m->vdevs[i]->transport != VIRTIO_PCI;
	md = calloc(1, sizeof(*md));
	if (!md)
		return -ENOMEM;
	md->transport = dc->virtio.transport;
	md->cls = dc->cls;
	md->vdev = dc->cls->create(dc->cfg, &dc->virtio, &env, err, errlen);
	if (!md->vdev) {
		free(md);
		return -EINVAL;
	}
	snprintf(md->vdev->id, sizeof(md->vdev->id), "%s", dc->id);
	m->vdevs[m->nr_vdevs++] = md;

	if (md->transport != VIRTIO_PCI) {
		if (nr_mmio >= ARRAY_SIZE(mmio_gsis)) {
			errf(err, errlen, "at most %zu virtio-mmio devices",
			     ARRAY_SIZE(mmio_gsis));
			return -ENOSPC;
		}
		md->mmio_base = LAYOUT_VIRTIO_MMIO +
				nr_mmio * LAYOUT_VIRTIO_MMIO_SIZE;
		md->gsi = mmio_gsis[nr_mmio];
		ret = virtio_mmio_init(&md->mmio, md->vdev, md->mmio_base, md->gsi,
				       md->transport == VIRTIO_MMIO_LEGACY, &notify);
		if (ret)
			goto err;
		md->wired = true;
		vm_register_mmio(&m->vm, md->mmio_base, VIRTIO_MMIO_SIZE,
				 &virtio_mmio_ops, &md->mmio,
				 md->vdev->ops->name);
		return 0;
	}
	if (!m->pci_ready)
		machine_pci_init(m);
	virtio_pci_init(&md->pci, md->vdev, md->vdev->ops->pci_class, &notify);
	ret = pci_host_add(&m->pci, &md->pci.f);
	if (ret) {
		errf(err, errlen, "no room for another PCI device (%s)",
		     strerror(-ret));
		return ret;
	}
	md->gsi = IRQ_PCI_INTX + md->pci.f.slot % 4;
	ret = virtio_pci_wire(&md->pci, md->gsi);
	if (ret)
		goto err;
	md->wired = true;
	return 0;
err:
	errf(err, errlen, "cannot wire the %s device's notifications: %s",
	     md->vdev->ops->name, strerror(-ret));
	return ret;
}

/* Queue q's ioeventfd has a count no thread has read. */
static bool kick_unread(struct virtio_dev *d, unsigned int q)
{
	struct pollfd p = { .fd = -1, .events = POLLIN };
	int call = -1;

	if (!d->tops || !d->tops->queue_fds)
		return false;
	d->tops->queue_fds(d->transport, q, &p.fd, &call);
	return p.fd >= 0 && poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

void machine_queue_report(struct machine *m)
{
	unsigned int i, q;

	for (i = 0; i < m->nr_vdevs; i++) {
		struct virtio_dev *d = m->vdevs[i]->vdev;
		char line[2048];
		size_t n = 0;

		if (!m->vdevs[i]->wired)
			continue;
		/* An I/O thread may still run; one stuck holding the lock
		 * must not keep vireo from exiting. */
		if (pthread_mutex_trylock(&d->lock)) {
			fprintf(stderr, "vireo: %s rings: not read (the device's "
				"lock is held)\n", d->id);
			continue;
		}
		for (q = 0; q < d->ops->num_queues && n + 2 < sizeof(line);
		     q++) {
			if (!d->vq[q].ready)
				continue;
			n += (size_t)snprintf(line + n, sizeof(line) - n,
					      "%squeue %u%s: ", n ? "; " : "", q,
					      d->external & (1U << q) ?
					      " (handed off)" : "");
			if (n + 2 >= sizeof(line))
				break;
			vq_describe(&d->vq[q], line + n, sizeof(line) - n);
			n += strlen(line + n);
			/* A kick the driver gave that no one has read yet. */
			if (kick_unread(d, q) && n + 2 < sizeof(line))
				n += (size_t)snprintf(line + n, sizeof(line) - n,
						      ", a kick unread");
		}
		/* An mmio device's line: raised and not yet acknowledged? */
		if (n && m->vdevs[i]->transport != VIRTIO_PCI &&
		    n + 2 < sizeof(line))
			snprintf(line + n, sizeof(line) - n, "; interrupt status "
				 "%#x, line %s", m->vdevs[i]->mmio.irq_status,
				 m->vdevs[i]->mmio.line_high ? "high" : "low");
		pthread_mutex_unlock(&d->lock);
		if (n)
			fprintf(stderr, "vireo: %s rings: %s\n", d->id, line);
	}
}

static void machine_vdevs_fini(struct machine *m)
{
	while (m->nr_vdevs) {
		struct machine_vdev *md = m->vdevs[--m->nr_vdevs];

		if (md->wired && md->transport == VIRTIO_PCI)
			virtio_pci_fini(&md->pci);
		else if (md->wired)
			virtio_mmio_fini(&md->mmio);
		if (md->wired && md->cls->stats_line) {
			char line[PATH_MAX + 512];

			md->cls->stats_line(md->vdev, line, sizeof(line));
			fprintf(stderr, "vireo: %s\n", line);
		}
		if (md->vdev->injected)
			fprintf(stderr, "vireo: %s: %llu faults injected "
				"(inject=)\n", md->vdev->id,
				(unsigned long long)md->vdev->injected);
		if (md->vdev->nr_violations) {
			char line[1024];

			viol_summary(md->vdev, line, sizeof(line));
			fprintf(stderr, "vireo: %s: the guest's driver broke the "
				"virtio spec: %s\n", md->vdev->id, line);
		}
		md->cls->destroy(md->vdev);
		free(md);
	}
	if (m->pci_ready) {
		pci_host_fini(&m->pci);
		m->pci_ready = false;
	}
}

/* How the guest finds the devices: ACPI (and optionally the cmdline). */
static void machine_describe_vdevs(struct machine *m, struct acpi_config *acpi,
				   struct acpi_pci_host *pci, char *cmdline,
				   size_t len)
{
	unsigned int i, max_slot = 0;
	size_t used = strlen(cmdline);

	for (i = 0; i < m->nr_vdevs; i++) {
		struct machine_vdev *md = m->vdevs[i];

		if (md->transport == VIRTIO_PCI) {
			max_slot = MAX(max_slot, md->pci.f.slot);
			continue;
		}
		acpi->mmio[acpi->nr_mmio++] = (struct acpi_mmio_dev){
			md->mmio_base, VIRTIO_MMIO_SIZE, md->gsi,
		};
		if (m->cfg->mmio_cmdline && used < len)
			used += (size_t)snprintf(cmdline + used, len - used,
				" virtio_mmio.device=%#x@%#llx:%u",
				VIRTIO_MMIO_SIZE,
				(unsigned long long)md->mmio_base, md->gsi);
	}
	if (!m->pci_ready)
		return;
	pci->ecam = LAYOUT_PCI_ECAM;
	pci->mmio32_base = (uint32_t)LAYOUT_PCI_MMIO32;
	pci->mmio32_size = (uint32_t)LAYOUT_PCI_MMIO32_SIZE;
	for (i = 0; i < 4; i++)
		pci->intx_gsi[i] = IRQ_PCI_INTX + i;
	pci->nr_slots = max_slot + 1;
	acpi->pci = pci;
}

static void machine_devices_fini(struct machine *m)
{
	if (!m->devices_ready)
		return;
	serial_destroy(&m->com1);
	rtc_destroy(&m->rtc);
	i8042_destroy(&m->i8042);
	m->devices_ready = false;
}

static int load_initrd(struct machine *m, const struct setup_header *hdr,
		       uint64_t kernel_end, uint64_t *gpa, uint64_t *size,
		       char *err, size_t errlen)
{
	const char *path = m->cfg->initrd;
	struct stat st;
	void *dst;
	ssize_t n;
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		errf(err, errlen, "--initrd '%s': %s", path, strerror(errno));
		return ret;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		errf(err, errlen, "--initrd '%s': not a regular file", path);
		ret = -EINVAL;
		goto out;
	}
	*size = (uint64_t)st.st_size;
	ret = initrd_place(&m->vm.mem, hdr, kernel_end, *size, gpa);
	if (ret) {
		errf(err, errlen, "--initrd '%s' (%llu MiB) does not fit in "
		     "guest RAM below the kernel's limit; try a larger --memory",
		     path, (unsigned long long)(*size >> 20));
		goto out;
	}
	dst = gm_ptr(&m->vm.mem, *gpa, *size);
	n = pread_full(fd, dst, *size, 0);
	if (n != (ssize_t)*size) {
		errf(err, errlen, "--initrd '%s': short read", path);
		ret = -EIO;
	}
out:
	close(fd);
	return ret;
}

static int machine_load(struct machine *m, char *err, size_t errlen)
{
	const struct vm_config *cfg = m->cfg;
	struct kernel_opts kopts = {
		.use_cache = cfg->kernel_cache,
		.cache_dir = cfg->cache_dir,
	};
	struct acpi_config acpi = {
		.nr_cpus = cfg->cpus,
		.pm_port = PORT_PM,
		.reset_value = PM_RESET_VALUE,
		.s5_slp_typ = PM_SLP_TYP_S5,
		.pvpanic_port = PORT_PVPANIC,
		.nr_isa = 3,
		.isa = {
			{ "COM1", "PNP0501", PORT_COM1, 8, IRQ_COM1, 0, 0 },
			{ "RTC_", "PNP0B00", PORT_CMOS, 2, IRQ_RTC, 0, 0 },
			/* The i8042's keyboard port: data, then command. */
			{ "KBD_", "PNP0303", PORT_I8042_DATA, 1, IRQ_KBD,
			  PORT_I8042_CMD, 1 },
		},
	};
	struct boot_info bi = { 0 };
	struct acpi_pci_host pci;
	struct vcpu_boot_state bsp;
	struct kernel k;
	char why[512], cmdline[LAYOUT_CMDLINE_MAX];
	int ret;

	if (snprintf(cmdline, sizeof(cmdline), "%s", cfg->cmdline) >=
	    (int)sizeof(cmdline)) {
		errf(err, errlen, "--cmdline is longer than %llu bytes",
		     LAYOUT_CMDLINE_MAX - 1);
		return -E2BIG;
	}
	machine_describe_vdevs(m, &acpi, &pci, cmdline, sizeof(cmdline));
	bi.cmdline = cmdline;

	ret = kernel_open(&k, cfg->kernel, &kopts, why, sizeof(why));
	if (ret) {
		errf(err, errlen, "--kernel '%s': %s", cfg->kernel, why);
		return ret;
	}
	bi.protocol = cfg->boot;
	if (bi.protocol == BOOT_AUTO)
		bi.protocol = (!k.is_bzimage && k.info.has_pvh) ? BOOT_PVH :
								  BOOT_LINUX64;
	if (bi.protocol == BOOT_PVH && !k.info.has_pvh) {
		errf(err, errlen, "--boot pvh: '%s' has no PVH entry note "
		     "(XEN_ELFNOTE_PHYS32_ENTRY)", cfg->kernel);
		ret = -EINVAL;
		goto out;
	}
	bi.entry = k.info.entry;
	bi.pvh_entry = k.info.pvh_entry;
	if (k.is_bzimage) {
		bi.hdr = &k.bz.hdr;
		bi.hdr_len = k.bz.hdr_len;
	}
	ret = elf_load(k.elf, &k.info, &m->vm.mem, why, sizeof(why));
	if (ret) {
		errf(err, errlen, "--kernel '%s': %s", cfg->kernel, why);
		goto out;
	}
	if (cfg->initrd) {
		ret = load_initrd(m, bi.hdr, k.info.hi, &bi.initrd_gpa,
				  &bi.initrd_size, err, errlen);
		if (ret)
			goto out;
	}
	ret = acpi_install(&m->vm.mem, &acpi, &bi.rsdp);
	if (ret) {
		errf(err, errlen, "cannot build the ACPI tables: %s",
		     strerror(-ret));
		goto out;
	}
	ret = boot_reset_vector(&m->vm.mem, PORT_PM_RESET, PM_RESET_VALUE);
	if (!ret)
		ret = boot_setup(&m->vm.mem, &bi, &bsp, why, sizeof(why));
	if (ret) {
		errf(err, errlen, "%s", why);
		goto out;
	}
	ret = vm_start(&m->vm, &bsp, err, errlen);
out:
	/* The guest has its copy; drop ours (and its resident pages). */
	kernel_close(&k);
	return ret;
}

static void machine_on_exit(struct ev_handler *h, uint32_t events)
{
	struct machine *m = container_of(h, struct machine, exit_h);

	(void)events;
	eventfd_drain(h->fd);
	m->loop->stop = true;
}

int machine_build(struct machine *m, const struct vm_config *cfg,
		  struct console *con, struct ev_loop *loop, int mem_fd,
		  enum gm_from mem_from, char *err, size_t errlen)
{
	unsigned int i;
	int ret;

	memset(m, 0, sizeof(*m));
	m->pause_efd = -1;
	m->cfg = cfg;
	m->con = con;
	m->loop = loop;
	console_release_writers(con, false);
	ret = vm_create(&m->vm, cfg->mem_size, cfg->cpus, mem_fd, mem_from,
			err, errlen);
	if (ret)
		return ret;
	m->vm_created = true;
	m->vm.loop = loop;
	machine_devices_init(m);
	for (i = 0; i < cfg->nr_devices; i++) {
		ret = vdev_add(m, &cfg->devices[i], err, errlen);
		if (ret)
			goto err;
	}
	if (!cfg->virtio_console)
		console_attach(con, console_to_serial, &m->com1);

	m->exit_h.fn = machine_on_exit;
	m->exit_h.fd = m->vm.exit_fd;
	ret = ev_add(loop, &m->exit_h, EPOLLIN);
	if (ret) {
		errf(err, errlen, "epoll: %s", strerror(-ret));
		goto err;
	}
	m->exit_watched = true;
	return 0;
err:
	machine_destroy(m);
	return ret;
}

int machine_create(struct machine *m, const struct vm_config *cfg,
		   struct console *con, struct ev_loop *loop, char *err,
		   size_t errlen)
{
	int ret = machine_build(m, cfg, con, loop, -1, GM_COPY, err, errlen);

	if (ret)
		return ret;
	ret = machine_load(m, err, errlen);
	if (ret)
		machine_destroy(m);
	return ret;
}

enum vm_exit_reason machine_run(struct machine *m)
{
	int ret;

	m->loop->stop = false;
	ret = ev_run(m->loop);
	if (ret)
		vm_request_exit(&m->vm, VM_EXIT_ERROR, "event loop failed: %s",
				strerror(-ret));
	/* vCPUs waiting for console room must not hold up the stop. */
	console_release_writers(m->con, true);
	vm_stop(&m->vm);
	return m->vm.exit_reason;
}

void machine_resize(struct machine *m)
{
	unsigned int i;

	for (i = 0; i < m->nr_vdevs; i++)
		if (m->vdevs[i]->cls == &virtio_console_class)
			virtio_console_resize(m->vdevs[i]->vdev->priv);
}

void machine_destroy(struct machine *m)
{
	if (m->vm_created) {
		console_release_writers(m->con, true);
		vm_stop(&m->vm);
	}
	console_attach(m->con, NULL, NULL);
	if (m->exit_watched) {
		ev_del(m->loop, &m->exit_h);
		m->exit_watched = false;
	}
	machine_vdevs_fini(m);
	machine_devices_fini(m);
	if (m->vm_created) {
		vm_destroy(&m->vm);
		m->vm_created = false;
	}
}
