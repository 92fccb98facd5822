#!/bin/bash
# Smoke test of `boxshare serve` over /dev/fuse: serve a temp dir, ls/cat/write through the mount; SIGTERM
# -> exit 0 and nothing mounted; `umount MNT` -> exit 0; bad flags and a missing directory -> exit 2 with a
# message; --help names every flag. Usage: serve-smoke.sh BOXSHARE
set -u
BOXSHARE=${1:?usage: serve-smoke.sh BOXSHARE}

skip() { echo "serve-smoke: skipped: $*" >&2; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root (mounts)"
[ -c /dev/fuse ] || skip "no /dev/fuse"

T=$(mktemp -d /tmp/serve-smoke.XXXXXX)
PID=
cleanup() {
	[ -n "$PID" ] && kill -KILL "$PID" 2>/dev/null
	umount -l "$T/mnt" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT

fail() { echo "serve-smoke: FAIL: $*" >&2; [ -f "$T/log" ] && sed 's/^/  server: /' "$T/log" >&2; exit 1; }
mounted() { grep -q " $T/mnt " /proc/self/mountinfo; }
wait_mounted() {
	for _ in $(seq 100); do mounted && return 0; kill -0 "$PID" 2>/dev/null || return 1; sleep 0.05; done
	return 1
}
# wait_exit: the server's exit status, or 124 after 10 s
wait_exit() {
	for _ in $(seq 200); do
		if ! kill -0 "$PID" 2>/dev/null; then wait "$PID"; local rc=$?; PID=; return $rc; fi
		sleep 0.05
	done
	return 124
}

mkdir -p "$T/src/sub" "$T/mnt"
echo hello > "$T/src/a.txt"
echo inner > "$T/src/sub/b.txt"

for sandbox in namespace none; do
	"$BOXSHARE" serve --source "$T/src" --mount "$T/mnt" --sandbox "$sandbox" --threads 2 >"$T/log" 2>&1 &
	PID=$!
	wait_mounted || fail "$sandbox: not mounted"
	[ "$(ls "$T/mnt" | tr '\n' ' ')" = "a.txt sub " ] || fail "$sandbox: listing: $(ls "$T/mnt")"
	[ "$(cat "$T/mnt/a.txt")" = hello ] || fail "$sandbox: read a.txt"
	[ "$(cat "$T/mnt/sub/b.txt")" = inner ] || fail "$sandbox: read sub/b.txt"
	echo "written $sandbox" > "$T/mnt/new.txt" || fail "$sandbox: write"
	[ "$(cat "$T/src/new.txt")" = "written $sandbox" ] || fail "$sandbox: write not on the host"
	mkdir "$T/mnt/d" && rmdir "$T/mnt/d" || fail "$sandbox: mkdir/rmdir"
	mv "$T/mnt/new.txt" "$T/mnt/renamed.txt" && rm "$T/mnt/renamed.txt" || fail "$sandbox: rename/unlink"
	[ ! -e "$T/src/renamed.txt" ] || fail "$sandbox: unlink not on the host"
	# a file held open and a process waiting for a lock while we stop: the exit must wait for neither
	exec 9<"$T/mnt/a.txt"
	flock 9 || fail "$sandbox: flock"
	flock "$T/mnt/a.txt" true </dev/null >/dev/null 2>&1 & WAITER=$!
	sleep 0.2
	kill -TERM "$PID"
	wait_exit; rc=$?
	exec 9<&-
	kill "$WAITER" 2>/dev/null; wait "$WAITER" 2>/dev/null
	[ $rc = 0 ] || fail "$sandbox: SIGTERM: exit status $rc"
	mounted && fail "$sandbox: still mounted after SIGTERM"

	"$BOXSHARE" serve --source "$T/src" --mount "$T/mnt" --sandbox "$sandbox" >"$T/log" 2>&1 &
	PID=$!
	wait_mounted || fail "$sandbox: not mounted (2)"
	ls "$T/mnt" >/dev/null
	umount "$T/mnt" || fail "$sandbox: umount"
	wait_exit; rc=$?
	[ $rc = 0 ] || fail "$sandbox: after umount: exit status $rc"
	mounted && fail "$sandbox: still mounted after umount"
done

# --readonly: reads work, every write fails with EROFS, nothing changes on the host
"$BOXSHARE" serve --source "$T/src" --mount "$T/mnt" --readonly >"$T/log" 2>&1 &
PID=$!
wait_mounted || fail "readonly: not mounted"
[ "$(cat "$T/mnt/a.txt")" = hello ] || fail "readonly: read a.txt"
err=$( (echo x > "$T/mnt/ro.txt") 2>&1 ) && fail "readonly: create succeeded"
echo "$err" | grep -q "Read-only file system" || fail "readonly: create: $err"
touch "$T/mnt/a.txt" 2>/dev/null && fail "readonly: touch succeeded"
[ ! -e "$T/src/ro.txt" ] || fail "readonly: a file appeared on the host"
kill -TERM "$PID"
wait_exit; rc=$?
[ $rc = 0 ] || fail "readonly: SIGTERM: exit status $rc"

# a control socket is removed at exit (the sandboxed server cannot: its supervisor does), and a vhost-user
# server stops on SIGTERM with status 0, as on a front-end hang-up
for mode in mount vhost-user; do
	if [ $mode = mount ]; then
		"$BOXSHARE" serve --share "$T/src:/s" --control "$T/ctl.sock" --mount "$T/mnt" >"$T/log" 2>&1 &
		PID=$!
		wait_mounted || fail "$mode+control: not mounted"
	else
		"$BOXSHARE" serve --shared-dir "$T/src" --socket-path "$T/vu.sock" --control "$T/ctl.sock" >"$T/log" 2>&1 &
		PID=$!
	fi
	for _ in $(seq 100); do [ -S "$T/ctl.sock" ] && break; sleep 0.05; done
	[ -S "$T/ctl.sock" ] || fail "$mode+control: no control socket"
	kill -TERM "$PID"
	wait_exit; rc=$?
	[ $rc = 0 ] || fail "$mode+control: SIGTERM: exit status $rc"
	[ -e "$T/ctl.sock" ] && fail "$mode+control: the control socket was left behind"
	mounted && fail "$mode+control: still mounted after SIGTERM"
	rm -f "$T/vu.sock"
done

# usage errors: status 2 and a message naming the problem
expect_usage() {
	local want=$1; shift
	out=$("$BOXSHARE" serve "$@" 2>&1); rc=$?
	[ $rc = 2 ] || fail "serve $*: exit status $rc, want 2"
	echo "$out" | grep -q -- "$want" || fail "serve $*: message '$out' lacks '$want'"
	mounted && fail "serve $*: left a mount"
}
expect_usage "unknown flag '--bogus'" --bogus --source "$T/src" --mount "$T/mnt"
expect_usage "No such file or directory" --source "$T/missing" --mount "$T/mnt"
expect_usage "--mount $T/nomnt" --source "$T/src" --mount "$T/nomnt"
expect_usage "exactly one of" --source "$T/src"
expect_usage "not one of never, auto, always" --source "$T/src" --mount "$T/mnt" --cache sometimes
expect_usage "needs a value" --source "$T/src" --mount "$T/mnt" --threads
expect_usage "is not a number" --source "$T/src" --mount "$T/mnt" --threads x
expect_usage "--tag is for vhost-user" --source "$T/src" --mount "$T/mnt" --tag fs
expect_usage "unknown or malformed option" -o source="$T/src",bogus --mount "$T/mnt"

# virtiofsd's command line as kata passes it (-f, --syslog, -o options) is accepted
out=$("$BOXSHARE" serve -f --syslog --shared-dir "$T/src" --socket-path "$T/vu.sock" -o cache=auto \
	--thread-pool-size=1 --print-capabilities 2>&1) || fail "virtiofsd-style flags refused: $out"

# --help documents every flag
help=$("$BOXSHARE" serve --help) || fail "--help: exit status $?"
for f in --source --shared-dir "-o source=" --mount --socket-path --fd --tag --cache --writeback --readonly \
	--threads --thread-pool-size --inode-file-handles --max-fds --announce-submounts --sandbox --seccomp \
	--log-level --syslog --foreground --print-capabilities --wait-reconnect --share --file --virtual --config \
	--control; do
	echo "$help" | grep -q -- "$f" || fail "--help does not mention $f"
done
caps=$("$BOXSHARE" serve --print-capabilities) || fail "--print-capabilities: exit status $?"
echo "$caps" | tr -d ' \n' | grep -q '^{"type":"fs","features":\[' || fail "--print-capabilities: $caps"

echo "serve-smoke: ok"
