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
# shellcheck source=cri.bash
. "$cri_bash"
# Rootless: no cgroups of containerd's own (this host's controllers are
# cgroup v1, which an ordinary user cannot be delegated), no apparmor.
cri_start "$busybox_tar" "$pause_tar" "disable_cgroup = true"
# A user namespace cannot make device nodes at all: the mknod step
# passes for both runtimes here.
hostdisk="mknod /tmp/hd b 7 0 2>/dev/null; if head -c 1 /tmp/hd >/dev/null 2>&1; then echo READ; else echo DENIED; fi"
cri_lifecycle
exit $fail
