#!/bin/bash
# A spec mount of type "cgroup" at /sys/fs/cgroup (podman asks for one on every container), seen from inside:
# on a host with v1 hierarchies, a tmpfs listing each hierarchy the container is in, each its own cgroup
# directory (cgroup.procs there lists the container's pid 1), read-only when the mount is ro; with a cgroup
# namespace, the namespace's root. On a pure v2 host it is cgroup2.
# Usage: runtime-cgroupfs.sh BOXSHARE RT_HELPER
set -u
BOXSHARE=$(realpath "$1")
HELPER=$(realpath "$2")
. "$(dirname "$0")/runtime-lib.sh"
rt_require
rt_setup
B() { "$BOXSHARE" --root "$ROOT" "$@"; }
mkdir -p "$T/rootfs/sys"
for a in mkdir touch stat basename; do ln -sf busybox "$T/rootfs/bin/$a"; done

# the host's v1 hierarchies this process is in (what the container must see), by mount point name
hier=$(awk '$9 == "cgroup" && $5 ~ "^/sys/fs/cgroup/" { n = split($5, p, "/"); print p[n] }' /proc/self/mountinfo | sort -u)

# cg_bundle DIR OPTIONS_JSON NAMESPACES_EXTRA: a bundle running the script $T/inside.sh
cg_bundle() {
	mkdir -p "$1"
	ln -sfn "$T/rootfs" "$1/rootfs"
	cat > "$1/config.json" <<JSON
{
  "ociVersion": "1.0.2",
  "root": { "path": "rootfs" },
  "process": { "user": { "uid": 0, "gid": 0 }, "args": [ "sh", "/inside.sh" ], "env": [ "PATH=/bin" ], "cwd": "/",
               "capabilities": { "bounding": [ "CAP_SYS_ADMIN" ], "effective": [ "CAP_SYS_ADMIN" ],
                                 "permitted": [ "CAP_SYS_ADMIN" ] } },
  "mounts": [ { "destination": "/proc", "type": "proc", "source": "proc" },
              { "destination": "/sys", "type": "sysfs", "source": "sysfs", "options": [ "nosuid", "noexec", "nodev", "ro" ] },
              { "destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": $2 } ],
  "linux": { "namespaces": [ { "type": "pid" }, { "type": "mount" }, { "type": "ipc" }, { "type": "uts" } $3 ] }
}
JSON
}
cat > "$T/rootfs/inside.sh" <<'SH'
echo "fstype $(stat -f -c %T /sys/fs/cgroup)"
for d in /sys/fs/cgroup/*; do
	n=$(basename "$d")
	if [ -L "$d" ]; then echo "link $n"; continue; fi
	grep -qx 1 "$d/cgroup.procs" && echo "own $n"
done
touch /sys/fs/cgroup/x 2>/dev/null && echo "tmpfs-writable"
for d in /sys/fs/cgroup/*; do
	[ -L "$d" ] && continue
	mkdir "$d/boxshare-test-$$" 2>/dev/null && { rmdir "$d/boxshare-test-$$"; echo "writable $(basename "$d")"; }
done
grep -E ' /sys/fs/cgroup/[^ ]+ ' /proc/self/mountinfo | awk '{ split($6, o, ","); print "mnt " o[1] }' | sort -u
exit 0
SH

if [ -z "$hier" ]; then
	# pure v2: "cgroup" is cgroup2
	cg_bundle "$T/v2" '[ "nosuid", "noexec", "nodev", "ro" ]' ''
	out=$(B run --bundle "$T/v2" cgv2 2>&1) || rt_fail "run with a cgroup mount on a v2 host: $out"
	echo "$out" | grep -q '^fstype cgroup2' || rt_fail "v2 host: /sys/fs/cgroup is not cgroup2: $out"
	echo "runtime-cgroupfs: ok (pure v2 host: cgroup2)"
	exit 0
fi

check() { # OUT HOW RO
	local out=$1 how=$2 ro=$3 h
	echo "$out" | grep -q '^fstype tmpfs' || rt_fail "$how: /sys/fs/cgroup is not a tmpfs: $out"
	for h in $hier; do
		echo "$out" | grep -qx "own $h" ||
			rt_fail "$how: /sys/fs/cgroup/$h missing or not the container's own cgroup: $out"
	done
	if [ "$ro" = ro ]; then
		echo "$out" | grep -q 'writable' && rt_fail "$how: ro cgroup mount is writable: $out"
		[ "$(echo "$out" | grep '^mnt ' | sort -u)" = "mnt ro" ] || rt_fail "$how: hierarchies not all ro: $out"
	else
		echo "$out" | grep -q '^tmpfs-writable' || rt_fail "$how: rw cgroup mount's tmpfs is read-only: $out"
		[ "$(echo "$out" | grep '^mnt ' | sort -u)" = "mnt rw" ] || rt_fail "$how: hierarchies not rw: $out"
	fi
	:
}

# podman's mount, no cgroup namespace (podman's default on v1): binds of our own cgroup directories
cg_bundle "$T/ro" '[ "rprivate", "nosuid", "noexec", "nodev", "relatime", "ro" ]' ''
out=$(B run --bundle "$T/ro" cgro 2>&1) || rt_fail "run with podman's cgroup mount: $out"
check "$out" "ro, host cgroupns" ro
# the same with mount(2) instead of the new mount API
out=$(B run --legacy-mount --bundle "$T/ro" cgleg 2>&1) || rt_fail "run --legacy-mount with podman's cgroup mount: $out"
check "$out" "ro, mount(2)" ro
# the same through create/start
B create --bundle "$T/ro" cgcs > "$T/cs.out" 2>"$T/err" || rt_fail "create with a cgroup mount: $(cat "$T/err")"
B start cgcs || rt_fail "start cgcs"
rt_wait_status cgcs stopped
B delete cgcs
check "$(cat "$T/cs.out")" "ro, create/start" ro
# rw: the hierarchies stay writable (the rw test only creates and removes an empty directory)
cg_bundle "$T/rw" '[ "nosuid", "noexec", "nodev" ]' ''
out=$(B run --bundle "$T/rw" cgrw 2>&1) || rt_fail "run with a rw cgroup mount: $out"
check "$out" "rw" rw
# a cgroup namespace: fresh mounts of each hierarchy, rooted at the namespace's root
cg_bundle "$T/ns" '[ "nosuid", "noexec", "nodev", "ro" ]' ', { "type": "cgroup" }'
out=$(B run --bundle "$T/ns" cgns 2>&1) || rt_fail "run with a cgroup mount in a cgroup namespace: $out"
check "$out" "ro, cgroup namespace" ro
echo "runtime-cgroupfs: ok ($(echo $hier | wc -w) v1 hierarchies)"
