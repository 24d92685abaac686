// SPDX-License-Identifier: GPL-2.0
/*
 * The descriptor walkers (split and packed): guest RAM is the fuzz input,
 * so descriptors, indices, flags, indirect tables and event fields are all
 * hostile. The device pops, pushes and asks about notifications until the
 * ring is empty or reported corrupt. Any byte outside RAM is an ASan error.
 *
 * Input: [0] flags (bit 0 packed, 1 event_idx, 2 indirect, 3 lazy_kicks,
 *            4 kicks held and released in turn),
 *        [1] log2 size,
 *        [2..] RAM contents (desc at 0, driver at 0x1000, device at 0x2000).
 */
#include <stdlib.h>
#include <string.h>

#include "virtio/queue.h"

#define RAM_SIZE 0x10000

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct virtq vq;
	static struct vq_elem e;
	struct guest_mem gm = { .fd = -1, .nr = 1 };
	uint64_t features = 0;
	uint8_t *ram;
	int i, ret;

	if (size < 2)
		return 0;
	ram = calloc(1, RAM_SIZE);
	memcpy(ram, data + 2, size - 2 < RAM_SIZE ? size - 2 : RAM_SIZE);
	gm.r[0] = (struct gm_region){ 0, RAM_SIZE, ram, 0 };
	gm.ram_size = RAM_SIZE;
	if (data[0] & 1)
		features |= 1ULL << VIRTIO_F_RING_PACKED;
	if (data[0] & 2)
		features |= 1ULL << VIRTIO_F_EVENT_IDX;
	if (data[0] & 4)
		features |= 1ULL << VIRTIO_F_INDIRECT_DESC;
	memset(&vq, 0, sizeof(vq));
	vq.max_size = 256;
	vq.size = (uint16_t)(1u << (data[1] % 9));
	vq.desc_gpa = 0;
	vq.driver_gpa = 0x1000;
	vq.device_gpa = 0x2000;
	vq.lazy_kicks = data[0] & 8;
	if (vq_enable(&vq, &gm, features) == 0) {
		for (i = 0; i < 512; i++) {
			if (data[0] & 16) {
				if (i & 1)
					vq_release_kicks(&vq);
				else
					vq_hold_kicks(&vq);
			}
			ret = vq_pop(&vq, &e);
			if (ret <= 0)
				break;
			/* Touch every byte the device may: all of it. */
			{
				static uint8_t scratch[1 << 17];
				uint64_t out = e.out_len < sizeof(scratch) ?
					       e.out_len : sizeof(scratch);
				uint64_t in = e.in_len < sizeof(scratch) ?
					      e.in_len : sizeof(scratch);

				vq_elem_read(&e, 0, scratch, out);
				vq_elem_write(&e, 0, scratch, in);
			}
			vq_push(&vq, &e, (uint32_t)e.in_len);
			vq_should_notify(&vq);
		}
	}
	free(ram);
	return 0;
}
