#!/usr/bin/env bash
# `make demo`: build urun and the demo image, then run a container as an
# ordinary user and show that it is one. As root it installs what is
# missing and creates the unprivileged demo user first.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/harness/lib.sh
export PATH=/usr/local/go/bin:$PATH

DEMO_USER=${DEMO_USER:-urun-demo}
make -s build
go run ./tests/mkimage -out _build/images >/dev/null

script='echo "--- inside a urun container ---"
echo "pid:      $$ (the container has its own pid namespace)"
echo "hostname: $(hostname)"
echo "id:       $(id)"
echo "uid_map:"; cat /proc/self/uid_map
echo "mounts:"; mount | head -4'

if [ "$(id -u)" = 0 ]; then
	install_packages
	setup_user "$DEMO_USER"
	fix_devices
	stage=$(stage)
	trap 'rm -rf "$stage"' EXIT
	cp -r bin _build/images "$stage/"
	chmod -R a+rX "$stage"
	log "running as $DEMO_USER (uid $(id -u "$DEMO_USER")): urun run oci:images/busybox sh -c ..."
	as_user "$DEMO_USER" "$stage/bin/urun" run "oci:$stage/images/busybox" sh -c "$script"
else
	log "running as $(id -un) (uid $(id -u)): urun run oci:_build/images/busybox sh -c ..."
	bin/urun run "oci:_build/images/busybox" sh -c "$script"
fi
