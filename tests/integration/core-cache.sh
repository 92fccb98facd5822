#!/bin/bash
# SPDX-License-Identifier: MIT
# Each cache mode (--cache never|auto|always) and the writeback cache pass a shorter fsclient round (every op;
# the sizes, concurrency and escapes are core-fsclient's), each with one server thread and with several.
#   core-cache.sh BOXSHARE FSCLIENT
set -u
. "$(dirname "$0")/core-lib.sh"
core_init "$1"
FSCLIENT=${2:?usage: $0 BOXSHARE FSCLIENT}

for mode in "--cache never" "--cache auto" "--cache always" "--cache auto --writeback"; do
	for threads in 1 3; do
		# shellcheck disable=SC2086 # mode is two words on purpose
		core_mount $mode --threads "$threads"
		# with the writeback cache a write past the host's largest file fails at fsync, not at write
		# (fsclient's io.read-write accepts that only when told)
		case $mode in *--writeback*) export FSCLIENT_WRITEBACK=1 ;; *) unset FSCLIENT_WRITEBACK ;; esac
		core_fsclient "$mode, threads $threads" --only meta,io,xattr,lock --host "$SHARE" "$MNT"
		core_umount
	done
done
core_finish
