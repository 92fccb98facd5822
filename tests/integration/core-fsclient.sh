#!/bin/bash
# SPDX-License-Identifier: MIT
# The core on a real /dev/fuse mount: fsclient's checks (every op, 10k-entry dirs, depth-200 trees, concurrent
# readers and writers, escapes through the kernel) first on a native directory (the oracle: the expectations
# are the kernel's), then through `boxshare serve` with one thread and with several.
#   core-fsclient.sh BOXSHARE FSCLIENT [SERVE_FLAGS...]
# With SERVE_FLAGS (a variant, e.g. --passthrough) the servers get them too and the oracle round is skipped
# (the plain run checks it).
set -u
. "$(dirname "$0")/core-lib.sh"
core_init "$1"
FSCLIENT=${2:?usage: $0 BOXSHARE FSCLIENT [SERVE_FLAGS...]}
shift 2

if [ $# = 0 ]; then
	mkdir "$T/native"
	core_fsclient "native oracle" --oracle --host "$T/native" --outside "$OUTSIDE" "$T/native" ||
		core_fail "the checks fail on a native directory: fix fsclient (or the machine) first"
fi

for threads in 1 4; do
	core_mount --threads "$threads" "$@"
	core_fsclient "threads $threads${*:+ $*}" --host "$SHARE" --outside "$OUTSIDE" "$MNT"
	core_umount
done
# the share itself holds nothing fsclient made once it is done (unless a hung round was cut short)
left=$(ls -A "$SHARE" | wc -l)
[ "$left" = 0 ] || [ "$CORE_FAILED" != 0 ] || core_fail "the share holds $left leftover entries: $(ls -A "$SHARE" | head -5)"
core_finish
