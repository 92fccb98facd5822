#!/bin/bash
# A real guest over virtio-fs: QEMU boots Debian's kernel with a busybox initramfs that mounts the tag and runs
# guest/battery.sh; the battery's status comes back as a marker line on the second serial port, and the host
# then checks what the guest wrote. Usage:
#   guest-virtiofs.sh BOXSHARE GUEST_SRC_DIR GUEST_TOOL [BACKEND]
# BACKEND: boxshare (default) or virtiofsd (QEMU's C reference back end, to check the harness itself).
# Env: BOXSHARE_TEST_CACHE (kernel cache, default /var/cache/boxshare-test), BOXSHARE_SERVE_ARGS (extra serve
# flags), QEMU_ACCEL (override tcg/kvm choice), GUEST_KEEP=1 (keep the work dir for debugging).
set -uo pipefail
BOXSHARE=$1 GUEST_SRC=$2 GUEST_TOOL=$3 BACKEND=${4:-boxshare}
skip() { echo "SKIP: $*" >&2; exit 77; }
die() { echo "FAIL: $*" >&2; exit 1; }

QEMU=$(command -v qemu-system-x86_64) || skip "qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)"
[ "$(uname -m)" = x86_64 ] || skip "x86_64 host needed"
BUSYBOX=$(command -v busybox) || skip "busybox-static is not installed"
file -L "$BUSYBOX" 2>/dev/null | grep -q 'statically linked' || ldd "$BUSYBOX" 2>&1 | grep -q 'not a dynamic' ||
	skip "$BUSYBOX is not static (apt-get install busybox-static)"
command -v cpio >/dev/null || skip "cpio is not installed"
VIRTIOFSD=/usr/lib/qemu/virtiofsd
[ "$BACKEND" = virtiofsd ] && { [ -x $VIRTIOFSD ] || skip "$VIRTIOFSD missing (qemu-system-common)"; }

# ---- the kernel: Debian's linux-image, fetched once into the cache (vu/guest-kernel.sh) ----
CACHE=$("$(dirname "$0")/vu/guest-kernel.sh") || { rc=$?; [ $rc = 77 ] && exit 77; die "preparing the guest kernel failed"; }

# ---- the work dir, the share and the initramfs ----
W=$(mktemp -d /tmp/guest-virtiofs.XXXXXX)
SERVER_PID=
QEMU_PID=
cleanup() {
	[ -n "$QEMU_PID" ] && kill -9 "$QEMU_PID" 2>/dev/null
	[ -n "$SERVER_PID" ] && { kill "$SERVER_PID" 2>/dev/null; sleep 0.2; kill -9 "$SERVER_PID" 2>/dev/null; }
	wait 2>/dev/null
	[ "${GUEST_KEEP:-0}" = 1 ] && echo "kept $W" >&2 || rm -rf "$W"
}
trap cleanup EXIT
mkdir -p "$W/share/dir" "$W/root/bin" "$W/root/modules" "$W/root/battery.d" "$W/root/proc" "$W/root/sys" \
	"$W/root/dev" "$W/root/mnt" "$W/root/tmp"
echo "hello from the host" > "$W/share/hello.txt"
echo a > "$W/share/dir/a"
echo b > "$W/share/dir/b"
cp "$BUSYBOX" "$W/root/bin/busybox"
cp "$GUEST_SRC/init.sh" "$W/root/init"
cp "$GUEST_SRC/battery.sh" "$W/root/battery.sh"
cp "$GUEST_SRC"/battery.d/*.sh "$W/root/battery.d/" 2>/dev/null
cp "$GUEST_TOOL" "$W/root/guest-tool"
cp "$CACHE"/modules/*.ko "$W/root/modules/"
chmod +x "$W/root/init" "$W/root/guest-tool"
(cd "$W/root" && find . | cpio -o -H newc --quiet > "$W/initrd.cpio") || die "cpio failed"

# ---- the back end ----
TAG=bxtest
SOCK="$W/vhost.sock"
if [ "$BACKEND" = virtiofsd ]; then
	# no -o flock: its flock() answers EOPNOTSUPP; without it the guest kernel keeps flock locks itself
	$VIRTIOFSD --socket-path="$SOCK" -o source="$W/share" -o cache=auto -o xattr -o posix_lock \
		> "$W/server.log" 2>&1 &
else
	# shellcheck disable=SC2086
	"$BOXSHARE" serve --socket-path "$SOCK" --shared-dir "$W/share" --tag "$TAG" ${BOXSHARE_SERVE_ARGS:-} \
		> "$W/server.log" 2>&1 &
fi
SERVER_PID=$!
for _ in $(seq 100); do [ -S "$SOCK" ] && break; kill -0 $SERVER_PID 2>/dev/null || break; sleep 0.05; done
[ -S "$SOCK" ] || { cat "$W/server.log" >&2; die "$BACKEND did not create $SOCK"; }

# ---- the guest ----
ACCEL=${QEMU_ACCEL:-}
if [ -z "$ACCEL" ]; then
	# /dev/kvm here may be kvm_pvm, which cannot run a stock kernel: KVM only with kvm_intel or kvm_amd
	if [ -w /dev/kvm ] && grep -qsE '^kvm_(intel|amd) ' /proc/modules; then ACCEL="kvm -cpu host"; else
		ACCEL="tcg,thread=multi -cpu max"; fi
fi
# shellcheck disable=SC2086
# the guest resets itself once (guest/init.sh): reboots are allowed, a panic ends QEMU
timeout 240 "$QEMU" -nodefaults -no-user-config -display none -action panic=exit-failure -accel $ACCEL -m 1G -smp 2 \
	-object memory-backend-memfd,id=mem,size=1G,share=on -numa node,memdev=mem \
	-kernel "$CACHE/vmlinux" -initrd "$W/initrd.cpio" \
	-append "console=ttyS0 panic=-1 quiet boxshare.tag=$TAG" \
	-serial "file:$W/console.log" -serial "file:$W/result.log" \
	-chardev "socket,id=c0,path=$SOCK" -device "vhost-user-fs-pci,chardev=c0,tag=$TAG" \
	> "$W/qemu.log" 2>&1 &
QEMU_PID=$!
wait $QEMU_PID
qrc=$?
QEMU_PID=

cat "$W/result.log"
res=$(sed -n 's/^BOXSHARE-GUEST-RESULT \([0-9]*\).*/\1/p' "$W/result.log" | tr -d '\r' | tail -1)
if [ -z "$res" ]; then
	echo "--- qemu (exit $qrc) ---" >&2; cat "$W/qemu.log" >&2
	echo "--- console (last 40 lines) ---" >&2; tail -40 "$W/console.log" >&2
	echo "--- $BACKEND ---" >&2; tail -20 "$W/server.log" >&2
	die "the guest reported no result"
fi

# ---- the host side: what the guest wrote is on the host ----
fails=$res
hcheck() { if eval "$2"; then echo "ok host-$1"; else echo "FAIL host-$1"; fails=$((fails + 1)); fi; }
hcheck write '[ "$(cat "$W/share/renamed.txt")" = "written by the guest" ]'
hcheck rename '[ ! -e "$W/share/guest.txt" ]'
hcheck big-sum '[ -s "$W/share/big.md5" ] && [ "$(md5sum < "$W/share/big.bin" | cut -d" " -f1)" = "$(cat "$W/share/big.md5")" ]'
hcheck xattr '[ "$(getfattr --only-values -n user.fromguest "$W/share/xattr.txt" 2>/dev/null)" = 42 ]'
hcheck mode '[ "$(stat -c %a "$W/share/renamed.txt")" = 600 ]'
hcheck reset '[ ! -e "$W/share/.boxshare-boot1" ] && [ "$(grep -c "first boot" "$W/result.log")" = 1 ]'

# the server exits by itself once QEMU hangs up (status 0); virtiofsd likewise
for _ in $(seq 50); do kill -0 $SERVER_PID 2>/dev/null || break; sleep 0.1; done
if kill -0 $SERVER_PID 2>/dev/null; then
	echo "FAIL server-exit: $BACKEND still running after the front end left"; fails=$((fails + 1))
else
	wait $SERVER_PID; src=$?; SERVER_PID=
	if [ $src = 0 ]; then echo "ok server-exit"; else echo "FAIL server-exit: status $src"; tail -20 "$W/server.log"; fails=$((fails + 1)); fi
fi
[ $fails = 0 ] || die "$fails check(s) failed ($BACKEND)"
echo "guest-virtiofs ($BACKEND): all passed"
