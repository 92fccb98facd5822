#!/bin/bash
# --sandbox chroot (no namespaces): / is an empty, already removed directory; host paths are gone; the held
# share fd is re-rooted (".." stays inside) and reopens through the held /proc fd work, on a fresh procfs that
# shows no other process; capabilities dropped; the namespaces are the host's; nothing is left on the host.
. "$(dirname "$0")/sandbox-lib.sh"

# LeakSanitizer finds threads through /proc by path, which a chroot into an empty directory does not have.
[ "$san" = 1 ] && export ASAN_OPTIONS="$ASAN_OPTIONS:detect_leaks=0"

share=$tmp/share
mkdir -p "$share"
echo hello >"$share/file"
run_before=$(ls -a /run | grep -c '^\.boxshare-root-')

out=$tmp/out1
"$probe" --sandbox chroot --seccomp kill --share "$share" root host /etc/passwd host /proc/self/status dotdot \
	read file reopen file caps ns proc procpid 1 exit 5 >"$out" 2>"$tmp/err1"
expect_rc $? 5 "exit status"
expect "$out" "root: (empty)"
expect "$out" "host /etc/passwd: No such file or directory"
expect "$out" "host /proc/self/status: No such file or directory"
expect "$out" "dotdot: contained"
expect "$out" "read file: hello"
expect "$out" "reopen file: hello"
expect "$out" "caps CapEff: 00000000880000df"
expect "$out" "caps CapBnd: 00000000880000df"
expect "$out" "caps Seccomp: 2"
for ns in pid net mnt ipc cgroup; do expect "$out" "ns $ns: $(host_ns $ns)"; done
expect_not "$out" "ns pid: 1"
# a fresh procfs: no /proc/sys & co; hidepid=invisible hides what we may not ptrace (the host's init and every
# process with more capabilities; other confined servers are not dumpable: see below)
grep -q '^proc: [0-9]* pids, 0 other$' "$out" && ok "fresh procfs, pid directories only" || fail "proc: $(grep ^proc: "$out")"
expect "$out" "procpid 1: No such file or directory"
[ -s "$tmp/err1" ] && { fail "stderr not empty"; cat "$tmp/err1" >&2; }
run_after=$(ls -a /run | grep -c '^\.boxshare-root-')
expect_eq "$run_after" "$run_before" "empty-root directories in /run (none left behind)"

# two confined servers (same uid, same capabilities) cannot see each other: they are not dumpable (a sanitizer
# build keeps them dumpable for its leak check)
if [ "$san" != 1 ]; then
	"$probe" --sandbox chroot --seccomp kill --share "$share" ready pause >"$tmp/out-a" 2>&1 &
	a=$!
	bg_pids+=("$a")
	if wait_line "$tmp/out-a" ready 10; then
		"$probe" --sandbox chroot --seccomp kill --share "$share" procpid "$a" >"$tmp/out-b" 2>&1
		expect "$tmp/out-b" "procpid $a: No such file or directory"
	else
		fail "first server never got ready"
	fi
	kill -KILL "$a" 2>/dev/null
fi

# with a cleanup: run by a supervisor outside the chroot
"$probe" --sandbox chroot --seccomp kill --marker "$tmp/marker" --share "$share" exit 3 >/dev/null 2>&1
expect_rc $? 3 "exit status through the supervisor"
[ -f "$tmp/marker" ] && ok "supervisor_cleanup ran" || fail "supervisor_cleanup did not run"

# a read-only share keeps fewer capabilities
out=$tmp/out2
"$probe" --sandbox chroot --seccomp kill --ro --share "$share" caps create new forbid execve >"$out" 2>/dev/null
expect_rc $? 159 "chroot/kill: execve"
expect "$out" "caps CapEff: 00000000000000c4"
expect "$out" "create new: Read-only file system"   # the detached bind mount is read-only too

finish
