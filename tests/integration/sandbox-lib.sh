# Sourced by the sandbox-*.sh tests (bash). $1 is the sandbox-probe binary.
# Gives: $probe, $tmp (removed at exit, every mount under it lazily unmounted first), $san (1 in a sanitizer
# build), skip/fail/ok/expect helpers, wait_line, and `finish` to end with the right status.
set -u
probe=${1:?usage: $0 SANDBOX-PROBE}
fails=0
bg_pids=()

skip() { echo "SKIP: $*" >&2; exit 77; }
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
ok() { echo "ok: $*"; }

[ "$(id -u)" = 0 ] || skip "needs root (namespaces, mounts, pivot_root)"
[ -x "$probe" ] || { echo "no probe binary: $probe" >&2; exit 1; }

tmp=$(mktemp -d /tmp/bx-sandbox.XXXXXX) || exit 1
cleanup() {
	local p
	for p in "${bg_pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
	wait 2>/dev/null
	# deepest first; lazy, so a busy mount cannot keep the test from ending
	awk -v t="$tmp" '$5 == t || index($5, t "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r |
		while read -r m; do umount -l "$m" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT

# 1 in a sanitizer build: the sandbox then also mounts its procfs at /proc (LeakSanitizer reads /proc/self/task
# by path) and lets the runtime's own syscalls through; chroot mode has no /proc, its test turns leaks off.
san=$("$probe" sanitizer)

# expect FILE LINE: FILE has exactly this line
expect() {
	if grep -qxF -- "$2" "$1"; then ok "$2"; else fail "expected '$2' in $1:"; sed 's/^/    /' "$1" >&2; fi
}
# expect_not FILE LINE
expect_not() {
	if grep -qxF -- "$2" "$1"; then fail "did not expect '$2' in $1"; else ok "no '$2'"; fi
}
# expect_rc GOT WANT WHAT
expect_rc() {
	if [ "$1" = "$2" ]; then ok "$3: status $1"; else fail "$3: status $1, expected $2"; fi
}
# expect_eq GOT WANT WHAT
expect_eq() {
	if [ "$1" = "$2" ]; then ok "$3: $1"; else fail "$3: $1, expected $2"; fi
}
# wait_line FILE LINE SECONDS: wait until FILE has LINE
wait_line() {
	local i
	for ((i = 0; i < $3 * 20; i++)); do
		grep -qxF -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}
# the confined child of a namespace-mode supervisor
child_of() { cat "/proc/$1/task/$1/children" 2>/dev/null | awk '{ print $1 }'; }
# ns NAME: the host's namespace link, as the probe prints it
host_ns() { readlink "/proc/self/ns/$1"; }

finish() {
	if [ "$fails" -gt 0 ]; then
		echo "$fails check(s) failed" >&2
		exit 1
	fi
	exit 0
}
