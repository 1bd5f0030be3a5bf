#!/usr/bin/env bash
# Builds the VM image the cgroup suite boots: Debian 12 with systemd, the
# lingering user dev (uid 1000) with subordinate ids, and the host programs
# urun uses. Output in $1: disk.img (ext4, the root), vmlinuz, initrd.img.
# The result is cached by tests/vm/run.sh under a key that is this file's
# hash, so changing the package list or the set-up rebuilds it.
# Runs as root (debootstrap, chroot).
set -euo pipefail
out=$1
VM_PACKAGES=systemd,systemd-sysv,dbus,dbus-user-session,libpam-systemd,uidmap,fuse-overlayfs,linux-image-cloud-amd64,iproute2,udev,kmod,procps,busybox-static

mkdir -p "$(dirname "$out")"
work=$(mktemp -d "${out%/}.tmp.XXXXXX")
root=$work/root
# A failed debootstrap can leave proc, sys or a bind of /dev mounted in
# the tree: unmount them before removing it, and never cross into one.
cleanup() {
	{ findmnt -rno TARGET | grep "^$root/" | sort -r | while read -r m; do umount -l "$m"; done; } || true
	rm -rf --one-file-system "$work"
}
trap cleanup EXIT

echo "== debootstrap bookworm (first run only; a few minutes)" >&2
debootstrap --variant=minbase --include="$VM_PACKAGES" bookworm "$root" >"$work/debootstrap.log" 2>&1 ||
	{ tail -30 "$work/debootstrap.log" >&2; echo "vm: debootstrap failed (log above)" >&2; exit 1; }

chroot "$root" useradd -m -u 1000 -s /bin/bash dev
grep -q '^dev:' "$root/etc/subuid" || echo 'dev:100000:65536' >>"$root/etc/subuid"
grep -q '^dev:' "$root/etc/subgid" || echo 'dev:100000:65536' >>"$root/etc/subgid"
# Linger starts user@1000.service (the user's systemd and bus) at boot,
# as on a workstation where dev is logged in.
mkdir -p "$root/var/lib/systemd/linger"
touch "$root/var/lib/systemd/linger/dev"
echo urunvm >"$root/etc/hostname"
: >"$root/etc/fstab"
chroot "$root" passwd -d root >/dev/null

# The test unit: mounts the payload disk (tests/vm/run.sh builds it) and
# runs its script, which prints results on the console and powers off.
cat >"$root/etc/systemd/system/urun-vmtest.service" <<'UNIT'
[Unit]
Description=urun VM test suite
After=user@1000.service systemd-user-sessions.service systemd-logind.service
Wants=user@1000.service

[Service]
Type=oneshot
StandardOutput=tty
StandardError=tty
TTYPath=/dev/ttyS0
ExecStart=/bin/sh -c 'mkdir -p /payload && mount -o ro /dev/vdb /payload && exec /bin/bash /payload/run-in-vm.sh'
ExecStopPost=/bin/systemctl poweroff --no-block

[Install]
WantedBy=multi-user.target
UNIT
chroot "$root" systemctl enable urun-vmtest.service >/dev/null 2>&1
# Nothing the suite needs; each one costs boot time under emulation.
for u in apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer \
	man-db.timer dpkg-db-backup.timer serial-getty@ttyS0.service getty@tty1.service \
	systemd-timesyncd.service; do
	chroot "$root" systemctl mask "$u" >/dev/null 2>&1 || true
done
rm -rf "$root/var/cache/apt/archives"/*.deb

cp "$(ls "$root"/boot/vmlinuz-* | head -1)" "$work/vmlinuz"
cp "$(ls "$root"/boot/initrd.img-* | head -1)" "$work/initrd.img"
mkfs.ext4 -q -L urunvm -d "$root" "$work/disk.img" 3G
mkdir -p "$out"
mv "$work/disk.img" "$work/vmlinuz" "$work/initrd.img" "$out/"
echo "== VM image ready in $out" >&2
