#!/bin/bash
# SPDX-License-Identifier: MIT
# The read-only layer on a real FUSE mount: every mutating syscall fails with EROFS, statvfs shows ST_RDONLY,
# and it stays so after the client remounts the FUSE mount rw (the server enforces it, not the client).
set -u
. "$(dirname "$0")/tree-lib.sh"
tree_init "$@"

SRC=$T/src
mkdir -p "$SRC/dir/sub"
echo data >"$SRC/file"
echo x >"$SRC/dir/f"
setfattr -n user.test -v 1 "$SRC/file" 2>/dev/null || true

# check_ro DIR [remounted]: DIR holds file, dir/, dir/sub/ of $SRC
check_ro() {
	local d=$1
	for op in open-w open-rw open-trunc open-append truncate chmod chown utimes setxattr removexattr; do
		expect EROFS "$op" "$d/file"
	done
	# with default_permissions the client kernel answers access(W_OK) itself; only a ro mount makes it EROFS
	[ "${2:-}" = remounted ] || expect EROFS access-w "$d/file"
	expect EROFS creat "$d/new"
	expect EROFS tmpfile "$d"
	expect EROFS mkdir "$d/newdir"
	expect EROFS mkfifo "$d/fifo"
	expect EROFS symlink "$d/sl" target
	expect EROFS link "$d/file" "$d/hardlink"
	expect EROFS unlink "$d/file"
	expect EROFS rmdir "$d/dir/sub"
	expect EROFS rename "$d/file" "$d/file2"
	expect EROFS exchange "$d/file" "$d/dir"
	# FUSE's statfs reply has no flags: the client derives ST_RDONLY from its own mount flags, so only a
	# ro mount shows it (the server refuses writes either way)
	[ "${2:-}" = remounted ] || expect RDONLY statvfs-ro "$d"
	expect_content data "$d/file"
	[ -e "$SRC/file2" ] || [ -e "$SRC/new" ] || [ -e "$SRC/newdir" ] && tree_fail "something was created in $SRC"
	[ "$(cat "$SRC/file")" = data ] || tree_fail "$SRC/file changed"
	[ -d "$SRC/dir/sub" ] || tree_fail "$SRC/dir/sub removed"
}

echo "# --readonly passthrough, mount ro"
tree_serve --source "$SRC" --readonly
check_ro "$MNT"
echo "# ... after mount -o remount,rw"
mount -i -o remount,rw "$MNT" || tree_fail "remount,rw refused"
grep " $MNT fuse" /proc/self/mounts | grep -q "[ ,]rw[ ,]" || tree_fail "the mount is not rw after the remount"
check_ro "$MNT" remounted
tree_stop

echo "# a ro entry beside a rw entry of a share tree"
RW=$T/rw
mkdir "$RW"
tree_serve --share "$SRC:/ro:ro" --share "$RW:/rw"
check_ro "$MNT/ro" remounted
expect OK creat "$MNT/rw/new"
expect EROFS mkdir "$MNT/newdir"
[ -e "$RW/new" ] || tree_fail "rw entry did not write"
tree_stop

echo "# --readonly makes every entry of a tree read-only"
tree_serve --share "$SRC:/ro" --share "$RW:/rw" --readonly
mount -i -o remount,rw "$MNT" || tree_fail "remount,rw refused"
check_ro "$MNT/ro" remounted
expect EROFS creat "$MNT/rw/new2"
tree_stop
echo "ok"
