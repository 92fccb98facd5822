#!/bin/bash
# `make demo`: serve the example share shipped in the repo on a temporary mount point, show a listing and a
# file read through the mount, then stop the server and check that nothing is left mounted.
set -euo pipefail
bin=${1:-build/src/cli/boxshare}
here=$(cd "$(dirname "$0")" && pwd)
share="$here/share"
mnt=$(mktemp -d /tmp/boxshare-demo.XXXXXX)
pid=

cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
	mountpoint -q "$mnt" && umount -l "$mnt" || true
	rmdir "$mnt" 2>/dev/null || true
}
trap cleanup EXIT

echo "+ $bin serve --source $share --mount $mnt --readonly"
"$bin" serve --source "$share" --mount "$mnt" --readonly &
pid=$!
for _ in $(seq 100); do mountpoint -q "$mnt" && break; sleep 0.05; done
mountpoint -q "$mnt" || { echo "demo: the mount did not appear" >&2; exit 1; }

echo "+ grep boxshare /proc/self/mountinfo"
grep " $mnt " /proc/self/mountinfo
echo "+ ls -lR $mnt"
ls -lR "$mnt"
echo "+ cat $mnt/hello.txt"
cat "$mnt/hello.txt"
echo "+ touch $mnt/new-file   (read-only share: must fail)"
if touch "$mnt/new-file" 2>&1; then echo "demo: a write succeeded on a read-only share" >&2; exit 1; fi

echo "+ kill -TERM $pid"
kill -TERM "$pid"
status=0; wait "$pid" || status=$?
pid=
echo "server exited with status $status"
if mountpoint -q "$mnt"; then echo "demo: $mnt is still mounted" >&2; exit 1; fi
echo "demo: ok, nothing left mounted"
exit "$status"
