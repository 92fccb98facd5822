#!/bin/busybox sh
# The guest's /init for the virtio-fs test: load the modules, mount the tag, run the battery, report the
# battery's exit status on the second serial port as a marker line, power off.
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
exec >/dev/ttyS1 2>&1
tag=$(sed -n 's/.*boxshare.tag=\([^ ]*\).*/\1/p' /proc/cmdline)
rc=0
for m in virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci fuse virtiofs; do
	insmod /modules/$m.ko || { echo "insmod $m failed"; rc=1; }
done
mkdir -p /mnt
if [ $rc = 0 ] && mount -t virtiofs "$tag" /mnt; then
	# First boot: reset the machine with the file system still mounted, as a crash or a hard reset would.
	# The VMM stops and restarts the device and the next kernel sends INIT again with no DESTROY before it:
	# the server must take it as a new client (the marker lives on the share, so it survives the reset).
	if [ ! -e /mnt/.boxshare-boot1 ]; then
		echo "first boot: resetting without unmounting"
		: > /mnt/.boxshare-boot1
		reboot -f
	fi
	rm /mnt/.boxshare-boot1 && echo "ok remount-after-reset"
	sh /battery.sh /mnt
	rc=$?
	umount /mnt || { echo "umount failed"; rc=1; }
else
	echo "mount -t virtiofs $tag failed"
	rc=1
fi
echo "BOXSHARE-GUEST-RESULT $rc"
sync
poweroff -f
