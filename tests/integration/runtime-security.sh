#!/bin/bash
# Process security of the container's own process, read from inside it (/proc/self/status), through `run`
# and through create/start:
#  - no process.capabilities -> no capabilities at all (all five sets 0), as runc and crun give;
#  - process.user uid 1000 with CAP_NET_BIND_SERVICE in every set (ambient too) and a seccomp filter
#    without noNewPrivileges: the bounding set and the filter go in while still root, PR_SET_KEEPCAPS keeps
#    the permitted set across setresuid, and the process has the capability after exec.
# Usage: runtime-security.sh BOXSHARE RT_HELPER
set -u
BOXSHARE=$(realpath "$1")
HELPER=$(realpath "$2")
. "$(dirname "$0")/runtime-lib.sh"
rt_require
rt_setup
B() { "$BOXSHARE" --root "$ROOT" "$@"; }

# sec_bundle DIR USER_JSON PROCESS_EXTRA LINUX_EXTRA: a bundle printing its process's status lines
sec_bundle() {
	mkdir -p "$1"
	ln -sfn "$T/rootfs" "$1/rootfs"
	cat > "$1/config.json" <<JSON
{
  "ociVersion": "1.0.2",
  "root": { "path": "rootfs" },
  "process": {
    "user": $2,
    "args": [ "grep", "-E", "^(Uid|CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):", "/proc/self/status" ],
    "env": [ "PATH=/bin" ],
    $3
    "cwd": "/"
  },
  "mounts": [ { "destination": "/proc", "type": "proc", "source": "proc" } ],
  "linux": {
    $4
    "namespaces": [ { "type": "pid" }, { "type": "mount" }, { "type": "ipc" }, { "type": "uts" } ]
  }
}
JSON
}

# field FILE NAME -> the value of "NAME:" in a saved status
field() { sed -n "s/^$2:[[:space:]]*//p" "$1" | head -n1; }

# via_run DIR OUT / via_create DIR ID OUT: the container's stdout into OUT
via_run() { B run --bundle "$1" "sec-run-$$" > "$2" 2> "$T/err" || rt_fail "run $1: $(cat "$T/err")"; }
via_create() {
	B create --bundle "$1" "$2" > "$3" 2> "$T/err" || rt_fail "create $1: $(cat "$T/err")"
	B start "$2" 2> "$T/err" || rt_fail "start $2: $(cat "$T/err")"
	rt_wait_status "$2" stopped
	B delete "$2" || rt_fail "delete $2"
}

check_nocaps() {
	local f=$1 how=$2 s
	[ -s "$f" ] || rt_fail "$how: the container printed nothing"
	for s in CapInh CapPrm CapEff CapBnd CapAmb; do
		[ "$(field "$f" $s)" = 0000000000000000 ] ||
			rt_fail "$how: no process.capabilities but $s is $(field "$f" $s) (runc and crun give 0)"
	done
}

# -- 1. no process.capabilities: empty sets, bounding included ---------------------------------------------
sec_bundle "$T/nocaps" '{ "uid": 0, "gid": 0 }' '' ''
via_run "$T/nocaps" "$T/nocaps.run"
check_nocaps "$T/nocaps.run" "run"
via_create "$T/nocaps" nocaps "$T/nocaps.cs"
check_nocaps "$T/nocaps.cs" "create/start"

# -- 2. uid 1000 with CAP_NET_BIND_SERVICE everywhere, seccomp without noNewPrivileges ----------------------
NBS='[ "CAP_NET_BIND_SERVICE" ]'
sec_bundle "$T/user" '{ "uid": 1000, "gid": 1000 }' \
	"\"noNewPrivileges\": false,
	 \"capabilities\": { \"bounding\": $NBS, \"effective\": $NBS, \"permitted\": $NBS,
	                     \"inheritable\": $NBS, \"ambient\": $NBS }," \
	'"seccomp": { "defaultAction": "SCMP_ACT_ALLOW",
	              "syscalls": [ { "names": [ "acct" ], "action": "SCMP_ACT_ERRNO" } ] },'
check_user() {
	local f=$1 how=$2 s
	[ -s "$f" ] || rt_fail "$how: the container printed nothing"
	[ "$(field "$f" Uid | awk '{print $1 $2 $3 $4}')" = 1000100010001000 ] ||
		rt_fail "$how: Uid is '$(field "$f" Uid)', expected 1000 everywhere"
	# CAP_NET_BIND_SERVICE is bit 10
	for s in CapPrm CapEff CapBnd CapAmb CapInh; do
		[ "$(field "$f" $s)" = 0000000000000400 ] ||
			rt_fail "$how: uid 1000 with CAP_NET_BIND_SERVICE: $s is $(field "$f" $s), expected 0000000000000400"
	done
	[ "$(field "$f" NoNewPrivs)" = 0 ] || rt_fail "$how: NoNewPrivs set though the spec says false"
	[ "$(field "$f" Seccomp)" = 2 ] || rt_fail "$how: no seccomp filter (Seccomp: $(field "$f" Seccomp))"
}
via_run "$T/user" "$T/user.run"
check_user "$T/user.run" "run"
via_create "$T/user" user "$T/user.cs"
check_user "$T/user.cs" "create/start"
# -- 3. exec --process FILE without capabilities: the container's (runc), not none --------------------------
KILL='[ "CAP_KILL" ]'
sec_bundle "$T/ex" '{ "uid": 0, "gid": 0 }' \
	"\"capabilities\": { \"bounding\": $KILL, \"effective\": $KILL, \"permitted\": $KILL }," ''
sed -i 's|"args": \[.*\],|"args": [ "sleep", "100" ],|' "$T/ex/config.json"
B create --bundle "$T/ex" ex > /dev/null 2>"$T/err" || rt_fail "create ex: $(cat "$T/err")"
B start ex || rt_fail "start ex"
cat > "$T/proc.json" <<JSON
{ "user": { "uid": 0, "gid": 0 }, "args": [ "grep", "-E", "^Cap(Bnd|Eff):", "/proc/self/status" ],
  "env": [ "PATH=/bin" ], "cwd": "/" }
JSON
B exec --process "$T/proc.json" ex > "$T/ex.out" 2>"$T/err" || rt_fail "exec --process: $(cat "$T/err")"
for s in CapBnd CapEff; do
	[ "$(field "$T/ex.out" $s)" = 0000000000000020 ] ||
		rt_fail "exec --process without capabilities: $s is '$(field "$T/ex.out" $s)', expected the container's 0000000000000020"
done
B delete --force ex || rt_fail "delete ex"
echo "ok: no capabilities by default; uid 1000 keeps CAP_NET_BIND_SERVICE (run and create/start); exec inherits"
