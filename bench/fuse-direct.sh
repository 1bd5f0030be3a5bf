#!/bin/sh
# fuse-overlayfs used directly, as urun's fuse tier uses it: the rootfs as
# the lower layer, upper and work on a tmpfs. Run inside
# `unshare --map-auto --map-root-user --mount`.
# Usage: fuse-direct.sh LOWER SCRATCH OP ARG...
set -e
lower=$1 t=$2
shift 2
mount -t tmpfs tmpfs "$t"
mkdir "$t/u" "$t/w" "$t/m"
# -f: stay in the foreground, in this process group, so that a timeout
# that kills the group kills the daemon too (it would otherwise setsid).
fuse-overlayfs -f -o "lowerdir=$lower,upperdir=$t/u,workdir=$t/w" "$t/m" &
fpid=$!
i=0
until grep -q " $t/m fuse" /proc/self/mounts; do
	i=$((i + 1))
	[ $i -lt 200 ] || { echo "fuse-direct: fuse-overlayfs did not mount" >&2; kill $fpid; exit 1; }
	sleep 0.01
done
op=$1
shift
if [ "$op" = tar ]; then
	set -- $(for p in "$@"; do echo "$t/m$p"; done)
fi
rc=0
busybox sh "$t/m/bench/fs.sh" "$t/m/bench/work" "$op" "$@" || rc=$?
# The fuse daemon lives in this mount namespace: unmount so it exits.
umount "$t/m"
wait $fpid
exit $rc
