#!/usr/bin/env bash
# The VM suite: the cgroup tests that need a real systemd with cgroup v2
# delegation, which these hosts lack (hybrid cgroups, no systemd). Boots a
# Debian 12 VM under qemu (software emulation), runs tests/vm's test
# binary there as the lingering user dev, and fails unless every phase ran
# and passed. The image is built once (as root) and cached under _build/vm
# keyed by tests/vm/image.sh's hash.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/harness/lib.sh

VM_TIMEOUT=${VM_TIMEOUT:-1500}
key=$(sha256sum tests/vm/image.sh | cut -c1-12)
img=_build/vm/image-$key

if [ "$(id -u)" = 0 ]; then
	install_packages $VM_HOST_PACKAGES
fi
if [ ! -f "$img/disk.img" ]; then
	[ "$(id -u)" = 0 ] || die "the VM image is not built yet: run \`make vm-test\` once as root (debootstrap needs it)"
	find _build/vm -maxdepth 1 -name 'image-*' ! -name "image-$key" -exec rm -rf {} + 2>/dev/null || true
	bash tests/vm/image.sh "$img"
fi

make -s build
go run ./tests/mkimage -out _build/images >/dev/null
CGO_ENABLED=0 go test -c -o _build/vm.test ./tests/vm

work=$(mktemp -d /tmp/urun-vm.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir "$work/payload"
cp -r bin _build/images _build/vm.test tests/vm/run-in-vm.sh "$work/payload/"
printf '%s' "${VM_RUN:-}" >"$work/payload/filter"
chmod -R a+rX "$work/payload"
mkfs.ext4 -q -d "$work/payload" "$work/payload.img" 256M

log "booting the VM (qemu, software emulation; up to ${VM_TIMEOUT}s)"
console=_build/vm/console.log
start=$(date +%s)
set +e
# snapshot=on: the cached image stays pristine, writes go to a temp file.
timeout "$VM_TIMEOUT" qemu-system-x86_64 -machine q35 -accel tcg,thread=multi -smp 2 -m 2048 \
	-display none -monitor none -serial "file:$console" -no-reboot -nic none \
	-kernel "$img/vmlinuz" -initrd "$img/initrd.img" \
	-append "root=/dev/vda rw console=ttyS0 quiet systemd.show_status=0" \
	-drive "file=$img/disk.img,format=raw,if=virtio,snapshot=on" \
	-drive "file=$work/payload.img,format=raw,if=virtio,readonly=on" </dev/null
qrc=$?
set -e
log "VM ran $(($(date +%s) - start))s"
tr -d '\r' <"$console" >"$work/console"

if ! grep -q '^URUN-VM-BOOTED' "$work/console"; then
	tail -40 "$work/console" >&2
	[ "$qrc" = 124 ] && die "the VM did not boot within ${VM_TIMEOUT}s (console above, all of it in $console)"
	die "the VM did not boot or the test unit did not start (qemu exit $qrc; console above, all of it in $console)"
fi
out=$work/out
sed -n 's/^URUN-VM| //p' "$work/console" >"$out"
cat "$out"
grep '^URUN-VM-' "$work/console" >&2
passed=$(grep -c -- '^--- PASS' "$out" || true)
failed=$(grep -c -- '^--- FAIL' "$out" || true)
skipped=$(grep -c -- '^--- SKIP' "$out" || true)
echo "vm: $passed passed, $failed failed, $skipped skipped"
grep -q '^URUN-VM-DONE' "$work/console" || die "the VM suite did not finish (qemu exit $qrc; console in $console)"
for phase in default nocpu all; do
	grep -q "^URUN-VM-PHASE $phase rc=0\$" "$work/console" || die "VM phase $phase failed or did not run"
done
[ "$failed" = 0 ] && [ "$passed" -gt 0 ] || die "VM tests failed or none ran"
[ "$skipped" = 0 ] || die "VM tests skipped inside the VM: the image must provide everything they need"
