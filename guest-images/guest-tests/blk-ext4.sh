#!/bin/sh
# mkfs.ext4 on the test disk, files of known checksums, sync: the host then
# checks the image with e2fsck and debugfs.
. /tests/lib.sh
dev=$(test_disk) && mount_tools || exit 1
/opt/bin/mke2fs -q -F -t ext4 "$dev" || exit 1
mount -t ext4 "$dev" /mnt || exit 1
dd if=/dev/urandom of=/mnt/f1 bs=1M count=6 2>/dev/null
dd if=/dev/urandom of=/mnt/f2 bs=4k count=3 2>/dev/null
mkdir /mnt/dir && echo hello-vireo > /mnt/dir/small
for f in f1 f2 dir/small; do
	echo "RESULT sum file=$f sha=$(sha256sum "/mnt/$f" | cut -d' ' -f1)"
done
sync
umount /mnt
