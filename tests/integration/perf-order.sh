#!/bin/bash
# SPDX-License-Identifier: MIT
# Two protocol-level correctness checks on a real /dev/fuse mount:
#  - release-then-lock ordering: with several reader threads, a flock()/OFD lock taken right after closing
#    an open that held the same lock must succeed (the client's async RELEASE must be served first);
#  - --cache never (direct I/O) still allows MAP_SHARED mmap (FUSE_DIRECT_IO_ALLOW_MMAP granted at INIT).
#   perf-order.sh BOXSHARE PERF_PROBE
set -u
. "$(dirname "$0")/core-lib.sh"
core_init "$1"
PROBE=${2:?usage: $0 BOXSHARE PERF_PROBE}

echo data >"$SHARE/lockme"
for threads in 4 8; do
	core_mount --threads "$threads"
	"$PROBE" relock "$MNT/lockme" 10000 || core_fail "threads $threads: a lock released by close() was still held"
	core_umount
done

core_mount --cache never
# the kernel grants MAP_SHARED on direct-I/O files only from 6.6 on
if [ "$(printf '%s\n' 6.6 "$(uname -r)" | sort -V | head -n1)" != 6.6 ]; then
	core_umount
	core_skip "kernel $(uname -r) predates FUSE_DIRECT_IO_ALLOW_MMAP (6.6)"
fi
: >"$SHARE/mapped"
"$PROBE" mmap "$MNT/mapped" || core_fail "--cache never: MAP_SHARED mmap"
grep -q "written through a shared mapping" "$SHARE/mapped" || core_fail "--cache never: mmap write not on the host"
core_umount
core_finish
