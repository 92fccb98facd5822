#!/bin/bash
# Resource limits through cgroups on whatever layout the host has (v2, v1, or hybrid v1+v2 as on Debian
# hosts with systemd's legacy mode): memory, pids and cpu limits land in the controller's hierarchy, the
# container's processes (exec'd ones too) are in its cgroup, and delete removes it. Limits without a
# cgroup, and systemd slice paths, are refused.
# Usage: runtime-cgroup.sh BOXSHARE RT_HELPER
set -u
BOXSHARE=$(realpath "$1")
HELPER=$(realpath "$2")
. "$(dirname "$0")/runtime-lib.sh"
rt_require
command -v findmnt >/dev/null || rt_skip "findmnt (util-linux) is missing"
[ -n "$(findmnt -n -t cgroup,cgroup2 -o TARGET)" ] || rt_skip "no cgroup hierarchy is mounted"
rt_setup
B() { "$BOXSHARE" --root "$ROOT" "$@"; }

# The file holding controller C's setting for process PID: "FILE_V2|FILE_V1" picked by where C lives.
cg_file() {
	local pid=$1 ctrl=$2 v2file=$3 v1file=$4 mnt path
	mnt=$(findmnt -n -t cgroup2 -o TARGET | head -1)
	if [ -n "$mnt" ] && grep -qw "$ctrl" "$mnt/cgroup.controllers" 2>/dev/null; then
		path=$(sed -n 's/^0:://p' "/proc/$pid/cgroup")
		echo "$mnt$path/$v2file"
		return
	fi
	mnt=$(findmnt -n -t cgroup -o TARGET,OPTIONS | awk -v c="$ctrl" '{ n = split($2, o, ","); for (i = 1; i <= n; i++) if (o[i] == c) print $1 }' | head -1)
	[ -n "$mnt" ] || return 1
	path=$(awk -F: -v c="$ctrl" '{ n = split($2, o, ","); for (i = 1; i <= n; i++) if (o[i] == c) print $3 }' "/proc/$pid/cgroup")
	echo "$mnt$path/$v1file"
}

name="boxshare-test-$$"
rt_bundle "$T/b" '["sleep", "100"]' '' '' '"cgroupsPath": "'$name'",
    "resources": { "memory": { "limit": 67108864 }, "pids": { "limit": 32 },
                   "cpu": { "quota": 50000, "period": 100000 } },'
B create --bundle "$T/b" cg1 2>"$T/err"
if [ $? != 0 ]; then
	grep -q "no .* controller on this host" "$T/err" && rt_skip "$(cat "$T/err")"
	rt_fail "create with limits: $(cat "$T/err")"
fi
pid=$(rt_pid cg1)
grep -q "$name" "/proc/$pid/cgroup" || rt_fail "the init is not in the container's cgroup: $(cat /proc/$pid/cgroup)"
f=$(cg_file "$pid" memory memory.max memory.limit_in_bytes) || rt_fail "no memory hierarchy for $pid"
[ "$(cat "$f")" = 67108864 ] || rt_fail "memory limit: $f = $(cat "$f")"
f=$(cg_file "$pid" pids pids.max pids.max) || rt_fail "no pids hierarchy"
[ "$(cat "$f")" = 32 ] || rt_fail "pids limit: $f = $(cat "$f")"
f=$(cg_file "$pid" cpu cpu.max cpu.cfs_quota_us) || rt_fail "no cpu hierarchy"
case "$f" in
*cpu.max) [ "$(cat "$f")" = "50000 100000" ] || rt_fail "cpu.max = $(cat "$f")" ;;
*) [ "$(cat "$f")" = 50000 ] || rt_fail "cpu quota: $f = $(cat "$f")" ;;
esac
[ -n "${RT_SHOW:-}" ] && cat /proc/$pid/cgroup && cat "$ROOT/cg1/state.json"
memdir=$(dirname "$(cg_file "$pid" memory memory.max memory.limit_in_bytes)")
B start cg1 || rt_fail "start cg1"
# exec'd processes join the cgroup too; ps and kill --all see them through it
B exec cg1 -- sh -c 'cat /proc/self/cgroup' | grep -q "$name" || rt_fail "exec'd process is not in the cgroup"
B exec -d cg1 -- sleep 50 || rt_fail "exec -d"
[ "$(B ps --format json cg1 | tr ',' '\n' | grep -c '[0-9]')" -ge 2 ] || rt_fail "ps: $(B ps --format json cg1)"
B kill --all cg1 KILL || rt_fail "kill --all"
rt_wait_status cg1 stopped
B delete cg1 || rt_fail "delete cg1"
[ -d "$memdir" ] && rt_fail "delete left the cgroup $memdir"

# limits with nowhere to put them are refused, and say why
rt_bundle "$T/b2" '["true"]' '' '' '"resources": { "memory": { "limit": 67108864 } },'
B create --bundle "$T/b2" cg2 2>"$T/err" && rt_fail "memory limit without cgroupsPath was accepted"
grep -q "cgroupsPath" "$T/err" || rt_fail "error does not name cgroupsPath: $(cat "$T/err")"
rt_bundle "$T/b3" '["true"]' '' '' '"cgroupsPath": "machine.slice:libpod:x",'
B create --bundle "$T/b3" cg3 2>"$T/err" && rt_fail "a systemd slice path was accepted"
grep -q "systemd" "$T/err" || rt_fail "slice path error: $(cat "$T/err")"
# podman --cgroups=disabled: crun's --cgroup-manager disabled, with the default deny-all device rule
rt_bundle "$T/b4" '["true"]' '' '' '"cgroupsPath": "'$name'-x",
    "resources": { "devices": [ { "allow": false, "access": "rwm" } ] },'
"$BOXSHARE" --cgroup-manager disabled --root "$ROOT" create --bundle "$T/b4" cg4 || rt_fail "--cgroup-manager disabled"
grep -q "$name-x" "/proc/$(rt_pid cg4)/cgroup" && rt_fail "--cgroup-manager disabled still made a cgroup"
B delete cg4 || rt_fail "delete cg4"
echo "runtime-cgroup: ok"
