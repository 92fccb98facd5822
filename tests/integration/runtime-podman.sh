#!/bin/bash
# podman (Debian's) as the real client of `boxshare` as its OCI runtime: an image made locally with podman
# import from busybox-static (no registry), then run --rm with a read-only volume, exit statuses, run -d +
# exec, stop, rm. podman drives create/start/state/kill/delete/exec through conmon, as in production.
# The flags fit these hosts: no CAP_SYS_RESOURCE (so the rlimits stay below the hard limit) and a hybrid
# cgroup layout, with the container's cgroups disabled.
# Usage: runtime-podman.sh BOXSHARE RT_HELPER
set -u
BOXSHARE=$(realpath "$1")
. "$(dirname "$0")/runtime-lib.sh"
rt_require
command -v podman >/dev/null || rt_skip "podman is not installed"
command -v conmon >/dev/null || rt_skip "conmon is not installed"
rt_setup
# podman names a runtime given by path after its file: the lists below must know it
RTNAME=$(basename "$BOXSHARE")
mkdir -p "$T/host" "$T/tmp"
echo "hello from the host" > "$T/host/file"
cat > "$T/containers.conf" <<CONF
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime_supports_nocgroup = ["$RTNAME", "$BOXSHARE"]
runtime_supports_json = ["$RTNAME", "$BOXSHARE"]
CONF
export CONTAINERS_CONF="$T/containers.conf"
# The runtime's state stays in its default root: podman 4.3 does not pass --runtime-flag root=... to the
# `delete --force` of its cleanup, so a private root would leave state behind.
RTROOT=/run/boxshare
P() {
	podman --root "$T/store" --runroot "$T/run" --tmpdir "$T/tmp" --storage-driver vfs \
		--runtime "$BOXSHARE" "$@"
}
RUNFLAGS=(--cgroups=disabled --network none --ulimit nofile=1024:1024 --ulimit nproc=1024:1024)
# extra podman run flags for debugging by hand (e.g. RT_PODMAN_EXTRA="--security-opt unmask=ALL")
read -r -a extra <<< "${RT_PODMAN_EXTRA:-}"
RUNFLAGS+=("${extra[@]}")
before=$(ls "$RTROOT" 2>/dev/null | sort)

podman_cleanup() {
	local rc=$?
	P rm -fa >/dev/null 2>&1
	# podman's own mounts (the containers' /dev/shm) must not outlive the test
	findmnt -rn -o TARGET | grep "^$T/" | sort -r | while read -r m; do umount -l "$m"; done
	rt_cleanup $rc
}
trap podman_cleanup EXIT

tar -C "$T/rootfs" -cf "$T/image.tar" . || rt_fail "tar of the busybox rootfs"
P import "$T/image.tar" localhost/boxshare-test:latest >/dev/null 2>"$T/err" || rt_fail "podman import: $(cat "$T/err")"
IMG=localhost/boxshare-test:latest

out=$(P run --rm "${RUNFLAGS[@]}" -v "$T/host:/mnt/h:ro" $IMG cat /mnt/h/file 2>"$T/err")
rc=$?
[ $rc = 0 ] || rt_fail "podman run --rm: rc $rc: $(cat "$T/err")"
[ "$out" = "hello from the host" ] || rt_fail "podman run --rm printed '$out'"
# the volume is read-only inside
P run --rm "${RUNFLAGS[@]}" -v "$T/host:/mnt/h:ro" $IMG sh -c 'echo x > /mnt/h/new' 2>/dev/null \
	&& rt_fail "a write to the :ro volume succeeded"
[ -e "$T/host/new" ] && rt_fail "the :ro volume was written on the host"
# podman's own "cgroup" mount at /sys/fs/cgroup, read-only: on a hybrid host each v1 hierarchy (and the
# unified one) the container is in, as runc shows them; on a pure v2 host cgroup2
cg=$(P run --rm "${RUNFLAGS[@]}" $IMG sh -c 'ls /sys/fs/cgroup; if { echo x > /sys/fs/cgroup/x; } 2>/dev/null; then echo writable; fi' \
	2>"$T/err") || rt_fail "podman run listing /sys/fs/cgroup: $(cat "$T/err")"
echo "$cg" | grep -qx writable && rt_fail "podman's read-only /sys/fs/cgroup is writable"
for h in $(awk '$9 ~ /^cgroup/ && $5 ~ "^/sys/fs/cgroup/" { n = split($5, p, "/"); print p[n] }' /proc/self/mountinfo); do
	echo "$cg" | grep -qx "$h" || rt_fail "/sys/fs/cgroup in the container lacks $h: $(echo $cg)"
done
# the container's exit status is podman's
P run --rm "${RUNFLAGS[@]}" $IMG sh -c 'exit 5'
[ $? = 5 ] || rt_fail "exit status did not come through podman"
# the spec's rlimits are in force
[ "$(P run --rm "${RUNFLAGS[@]}" $IMG sh -c 'ulimit -n')" = 1024 ] || rt_fail "RLIMIT_NOFILE not applied"

# run -d, exec, stop, rm
cid=$(P run -d "${RUNFLAGS[@]}" -v "$T/host:/mnt/h:ro" --name bxt $IMG sleep 100) || rt_fail "podman run -d"
[ "$(P inspect -f '{{.State.Status}}' bxt)" = running ] || rt_fail "bxt is not running"
out=$(P exec bxt cat /mnt/h/file) || rt_fail "podman exec"
[ "$out" = "hello from the host" ] || rt_fail "podman exec printed '$out'"
P exec bxt sh -c 'exit 3'
[ $? = 3 ] || rt_fail "podman exec exit status"
[ -d "$RTROOT/$cid" ] || rt_fail "no runtime state for $cid in $RTROOT"
P stop -t 2 bxt >/dev/null || rt_fail "podman stop"
[ "$(P inspect -f '{{.State.Status}}' bxt)" = exited ] || rt_fail "bxt did not stop"
P rm bxt >/dev/null || rt_fail "podman rm"
[ -e "$RTROOT/$cid" ] && rt_fail "podman rm left the runtime state of $cid"
[ -z "$(P ps -aq)" ] || rt_fail "containers left: $(P ps -a)"
[ "$(ls "$RTROOT" 2>/dev/null | sort)" = "$before" ] || rt_fail "runtime state left in $RTROOT: $(ls "$RTROOT")"
echo "runtime-podman: ok"
