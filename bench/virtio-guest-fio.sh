#!/bin/bash
# fio inside a QEMU guest over virtio-fs, boxshare against QEMU's C virtiofsd in one run: 4 KiB random read and
# 1 MiB sequential read, each with O_DIRECT and buffered. Each back end gets a fresh guest (TCG unless KVM with
# kvm_intel/kvm_amd works), the same 256 MiB file, the same cache mode (auto).
#   bench/virtio-guest-fio.sh [BUILD_DIR]   (env: RUNTIME=5 seconds per job, REPEAT=1, BOXSHARE_ARGS=)
# Under TCG the absolute numbers are the emulator's; the ratio between the back ends is what counts.
set -uo pipefail
B=${1:-build}
HERE=$(cd "$(dirname "$0")" && pwd)
BOXSHARE=$B/src/cli/boxshare
VIRTIOFSD=/usr/lib/qemu/virtiofsd
RUNTIME=${RUNTIME:-5}
REPEAT=${REPEAT:-1}
for f in "$BOXSHARE" "$VIRTIOFSD" /usr/bin/fio /bin/busybox; do
	[ -x "$f" ] || { echo "virtio-guest-fio: $f missing (fio: apt-get install fio)" >&2; exit 1; }
done
command -v qemu-system-x86_64 >/dev/null || { echo "virtio-guest-fio: qemu-system-x86_64 missing" >&2; exit 1; }
CACHE=$("$HERE/../tests/integration/vu/guest-kernel.sh") || exit 1

W=$(mktemp -d /tmp/virtio-guest-fio.XXXXXX)
PID=
trap '[ -n "$PID" ] && kill $PID 2>/dev/null; wait 2>/dev/null; rm -rf "$W"' EXIT
mkdir -p "$W/root"/{bin,modules,proc,sys,dev,mnt,tmp,lib64} "$W/share"
cp /bin/busybox "$W/root/bin/"
cp "$CACHE"/modules/*.ko "$W/root/modules/"
# fio is dynamic: bring it with every library it loads, at the same paths
cp /usr/bin/fio "$W/root/bin/fio"
for lib in $(ldd /usr/bin/fio | awk '/=>/ { print $3 } /ld-linux/ { print $1 }'); do
	mkdir -p "$W/root$(dirname "$lib")"
	cp -L "$lib" "$W/root$lib"
done
cat > "$W/root/init" <<INIT
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
exec >/dev/ttyS1 2>&1
for m in virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci fuse virtiofs; do
	insmod /modules/\$m.ko
done
mount -t virtiofs bench /mnt || { echo "BENCH-FAIL mount"; poweroff -f; }
run() { # NAME FIO-ARGS...
	n=\$1; shift
	echo 3 > /proc/sys/vm/drop_caches
	bw=\$(fio --minimal --name=\$n --filename=/mnt/fio.dat --readonly --time_based --runtime=$RUNTIME \\
		--ioengine=libaio "\$@" | cut -d';' -f7)
	echo "\$n \$bw" # KiB/s
}
run randread-4k-direct --rw=randread --bs=4k --direct=1 --iodepth=16
run randread-4k-buffered --rw=randread --bs=4k --direct=0 --iodepth=1
run seqread-1m-direct --rw=read --bs=1m --direct=1 --iodepth=4
run seqread-1m-buffered --rw=read --bs=1m --direct=0 --iodepth=1
umount /mnt
echo BENCH-DONE
poweroff -f
INIT
chmod +x "$W/root/init"
(cd "$W/root" && find . | cpio -o -H newc --quiet) > "$W/initrd.cpio"
dd if=/dev/urandom of="$W/share/fio.dat" bs=1M count=256 status=none

ACCEL="tcg,thread=multi -cpu max"
[ -w /dev/kvm ] && grep -qsE '^kvm_(intel|amd) ' /proc/modules && ACCEL="kvm -cpu host"
guest() { # BACKEND -> appends "job MiB/s" lines to $W/BACKEND.out
	local be=$1
	rm -f "$W/sock" "$W/result.log"
	if [ "$be" = virtiofsd ]; then
		$VIRTIOFSD --socket-path="$W/sock" -o source="$W/share" -o cache=auto > "$W/$be.log" 2>&1 &
	else
		# shellcheck disable=SC2086
		"$BOXSHARE" serve --socket-path "$W/sock" --shared-dir "$W/share" --tag bench --cache auto \
			${BOXSHARE_ARGS:-} > "$W/$be.log" 2>&1 &
	fi
	PID=$!
	for _ in $(seq 100); do [ -S "$W/sock" ] && break; sleep 0.05; done
	# shellcheck disable=SC2086
	timeout 600 qemu-system-x86_64 -nodefaults -no-user-config -display none -no-reboot -accel $ACCEL -m 1G \
		-smp 2 -object memory-backend-memfd,id=mem,size=1G,share=on -numa node,memdev=mem \
		-kernel "$CACHE/vmlinux" -initrd "$W/initrd.cpio" -append "console=ttyS0 panic=-1 quiet" \
		-serial "file:$W/console.log" -serial "file:$W/result.log" \
		-chardev "socket,id=c0,path=$W/sock" -device vhost-user-fs-pci,chardev=c0,tag=bench > "$W/qemu.log" 2>&1
	wait $PID
	PID=
	grep -q BENCH-DONE "$W/result.log" || { echo "virtio-guest-fio: $be: the guest did not finish" >&2;
		cat "$W/result.log" "$W/qemu.log" >&2; tail "$W/$be.log" >&2; exit 1; }
	grep -E '^(rand|seq)' "$W/result.log" | tr -d '\r' | awk '{ printf "%s %.2f\n", $1, $2 / 1024 }' >> "$W/$be.out"
}
for i in $(seq "$REPEAT"); do
	if [ $((i % 2)) = 1 ]; then guest virtiofsd; guest boxshare; else guest boxshare; guest virtiofsd; fi
done
med() { awk -v m="$2" '$1 == m { print $2 }' "$1" | sort -g | awk '{ v[NR] = $1 } END {
	if (NR == 0) { print "-"; exit } print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
printf "%-22s %14s %14s %7s\n" "job (MiB/s, median)" boxshare virtiofsd ratio
for j in randread-4k-direct randread-4k-buffered seqread-1m-direct seqread-1m-buffered; do
	b=$(med "$W/boxshare.out" $j) v=$(med "$W/virtiofsd.out" $j)
	printf "%-22s %14s %14s %7s\n" $j "$b" "$v" "$(awk -v a="$b" -v b="$v" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')"
done
echo "(guest fio, ${RUNTIME}s per job, $REPEAT guest(s) per back end, accel: ${ACCEL%% *})"
