#!/bin/bash
# SPDX-License-Identifier: MIT
# Many host sources in one tree, on a real FUSE mount: a single-file entry exposes no sibling (lookup,
# readdir, '..', symlinks planted through a rw entry, hard links), EXDEV across entries, what the client sees
# of st_dev, no st_ino collisions over 100k files of two host filesystems, and the live allowlist (boxshare
# ctl add/remove while a reader loops; an open file keeps working after its entry is removed).
set -u
. "$(dirname "$0")/tree-lib.sh"
tree_init "$@"

H=$T/host
mkdir -p "$H/rw1" "$H/rw2" "$H/other" "$T/fsA" "$T/fsB"
echo secret >"$H/other/sibling"
echo conf >"$H/other/conf"
echo one >"$H/rw1/f"
ln -s ../other/sibling "$H/rw1/planted-rel"
ln -s ../../other/sibling "$H/rw1/planted-rel2"
# two separate host filesystems: their inode numbers collide
mount -t tmpfs -o size=64m,nr_inodes=120k tmpfs "$T/fsA" || tree_skip "cannot mount tmpfs"
EXTRA_MOUNTS="$T/fsA"
mount -t tmpfs -o size=64m,nr_inodes=120k tmpfs "$T/fsB" || tree_skip "cannot mount tmpfs"
EXTRA_MOUNTS="$T/fsA $T/fsB"
N=50000
(cd "$T/fsA" && seq -f 'f%g' $N | xargs touch) || tree_fail "creating files"
(cd "$T/fsB" && seq -f 'f%g' $N | xargs touch) || tree_fail "creating files"

tree_serve --share "$H/rw1:/data" --share "$H/rw2:/data2" --file "$H/other/conf:/etc/conf:ro" \
	--share "$T/fsA:/a:ro" --share "$T/fsB:/b:ro" --control "$T/ctl.sock" \
	--inode-file-handles prefer

echo "# a file entry exposes that file and nothing else"
got=$(ls -A "$MNT/etc" | tr '\n' ' ')
[ "$got" = "conf " ] || tree_fail "ls -A etc: '$got'"
got=$(ls -A "$MNT" | tr '\n' ' ')
[ "$got" = "a b data data2 etc " ] || tree_fail "ls -A /: '$got'"
expect_content conf "$MNT/etc/conf"
expect ENOENT stat "$MNT/etc/sibling"
expect ENOENT stat "$MNT/sibling"
expect ENOTDIR stat "$MNT/etc/conf/../sibling"
expect ENOTDIR stat "$MNT/etc/conf/sibling"
expect ENOENT read "$MNT/data/planted-rel"
expect ENOENT read "$MNT/data/planted-rel2"
# planted by the client through the rw entry
expect OK symlink "$MNT/data/pl1" ../etc/sibling
expect OK symlink "$MNT/data/pl2" ../../other/sibling
expect ENOENT read "$MNT/data/pl1"
expect ENOENT read "$MNT/data/pl2"
[ "$(readlink "$MNT/data/pl1")" = ../etc/sibling ] || tree_fail "readlink pl1"
# hard links and renames cannot carry the file entry into a rw entry (nor out of it)
expect EXDEV link "$MNT/etc/conf" "$MNT/data/hl"
expect EBUSY rename "$MNT/etc/conf" "$MNT/etc/conf2"
expect EBUSY rename "$MNT/etc/conf" "$MNT/data/conf"
expect EROFS open-w "$MNT/etc/conf"
[ "$(cat "$H/other/conf")" = conf ] || tree_fail "the file entry's host file changed"

echo "# EXDEV across entries"
expect EXDEV rename "$MNT/data/f" "$MNT/data2/f"
expect EXDEV link "$MNT/data/f" "$MNT/data2/f"
expect EXDEV rename "$MNT/data/f" "$MNT/f"
expect OK link "$MNT/data/f" "$MNT/data/f2"
expect OK rename "$MNT/data/f2" "$MNT/data/f3"
expect EBUSY rmdir "$MNT/data"
expect EROFS mkdir "$MNT/newdir"
# mv falls back to copy+unlink on EXDEV, as across mounts
mv "$MNT/data/f3" "$MNT/data2/f3" || tree_fail "mv across entries"
[ -e "$H/rw2/f3" ] && [ ! -e "$H/rw1/f3" ] || tree_fail "mv across entries did not copy"

echo "# st_dev and st_ino as the client sees them"
# /dev/fuse offers no FUSE_SUBMOUNTS: every entry shares the mount's st_dev, and the tree renumbers st_ino
# per entry so that (st_dev, st_ino) still names one file
d0=$(stat -c %d "$MNT"); da=$(stat -c %d "$MNT/a"); dd=$(stat -c %d "$MNT/data")
echo "# st_dev: root $d0, /a $da, /data $dd (no submounts over /dev/fuse)"
host_dups=$( (stat -c %i "$T/fsA/f1" "$T/fsA/f2" "$T/fsA/f3"; stat -c %i "$T/fsB/f1" "$T/fsB/f2" "$T/fsB/f3") | sort | uniq -d | wc -l)
[ "$host_dups" -gt 0 ] || echo "# note: the two host filesystems happen not to share inode numbers"
start=$(date +%s%N)
total=$(find "$MNT/a" "$MNT/b" "$MNT/data" "$MNT/data2" "$MNT/etc" -printf '%D:%i\n' | tee "$T/inos" | wc -l)
end=$(date +%s%N)
dups=$(sort "$T/inos" | uniq -d | wc -l)
echo "# $total files listed and stat'ed in $(( (end - start) / 1000000 )) ms, $dups collisions"
[ "$total" -ge $((2 * N + 2)) ] || tree_fail "find saw $total files"
[ "$dups" = 0 ] || tree_fail "$dups (st_dev, st_ino) collisions across entries"
# stat agrees with readdir's d_ino
i1=$(stat -c %i "$MNT/a/f1"); i2=$(ls -i "$MNT/a" | awk '$2 == "f1" {print $1}')
[ "$i1" = "$i2" ] || tree_fail "st_ino $i1 but d_ino $i2"

echo "# the live allowlist"
ctl() { "$BOXSHARE" ctl --socket "$T/ctl.sock" "$@"; }
[ "$(stat -c %a "$T/ctl.sock")" = 600 ] || tree_fail "control socket mode $(stat -c %a "$T/ctl.sock")"
# a reader loops over the path while it comes and goes
( while :; do cat "$MNT/live/file" >/dev/null 2>&1; ls "$MNT/live" >/dev/null 2>&1; done ) &
BG_PID=$!
for round in 1 2 3; do
	ctl add-file "$H/other/sibling" /live/file --ro || tree_fail "ctl add-file (round $round)"
	expect_content secret "$MNT/live/file"
	exec 3<"$MNT/live/file"
	ctl remove /live/file || tree_fail "ctl remove (round $round)"
	expect ENOENT stat "$MNT/live/file"
	got=$(cat <&3) || true
	exec 3<&-
	[ "$got" = secret ] || tree_fail "a file open before its removal stopped working: '$got'"
done
ctl add-share "$H/rw2" /live/dir || tree_fail "ctl add-share"
[ -e "$MNT/live/dir/f3" ] || tree_fail "added share not visible"
ctl add-virtual /live/v --text 'hi there' --mode 0644 || tree_fail "ctl add-virtual"
expect_content "hi there" "$MNT/live/v"
ctl add-virtual /live/h --host "$H/other/sibling" --oneshot || tree_fail "ctl add-virtual --host"
echo changed >"$H/other/sibling"
expect_content secret "$MNT/live/h"
expect ENOENT read "$MNT/live/h"
got=$(ctl list | tr '\n' ' ')
case "$got" in *"share /live/dir"*"virtual /live/v"*) ;; *) tree_fail "ctl list: '$got'" ;; esac
ctl add-file "$H/other" /live/bad 2>/dev/null && tree_fail "a directory accepted as a file entry"
ctl add-share "$H/rw1" /etc/conf/x 2>/dev/null && tree_fail "an entry below a file entry accepted"
ctl remove /nothing 2>/dev/null && tree_fail "removing a missing entry succeeded"
# another uid may not use the socket
if command -v setpriv >/dev/null; then
	setpriv --reuid 65534 --regid 65534 --clear-groups "$BOXSHARE" ctl --socket "$T/ctl.sock" list \
		>/dev/null 2>&1 && tree_fail "uid 65534 used the control socket"
fi
kill "$BG_PID"; wait "$BG_PID" 2>/dev/null; BG_PID=
tree_stop
echo ok
