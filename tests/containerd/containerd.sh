#!/usr/bin/env bash
# containerd drives urun as its runtime: containerd 1.6 (Debian) with
# containerd-shim-runc-v2 and `ctr run --runc-binary urun` (the per-run
# form of the runtime option BinaryName). Root mode: containerd runs as
# root here, so urun runs as root too (no user namespace of its own, as
# runc). Rootless containerd needs containerd-rootless.sh (nerdctl), which
# Debian 12 does not package; see docs/CONFORMANCE.md.
# Usage (as root): tests/containerd/containerd.sh URUN_BIN BUSYBOX_LAYOUT
set -euo pipefail
urun=$1 layout=$2
dir=$(mktemp -d /tmp/urun-containerd.XXXXXX)
pid=
cleanup() {
	local rc=$?
	set +e
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	# containerd's shims and mounts live under $dir.
	grep -o " $dir[^ ]*" /proc/mounts | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
	rm -rf "$dir"
	exit $rc
}
trap cleanup EXIT
cat > "$dir/config.toml" <<TOML
version = 2
root = "$dir/root"
state = "$dir/state"
[grpc]
  address = "$dir/containerd.sock"
TOML
containerd --config "$dir/config.toml" >"$dir/log" 2>&1 &
pid=$!
C="ctr -a $dir/containerd.sock"
for _ in $(seq 100); do $C version >/dev/null 2>&1 && break; sleep 0.1; done
tar -C "$layout" -cf "$dir/busybox.tar" .
$C images import --index-name localhost/busybox:latest "$dir/busybox.tar" >/dev/null
fail=0
check() { # name, want, got
	if [ "$2" = "$3" ]; then echo "ok   $1"; else echo "FAIL $1: want [$2], got [$3]"; fail=1; fi
}
out=$($C run --rm --runc-binary "$urun" localhost/busybox:latest t1 echo hello-from-containerd)
check "ctr run --rm" hello-from-containerd "$out"
set +e
$C run --rm --runc-binary "$urun" localhost/busybox:latest t2 sh -c 'exit 3'
check "exit code" 3 "$?"
set -e
$C run -d --runc-binary "$urun" localhost/busybox:latest t3 sleep 60 >/dev/null
sleep 0.3
out=$($C task exec --exec-id e1 t3 sh -c 'echo exec-ok; ps -o pid,args' | tr -s ' ' | tr '\n' '|')
case $out in *exec-ok*"1 sleep 60"*) check "task exec" ok ok ;; *) check "task exec" "exec-ok + sleep as pid 1" "$out" ;; esac
$C task kill -s KILL t3
for _ in $(seq 100); do [ "$($C task ls | awk '$1=="t3"{print $3}')" = STOPPED ] && break; sleep 0.1; done
check "task kill" STOPPED "$($C task ls | awk '$1=="t3"{print $3}')"
$C task rm t3 >/dev/null
$C container rm t3
check "cleanup" "" "$($C container ls -q)"
exit $fail
