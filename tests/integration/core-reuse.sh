#!/bin/bash
# SPDX-License-Identifier: MIT
# Inode-number reuse with --inode-file-handles prefer, seen from a real mount (what broke tar's untar in the
# bench: "Cannot utime: Stale file handle"). The client keeps the node of a file whose server fd was evicted
# (more nodes than --max-fds); the file is deleted on the host; a file created through the mount gets its inode
# number. The new file must work (utimensat, write, read), and the old name must not come back.
#   core-reuse.sh BOXSHARE
set -u
. "$(dirname "$0")/core-lib.sh"
core_init "$1"

core_mount --cache auto --inode-file-handles prefer --max-fds 64
ROUNDS=20 reused=0
for r in $(seq $ROUNDS); do
	echo x >"$MNT/victim$r" || core_fail "create victim$r through the mount"
	for i in $(seq 100); do : >"$MNT/fill$r.$i" || core_fail "create fill$r.$i"; done
	old=$(stat -c %i "$SHARE/victim$r")
	rm "$SHARE/victim$r" # on the host: the client still holds the node
	touch -d 2001-02-03 "$MNT/new$r" 2>"$T/err" || core_fail "round $r: touch new$r: $(cat "$T/err")"
	[ "$(stat -c %i "$SHARE/new$r")" = "$old" ] && reused=$((reused + 1))
	echo "data$r" >"$MNT/new$r" || core_fail "round $r: write new$r"
	[ "$(cat "$MNT/new$r")" = "data$r" ] || core_fail "round $r: read back new$r"
	[ "$(cat "$SHARE/new$r")" = "data$r" ] || core_fail "round $r: new$r differs on the host"
done
echo "# the host reused the deleted file's inode number in $reused of $ROUNDS rounds"
[ $reused -gt 0 ] || core_skip "the host file system never reused a freed inode number: nothing was tested"
core_umount
core_finish
