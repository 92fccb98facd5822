#!/bin/bash
# Shared by the runtime-*.sh tests: skip rules, a busybox bundle, a config.json writer, cleanup.
# Usage: source it, after setting BOXSHARE (the binary) and HELPER (rt-helper).

rt_skip() { echo "SKIP: $*" >&2; exit 77; }
rt_fail() { echo "FAIL: $*" >&2; exit 1; }

rt_require() {
	[ "$(id -u)" = 0 ] || rt_skip "needs root (namespaces, mounts, cgroups)"
	[ -x "$BOXSHARE" ] || rt_fail "boxshare binary '$BOXSHARE' missing"
	BUSYBOX=$(command -v busybox || true)
	[ -n "$BUSYBOX" ] || rt_skip "busybox-static is not installed"
	ldd "$BUSYBOX" >/dev/null 2>&1 && rt_skip "busybox is not static (install busybox-static)"
	unshare --mount --pid --fork true 2>/dev/null || rt_skip "cannot create namespaces here"
	:
}

# rt_setup: a private tmp dir with a state root and a busybox rootfs; everything is removed on exit.
rt_setup() {
	T=$(mktemp -d /tmp/boxshare-rt.XXXXXX)
	ROOT="$T/state"
	mkdir -p "$T/rootfs/bin" "$T/rootfs/proc" "$T/rootfs/dev" "$T/rootfs/tmp" "$T/rootfs/etc"
	cp "$BUSYBOX" "$T/rootfs/bin/busybox"
	for a in sh cat echo sleep ls id true false ps tty stty kill grep wc head; do
		ln -s busybox "$T/rootfs/bin/$a"
	done
	trap rt_cleanup EXIT
}

# Kill and delete whatever the test left, then remove the tmp dir.
rt_cleanup() {
	local rc=${1:-$?}
	if [ -n "${T:-}" ] && [ -d "$ROOT" ]; then
		for d in "$ROOT"/*/; do
			[ -d "$d" ] || continue
			"$BOXSHARE" --root "$ROOT" delete --force "$(basename "$d")" >/dev/null 2>&1 || true
		done
	fi
	for p in ${RT_KILL_PIDS:-}; do kill -9 "$p" 2>/dev/null || true; done
	[ -n "${T:-}" ] && rm -rf "$T"
	exit $rc
}

# rt_bundle DIR ARGS_JSON [EXTRA_PROCESS_JSON] [EXTRA_TOP_JSON] [EXTRA_LINUX_JSON]
# e.g. rt_bundle "$T/b1" '["sleep","100"]' '"terminal": true,' '"hooks": {...},'
rt_bundle() {
	local dir=$1 args=$2 proc=${3:-} top=${4:-} lnx=${5:-}
	mkdir -p "$dir"
	ln -sfn "$T/rootfs" "$dir/rootfs"
	cat > "$dir/config.json" <<JSON
{
  "ociVersion": "1.0.2",
  "root": { "path": "rootfs" },
  "hostname": "rt",
  $top
  "process": {
    $proc
    "user": { "uid": 0, "gid": 0 },
    "args": $args,
    "env": [ "PATH=/bin", "TERM=xterm" ],
    "cwd": "/",
    "capabilities": {
      "bounding": [ "CAP_KILL", "CAP_CHOWN", "CAP_SETUID", "CAP_SETGID", "CAP_NET_BIND_SERVICE" ],
      "effective": [ "CAP_KILL", "CAP_CHOWN", "CAP_SETUID", "CAP_SETGID", "CAP_NET_BIND_SERVICE" ],
      "permitted": [ "CAP_KILL", "CAP_CHOWN", "CAP_SETUID", "CAP_SETGID", "CAP_NET_BIND_SERVICE" ]
    },
    "rlimits": [ { "type": "RLIMIT_NOFILE", "soft": 512, "hard": 1024 } ],
    "noNewPrivileges": true
  },
  "mounts": [
    { "destination": "/proc", "type": "proc", "source": "proc" },
    { "destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": [ "nosuid", "mode=755" ] },
    { "destination": "/dev/pts", "type": "devpts", "source": "devpts",
      "options": [ "nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620" ] }
  ],
  "linux": {
    $lnx
    "namespaces": [ { "type": "pid" }, { "type": "mount" }, { "type": "ipc" }, { "type": "uts" },
                    { "type": "network" } ]
  }
}
JSON
}

# rt_status ID -> created|running|stopped (empty if the command failed)
rt_status() {
	"$BOXSHARE" --root "$ROOT" state "$1" 2>/dev/null | sed -n 's/.*"status": *"\([a-z]*\)".*/\1/p'
}
rt_pid() {
	"$BOXSHARE" --root "$ROOT" state "$1" 2>/dev/null | sed -n 's/.*"pid": *\([0-9]*\).*/\1/p'
}
# rt_wait_status ID STATUS: poll up to 5 s
rt_wait_status() {
	local i
	for i in $(seq 50); do
		[ "$(rt_status "$1")" = "$2" ] && return 0
		sleep 0.1
	done
	rt_fail "$1: status is '$(rt_status "$1")', expected '$2'"
}
