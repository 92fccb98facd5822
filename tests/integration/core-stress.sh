#!/bin/bash
# SPDX-License-Identifier: MIT
# stress-ng's filesystem stressors (a bounded selection that passes on a native ext4/tmpfs directory in ~10 s)
# and fio with --verify=crc32c, on the mount, with one server thread and with several.
#   core-stress.sh BOXSHARE
set -u
. "$(dirname "$0")/core-lib.sh"
core_init "$1"
command -v stress-ng >/dev/null || core_skip "stress-ng is not installed (apt-get install stress-ng)"
command -v fio >/dev/null || core_skip "fio is not installed (apt-get install fio)"

STRESS_SECONDS=${STRESS_SECONDS:-8}

run_stress() {
	local dir=$1
	mkdir "$dir/stress"
	# --verify: the stressors that can check their data do; any failure makes stress-ng exit non-zero
	if ! stress-ng --temp-path "$dir/stress" --timeout "${STRESS_SECONDS}s" --verify --metrics-brief \
		--dir 1 --dentry 1 --hdd 1 --hdd-bytes 16M --link 1 --rename 1 --symlink 1 \
		--fallocate 1 --fallocate-bytes 16M --flock 1 --lockf 1 --xattr 1 --fcntl 1 \
		--dirdeep 1 --dirdeep-dirs 1 --seek 1 --seek-size 16M --chmod 1 --chown 1 --utime 1 \
		--getdent 1 --fstat 1 --open 1 --readahead 1 --readahead-bytes 16M \
		--sync-file 1 --sync-file-bytes 16M --mmap 1 --mmap-bytes 16M >"$T/stress.log" 2>&1; then
		sed 's/^/# /' "$T/stress.log"
		core_fail "stress-ng failed on $dir"
	fi
	grep -E 'successful run|passed|failed' "$T/stress.log" | sed 's/^/# /'
	rm -rf "$dir/stress"
}

run_fio() {
	local dir=$1
	mkdir "$dir/fio"
	# random 4k writes from two jobs then a crc32c verify pass; sequential 1M writes with libaio, verified
	if ! fio --directory="$dir/fio" --output="$T/fio.log" --group_reporting \
		--name=rand --rw=randwrite --bs=4k --size=24M --numjobs=2 --ioengine=psync \
		--verify=crc32c --do_verify=1 --verify_fatal=1 \
		--name=seq --rw=write --bs=1M --size=48M --ioengine=libaio --iodepth=8 \
		--verify=crc32c --do_verify=1 --verify_fatal=1 >/dev/null 2>"$T/fio.err"; then
		sed 's/^/# /' "$T/fio.log" "$T/fio.err"
		core_fail "fio --verify failed on $dir"
	fi
	grep -E 'err=|WRITE:|READ:' "$T/fio.log" | sed 's/^/# /'
	grep -q 'err= 0' "$T/fio.log" || core_fail "fio reported errors on $dir"
	rm -rf "$dir/fio"
}

for threads in 1 4; do
	core_mount --threads "$threads" --cache auto
	echo "# stress-ng, threads $threads"
	run_stress "$MNT"
	echo "# fio --verify, threads $threads"
	run_fio "$MNT"
	core_umount
done
echo "# core-stress: all passed"
