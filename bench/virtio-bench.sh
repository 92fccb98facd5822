#!/bin/bash
# virtio-fs back ends compared in one run: boxshare against QEMU's C virtiofsd, through the host-side driver
# (tests/integration/vu-driver.c in load-generator mode: 8 requests in flight on one request queue).
# Prints, per line: min and median of each back end over the repeats, and the ratio of the medians.
#   bench/virtio-bench.sh [BUILD_DIR] (env: REPEAT=5 SECONDS_EACH=2 BOXSHARE_ARGS= VIRTIOFSD_ARGS=)
# With GUEST_FIO=1 it also runs fio inside a QEMU guest over both back ends (see guest-fio below).
set -euo pipefail
B=${1:-build}
BOXSHARE=$B/src/cli/boxshare
DRIVER=$B/tests/integration/vu-driver
VIRTIOFSD=/usr/lib/qemu/virtiofsd
REPEAT=${REPEAT:-5}
SECS=${SECONDS_EACH:-2}
for f in "$BOXSHARE" "$DRIVER" "$VIRTIOFSD"; do
	[ -x "$f" ] || { echo "virtio-bench: $f missing (build first; virtiofsd comes with qemu-system-common)" >&2; exit 1; }
done
# the share lives on the same file system for both (tmpfs unless BENCH_DIR says otherwise)
W=$(mktemp -d "${BENCH_DIR:-/tmp}/virtio-bench.XXXXXX")
PID=
trap '[ -n "$PID" ] && kill $PID 2>/dev/null; wait 2>/dev/null; rm -rf "$W"' EXIT

one() { # BACKEND -> appends "metric value" lines to $W/BACKEND.out
	local be=$1
	rm -rf "$W/share" "$W/sock"
	mkdir "$W/share"
	if [ "$be" = virtiofsd ]; then
		# shellcheck disable=SC2086
		$VIRTIOFSD --socket-path="$W/sock" -o source="$W/share" -o cache=auto ${VIRTIOFSD_ARGS:-} \
			> "$W/$be.log" 2>&1 &
	else
		# shellcheck disable=SC2086
		"$BOXSHARE" serve --socket-path "$W/sock" --shared-dir "$W/share" ${BOXSHARE_ARGS:-} > "$W/$be.log" 2>&1 &
	fi
	PID=$!
	# --reference: the same guest memory layout for both (no buffer spans two regions)
	"$DRIVER" --reference bench "$W/sock" "$W/share" "$SECS" | awk '{print $1, $2, $3}' >> "$W/$be.out"
	wait $PID || true
	PID=
}

for i in $(seq "$REPEAT"); do
	# alternate the order so that neither back end always runs on a warmer machine
	if [ $((i % 2)) = 1 ]; then one virtiofsd; one boxshare; else one boxshare; one virtiofsd; fi
done

stats() { # FILE METRIC -> "min median"
	awk -v m="$2" '$1 == m { print $2 }' "$1" | sort -g | awk '{ v[NR] = $1 } END {
		if (NR == 0) { print "- -"; exit }
		med = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "%.1f %.1f\n", v[1], med }'
}
printf "%-10s %-7s %14s %14s %14s %14s %7s\n" metric unit "boxshare-min" "boxshare-med" "virtiofsd-min" \
	"virtiofsd-med" ratio
for m in lookup getattr read-4k write-4k read-1m write-1m; do
	unit=$(awk -v m=$m '$1 == m { print $3; exit }' "$W/boxshare.out")
	read -r bmin bmed <<< "$(stats "$W/boxshare.out" $m)"
	read -r vmin vmed <<< "$(stats "$W/virtiofsd.out" $m)"
	ratio=$(awk -v a="$bmed" -v b="$vmed" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')
	printf "%-10s %-7s %14s %14s %14s %14s %7s\n" "$m" "$unit" "$bmin" "$bmed" "$vmin" "$vmed" "$ratio"
done
echo "(repeats: $REPEAT x ${SECS}s per line per back end; ratio = boxshare median / virtiofsd median)"
