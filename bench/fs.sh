#!/bin/sh
# B3 workload, run by the same static busybox inside a container and on the
# host: fs.sh WORKDIR mkdir N | write MIB | tar PATH...
set -e
cd "$1"
op=$2
shift 2
case $op in
mkdir) # N directories made then removed: metadata cost of the upper layer
	busybox seq 1 "$1" | busybox xargs busybox mkdir
	busybox seq 1 "$1" | busybox xargs busybox rmdir ;;
write) # MIB of zeros, fsync'd before dd exits
	busybox dd if=/dev/zero of=big bs=1M count="$1" conv=fsync 2>/dev/null
	busybox rm big ;;
tar) # read every file of the lower layer
	busybox tar cf /dev/null "$@" ;;
*) echo "fs.sh: unknown operation $op" >&2; exit 2 ;;
esac
