#!/bin/bash
# SPDX-License-Identifier: MIT
# The metadata workloads of fuse-bench.sh, each target on a file system of its own made afresh for every run:
# a new ext4 image (sparse file, loop mount), so no target inherits the host file system's state from another
# (on ext4, creating files soon after many were deleted costs more the more were deleted, which in
# fuse-bench.sh's shared /tmp makes the create line depend on which target ran before). Same targets and
# options as fuse-bench.sh; prints every run, then best/median and ratios.
#
#   bench/meta-fresh.sh [--boxshare PATH] [--runs N] [--files N] [--targets "native boxshare boxlc bindfs"]
#
# Workloads per run and target: create N files, stat N other files cold (caches dropped), read those N 4 KiB
# files cold, unlink the N created files. Needs root, mkfs.ext4, losetup (mount -o loop), bindfs, a C compiler.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
BOXSHARE=$HERE/../build/src/cli/boxshare
RUNS=5
FILES=10000
TARGETS="native boxshare boxlc bindfs"
BOX_THREADS=${BOX_THREADS:-4}
while [ $# -gt 0 ]; do
	case $1 in
	--boxshare) BOXSHARE=$2; shift 2 ;;
	--runs) RUNS=$2; shift 2 ;;
	--files) FILES=$2; shift 2 ;;
	--targets) TARGETS=$2; shift 2 ;;
	-h|--help) sed -n '3,12p' "$0"; exit 0 ;;
	*) echo "meta-fresh: unknown argument $1" >&2; exit 2 ;;
	esac
done
BOX_FLAGS=${BOX_FLAGS:---cache auto --threads $BOX_THREADS --inode-file-handles prefer --passthrough --io-uring}

die() { echo "meta-fresh: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (loop mounts, FUSE mounts, drop_caches)"
for t in mkfs.ext4 cc; do command -v $t >/dev/null || die "$t is not installed"; done
case " $TARGETS " in *" bindfs "*) command -v bindfs >/dev/null || die "bindfs is not installed" ;; esac
case " $TARGETS " in *" boxshare "*|*" boxlc "*) [ -x "$BOXSHARE" ] || die "no boxshare at $BOXSHARE" ;; esac

W=$(mktemp -d /tmp/meta-fresh.XXXXXX)
FS=$W/fs
PID=
cleanup() {
	set +e
	[ -n "$PID" ] && { umount -l "$FS/mnt" 2>/dev/null; kill "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; }
	grep -q " $FS " /proc/self/mounts && umount -l "$FS"
	rm -rf "$W"
}
trap cleanup EXIT
mkdir "$FS"
cc -O2 -o "$W/fsops" "$HERE/fsops.c"
RAW=$W/raw.tsv
: >"$RAW"
drop() { sync; echo 3 >/proc/sys/vm/drop_caches; }

# one run of one target on a new file system
run_one() {
	local t=$1 dir
	rm -f "$W/img"
	truncate -s 4G "$W/img"
	mkfs.ext4 -q -F "$W/img"
	mount -o loop "$W/img" "$FS"
	mkdir "$FS/src" "$FS/mnt" "$FS/src/small" "$FS/src/new"
	"$W/fsops" mkfiles "$FS/src/small" "$FILES" 4096 >/dev/null
	case $t in
	native) dir=$FS/src ;;
	boxshare)
		# shellcheck disable=SC2086
		"$BOXSHARE" serve --source "$FS/src" --mount "$FS/mnt" $BOX_FLAGS >"$W/boxshare.log" 2>&1 &
		PID=$! dir=$FS/mnt ;;
	boxlc) # as fuse-bench.sh: locks kept by the client kernel, as the peers do
		# shellcheck disable=SC2086
		"$BOXSHARE" serve --source "$FS/src" --mount "$FS/mnt" $BOX_FLAGS --locks client >"$W/boxlc.log" 2>&1 &
		PID=$! dir=$FS/mnt ;;
	bindfs)
		bindfs -f "$FS/src" "$FS/mnt" >"$W/bindfs.log" 2>&1 &
		PID=$! dir=$FS/mnt ;;
	*) die "unknown target $t" ;;
	esac
	if [ -n "$PID" ]; then
		for _ in $(seq 100); do grep -q " $FS/mnt fuse" /proc/self/mounts && break; sleep 0.1; done
		grep -q " $FS/mnt fuse" /proc/self/mounts || die "$t did not mount"
	fi
	sync
	local c s r u
	c=$("$W/fsops" create "$dir/new" "$FILES")
	drop
	s=$("$W/fsops" stat "$dir/small" "$FILES")
	drop
	r=$("$W/fsops" read "$dir/small" "$FILES" 4096)
	u=$("$W/fsops" unlink "$dir/new" "$FILES")
	printf '%s\tcreate %s files\t%s\n%s\tstat %s files (cold)\t%s\n%s\tread %s 4k files (cold)\t%s\n%s\tunlink %s files\t%s\n' \
		"$t" "$FILES" "$c" "$t" "$FILES" "$s" "$t" "$FILES" "$r" "$t" "$FILES" "$u" >>"$RAW"
	echo "# $t: create $c s, stat $s s, read $r s, unlink $u s"
	if [ -n "$PID" ]; then
		umount "$FS/mnt"
		wait "$PID" 2>/dev/null || true
		PID=
	fi
	umount "$FS"
}

set -- $TARGETS
n=$#
for run in $(seq "$RUNS"); do
	# rotate the order from run to run, as fuse-bench.sh does
	order=()
	for i in $(seq 0 $((n - 1))); do order+=("${@:$(((i + run - 1) % n + 1)):1}"); done
	for t in "${order[@]}"; do
		echo "# run $run/$RUNS: $t"
		run_one "$t"
	done
done

echo "# meta-fresh $(date -u +%Y%m%dT%H%M%SZ): $RUNS runs, $FILES files, each target on a new ext4 image per run"
echo "# boxshare: serve $BOX_FLAGS; boxlc: the same with --locks client; bindfs: defaults. Seconds, best/median; ratios of medians as speeds"
python3 - "$RAW" $TARGETS <<'EOF'
import collections, statistics, sys
raw, targets = sys.argv[1], sys.argv[2:]
d = collections.defaultdict(list)
work = []
for line in open(raw):
    t, w, v = line.rstrip('\n').split('\t')
    d[(t, w)].append(float(v))
    if w not in work:
        work.append(w)
head = f"{'workload':28}" + ''.join(f"{t + ' best/med':>22}" for t in targets)
boxes = [t for t in targets if t.startswith('box')]
peers = [t for t in targets if t != 'native' and t not in boxes]
for b in boxes:
    head += ''.join(f"{('box' if b == 'boxshare' else b) + '/' + p:>14}" for p in peers)
print(head)
for w in work:
    row = f"{w:28}"
    med = {}
    for t in targets:
        v = d.get((t, w), [])
        if v:
            med[t] = statistics.median(v)
            row += f"{min(v):>11.3f}/{med[t]:<10.3f}"
        else:
            row += f"{'-':>22}"
    for b in boxes:
        row += ''.join(f"{med[p] / med[b]:>14.2f}" if p in med and b in med else f"{'-':>14}" for p in peers)
    print(row)
EOF
