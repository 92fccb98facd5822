#!/bin/bash
# SPDX-License-Identifier: MIT
# `boxshare serve --io-uring` (FUSE over io_uring) on a real /dev/fuse mount: the server turns on the fuse
# module's enable_uring when it is off, the kernel grants io_uring at INIT, requests really arrive through the
# rings (their completion counters in /proc/PID/fdinfo move by at least one per request), what a user sees is
# right, a blocked lock wait does not hold its queue (other requests from the same CPU are served meanwhile,
# and the wait ends when the lock is released), and the server stops cleanly on umount and on SIGTERM.
#   serve-uring.sh BOXSHARE
set -u
. "$(dirname "$0")/core-lib.sh"
core_init "$1"

PARAM=/sys/module/fuse/parameters/enable_uring
[ -e "$PARAM" ] || core_skip "this kernel has no FUSE over io_uring ($PARAM is missing: Linux 6.14+ with CONFIG_FUSE_IO_URING)"
before=$(cat "$PARAM")
restore_param() { [ -w "$PARAM" ] && echo "$before" >"$PARAM" 2>/dev/null; }
CORE_EXIT_HOOK=restore_param

# -- the server turns the parameter on itself (when we may turn it off to see that)
if echo N >"$PARAM" 2>/dev/null; then
	core_mount --io-uring --threads 2 --log-level info
	ls "$MNT" >/dev/null
	[ "$(cat "$PARAM")" = Y ] || core_fail "--io-uring did not turn on $PARAM"
	grep -q "turned on $PARAM" "$SERVE_LOG" || core_fail "the server did not say it turned on $PARAM"
	core_umount
else
	echo "# $PARAM is not writable here: not checking that the server turns it on"
fi

core_mount --io-uring --threads 2 --log-level info
ls "$MNT" >/dev/null # INIT is done
if ! grep -q "FUSE over io_uring on" "$SERVE_LOG"; then
	reason=$(grep -o "FUSE over io_uring off.*\|--io-uring: .*" "$SERVE_LOG" | head -1)
	core_umount
	core_skip "${reason:-the server did not report io_uring}"
fi
grep -q "FUSE over io_uring: .* queues" "$SERVE_LOG" || core_fail "the queue threads did not start: $(cat "$SERVE_LOG")"

# The completions all the server's rings have seen (each request is one completion).
ring_completions() {
	local n=0 p f
	for p in $(core_server_pids "$SERVE_PID"); do
		for f in /proc/"$p"/fd/*; do
			[ "$(readlink "$f" 2>/dev/null)" = "anon_inode:[io_uring]" ] || continue
			n=$((n + $(sed -n 's/^CqTail:[[:space:]]*//p' /proc/"$p"/fdinfo/"${f##*/}")))
		done
	done
	echo "$n"
}

# -- requests go through the rings: 300 lookups of new names are 300 completions at least
sleep 0.5 # let the last queue finish registering (until then the kernel still uses read(2))
c0=$(ring_completions)
for i in $(seq 300); do stat "$MNT/none$i" >/dev/null 2>&1; done
c1=$(ring_completions)
[ $((c1 - c0)) -ge 300 ] || core_fail "300 LOOKUPs made $((c1 - c0)) io_uring completions: requests do not go through the rings"
echo "# 300 lookups: $((c1 - c0)) io_uring completions"

# -- what a user sees
printf 'through the mount\n' >"$MNT/a"
[ "$(cat "$SHARE/a")" = "through the mount" ] || core_fail "data written through the mount is not on the host"
printf 'from the host\n' >"$SHARE/b"
[ "$(cat "$MNT/b")" = "from the host" ] || core_fail "data written on the host is not read through the mount"
head -c 3000000 /dev/urandom >"$T/big"
cp "$T/big" "$MNT/big"
cmp -s "$T/big" "$SHARE/big" || core_fail "a 3 MB file copied in differs on the host"
cmp -s "$T/big" "$MNT/big" || core_fail "a 3 MB file read back through the mount differs"
mkdir "$MNT/d"
for i in $(seq 200); do : >"$MNT/d/f$i"; done
[ "$(ls "$MNT/d" | wc -l)" = 200 ] || core_fail "200 files made through the mount, $(ls "$MNT/d" | wc -l) listed"
mv "$MNT/d/f1" "$MNT/d/g1" && [ -e "$SHARE/d/g1" ] || core_fail "rename through the mount"
rm -r "$MNT/d" && [ ! -e "$SHARE/d" ] || core_fail "rm -r through the mount"

# -- a lock wait parks its entry: with one thread per queue, everything on one CPU
: >"$MNT/lockf"
taskset -c 0 flock -x "$MNT/lockf" -c "sleep 4" &
holder=$!
sleep 0.5
taskset -c 0 flock -x "$MNT/lockf" -c "echo got >'$T/got'" &
waiter=$!
sleep 0.5
[ -e "$T/got" ] && core_fail "the second flock -x got the lock while the first one held it"
start=$(date +%s%N)
core_bounded 3 "requests while a lock wait is parked" taskset -c 0 sh -c "for i in \$(seq 50); do cat '$MNT/a' >/dev/null; stat '$MNT/n\$i' >/dev/null 2>&1 || true; done"
st=$?
[ "$st" = 0 ] || core_fail "requests from the lock waiter's CPU were not served while it waited (status $st)"
ms=$((($(date +%s%N) - start) / 1000000))
[ -e "$T/got" ] && core_fail "the waiter got the lock early"
echo "# 100 requests on the waiter's queue during its wait: $ms ms"
wait "$holder"
for _ in $(seq 50); do [ -e "$T/got" ] && break; sleep 0.1; done
[ -e "$T/got" ] || core_fail "the lock wait did not end when the holder let go"
wait "$waiter"

core_umount

# -- a server confined to CPU 0 (a cpuset, or possible CPUs that are offline): its threads serve the other CPUs'
# queues too, so a client on CPU 1 is answered through the ring
ncpu=$(nproc --all)
if [ "$ncpu" -ge 2 ]; then
	all=$(taskset -pc $$ | sed 's/.*: //')
	taskset -pc 0 $$ >/dev/null
	core_mount --io-uring --threads 2 --log-level info
	taskset -pc "$all" $$ >/dev/null
	taskset -c 1 ls "$MNT" >/dev/null
	grep -q "threads on each of 1 CPUs" "$SERVE_LOG" || core_fail "a server on CPU 0 alone: $(grep -o 'FUSE over io_uring: .*' "$SERVE_LOG")"
	sleep 0.5
	c0=$(ring_completions)
	core_bounded 5 "a client on CPU 1" taskset -c 1 sh -c "for i in \$(seq 100); do stat '$MNT/x\$i' >/dev/null 2>&1 || true; done" ||
		core_fail "a client on CPU 1 was not answered by a server confined to CPU 0"
	c1=$(ring_completions)
	[ $((c1 - c0)) -ge 100 ] || core_fail "100 LOOKUPs from CPU 1 made $((c1 - c0)) io_uring completions"
	core_umount
fi

# -- SIGTERM: the server unmounts and exits 0
core_mount --io-uring --threads 4
ls "$MNT" >/dev/null
cat "$MNT/a" >/dev/null
kill -TERM "$SERVE_PID"
for _ in $(seq 100); do kill -0 "$SERVE_PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$SERVE_PID" 2>/dev/null && core_fail "the server did not exit within 10 s of SIGTERM"
wait "$SERVE_PID"
st=$?
SERVE_PID=
[ "$st" = 0 ] || core_fail "the server exited with status $st on SIGTERM"
core_is_mounted && core_fail "$MNT is still mounted after SIGTERM"
core_finish
