#!/bin/bash
# SPDX-License-Identifier: MIT
# `make bench`: every benchmark of the project against one build. bench/run-all.sh BUILD_DIR
# Runs bench/fuse-bench.sh (the /dev/fuse core against native, bindfs and passthrough_ll), bench/meta-fresh.sh
# (its metadata lines with each target on a fresh ext4 image) and, when present,
# the other engineers' bench/virtio-bench.sh and bench/run-true.sh. Output goes under bench/out/.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
BUILD=$(cd "${1:-$HERE/../build}" && pwd) || { echo "run-all: no build directory ${1:-build}" >&2; exit 2; }
failed=""
"$HERE/fuse-bench.sh" --boxshare "$BUILD/src/cli/boxshare" || failed="$failed fuse-bench"
"$HERE/meta-fresh.sh" --boxshare "$BUILD/src/cli/boxshare" || failed="$failed meta-fresh"
for b in virtio-bench.sh run-true.sh; do
	if [ -x "$HERE/$b" ]; then
		"$HERE/$b" "$BUILD" || failed="$failed $b"
	fi
done
if [ -n "$failed" ]; then
	echo "run-all: failed:$failed" >&2
	exit 1
fi
echo "run-all: done; results under $HERE/out/"
