#!/bin/bash
# --seccomp kill: a syscall outside the allowlist kills the server with SIGSYS (the namespace supervisor
# re-raises it and still runs its cleanup); --seccomp log: the same syscalls are let through; --seccomp none: no
# filter. In namespace mode and in none mode (the filter does not depend on namespaces).
. "$(dirname "$0")/sandbox-lib.sh"

share=$tmp/share
mkdir -p "$share"
modes="none"
unshare --mount --pid --net --fork true 2>/dev/null && modes="namespace none" ||
	echo "note: namespaces refused here; testing --sandbox none only" >&2

# LeakSanitizer's own ptrace is allowed in sanitizer builds: do not count on ptrace there.
forbidden="mount socket execve unshare io_uring_setup"
[ "$san" = 1 ] || forbidden="$forbidden ptrace"

for mode in $modes; do
	for sc in $forbidden; do
		out=$tmp/out-$mode-$sc
		rm -f "$tmp/marker"
		"$probe" --sandbox "$mode" --seccomp kill --marker "$tmp/marker" --share "$share" ready forbid "$sc" \
			exit 0 >"$out" 2>/dev/null
		expect_rc $? 159 "$mode/kill: $sc (128 + SIGSYS)"
		expect "$out" "ready"
		grep -q "^forbid $sc" "$out" && fail "$mode/kill: $sc returned instead of killing"
		if [ "$mode" = namespace ]; then
			[ -f "$tmp/marker" ] && ok "cleanup after SIGSYS" || fail "no cleanup after SIGSYS"
		fi
	done

	out=$tmp/out-$mode-log
	"$probe" --sandbox "$mode" --seccomp log --share "$share" forbid socket forbid mount forbid unshare exit 0 \
		>"$out" 2>/dev/null
	expect_rc $? 0 "$mode/log"
	grep -q "^forbid socket: returned [0-9]* (ok)$" "$out" && ok "$mode/log: socket allowed" ||
		fail "$mode/log: socket not allowed: $(cat "$out")"
	# mount and unshare get through the filter, then the kernel refuses them: CAP_SYS_ADMIN was dropped
	expect "$out" "forbid mount: returned -1 (Operation not permitted)"
	expect "$out" "forbid unshare: returned -1 (Operation not permitted)"

	out=$tmp/out-$mode-none
	"$probe" --sandbox "$mode" --seccomp none --share "$share" caps forbid socket exit 0 >"$out" 2>/dev/null
	expect_rc $? 0 "$mode/none"
	expect "$out" "caps Seccomp: 0"
	expect "$out" "caps NoNewPrivs: 1"
done

finish
