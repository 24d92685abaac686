// SPDX-License-Identifier: GPL-2.0
/*
 * Holds one empty KVM VM open for the test host's whole run. KVM counts
 * live VMs in a static key of the scheduler (preempt notifiers): the
 * first VM made switches it on, the last one gone switches it off, and
 * each switch live-patches __schedule. Under QEMU's TCG that patching now
 * and then leaves another vCPU executing the stale int3 ("Oops: int3" in
 * __schedule, a kernel panic, measured with the 6.12 test host). With
 * this VM alive the key never switches back off between the tests' VMs.
 */
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <unistd.h>

int main(void)
{
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	int vm;

	if (kvm < 0) {
		perror("kvmhold: /dev/kvm");
		return 1;
	}
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0) {
		perror("kvmhold: KVM_CREATE_VM");
		return 1;
	}
	for (;;)
		pause();
}
