#!/usr/bin/env bash
# `make bench`: measures urun against runc, bubblewrap and podman on the
# same work, in one run, and writes _build/bench/ (hyperfine JSON, results.md,
# start.png). As root it first installs the peers from Debian packages and
# creates the unprivileged user urun-bench; the measurements always run as
# an ordinary user. BENCH_QUICK=1 runs every benchmark briefly (a check of
# the harness, not a measurement). BENCH_ONLY="B0 B1" limits the set.
set -euo pipefail
cd "$(dirname "$0")/.."
. tests/harness/lib.sh

BENCH_USER=${BENCH_USER:-urun-bench}
PEERS="runc bubblewrap podman conmon catatonit fuse-overlayfs hyperfine iperf3 docker-registry skopeo jq gnuplot-nox busybox-static"
if [ "$(id -u)" = 0 ]; then
	install_packages $PEERS
	setup_user "$BENCH_USER"
	fix_devices
	# podman as the bench user: overlay storage (what the issue asks to
	# compare with), runc (crun fails on hybrid cgroups), no systemd here.
	home=$(getent passwd "$BENCH_USER" | cut -d: -f6)
	install -d -o "$BENCH_USER" -g "$(id -g "$BENCH_USER")" "$home/.config" "$home/.config/containers"
	printf '[storage]\ndriver = "overlay"\n' >"$home/.config/containers/storage.conf"
	printf '[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\nruntime = "runc"\n' >"$home/.config/containers/containers.conf"
	chown "$BENCH_USER:" "$home/.config/containers/"*.conf
else
	for c in runc bwrap podman fuse-overlayfs hyperfine docker-registry skopeo jq; do
		command -v "$c" >/dev/null || die "$c is missing: run 'make bench' as root once to install the peers"
	done
fi

make -s build
go run ./tests/mkimage -out _build/images >/dev/null
go build -o _build/bench-report ./bench/report

# B2-debian's real image: Debian 12 minbase from debootstrap, as an OCI
# layout, made once (a few minutes; not in quick mode) and kept in
# _build/bench-debian. podman import + push oci: do the packing, in a
# store of their own that is removed afterwards.
wants() { [ -z "${BENCH_ONLY:-}" ] || [[ " $BENCH_ONLY " == *" $1 "* ]]; }
if wants B2-debian && [ ! -f _build/bench-debian/index.json ] && [ -z "${BENCH_QUICK:-}" ] &&
	[ "$(id -u)" = 0 ] && command -v debootstrap >/dev/null; then
	log "B2-debian: debootstrap bookworm minbase (first run only)"
	deb=$(mktemp -d /tmp/urun-bench-debian.XXXXXX)
	if debootstrap --variant=minbase bookworm "$deb/root" >"$deb/log" 2>&1 &&
		tar -C "$deb/root" -c . | podman --root "$deb/s" --runroot "$deb/r" --storage-driver vfs import - localhost/bench-debian:latest >/dev/null &&
		podman --root "$deb/s" --runroot "$deb/r" --storage-driver vfs push -q localhost/bench-debian:latest "oci:$deb/oci:latest"; then
		rm -rf _build/bench-debian && mkdir -p _build && mv "$deb/oci" _build/bench-debian
	else
		log "B2-debian: could not make the image ($(tail -n 2 "$deb/log" | tr '\n' ' ')); it is left out"
	fi
	podman --root "$deb/s" --runroot "$deb/r" --storage-driver vfs rmi -a -f >/dev/null 2>&1 || true
	rm -rf "$deb"
fi

# The checkout may be private (/root): stage what the user needs.
stage=$(mktemp -d /tmp/urun-bench.XXXXXX)
chmod 0755 "$stage"
cleanup() {
	# B3/B4 leave files owned by subordinate ids: remove them in a
	# user namespace that maps those ids.
	if [ "$(id -u)" = 0 ]; then rm -rf "$stage"; else
		unshare --user --map-auto --map-root-user rm -rf "$stage" 2>/dev/null || rm -rf "$stage"
	fi
}
trap cleanup EXIT
cp -r bin _build/images bench "$stage/"
[ -f _build/bench-debian/index.json ] && cp -r _build/bench-debian "$stage/images/debian"
mkdir "$stage/out"
chmod -R a+rX "$stage"

out=${BENCH_OUT:-_build/bench}
rm -rf "$out"
mkdir -p "$out"
start=$(date +%s)
if [ "$(id -u)" = 0 ]; then
	chown "$BENCH_USER:" "$stage" "$stage/out"
	as_user "$BENCH_USER" BENCH_QUICK="${BENCH_QUICK:-}" BENCH_ONLY="${BENCH_ONLY:-}" \
		bash "$stage/bench/run.sh" "$stage" "$stage/out"
else
	BENCH_QUICK="${BENCH_QUICK:-}" BENCH_ONLY="${BENCH_ONLY:-}" bash "$stage/bench/run.sh" "$stage" "$stage/out"
fi
cp -r "$stage/out/." "$out/"
_build/bench-report -dir "$out"
log "bench finished in $(($(date +%s) - start)) s: $out/results.md"
cat "$out/results.md"
