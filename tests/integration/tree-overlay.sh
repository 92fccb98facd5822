#!/bin/bash
# SPDX-License-Identifier: MIT
# Virtual entries on a real FUSE mount: ls shows virtual and real entries once each, shadowing, mode, nested
# virtual directories merged with real ones, one-shot files, the live status file changing between opens.
set -u
. "$(dirname "$0")/tree-lib.sh"
tree_init "$@"

SRC=$T/src
mkdir -p "$SRC/etc"
echo real-a >"$SRC/a"
echo real-b >"$SRC/b"
echo root:x:0:0 >"$SRC/etc/passwd"
printf 'from the host\n' >"$T/hostfile"
cat >"$T/cfg.json" <<JSON
{"virtual": [
  {"path": "/.boxshare/status", "status": true},
  {"path": "/etc/motd", "host": "$T/hostfile", "mode": "0600", "uid": 12, "gid": 34}
]}
JSON
tree_serve --source "$SRC" --config "$T/cfg.json" \
	--virtual '/a=virtual-a' --virtual '/etc/hostname=box\n:mode=0640' --virtual '/v/w/x=deep' \
	--virtual '/init=#!/bin/sh\necho hi\n:mode=0755:oneshot'

got=$(cd "$MNT" && ls -A | tr '\n' ' ')
[ "$got" = ".boxshare a b etc init v " ] || tree_fail "ls -A: '$got'"
got=$(cd "$MNT" && ls -A etc | tr '\n' ' ')
[ "$got" = "hostname motd passwd " ] || tree_fail "ls -A etc: '$got'"
# readdirplus listing (ls -l stats everything) sees the same names once each
n=$(ls -lA "$MNT" | tail -n +2 | wc -l)
[ "$n" = 6 ] || tree_fail "ls -lA lists $n entries"

expect_content virtual-a "$MNT/a"
expect_content real-b "$MNT/b"
expect_content root:x:0:0 "$MNT/etc/passwd"
expect_content box "$MNT/etc/hostname"
expect_content deep "$MNT/v/w/x"
expect_content "from the host" "$MNT/etc/motd"
echo changed >"$T/hostfile"
expect_content "from the host" "$MNT/etc/motd"
[ "$(stat -c '%a %u %g' "$MNT/etc/motd")" = "600 12 34" ] || tree_fail "motd attrs: $(stat -c '%a %u %g' "$MNT/etc/motd")"
[ "$(stat -c %a "$MNT/etc/hostname")" = 640 ] || tree_fail "hostname mode $(stat -c %a "$MNT/etc/hostname")"
[ "$(stat -c %F "$MNT/v/w")" = directory ] || tree_fail "v/w is not a directory"

# virtual entries are the server's
expect EROFS open-w "$MNT/a"
expect EROFS unlink "$MNT/etc/hostname"
expect EROFS mkdir "$MNT/v/new"
# but the real directory under a virtual one stays writable
expect OK creat "$MNT/etc/newfile"
[ -e "$SRC/etc/newfile" ] || tree_fail "create in a merged directory did not reach the host"
expect EEXIST creat "$MNT/etc/hostname"

# one-shot: the first open works, then the name is gone
expect_content "$(printf '#!/bin/sh\necho hi')" "$MNT/init"
expect ENOENT read "$MNT/init"
got=$(cd "$MNT" && ls -A | tr '\n' ' ')
[ "$got" = ".boxshare a b etc v " ] || tree_fail "ls -A after the one-shot open: '$got'"

# the status file is made at each open
s1=$(cat "$MNT/.boxshare/status")
s2=$(cat "$MNT/.boxshare/status")
grep -q '^requests: ' <<<"$s1" || tree_fail "status: '$s1'"
[ "$s1" != "$s2" ] || tree_fail "the status file did not change between opens"
tree_stop

echo "# a bad configuration serves nothing, and the error names the flag or field"
echo '{"shares": [{"host": "/tmp", "path": "/t", "read_only": true}]}' >"$T/bad.json"
bad() { # NEEDLE ARGS...
	local needle=$1 out st; shift
	out=$("$BOXSHARE" serve --mount "$MNT" "$@" 2>&1); st=$?
	[ "$st" = 2 ] || tree_fail "serve $*: exit status $st, want 2 ($out)"
	grep -q " $MNT " /proc/self/mounts && tree_fail "serve $*: mounted despite the error"
	grep -qF -- "$needle" <<<"$out" || tree_fail "serve $*: '$out' does not name '$needle'"
}
bad "--share" --share /nonexistent:/x
bad "--share '$SRC:x'" --share "$SRC:x"
bad "shares[0]: unknown field 'read_only'" --config "$T/bad.json"
bad "--virtual" --virtual '/a=1:mode=9'
bad "--file" --virtual /ok=1 --file "$SRC:/etc/x"

echo "# virtual entries over a null root"
tree_serve --virtual '/init=hello:mode=0755' --virtual '/dev/console=' 
got=$(cd "$MNT" && ls -A | tr '\n' ' ')
[ "$got" = "dev init " ] || tree_fail "null root ls -A: '$got'"
expect EROFS mkdir "$MNT/x"
tree_stop
echo ok
