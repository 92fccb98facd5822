#!/bin/bash
# SPDX-License-Identifier: MIT
# Time to run `true` in a bundle with 20 mounts (binds, tmpfs, proc, sysfs, devpts, mqueue; masked and
# read-only paths) with boxshare (new mount API and mount(2) fallback), Debian's crun and runc, in one run,
# interleaved.
# Prints min and median of each and the ratio boxshare/crun. Bar: boxshare no slower than crun.
#
# usage: bench/run-true.sh BUILD_DIR|BOXSHARE [RUNS]     (bench/run-all.sh passes the build directory)
# The summary is printed and written to bench/out/run-true.txt.
#
# crun 1.8 and runc 1.1 on a hybrid cgroup v1+v2 host: the spec has no cgroupsPath; crun runs with
# --cgroup-manager=disabled and sees the unified hierarchy hidden (see below); runc has no such switch and
# creates its cgroup under the v1 hierarchies. Each runtime gets its own --root state directory.
# Before timing, the same bundle runs once more under each runtime with a process that reports the number of
# mounts it sees, its effective capabilities and its pid, so the summary shows that all did the same work
# (and where they differ: with no process.capabilities in the spec, crun and runc drop every capability).
set -eu

BX=${1:?usage: run-true.sh BUILD_DIR|BOXSHARE [RUNS]}
RUNS=${2:-50}
[ -d "$BX" ] && BX=$BX/src/cli/boxshare
case "$BX" in /*) ;; *) BX=$PWD/$BX ;; esac
OUT=$(cd "$(dirname "$0")" && pwd)/out
[ "$(id -u)" = 0 ] || { echo "run-true: needs root" >&2; exit 77; }
[ -x /bin/busybox ] || { echo "run-true: needs busybox-static" >&2; exit 77; }

# crun 1.8 refuses a hybrid layout ("cgroups in hybrid mode not supported") even with
# --cgroup-manager=disabled: it decides by looking at /sys/fs/cgroup/unified. The benchmark runs in a private
# mount namespace where a tmpfs hides that directory, so crun sees a v1 host and, with cgroups disabled,
# touches none. Every runtime runs in that same namespace; the host is untouched.
if [ -z "${BX_BENCH_NS:-}" ]; then
	export BX_BENCH_NS=1
	exec unshare -m --propagation private "$0" "$@"
fi
if [ -d /sys/fs/cgroup/unified ] && [ "$(stat -f -c %T /sys/fs/cgroup/unified)" = cgroup2fs ]; then
	mount -t tmpfs -o ro,size=4k hide-unified /sys/fs/cgroup/unified
fi

T=$(mktemp -d /tmp/bx-bench-true.XXXXXX)
trap 'rm -rf "$T"' EXIT
B=$T/bundle
R=$B/rootfs
mkdir -p "$R/bin" "$R/proc" "$R/sys" "$R/dev" "$R/etc"
cp /bin/busybox "$R/bin/busybox"
ln -s busybox "$R/bin/true"
ln -s busybox "$R/bin/sh"
ln -s busybox "$R/bin/wc"
ln -s busybox "$R/bin/grep"
for i in 1 2 3 4 5 6 7 8; do mkdir -p "$T/src$i" "$R/data$i"; done
echo a >"$T/f1"
echo b >"$T/f2"
touch "$R/etc/f1" "$R/etc/f2"

binds=""
for i in 1 2 3 4 5 6 7 8; do
	opt='"rbind","rprivate"'
	[ $((i % 2)) = 0 ] && opt='"rbind","ro","nosuid","nodev"'
	binds="$binds{\"destination\":\"/data$i\",\"type\":\"bind\",\"source\":\"$T/src$i\",\"options\":[$opt]},"
done
cat >"$B/config.json" <<EOF
{"ociVersion":"1.0.2","root":{"path":"rootfs"},"hostname":"bench",
 "process":{"terminal":false,"user":{"uid":0,"gid":0},"args":["/bin/true"],"env":["PATH=/bin"],"cwd":"/"},
 "mounts":[
  {"destination":"/proc","type":"proc","source":"proc"},
  {"destination":"/dev","type":"tmpfs","source":"tmpfs","options":["nosuid","strictatime","mode=755","size=65536k"]},
  {"destination":"/dev/pts","type":"devpts","source":"devpts","options":["nosuid","noexec","newinstance","ptmxmode=0666","mode=0620","gid=5"]},
  {"destination":"/dev/shm","type":"tmpfs","source":"shm","options":["nosuid","noexec","nodev","mode=1777","size=65536k"]},
  {"destination":"/dev/mqueue","type":"mqueue","source":"mqueue","options":["nosuid","noexec","nodev"]},
  {"destination":"/sys","type":"sysfs","source":"sysfs","options":["nosuid","noexec","nodev","ro"]},
  {"destination":"/tmp","type":"tmpfs","source":"tmpfs","options":["nosuid","nodev","size=16m"]},
  {"destination":"/run","type":"tmpfs","source":"tmpfs","options":["nosuid","nodev","mode=755"]},
  {"destination":"/var","type":"tmpfs","source":"tmpfs","options":["nosuid","nodev"]},
  {"destination":"/home","type":"tmpfs","source":"tmpfs","options":["nosuid","nodev"]},
  $binds
  {"destination":"/etc/f1","type":"bind","source":"$T/f1","options":["bind","ro"]},
  {"destination":"/etc/f2","type":"bind","source":"$T/f2","options":["bind","ro"]}],
 "linux":{"namespaces":[{"type":"pid"},{"type":"ipc"},{"type":"uts"},{"type":"mount"},{"type":"network"}],
  "maskedPaths":["/proc/acpi","/proc/kcore","/proc/keys","/proc/latency_stats","/proc/timer_list",
                 "/proc/timer_stats","/proc/sched_debug","/proc/scsi","/sys/firmware"],
  "readonlyPaths":["/proc/bus","/proc/fs","/proc/irq","/proc/sys","/proc/sysrq-trigger"]}}
EOF

mkdir -p "$T/crun" "$T/runc"
cmds=(-n boxshare "$BX run --bundle $B bench-bx"
	-n boxshare-legacy "$BX run --legacy-mount --bundle $B bench-bxl")
# Each runtime must run the bundle once before it is timed; one that cannot is reported and left out.
if command -v crun >/dev/null && crun --root "$T/crun" --cgroup-manager=disabled run --bundle "$B" probe-c >/dev/null 2>"$T/crun.err"; then
	cmds+=(-n crun "crun --root $T/crun --cgroup-manager=disabled run --bundle $B bench-c")
else
	echo "run-true: crun left out: $(head -c 300 "$T/crun.err" 2>/dev/null)" >&2
fi
if command -v runc >/dev/null && runc --root "$T/runc" run --bundle "$B" probe-r >/dev/null 2>"$T/runc.err"; then
	cmds+=(-n runc "runc --root $T/runc run --bundle $B bench-r")
else
	echo "run-true: runc left out: $(head -c 300 "$T/runc.err" 2>/dev/null)" >&2
fi
"$BX" run --bundle "$B" probe-bx || { echo "run-true: boxshare cannot run the bundle" >&2; exit 1; }

# Fairness: the same bundle, with a process that reports what it got, under each runtime: the number of mounts
# it sees, its capability set, and whether it is pid 1 (its own pid namespace).
B2=$T/bundle-report
mkdir -p "$B2"
sed -e "s|\"path\":\"rootfs\"|\"path\":\"$R\"|" \
	-e 's|"args":\["/bin/true"\]|"args":["sh","-c","echo $(wc -l < /proc/self/mountinfo) mounts, $(grep CapEff /proc/self/status), pid $$"]|' \
	"$B/config.json" >"$B2/config.json"
report_runtime() { printf '  %-17s %s\n' "$1" "$(shift; "$@" 2>&1 | tr '\n' ' ')"; }
{
echo "run-true: what the process saw under each runtime (same bundle, args replaced):"
report_runtime boxshare "$BX" run --bundle "$B2" rep-bx
report_runtime boxshare-legacy "$BX" run --legacy-mount --bundle "$B2" rep-bxl
case " ${cmds[*]} " in *" crun "*) report_runtime crun crun --root "$T/crun" --cgroup-manager=disabled run --bundle "$B2" rep-c ;; esac
case " ${cmds[*]} " in *" runc "*) report_runtime runc runc --root "$T/runc" run --bundle "$B2" rep-r ;; esac
} >"$T/report.txt"

# Interleaved timing: round r runs every runtime once, starting at a rotating offset, so a change in the
# machine's load hits all of them alike. (hyperfine times all runs of one command, then the next command's:
# on a shared machine whose load swings, that measured the load as much as the runtimes.) Each run is
# fork+exec of the runtime from bash, timed with $EPOCHREALTIME (no extra process).
names=() lines=()
for ((k = 0; k < ${#cmds[@]}; k += 3)); do
	names+=("${cmds[k + 1]}")
	lines+=("${cmds[k + 2]}")
done
for ((w = 0; w < 5; w++)); do
	for ((i = 0; i < ${#lines[@]}; i++)); do
		${lines[i]} >/dev/null 2>"$T/err" || { echo "run-true: ${names[i]} failed: $(head -c 300 "$T/err")" >&2; exit 1; }
	done
done
: >"$T/times"
for ((r = 0; r < RUNS; r++)); do
	for ((k = 0; k < ${#lines[@]}; k++)); do
		i=$(((k + r) % ${#lines[@]}))
		t0=$EPOCHREALTIME
		${lines[i]} >/dev/null 2>"$T/err" || { echo "run-true: ${names[i]} failed: $(head -c 300 "$T/err")" >&2; exit 1; }
		t1=$EPOCHREALTIME
		echo "${names[i]} $t0 $t1" >>"$T/times"
	done
done
mkdir -p "$OUT"
{
echo "run-true: 'true' in a bundle with 20 mounts, 9 masked and 5 read-only paths; $RUNS interleaved runs each"
awk '{ printf "%s %.3f\n", $1, ($3 - $2) * 1000 }' "$T/times" | sort -k1,1 -k2,2g | awk '
	function flush() { if (n) { med[name] = (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2;
		printf "  %-17s min %7.2f ms   median %7.2f ms\n", name, v[1], med[name] } }
	$1 != name { flush(); name = $1; n = 0 }
	{ v[++n] = $2 }
	END {
		flush();
		if (("crun" in med) && ("boxshare" in med))
			printf "  ratio boxshare/crun (median): %.2f  (%s)\n", med["boxshare"] / med["crun"],
				med["boxshare"] <= med["crun"] ? "bar met: no slower than crun" : "SLOWER than crun";
		if (("runc" in med) && ("boxshare" in med))
			printf "  ratio boxshare/runc (median): %.2f\n", med["boxshare"] / med["runc"];
	}'
cat "$T/report.txt"
} | tee "$OUT/run-true.txt"
