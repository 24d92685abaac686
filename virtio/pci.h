/* SPDX-License-Identifier: GPL-2.0 */
/*
 * virtio-pci transport (virtio 1.2 §4.1), modern only: vendor-specific
 * capabilities for the common, notify, ISR, device and PCI-config-access
 * regions, all in one 32-bit memory BAR, and MSI-X (one vector per queue
 * plus config) with INTx as the fallback.
 *
 * Notifications: a KVM ioeventfd per queue on its notify address (moved
 * when the guest moves the BAR); MSI-X vectors are irqfds on KVM MSI
 * routes set up at first use; masked vectors latch their pending bit and
 * fire on unmask; INTx is a level-triggered irqfd with resample.
 *
 * Each queue also has a call eventfd for whoever serves it outside
 * vireo (virtio.h): while its vector is enabled and unmasked, it is an
 * irqfd on the vector's MSI route, so the backend interrupts the guest
 * directly; otherwise vireo watches it and does what the vector's state
 * says (pending bit, INTx and ISR, or nothing for NO_VECTOR).
 */
#ifndef VIREO_VIRTIO_PCI_H
#define VIREO_VIRTIO_PCI_H

#include "../vmm/irq.h"
#include "../vmm/loop.h"
#include "pci-host.h"
#include "virtio.h"

#define VPCI_COMMON		0x0000
#define VPCI_ISR		0x1000
#define VPCI_DEVICE		0x2000
#define VPCI_NOTIFY		0x3000
#define VPCI_MSIX_TABLE		0x4000
#define VPCI_MSIX_PBA		0x5000
#define VPCI_BAR_SIZE		0x8000
#define VPCI_NOTIFY_MULT	4
#define VPCI_MAX_VECTORS	(VIRTIO_MAX_QUEUES + 1)

/* Capability offsets in config space. */
#define VPCI_CAP_COMMON		0x40
#define VPCI_CAP_NOTIFY		0x50
#define VPCI_CAP_ISR		0x64
#define VPCI_CAP_DEVICE		0x74
#define VPCI_CAP_PCI_CFG	0x84
#define VPCI_CAP_MSIX		0x98

struct virtio_pci;

struct virtio_pci_kick {
	struct ev_handler h;
	struct virtio_pci *p;
	unsigned int q;
};

struct virtio_pci_call {
	struct ev_handler h;		/* the call eventfd, when relayed */
	struct virtio_pci *p;
	unsigned int q;
	bool watched;			/* relayed by vireo */
	int gsi;			/* wired as an irqfd to this GSI, or -1 */
};

struct virtio_pci_vector {
	uint32_t addr_lo, addr_hi, data, ctrl;
	int fd;
	int gsi;		/* -1 until first use */
	bool route_dirty;
	bool irqfd_wired;
};

struct virtio_pci {
	struct pci_func f;
	struct virtio_dev *d;
	struct vm_notify notify;
	uint32_t dfeat_sel, gfeat_sel;
	uint16_t queue_sel;
	uint16_t config_vector;
	uint16_t queue_vector[VIRTIO_MAX_QUEUES];
	uint8_t isr;
	unsigned int nvec;
	struct virtio_pci_vector vec[VPCI_MAX_VECTORS];
	uint32_t pba;
	struct virtio_pci_kick kick[VIRTIO_MAX_QUEUES];
	unsigned int nr_kicks;
	struct virtio_pci_call call[VIRTIO_MAX_QUEUES];
	unsigned int nr_calls;
	uint32_t notify_base;		/* where the ioeventfds sit; 0: none */
	unsigned int intx_gsi;
	int intx_fd;
	struct ev_handler intx_resample;
	bool intx_wired;
};

/* The transport's state as plain data (snapshots). */
struct virtio_pci_state {
	uint8_t cfg[256];			/* config space as the guest set it */
	uint32_t dfeat_sel, gfeat_sel;
	uint16_t queue_sel, config_vector;
	uint16_t queue_vector[VIRTIO_MAX_QUEUES];
	uint8_t isr;
	uint8_t pad[3];
	uint32_t pba;
	uint32_t nvec;
	struct {
		uint32_t addr_lo, addr_hi, data, ctrl;
	} vec[VPCI_MAX_VECTORS];
};

/* Build the function for d; then pci_host_add(&p->f) and virtio_pci_wire(). */
void virtio_pci_init(struct virtio_pci *p, struct virtio_dev *d,
		     uint32_t pci_class, const struct vm_notify *notify);
/* After the host placed the function: INTx and kicks. -errno. */
int virtio_pci_wire(struct virtio_pci *p, unsigned int intx_gsi);
void virtio_pci_fini(struct virtio_pci *p);
void virtio_pci_save(struct virtio_pci *p, struct virtio_pci_state *st);
/*
 * Into a wired function of the same device: the config space must name
 * the same device (IDs, capabilities) and may differ only where the guest
 * may write; BAR decoding, notify addresses, MSI routes and interrupts
 * follow. -EINVAL with err saying what differs.
 */
int virtio_pci_restore(struct virtio_pci *p, const struct virtio_pci_state *st,
		       char *err, size_t errlen);

#endif
