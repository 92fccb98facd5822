#!/bin/busybox sh
# The guest's /init for tree-guest.sh: mount the share tree over virtio-fs (the guest kernel supports
# submounts) and report what a program in the VM sees: entries as submounts with their own st_dev, a file
# entry alone in its directory, read-only entries, EXDEV. Result marker on the second serial port.
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
exec >/dev/ttyS1 2>&1
tag=$(sed -n 's/.*boxshare.tag=\([^ ]*\).*/\1/p' /proc/cmdline)
fails=0
ok() { echo "ok $1"; }
fail() { echo "FAIL $1: $2"; fails=$((fails + 1)); }
for m in virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci fuse virtiofs; do
	insmod /modules/$m.ko || fail insmod "$m"
done
mkdir -p /mnt
if mount -t virtiofs "$tag" /mnt; then
	M=/mnt
	# stat(2) does not trigger an automount (the point itself shows the parent's st_dev); a trailing "/"
	# walks into the submount
	d0=$(stat -c %d $M); da=$(stat -c %d $M/a/); db=$(stat -c %d $M/b/); de=$(stat -c %d $M/etc)
	dc=$(stat -c %d $M/etc/conf); dfa=$(stat -c %d $M/a/f)
	echo "st_dev: root $d0 a $da b $db etc $de etc/conf $dc a/f $dfa"
	[ "$da" != "$d0" ] && [ "$db" != "$d0" ] && [ "$da" != "$db" ] && ok submount-st_dev ||
		fail submount-st_dev "root $d0 a $da b $db"
	[ "$dfa" = "$da" ] && ok st_dev-inside-entry || fail st_dev-inside-entry "a $da a/f $dfa"
	[ "$de" = "$d0" ] && ok synthetic-dir-st_dev || fail synthetic-dir-st_dev "root $d0 etc $de"
	grep -q " $M/a virtiofs" /proc/mounts && ok submount-listed || fail submount-listed "$(grep virtiofs /proc/mounts)"
	[ "$(ls $M/etc | tr '\n' ' ')" = "conf hostname " ] && ok file-entry-alone || fail file-entry-alone "$(ls $M/etc)"
	[ "$(cat $M/etc/conf)" = conf ] && ok file-entry-read || fail file-entry-read "$(cat $M/etc/conf)"
	[ "$(cat $M/etc/hostname)" = box ] && ok virtual || fail virtual "$(cat $M/etc/hostname)"
	[ ! -e $M/etc/sibling ] && ok no-sibling || fail no-sibling "sibling visible"
	echo x > $M/b/new 2>/dev/null && fail ro-entry "write to a ro entry worked" || ok ro-entry
	# the guest owns its mount flags, not the server's: after remount,rw (of the share and of the entry's
	# submount) the server still refuses every write to the ro entry
	mount -o remount,rw $M 2>/dev/null; mount -o remount,rw $M/b/ 2>/dev/null
	echo x > $M/b/new 2>/dev/null && fail ro-after-remount "write after remount,rw worked" || ok ro-after-remount
	echo x > $M/b/g 2>/dev/null && fail ro-after-remount-existing "overwrite after remount,rw worked" ||
		ok ro-after-remount-existing
	[ "$(cat $M/b/g)" = g ] && ok ro-entry-unchanged || fail ro-entry-unchanged "$(cat $M/b/g)"
	echo y > $M/a/new && [ "$(cat $M/a/new)" = y ] && ok rw-entry || fail rw-entry "?"
	mv $M/a/new $M/b/new 2>/dev/null; [ -e $M/a/new ] && ok exdev-or-ro || fail exdev-or-ro "moved"
	mkdir $M/newdir 2>/dev/null && fail synthetic-ro "mkdir in the root worked" || ok synthetic-ro
	umount -R /mnt 2>/dev/null || umount -l /mnt
else
	fail mount "mount -t virtiofs $tag failed"
fi
echo "BOXSHARE-GUEST-RESULT $fails"
sync
poweroff -f
