#!/bin/bash
# SPDX-License-Identifier: MIT
# The share tree in a real guest over virtio-fs: QEMU boots Debian's kernel (the cache guest-virtiofs.sh
# fills) with a busybox initramfs whose init (tree-guest-init.sh) checks what the guest sees: every directory
# entry a submount with its own st_dev (--announce-submounts), a file entry alone in its directory, ro entries.
# Usage: tree-guest.sh BOXSHARE INIT_SCRIPT
set -uo pipefail
BOXSHARE=$1 INIT=$2
skip() { echo "SKIP: $*" >&2; exit 77; }
die() { echo "FAIL: $*" >&2; exit 1; }
QEMU=$(command -v qemu-system-x86_64) || skip "qemu-system-x86_64 is not installed"
[ "$(uname -m)" = x86_64 ] || skip "x86_64 host needed"
BUSYBOX=$(command -v busybox) || skip "busybox-static is not installed"
command -v cpio >/dev/null || skip "cpio is not installed"
# the guest kernel: fetched once into a cache by the vhost-user tests' helper (exits 77 when it cannot be had)
CACHE=$("$(dirname "$0")/vu/guest-kernel.sh")
rc=$?
[ $rc = 77 ] && skip "no guest kernel to be had"
[ $rc = 0 ] && [ -s "$CACHE/vmlinux" ] && [ -d "$CACHE/modules" ] || die "preparing the guest kernel failed"

W=$(mktemp -d /tmp/tree-guest.XXXXXX)
SERVER_PID= QEMU_PID=
cleanup() {
	[ -n "$QEMU_PID" ] && kill -9 "$QEMU_PID" 2>/dev/null
	[ -n "$SERVER_PID" ] && { kill "$SERVER_PID" 2>/dev/null; sleep 0.2; kill -9 "$SERVER_PID" 2>/dev/null; }
	wait 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT
mkdir -p "$W/a" "$W/b" "$W/other" "$W/root/bin" "$W/root/modules" "$W/root/proc" "$W/root/sys" "$W/root/dev" \
	"$W/root/mnt"
echo f >"$W/a/f"
echo g >"$W/b/g"
echo conf >"$W/other/conf"
echo secret >"$W/other/sibling"
cp "$BUSYBOX" "$W/root/bin/busybox"
cp "$INIT" "$W/root/init"
chmod +x "$W/root/init"
cp "$CACHE"/modules/*.ko "$W/root/modules/"
(cd "$W/root" && find . | cpio -o -H newc --quiet >"$W/initrd.cpio") || die "cpio failed"

TAG=bxtree
SOCK=$W/vhost.sock
"$BOXSHARE" serve --socket-path "$SOCK" --tag "$TAG" --announce-submounts \
	--share "$W/a:/a" --share "$W/b:/b:ro" --file "$W/other/conf:/etc/conf:ro" --virtual '/etc/hostname=box' \
	>"$W/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 100); do [ -S "$SOCK" ] && break; kill -0 $SERVER_PID 2>/dev/null || break; sleep 0.05; done
[ -S "$SOCK" ] || { cat "$W/server.log" >&2; die "boxshare did not create $SOCK"; }
ACCEL=${QEMU_ACCEL:-}
if [ -z "$ACCEL" ]; then
	if [ -w /dev/kvm ] && grep -qsE '^kvm_(intel|amd) ' /proc/modules; then ACCEL="kvm -cpu host"; else
		ACCEL="tcg,thread=multi -cpu max"; fi
fi
# shellcheck disable=SC2086
timeout 300 "$QEMU" -nodefaults -no-user-config -display none -no-reboot -accel $ACCEL -m 512M -smp 1 \
	-object memory-backend-memfd,id=mem,size=512M,share=on -numa node,memdev=mem \
	-kernel "$CACHE/vmlinux" -initrd "$W/initrd.cpio" \
	-append "console=ttyS0 panic=-1 quiet boxshare.tag=$TAG" \
	-serial "file:$W/console.log" -serial "file:$W/result.log" \
	-chardev "socket,id=c0,path=$SOCK" -device "vhost-user-fs-pci,chardev=c0,tag=$TAG" \
	>"$W/qemu.log" 2>&1 &
QEMU_PID=$!
wait $QEMU_PID
QEMU_PID=
cat "$W/result.log"
res=$(sed -n 's/^BOXSHARE-GUEST-RESULT \([0-9]*\).*/\1/p' "$W/result.log" | tr -d '\r' | tail -1)
if [ -z "$res" ]; then
	tail -30 "$W/console.log" >&2
	tail -20 "$W/server.log" >&2
	die "the guest reported no result"
fi
# the server exits once QEMU hangs up; a sanitizer build's report fails the test
for _ in $(seq 50); do kill -0 $SERVER_PID 2>/dev/null || break; sleep 0.1; done
kill $SERVER_PID 2>/dev/null
wait $SERVER_PID 2>/dev/null
SERVER_PID=
if grep -qE "AddressSanitizer|LeakSanitizer|runtime error:" "$W/server.log"; then
	cat "$W/server.log" >&2
	die "the server reported a sanitizer error"
fi
[ "$(cat "$W/other/conf")" = conf ] || die "the ro file entry changed on the host"
[ ! -e "$W/b/new" ] || die "the guest wrote into the ro entry"
[ "$res" = 0 ] || die "$res guest check(s) failed"
echo "tree-guest: all passed"
