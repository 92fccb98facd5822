#!/bin/bash
# The runtime commands' command lines, as an engine or a person gets them wrong: every bad flag, bad value,
# missing or extra id is a usage error (exit 2) that names the command and what is wrong, touches no state,
# and --help prints the usage (exit 0). create and exec share their process flags (--pid-file,
# --console-socket, --preserve-fds: src/cli/rt-args.c), so both are checked for each. Needs no root.
# Usage: runtime-cli.sh BOXSHARE [RT_HELPER]
set -u
BOXSHARE=$(realpath "$1")
fail() { echo "FAIL: $*" >&2; exit 1; }
[ -x "$BOXSHARE" ] || fail "boxshare binary '$1' missing"
T=$(mktemp -d /tmp/boxshare-rt-cli.XXXXXX)
trap 'rm -rf "$T"' EXIT
ROOT="$T/state"
cd "$T" || fail "cd $T"

# expect STATUS STDERR-LINE -- ARGS...: the exit status and the first line of stderr, exactly
expect() {
	local want_rc=$1 want_err=$2
	shift 3
	"$BOXSHARE" --root "$ROOT" "$@" </dev/null >"$T/out" 2>"$T/err"
	local rc=$?
	[ "$rc" = "$want_rc" ] || fail "boxshare $*: exit status $rc, want $want_rc ($(head -c 300 "$T/err"))"
	[ "$(head -n 1 "$T/err")" = "$want_err" ] || fail "boxshare $*: said '$(head -n 1 "$T/err")', want '$want_err'"
}

for cmd in create exec; do
	expect 2 "boxshare: $cmd: --preserve-fds 'abc': not a count in [0, 1024]" -- $cmd --preserve-fds abc c1
	expect 2 "boxshare: $cmd: --preserve-fds '-1': not a count in [0, 1024]" -- $cmd --preserve-fds -1 c1
	expect 2 "boxshare: $cmd: --preserve-fds '1025': not a count in [0, 1024]" -- $cmd --preserve-fds 1025 c1
	expect 2 "boxshare: $cmd: --preserve-fds '3x': not a count in [0, 1024]" -- $cmd --preserve-fds=3x c1
	expect 2 "$cmd: unrecognized option '--bogus'" -- $cmd --bogus c1
	expect 2 "$cmd: invalid option -- 'Z'" -- $cmd -Z c1
	expect 2 "$cmd: option '--pid-file' requires an argument" -- $cmd --pid-file
	expect 2 "$cmd: option '--console-socket' requires an argument" -- $cmd --console-socket
	expect 0 "" -- $cmd --help
	head -n 1 "$T/out" | grep -q "^usage: boxshare $cmd .*--pid-file FILE" || fail "$cmd --help: $(cat "$T/out")"
	grep -q -- "--preserve-fds N.* ID" "$T/out" || fail "$cmd --help: $(cat "$T/out")"
done
usage="[--bundle DIR] [--pid-file FILE] [--console-socket PATH] [--no-pivot] [--no-new-keyring] [--preserve-fds N] ID"
expect 2 "boxshare: create: expects exactly one container id (usage: boxshare create $usage)" -- create
expect 2 "exec: option '--p' is ambiguous; possibilities: '--process' '--pid-file' '--preserve-fds'" -- exec --p x c1
expect 2 "boxshare: exec c1: give either --process FILE or a command, not both" -- exec -p /x c1 true
expect 2 "boxshare: exec c1: no command given" -- exec --tty c1
# good flags reach the runtime, which says what is missing
expect 1 "boxshare: create c1: bundle '$T/none': No such file or directory" -- \
	create --bundle "$T/none" --pid-file "$T/pid" --console-socket "$T/sock" --preserve-fds 2 c1
expect 1 "boxshare: exec c1: container 'c1' does not exist" -- \
	exec --pid-file "$T/pid" --console-socket "$T/sock" --preserve-fds=0 c1 true
# the other commands' flags
for cmd in start state kill delete; do
	expect 2 "$cmd: unrecognized option '--bogus'" -- $cmd --bogus c1
done
expect 2 "start: invalid option -- 'a'" -- start -a c1
expect 2 "kill: invalid option -- 'f'" -- kill -af c1
expect 2 "delete: option '--force' doesn't allow an argument" -- delete --force=1 c1
expect 2 "boxshare: kill c1: 'NOSIG' is not a signal name or number" -- kill c1 NOSIG
expect 0 "" -- delete --force c1
# no usage error above left anything behind
[ ! -e "$ROOT" ] || [ -z "$(ls -A "$ROOT")" ] || fail "state left in $ROOT: $(ls -A "$ROOT")"
[ ! -e "$T/pid" ] || fail "a pid file was written"
echo "runtime-cli: ok"
