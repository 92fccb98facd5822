#!/bin/bash
# SPDX-License-Identifier: MIT
# `boxshare run` and the mount library, end to end, as root with real namespaces (issue 5).
#
# usage: mount-run.sh BOXSHARE api|legacy
#
# Every mount is checked from inside the container, by reading its /proc/self/mountinfo. The suite runs in a
# private mount namespace of its own (unshare -m), so the "host" of these tests is that namespace: whatever
# happens, nothing is left mounted on the real host when the script ends. A busybox rootfs is built into a
# temp dir. With "legacy" every run passes --legacy-mount (mount(2) instead of the new mount API).
set -u

BX=${1:?usage: mount-run.sh BOXSHARE api|legacy}
MODE=${2:?usage: mount-run.sh BOXSHARE api|legacy}
case "$BX" in /*) ;; *) BX=$PWD/$BX ;; esac

skip() { echo "mount-run: skipped: $*" >&2; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root"
[ -x /bin/busybox ] || skip "needs /bin/busybox (Debian package busybox-static)"
command -v unshare >/dev/null || skip "needs unshare (util-linux)"

if [ -z "${BX_MOUNT_TEST_NS:-}" ]; then
	export BX_MOUNT_TEST_NS=1
	unshare -m --propagation private true 2>/dev/null || skip "cannot create a mount namespace here"
	exec unshare -m --propagation private "$0" "$@"
fi

case "$MODE" in
api) FLAG=() ;;
legacy) FLAG=(--legacy-mount) ;;
*) echo "mode must be api or legacy" >&2; exit 2 ;;
esac

T=$(mktemp -d /tmp/bx-mount-run.XXXXXX)
chmod 755 "$T"  # the mapped root of the user-namespace tests walks to the bundle
B=$T/bundle
R=$B/rootfs
KILL_ON_EXIT=
cleanup() {
	for p in $KILL_ON_EXIT; do kill -KILL "$p" 2>/dev/null; done
	# deepest first; the namespace dies with the script anyway, this keeps rm -rf off mounted trees
	grep -F " $T" /proc/self/mountinfo | awk '{print $5}' | sort -r | while read -r m; do
		umount -l "$m" 2>/dev/null
	done
	rm -rf "$T"
}
trap cleanup EXIT

mkdir -p "$R/bin" "$R/proc" "$R/sys" "$R/tmp"
chmod 755 "$B"
cp /bin/busybox "$R/bin/busybox"
for a in $(/bin/busybox --list); do
	[ "$a" = busybox ] || ln -s busybox "$R/bin/$a"
done

N=0
FAILS=0
ok() { N=$((N + 1)); echo "ok $N - $*"; }
fail() {
	N=$((N + 1))
	FAILS=$((FAILS + 1))
	echo "not ok $N - $*"
	echo "# stdout:"; sed 's/^/#   /' "$T/out" | head -40
	echo "# stderr:"; sed 's/^/#   /' "$T/err" | head -20
}
# COND; res DESCRIPTION: report the status of the condition just run
res() {
	local rc=$?
	if [ "$rc" = 0 ]; then ok "$MODE: $1"; else fail "$MODE: $1"; fi
}
contains() { case "$1" in *"$2"*) return 0 ;; esac; return 1; }

NS_ALL='[{"type":"mount"},{"type":"pid"},{"type":"ipc"},{"type":"uts"},{"type":"network"}]'
# A spec without process.capabilities gives the process none (as runc and crun do); the propagation tests
# mount from inside the container, so the default here is CAP_SYS_ADMIN.
SYSADMIN=',"capabilities":{"bounding":["CAP_SYS_ADMIN"],"effective":["CAP_SYS_ADMIN"],"permitted":["CAP_SYS_ADMIN"]}'
# spec ARGS MOUNTS [LINUX_EXTRA] [TOP_EXTRA] [NAMESPACES] [PROCESS_EXTRA (default: $SYSADMIN)]
spec() {
	cat >"$B/config.json" <<EOF
{"ociVersion":"1.0.2","root":{"path":"rootfs"}${4:-},
 "process":{"args":$1,"env":["PATH=/bin"],"cwd":"/"${6:-$SYSADMIN}},
 "mounts":[$2],
 "linux":{"namespaces":${5:-$NS_ALL}${3:-}}}
EOF
}
PROC='{"destination":"/proc","type":"proc","source":"proc"}'
MI='["cat","/proc/self/mountinfo"]'

RC=0
run() { # run the bundle; stdout in $T/out, stderr in $T/err, status in $RC
	"$BX" run --bundle "$B" "${FLAG[@]}" "t$N" >"$T/out" 2>"$T/err"
	RC=$?
}

# mountinfo helpers over the container's output: per-mount options (field 6), the part after " - "
# (fstype source super-options), optional fields, the root (field 4)
mline() { awk -v m="$1" '$5 == m' "$T/out" | head -1; }
mopts() { mline "$1" | awk '{print $6}'; }
mtype() { mline "$1" | sed 's/.* - //' | awk '{print $1}'; }
msuper() { mline "$1" | sed 's/.* - //' | awk '{print $3}'; }
moptional() { mline "$1" | sed 's/ - .*//' | cut -d' ' -f7-; }
has() { case ",$1," in *",$2,"*) return 0 ;; esac; return 1; }
# host side: is MP mounted in the test namespace?
host_mounted() { awk -v m="$1" '$5 == m {f=1} END {exit !f}' /proc/self/mountinfo; }

# ---- the process ----

spec '["true"]' ''
run
[ "$RC" = 0 ]; res "true exits 0"

spec '["sh","-c","exit 7"]' ''
run
[ "$RC" = 7 ]; res "exit status is passed through"

# without a pid namespace the process is not an init, so a signal kills it
NS_NOPID='[{"type":"mount"},{"type":"ipc"},{"type":"uts"},{"type":"network"}]'
spec '["sh","-c","kill -TERM $$; sleep 1"]' '' '' '' "$NS_NOPID"
run
[ "$RC" = 143 ]; res "killed by SIGTERM gives 143"

spec '["sleep","10"]' '' '' '' "$NS_NOPID"
start=$(date +%s)
"$BX" run --bundle "$B" "${FLAG[@]}" fwd >"$T/out" 2>"$T/err" &
pid=$!
sleep 0.3
kill -TERM "$pid"
wait "$pid"
RC=$?
[ "$RC" = 143 -a $(($(date +%s) - start)) -lt 5 ]; res "SIGTERM to boxshare is forwarded (status 143, at once)"

spec '["sh","-c","kill -KILL $$"]' '' '' '' "$NS_NOPID"
run
[ "$RC" = 137 ]; res "killed by SIGKILL gives 137"

# boxshare itself killed: the container goes with it (its init has PDEATHSIG), nothing is left running
spec '["sleep","31337"]' ''
"$BX" run --bundle "$B" "${FLAG[@]}" orphan >"$T/out" 2>"$T/err" &
pid=$!
sleep 0.3
{ kill -KILL "$pid"; wait "$pid"; } 2>/dev/null
sleep 0.2
orphans() { for c in /proc/[0-9]*/cmdline; do { tr '\0' ' ' <"$c"; } 2>/dev/null | grep -q '^sleep 31337 ' && echo "${c%/cmdline}"; done; }
[ -z "$(orphans)" ]; res "killing boxshare run kills the container"
for o in $(orphans); do kill -KILL "${o#/proc/}" 2>/dev/null; done

# process.terminal: a pty of the container's devpts is the controlling terminal, stdio and /dev/console;
# boxshare relays it (the test's stdin is not a terminal, then it is one, from script(1))
TTYCMD="tty; test -t 0 -a -t 1 -a -t 2 && echo stdio-tty; stat -c %t:%T:%u /dev/console; cut -d' ' -f7 /proc/self/stat; exit 3"
spec "[\"sh\",\"-c\",\"$TTYCMD\"]" "$PROC" '' '' '' ',"terminal":true,"user":{"uid":1000,"gid":1000}'
"$BX" run --bundle "$B" "${FLAG[@]}" tty1 </dev/null >"$T/out" 2>"$T/err"
RC=$?
[ "$RC" = 3 ] && [ "$(tr -d '\r' <"$T/out" | tr '\n' ' ')" = "/dev/pts/0 stdio-tty 88:0:1000 34816 " ]
res "terminal: the process's stdio and controlling terminal are a pty of its own, bound on /dev/console"
if command -v script >/dev/null; then
	spec '["sh","-c","read x; echo got:$x; stty -a | grep -o \"rows [0-9]*\""]' "$PROC" '' '' '' ',"terminal":true'
	printf 'hello\n' | script -qec "stty rows 33 cols 99; $BX run --bundle $B ${FLAG[*]} tty2" /dev/null >"$T/out" 2>"$T/err"
	RC=$?
	[ "$RC" = 0 ] && grep -q "^got:hello" "$T/out" && grep -q "^rows 33" "$T/out"
	res "terminal: input from boxshare's terminal reaches the process, and the size follows"
else
	echo "# script(1) missing: the terminal input test is left out"
fi

"$BX" run --help >"$T/out" 2>"$T/err"
[ $? = 0 ] && grep -q "usage: boxshare run" "$T/out" && grep -q -- "--legacy-mount" "$T/out"; res "run --help"
"$BX" run --bundle "$B" >"$T/out" 2>"$T/err"
[ $? = 2 ] && grep -q "missing the container ID" "$T/err"; res "a missing ID is a usage error"
"$BX" run --bundle "$B" "bad/id" >"$T/out" 2>"$T/err"
[ $? = 2 ] && grep -q "container ID 'bad/id' is not valid" "$T/err"; res "a bad ID is a usage error"
"$BX" run --bundle "$T/nonexistent" x >"$T/out" 2>"$T/err"
[ $? = 2 ] && grep -q "open bundle $T/nonexistent: No such file" "$T/err"; res "a missing bundle is named"

# joining an existing pid namespace (linux.namespaces[].path): the container's process lives in it, next
# to its pid 1; the runtime goes back to its own namespace for what it forks later
unshare --pid --fork sleep 31338 &
holder=$!
hpid=
for i in $(seq 50); do hpid=$(pgrep -P "$holder" -x sleep) && break; sleep 0.05; done
KILL_ON_EXIT="$hpid $holder"
NS_JOINPID="[{\"type\":\"mount\"},{\"type\":\"pid\",\"path\":\"/proc/$hpid/ns/pid\"},{\"type\":\"ipc\"}]"
# the count of pids is taken by the shell itself (a glob): `ls /proc | grep -c` raced with the fork of grep
spec '["sh","-c","tr \"\\0\" \" \" < /proc/1/cmdline; echo; echo $$; set -- /proc/[0-9]*; echo $#"]' "$PROC" '' '' "$NS_JOINPID"
run
[ "$RC" = 0 ] && [ "$(sed -n 1p "$T/out")" = "sleep 31338 " ] && [ "$(sed -n 2p "$T/out")" != 1 ] && [ "$(sed -n 3p "$T/out")" = 2 ]
res "joined pid namespace: pid 1 is its own init, the process is a member"
# the namespace's pid 1 takes only SIGKILL from outside; with it gone, unshare returns
kill -KILL "$hpid" 2>/dev/null; wait "$holder" 2>/dev/null

spec '["sh","-c","id -u; id -g; id -G; pwd; echo $FOO"]' '' '' '' '' \
	',"user":{"uid":1000,"gid":1001,"additionalGids":[5,7]},"env":["PATH=/bin","FOO=bar"],"cwd":"/tmp","noNewPrivileges":true'
run
[ "$RC" = 0 -a "$(tr '\n' ' ' <"$T/out")" = "1000 1001 1001 5 7 /tmp bar " ]; res "user, groups, cwd, env"

# the rest of config.json that the runtime honours (the lifecycle's part) applies to run as well
spec '["sh","-c","grep -E ^CapEff /proc/self/status"]' "$PROC" '' '' '' \
	',"capabilities":{"bounding":["CAP_KILL"],"effective":["CAP_KILL"],"permitted":["CAP_KILL"]}'
run
[ "$RC" = 0 ] && [ "$(awk '{print $2}' "$T/out")" = 0000000000000020 ]; res "process.capabilities apply"
spec '["true"]' '' '' ',"hooks":{"prestart":[{"path":"/bin/true"}]}'
run
[ "$RC" = 2 ] && grep -q "hooks" "$T/err"; res "what run cannot do (hooks) is refused, not ignored"

spec '["nonexistent-program"]' ''
run
[ "$RC" = 1 ] && grep -q "exec nonexistent-program: not found" "$T/err"; res "a missing program is a clear error"

spec '["hostname"]' '' '' ',"hostname":"box-1"'
run
[ "$RC" = 0 -a "$(cat "$T/out")" = box-1 ]; res "hostname"

spec '["sh","-c","cat /sys/class/net/lo/operstate; ls /sys/class/net"]' \
	'{"destination":"/sys","type":"sysfs","source":"sysfs"}'
run
[ "$RC" = 0 ] && [ "$(tr '\n' ' ' <"$T/out")" = "unknown lo " ]; res "network namespace: only lo, and it is up"

# ---- no /proc, /sys or cgroup in the spec; the default /dev ----

spec '["sh","-c","test ! -e /proc/self && test ! -e /sys/kernel && test -c /dev/null && test -c /dev/zero && test -c /dev/full && test -c /dev/tty && test -c /dev/random && test -c /dev/urandom && test -L /dev/ptmx && test -L /dev/fd && test -d /dev/pts && test -d /dev/shm && echo x > /dev/null && head -c 4 /dev/zero | wc -c"]' ''
run
[ "$RC" = 0 -a "$(cat "$T/out")" = 4 ]; res "a spec without /proc, /sys, cgroup runs, with a default /dev"

spec "$MI" "$PROC"
run
[ "$(mtype /dev)" = tmpfs ] && has "$(mopts /dev)" nosuid; res "default /dev is a nosuid tmpfs"
[ "$(mtype /dev/pts)" = devpts ] && has "$(msuper /dev/pts)" ptmxmode=666; res "default /dev/pts is a new devpts instance"
[ "$(mtype /dev/shm)" = tmpfs ] && has "$(mopts /dev/shm)" noexec; res "default /dev/shm is a tmpfs"

# ---- each filesystem type and its options ----

mkdir -p "$T/lower" "$T/upper" "$T/work"
echo lowerfile >"$T/lower/f"
spec '["sh","-c","cat /proc/self/mountinfo; cat /ov/f; echo new > /ov/g"]' "$PROC,
 {\"destination\":\"/t\",\"type\":\"tmpfs\",\"source\":\"tmpfs\",\"options\":[\"nosuid\",\"nodev\",\"noexec\",\"size=2m\",\"mode=700\",\"nr_inodes=100\",\"uid=5\",\"gid=6\"]},
 {\"destination\":\"/ts\",\"type\":\"tmpfs\",\"options\":[\"sync\",\"dirsync\",\"noatime\",\"nodiratime\"]},
 {\"destination\":\"/tt\",\"type\":\"tmpfs\",\"options\":[\"strictatime\",\"ro\"]},
 {\"destination\":\"/sys\",\"type\":\"sysfs\",\"source\":\"sysfs\",\"options\":[\"nosuid\",\"noexec\",\"nodev\",\"ro\"]},
 {\"destination\":\"/dev/pts\",\"type\":\"devpts\",\"source\":\"devpts\",\"options\":[\"nosuid\",\"noexec\",\"newinstance\",\"ptmxmode=0600\",\"mode=0600\",\"gid=5\"]},
 {\"destination\":\"/dev/mqueue\",\"type\":\"mqueue\",\"source\":\"mqueue\",\"options\":[\"nosuid\",\"noexec\",\"nodev\"]},
 {\"destination\":\"/cg\",\"type\":\"cgroup2\",\"source\":\"cgroup2\",\"options\":[\"nosuid\",\"noexec\",\"nodev\",\"relatime\"]},
 {\"destination\":\"/ov\",\"type\":\"overlay\",\"source\":\"overlay\",\"options\":[\"lowerdir=$T/lower\",\"upperdir=$T/upper\",\"workdir=$T/work\"]}"
run
[ "$RC" = 0 ]; res "all filesystem types mount (status $RC)"
[ "$(mtype /proc)" = proc ]; res "proc"
o=$(mopts /t) s=$(msuper /t)
[ "$(mtype /t)" = tmpfs ] && has "$o" nosuid && has "$o" nodev &&
	has "$o" noexec && has "$s" size=2048k && has "$s" mode=700 && has "$s" nr_inodes=100 && has "$s" uid=5 && has "$s" gid=6; res "tmpfs nosuid,nodev,noexec,size,mode,nr_inodes,uid,gid"
o=$(mopts /ts) s=$(msuper /ts)
has "$s" sync && has "$s" dirsync && has "$o" noatime && has "$o" nodiratime; res "sync, dirsync, noatime, nodiratime"
o=$(mopts /tt)
has "$o" ro && ! has "$o" relatime && ! has "$o" noatime; res "ro, strictatime"
o=$(mopts /sys)
[ "$(mtype /sys)" = sysfs ] && has "$o" ro && has "$o" nosuid && has "$o" noexec && has "$o" nodev; res "sysfs ro,nosuid,nodev,noexec"
s=$(msuper /dev/pts)
[ "$(mtype /dev/pts)" = devpts ] && has "$s" ptmxmode=600 && has "$s" mode=600 && has "$s" gid=5; res "devpts newinstance,ptmxmode,mode,gid"
[ "$(mtype /dev/mqueue)" = mqueue ] && has "$(mopts /dev/mqueue)" nodev; res "mqueue"
[ "$(mtype /cg)" = cgroup2 ] && has "$(mopts /cg)" relatime; res "cgroup2"
[ "$(mtype /ov)" = overlay ] && grep -qx lowerfile "$T/out" && [ "$(cat "$T/upper/g")" = new ]; res "overlay lowerdir,upperdir,workdir"

NS_CG='[{"type":"mount"},{"type":"pid"},{"type":"ipc"},{"type":"uts"},{"type":"network"},{"type":"cgroup"}]'
spec '["sh","-c","grep ^0:: /proc/self/cgroup; cat /proc/self/mountinfo"]' "$PROC,
 {\"destination\":\"/cg\",\"type\":\"cgroup2\",\"source\":\"cgroup2\"}" '' '' "$NS_CG"
run
[ "$RC" = 0 ] && [ "$(sed -n 1p "$T/out")" = "0::/" ] && [ "$(mline /cg | awk '{print $4}')" = / ]
res "cgroup namespace: the container's cgroup is its root, and so is the cgroup2 mount's"

# ---- binds ----

mkdir -p "$T/src/dir" "$T/tree"
echo hostfile >"$T/file"
mount -t tmpfs tree "$T/tree" && mkdir "$T/tree/sub" && mount -t tmpfs sub "$T/tree/sub"
spec '["sh","-c","cat /proc/self/mountinfo; cat /etc/hostfile; touch /b/x 2>&1; touch /rro/sub/x 2>&1; touch /ro1/sub/x && echo sub-rw"]' "$PROC,
 {\"destination\":\"/b\",\"type\":\"bind\",\"source\":\"$T/src\",\"options\":[\"bind\",\"ro\",\"nosuid\",\"nodev\",\"noexec\",\"noatime\"]},
 {\"destination\":\"/etc/hostfile\",\"type\":\"bind\",\"source\":\"$T/file\",\"options\":[\"bind\",\"ro\"]},
 {\"destination\":\"/nb\",\"type\":\"bind\",\"source\":\"$T/tree\",\"options\":[\"bind\"]},
 {\"destination\":\"/rb\",\"type\":\"bind\",\"source\":\"$T/tree\",\"options\":[\"rbind\"]},
 {\"destination\":\"/rro\",\"type\":\"bind\",\"source\":\"$T/tree\",\"options\":[\"rbind\",\"rro\",\"rnosuid\",\"rnoexec\",\"rnodev\",\"rnoatime\"]},
 {\"destination\":\"/ro1\",\"type\":\"bind\",\"source\":\"$T/tree\",\"options\":[\"rbind\",\"ro\"]},
 {\"destination\":\"/sh\",\"type\":\"bind\",\"source\":\"$T/tree\",\"options\":[\"rbind\",\"rshared\"]},
 {\"destination\":\"/ub\",\"type\":\"bind\",\"source\":\"$T/src\",\"options\":[\"bind\",\"unbindable\"]},
 {\"destination\":\"/pv\",\"source\":\"$T/src\",\"options\":[\"rbind\",\"private\"]}"
run
[ "$RC" = 0 ]; res "binds mount (status $RC)"
o=$(mopts /b)
has "$o" ro && has "$o" nosuid && has "$o" nodev && has "$o" noexec &&
	has "$o" noatime && grep -q "touch: /b/x: Read-only file system" "$T/out"; res "bind of a directory: ro,nosuid,nodev,noexec,noatime"
[ -n "$(mline /etc/hostfile)" ] && grep -qx hostfile "$T/out" && has "$(mopts /etc/hostfile)" ro; res "bind of a single file"
[ -n "$(mline /nb)" -a -z "$(mline /nb/sub)" ]; res "bind does not carry submounts"
[ -n "$(mline /rb)" -a -n "$(mline /rb/sub)" ]; res "rbind carries submounts"
o=$(mopts /rro/sub)
has "$(mopts /rro)" ro && has "$o" ro && has "$o" nosuid &&
	has "$o" noexec && has "$o" nodev && has "$o" noatime && grep -q "touch: /rro/sub/x: Read-only file system" "$T/out"; res "rro,rnosuid,rnoexec,rnodev,rnoatime reach the submounts"
has "$(mopts /ro1)" ro && ! has "$(mopts /ro1/sub)" ro && grep -qx sub-rw "$T/out"; res "ro (not rro) leaves submounts writable"
contains "$(moptional /sh)" shared: && contains "$(moptional /sh/sub)" shared:; res "rshared: the mount and its submounts are shared"
contains "$(moptional /ub)" unbindable; res "unbindable"
[ -n "$(mline /pv)" -a -z "$(moptional /pv)" ]; res "private (and a bind without a type)"

# clearing flags: a host mount with ro,nosuid,nodev,noexec (per mount, a bind remount) and a submount alike
mkdir -p "$T/flags"
mount -t tmpfs flags "$T/flags" && mkdir "$T/flags/sub" && mount -t tmpfs fsub "$T/flags/sub" &&
	mount -o remount,bind,ro,nosuid,nodev,noexec "$T/flags" && mount -o remount,bind,ro,nosuid,nodev,noexec "$T/flags/sub"
spec "$MI" "$PROC,
 {\"destination\":\"/fl\",\"type\":\"bind\",\"source\":\"$T/flags\",\"options\":[\"bind\",\"rw\",\"suid\",\"dev\",\"exec\"]},
 {\"destination\":\"/frr\",\"type\":\"bind\",\"source\":\"$T/flags\",\"options\":[\"rbind\",\"rrw\",\"rsuid\",\"runbindable\"]},
 {\"destination\":\"/fsh\",\"type\":\"bind\",\"source\":\"$T/flags\",\"options\":[\"rbind\",\"shared\"]}"
run
o=$(mopts /fl)
[ "$RC" = 0 ] && has "$o" rw && ! has "$o" nosuid && ! has "$o" nodev && ! has "$o" noexec; res "rw, suid, dev, exec clear the flags of a bind"
o=$(mopts /frr/sub)
has "$o" rw && ! has "$o" nosuid && has "$o" nodev && has "$o" noexec && has "$(mopts /frr)" rw
res "rrw, rsuid clear them on every submount, and leave the others"
contains "$(moptional /frr/sub)" unbindable; res "runbindable reaches the submounts"
contains "$(moptional /fsh)" shared: && ! contains "$(moptional /fsh/sub)" shared:; res "shared (not rshared) is for the top mount only"

ln -s "$T/file" "$T/filelink"
spec '["sh","-c","readlink /nf; cat /f"]' "
 {\"destination\":\"/nf\",\"type\":\"bind\",\"source\":\"$T/filelink\",\"options\":[\"bind\",\"src-nofollow\"]},
 {\"destination\":\"/f\",\"type\":\"bind\",\"source\":\"$T/filelink\",\"options\":[\"bind\"]}"
run
[ "$RC" = 0 ] && [ "$(tr '\n' ' ' <"$T/out")" = "$T/file hostfile " ]; res "src-nofollow binds the symlink itself, a plain bind what it points to"

# bind of an unbindable mount: EINVAL, with the mount named
spec "$MI" "$PROC,
 {\"destination\":\"/u\",\"type\":\"tmpfs\",\"options\":[\"unbindable\"]},
 {\"destination\":\"/v\",\"type\":\"bind\",\"source\":\"$R/u\",\"options\":[\"bind\"]}"
run
[ "$RC" = 1 ] && grep -q "bind $R/u on /v: .*invalid argument" "$T/err"; res "bind of an unbindable mount fails with EINVAL"

# ---- propagation between the container and the host ----

mkdir -p "$T/pshared"
mount -t tmpfs pshared "$T/pshared" && mount --make-shared "$T/pshared"
hostgroup=$(awk -v m="$T/pshared" '$5 == m' /proc/self/mountinfo | grep -o 'shared:[0-9]*')
spec '["sh","-c","cat /proc/self/mountinfo; mkdir -p /ps/fromcont && mount -t tmpfs fromcont /ps/fromcont"]' "$PROC,
 {\"destination\":\"/ps\",\"type\":\"bind\",\"source\":\"$T/pshared\",\"options\":[\"rbind\",\"rshared\"]}" \
	',"rootfsPropagation":"rshared"'
run
[ "$RC" = 0 ] && contains " $(moptional /ps) " " $hostgroup "; res "rshared: the bind keeps the host's peer group ($hostgroup)"
host_mounted "$T/pshared/fromcont"; res "rshared: a mount made inside appears on the host"
umount -l "$T/pshared/fromcont" 2>/dev/null

spec '["sh","-c","mkdir -p /pp/fromcont2 && mount -t tmpfs fromcont2 /pp/fromcont2 && cat /proc/self/mountinfo"]' "$PROC,
 {\"destination\":\"/pp\",\"type\":\"bind\",\"source\":\"$T/pshared\",\"options\":[\"rbind\",\"rprivate\"]}"
run
[ "$RC" = 0 -a -n "$(mline /pp/fromcont2)" ]; res "private: a mount made inside exists inside"
! host_mounted "$T/pshared/fromcont2"; res "private: ... and does not appear on the host"

mkdir -p "$T/pshared/fromhost"
spec '["sh","-c","i=0; while [ ! -e /sl/fromhost/marker ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done; test -e /sl/fromhost/marker && echo RECEIVED; mkdir -p /sl/fromslave && mount -t tmpfs fromslave /sl/fromslave; cat /proc/self/mountinfo"]' "$PROC,
 {\"destination\":\"/sl\",\"type\":\"bind\",\"source\":\"$T/pshared\",\"options\":[\"rbind\",\"rslave\"]}" \
	',"rootfsPropagation":"rslave"'
"$BX" run --bundle "$B" "${FLAG[@]}" slave >"$T/out" 2>"$T/err" &
pid=$!
sleep 0.3
mount -t tmpfs fromhost "$T/pshared/fromhost" && touch "$T/pshared/fromhost/marker"
wait "$pid"
RC=$?
[ "$RC" = 0 ] && grep -qx RECEIVED "$T/out" && contains "$(moptional /sl)" master:; res "slave: receives the host's mounts"
! host_mounted "$T/pshared/fromslave"; res "slave: sends none"
umount -l "$T/pshared/fromhost" 2>/dev/null

# ---- the rootfs on a shared mount of the host ----
# Step 2 of the root's preparation once ran for "shared" only: with a non-recursive propagation the mount
# holding the rootfs stayed a peer of the host's, so the rootfs bind and every mount of the container
# appeared on the host (and stayed there when pivot_root then refused the shared parent).
mkdir -p "$T/shr"
mount -t tmpfs shr "$T/shr" && mount --make-shared "$T/shr"
cp -a "$R" "$T/shr/rootfs"
B0=$B
B=$T/shr
for p in private slave unbindable runbindable; do
	spec '["sh","-c","mkdir -p /tmp/in && mount -t tmpfs in /tmp/in && cat /proc/self/mountinfo"]' "$PROC" \
		",\"rootfsPropagation\":\"$p\""
	run
	[ "$RC" = 0 ] && ! grep -qF " $T/shr/rootfs" /proc/self/mountinfo; res "rootfsPropagation $p, rootfs on a shared mount: runs, nothing reaches the host"
done
contains "$(moptional /)" unbindable && ! contains "$(moptional /tmp/in)" unbindable; res "runbindable: the root is unbindable, binds still work"
B=$B0
grep -F " $T/shr/" /proc/self/mountinfo | awk '{print $5}' | sort -r | while read -r m; do umount -l "$m"; done
umount -l "$T/shr"

# ---- a destination that is the root itself ----
ln -s / "$R/toroot"
for d in / /toroot /tmp/..; do
	spec "$MI" "$PROC, {\"destination\":\"$d\",\"type\":\"tmpfs\",\"options\":[\"ro\"]}"
	run
	[ "$RC" = 1 ] && grep -q "mount tmpfs on $d: invalid argument (the destination is the container's root" "$T/err"
	res "destination $d (the root) is refused"
done
rm -f "$R/toroot"

# ---- no fd of the runtime reaches the container's process ----
spec '["sh","-c","ls /proc/$$/fd | tr \"\\n\" \" \""]' "$PROC"
run
[ "$RC" = 0 ] && [ "$(cat "$T/out")" = "0 1 2 " ]; res "the process has only fds 0, 1, 2 open (got: $(cat "$T/out"))"

# ---- masked and read-only paths, read-only root ----

mkdir -p "$R/secretdir" "$R/rodir" "$R/run/boxshare"
echo secret >"$R/secretdir/f"
echo secret >"$R/secretfile"
spec '["sh","-c","wc -c < /secretfile; test -d /secretdir && ls -A /secretdir | wc -l; echo x 2>&1 > /rodir/f; echo x 2>&1 > /secretdir/f; echo x 2>&1 > /secretfile; echo 1 2>&1 > /proc/sys/kernel/ns_last_pid; cat /proc/self/mountinfo"]' "$PROC" \
	',"maskedPaths":["/secretdir","/secretfile","/nonexistent","/proc/kcore"],"readonlyPaths":["/rodir","/proc/sys","/missing"]'
run
[ "$RC" = 0 ]; res "masked and readonly paths apply (status $RC)"
[ "$(sed -n 1p "$T/out")" = 0 ]; res "a masked file reads empty"
[ "$(sed -n 2p "$T/out")" = 0 ]; res "a masked directory is still a directory, and empty"
grep -q "/rodir/f: Read-only file system" "$T/out"; res "a write to a read-only path fails with EROFS"
grep -q "/secretdir/f: Read-only file system" "$T/out"; res "a write into a masked directory fails with EROFS"
grep -q "ns_last_pid: Read-only file system" "$T/out" && has "$(mopts /proc/sys)" ro; res "/proc/sys is read-only"
[ "$(mtype /secretdir)" = tmpfs ] &&
	[ "$(mline /secretdir | awk '{print $4}')" = / ] && ! awk '$4 ~ /^\/run/' "$T/out" | grep -q .; res "masked dir is its own empty tmpfs (nothing under /run shown)"
[ "$(mline /secretfile | awk '{print $4}')" = /null ]; res "masked file is /dev/null"

spec '["sh","-c","touch /x 2>&1; cat /proc/self/mountinfo"]' "$PROC" '' ',"root":{"path":"rootfs","readonly":true}'
run
[ "$RC" = 0 ] && grep -q "touch: /x: Read-only file system" "$T/out" && has "$(mopts /)" ro; res "root.readonly"

# ---- a read-only rootfs ----
# Existing mount points are enough; a missing one is a clear error naming the mount and the call. With
# root.readonly on a writable rootfs, missing mount points are created first, and the root made read-only last.
mkdir -p "$R/dev"
mount --bind "$R" "$R" && mount -o remount,bind,ro "$R"
spec '["sh","-c","touch /x 2>&1; test -c /dev/null && echo dev-ok"]' "$PROC"
run
[ "$RC" = 0 ] && grep -q "touch: /x: Read-only file system" "$T/out" && grep -qx dev-ok "$T/out"; res "read-only rootfs: runs when the mount points exist"
spec "$MI" "$PROC, {\"destination\":\"/missing/t\",\"type\":\"tmpfs\"}"
run
[ "$RC" = 1 ] && grep -q "mount tmpfs on /missing/t: mkdirat: read-only file system (creating the mount point inside the root)" "$T/err"
res "read-only rootfs: a missing mount point is a clear error"
umount -l "$R"
spec "$MI" "$PROC, {\"destination\":\"/missing/t\",\"type\":\"tmpfs\"}" '' ',"root":{"path":"rootfs","readonly":true}'
run
[ "$RC" = 0 ] && [ "$(mtype /missing/t)" = tmpfs ] && has "$(mopts /)" ro; res "root.readonly: missing mount points are created before the root is made read-only"
rm -rf "$R/missing" "$R/dev"

# ---- hostile bundles ----

mkdir -p "$T/hostdir" "$T/hostdir2"
rm -rf "$R/etc"
ln -s /etc "$R/etc"
spec "$MI" "$PROC, {\"destination\":\"/etc/x\",\"type\":\"tmpfs\"}"
run
[ ! -e /etc/x ] && ! host_mounted /etc/x; res "etc -> /etc in the rootfs: a mount at /etc/x never reaches the host's /etc"
rm -f "$R/etc"
mkdir -p "$R/etc"
ln -s "$T/hostdir" "$R/evil"
spec "$MI" "$PROC, {\"destination\":\"/evil/y\",\"type\":\"tmpfs\"},
 {\"destination\":\"/../../../..$T/hostdir2/z\",\"type\":\"tmpfs\"}"
run
[ "$RC" = 0 -a -d "$R$T/hostdir/y" -a ! -e "$T/hostdir/y" ] &&
	[ -n "$(mline "$T/hostdir/y")" ]; res "an absolute symlink in the rootfs is followed inside it"
[ -d "$R$T/hostdir2/z" -a ! -e "$T/hostdir2/z" ] && [ -n "$(mline "$T/hostdir2/z")" ]; res "a destination with .. stays inside"
rm -f "$R/evil"
# The options go to the mount just made, never to what the destination's path leads to afterwards: here
# "/la/l/.." is /la before the bind, but the root once the bind's own "l -> /" is in the way. (With mount(2)
# the target was once reopened by that path, and "ro" landed on the container's root.)
mkdir -p "$T/lsrc"
ln -s / "$T/lsrc/l"
spec '["sh","-c","touch /la/x 2>&1; touch /y && echo root-rw"]' "$PROC, {\"destination\":\"/la/l/..\",\"type\":\"bind\",\"source\":\"$T/lsrc\",\"options\":[\"bind\",\"ro\"]}"
run
[ "$RC" = 0 ] && grep -q "touch: /la/x: Read-only file system" "$T/out" && grep -qx root-rw "$T/out"
res "options apply to the new mount, not to where its destination path leads after it"
rm -rf "$R/la" "$R/y"
# /proc/1/root is the init's root, the host's until pivot_root: a magic link is never followed
spec "$MI" "$PROC, {\"destination\":\"/proc/1/root$T/hostdir/m\",\"type\":\"tmpfs\"}"
run
[ "$RC" = 1 ] && grep -q "too many levels of symbolic links" "$T/err" && [ ! -e "$T/hostdir/m" ]
res "a destination through /proc's magic links is refused"

# ---- user namespace and idmap ----

mkdir -p "$T/idsrc"
touch "$T/idsrc/rootfile"
chown -R 100000:100000 "$R"
NS_USER='[{"type":"mount"},{"type":"pid"},{"type":"ipc"},{"type":"uts"},{"type":"network"},{"type":"user"}]'
MAPS=',"uidMappings":[{"containerID":0,"hostID":100000,"size":65536}],"gidMappings":[{"containerID":0,"hostID":100000,"size":65536}]'
spec '["sh","-c","stat -c %u /idm/rootfile; stat -c %u /plain/rootfile; echo x > /dev/null && echo null-ok; cat /proc/self/mountinfo"]' "$PROC,
 {\"destination\":\"/idm\",\"type\":\"bind\",\"source\":\"$T/idsrc\",\"options\":[\"rbind\",\"idmap\"]},
 {\"destination\":\"/plain\",\"type\":\"bind\",\"source\":\"$T/idsrc\",\"options\":[\"rbind\"]},
 {\"destination\":\"/idr\",\"type\":\"bind\",\"source\":\"$T/tree\",\"options\":[\"rbind\",\"ridmap\"]},
 {\"destination\":\"/idn\",\"type\":\"bind\",\"source\":\"$T/tree\",\"options\":[\"rbind\",\"idmap\"]}" "$MAPS" '' "$NS_USER"
run
if [ "$MODE" = api ]; then
	[ "$RC" = 0 ] &&
		[ "$(sed -n 1,3p "$T/out" | tr '\n' ' ')" = "0 65534 null-ok " ] && has "$(mopts /idm)" idmapped; res "user namespace: idmapped bind maps the owner, a plain bind does not"
	has "$(mopts /idr)" idmapped && has "$(mopts /idr/sub)" idmapped && has "$(mopts /idn)" idmapped &&
		! has "$(mopts /idn/sub)" idmapped; res "ridmap idmaps the submounts too, idmap the top mount only"
else
	[ "$RC" = 1 ] &&
		grep -q "bind $T/idsrc on /idm: .*operation not supported (idmapped mounts need mount_setattr" "$T/err"; res "user namespace: idmap with mount(2) is refused clearly"
fi
# The idmapped tree is cloned in the host's namespace: once it was left in the host's peer group, so a mount
# made under it in the container (here a spec mount) appeared on the host.
mkdir -p "$T/pshared/idsub"
spec "$MI" "$PROC,
 {\"destination\":\"/idm\",\"type\":\"bind\",\"source\":\"$T/pshared\",\"options\":[\"rbind\",\"idmap\"]},
 {\"destination\":\"/idm/idsub\",\"type\":\"tmpfs\"}" "$MAPS" '' "$NS_USER"
run
if [ "$MODE" = api ]; then
	[ "$RC" = 0 ] && [ -n "$(mline /idm/idsub)" ] && ! host_mounted "$T/pshared/idsub" && [ -z "$(moptional /idm)" ]
	res "idmapped bind of a shared host mount is private: a mount under it stays in the container"
fi
umount -l "$T/pshared/idsub" 2>/dev/null
spec '["sh","-c","stat -c %u:%g /idm2/rootfile"]' "
 {\"destination\":\"/idm2\",\"type\":\"bind\",\"source\":\"$T/idsrc\",\"options\":[\"rbind\",\"idmap\"],
  \"uidMappings\":[{\"containerID\":0,\"hostID\":1234,\"size\":1}],\"gidMappings\":[{\"containerID\":0,\"hostID\":4321,\"size\":1}]}"
run
if [ "$MODE" = api ]; then
	[ "$RC" = 0 ] && [ "$(cat "$T/out")" = 1234:4321 ]; res "idmap with the mount's own uidMappings/gidMappings (no user namespace)"
else
	[ "$RC" = 1 ] && grep -q "idmapped mounts need mount_setattr" "$T/err"; res "idmap with mount mappings and mount(2) is refused clearly"
fi
spec '["sh","-c","id -u; echo x > /dev/null && echo null-ok"]' "$PROC" "$MAPS" '' "$NS_USER"
run
[ "$RC" = 0 ] && [ "$(tr '\n' ' ' <"$T/out")" = "0 null-ok " ]; res "user namespace: default /dev with bound device nodes"
spec "[\"sh\",\"-c\",\"$TTYCMD\"]" "$PROC" "$MAPS" '' "$NS_USER" ',"terminal":true,"user":{"uid":1000,"gid":1000}'
"$BX" run --bundle "$B" "${FLAG[@]}" tty3 </dev/null >"$T/out" 2>"$T/err"
RC=$?
[ "$RC" = 3 ] && [ "$(tr -d '\r' <"$T/out" | tr '\n' ' ')" = "/dev/pts/0 stdio-tty 88:0:1000 34816 " ]
res "user namespace: the terminal works the same (pty owned by the process's mapped uid)"
chown -R 0:0 "$R"

# ---- errors name the field, the mount, the syscall ----

spec "$MI" "$PROC, {\"destination\":\"/x\",\"type\":\"bind\",\"source\":\"/tmp\",\"options\":[\"rbindx\"]}"
run
[ "$RC" = 2 ] && grep -q 'mounts\[1\].options\[0\]: unknown option "rbindx"' "$T/err"; res "a bad option names the field"
spec "$MI" "$PROC, {\"destination\":\"/ov\",\"type\":\"overlay\",\"options\":[\"lowerdir=$T/nonexistent\",\"upperdir=$T/upper\",\"workdir=$T/work\"]}"
run
[ "$RC" = 1 ] &&
	grep -Eq "mount overlay on /ov: (fsconfig|mount): no such file or directory" "$T/err"; res "a refused mount names the mount, the target and the syscall"

# ---- nothing left behind ----

! grep -qF " $B" /proc/self/mountinfo; res "no mount left under the bundle"

echo "1..$N"
[ "$FAILS" = 0 ]
