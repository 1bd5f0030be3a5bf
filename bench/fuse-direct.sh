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
fuse-overlayfs -o "lowerdir=$lower,upperdir=$t/u,workdir=$t/w" "$t/m"
op=$1
shift
if [ "$op" = tar ]; then
	set -- $(for p in "$@"; do echo "$t/m$p"; done)
fi
rc=0
busybox sh "$t/m/bench/fs.sh" "$t/m/bench/work" "$op" "$@" || rc=$?
# The fuse daemon lives in this mount namespace: unmount so it exits.
umount "$t/m"
exit $rc
