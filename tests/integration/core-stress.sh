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
	rm -rf "$dir/stress"; mkdir "$dir/stress"
	# --verify: the stressors that can check their data do; any failure makes stress-ng exit non-zero
	if ! core_bounded $((STRESS_SECONDS + 45)) stress-ng stress-ng --temp-path "$dir/stress" --timeout "${STRESS_SECONDS}s" --verify --metrics-brief \
		--dir 1 --dentry 1 --hdd 1 --hdd-bytes 16M --link 1 --rename 1 --symlink 1 \
		--fallocate 1 --fallocate-bytes 16M --flock 1 --lockf 1 --xattr 1 --fcntl 1 \
		--dirdeep 1 --dirdeep-dirs 1 --seek 1 --seek-size 16M --chmod 1 --chown 1 --utime 1 \
		--getdent 1 --fstat 1 --open 1 --readahead 1 --readahead-bytes 16M \
		--sync-file 1 --sync-file-bytes 16M --mmap 1 --mmap-bytes 16M >"$T/stress.log" 2>&1; then
		grep -vE 'metrc|^stress-ng: info' "$T/stress.log" | sed 's/^/# /' | tail -20
		echo "# FAILED: stress-ng on $dir ($label)"
		CORE_FAILED=$((CORE_FAILED + 1))
		return 1
	fi
	grep -E 'successful run|passed|failed' "$T/stress.log" | sed 's/^/# /'
	rm -rf "$dir/stress"
}

run_fio() {
	local dir=$1
	rm -rf "$dir/fio"; mkdir "$dir/fio"
	# random 4k writes from two jobs then a crc32c verify pass; sequential 1M writes with libaio, verified
	if ! core_bounded 180 fio fio --directory="$dir/fio" --output="$T/fio.log" --group_reporting \
		--name=rand --rw=randwrite --bs=4k --size=24M --numjobs=2 --ioengine=psync \
		--verify=crc32c --do_verify=1 --verify_fatal=1 \
		--name=seq --rw=write --bs=1M --size=48M --ioengine=libaio --iodepth=8 \
		--verify=crc32c --do_verify=1 --verify_fatal=1 >/dev/null 2>"$T/fio.err"; then
		sed 's/^/# /' "$T/fio.log" "$T/fio.err" 2>/dev/null | tail -20
		echo "# FAILED: fio --verify on $dir ($label)"
		CORE_FAILED=$((CORE_FAILED + 1))
		return 1
	fi
	grep -E 'err=|WRITE:|READ:' "$T/fio.log" | sed 's/^/# /'
	if grep -q 'err=' "$T/fio.log" && grep 'err=' "$T/fio.log" | grep -vq 'err= 0'; then
		echo "# FAILED: fio reported errors on $dir ($label)"
		CORE_FAILED=$((CORE_FAILED + 1))
	fi
	rm -rf "$dir/fio"
}

for threads in 1 4; do
	label="threads $threads"
	core_mount --threads "$threads" --cache auto
	echo "# stress-ng, $label"
	run_stress "$MNT"
	if [ -n "$SERVE_PID" ]; then # not killed after a hang
		echo "# fio --verify, $label"
		run_fio "$MNT"
	fi
	core_umount
done
core_finish
