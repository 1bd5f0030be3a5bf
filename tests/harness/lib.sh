# Shared by the harness scripts: host set-up and running as the test user.
# shellcheck shell=bash

TEST_USER=${TEST_USER:-urun-test}
# Debian packages the suites use; each is a real component, not a mock.
# (zsh and fish check the completion scripts urun writes.)
# (libgpgme-dev only lets a plain `go build ./...` work without the
# Makefile's containers_image_openpgp tag.)
PACKAGES="uidmap fuse-overlayfs slirp4netns passt busybox-static procps util-linux iproute2 git podman containerd runc containernetworking-plugins rootlesskit docker-registry skopeo libgpgme-dev zsh fish"
# The VM suite (tests/vm) boots a debootstrapped Debian under qemu.
VM_HOST_PACKAGES="qemu-system-x86 debootstrap e2fsprogs"

log() { printf '== %s\n' "$*" >&2; }
die() { printf 'harness: %s\n' "$*" >&2; exit 1; }

# install_packages installs what is missing (root only).
install_packages() {
	local missing=()
	for p in $PACKAGES "$@"; do
		dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	log "installing ${missing[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# setup_user creates the unprivileged user with 65536 subordinate ids.
setup_user() {
	local u=$1
	id "$u" >/dev/null 2>&1 || useradd -m -s /bin/bash "$u"
	grep -q "^$u:" /etc/subuid || usermod --add-subuids 100000-165535 "$u"
	grep -q "^$u:" /etc/subgid || usermod --add-subgids 100000-165535 "$u"
	# A login would get this from pam_systemd; CI has no systemd.
	local uid; uid=$(id -u "$u")
	install -d -m 0700 -o "$u" -g "$(id -g "$u")" "/run/user/$uid"
}

# setup_user_without_subids creates a user with no /etc/subuid or
# /etc/subgid entry, as on a host where nobody ran usermod for them.
setup_user_without_subids() {
	local u=$1
	id "$u" >/dev/null 2>&1 || useradd -m -s /bin/bash -K SUB_UID_COUNT=0 -K SUB_GID_COUNT=0 "$u"
	sed -i "/^$u:/d" /etc/subuid /etc/subgid
	local uid; uid=$(id -u "$u")
	install -d -m 0700 -o "$u" -g "$(id -g "$u")" "/run/user/$uid"
}

# fix_devices: without udev these are 0600 root here, while a desktop
# Debian has them 0666; fuse-overlayfs and pasta need them.
fix_devices() {
	local d
	for d in /dev/fuse /dev/net/tun; do
		[ -e "$d" ] && chmod 0666 "$d"
	done
	return 0
}

# as_user runs a command as user $1 in a clean, login-like environment.
as_user() {
	local u=$1; shift
	local uid; uid=$(id -u "$u")
	local home; home=$(getent passwd "$u" | cut -d: -f6)
	runuser -u "$u" -- env -i HOME="$home" USER="$u" LOGNAME="$u" SHELL=/bin/bash \
		PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin XDG_RUNTIME_DIR="/run/user/$uid" \
		LANG=C.UTF-8 CI="${CI:-}" "$@"
}

# end_leftovers ends, by pid, what the tests left running as user $1 (a
# user that runs nothing but these tests): podman's rootless pause process
# (catatonit -P, which outlives every podman command by design) is the one
# seen. Each is named, so a real leak shows in the log.
end_leftovers() {
	local u=$1 pids
	pids=$(pgrep -d, -u "$u" 2>/dev/null) || return 0
	log "ending what the tests left running as $u: $(ps -o pid=,args= -p "$pids" | tr -s ' ' | paste -sd';')"
	# shellcheck disable=SC2086
	kill ${pids//,/ } 2>/dev/null || true
}

# stage copies built artefacts to a directory the test user can read: the
# checkout may live under /root, which is private.
stage() {
	local dir; dir=$(mktemp -d /tmp/urun-stage.XXXXXX)
	chmod 0755 "$dir"
	echo "$dir"
}
