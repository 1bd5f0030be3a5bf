#!/usr/bin/env bash
# Rootless containerd: containerd 1.6 with its CRI plugin as an ordinary
# user, inside Debian's rootlesskit the way nerdctl's
# containerd-rootless.sh sets it up (written here, not copied): a user
# namespace mapping the user's subordinate ids, a network namespace with
# slirp4netns, /etc, /run and /var/lib copied up so containerd and CNI
# may write there, and a pid namespace so that everything ends with it.
# The same pod lifecycle as the root test (cri.bash) with runc and urun
# as handlers, gated the same way: urun fails no step runc passes.
# Usage (as the unprivileged test user):
#   rootless.sh DIR URUN BUSYBOX_TAR PAUSE_TAR CRICTL CRI_BASH
# DIR: an empty directory of the user's for everything the test makes
# (files owned by subordinate ids end up there: the caller, root,
# removes it).
set -euo pipefail
if [ "${1:-}" != --inner ]; then
	[ "$(id -u)" != 0 ] || { echo "FAIL rootless setup: run as the unprivileged test user"; exit 1; }
	# --pidns: containerd, the shims and every container end with the
	# inner script (pid 1 there). /var/lib is copied up for CNI's state.
	exec rootlesskit --state-dir="$1/rk" --net=slirp4netns --disable-host-loopback \
		--copy-up=/etc --copy-up=/run --copy-up=/var/lib --propagation=rslave --pidns \
		bash "$0" --inner "$@"
fi
dir=$2 urun=$3 busybox_tar=$4 pause_tar=$5 crictl_bin=$6 cri_bash=$7
# The copied-up /run and /var/lib are tmpfs of ours holding symlinks to
# the host's entries: the ones containerd (shim sockets in
# /run/containerd/s) and CNI (/var/lib/cni) write to become directories.
rm -f /run/containerd /var/lib/cni
mkdir -p /run/containerd /var/lib/cni
runc=$(command -v runc)
bridge=urun-cri0 subnet=10.213.21.0/24 prefix=10.213.21.
crictl() { "$crictl_bin" -c "$dir/crictl.yaml" "$@"; }
mkdir -p "$dir/cni" "$dir/logs"
cat >"$dir/cni/10-urun-cri.conflist" <<JSON
{"cniVersion": "0.4.0", "name": "urun-cri", "plugins": [
  {"type": "bridge", "bridge": "$bridge", "isGateway": true, "ipMasq": false,
   "ipam": {"type": "host-local", "ranges": [[{"subnet": "$subnet"}]], "dataDir": "$dir/cni-ipam"}}]}
JSON
# Rootless: no cgroups of containerd's own (this host's controllers are
# cgroup v1, which an ordinary user cannot be delegated), no apparmor,
# oom_score_adj only raised.
cat >"$dir/config.toml" <<TOML
version = 2
root = "$dir/root"
state = "$dir/state"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = "$dir/containerd.sock"
[ttrpc]
  address = "$dir/containerd.sock.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "$dir/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "localhost/urun-pause:test"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  restrict_oom_score_adj = true
  disable_cgroup = true
  disable_apparmor = true
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$dir/cni"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "$runc"
        Root = "$dir/runtime-root/runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.urun]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.urun.options]
        BinaryName = "$urun"
        Root = "$dir/runtime-root/urun"
TOML
cat >"$dir/crictl.yaml" <<YAML
runtime-endpoint: unix://$dir/containerd.sock
image-endpoint: unix://$dir/containerd.sock
timeout: 20
YAML
containerd --config "$dir/config.toml" >"$dir/containerd.log" 2>&1 &
C="ctr -a $dir/containerd.sock"
for _ in $(seq 100); do $C version >/dev/null 2>&1 && break; sleep 0.1; done
$C -n k8s.io images import --base-name localhost/busybox "$busybox_tar" >/dev/null
$C -n k8s.io images import --base-name localhost/urun-pause "$pause_tar" >/dev/null
fail=0
check() {
	if [ "$2" = "$3" ]; then echo "ok   $1"; else echo "FAIL $1: want [$2], got [$3]"; fail=1; fi
}
# A user namespace cannot make device nodes at all: the mknod step
# passes for both runtimes here.
hostdisk="mknod /tmp/hd b 7 0 2>/dev/null; if head -c 1 /tmp/hd >/dev/null 2>&1; then echo READ; else echo DENIED; fi"
# shellcheck source=cri.bash
. "$cri_bash"
exit $fail
