#!/bin/bash
# The host-side driver against a real `boxshare serve --socket-path` process: every FUSE op of the core list
# through virtqueues in memfd guest memory, checked on the replies and on the shared host directory; then the
# server must exit 0 on its own once the front end hangs up. If QEMU's C virtiofsd is installed, the same
# battery runs against it first, to show the driver itself is sound.
# Usage: vu-ops.sh BOXSHARE VU_DRIVER
set -uo pipefail
BOXSHARE=$1 DRIVER=$2
W=$(mktemp -d /tmp/vu-ops.XXXXXX)
PID=
cleanup() {
	[ -n "$PID" ] && { kill "$PID" 2>/dev/null; sleep 0.2; kill -9 "$PID" 2>/dev/null; }
	wait 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT
die() { echo "FAIL: $*" >&2; [ -f "$W/server.log" ] && tail -20 "$W/server.log" >&2; exit 1; }

run() { # NAME DRIVER_FLAGS CMD...
	local name=$1 flags=$2
	shift 2
	rm -rf "$W/share" "$W/sock"
	mkdir "$W/share"
	"$@" > "$W/server.log" 2>&1 &
	PID=$!
	timeout 60 "$DRIVER" $flags ops "$W/sock" "$W/share" || die "$name: the op battery failed"
	for _ in $(seq 50); do kill -0 $PID 2>/dev/null || break; sleep 0.1; done
	kill -0 $PID 2>/dev/null && die "$name: still running after the front end hung up"
	wait $PID
	local st=$?
	PID=
	[ $st = 0 ] || die "$name: exit status $st after the front end hung up"
	echo "ok $name"
}

if [ -x /usr/lib/qemu/virtiofsd ]; then
	run virtiofsd-reference --reference /usr/lib/qemu/virtiofsd --socket-path="$W/sock" -o source="$W/share" \
		-o cache=auto -o xattr -o posix_lock -o flock
fi
run boxshare "" "$BOXSHARE" serve --socket-path "$W/sock" --shared-dir "$W/share"
run boxshare-thread-pool "" "$BOXSHARE" serve --socket-path "$W/sock" --shared-dir "$W/share" --thread-pool-size 4

# --fd: the server serves a connection it inherited (the driver runs it on a socketpair, its fd 3) and exits 0
rm -rf "$W/share"; mkdir "$W/share"
timeout 60 "$DRIVER" ops - "$W/share" -- "$BOXSHARE" serve --fd 3 --shared-dir "$W/share" 2> "$W/fd.log" ||
	{ cat "$W/fd.log" >&2; die "--fd: the op battery failed"; }
echo "ok boxshare-fd"
rm -rf "$W/share"; mkdir "$W/share"
timeout 60 "$DRIVER" ops "@$W/listen.sock" "$W/share" -- "$BOXSHARE" serve --fd 3 --shared-dir "$W/share" \
	2> "$W/fd.log" || { cat "$W/fd.log" >&2; die "--fd with a listening socket: the op battery failed"; }
echo "ok boxshare-fd-listening"

# a guest that loops a descriptor chain: that queue stops with a logged error, the server neither crashes nor
# spins, and still exits 0 when the front end hangs up
rm -rf "$W/share"; mkdir "$W/share"
timeout 60 "$DRIVER" badchain - "$W/share" -- "$BOXSHARE" serve --fd 3 --shared-dir "$W/share" 2> "$W/bad.log" ||
	{ cat "$W/bad.log" >&2; die "badchain"; }
grep -q "queue 1 stopped" "$W/bad.log" || { cat "$W/bad.log" >&2; die "badchain: no error logged"; }
echo "ok boxshare-badchain"

# --wait-reconnect: two front ends one after the other on the same socket, then SIGTERM ends the server
rm -rf "$W/share" "$W/sock"; mkdir "$W/share"
"$BOXSHARE" serve --socket-path "$W/sock" --shared-dir "$W/share" --wait-reconnect > "$W/server.log" 2>&1 &
PID=$!
for i in 1 2; do
	timeout 60 "$DRIVER" ops "$W/sock" "$W/share" || die "wait-reconnect: front end $i failed"
done
sleep 0.2
kill -0 $PID 2>/dev/null || die "wait-reconnect: the server left after a front end hung up"
kill -TERM $PID
for _ in $(seq 50); do kill -0 $PID 2>/dev/null || break; sleep 0.1; done
kill -0 $PID 2>/dev/null && die "wait-reconnect: SIGTERM did not end the server"
wait $PID
PID=
echo "ok boxshare-wait-reconnect"
echo "vu-ops: all passed"
