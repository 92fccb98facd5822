# SPDX-License-Identifier: MIT
# Shared by the core-*.sh integration tests (sourced, not run): a temp dir, a `boxshare serve` mount of it that
# is always torn down (lazy umount in a trap, the server killed by its pid), and small assertions.
#
# After core_init: $T (the temp dir, removed at exit), $SHARE (the host directory served), $MNT (the mount point),
# $OUTSIDE (a host directory outside the share). core_mount starts a server and sets $SERVE_PID.

core_skip() { echo "SKIP: $*" >&2; exit 77; }
core_fail() { echo "FAIL: $*" >&2; exit 1; }

core_init() {
	BOXSHARE=${1:?usage: $0 BOXSHARE [FSCLIENT]}
	[ "$(id -u)" = 0 ] || core_skip "needs root (mounts through /dev/fuse)"
	[ -c /dev/fuse ] || core_skip "no /dev/fuse"
	[ -x "$BOXSHARE" ] || core_fail "$BOXSHARE is not an executable"
	if ! "$BOXSHARE" serve --help >/dev/null 2>&1; then
		core_skip "'boxshare serve' is not built yet"
	fi
	T=$(mktemp -d /tmp/boxshare-core.XXXXXX)
	chmod 755 "$T" # other uids (the access checks) must be able to walk to the mount
	SHARE=$T/share MNT=$T/mnt OUTSIDE=$T/outside
	mkdir "$SHARE" "$MNT" "$OUTSIDE"
	SERVE_PID=
	trap core_cleanup EXIT
	trap 'exit 130' INT TERM
}

# Stop the server whatever state it is in: SIGTERM, then SIGKILL to every process of it (a confined child
# outlives its supervisor's SIGKILL). Killing the server is also what releases a client stuck in a request the
# server never answers (the kernel waits for a sent request uninterruptibly, even through SIGKILL).
core_kill_server() {
	[ -n "$SERVE_PID" ] || return 0
	local pids
	pids=$(core_server_pids "$SERVE_PID")
	umount -l "$MNT" 2>/dev/null
	kill $pids 2>/dev/null
	for _ in $(seq 30); do kill -0 "$SERVE_PID" 2>/dev/null || break; sleep 0.1; done
	kill -9 $pids 2>/dev/null
	wait "$SERVE_PID" 2>/dev/null
	SERVE_PID=
}

# A test's own clean-up (e.g. a trace instance to remove) goes in CORE_EXIT_HOOK, run first by core_cleanup:
# a trap of its own in front of core_cleanup would hand core_cleanup its own status instead of the test's.
CORE_EXIT_HOOK=
core_cleanup() {
	local rc=$?
	set +e
	[ -n "$CORE_EXIT_HOOK" ] && $CORE_EXIT_HOOK
	core_kill_server
	if [ -n "$T" ]; then
		# never leave a mount behind, whatever happened
		while grep -q " $MNT " /proc/self/mounts 2>/dev/null; do umount -l "$MNT" || break; done
		rm -rf "$T"
	fi
	exit $rc
}

core_is_mounted() { grep -q " $MNT fuse" /proc/self/mounts; }

# The requests the client sends to the mounted server, seen by the fuse:fuse_request_send tracepoint in a
# trace instance of our own. core_trace_init: 0 when requests can be counted here, else it says why and
# returns 1 (it takes CORE_EXIT_HOOK to remove the instance). core_trace_start: count the requests of the
# mount at $MNT from now on. core_trace_count REGEX: how many requests whose opcode name (FUSE_READ...)
# matches REGEX were sent since the start or the last count. core_trace_stop: stop counting.
CORE_TRACE=
core_trace_init() {
	local tr=/sys/kernel/tracing
	[ -d $tr/events ] || mount -t tracefs nodev $tr 2>/dev/null
	if [ ! -d $tr/events/fuse/fuse_request_send ] || ! mkdir "$tr/instances/boxshare.$$" 2>/dev/null; then
		echo "# no fuse tracepoint or trace instance here: requests are not counted"
		return 1
	fi
	CORE_TRACE=$tr/instances/boxshare.$$
	CORE_EXIT_HOOK=core_trace_remove
}
core_trace_remove() {
	echo 0 >"$CORE_TRACE/events/fuse/fuse_request_send/enable" 2>/dev/null
	rmdir "$CORE_TRACE" 2>/dev/null
}
core_trace_start() {
	local dev=$(( ($(stat -c %Hd "$MNT") << 20) | $(stat -c %Ld "$MNT") ))
	echo "connection == $dev" >"$CORE_TRACE/events/fuse/fuse_request_send/filter"
	: >"$CORE_TRACE/trace"
	echo 1 >"$CORE_TRACE/events/fuse/fuse_request_send/enable"
}
core_trace_count() {
	local n
	n=$(grep -cE "\(($1)\)" "$CORE_TRACE/trace")
	: >"$CORE_TRACE/trace"
	echo "$n"
}
core_trace_stop() { echo 0 >"$CORE_TRACE/events/fuse/fuse_request_send/enable"; }

# core_mount FLAGS...: serve $SHARE at $MNT with FLAGS; waits for the mount (10 s at most).
core_mount() {
	SERVE_LOG=$T/serve.$(date +%s%N).log
	echo "# boxshare serve --source $SHARE --mount $MNT $*"
	"$BOXSHARE" serve --source "$SHARE" --mount "$MNT" "$@" >"$SERVE_LOG" 2>&1 &
	SERVE_PID=$!
	for _ in $(seq 100); do
		core_is_mounted && return 0
		if ! kill -0 "$SERVE_PID" 2>/dev/null; then
			sed 's/^/# serve: /' "$SERVE_LOG" >&2
			wait "$SERVE_PID"
			core_fail "boxshare serve $* exited with status $? before mounting"
		fi
		sleep 0.1
	done
	sed 's/^/# serve: /' "$SERVE_LOG" >&2
	core_fail "boxshare serve $*: $MNT not mounted after 10 s"
}

# core_umount: unmount the way a user does (umount), and the server must exit by itself with status 0.
core_umount() {
	[ -n "$SERVE_PID" ] || return 0 # killed after a hang: nothing left to unmount
	umount "$MNT" || { umount -l "$MNT"; core_fail "umount $MNT failed (busy?)"; }
	local st
	for _ in $(seq 100); do kill -0 "$SERVE_PID" 2>/dev/null || break; sleep 0.1; done
	if kill -0 "$SERVE_PID" 2>/dev/null; then
		kill -9 "$SERVE_PID"
		wait "$SERVE_PID"
		SERVE_PID=
		core_fail "the server did not exit within 10 s of the umount"
	fi
	wait "$SERVE_PID"; st=$?
	SERVE_PID=
	if [ "$st" != 0 ]; then
		sed 's/^/# serve: /' "$SERVE_LOG" >&2
		core_fail "the server exited with status $st after the umount"
	fi
	core_is_mounted && core_fail "$MNT is still mounted after the server exited"
	return 0
}

# Every process of the server (a supervisor may fork the confined server): the pid and its descendants.
core_server_pids() {
	local p=$1 kids
	echo "$p"
	for kids in /proc/"$p"/task/*/children; do
		for k in $(cat "$kids" 2>/dev/null); do core_server_pids "$k"; done
	done
}

# The number of fds the server holds now (all its processes).
core_server_fds() {
	local n=0 p
	for p in $(core_server_pids "$SERVE_PID"); do
		n=$((n + $(ls /proc/"$p"/fd 2>/dev/null | wc -l)))
	done
	echo "$n"
}

CORE_FAILED=0
# Run fsclient and pass its TAP output on. A failure is counted (core_finish fails the test), so one run
# reports every failing mount configuration. If fsclient hangs in a request the server never answers (its
# watchdog then prints the failure and exits, but the process cannot die until the server answers), the server
# is killed: that round is lost, the next one mounts afresh.
core_fsclient() {
	local label=$1; shift
	local out=$T/fsclient.out limit=${FSCLIENT_TIMEOUT:-270} waited=0 rc hung=0
	echo "# fsclient ($label): $*"
	FSCLIENT_CHECK_TIMEOUT=${FSCLIENT_CHECK_TIMEOUT:-45} "$FSCLIENT" "$@" >"$out" 2>&1 &
	local pid=$!
	while kill -0 $pid 2>/dev/null; do
		if grep -q 'timed out after' "$out" || [ $waited -ge $((limit * 10)) ]; then
			sleep 2
			if kill -0 $pid 2>/dev/null; then
				hung=1
				echo "# fsclient ($label) is stuck in the server: killing the server"
				core_kill_server
				kill -9 $pid 2>/dev/null
			fi
			break
		fi
		sleep 0.1
		waited=$((waited + 1))
	done
	wait $pid; rc=$?
	cat "$out"
	if [ $rc != 0 ] || [ $hung = 1 ]; then
		echo "# FAILED: fsclient ($label) (status $rc)"
		CORE_FAILED=$((CORE_FAILED + 1))
		return 1
	fi
	return 0
}

# The FUSE request each process under pid is blocked in (the kernel function after request_wait_answer).
core_blocked_in() {
	local p k
	for p in $(core_server_pids "$1"); do
		k=$(grep -m1 -A2 request_wait_answer /proc/"$p"/stack 2>/dev/null | sed -n '3s/.*\] \([a-z_]*\).*/\1/p')
		[ -n "$k" ] && echo "#   $(cat /proc/"$p"/comm 2>/dev/null) (pid $p) waits in $k"
	done
}

# core_bounded SECONDS LABEL CMD...: run CMD; if it outlives SECONDS it is stuck in the server: show where each
# process waits, kill the server (which frees them) and return 124. Otherwise CMD's status.
core_bounded() {
	local limit=$1 label=$2; shift 2
	"$@" &
	local pid=$! waited=0
	while kill -0 $pid 2>/dev/null; do
		if [ $waited -ge $((limit * 10)) ]; then
			echo "# $label: still running after $limit s; blocked requests:"
			core_blocked_in $pid
			core_kill_server
			kill -9 $(core_server_pids $pid) 2>/dev/null
			wait $pid 2>/dev/null
			return 124
		fi
		sleep 0.1
		waited=$((waited + 1))
	done
	wait $pid
}

# End of a test: fail if any round failed.
core_finish() {
	[ "$CORE_FAILED" = 0 ] || core_fail "$CORE_FAILED round(s) failed (see 'not ok' and FAILED above)"
	echo "# $(basename "$0"): all passed"
}
