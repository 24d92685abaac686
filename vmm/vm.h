/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The VM: KVM fds, guest memory, the I/O buses and the vCPU threads.
 *
 * Life cycle: vm_create() -> devices register on vm->pio / vm->mmio ->
 * the boot code writes guest memory -> vm_start() -> the event loop waits
 * on vm->exit_fd -> vm_stop() -> vm_destroy(). Anything (a device on a
 * vCPU thread, the console, a signal) ends the run with vm_request_exit();
 * the first request wins.
 */
#ifndef VIREO_VM_H
#define VIREO_VM_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "../boot/x86.h"
#include "bus.h"
#include "irq.h"
#include "loop.h"
#include "mem.h"

#define VM_MAX_VCPUS 254	/* xAPIC IDs 0..253 in the MADT */

/* The MSRs vireo reads by number (the time stamp counter and its timer) */
#define MSR_IA32_TSC		0x10
#define MSR_TSC_DEADLINE	0x6e0

enum vm_exit_reason {
	VM_EXIT_NONE = 0,
	VM_EXIT_POWEROFF,	/* ACPI S5 */
	VM_EXIT_REBOOT,		/* ACPI reset register, i8042 pulse */
	VM_EXIT_PANIC,		/* the guest reported a panic (pvpanic) */
	VM_EXIT_FAULT,		/* triple fault, KVM internal error, ... */
	VM_EXIT_USER,		/* console escape (Ctrl-A x) */
	VM_EXIT_SIGNAL,		/* SIGTERM, SIGINT, SIGHUP */
	VM_EXIT_ERROR,		/* host-side failure while running */
	VM_EXIT_MIGRATED,	/* the guest runs in another vireo now */
};

struct vm;

struct vcpu {
	struct vm *vm;
	unsigned int id;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool started;
	/*
	 * For the report on a VM stopped by a signal (vm_vcpu_activity()):
	 * whether the thread is in KVM_RUN or serving an exit, the last
	 * exit's reason and when it came (CLOCK_MONOTONIC_COARSE, ms), and
	 * how many it served.
	 */
	atomic_bool in_guest;
	atomic_bool parked;		/* stopped for a pause */
	atomic_uint last_exit;
	_Atomic uint64_t last_exit_ms;
	_Atomic uint64_t nr_exits;
	/*
	 * The stuck-interrupt check (vm_watch_vcpus()): the loop asks a vCPU
	 * quiet for VM_WATCH_MS to look at its APIC (check_req, a kick); the
	 * vCPU thread keeps what it found (the rest, its own).
	 */
	atomic_bool check_req;
	_Atomic uint64_t checked_ms;
	int stuck_vector;		/* -1: none pending at the last look */
	uint64_t stuck_exits;		/* nr_exits when first seen */
	uint64_t stuck_ms;		/* when first seen */
	uint64_t stuck_rip;		/* rip then */
	bool gif_set_by_vireo;		/* found clear at the second look */
	/* A vCPU frozen at one rip: how many looks in a row, since when */
	uint64_t frozen_rip, frozen_exits, frozen_ms;
	unsigned int frozen_looks;
	unsigned int stuck_looks;	/* looks that found it, in a row */
};

struct vm {
	int kvm_fd;
	int vm_fd;
	size_t run_size;
	struct guest_mem mem;
	struct io_bus pio;
	struct io_bus mmio;
	unsigned int nr_vcpus;
	struct vcpu *vcpus;
	struct kvm_cpuid2 *cpuid;	/* what KVM supports */

	struct ev_loop *loop;		/* where notification fds are watched */
	pthread_mutex_t routes_lock;	/* GSI routing table */
	struct kvm_irq_routing *routes;
	unsigned int next_msi_gsi;

	int exit_fd;			/* eventfd: an exit was requested */
	struct ev_handler watch_h;	/* timerfd: vm_watch_vcpus() */
	bool watching;			/* watch_h on the loop */
	atomic_bool stopping;		/* vCPU threads must leave KVM_RUN */

	/* Pause: vCPUs park outside KVM_RUN until resumed (vm_pause()). */
	pthread_mutex_t pause_lock;
	pthread_cond_t pause_cond;
	atomic_bool pause_req;
	unsigned int parked;
	bool paused;

	bool dirty_log;			/* KVM logs the guest's writes */
	/* vhost backends log theirs here, by guest-physical page (bits) */
	uint64_t *backend_log;
	uint64_t backend_log_words;
	uint32_t *msr_index;		/* MSRs KVM saves (vcpu-state.c) */
	uint32_t nr_msr_index;
	pthread_mutex_t exit_lock;
	enum vm_exit_reason exit_reason;
	int exit_signal;
	char exit_detail[2048];		/* reason line + register dump */
};

/*
 * Open KVM, create the VM, irqchip, PIT, memory and vCPUs. mem_fd >= 0:
 * RAM from a snapshot's memory file (gm_load(), mem_from says how).
 * -errno.
 */
int vm_create(struct vm *vm, uint64_t ram_size, unsigned int nr_vcpus,
	      int mem_fd, enum gm_from mem_from, char *err, size_t errlen);
void vm_destroy(struct vm *vm);

/* CPUID, MSR defaults and LAPIC of every vCPU (before a restore). */
int vm_configure_vcpus(struct vm *vm, char *err, size_t errlen);
/*
 * Configure every vCPU (CPUID, MSRs, LAPIC) and start the threads,
 * parked: vm_resume() lets the guest run (once vireo is locked down).
 */
int vm_start(struct vm *vm, const struct vcpu_boot_state *bsp, char *err,
	     size_t errlen);
/* Make every vCPU thread leave KVM_RUN and join it. */
void vm_stop(struct vm *vm);

/*
 * Park every vCPU outside KVM_RUN, its last I/O exit completed (so its
 * state can be saved), and wait until all are parked; vm_resume() lets
 * them go. Not from a vCPU thread. A stopping VM does not park.
 */
void vm_pause(struct vm *vm);
void vm_resume(struct vm *vm);
/* Start the vCPU threads of a VM whose state was loaded (restore). */
int vm_start_threads(struct vm *vm, bool paused, char *err, size_t errlen);

/*
 * Ask the VM to stop. The first request sets the reason and detail;
 * later ones are ignored. Safe from any thread.
 */
void vm_request_exit(struct vm *vm, enum vm_exit_reason reason,
		     const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/*
 * Where stopped vCPU id was, into buf, for diagnosing hangs: "vCPU 0 at
 * rip 0x... (interrupts on|off, run state, APIC timer and vectors, code
 * bytes at rip)". Returns what snprintf does.
 */
int vm_vcpu_position(struct vm *vm, unsigned int id, char *buf, size_t len);
/*
 * What each vCPU thread is doing now, in words: in KVM_RUN (and how long
 * since its last exit) or serving an exit (which, for how long). Called
 * when a stop signal comes, before the vCPUs are stopped: a guest that
 * hung on vireo shows a vCPU serving one exit for seconds.
 */
void vm_vcpu_activity(struct vm *vm, char *buf, size_t len);

/*
 * Dirty tracking for diff snapshots and migration: KVM logs the guest's
 * writes to RAM, guest_mem records the devices' (mem.h). -errno.
 */
int vm_dirty_track(struct vm *vm);
/*
 * A log for backends outside vireo (vhost) to record the guest pages they
 * write: a bitmap by guest-physical page over all of RAM's addresses, in
 * vm->backend_log, which vm_dirty_log_sync() also empties into mem.dirty.
 * Free it only once no backend logs into it. -ENOMEM.
 */
int vm_backend_log_alloc(struct vm *vm);
void vm_backend_log_free(struct vm *vm);
/* OR KVM's log (and the backends') since the last call into mem.dirty
 * (and reset them). */
int vm_dirty_log_sync(struct vm *vm);
/* Start both over: KVM's log read and dropped, mem.dirty cleared. */
void vm_dirty_log_clear(struct vm *vm);

/* Drive an interrupt line of the in-kernel PIC/IOAPIC. -errno. */
int vm_irq_line(struct vm *vm, unsigned int gsi, bool level);

/* Register a device range; die()s on conflicts (a vireo bug). */
void vm_register_pio(struct vm *vm, uint16_t port, uint16_t len,
		     const struct bus_ops *ops, void *opaque, const char *name);
void vm_register_mmio(struct vm *vm, uint64_t addr, uint64_t len,
		      const struct bus_ops *ops, void *opaque,
		      const char *name);

/* The vm_notify interface (ioeventfd, irqfd, MSI routes) on this VM. */
struct vm_notify vm_notifier(struct vm *vm);

/*
 * Let KVM absorb guest writes to a port that need no emulation (port 0x80
 * delays) without leaving the kernel. -errno.
 */
int vm_ignore_pio_writes(struct vm *vm, uint16_t port, unsigned int len);

#endif
