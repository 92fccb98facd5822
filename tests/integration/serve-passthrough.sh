#!/bin/bash
# SPDX-License-Identifier: MIT
# `boxshare serve --passthrough` on a real /dev/fuse mount: what a user sees (data both ways, append, truncate,
# mmap, O_DIRECT, two opens of one file) and proof that reads and writes no longer reach the server: a host
# change is seen at once through a file opened with --cache always (the client's page cache would serve stale
# data), and the fuse:fuse_request_send tracepoint counts no FUSE_READ/FUSE_WRITE for I/O on an open file
# (and does count them without --passthrough, so the count is known to work).
#   serve-passthrough.sh BOXSHARE PT_PROBE
set -u
. "$(dirname "$0")/core-lib.sh"
core_init "$1"
PROBE=${2:?usage: $0 BOXSHARE PT_PROBE}

# Does the kernel take passthrough? proto logs its decision at INIT.
core_mount --passthrough --cache always --log-level info
ls "$MNT" >/dev/null # a request answered: INIT is done
if ! grep -q "FUSE passthrough on" "$SERVE_LOG"; then
	reason=$(grep -o "FUSE passthrough off.*" "$SERVE_LOG")
	core_umount
	core_skip "${reason:-the server did not report passthrough}"
fi

# -- the kernel does the I/O: a host change shows through an open file at once despite --cache always
printf 'one\n' >"$SHARE/cached"
exec 3<"$MNT/cached"
read -r -u 3 first
[ "$first" = one ] || core_fail "read through the mount: '$first', expected 'one'"
printf 'two\n' >>"$SHARE/cached" # appended on the host, behind the client's back
read -r -u 3 second
exec 3<&-
[ "${second:-}" = two ] || core_fail "a host append is not visible through the open passthrough file (got '${second:-}')"

# -- data both ways, append, O_TRUNC
printf 'through the mount\n' >"$MNT/a"
[ "$(cat "$SHARE/a")" = "through the mount" ] || core_fail "data written through the mount is not on the host"
printf 'from the host\n' >"$SHARE/b"
[ "$(cat "$MNT/b")" = "from the host" ] || core_fail "data written on the host is not read through the mount"
printf 'more\n' >>"$MNT/a"
[ "$(cat "$SHARE/a")" = "$(printf 'through the mount\nmore')" ] || core_fail "O_APPEND through the mount"
printf 'short\n' >"$MNT/a"
[ "$(cat "$SHARE/a")" = "short" ] || core_fail "O_TRUNC through the mount left '$(cat "$SHARE/a")'"
dd if=/dev/urandom of="$SHARE/big" bs=1M count=4 status=none
cmp -s "$SHARE/big" "$MNT/big" || core_fail "4 MiB read through the mount differs from the host file"
dd if=/dev/urandom of="$MNT/big2" bs=1M count=4 status=none conv=fsync
cmp -s "$SHARE/big2" "$MNT/big2" || core_fail "4 MiB written through the mount differs on the host"

# -- mmap, O_DIRECT, two opens at once, truncate/fallocate through the server while open
: >"$MNT/m"
"$PROBE" mmap "$MNT/m" || core_fail "MAP_SHARED write through the mount"
[ "$(dd if="$SHARE/m" bs=1 skip=4096 count=6 status=none)" = mapped ] || core_fail "MAP_SHARED write not on the host"
: >"$MNT/d"
"$PROBE" direct "$MNT/d" || core_fail "O_DIRECT through the mount"
[ "$(stat -c %s "$SHARE/d")" = 12288 ] || core_fail "O_DIRECT write: host size $(stat -c %s "$SHARE/d"), expected 12288"
: >"$MNT/t"
"$PROBE" two "$MNT/t" || core_fail "two opens of one file"
[ "$(cat "$SHARE/t")" = first ] || core_fail "the O_RDWR open's write is not on the host"
: >"$MNT/r"
"$PROBE" resize "$MNT/r" || core_fail "truncate/fallocate while open"
[ "$(stat -c %s "$SHARE/r")" = 65536 ] || core_fail "fallocate while open: host size $(stat -c %s "$SHARE/r")"
# a write by an unprivileged owner clears setuid/setgid (the kernel writes with the registering thread's
# credentials: they must not carry CAP_FSETID)
printf x >"$MNT/suid"
chown 65534:65534 "$MNT/suid" && chmod 06775 "$MNT/suid"
setpriv --reuid 65534 --regid 65534 --clear-groups sh -c "printf y >>'$MNT/suid'" ||
	core_fail "uid 65534 cannot append to its own file through the mount"
mode=$(stat -c %a "$SHARE/suid")
[ "$mode" = 775 ] || core_fail "a write by the unprivileged owner left mode $mode on the host (setuid/setgid kept)"
# a file re-opened after all its opens were released gets a fresh backing id
cat "$MNT/t" >/dev/null && cat "$MNT/t" >/dev/null || core_fail "reopening a released file"
grep -q "refused by the kernel" "$SERVE_LOG" && core_fail "passthrough was refused: $(grep refused "$SERVE_LOG")"
core_umount

# -- ...but a root client keeps setuid/setgid wherever root keeps them on the host. The thread that registered
# a backing file keeps CAP_FSETID dropped until a request needs it back (util/fsetid.c): one worker thread, and
# an open (a registration) right before each request that needs it.
core_mount --passthrough --threads 1
printf x >"$SHARE/reg"
touch "$SHARE/g" && chown 0:65534 "$SHARE/g"
cat "$MNT/reg" >/dev/null && chmod 2755 "$MNT/g"
mode=$(stat -c %a "$SHARE/g")
[ "$mode" = 2755 ] || core_fail "root's chmod 2755 of a file of another group left $mode on the host (setgid dropped)"
printf x >"$SHARE/s" && chmod 4755 "$SHARE/s"
cat "$MNT/reg" >/dev/null && truncate -s 0 "$MNT/s"
mode=$(stat -c %a "$SHARE/s")
[ "$mode" = 4755 ] || core_fail "root's truncate of a setuid file left $mode on the host (setuid dropped)"
mkdir "$SHARE/sg" && chown 0:65534 "$SHARE/sg" && chmod 2775 "$SHARE/sg"
cat "$MNT/reg" >/dev/null &&
	python3 -c "import os, sys; os.close(os.open(sys.argv[1], os.O_CREAT | os.O_WRONLY, 0o2755))" "$MNT/sg/new"
mode=$(stat -c %a "$SHARE/sg/new")
[ "$mode" = 2755 ] || core_fail "root's create of a setgid file in a setgid directory of another group: $mode on the host"
printf x >"$MNT/reg2" && chmod 4755 "$MNT/reg2"
printf y >>"$MNT/reg2" # a root writer through the backing file: the bits go (the safe side, see above)
mode=$(stat -c %a "$SHARE/reg2")
[ "$mode" = 755 ] || core_fail "a root write through a backing file left $mode: the registering thread had CAP_FSETID"
core_umount

# -- through the share tree's layers: real files keep passthrough, virtual ones are served by us, ro stays ro
mkdir "$T/rw" "$T/ro"
printf 'ro data\n' >"$T/ro/f"
printf 'conf\n' >"$T/conf"
core_mount --passthrough --cache always --share "$T/rw:/rw" --share "$T/ro:/ro:ro" --file "$T/conf:/etc/conf:ro" \
	--virtual '/etc/hostname=box'
printf 'one\n' >"$MNT/rw/f"
exec 3<"$MNT/rw/f"
read -r -u 3 first
printf 'two\n' >>"$T/rw/f"
read -r -u 3 second
exec 3<&-
[ "$first/${second:-}" = one/two ] || core_fail "share tree: a host append is not seen through the open file ('$first/${second:-}')"
[ "$(cat "$MNT/etc/hostname")" = box ] || core_fail "share tree: the virtual file reads '$(cat "$MNT/etc/hostname")'"
[ "$(cat "$MNT/etc/conf")" = conf ] || core_fail "share tree: the read-only file entry"
[ "$(cat "$MNT/ro/f")" = "ro data" ] || core_fail "share tree: a file of the read-only share"
if (printf x >>"$MNT/ro/f") 2>/dev/null; then core_fail "share tree: a read-only share took a write"; fi
[ "$(cat "$T/ro/f")" = "ro data" ] || core_fail "share tree: the read-only share's file changed on the host"
core_umount

# -- no CAP_SYS_ADMIN in the initial user namespace (a server in a user namespace): the kernel refuses
# registration with EPERM; one warning, and the files are served without passthrough. The mount lives in the
# private mount namespace of `unshare`, so nothing outlives the round.
U=$T/userns
mkdir -p "$U/s" "$U/m"
printf 'hi\n' >"$U/s/f"
chmod 777 "$U" "$U/s" "$U/m"
if unshare -Urm true 2>/dev/null; then
	timeout 30 unshare -Urm --propagation private sh -c '
		"$1" serve --source "$2/s" --mount "$2/m" --passthrough --sandbox none --log-level info >"$2/log" 2>&1 &
		for i in $(seq 100); do grep -q " $2/m fuse" /proc/self/mounts && break; sleep 0.1; done
		cat "$2/m/f" && printf "more\n" >>"$2/m/f" && cat "$2/m/f" >"$2/out"; r=$?
		umount "$2/m"; wait; exit $r' sh "$BOXSHARE" "$U" || core_fail "serving from a user namespace with --passthrough failed: $(cat "$U/log")"
	[ "$(cat "$U/out")" = "$(printf 'hi\nmore')" ] || core_fail "user namespace: read back '$(cat "$U/out")'"
	[ "$(grep -c "refused by the kernel" "$U/log")" = 1 ] ||
		core_fail "user namespace: expected one 'refused by the kernel' warning: $(cat "$U/log")"
	echo "# user namespace: EPERM, one warning, served without passthrough"
else
	echo "# no user namespaces here: the EPERM fallback is not checked"
fi

# -- no FUSE_READ/FUSE_WRITE for I/O on an open passthrough file (tracepoint), and some without passthrough
if ! core_trace_init; then
	core_finish
	exit 0
fi

# io_requests FLAGS...: mount, open a 4 MiB file once, read it all and write 1 MiB through that fd, and print
# how many FUSE_READ + FUSE_WRITE requests the client sent for it, in $COUNT.
io_requests() {
	core_mount "$@"
	dd if=/dev/urandom of="$SHARE/io" bs=1M count=4 status=none
	core_trace_start
	exec 4<>"$MNT/io"
	cat <&4 >/dev/null
	dd if=/dev/zero bs=1M count=1 status=none >&4
	exec 4>&-
	core_trace_stop
	COUNT=$(core_trace_count "FUSE_READ|FUSE_WRITE")
	core_umount
}
io_requests --passthrough --cache always
with=$COUNT
io_requests --cache always
without=$COUNT
echo "# FUSE_READ+FUSE_WRITE for 4 MiB read + 1 MiB written: $with with --passthrough, $without without"
[ "$without" -gt 0 ] || core_fail "the tracepoint saw no READ/WRITE without passthrough: the count does not work"
[ "$with" = 0 ] || core_fail "$with READ/WRITE requests reached the server with --passthrough"
core_finish
