#!/bin/bash
# The mount setup of issue 5 through create/start (rather than run): bind mounts ro and rw, tmpfs options,
# sysfs read-only, masked and read-only paths, a read-only root, the pivot away from the host's root;
# checked from inside the container with exec, and from the host.
# Usage: runtime-mounts.sh BOXSHARE RT_HELPER
set -u
BOXSHARE=$(realpath "$1")
. "$(dirname "$0")/runtime-lib.sh"
rt_require
rt_setup
B() { "$BOXSHARE" --root "$ROOT" "$@"; }
mkdir -p "$T/ro" "$T/rw" "$T/rootfs/mnt/ro" "$T/rootfs/mnt/rw" "$T/rootfs/sys"
echo host-ro > "$T/ro/file"
mnt='"mounts": [
    { "destination": "/proc", "type": "proc", "source": "proc" },
    { "destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": [ "nosuid", "mode=755" ] },
    { "destination": "/sys", "type": "sysfs", "source": "sysfs", "options": [ "nosuid", "noexec", "nodev", "ro" ] },
    { "destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": [ "nosuid", "size=1m", "mode=1777" ] },
    { "destination": "/mnt/ro", "type": "bind", "source": "'$T/ro'", "options": [ "rbind", "ro" ] },
    { "destination": "/mnt/rw", "type": "bind", "source": "'$T/rw'", "options": [ "rbind", "rw" ] } ],'
rt_bundle "$T/b" '["sleep", "100"]' '' '"root": { "path": "rootfs", "readonly": true },' \
	'"maskedPaths": [ "/proc/kcore", "/proc/keys" ], "readonlyPaths": [ "/proc/sys" ],'
# rt_bundle writes its own mounts and root: replace them with this test's
python3 - "$T/b/config.json" "$mnt" <<'PY'
import json, sys
path, mounts = sys.argv[1], json.loads("{" + sys.argv[2].rstrip(",") + "}")["mounts"]
c = json.load(open(path))
c["mounts"] = mounts
c["root"] = {"path": "rootfs", "readonly": True}
json.dump(c, open(path, "w"), indent=1)
PY
B create --bundle "$T/b" m1 || rt_fail "create m1"
B start m1 || rt_fail "start m1"
X() { B exec m1 -- sh -c "$1"; }
[ "$(X 'cat /mnt/ro/file')" = host-ro ] || rt_fail "ro bind: the host's file is not visible"
X 'echo x > /mnt/ro/new' 2>/dev/null && rt_fail "ro bind: a write succeeded"
[ -e "$T/ro/new" ] && rt_fail "ro bind: written on the host"
X 'echo from-container > /mnt/rw/new' || rt_fail "rw bind: write failed"
[ "$(cat "$T/rw/new")" = from-container ] || rt_fail "rw bind: not on the host"
X 'echo x > /rootfile' 2>/dev/null && rt_fail "root.readonly: a write to / succeeded"
X 'echo x > /tmp/f' || rt_fail "tmpfs /tmp is not writable"
X 'grep " /tmp " /proc/self/mountinfo' | grep -q 'tmpfs.*size=1024k' || rt_fail "tmpfs size: $(X 'grep " /tmp " /proc/self/mountinfo')"
X 'grep " /sys " /proc/self/mountinfo' | grep -q ' ro,' || rt_fail "sysfs is not read-only"
[ -z "$(X 'cat /proc/kcore' 2>/dev/null | head -c 1)" ] || rt_fail "masked /proc/kcore is readable"
X 'echo 1 > /proc/sys/kernel/ns_last_pid' 2>/dev/null && rt_fail "read-only /proc/sys was written"
X 'grep -c . /proc/self/mountinfo' >/dev/null || rt_fail "no mountinfo"
# pivot_root: no mount point of the container's table is a host path (field 4, a bind's source root, may be)
X "awk '{print \$5}' /proc/self/mountinfo" | grep -q "^$T" && rt_fail "host mount points visible in the container"
[ "$(X "awk '\$5 == \"/\" {print \$5}' /proc/self/mountinfo")" = / ] || rt_fail "no root mount in the container"
B delete --force m1 || rt_fail "delete m1"
# the container's mounts lived in its own mount namespace: nothing is left on the host
grep -q " $T/rootfs" /proc/self/mountinfo && rt_fail "mounts left on the host"
echo "runtime-mounts: ok"
