#!/bin/bash
# SPDX-License-Identifier: MIT
# The same workloads, in one run, on a native directory, on boxshare, and on the FUSE passthrough peers Debian
# ships: bindfs, and libfuse's passthrough_ll example (built here from libfuse3-dev's examples). Prints absolute
# figures (min and median of N runs) and speed ratios: each target against native, and boxshare against each peer.
#
#   bench/fuse-bench.sh [--boxshare PATH] [--runs N] [--quick] [--targets "native boxshare boxlc bindfs ptll"]
#                       [--out DIR]
#
# Options as run (say them when you quote the figures):
#   boxshare:       serve --cache auto --threads $BOX_THREADS --inode-file-handles prefer --passthrough --io-uring
#                   (BOX_THREADS default 4; BOX_FLAGS overrides all of it. --passthrough: the kernel reads
#                   and writes open regular files itself, Linux 6.9+; the server keeps CAP_SYS_ADMIN.
#                   --io-uring: requests through a queue per CPU, Linux 6.14+; turns on the fuse module's
#                   enable_uring parameter)
#   boxlc:          boxshare as above with --locks client: POSIX and flock locks kept by the client kernel, as
#                   bindfs and passthrough_ll do (neither serves locks), so a close(2) costs no FLUSH round
#                   trip. The boxshare row keeps the default (locks taken on the host files, FLUSH at close).
#   bindfs:         bindfs SRC MNT  (its defaults)
#   passthrough_ll: passthrough_ll -f -o source=SRC -o cache=auto MNT  (multi-threaded, its default)
# Workloads (every run, targets interleaved so machine noise spreads over all of them, in an order that
# rotates from run to run):
#   create / stat (cold: caches dropped) / readdir / unlink of 20k files; reading 10k 4 KiB files (cold);
#   1 MiB sequential read of a 256 MiB file, cold and warm; 1 MiB sequential write of 256 MiB (fsync at end);
#   4k random read and write with fio: psync iodepth 1 (buffered) and libaio iodepth 16 (O_DIRECT);
#   untar of /usr/include (~130 MiB, ~9k files).
# Needs root (mounts, drop_caches), fio, bindfs, libfuse3-dev, pkg-config, a C compiler and tar.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
BOXSHARE=${BOXSHARE:-$HERE/../build/src/cli/boxshare}
RUNS=5
TARGETS="native boxshare boxlc bindfs ptll"
OUT=$HERE/out
QUICK=0
BOX_THREADS=${BOX_THREADS:-4}
while [ $# -gt 0 ]; do
	case $1 in
	--boxshare) BOXSHARE=$2; shift 2 ;;
	--runs) RUNS=$2; shift 2 ;;
	--targets) TARGETS=$2; shift 2 ;;
	--out) OUT=$2; shift 2 ;;
	--quick) QUICK=1; shift ;;
	-h|--help) sed -n '3,27p' "$0"; exit 0 ;;
	*) echo "fuse-bench: unknown argument $1" >&2; exit 2 ;;
	esac
done
# handles: without them the server holds one fd per inode the kernel caches and 20k files exceed the fd limit
BOX_FLAGS=${BOX_FLAGS:---cache auto --threads $BOX_THREADS --inode-file-handles prefer --passthrough --io-uring}

NFILES=20000 NSMALL=10000 SMALL=4096 BIG=256 FIO_SECS=4
if [ "$QUICK" = 1 ]; then NFILES=2000 NSMALL=1000 BIG=32 FIO_SECS=1; fi

die() { echo "fuse-bench: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (FUSE mounts, drop_caches)"
for t in fio tar cc pkg-config; do command -v $t >/dev/null || die "$t is not installed"; done
case " $TARGETS " in *" bindfs "*) command -v bindfs >/dev/null || die "bindfs is not installed (apt-get install bindfs)" ;; esac
case " $TARGETS " in *" boxshare "*|*" boxlc "*) [ -x "$BOXSHARE" ] || die "no boxshare at $BOXSHARE (--boxshare PATH)" ;; esac
EXAMPLES=/usr/share/doc/libfuse3-dev/examples

W=$(mktemp -d /tmp/fuse-bench.XXXXXX)
declare -A PIDS=()
cleanup() {
	set +e
	for t in $TARGETS; do
		[ "$t" = native ] && continue
		grep -q " $W/mnt-$t " /proc/self/mounts && umount -l "$W/mnt-$t"
	done
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "# set-up in $W"
cc -O2 -o "$W/fsops" "$HERE/fsops.c"
if [[ " $TARGETS " == *" ptll "* ]]; then
	[ -f "$EXAMPLES/passthrough_ll.c" ] || die "no $EXAMPLES/passthrough_ll.c (apt-get install libfuse3-dev)"
	cc -O2 -Wall -I"$EXAMPLES" -o "$W/passthrough_ll" "$EXAMPLES/passthrough_ll.c" \
		$(pkg-config --cflags --libs fuse3) || die "building passthrough_ll failed"
fi
if [ "$QUICK" = 1 ]; then tar cf "$W/tree.tar" -C /usr/include linux 2>/dev/null || true
else tar cf "$W/tree.tar" -C /usr include 2>/dev/null || true; fi

# the directory each target's workloads run in
tdir() { if [ "$1" = native ]; then echo "$W/src-native"; else echo "$W/mnt-$1"; fi; }

wait_mounted() {
	for _ in $(seq 100); do grep -q " $1 fuse" /proc/self/mounts && return 0; sleep 0.1; done
	die "$1 did not mount"
}

for t in $TARGETS; do
	mkdir -p "$W/src-$t"
	# the large files are made on the host side once: reading them is what is measured
	dd if=/dev/urandom of="$W/src-$t/big" bs=1M count=$BIG status=none
	dd if=/dev/urandom of="$W/src-$t/rand" bs=1M count=$BIG status=none
	[ "$t" = native ] && continue
	mkdir -p "$W/mnt-$t"
	case $t in
	boxshare)
		# shellcheck disable=SC2086
		"$BOXSHARE" serve --source "$W/src-$t" --mount "$W/mnt-$t" $BOX_FLAGS >"$W/boxshare.log" 2>&1 &
		PIDS[$t]=$! ;;
	boxlc)
		# shellcheck disable=SC2086
		"$BOXSHARE" serve --source "$W/src-$t" --mount "$W/mnt-$t" $BOX_FLAGS --locks client >"$W/boxlc.log" 2>&1 &
		PIDS[$t]=$! ;;
	bindfs)
		bindfs -f "$W/src-$t" "$W/mnt-$t" >"$W/bindfs.log" 2>&1 &
		PIDS[$t]=$! ;;
	ptll)
		"$W/passthrough_ll" -f -o source="$W/src-$t" -o cache=auto "$W/mnt-$t" >"$W/ptll.log" 2>&1 &
		PIDS[$t]=$! ;;
	*) die "unknown target $t" ;;
	esac
	wait_mounted "$W/mnt-$t"
done

drop() { sync; echo 3 >/proc/sys/vm/drop_caches; }
RAW=$W/raw.tsv
: >"$RAW"
rec() { echo -e "$1\t$2\t$3\t$4" >>"$RAW"; } # target workload unit value

# fio in terse mode: field 7/8 are read KiB/s and IOPS, 48/49 write KiB/s and IOPS
# A failed run (e.g. passthrough_ll's O_DIRECT writes from unaligned buffers: EINVAL) is recorded as "fail".
fio_run() {
	if ! fio --minimal --output="$W/fio.out" "$@" >/dev/null 2>"$W/fio.err"; then
		echo "# fio ${1#--name=} failed: $(grep -m1 -i error "$W/fio.err")" >&2
		echo "fail"
		return 0
	fi
	tail -1 "$W/fio.out"
}
# field N of fio's terse line, scaled by div; "fail" stays "fail"
fio_field() { if [ "$1" = fail ]; then echo fail; else echo "$1" | awk -F';' -v n="$2" -v d="$3" '{printf "%.1f", $n/d}'; fi; }

# fsop TARGET WORKLOAD OP ARGS...: time one fsops workload; a failure is recorded as "fail", with its message
fsop() {
	local t=$1 w=$2 v; shift 2
	if v=$("$W/fsops" "$@" 2>"$W/fsops.err"); then rec "$t" "$w" s "$v"
	else echo "# $t: $w failed: $(cat "$W/fsops.err")" >&2; rec "$t" "$w" s fail; fi
}

one_run() {
	local t=$1 r=$2 d s
	d=$(tdir "$t")
	# metadata: 20k files
	drop
	fsop "$t" "create ${NFILES} files" create "$d/many" $NFILES
	drop
	fsop "$t" "stat ${NFILES} files (cold)" stat "$d/many" $NFILES
	fsop "$t" "readdir ${NFILES} entries" readdir "$d/many" $NFILES
	fsop "$t" "unlink ${NFILES} files" unlink "$d/many" $NFILES
	rm -rf "$W/src-$t/many"
	# small files, made on the host side, read cold through the target
	"$W/fsops" mkfiles "$W/src-$t/small" $NSMALL $SMALL >/dev/null
	drop
	fsop "$t" "read ${NSMALL} 4k files (cold)" read "$d/small" $NSMALL $SMALL
	rm -rf "$W/src-$t/small"
	# sequential 1 MiB: read cold, read warm, write
	local f
	drop
	f=$(fio_run --name=seqr --filename="$d/big" --rw=read --bs=1M --size=${BIG}M --ioengine=psync --invalidate=0)
	rec "$t" "seq read 1M (cold)" MiB/s "$(fio_field "$f" 7 1024)"
	f=$(fio_run --name=seqr --filename="$d/big" --rw=read --bs=1M --size=${BIG}M --ioengine=psync --invalidate=0)
	rec "$t" "seq read 1M (warm)" MiB/s "$(fio_field "$f" 7 1024)"
	f=$(fio_run --name=seqw --filename="$d/written" --rw=write --bs=1M --size=${BIG}M --ioengine=psync --end_fsync=1)
	rec "$t" "seq write 1M" MiB/s "$(fio_field "$f" 48 1024)"
	rm -f "$d/written"
	# 4k random: psync qd1 buffered, libaio qd16 O_DIRECT
	local rw eng
	for eng in "psync 1 0" "libaio 16 1"; do
		set -- $eng
		for rw in randread randwrite; do
			f=$(fio_run --name=$rw --filename="$d/rand" --rw=$rw --bs=4k --size=${BIG}M --ioengine=$1 \
				--iodepth=$2 --direct=$3 --time_based --runtime=$FIO_SECS)
			if [ $rw = randread ]; then rec "$t" "4k $rw $1 qd$2" IOPS "$(fio_field "$f" 8 1)"
			else rec "$t" "4k $rw $1 qd$2" IOPS "$(fio_field "$f" 49 1)"; fi
		done
	done
	# untar a large tree
	mkdir "$d/untar"
	local t0 t1
	t0=$(date +%s.%N)
	if tar xf "$W/tree.tar" -C "$d/untar" 2>"$W/tar.err"; then
		t1=$(date +%s.%N)
		rec "$t" "untar /usr/include" s "$(awk -v a="$t1" -v b="$t0" 'BEGIN{printf "%.6f", a-b}')"
	else
		echo "# $t: untar failed ($(grep -c . "$W/tar.err") error lines): $(head -1 "$W/tar.err")" >&2
		rec "$t" "untar /usr/include" s fail
	fi
	rm -rf "$d/untar"
}

# Each run starts at the next target (run 1: native boxshare bindfs ptll, run 2: boxshare bindfs ptll native...):
# a target's first workload (create) inherits whatever the previous target left the host doing (journal
# commits, writeback of freed blocks), and with a fixed order that bias would always fall on the same target.
read -r -a TLIST <<<"$TARGETS"
NT=${#TLIST[@]}
for r in $(seq "$RUNS"); do
	for i in $(seq 0 $((NT - 1))); do
		t=${TLIST[$(((i + r - 1) % NT))]}
		echo "# run $r/$RUNS: $t"
		one_run "$t" "$r"
	done
done

# a fallback the server logged (e.g. passthrough refused by the kernel) changes what was measured: say it
for t in boxshare boxlc; do
	[ -s "$W/$t.log" ] && sed "s/^/# $t logged: /" "$W/$t.log" | head -5 >&2
done
mkdir -p "$OUT"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
cp "$RAW" "$OUT/fuse-bench-$stamp.tsv"
{
	echo "# fuse-bench $stamp: $RUNS runs, $(nproc) CPUs, kernel $(uname -r)"
	echo "# boxshare: serve $BOX_FLAGS; boxlc: the same with --locks client; bindfs: defaults; passthrough_ll: -o cache=auto (multi-threaded)"
	echo "# figures: best / median of the runs (best: the min time, the max rate); s: lower is better, MiB/s and IOPS: higher"
	echo "# ratios (of medians) are speeds: x/native (1.00 = native speed), box*/peer (>1: that boxshare row is faster)"
	awk -F'\t' -v targets="$TARGETS" '
	function sortn(a, n,   i, j, t) { for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t } }
	function med(a, n) { return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
	function speed(v, unit) { return unit == "s" ? (v > 0 ? 1 / v : 0) : v }
	function isbox(t) { return t ~ /^box/ }
	function ispeer(t) { return t != "native" && !isbox(t) }
	{ k = $2; if (!(k in seen)) { seen[k] = 1; order[++nw] = k; unit[k] = $3 }
	  if ($4 == "fail") { fails[$1, k]++; next }
	  n = ++cnt[$1, k]; val[$1, k, n] = $4 }
	END {
		nt = split(targets, T, " ")
		printf "%-30s %-5s", "workload", "unit"
		for (i = 1; i <= nt; i++) printf " %21s", T[i] " best/med"
		for (i = 1; i <= nt; i++) if (T[i] != "native") printf " %9s", T[i] "/nat"
		for (b = 1; b <= nt; b++) if (isbox(T[b])) for (i = 1; i <= nt; i++) if (ispeer(T[i]))
			printf " %12s", (T[b] == "boxshare" ? "box" : T[b]) "/" T[i]
		printf "\n"
		for (w = 1; w <= nw; w++) {
			k = order[w]; printf "%-30s %-5s", k, unit[k]
			for (i = 1; i <= nt; i++) {
				n = cnt[T[i], k]; delete a
				for (j = 1; j <= n; j++) a[j] = val[T[i], k, j] + 0
				sortn(a, n)
				M[T[i]] = n ? med(a, n) : 0
				if (!n) printf " %21s", "failed"
				else if (unit[k] == "s") printf " %10.3f/%-10.3f", a[1], M[T[i]]
				else if (unit[k] == "IOPS") printf " %10d/%-10d", a[n], M[T[i]]
				else printf " %10.1f/%-10.1f", a[n], M[T[i]]
			}
			for (i = 1; i <= nt; i++) if (T[i] != "native") {
				sn = speed(M["native"], unit[k]); st = speed(M[T[i]], unit[k])
				if (sn && st) printf " %9.2f", st / sn; else printf " %9s", "-" }
			for (b = 1; b <= nt; b++) if (isbox(T[b])) for (i = 1; i <= nt; i++) if (ispeer(T[i])) {
				sp = speed(M[T[i]], unit[k]); sb = speed(M[T[b]], unit[k])
				if (sp && sb) printf " %12.2f", sb / sp; else printf " %12s", "-" }
			printf "\n"
		}
	}' "$RAW"
} | tee "$OUT/fuse-bench-$stamp.txt"
echo "# written: $OUT/fuse-bench-$stamp.txt (table) and .tsv (every run)"
