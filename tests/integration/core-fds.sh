#!/bin/bash
# SPDX-License-Identifier: MIT
# Bounded host resources: with --inode-file-handles=prefer --max-fds 64, a find over a 20k-file tree completes
# without EMFILE and the server's fd count stays bounded; with handles off, running out of fds is an error the
# client sees, never a silently short listing.
#   core-fds.sh BOXSHARE
set -u
. "$(dirname "$0")/core-lib.sh"
core_init "$1"

NDIRS=20 NPER=1000 MAXFDS=64
# the tree is made on the host side: 20 directories of 1000 files
mkdir "$SHARE/tree"
for d in $(seq -w 1 $NDIRS); do
	mkdir "$SHARE/tree/d$d"
	(cd "$SHARE/tree/d$d" && seq -f 'file-%05g' 1 $NPER | xargs touch)
done
want=$((NDIRS * NPER))

# sample the server's fd count every 50 ms while $1 runs; prints the maximum
watch_fds() {
	local max=0 n
	"$@" &
	local job=$!
	while kill -0 "$job" 2>/dev/null; do
		n=$(core_server_fds)
		[ "$n" -gt "$max" ] && max=$n
		sleep 0.05
	done
	wait "$job"
	echo "$max" >"$T/maxfds"
	return 0
}

find_all() {
	# -printf %i%s forces a lookup and getattr of every file (no cache could answer without one)
	find "$MNT/tree" -type f -printf '%i %s %p\n' >"$T/find.out" 2>"$T/find.err"
	echo $? >"$T/find.rc"
}

for threads in 1 4; do
	core_mount --threads "$threads" --inode-file-handles=prefer --max-fds $MAXFDS
	base=$(core_server_fds)
	# the serving process (the last of the tree) got its fd table before its threads started (a table shared
	# by threads grows only after an RCU grace period, paid by the request that crosses the size): room for
	# --max-fds inode fds and 1024 open files, rounded up to a power of two by the kernel, and no more
	srv=$(core_server_pids "$SERVE_PID" | tail -1)
	fdsize=$(awk '/^FDSize:/ {print $2}' /proc/"$srv"/status)
	echo "# threads $threads: the server's fd table has $fdsize slots"
	room=$((MAXFDS + 1024))
	[ "$fdsize" -ge $room ] && [ "$fdsize" -le $((2 * room)) ] ||
		core_fail "the server's fd table has $fdsize slots, expected $room to $((2 * room)) (--max-fds $MAXFDS + 1024)"
	watch_fds find_all
	rc=$(cat "$T/find.rc") got=$(wc -l <"$T/find.out") max=$(cat "$T/maxfds")
	echo "# threads $threads: find listed $got files (rc $rc); server fds: $base at start, at most $max during the walk"
	[ "$rc" = 0 ] || { sed 's/^/# /' "$T/find.err" | head; core_fail "find failed (rc $rc)"; }
	[ -s "$T/find.err" ] && { sed 's/^/# /' "$T/find.err" | head; core_fail "find printed errors"; }
	[ "$got" = "$want" ] || core_fail "find listed $got files, the tree holds $want"
	# the ceiling: --max-fds inode fds plus what any server holds anyway (the device, /proc, logs, per-thread
	# file fds); far below one fd per file
	bound=$((base + MAXFDS + 2 * threads + 16))
	[ "$max" -le "$bound" ] || core_fail "the server held $max fds during the walk (bound $bound with --max-fds $MAXFDS)"
	# a second walk over what the kernel still caches, and reading every 100th file through reopened handles
	find "$MNT/tree" -type f -name 'file-*00' -exec cat {} + >/dev/null 2>"$T/cat.err" || {
		sed 's/^/# /' "$T/cat.err" | head; core_fail "reading files reopened by handle failed"; }
	core_umount
done

# without handles the same ceiling cannot be kept: the walk must either be complete or fail loudly
core_mount --threads 2 --inode-file-handles=never --max-fds $MAXFDS
find_all
rc=$(cat "$T/find.rc") got=$(wc -l <"$T/find.out")
echo "# handles never: find listed $got of $want files (rc $rc), $(wc -l <"$T/find.err") error lines"
if [ "$rc" = 0 ] && [ "$got" != "$want" ]; then
	core_fail "with --inode-file-handles=never the listing is silently short: $got of $want files and no error"
fi
if [ "$rc" != 0 ] && ! grep -qiE 'too many open files|no file descriptors|cannot allocate|resource' "$T/find.err"; then
	sed 's/^/# /' "$T/find.err" | head -3
	echo "# note: the error is not EMFILE/ENFILE/ENOMEM"
fi
core_umount
echo "# core-fds: all passed"
