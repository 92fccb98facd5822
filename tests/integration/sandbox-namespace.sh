#!/bin/bash
# --sandbox namespace: from inside, / is empty and host paths are gone; the held share fd and a "self/fd/N"
# reopen through the held /proc fd work; ".." from the share stays inside; capabilities are dropped; pid, net,
# mount and ipc namespaces are new; a host mount under a (shared) share reaches the server, a mount made in the
# server's namespace never reaches the host; the supervisor runs its cleanup and passes the status on, forwards
# SIGTERM (through the namespace's init, so the server, pid 2, dies of it as any process would), and the server
# dies with the supervisor.
. "$(dirname "$0")/sandbox-lib.sh"

unshare --mount --pid --net --fork true 2>/dev/null || skip "unshare of mount/pid/net namespaces is refused here"

share=$tmp/share
mkdir -p "$share/sub" "$share/sub2"
echo hello >"$share/file"
mount --bind "$share" "$share" && mount --make-shared "$share" || skip "cannot make a shared bind mount under /tmp"
mounts_before=$(wc -l </proc/self/mountinfo)
hard=$(ulimit -Hn)

# --- the view from inside (read-write share, seccomp kill) ---
out=$tmp/out1
"$probe" --sandbox namespace --seccomp kill --marker "$tmp/marker1" --nofile 100000000 --share "$share" \
	root host /etc/passwd host "$share/file" dotdot read file reopen file caps ns proc procpid 1 procpid 2 nofile \
	exit 7 >"$out" 2>"$tmp/err1"
expect_rc $? 7 "exit status through the supervisor"
if [ "$san" = 1 ]; then expect "$out" "root: proc"; else expect "$out" "root: (empty)"; fi
expect "$out" "host /etc/passwd: No such file or directory"
expect "$out" "host $share/file: No such file or directory"
expect "$out" "dotdot: contained"
expect "$out" "read file: hello"
expect "$out" "reopen file: hello"
expect "$out" "caps CapPrm: 00000000880000df"
expect "$out" "caps CapEff: 00000000880000df"
expect "$out" "caps CapBnd: 00000000880000df"
expect "$out" "caps CapInh: 0000000000000000"
expect "$out" "caps CapAmb: 0000000000000000"
expect "$out" "caps NoNewPrivs: 1"
expect "$out" "caps Seccomp: 2"
expect "$out" "ns pid: 2"                   # pid 1 is the namespace's init, the server pid 2
for ns in pid net mnt ipc cgroup; do
	expect_not "$out" "ns $ns: $(host_ns $ns)"
	grep -q "^ns $ns: $ns:\[" "$out" || fail "no $ns namespace line"
done
expect "$out" "proc: 1 pids, 0 other"       # a procfs of the new pid namespace, pid dirs only, and
expect "$out" "procpid 1: No such file or directory" # the init (not dumpable) hidden from the server
expect "$out" "procpid 2: visible"          # which sees itself
expect "$out" "nofile: $hard $hard"         # raised to the hard limit, not beyond
[ -f "$tmp/marker1" ] && ok "supervisor_cleanup ran" || fail "supervisor_cleanup did not run"
[ -s "$tmp/err1" ] && { fail "stderr not empty"; cat "$tmp/err1" >&2; }

# --- read-only export: fewer capabilities, and the share's mount in the sandbox is read-only ---
out=$tmp/out2
"$probe" --sandbox namespace --seccomp kill --ro --share "$share" caps create new read file >"$out" 2>&1
expect_rc $? 0 "read-only probe"
expect "$out" "caps CapEff: 00000000000000c4"     # SETUID SETGID DAC_READ_SEARCH
expect "$out" "caps CapBnd: 00000000000000c4"
expect "$out" "create new: Read-only file system"
expect "$out" "read file: hello"
[ ! -e "$share/new" ] && ok "nothing created on the host" || fail "a file was created through a read-only export"

# --- file handles: with them (the default) open_by_handle_at works; without, no CAP_DAC_READ_SEARCH and the
# syscall kills (with it, open_by_handle_at would ignore the bind mount and reach the whole file system) ---
out=$tmp/out2b
"$probe" --sandbox namespace --seccomp kill --share "$share" handle >"$out" 2>&1
expect_rc $? 0 "file handles allowed"
expect "$out" "handle: opened"
"$probe" --sandbox namespace --seccomp kill --no-handles --share "$share" caps create new2 ready handle >"$out" 2>&1
expect_rc $? 159 "open_by_handle_at without --file-handles (SIGSYS)"
expect "$out" "caps CapEff: 00000000880000db"     # the rw set without DAC_READ_SEARCH
expect "$out" "create new2: ok"
expect "$out" "ready"
"$probe" --sandbox namespace --seccomp kill --no-handles --ro --share "$share" caps >"$out" 2>&1
expect "$out" "caps CapEff: 00000000000000c2"     # SETUID SETGID DAC_OVERRIDE, on a read-only mount
# even with the filter only logging, the kernel refuses a forged handle without CAP_DAC_READ_SEARCH
"$probe" --sandbox namespace --seccomp log --no-handles --share "$share" fsroot-handle >"$out" 2>&1
expect "$out" "fsroot-handle: refused"

# --- propagation: host -> server yes, server -> host no ---
out=$tmp/out3
"$probe" --sandbox namespace --seccomp kill --share "$share" ready wait sub/marker 10 wait sub2/inside 10 \
	>"$out" 2>"$tmp/err3" &
sup=$!
bg_pids+=("$sup")
if wait_line "$out" ready 10; then
	mount -t tmpfs bxsbx-host "$share/sub" && touch "$share/sub/marker"
	child=$(child_of "$sup")
	fd=$(sed -n 's/^sharefd: //p' "$out")
	# a mount made inside the server's mount namespace, on the server's copy of the share
	if [ -n "$child" ] && "$probe" mount-in "$child" "/fd$fd/sub2"; then
		ok "mounted inside the server's namespace"
	else
		fail "could not mount inside the server's namespace"
	fi
	wait "$sup"
	expect_rc $? 0 "propagation probe"
	expect "$out" "wait sub/marker: seen"
	expect "$out" "wait sub2/inside: seen"
	[ ! -e "$share/sub2/inside" ] && ok "the inside mount is not on the host" || fail "inside mount leaked"
	grep -q bxsbx-inside /proc/self/mountinfo && fail "bxsbx-inside in the host's mountinfo" ||
		ok "host mountinfo has no inside mount"
	umount -l "$share/sub"
else
	fail "probe never got ready"
	cat "$out" "$tmp/err3" >&2
fi
mounts_after=$(wc -l </proc/self/mountinfo)
expect_eq "$mounts_after" "$mounts_before" "host mount count unchanged"

# --- SIGTERM to the supervisor: relayed by the init to the server, which has no handler: status 143 ---
out=$tmp/out4
"$probe" --sandbox namespace --seccomp kill --marker "$tmp/marker4" --share "$share" ready pause >"$out" 2>&1 &
sup=$!
bg_pids+=("$sup")
if wait_line "$out" ready 10; then
	child=$(child_of "$(child_of "$sup")")
	kill -TERM "$sup"
	wait "$sup"
	expect_rc $? 143 "SIGTERM, no handler"
	[ -f "$tmp/marker4" ] && ok "cleanup after SIGTERM" || fail "no cleanup after SIGTERM"
	[ -n "$child" ] && [ ! -e "/proc/$child" ] && ok "server gone" || fail "server $child still there"
else
	fail "probe never got ready (SIGTERM test)"
fi

# --- SIGTERM with a handler: forwarded, the server exits as it chooses (42) ---
out=$tmp/out5
"$probe" --sandbox namespace --seccomp kill --handle-term --share "$share" ready pause >"$out" 2>&1 &
sup=$!
bg_pids+=("$sup")
if wait_line "$out" ready 10; then
	kill -TERM "$sup"
	wait "$sup"
	expect_rc $? 42 "SIGTERM forwarded to the server's handler"
else
	fail "probe never got ready (handler test)"
fi

# --- the supervisor killed outright: init dies with it (PR_SET_PDEATHSIG), the server with its namespace ---
out=$tmp/out6
"$probe" --sandbox namespace --seccomp kill --share "$share" ready pause >"$out" 2>&1 &
sup=$!
bg_pids+=("$sup")
if wait_line "$out" ready 10; then
	init=$(child_of "$sup")
	child=$(child_of "$init")
	kill -KILL "$sup"
	wait "$sup" 2>/dev/null
	for ((i = 0; i < 40; i++)); do [ -e "/proc/$child" ] || [ -e "/proc/$init" ] || break; sleep 0.05; done
	[ -n "$child" ] && [ ! -e "/proc/$child" ] && [ ! -e "/proc/$init" ] && ok "server died with its supervisor" ||
		fail "server $child (init $init) outlived its supervisor"
else
	fail "probe never got ready (pdeathsig test)"
fi

finish
