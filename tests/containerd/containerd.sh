#!/usr/bin/env bash
# containerd drives urun as its runtime, next to runc in the same run:
#  - `ctr run --runc-binary` (the per-run form of the runtime option
#    BinaryName) through containerd-shim-runc-v2;
#  - Kubernetes' CRI: containerd 1.6 (Debian) with its CRI plugin, CNI
#    from Debian's containernetworking-plugins (a bridge on the test's own
#    range), a pause image built here (tests/containerd/pause), crictl
#    v1.34.0 built from the Go module proxy, and two runtime handlers,
#    runc and urun (docs/KUBERNETES.md). The pod lifecycle (cri.bash) runs
#    for CNI pods, hostNetwork pods and shared-pid pods with each handler.
# Root mode: containerd runs as root, so urun does too (no user namespace
# of its own, as runc). Everything lives under one scratch directory with
# its own root, state, socket and config; what was started is stopped by
# pid at the end. Gate: urun fails no check that runc passes.
# With ROOTLESS_USER set, rootless.sh then runs containerd as that user
# under rootlesskit, with the same lifecycle and gate.
# Usage (as root, from the checkout): [ROOTLESS_USER=U] tests/containerd/containerd.sh URUN_BIN BUSYBOX_LAYOUT
set -euo pipefail
urun=$1 layout=$2
runc=$(command -v runc) || { echo "FAIL setup: runc is not installed (apt-get install runc)"; exit 1; }
repo=$(cd "$(dirname "$0")/../.." && pwd)
dir=$(mktemp -d /tmp/urun-containerd.XXXXXX)
chmod 0711 "$dir"
began=$SECONDS
# The CNI bridge: a name and an IPv4 range of the test's own.
bridge=urun-cri0 subnet=10.213.21.0/24 prefix=10.213.21.
# The runtimes make /k8s.io in each cgroup v1 hierarchy (containerd's
# cgroupsPath) and leave it: removed at the end if the test made it.
newcg=()
for h in /sys/fs/cgroup/*/; do
	[ -d "${h}k8s.io" ] || newcg+=("${h}k8s.io")
done
# shellcheck source=cri.bash
. "$repo/tests/containerd/cri.bash"
pid=
cleanup() {
	local rc=$?
	set +e
	if [ -n "$pid" ]; then
		# Pods first, while containerd can still tear their networks down.
		crictl rmp -fa >/dev/null 2>&1
		kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	fi
	# The shims this containerd started outlive it: each names its
	# address, which lives under $dir. Stopped by pid.
	local p
	for p in /proc/[0-9]*; do
		tr '\0' ' ' 2>/dev/null <"$p/cmdline" | grep -q -- "-address $dir/" && kill -9 "${p#/proc/}" 2>/dev/null
	done
	sleep 0.2
	grep -o " $dir[^ ]*" /proc/mounts | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
	ip link del "$bridge" 2>/dev/null
	for d in "${newcg[@]}"; do [ -d "$d" ] && rmdir "$d" 2>/dev/null; done
	rm -rf "$dir"
	echo "containerd: wall time $((SECONDS - began)) s" >&2
	exit $rc
}
trap cleanup EXIT

if ip route | grep -q "^${prefix%.}"; then
	echo "FAIL setup: $subnet is already routed on this host (ip route); the CRI test needs a range of its own"
	exit 1
fi

# crictl v1.34.0 from the module proxy, once per checkout (a module
# build says "version unknown": the file name keeps the version).
crictl_bin=$repo/_build/gobin/crictl-v1.34.0
if [ ! -x "$crictl_bin" ]; then
	GOBIN=$dir/gobin GOFLAGS=-buildvcs=false go install sigs.k8s.io/cri-tools/cmd/crictl@v1.34.0
	mkdir -p "$repo/_build/gobin" && mv "$dir/gobin/crictl" "$crictl_bin"
fi
# The images: busybox (the suites' layout) and the pause image, built
# here from tests/containerd/pause as a one-layer OCI layout.
tar -C "$layout" -cf "$dir/busybox.tar" .
build_pause() {
	local d=$dir/pause; mkdir -p "$d/rootfs" "$d/layout/blobs/sha256"
	CGO_ENABLED=0 go build -C "$repo" -trimpath -ldflags "-s -w" -o "$d/rootfs/pause" ./tests/containerd/pause
	tar --numeric-owner --owner=0 --group=0 -C "$d/rootfs" -cf "$d/layer.tar" pause
	blob() { # file -> "sha256:HEX SIZE", stored in the layout
		local s; s=$(sha256sum "$1" | cut -d' ' -f1)
		cp "$1" "$d/layout/blobs/sha256/$s"
		echo "sha256:$s $(stat -c %s "$1")"
	}
	local layer config manifest
	read -r -a layer <<<"$(blob "$d/layer.tar")"
	printf '{"architecture":"%s","os":"linux","config":{"Entrypoint":["/pause"]},"rootfs":{"type":"layers","diff_ids":["%s"]}}' \
		"$(go env GOARCH)" "${layer[0]}" >"$d/config.json"
	read -r -a config <<<"$(blob "$d/config.json")"
	printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":%s}]}' \
		"${config[0]}" "${config[1]}" "${layer[0]}" "${layer[1]}" >"$d/manifest.json"
	read -r -a manifest <<<"$(blob "$d/manifest.json")"
	printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"test"}}]}' \
		"${manifest[0]}" "${manifest[1]}" >"$d/layout/index.json"
	echo '{"imageLayoutVersion":"1.0.0"}' >"$d/layout/oci-layout"
	tar -C "$d/layout" -cf "$dir/pause.tar" .
}
build_pause
cri_start "$dir/busybox.tar" "$dir/pause.tar"
# ctr's own namespace gets busybox too.
$C images import --base-name localhost/busybox "$dir/busybox.tar" >/dev/null

# The ctr battery (urun only; containerd's own client, no CRI).
out=$($C run --rm --runc-binary "$urun" localhost/busybox:latest t1 echo hello-from-containerd)
check "ctr run --rm" hello-from-containerd "$out"
set +e
$C run --rm --runc-binary "$urun" localhost/busybox:latest t2 sh -c 'exit 3'
check "ctr exit code" 3 "$?"
set -e
$C run -d --runc-binary "$urun" localhost/busybox:latest t3 sleep 60 >/dev/null
sleep 0.3
out=$($C task exec --exec-id e1 t3 sh -c 'echo exec-ok; ps -o pid,args' | tr -s ' ' | tr '\n' '|')
case $out in *exec-ok*"1 sleep 60"*) check "ctr task exec" ok ok ;; *) check "ctr task exec" "exec-ok + sleep as pid 1" "$out" ;; esac
$C task kill -s KILL t3
for _ in $(seq 100); do [ "$($C task ls | awk '$1=="t3"{print $3}')" = STOPPED ] && break; sleep 0.1; done
check "ctr task kill" STOPPED "$($C task ls | awk '$1=="t3"{print $3}')"
$C task rm t3 >/dev/null
$C container rm t3
check "ctr cleanup" "" "$($C container ls -q)"
# A host block device that root here can open (this host refuses even
# root its disk; an unbound loop device opens): a container may create a
# node for it (CAP_MKNOD) but the device cgroup must refuse opening it.
rootdev=
for d in /dev/vda /dev/sda /dev/nvme0n1 /dev/loop0; do
	if [ -b "$d" ] && head -c 1 "$d" >/dev/null 2>&1; then
		rootdev=$(printf '%d:%d' "0x$(stat -c %t "$d")" "0x$(stat -c %T "$d")") && break
	fi
done
[ -n "$rootdev" ] || { echo "FAIL setup: no block device that root can open here, for the device cgroup test"; exit 1; }
hostdisk="mknod /tmp/hd b ${rootdev%:*} ${rootdev#*:} 2>/dev/null; if head -c 1 /tmp/hd >/dev/null 2>&1; then echo READ; else echo DENIED; fi"
for rt in runc urun; do
	bin=$runc; [ $rt = urun ] && bin=$urun
	out=$($C run --rm --runc-binary "$bin" localhost/busybox:latest "disk-$rt" sh -c "$hostdisk" 2>&1)
	check "ctr $rt: a host block device ($rootdev, $d) cannot be read through mknod" DENIED "$out"
done

# pause/resume (the cgroup freezer) and metrics (the shim reads the
# init's cgroup) with each runtime; the counter (renamed into place, so
# never seen half-written) is read from the host.
for rt in runc urun; do
	bin=$runc; [ $rt = urun ] && bin=$urun
	t=pz-$rt
	$C run -d --runc-binary "$bin" localhost/busybox:latest $t sh -c 'i=0; while :; do i=$((i+1)); echo $i >/tmp/n.new; mv /tmp/n.new /tmp/n; sleep 0.05; done' >/dev/null
	n=$dir/root/io.containerd.runtime.v2.task/default/$t/rootfs/tmp/n
	[ -d "$(dirname "$n")" ] || n=$dir/state/io.containerd.runtime.v2.task/default/$t/rootfs/tmp/n
	sleep 0.3
	out=$($C task pause $t 2>&1 && $C task ls | awk -v t=$t '$1==t{print $3}')
	a=$(cat "$n" 2>&1); sleep 0.3; b=$(cat "$n" 2>&1)
	[ -n "$a" ] && [ "$a" = "$b" ] && out="$out still" || out="$out counting $a..$b"
	check "ctr $rt: task pause freezes the container" "PAUSED still" "$out"
	out=$($C task resume $t 2>&1 && $C task ls | awk -v t=$t '$1==t{print $3}')
	sleep 0.3; c=$(cat "$n" 2>&1)
	[ -n "$c" ] && [ "$c" != "$b" ] && out="$out counting" || out="$out still $b..$c"
	check "ctr $rt: task resume thaws it" "RUNNING counting" "$out"
	out=$($C task metrics $t 2>&1 | awk '$1=="memory.usage_in_bytes" && $2>0{print "usage"}')
	check "ctr $rt: task metrics reads the container's cgroup" usage "$out"
	$C task kill -s KILL $t >/dev/null 2>&1
	for _ in $(seq 50); do [ "$($C task ls | awk -v t=$t '$1==t{print $3}')" = STOPPED ] && break; sleep 0.1; done
	$C task rm $t >/dev/null 2>&1
	$C container rm $t >/dev/null 2>&1
done

cri_lifecycle
echo "containerd: CRI lifecycle took $((SECONDS - began)) s so far" >&2

# Rootless containerd (rootless.sh) as ROOTLESS_USER, from copies that
# user can read (the checkout may be private); its lines say "rootless".
if [ -n "${ROOTLESS_USER:-}" ]; then
	rl=$dir/rootless
	mkdir -m 0755 "$rl" "$rl/in"
	cp "$repo/tests/containerd/rootless.sh" "$repo/tests/containerd/cri.bash" "$crictl_bin" "$dir/busybox.tar" "$dir/pause.tar" "$rl/in/"
	chmod -R a+rX "$rl/in"
	install -d -m 0700 -o "$ROOTLESS_USER" -g "$(id -g "$ROOTLESS_USER")" "$rl/work"
	t0=$SECONDS
	set +e
	runuser -u "$ROOTLESS_USER" -- env -i HOME="$rl/work" PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin \
		XDG_RUNTIME_DIR="/run/user/$(id -u "$ROOTLESS_USER")" LANG=C.UTF-8 \
		bash "$rl/in/rootless.sh" "$rl/work" "$urun" "$rl/in/busybox.tar" "$rl/in/pause.tar" "$rl/in/$(basename "$crictl_bin")" "$rl/in/cri.bash" 2>&1 |
		sed -E 's/^(ok  |FAIL|peer|same) /\1 rootless /; s/^containerd: /containerd: rootless: /'
	[ "${PIPESTATUS[0]}" = 0 ] || fail=1
	set -e
	echo "containerd: rootless containerd took $((SECONDS - t0)) s" >&2
fi
exit $fail
