#!/bin/bash
# --sandbox none: the host's root and namespaces stay (that is the point of the mode), but no_new_privs, the
# capability drop and the seccomp filter still apply. Without a cleanup there is no supervisor (the server is
# the caller's process); with one, a supervisor runs it after the server and passes the status on.
. "$(dirname "$0")/sandbox-lib.sh"

share=$tmp/share
mkdir -p "$share"
echo hello >"$share/file"

out=$tmp/out1
"$probe" --sandbox none --seccomp kill --share "$share" host /etc/passwd read file reopen file caps ns exit 4 \
	>"$out" 2>"$tmp/err1" &
pid=$!
wait $pid
expect_rc $? 4 "exit status"
expect "$out" "ns pid: $pid"                  # no fork without a cleanup to run
expect "$out" "host /etc/passwd: opened"
expect "$out" "read file: hello"
expect "$out" "reopen file: hello"
expect "$out" "caps CapPrm: 00000000880000df"
expect "$out" "caps CapBnd: 00000000880000df"
expect "$out" "caps CapAmb: 0000000000000000"
expect "$out" "caps NoNewPrivs: 1"
expect "$out" "caps Seccomp: 2"
for ns in pid net mnt ipc cgroup; do expect "$out" "ns $ns: $(host_ns $ns)"; done
[ -s "$tmp/err1" ] && { fail "stderr not empty"; cat "$tmp/err1" >&2; }

# with a cleanup: a supervisor (same pid namespace) runs it after the server, whose status it passes on
out=$tmp/out3
"$probe" --sandbox none --seccomp kill --marker "$tmp/marker" --share "$share" ns exit 6 >"$out" 2>&1 &
pid=$!
wait $pid
expect_rc $? 6 "exit status through the supervisor"
[ -f "$tmp/marker" ] && ok "supervisor_cleanup ran" || fail "supervisor_cleanup did not run"
expect_not "$out" "ns pid: $pid"
expect_not "$out" "ns pid: 1"
rm -f "$tmp/marker"
"$probe" --sandbox none --seccomp kill --marker "$tmp/marker" --share "$share" forbid socket >"$out" 2>&1
expect_rc $? 159 "SIGSYS through the supervisor"
[ -f "$tmp/marker" ] && ok "supervisor_cleanup ran after SIGSYS" || fail "no cleanup after SIGSYS"

out=$tmp/out2
"$probe" --sandbox none --seccomp none --ro --share "$share" caps >"$out" 2>&1
expect_rc $? 0 "read-only, no seccomp"
expect "$out" "caps CapEff: 00000000000000c4"
expect "$out" "caps Seccomp: 0"

finish
