#!/bin/bash
# SPDX-License-Identifier: MIT
# A platform adds and removes entries all day: 1,000 add/remove cycles through `boxshare ctl`, with a reader
# that keeps one file of a removed entry open. A removed entry must be freed (its fs, its held fd) once the
# client holds nothing of it: the server's fd count (/proc/PID/fd) returns to its baseline, and the file that
# was open across the removal reads to the end. Without freeing, each cycle leaks the entry's fds.
set -u
. "$(dirname "$0")/tree-lib.sh"
tree_init "$@"
CYCLES=${TREE_CHURN_CYCLES:-1000}

H=$T/host
mkdir -p "$H/d"
head -c 1048576 /dev/urandom >"$H/big"
want=$(md5sum <"$H/big")
echo x >"$H/d/x"
tree_serve --virtual "/README=churn test" --control "$T/ctl.sock"
# the server proper: with --sandbox namespace (the default) `serve` forks (supervisor, then the confined
# server below it, pid 1 of its namespace): the leaf of the process chain
server_pid() {
	local p=$SERVE_PID kids
	for _ in 1 2 3 4; do
		kids=$(cat "/proc/$p/task/$p/children" 2>/dev/null)
		set -- $kids
		[ -n "${1:-}" ] || break
		p=$1
	done
	echo "$p"
}
ctl() { "$BOXSHARE" ctl --socket "$T/ctl.sock" "$@"; }
nfds() { ls "/proc/$SRV/fd" | wc -l; }
# wait_fds N: the server's fd count comes down to N (the client's forgets arrive asynchronously)
wait_fds() {
	local n
	for _ in $(seq 100); do
		n=$(nfds)
		[ "$n" -le "$1" ] && return 0
		sleep 0.1
	done
	tree_fail "the server holds $n fds, baseline $1 (a removed entry was not freed)"
}

# the mount appears before `serve` enters its sandbox; the control socket is served only after: once it
# answers, the confined server is the leaf of the chain
ctl list >/dev/null || tree_fail "ctl list"
SRV=$(server_pid)
echo "# server pid $SRV (serve pid $SERVE_PID)"

# warm up once so that lazily opened server fds are counted in the baseline
ctl add-share "$H/d" /churn/d || tree_fail "ctl add-share"
cat "$MNT/churn/d/x" >/dev/null || tree_fail "read through the share"
ctl remove /churn/d || tree_fail "ctl remove"
sleep 0.5
base=$(nfds)
echo "# server fds at baseline: $base"

# one file held open across its entry's removal
ctl add-file "$H/big" /churn/big --ro || tree_fail "ctl add-file"
exec 3<"$MNT/churn/big"
with=$(nfds)
[ "$with" -gt "$base" ] || tree_fail "the added entry holds no fd in the server ($with, baseline $base): wrong pid?"
ctl remove /churn/big || tree_fail "ctl remove big"
expect ENOENT stat "$MNT/churn/big"

start=$(date +%s%N)
for i in $(seq "$CYCLES"); do
	if [ $((i % 2)) = 0 ]; then
		ctl add-share "$H/d" /churn/d || tree_fail "ctl add-share (cycle $i)"
		[ "$(cat "$MNT/churn/d/x")" = x ] || tree_fail "read through the share (cycle $i)"
		ctl remove /churn/d || tree_fail "ctl remove (cycle $i)"
	else
		ctl add-file "$H/d/x" /churn/f --ro || tree_fail "ctl add-file (cycle $i)"
		stat "$MNT/churn/f" >/dev/null || tree_fail "stat (cycle $i)"
		ctl remove /churn/f || tree_fail "ctl remove (cycle $i)"
	fi
done
end=$(date +%s%N)
echo "# $CYCLES add/remove cycles in $(( (end - start) / 1000000 )) ms; server fds now $(nfds)"

got=$(md5sum <&3)
exec 3<&-
[ "$got" = "$want" ] || tree_fail "the file open across its removal did not read to the end"
wait_fds "$base"
echo "# server fds after the cycles and the close: $(nfds) (baseline $base)"
tree_stop
echo ok
