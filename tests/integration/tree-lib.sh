# SPDX-License-Identifier: MIT
# Shared by the tree-*.sh integration tests (sourced): a temp dir, a `boxshare serve` of a share tree on a
# real FUSE mount that is always torn down (lazy umount in a trap, the server killed by its pid), assertions.
# After tree_init: $T (removed at exit), $MNT. tree_serve FLAGS... starts the server, sets $SERVE_PID.

tree_skip() { echo "SKIP: $*" >&2; exit 77; }
tree_fail() { echo "FAIL: $*" >&2; [ -n "$SERVE_LOG" ] && sed 's/^/# serve: /' "$SERVE_LOG" >&2; exit 1; }

tree_init() {
	BOXSHARE=${1:?usage: $0 BOXSHARE TREE_CLIENT}
	CLIENT=${2:?usage: $0 BOXSHARE TREE_CLIENT}
	[ "$(id -u)" = 0 ] || tree_skip "needs root (mounts through /dev/fuse)"
	[ -c /dev/fuse ] || tree_skip "no /dev/fuse"
	"$BOXSHARE" serve --help >/dev/null 2>&1 || tree_skip "'boxshare serve' is not built"
	T=$(mktemp -d /tmp/boxshare-tree.XXXXXX)
	MNT=$T/mnt
	mkdir "$MNT"
	SERVE_PID= SERVE_LOG= EXTRA_MOUNTS= BG_PID=
	trap tree_cleanup EXIT
	trap 'exit 130' INT TERM
}

tree_stop() {
	if [ -n "$SERVE_PID" ] && kill -0 "$SERVE_PID" 2>/dev/null; then
		umount -l "$MNT" 2>/dev/null
		kill "$SERVE_PID" 2>/dev/null
		for _ in $(seq 50); do kill -0 "$SERVE_PID" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$SERVE_PID" 2>/dev/null
		wait "$SERVE_PID" 2>/dev/null
	fi
	SERVE_PID=
	while grep -q " $MNT " /proc/self/mounts 2>/dev/null; do umount -l "$MNT" || break; done
	# a sanitizer build's report from the server fails the test
	if [ -n "$SERVE_LOG" ] && grep -qE "AddressSanitizer|LeakSanitizer|runtime error:" "$SERVE_LOG"; then
		local log=$SERVE_LOG
		SERVE_LOG=
		sed 's/^/# serve: /' "$log" >&2
		echo "FAIL: the server reported a sanitizer error" >&2
		exit 1
	fi
}

tree_cleanup() {
	local rc=$?
	set +eu # whatever failed, the mounts go
	[ -n "$BG_PID" ] && kill "$BG_PID" 2>/dev/null && wait "$BG_PID" 2>/dev/null
	tree_stop
	for m in $EXTRA_MOUNTS; do umount -l "$m" 2>/dev/null; done
	[ -n "$T" ] && rm -rf "$T"
	exit $rc
}

# tree_serve FLAGS...: serve a tree at $MNT; waits for the mount (10 s at most).
tree_serve() {
	SERVE_LOG=$T/serve.$(date +%s%N).log
	echo "# boxshare serve --mount $MNT $*"
	"$BOXSHARE" serve --mount "$MNT" "$@" >"$SERVE_LOG" 2>&1 &
	SERVE_PID=$!
	for _ in $(seq 100); do
		grep -q " $MNT fuse" /proc/self/mounts && return 0
		if ! kill -0 "$SERVE_PID" 2>/dev/null; then
			wait "$SERVE_PID"
			tree_fail "boxshare serve $* exited with status $? before mounting"
		fi
		sleep 0.1
	done
	tree_fail "boxshare serve $*: $MNT not mounted after 10 s"
}

# expect WANT OP PATH [ARG]: the client's result of OP must be WANT (OK or an errno name).
expect() {
	local want=$1; shift
	local got
	got=$("$CLIENT" "$@")
	[ "$got" = "$want" ] || tree_fail "$*: got $got, want $want"
}

# expect_content WANT PATH
expect_content() {
	local got
	got=$(cat "$2" 2>&1) || tree_fail "cat $2: $got"
	[ "$got" = "$1" ] || tree_fail "cat $2: got '$got', want '$1'"
}
