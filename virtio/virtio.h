/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The virtio device model, transport-agnostic.
 *
 * A device class is a constant struct virtio_dev_ops (IDs, queue count and
 * size, config space, feature bits, activate/reset/kick callbacks); an
 * instance is a struct virtio_dev plus the class's private state. A
 * transport (virtio/mmio.c, virtio/pci.c: the only files that know
 * register layouts) translates guest register accesses into the calls
 * below and reaches the guest through struct virtio_transport_ops.
 *
 * Activation hands the queues over. At DRIVER_OK the device's activate()
 * gets a struct virtio_activation: per queue, the validated ring (struct
 * virtq), the kick eventfd the guest's notifications land on (a KVM
 * ioeventfd) and a call eventfd that interrupts the guest for that queue.
 * A device that serves a queue itself leaves both to the transport: its
 * queue_kick() runs on each kick, and virtio_queue_notify() interrupts.
 * A device that hands a queue to someone else (a vhost backend) passes
 * both fds on and calls virtio_queue_set_external(): the transport stops
 * watching the kick fd, and delivers signals on the call fd itself: an
 * irqfd on the vector's MSI route where it can (MSI-X, vector unmasked),
 * relayed by vireo where it cannot (a masked vector latches its pending
 * bit; INTx sets the ISR; virtio-mmio sets InterruptStatus). Queues come
 * back to the transport at reset, after deactivate() has stopped them and
 * left their state in d->vq[] (last_avail, used_idx, wrap counters).
 *
 * Threads and locking: register accesses arrive on vCPU threads, kicks on
 * the event loop (ioeventfd). Both run under d->lock, and so do the
 * class's callbacks; interrupts are raised with the lock held.
 *
 * Guest errors follow one policy (virtio 1.2 §2.1.2): a corrupt ring sets
 * DEVICE_NEEDS_RESET, raises a configuration interrupt if DRIVER_OK, and
 * the device does nothing more until the driver resets it; a bad request
 * completes with an error status. Nothing the guest writes can abort
 * vireo. Once the status reads 0 after a reset, the device neither
 * touches guest memory nor raises interrupts.
 */
#ifndef VIREO_VIRTIO_H
#define VIREO_VIRTIO_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "../vmm/mem.h"
#include "queue.h"
#include "violation.h"

#define VIRTIO_STATUS_ACKNOWLEDGE	0x01
#define VIRTIO_STATUS_DRIVER		0x02
#define VIRTIO_STATUS_DRIVER_OK		0x04
#define VIRTIO_STATUS_FEATURES_OK	0x08
#define VIRTIO_STATUS_NEEDS_RESET	0x40
#define VIRTIO_STATUS_FAILED		0x80

#define VIRTIO_MAX_QUEUES	16
#define VIRTIO_NO_VECTOR	0xffff
#define VIRTIO_CONFIG_IRQ	(-1)	/* interrupt source: config change */

enum virtio_transport {
	VIRTIO_PCI,
	VIRTIO_MMIO,
	VIRTIO_MMIO_LEGACY,
};

/* Per-instance choices from the command line. */
struct virtio_opts {
	enum virtio_transport transport;
	bool packed;		/* offer VIRTIO_F_RING_PACKED */
	bool no_event_idx;
	bool no_indirect;
	uint64_t no_features;	/* device-specific bits not to offer */
};

struct virtio_dev;

/* One queue as activation hands it over. */
struct virtio_queue_ctx {
	struct virtq *vq;	/* validated geometry and host pointers */
	int kick_fd;		/* eventfd: the driver notified (-1: none) */
	int call_fd;		/* eventfd: signal to interrupt the driver */
};

struct virtio_activation {
	const struct guest_mem *gm;
	bool resume;			/* after a pause or a restore */
	uint64_t features;		/* negotiated */
	unsigned int nr_queues;
	struct virtio_queue_ctx q[VIRTIO_MAX_QUEUES];
};

/* What a transport does for the device; set by the transport. */
struct virtio_transport_ops {
	/* Raise the interrupt of queue source (>= 0) or VIRTIO_CONFIG_IRQ. */
	void (*interrupt)(void *t, int source);
	/* Run queue_kick(q) again from the event loop. */
	void (*kick_later)(void *t, unsigned int q);
	/* The kick and call eventfds of queue q (-1 if there are none). */
	void (*queue_fds)(void *t, unsigned int q, int *kick_fd, int *call_fd);
	/* Queue q is (or is no longer) served outside vireo's loop. */
	void (*queue_external)(void *t, unsigned int q, bool external);
};

struct virtio_dev_ops {
	const char *name;
	uint32_t device_id;
	uint16_t num_queues;
	uint16_t queue_size;		/* the maximum, for every queue */
	uint32_t config_size;
	uint32_t pci_class;		/* class << 16 | subclass << 8 | prog-if */
	uint64_t features;		/* device-specific bits offered */
	/* off + len <= config_size is guaranteed. */
	void (*config_read)(struct virtio_dev *d, uint32_t off, uint8_t *buf,
			    uint32_t len);
	void (*config_write)(struct virtio_dev *d, uint32_t off,
			     const uint8_t *buf, uint32_t len);
	/*
	 * DRIVER_OK: features negotiated, queues set; a says who serves the
	 * queues with what. < 0 breaks the device.
	 */
	int (*activate)(struct virtio_dev *d, const struct virtio_activation *a);
	/*
	 * Stop serving the queues; on return d->vq[] holds each queue's
	 * state (a backend's ring bases fetched back). pause: the VM is being
	 * paused (snapshot, migration): work in flight is completed into the
	 * rings and buffers taken but not used are given back, so the rings
	 * alone say everything; activate() with a->resume follows. Else the
	 * driver reset the device: in-flight work is abandoned, reset()
	 * follows.
	 */
	void (*deactivate)(struct virtio_dev *d, bool pause);
	/*
	 * Status written 0: stop all I/O. Must not wait: a device with work
	 * in flight cancels it and returns true; it then finishes in the
	 * background, touching no ring, and calls virtio_reset_done(). Until
	 * then the driver reads a non-zero status (virtio 1.2, 2.4: reset is
	 * done when status reads 0).
	 */
	bool (*reset)(struct virtio_dev *d);
	/*
	 * The driver went on without waiting for status 0 (Linux's
	 * virtio-mmio does): finish the reset now, within a bound.
	 */
	void (*reset_wait)(struct virtio_dev *d);
	/*
	 * A pause left pending (virtio_dev_quiesce_async) must end now:
	 * take the rings' state, within a bound.
	 */
	void (*pause_wait)(struct virtio_dev *d);
	/* Buffers may be available on queue q. */
	void (*queue_kick)(struct virtio_dev *d, unsigned int q);
};

/*
 * Interrupt faults (inject= rules any device vireo serves itself takes):
 * what a device may do to its interrupts within the spec. Each queue
 * interrupt late by late_ms; one per `coalesce` used-buffer notifications
 * (the rest within 10 ms); every spurious_ms an interrupt on each queue
 * with nothing new in it. Each counted and logged as "injected".
 * queue@N narrows these and the device's own rules to virtqueue N.
 */
struct virtio_irq_faults {
	unsigned int late_ms;		/* irqlate@MS */
	unsigned int coalesce;		/* irqcoalesce@N */
	unsigned int spurious_ms;	/* irqspurious@MS */
	bool one_queue;			/* queue@N */
	unsigned int queue;
};

/* Does a fault of f apply to virtqueue q? */
static inline bool virtio_fault_queue(const struct virtio_irq_faults *f,
				      unsigned int q)
{
	return !f->one_queue || f->queue == q;
}

#define VIRTIO_IRQ_FAULT_RULES "irqlate@MS, irqcoalesce@N, irqspurious@MS"

struct virtio_irq_state;
struct vm_notify;

struct virtio_dev {
	const struct virtio_dev_ops *ops;
	void *priv;			/* the class's instance state */
	const struct guest_mem *gm;
	pthread_mutex_t lock;
	bool modern;			/* VERSION_1 transport */
	uint64_t offered;
	uint64_t acked;
	uint8_t status;
	uint8_t config_gen;
	bool broken;			/* NEEDS_RESET is set */
	bool quiesced;			/* paused: nothing served */
	/*
	 * virtio_dev_quiesce_async(): deactivate(pause) may leave the rings'
	 * state to come (a backend's replies) by setting pause_pending; the
	 * device calls virtio_pause_done() when it has it.
	 */
	bool pause_async;
	bool pause_pending;
	void (*pause_done_fn)(void *ctx);
	void *pause_done_ctx;
	bool resetting;			/* reset written, work still ending */
	uint8_t reset_status;		/* what the driver reads meanwhile */
	struct virtq vq[VIRTIO_MAX_QUEUES];
	uint32_t external;		/* queues served outside vireo's loop */
	/*
	 * Guest notifications handled, interrupts raised: for stats lines.
	 * For external queues: kicks and interrupts that went through vireo.
	 */
	uint64_t kicks, interrupts;

	const struct virtio_transport_ops *tops;	/* set by the transport */
	void *transport;

	/* The driver-violation log (violation.h): the device's name there. */
	char id[32];
	uint64_t violations[VIOL_NR_KINDS];
	uint64_t nr_violations;
	uint64_t injected;		/* faults injected on purpose */
	struct virtio_irq_state *irqf;	/* interrupt faults, when asked */
};

void virtio_dev_init(struct virtio_dev *d, const struct virtio_dev_ops *ops,
		     void *priv, const struct guest_mem *gm,
		     const struct virtio_opts *opts);
void virtio_dev_destroy(struct virtio_dev *d);

/* ---- for transports (d->lock held) ----------------------------------- */

/* 32 bits of the offered features: word sel (0 = bits 0..31). */
uint32_t virtio_device_features(const struct virtio_dev *d, uint32_t sel);
uint32_t virtio_driver_features(const struct virtio_dev *d, uint32_t sel);
/* Ignored once FEATURES_OK (or DRIVER_OK) is set. */
void virtio_set_driver_features(struct virtio_dev *d, uint32_t sel,
				uint32_t val);
/*
 * Status writes: 0 resets; FEATURES_OK is latched only if the acked
 * features are a subset of the offered ones (with VERSION_1 on modern
 * transports); DRIVER_OK needs FEATURES_OK (modern) and activates the
 * device; bits cannot be cleared except by a reset.
 */
void virtio_set_status(struct virtio_dev *d, uint8_t val);
/* May the queue's size and addresses be written now? */
bool virtio_queue_writable(const struct virtio_dev *d, unsigned int q);
/*
 * A transport's write of queue register reg: whether it may take effect
 * now; if not, the driver broke the spec (logged).
 */
bool virtio_queue_reg(struct virtio_dev *d, unsigned int q, const char *reg,
		      uint32_t val);
/* The driver enabled queue q: validate and start it. false if refused. */
bool virtio_queue_enable(struct virtio_dev *d, unsigned int q);
/* Config space access; out of bounds reads 0, writes are dropped. */
void virtio_config_access(struct virtio_dev *d, uint64_t off, uint8_t *buf,
			  uint32_t len, bool write);

/* The status register as the driver reads it. */
uint8_t virtio_read_status(const struct virtio_dev *d);
/* A device's background reset (ops->reset returned true) has ended. */
void virtio_reset_done(struct virtio_dev *d);

/*
 * An inject= rule: 1 if it is one of the interrupt rules (stored in f),
 * 0 if not, -1 if it is one with a bad value.
 */
int virtio_irq_fault_rule(struct virtio_irq_faults *f, const char *rule);
/*
 * Apply f to d (all zero: none), replacing what was there; the timers
 * run on notify's loop. Called before the device runs or with d->lock
 * held on the event loop. 0, or -errno with err.
 */
int virtio_irq_faults_set(struct virtio_dev *d, const struct virtio_irq_faults *f,
			  const struct vm_notify *notify, char *err,
			  size_t errlen);
/* Going away: stop the timers (not with d->lock held). */
void virtio_irq_faults_free(struct virtio_dev *d);

/*
 * Each device's requests have a layout (virtio 1.2, 5.x): on some queues
 * the device only reads what the driver gives it, on others it only
 * writes. A buffer of queue q with a part of the wrong kind is the
 * driver's violation (logged, with d->lock held); the device serves it
 * as before. True if e is as it should be.
 */
enum vq_layout {
	VQ_DEVICE_READS,	/* no device-writable part */
	VQ_DEVICE_WRITES,	/* no device-readable part */
};
bool virtio_check_layout(struct virtio_dev *d, unsigned int q,
			 const struct vq_elem *e, enum vq_layout want);

/*
 * The transport's handler of queue q's kick eventfd: reads it under the
 * device lock (a reset drains it), logs a notification for a disabled
 * queue as the driver's violation, then virtio_kick().
 */
void virtio_kick_fd(struct virtio_dev *d, unsigned int q, int fd);
/* A kick for queue q (event loop). Takes d->lock. */
void virtio_kick(struct virtio_dev *d, unsigned int q);
/*
 * A kick for queue q that vireo serves on another thread (an I/O thread
 * the device handed it to with virtio_queue_set_external). Takes d->lock.
 */
void virtio_kick_handed(struct virtio_dev *d, unsigned int q);

/*
 * Work a device does per kick is bounded: a guest refilling the ring as
 * fast as it drains could otherwise hold the event loop. A device that
 * stops at its budget calls this to continue on a later loop turn.
 */
void virtio_kick_later(struct virtio_dev *d, unsigned int q);

/*
 * What one queue may cost per kick: buffers taken, and bytes moved for
 * them (copied, written to a tap or file, discarded). Counting buffers
 * alone is not enough: one buffer can be gigabytes through aliased
 * descriptors. A device stops once either runs out, keeps its place in a
 * buffer it has not finished, and continues on a later loop turn
 * (virtio_kick_later); work is thereby bounded by what it costs.
 */
#define VQ_TURN_BYTES		(1ULL << 20)	/* copies and writes */
#define VQ_TURN_DISCARD		(64ULL << 20)	/* balloon: pages given back */

struct vq_budget {
	unsigned int bufs;
	uint64_t bytes;
};

static inline void vq_budget_init(struct vq_budget *b, unsigned int bufs,
				  uint64_t bytes)
{
	b->bufs = bufs;
	b->bytes = bytes;
}

/* Room for another buffer? Takes it from the budget if so. */
static inline bool vq_budget_take(struct vq_budget *b)
{
	if (!b->bufs || !b->bytes)
		return false;
	b->bufs--;
	return true;
}

static inline void vq_budget_spend(struct vq_budget *b, uint64_t bytes)
{
	b->bytes -= bytes < b->bytes ? bytes : b->bytes;
}

static inline bool vq_budget_spent(const struct vq_budget *b)
{
	return !b->bufs || !b->bytes;
}

/* ---- for device classes (d->lock held) ------------------------------- */

/*
 * From activate(): queue q is served by someone else through the kick
 * and call fds of its activation context (until the next reset).
 */
void virtio_queue_set_external(struct virtio_dev *d, unsigned int q);
/* Queue q is served by vireo again (its backend went away). */
void virtio_queue_set_internal(struct virtio_dev *d, unsigned int q);

/* After pushing used buffers on q: interrupt the driver if it wants. */
void virtio_queue_notify(struct virtio_dev *d, unsigned int q);
/* The ring is corrupt: DEVICE_NEEDS_RESET and a config interrupt. */
void virtio_dev_broken(struct virtio_dev *d);
/* Device config changed: bump the generation, config interrupt. */
void virtio_config_changed(struct virtio_dev *d);
/* Is the device running (DRIVER_OK, not broken, not paused)? */
bool virtio_dev_running(const struct virtio_dev *d);

/* ---- pause, snapshot, restore (from vmm/; take d->lock) ---------------- */

/* The device model's state as plain data: status, features, queues. */
struct virtio_state {
	uint8_t status;
	uint8_t config_gen;
	uint8_t broken;
	uint8_t nr_queues;
	uint32_t pad;
	uint64_t offered;
	uint64_t acked;
	struct vq_state q[VIRTIO_MAX_QUEUES];
};

/* Stop serving the queues with nothing left in flight (deactivate(pause)). */
void virtio_dev_quiesce(struct virtio_dev *d);
/*
 * The same without waiting for a backend: true if the rings' state is
 * still to come, done(ctx) is then called (on the event loop, the
 * device's lock held) once it is.
 */
bool virtio_dev_quiesce_async(struct virtio_dev *d, void (*done)(void *ctx),
			      void *ctx);
/* The device has the state a pause_pending pause waited for (lock held). */
void virtio_pause_done(struct virtio_dev *d);
/*
 * A backend has answered the stop a reset (*resetting) or a pause
 * (*pausing) of d waited for: that one is done (lock held).
 */
void virtio_stop_settled(struct virtio_dev *d, bool *resetting, bool *pausing);
/* A pending pause ended now (ops->pause_wait); done() is not called. */
void virtio_dev_settle(struct virtio_dev *d);
/* Serve them again (activate() with a->resume), and look at each ring. */
void virtio_dev_unquiesce(struct virtio_dev *d);
/* From a quiesced device. */
void virtio_dev_save(struct virtio_dev *d, struct virtio_state *s);
/*
 * Into a device just built from the same configuration, not started:
 * the feature sets, the status, each queue through vq_restore(). The
 * device stays quiesced until virtio_dev_unquiesce(). -EINVAL with err
 * saying what does not hold.
 */
int virtio_dev_restore(struct virtio_dev *d, const struct virtio_state *s,
		       char *err, size_t errlen);

#endif
