#!/bin/bash
# Prepare the guest kernel for the virtio-fs guest tests and benchmarks: Debian's linux-image-6.1.*-amd64,
# downloaded once (apt-get download + dpkg-deb -x, nothing is installed), its uncompressed ELF vmlinux (booted
# through the PVH entry: ~6 s to a shell under TCG instead of 12-24 s for the bzImage) and the modules the
# guest needs, uncompressed. Prints the cache directory; exits 77 when the package cannot be had.
# Env: BOXSHARE_TEST_CACHE (default /var/cache/boxshare-test).
set -uo pipefail
skip() { echo "SKIP: $*" >&2; exit 77; }
die() { echo "FAIL: $*" >&2; exit 1; }
CACHE=${BOXSHARE_TEST_CACHE:-/var/cache/boxshare-test}
mkdir -p "$CACHE" 2>/dev/null || CACHE=${TMPDIR:-/tmp}/boxshare-test-cache
mkdir -p "$CACHE" || skip "no cache directory"
exec 9>"$CACHE/.lock"
flock 9
if [ ! -s "$CACHE/vmlinux" ] || [ ! -d "$CACHE/modules" ]; then
	pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/.*Depends: \(linux-image-6\.1\.[^ ]*-amd64\)$/\1/p' | head -1)
	[ -n "$pkg" ] || pkg=$(apt-cache search --names-only '^linux-image-6\.1\.[0-9.-]*-amd64$' 2>/dev/null | sort -V | tail -1 | cut -d' ' -f1)
	[ -n "$pkg" ] || skip "no linux-image-6.1.*-amd64 package known to apt (apt-get update?)"
	tmp=$(mktemp -d "$CACHE/dl.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	(cd "$tmp" && apt-get download "$pkg" >/dev/null 2>&1) || { rm -rf "$tmp"; skip "apt-get download $pkg failed"; }
	dpkg-deb -x "$tmp"/*.deb "$tmp/x" || { rm -rf "$tmp"; die "dpkg-deb -x $pkg failed"; }
	vmlinuz=$(ls "$tmp"/x/boot/vmlinuz-* | head -1)
	# the bzImage carries the kernel as an XZ stream: find its magic, decompress the ELF (PVH entry inside)
	off=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$vmlinuz" | head -1 | cut -d: -f1)
	[ -n "$off" ] || die "no XZ stream in $vmlinuz"
	tail -c +$((off + 1)) "$vmlinuz" | xz -dc > "$tmp/vmlinux" 2>/dev/null
	head -c 4 "$tmp/vmlinux" | grep -q 'ELF' || die "$vmlinuz: the XZ payload is not an ELF kernel"
	mkdir "$tmp/modules"
	for m in drivers/virtio/virtio_ring drivers/virtio/virtio drivers/virtio/virtio_pci_modern_dev \
		drivers/virtio/virtio_pci_legacy_dev drivers/virtio/virtio_pci fs/fuse/fuse fs/fuse/virtiofs; do
		ko=$(ls "$tmp"/x/lib/modules/*/kernel/$m.ko* 2>/dev/null | head -1)
		[ -n "$ko" ] || die "module $m missing from $pkg"
		case "$ko" in
		*.xz) xz -dc "$ko" > "$tmp/modules/$(basename $m).ko" ;;
		*.zst) zstd -dcq "$ko" > "$tmp/modules/$(basename $m).ko" ;;
		*) cp "$ko" "$tmp/modules/" ;;
		esac
	done
	rm -rf "$CACHE/modules"
	mv "$tmp/modules" "$CACHE/modules" && mv "$tmp/vmlinux" "$CACHE/vmlinux" && echo "$pkg" > "$CACHE/kernel-package"
	rm -rf "$tmp"
fi
flock -u 9
echo "$CACHE"
