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
	RT_EXITS=$exits "$HELPER" reap "$exits" -- "$0" "$@"
	rc=$?
	rm -f "$exits"
	exit $rc
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
# createContainer runs in the container's namespaces (its path resolved in ours: a static busybox here);
# startContainer runs inside the container (its path resolved there), after start, before the program
hooks='"hooks": {
  "createContainer": [ { "path": "'$BUSYBOX'", "args": [ "busybox", "sh", "-c", "hostname > /tmp/cc; cat > /tmp/cc.json" ] } ],
  "startContainer": [ { "path": "/bin/sh", "args": [ "sh", "-c", "cat > /tmp/sc.json" ] } ] },'
rt_bundle "$T/b3b" '["sleep", "100"]' '' "$hooks"
B create --bundle "$T/b3b" c3b || rt_fail "create c3b (createContainer/startContainer hooks)"
B start c3b || rt_fail "start c3b"
[ "$(B exec c3b -- cat /tmp/cc)" = rt ] || rt_fail "createContainer hook did not run in the container's uts/mount namespaces"
B exec c3b -- cat /tmp/cc.json | grep -q '"id":"c3b"' || rt_fail "createContainer hook got no state"
B exec c3b -- cat /tmp/sc.json | grep -q '"id":"c3b"' || rt_fail "startContainer hook did not run in the container"
B delete --force c3b || rt_fail "delete c3b"
# a failing createRuntime hook fails create and leaves nothing
rt_bundle "$T/b4" '["sleep", "100"]' '' '"hooks": { "createRuntime": [ { "path": "/bin/false" } ] },'
B create --bundle "$T/b4" c4 2>"$T/err" && rt_fail "create with a failing hook succeeded"
grep -q "createRuntime" "$T/err" || rt_fail "hook failure not named: $(cat "$T/err")"
[ -e "$ROOT/c4" ] && rt_fail "failed create left its state dir"

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
cat > "$T/slow.sh" <<HOOK
#!/bin/sh
echo \$\$ > "$T/slow.pid"
exec sleep 30
HOOK
chmod +x "$T/slow.sh"
rt_bundle "$T/b7" '["sleep", "100"]' '' '"hooks": { "createRuntime": [ { "path": "'$T'/slow.sh" } ] },'
"$BOXSHARE" --root "$ROOT" create --bundle "$T/b7" crash 2>/dev/null &
cpid=$!
for i in $(seq 100); do [ -s "$T/slow.pid" ] && break; sleep 0.05; done
[ -s "$T/slow.pid" ] || rt_fail "the slow createRuntime hook never ran"
RT_KILL_PIDS="$(cat "$T/slow.pid")"
ipid=$(rt_pid crash)
kill -9 $cpid
wait $cpid 2>/dev/null
[ $? = 137 ] || rt_fail "the create process was not the one killed"
kill -9 "$(cat "$T/slow.pid")" 2>/dev/null
[ -n "$ipid" ] && [ -d "/proc/$ipid" ] || rt_fail "no init recorded for the half-created container"
[ "$(rt_status crash)" = creating ] || rt_fail "after the crash the state is '$(rt_status crash)', expected creating"
B delete crash 2>/dev/null && rt_fail "delete without --force of a half-created container succeeded"
B delete --force crash || rt_fail "delete --force after the crash"
[ -e "$ROOT/crash" ] && rt_fail "delete --force left the state dir"
if [ -n "$ipid" ] && [ -d "/proc/$ipid" ] && ! grep -q "^State:.*Z" "/proc/$ipid/status"; then
	rt_fail "the crashed create's init $ipid survived delete --force"
fi
B delete --force never-existed || rt_fail "delete --force of an unknown id must succeed (runc)"
echo "runtime-lifecycle: ok"
