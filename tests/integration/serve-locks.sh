#!/bin/bash
# SPDX-License-Identifier: MIT
# Who holds the locks taken through the share (`serve --locks server|client`, -o [no_]posix_lock, [no_]flock),
# on a real /dev/fuse mount, as a user sees it:
#   - server (the default): a POSIX lock or a flock taken through the mount is seen by a host process, and a
#     host process's lock by one through the mount;
#   - client: the host sees none of them, the mount's own processes still do (fsclient's lock checks, which
#     compare with a native directory), and a close(2) sends no FLUSH for a passthrough or read-only open
#     while a writable open served through the server keeps it (fuse:fuse_request_send tracepoint);
#   - the -o keys choose one kind each; a bad value is a usage error.
#   serve-locks.sh BOXSHARE LOCK_PROBE FSCLIENT
set -u
. "$(dirname "$0")/core-lib.sh"
core_init "$1"
PROBE=${2:?usage: $0 BOXSHARE LOCK_PROBE FSCLIENT}
FSCLIENT=${3:?usage: $0 BOXSHARE LOCK_PROBE FSCLIENT}
command -v flock >/dev/null || core_skip "no flock(1) (util-linux) here"

# hold KIND FILE: a process that holds a POSIX write lock (KIND posix) or an exclusive flock (KIND flock) on
# FILE until release; fails the test if it cannot take it.
HOLD_PID=
hold() {
	local kind=$1 file=$2
	rm -f "$T/hold.fifo" "$T/hold.out"
	mkfifo "$T/hold.fifo"
	if [ "$kind" = posix ]; then
		"$PROBE" hold "$file" <"$T/hold.fifo" >"$T/hold.out" 2>&1 &
	else
		flock -n -x "$file" sh -c 'echo held; cat >/dev/null' <"$T/hold.fifo" >"$T/hold.out" 2>&1 &
	fi
	HOLD_PID=$!
	exec 7>"$T/hold.fifo"
	for _ in $(seq 100); do
		grep -q held "$T/hold.out" 2>/dev/null && return 0
		kill -0 $HOLD_PID 2>/dev/null || break
		sleep 0.05
	done
	core_fail "could not take a $kind lock on $file: $(cat "$T/hold.out")"
}
release() {
	exec 7>&-
	wait $HOLD_PID 2>/dev/null
	HOLD_PID=
}
# seen KIND FILE: "locked" if a lock of another process on FILE conflicts with a write lock, else "unlocked"
seen() {
	if [ "$1" = posix ]; then
		"$PROBE" test "$2"
	elif flock -n -x "$2" true; then
		echo unlocked
	else
		echo locked
	fi
}
# expect KIND WHO FILE WANT: what a process (WHO: "the host" or "the mount") sees of the held lock
expect() {
	local got
	got=$(seen "$1" "$3")
	[ "$got" = "$4" ] || core_fail "$CASE: a $1 lock held through the mount: $2 sees the file $got, expected $4"
}

# check_locks POSIX_WHERE FLOCK_WHERE: take each kind through the mount and look from the host and from the
# mount; WHERE is server (the host sees it) or client (only the mount's processes do)
check_locks() {
	local kind where
	for kind in posix flock; do
		[ $kind = posix ] && where=$1 || where=$2
		printf 'data\n' >"$SHARE/$kind"
		hold $kind "$MNT/$kind"
		expect $kind "the mount" "$MNT/$kind" locked
		if [ "$where" = server ]; then
			expect $kind "the host" "$SHARE/$kind" locked
		else
			expect $kind "the host" "$SHARE/$kind" unlocked
		fi
		release
		expect $kind "the mount" "$MNT/$kind" unlocked
		expect $kind "the host" "$SHARE/$kind" unlocked
		# and the other way round: a host process's lock
		hold $kind "$SHARE/$kind"
		if [ "$where" = server ]; then
			expect $kind "the mount" "$MNT/$kind" locked
		else
			expect $kind "the mount" "$MNT/$kind" unlocked
		fi
		release
	done
}

CASE="default"
core_mount --log-level info
ls "$MNT" >/dev/null
grep -q "locks held by the server (POSIX) and the server (flock)" "$SERVE_LOG" ||
	core_fail "$CASE: INIT did not report server-held locks: $(grep -i lock "$SERVE_LOG")"
check_locks server server
core_umount

CASE="--locks client"
core_mount --locks client --log-level info
ls "$MNT" >/dev/null
grep -q "locks held by the client (POSIX) and the client (flock)" "$SERVE_LOG" ||
	core_fail "$CASE: INIT did not report client-held locks: $(grep -i lock "$SERVE_LOG")"
check_locks client client
core_umount

CASE="-o no_posix_lock"
core_mount -o no_posix_lock
check_locks client server
core_umount
CASE="-o no_flock"
core_mount -o no_flock
check_locks server client
core_umount
CASE="-o no_posix_lock,no_flock,posix_lock,flock (the last word wins)"
core_mount -o no_posix_lock,no_flock,posix_lock,flock
check_locks server server
core_umount

# the client's locks keep POSIX semantics among the mount's processes (record locks between processes, the
# close of any descriptor dropping them, F_SETLKW and its interruption, deadlock detection, OFD locks, flock)
for flags in "--locks client" "--locks client --passthrough"; do
	# shellcheck disable=SC2086
	core_mount $flags
	core_fsclient "$flags" --only lock --host "$SHARE" --outside "$OUTSIDE" "$MNT"
	core_umount
done

# a bad value is a usage error
out=$("$BOXSHARE" serve --source "$SHARE" --mount "$MNT" --locks host 2>&1)
rc=$?
[ $rc = 2 ] || core_fail "--locks host: exit $rc, expected 2"
case $out in *"--locks: 'host' is not one of server, client"*) ;; *) core_fail "--locks host: '$out'" ;; esac
core_is_mounted && core_fail "--locks host: something was mounted"

# -- FLUSH requests: counted at the client (tracepoint), per configuration
if ! core_trace_init; then
	core_finish
	exit 0
fi
# flushes FLAGS...: mount with FLAGS, then read 20 files (read-only opens) and write 20 new ones (writable
# opens); sets READ_FLUSHES and WRITE_FLUSHES to the FLUSH requests each sent
flushes() {
	local i
	rm -rf "$SHARE/fl" && mkdir "$SHARE/fl"
	for i in $(seq 20); do printf 'r%s\n' "$i" >"$SHARE/fl/r$i"; done
	core_mount "$@"
	core_trace_start
	for i in $(seq 20); do
		[ "$(cat "$MNT/fl/r$i")" = "r$i" ] || core_fail "$*: read r$i through the mount"
	done
	READ_FLUSHES=$(core_trace_count FUSE_FLUSH)
	for i in $(seq 20); do printf 'w%s\n' "$i" >"$MNT/fl/w$i"; done
	WRITE_FLUSHES=$(core_trace_count FUSE_FLUSH)
	core_trace_stop
	for i in $(seq 20); do
		[ "$(cat "$SHARE/fl/w$i")" = "w$i" ] || core_fail "$*: w$i written through the mount is not on the host"
	done
	core_umount
	echo "# FLUSH requests for 20 reads / 20 writes with '$*': $READ_FLUSHES / $WRITE_FLUSHES"
}
flushes
[ "$READ_FLUSHES" -ge 20 ] && [ "$WRITE_FLUSHES" -ge 20 ] ||
	core_fail "server-held locks: a close must send FLUSH (it drops the closer's POSIX locks); the count does not work"
flushes --locks client
[ "$READ_FLUSHES" = 0 ] || core_fail "--locks client: $READ_FLUSHES FLUSH for read-only opens"
[ "$WRITE_FLUSHES" -ge 20 ] ||
	core_fail "--locks client: writable opens served through the server sent $WRITE_FLUSHES FLUSH (the kernel's write-back at close needs it)"
flushes --locks client --passthrough --log-level info
if grep -q "FUSE passthrough on" "$SERVE_LOG"; then
	[ "$READ_FLUSHES" = 0 ] && [ "$WRITE_FLUSHES" = 0 ] ||
		core_fail "--locks client --passthrough: $READ_FLUSHES / $WRITE_FLUSHES FLUSH requests, expected none"
else
	echo "# $(grep -o "FUSE passthrough off.*" "$SERVE_LOG"): passthrough opens not counted"
fi
flushes -o no_flock
[ "$READ_FLUSHES" -ge 20 ] || core_fail "-o no_flock (POSIX locks on the server): only $READ_FLUSHES FLUSH for 20 reads"
core_finish
