// SPDX-License-Identifier: GPL-2.0
/*
 * Transport register sequences: arbitrary reads and writes of any width at
 * any offset of a virtio-mmio window, a virtio-pci function's BAR and its
 * config space (CF8/CFC, ECAM), with kicks in between, against a device
 * that consumes buffers from guest RAM (also fuzz-controlled). Checks that
 * no sequence crashes vireo or reaches outside guest RAM.
 *
 * Ops are 8 bytes: [target][offset lo][offset hi][width][value x4].
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices/virtio-rng.h"
#include "virtio/mmio.h"
#include "virtio/pci.h"

#include "stub-notify.h"

#define RAM_SIZE 0x20000

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct virtio_rng mrng, prng;
	static struct virtio_mmio m;
	static struct virtio_pci p;
	static struct pci_host host;
	struct vm_notify n = { &stub_notify_ops, NULL };
	struct virtio_opts mo = { .transport = VIRTIO_MMIO, .packed = true };
	struct virtio_opts po = { .transport = VIRTIO_PCI, .packed = true };
	struct guest_mem gm = { .fd = -1, .nr = 1 };
	uint8_t *ram = calloc(1, RAM_SIZE);
	size_t i;

	if (size < 1024)
		memcpy(ram, data, size);
	else
		memcpy(ram, data + size - 1024, 1024);
	gm.r[0] = (struct gm_region){ 0, RAM_SIZE, ram, 0 };
	gm.ram_size = RAM_SIZE;
	stub_next_gsi = 24;
	virtio_rng_init(&mrng, &gm, &mo, &n);
	virtio_rng_init(&prng, &gm, &po, &n);
	virtio_mmio_init(&m, &mrng.vdev, 0xd0000000, 20, data && size && (data[0] & 1), &n);
	pci_host_init(&host, 0xc0000000, 0x10000000);
	virtio_pci_init(&p, &prng.vdev, 0xff0000, &n);
	pci_host_add(&host, &p.f);
	virtio_pci_wire(&p, 17);
	for (i = 0; i + 8 <= size && i < 8 * 4096; i += 8) {
		const uint8_t *op = data + i;
		uint32_t off = op[1] | (uint32_t)op[2] << 8;
		unsigned int len = 1u << (op[3] & 3);
		uint8_t buf[8];
		bool wr = op[3] & 4;

		memcpy(buf, op + 4, 4);
		memcpy(buf + 4, op + 4, 4);
		switch (op[0] % 6) {
		case 0:
			if (wr)
				virtio_mmio_ops.write(&m, off % 0x200, buf, len);
			else
				virtio_mmio_ops.read(&m, off % 0x200, buf, len);
			break;
		case 1:
			if (wr)
				pci_host_mmio_ops.write(&host, off, buf, len);
			else
				pci_host_mmio_ops.read(&host, off, buf, len);
			break;
		case 2:
			if (wr)
				pci_host_ecam_ops.write(&host, (uint64_t)(op[3] >> 3) << 15 | (off & 0xfff), buf, len);
			else
				pci_host_ecam_ops.read(&host, (uint64_t)(op[3] >> 3) << 15 | (off & 0xfff), buf, len);
			break;
		case 3:
			if (wr)
				pci_host_pio_ops.write(&host, off % 8, buf, len);
			else
				pci_host_pio_ops.read(&host, off % 8, buf, len);
			break;
		case 4:
			virtio_kick(&mrng.vdev, op[1] % 2);
			break;
		default:
			virtio_kick(&prng.vdev, op[1] % 2);
			break;
		}
	}
	virtio_pci_fini(&p);
	virtio_mmio_fini(&m);
	pci_host_fini(&host);
	virtio_rng_fini(&mrng);
	virtio_rng_fini(&prng);
	free(ram);
	return 0;
}
