#!/bin/bash
# A terminal container driven through a console socket, as conmon does it: the pty is allocated inside the
# container, its master arrives over the socket (SCM_RIGHTS), input typed into it reaches the process and
# the process's output comes back; the same for exec --tty.
# Usage: runtime-console.sh BOXSHARE RT_HELPER
set -u
BOXSHARE=$(realpath "$1")
HELPER=$(realpath "$2")
. "$(dirname "$0")/runtime-lib.sh"
rt_require
rt_setup
B() { "$BOXSHARE" --root "$ROOT" "$@"; }

wait_socket() {
	local i
	for i in $(seq 100); do [ -S "$1" ] && return 0; sleep 0.05; done
	rt_fail "console socket $1 never appeared"
}

rt_bundle "$T/b" '["sh", "-c", "tty; stty size; test -c /dev/console && echo console-ok; read line; echo got:$line; sleep 100"]' \
	'"terminal": true, "consoleSize": { "height": 24, "width": 80 },'
# without a socket, a terminal cannot be handed over: refused before anything starts
B create --bundle "$T/b" t0 2>"$T/err" && rt_fail "terminal without --console-socket was accepted"
grep -q "console-socket" "$T/err" || rt_fail "error does not say what is missing: $(cat "$T/err")"

"$HELPER" console "$T/console.sock" "$T/console.out" $'typed-input\n' &
hpid=$!
RT_KILL_PIDS="$hpid"
wait_socket "$T/console.sock"
B create --bundle "$T/b" --console-socket "$T/console.sock" t1 || rt_fail "create with a console socket"
B start t1 || rt_fail "start t1"
for i in $(seq 100); do grep -q "got:" "$T/console.out" 2>/dev/null && break; sleep 0.05; done
grep -q '^name=/dev/pts/' "$T/console.out" || rt_fail "no pty name sent: $(cat "$T/console.out")"
grep -q '^/dev/pts/0' "$T/console.out" || rt_fail "the process's stdin is not the container's pty 0: $(cat "$T/console.out")"
grep -q '^24 80' "$T/console.out" || rt_fail "consoleSize not applied: $(cat "$T/console.out")"
grep -q 'got:typed-input' "$T/console.out" || rt_fail "input did not reach the process: $(cat "$T/console.out")"
grep -q 'console-ok' "$T/console.out" || rt_fail "no /dev/console in the container: $(cat "$T/console.out")"

# exec with a terminal: a second pty of the same devpts instance
"$HELPER" console "$T/exec.sock" "$T/exec.out" &
epid=$!
RT_KILL_PIDS="$hpid $epid"
wait_socket "$T/exec.sock"
B exec --tty --console-socket "$T/exec.sock" t1 -- sh -c 'tty; echo exec-ok' || rt_fail "exec --tty"
wait $epid
grep -q '^/dev/pts/1' "$T/exec.out" || rt_fail "exec's terminal: $(cat "$T/exec.out")"
grep -q 'exec-ok' "$T/exec.out" || rt_fail "exec output: $(cat "$T/exec.out")"

[ -n "${RT_SHOW:-}" ] && cat "$T/console.out" "$T/exec.out"
B delete --force t1 || rt_fail "delete t1"
wait $hpid
echo "runtime-console: ok"
