#!/bin/bash
# The OCI lifecycle through the command line, as an engine drives it: create -> created -> start -> running
# -> kill -> stopped -> delete, the pid file, exit statuses (commands' and the container's), exec, hooks,
# concurrent containers, and delete --force after the runtime was SIGKILLed in the middle of create.
# Usage: runtime-lifecycle.sh BOXSHARE RT_HELPER
set -u
BOXSHARE=$(realpath "$1")
HELPER=$(realpath "$2")
. "$(dirname "$0")/runtime-lib.sh"
rt_require
# Everything runs under the subreaper helper, which records the containers' exit statuses in $RT_EXITS.
if [ -z "${RT_EXITS:-}" ]; then
	exits=$(mktemp /tmp/boxshare-rt-exits.XXXXXX)
	trap 'rm -f "$exits"' EXIT
	RT_EXITS=$exits "$HELPER" reap "$exits" -- "$0" "$@"
	exit $?
fi
rt_setup
B() { "$BOXSHARE" --root "$ROOT" "$@"; }

# -- the lifecycle, with the pid file and the exit status --------------------------------------------------
rt_bundle "$T/b1" '["sh", "-c", "trap \"exit 3\" TERM; echo started > /tmp/x; while true; do sleep 0.1; done"]'
B create --bundle "$T/b1" --pid-file "$T/b1.pid" c1 || rt_fail "create c1"
[ "$(rt_status c1)" = created ] || rt_fail "c1 after create: '$(rt_status c1)'"
pid=$(rt_pid c1)
[ -n "$pid" ] && [ "$(cat "$T/b1.pid")" = "$pid" ] || rt_fail "pid file '$(cat "$T/b1.pid")' != state pid '$pid'"
B list | grep -q "^c1 .*created" || rt_fail "list does not show c1 created"
B list --format json | grep -q '"id":"c1"' || rt_fail "list --format json does not show c1"
# the process must not have run yet: it waits before exec
grep -q sleep "/proc/$pid/cmdline" && rt_fail "c1 exec'd before start"
B start c1 || rt_fail "start c1"
[ "$(rt_status c1)" = running ] || rt_fail "c1 after start: '$(rt_status c1)'"
# the container's own process got the spec's bounding set, no_new_privs and rlimit before its exec
grep -q 'CapBnd:.*00000000000004e1' "/proc/$pid/status" || rt_fail "init: $(grep CapBnd "/proc/$pid/status")"
grep -q 'NoNewPrivs:.*1' "/proc/$pid/status" || rt_fail "init: no_new_privs not set"
grep -q '^Max open files  *512  *1024' "/proc/$pid/limits" || rt_fail "init: $(grep 'open files' "/proc/$pid/limits")"
B start c1 2>/dev/null && rt_fail "a second start succeeded"
B delete c1 2>/dev/null && rt_fail "delete of a running container without --force succeeded"

# exec: into the same namespaces (pid 1 is the container's sh), exit status passed through
out=$(B exec c1 -- sh -c 'cat /proc/1/cmdline | head -c 2; echo; cat /tmp/x; exit 7')
rc=$?
[ $rc = 7 ] || rt_fail "exec exit status $rc, expected 7"
echo "$out" | grep -q '^sh' || rt_fail "exec did not see the container's pid 1: $out"
echo "$out" | grep -q started || rt_fail "exec did not see the container's /tmp: $out"
# capabilities, rlimits and no_new_privs from the spec hold in exec'd processes too
caps=$(B exec c1 -- sh -c 'grep -E "^(CapBnd|CapEff|NoNewPrivs)" /proc/self/status')
echo "$caps" | grep -q 'CapBnd:.*00000000000004e1' || rt_fail "bounding set not applied: $caps"
echo "$caps" | grep -q 'NoNewPrivs:.*1' || rt_fail "no_new_privs not applied: $caps"
B exec c1 -- sh -c 'ulimit -n' | grep -qx 512 || rt_fail "RLIMIT_NOFILE not applied in exec"
B exec --process /nonexistent c1 2>/dev/null && rt_fail "exec with a missing --process file succeeded"
B exec c1 -- /no/such/program 2>"$T/err" && rt_fail "exec of a missing program succeeded"
grep -q "no/such/program" "$T/err" || rt_fail "exec error does not name the program: $(cat "$T/err")"
# no descriptor leaks into the container: the init has stdio only, an exec'd process too (+ ls's own dir
# fd), even when whoever runs the runtime has more open (fd 9 here)
[ "$(ls "/proc/$pid/fd" | sort -n | tr '\n' ' ')" = "0 1 2 " ] || rt_fail "init's fds: $(ls -l "/proc/$pid/fd")"
fds=$(B exec c1 -- ls /proc/self/fd 9</dev/null | tr '\n' ' ')
[ "$fds" = "0 1 2 3 " ] || rt_fail "exec'd process's fds: $fds"
# exec --process FILE, as conmon and containerd's shim call it: detached, with a pid file
cat > "$T/proc.json" <<JSON
{ "args": [ "sh", "-c", "echo \$FOO > /tmp/from-process-file" ], "env": [ "PATH=/bin", "FOO=bar" ], "cwd": "/",
  "user": { "uid": 0, "gid": 0 } }
JSON
B exec --process "$T/proc.json" --detach --pid-file "$T/exec.pid" c1 || rt_fail "exec --process --detach"
[ -s "$T/exec.pid" ] || rt_fail "exec --pid-file not written"
for i in $(seq 50); do B exec c1 -- cat /tmp/from-process-file 2>/dev/null | grep -q bar && break; sleep 0.1; done
B exec c1 -- cat /tmp/from-process-file | grep -qx bar || rt_fail "the --process file's env/args were not used"
# ps lists the container's processes
B ps --format json c1 | grep -q "$pid" || rt_fail "ps does not list the init $pid"

B kill c1 TERM || rt_fail "kill c1 TERM"
rt_wait_status c1 stopped
B kill c1 KILL 2>/dev/null && rt_fail "kill of a stopped container succeeded"
B delete c1 || rt_fail "delete c1"
B state c1 2>/dev/null && rt_fail "state of a deleted container succeeded"
[ -e "$ROOT/c1" ] && rt_fail "state dir of c1 left behind"

# -- errors a user sees ------------------------------------------------------------------------------------
# with --log and --log-format json, as podman and containerd pass them, errors are JSON records in the file
"$BOXSHARE" --root "$ROOT" --log "$T/log.json" --log-format json state nosuch 2>/dev/null
grep -q '"level":"error","msg":"state nosuch: container .nosuch. does not exist"' "$T/log.json" \
	|| rt_fail "--log json record: $(cat "$T/log.json")"
B state nosuch 2>"$T/err"; [ $? = 1 ] || rt_fail "state of an unknown id did not exit 1"
grep -q "nosuch" "$T/err" || rt_fail "state error does not name the container"
B create --bundle "$T/b1" "bad/id" 2>/dev/null; [ $? = 1 ] || rt_fail "an id with a slash was accepted"
B kill c1 NOSIG 2>/dev/null; [ $? = 2 ] || rt_fail "an unknown signal is not a usage error"
B create --bundle "$T/b1" dup || rt_fail "create dup"
B create --bundle "$T/b1" dup 2>"$T/err" && rt_fail "a duplicate id was accepted"
grep -q "already exists" "$T/err" || rt_fail "duplicate id error: $(cat "$T/err")"
# deleting a created container kills its waiting init
dpid=$(rt_pid dup)
B delete dup || rt_fail "delete of a created container"
sleep 0.2
[ -d "/proc/$dpid" ] && grep -q "^State:.*[RS]" "/proc/$dpid/status" && rt_fail "init of the deleted 'dup' survived"

# -- a user namespace: the init is root of the container, mapped to 100000 on the host; exec joins it -----
chmod 755 "$T"
cp -a "$T/rootfs" "$T/urootfs"
chown -R 100000:100000 "$T/urootfs"
rt_bundle "$T/bu" '["sleep", "100"]'
python3 - "$T/bu/config.json" "$T/urootfs" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["root"]["path"] = sys.argv[2]
c["linux"]["namespaces"].append({"type": "user"})
c["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
c["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
json.dump(c, open(sys.argv[1], "w"))
PY
B create --bundle "$T/bu" cu || rt_fail "create with a user namespace"
B start cu || rt_fail "start with a user namespace"
grep -q "^Uid:.*100000" "/proc/$(rt_pid cu)/status" || rt_fail "the init is not mapped to 100000"
[ "$(B exec cu -- sh -c 'id -u; cat /proc/self/uid_map' | tr -s ' \n' ' ')" = "0 0 100000 65536 " ] \
	|| rt_fail "exec did not join the user namespace: $(B exec cu -- cat /proc/self/uid_map)"
B delete --force cu || rt_fail "delete cu"
chmod 700 "$T"

# -- a non-root process.user with capabilities: it runs as that user with the spec's sets (runc's order:
# bounding set and PR_SET_KEEPCAPS as root, capset after the switch; see runtime-security.sh for more) --
rt_bundle "$T/bn" '["sleep", "100"]'
sed -i 's/"uid": 0, "gid": 0/"uid": 1000, "gid": 1000/' "$T/bn/config.json"
B create --bundle "$T/bn" cn || rt_fail "create cn"
B start cn 2>"$T/err" || rt_fail "start of a non-root user with capabilities: $(cat "$T/err")"
pn=$(rt_pid cn)
grep -q "^Uid:[[:space:]]*1000[[:space:]]" "/proc/$pn/status" || rt_fail "cn: $(grep Uid "/proc/$pn/status")"
# without ambient capabilities the kernel clears a non-root exec's permitted set, as under runc; the
# bounding set is the spec's
grep -q 'CapBnd:.*00000000000004e1' "/proc/$pn/status" || rt_fail "cn: $(grep CapBnd "/proc/$pn/status")"
grep -q 'CapEff:.*0000000000000000' "/proc/$pn/status" || rt_fail "cn: $(grep CapEff "/proc/$pn/status")"
B delete --force cn || rt_fail "delete cn"

# -- the container's own exit status (seen by the subreaper, as conmon sees it) ----------------------------
rt_bundle "$T/b2" '["sh", "-c", "exit 42"]'
B create --bundle "$T/b2" c2 || rt_fail "create c2"
p2=$(rt_pid c2)
B start c2 || rt_fail "start c2"
rt_wait_status c2 stopped
for i in $(seq 50); do grep -q "^$p2 " "$RT_EXITS" 2>/dev/null && break; sleep 0.1; done
grep -q "^$p2 42$" "$RT_EXITS" || rt_fail "exit status of c2 not 42: $(cat "$RT_EXITS" 2>/dev/null)"
B delete c2 || rt_fail "delete c2"

# -- hooks: the state on stdin, at the points the spec names -----------------------------------------------
cat > "$T/hook.sh" <<HOOK
#!/bin/sh
cat > "$T/hook-\$1.json"
HOOK
chmod +x "$T/hook.sh"
hooks='"hooks": {
  "createRuntime": [ { "path": "'$T'/hook.sh", "args": [ "hook.sh", "createRuntime" ] } ],
  "poststart": [ { "path": "'$T'/hook.sh", "args": [ "hook.sh", "poststart" ] } ],
  "poststop": [ { "path": "'$T'/hook.sh", "args": [ "hook.sh", "poststop" ] } ] },'
rt_bundle "$T/b3" '["sleep", "100"]' '' "$hooks"
B create --bundle "$T/b3" c3 || rt_fail "create c3 (hooks)"
grep -q '"status":"creating"' "$T/hook-createRuntime.json" || rt_fail "createRuntime state: $(cat "$T/hook-createRuntime.json")"
grep -q "\"pid\":$(rt_pid c3)" "$T/hook-createRuntime.json" || rt_fail "createRuntime state has no pid"
[ -e "$T/hook-poststart.json" ] && rt_fail "poststart ran before start"
B start c3 || rt_fail "start c3"
grep -q '"status":"running"' "$T/hook-poststart.json" || rt_fail "poststart state: $(cat "$T/hook-poststart.json" 2>&1)"
B delete --force c3 || rt_fail "delete --force c3"
grep -q '"status":"stopped"' "$T/hook-poststop.json" || rt_fail "poststop did not run on delete"
# createContainer runs in the container's namespaces (its path resolved in ours: a static busybox here),
# after the spec's mounts and before pivot_root (OCI runtime spec, "createContainer Hooks"): the rootfs's
# /proc is mounted in its mount namespace, and / is still the host's (the bundle's config.json is there).
# startContainer runs inside the container (its path resolved there), after start, before the program
cat > "$T/cc-hook.sh" <<SH
hostname > $T/rootfs/tmp/cc
cat > $T/rootfs/tmp/cc.json
grep -q " $T/rootfs/proc " /proc/self/mountinfo && echo mounts-done >> $T/rootfs/tmp/cc
[ -e $T/b3b/config.json ] && echo host-root >> $T/rootfs/tmp/cc
exit 0
SH
hooks='"hooks": {
  "createContainer": [ { "path": "'$BUSYBOX'", "args": [ "busybox", "sh", "'$T'/cc-hook.sh" ] } ],
  "startContainer": [ { "path": "/bin/sh", "args": [ "sh", "-c", "cat > /tmp/sc.json" ] } ] },'
rt_bundle "$T/b3b" '["sleep", "100"]' '' "$hooks"
B create --bundle "$T/b3b" c3b || rt_fail "create c3b (createContainer/startContainer hooks)"
B start c3b || rt_fail "start c3b"
[ "$(B exec c3b -- cat /tmp/cc | tr '\n' ' ')" = "rt mounts-done host-root " ] ||
	rt_fail "createContainer hook not in the container's uts+mount namespaces after its mounts and before \
pivot_root: '$(B exec c3b -- cat /tmp/cc | tr '\n' ' ')' (want 'rt mounts-done host-root ')"
B exec c3b -- cat /tmp/cc.json | grep -q '"id":"c3b"' || rt_fail "createContainer hook got no state"
B exec c3b -- cat /tmp/sc.json | grep -q '"id":"c3b"' || rt_fail "startContainer hook did not run in the container"
B delete --force c3b || rt_fail "delete c3b"
# a missing program (absolute path) is an error of create, with one message naming it, as runc's LookPath
rt_bundle "$T/bx" '["/bin/no-such-program"]'
B create --bundle "$T/bx" cx 2>"$T/err" && rt_fail "create of a missing /bin/no-such-program succeeded"
[ "$(grep -c no-such-program "$T/err")" = 1 ] || rt_fail "create's error: '$(cat "$T/err")'"
B delete --force cx 2>/dev/null
# a failing createRuntime hook fails create and leaves nothing
rt_bundle "$T/b4" '["sleep", "100"]' '' '"hooks": { "createRuntime": [ { "path": "/bin/false" } ] },'
B create --bundle "$T/b4" c4 2>"$T/err" && rt_fail "create with a failing hook succeeded"
grep -q "createRuntime" "$T/err" || rt_fail "hook failure not named: $(cat "$T/err")"
[ -e "$ROOT/c4" ] && rt_fail "failed create left its state dir"
# so does a failing createContainer hook (the init waits before pivot_root, and goes): one message
rt_bundle "$T/b4c" '["sleep", "100"]' '' '"hooks": { "createContainer": [ { "path": "/bin/false" } ] },'
B create --bundle "$T/b4c" c4c 2>"$T/err" && rt_fail "create with a failing createContainer hook succeeded"
[ "$(grep -c . "$T/err")" = 1 ] && grep -q "createContainer\[0\] /bin/false: exited with status 1" "$T/err" ||
	rt_fail "createContainer failure: '$(cat "$T/err")'"
[ -e "$ROOT/c4c" ] && rt_fail "failed create left its state dir"

# -- linux.sysctl: namespaced keys land in the container's namespaces, not the host's ----------------------
host_fwd=$(cat /proc/sys/net/ipv4/ip_forward)
want=$((1 - host_fwd))
rt_bundle "$T/bs" '["sleep", "100"]' '' '' '"sysctl": { "net.ipv4.ip_forward": "'$want'", "kernel.shmmni": "1234" },'
B create --bundle "$T/bs" cs || rt_fail "create with linux.sysctl"
B start cs || rt_fail "start cs"
[ "$(B exec cs -- cat /proc/sys/net/ipv4/ip_forward)" = $want ] || rt_fail "net.ipv4.ip_forward not set in the container"
[ "$(B exec cs -- cat /proc/sys/kernel/shmmni)" = 1234 ] || rt_fail "kernel.shmmni not set in the container"
[ "$(cat /proc/sys/net/ipv4/ip_forward)" = "$host_fwd" ] || rt_fail "the host's ip_forward changed"
B delete --force cs || rt_fail "delete cs"
rt_bundle "$T/bs2" '["true"]' '' '' '"sysctl": { "vm.swappiness": "10" },'
B create --bundle "$T/bs2" cs2 2>"$T/err" && rt_fail "a host-wide sysctl was accepted"
grep -q "vm.swappiness" "$T/err" || rt_fail "sysctl refusal does not name the key: $(cat "$T/err")"

# -- a spec member we cannot honour is refused, not dropped -------------------------------------------------
rt_bundle "$T/b5" '["true"]' '"apparmorProfile": "docker-default",'
B create --bundle "$T/b5" c5 2>"$T/err" && rt_fail "apparmorProfile was accepted"
grep -q "apparmorProfile" "$T/err" || rt_fail "refusal does not name the member: $(cat "$T/err")"

# -- concurrent containers ---------------------------------------------------------------------------------
rt_bundle "$T/b6" '["sleep", "100"]'
N=8
for i in $(seq $N); do B create --bundle "$T/b6" "par$i" & done
wait
[ "$(B list --quiet | grep -c '^par')" = $N ] || rt_fail "concurrent create: $(B list)"
for i in $(seq $N); do B start "par$i" & done
wait
[ "$(B list | grep -c ' running ')" = $N ] || rt_fail "concurrent start: $(B list)"
for i in $(seq $N); do B delete --force "par$i" & done
wait
[ -z "$(B list --quiet)" ] || rt_fail "concurrent delete left: $(B list --quiet)"

# -- delete --force after the runtime was SIGKILLed in the middle of create ---------------------------------
# crash_at ID HOOKS: start create with a hook that records its pid in $T/rootfs/tmp/slow.pid and sleeps,
# SIGKILL the create while the hook runs; sets $ipid to the init's pid as recorded in the state.
crash_at() {
	rm -f "$T/rootfs/tmp/slow.pid"
	rt_bundle "$T/b-$1" '["sleep", "100"]' '' "$2"
	"$BOXSHARE" --root "$ROOT" create --bundle "$T/b-$1" "$1" 2>/dev/null &
	local cpid=$! i
	for i in $(seq 100); do [ -s "$T/rootfs/tmp/slow.pid" ] && break; sleep 0.05; done
	[ -s "$T/rootfs/tmp/slow.pid" ] || rt_fail "$1: the slow hook never ran"
	RT_KILL_PIDS="$RT_KILL_PIDS $(cat "$T/rootfs/tmp/slow.pid")"
	ipid=$(rt_pid "$1")
	[ -n "$ipid" ] || rt_fail "$1: no init pid recorded while create runs"
	kill -9 $cpid
	wait $cpid 2>/dev/null
	[ $? = 137 ] || rt_fail "$1: the create process was not the one killed"
	kill -9 "$(cat "$T/rootfs/tmp/slow.pid")" 2>/dev/null
}
init_gone() { [ ! -d "/proc/$1" ] || grep -q "^State:.*Z" "/proc/$1/status" 2>/dev/null; }
RT_KILL_PIDS=""
slow='[ "busybox", "sh", "-c", "echo $$ > '$T'/rootfs/tmp/slow.pid; exec sleep 30" ]'
# killed during createRuntime (before the init set anything up): the init goes with it
crash_at crash1 '"hooks": { "createRuntime": [ { "path": "'$BUSYBOX'", "args": '"$slow"' } ] },'
for i in $(seq 50); do init_gone "$ipid" && break; sleep 0.1; done
init_gone "$ipid" || rt_fail "crash1: the init outlived its create"
B delete --force crash1 || rt_fail "crash1: delete --force"
[ -e "$ROOT/crash1" ] && rt_fail "crash1: delete --force left the state dir"
# killed during createContainer (the init has mounted, waits before pivot_root on the sync socket, the
# create holds the state's lock): the init sees the socket close and exits, and state says so
crash_at crash2 '"hooks": { "createContainer": [ { "path": "'$BUSYBOX'", "args": '"$slow"' } ] },'
for i in $(seq 50); do init_gone "$ipid" && break; sleep 0.1; done
init_gone "$ipid" || rt_fail "crash2: the init $ipid outlived its create"
[ "$(rt_status crash2)" = stopped ] || rt_fail "crash2: state '$(rt_status crash2)', expected stopped"
B delete --force crash2 || rt_fail "crash2: delete --force"
[ -e "$ROOT/crash2" ] && rt_fail "crash2: delete --force left the state dir"
for i in $(seq 50); do init_gone "$ipid" && break; sleep 0.1; done
init_gone "$ipid" || rt_fail "crash2: the init $ipid survived delete --force"
B delete --force never-existed || rt_fail "delete --force of an unknown id must succeed (runc)"
echo "runtime-lifecycle: ok"
