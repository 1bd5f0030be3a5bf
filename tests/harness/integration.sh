#!/usr/bin/env bash
# Runs the integration suite as the unprivileged test user against the
# built urun and the locally built test images. As root it first sets the
# host up (packages, user, device modes); as an ordinary user it runs as
# that user, who must already have subordinate ids.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/harness/lib.sh

# A second user without subordinate ids exercises the single-id fallback.
NOSUBID_USER=${NOSUBID_USER:-urun-nosubid}
if [ "$(id -u)" = 0 ]; then
	install_packages
	setup_user "$TEST_USER"
	setup_user_without_subids "$NOSUBID_USER"
	fix_devices
fi

make -s build
go run ./tests/mkimage -out _build/images >/dev/null
# Static: the netns tests run it inside a busybox container too.
CGO_ENABLED=0 go test -c -o _build/integration.test ./tests/integration
CGO_ENABLED=0 go build -o _build/attack ./tests/attack

stage=$(stage)
cleanup_stage() {
	rm -rf "$stage"
	if [ "$(id -u)" = 0 ]; then end_leftovers "$TEST_USER"; end_leftovers "$NOSUBID_USER"; fi
}
trap cleanup_stage EXIT
# README.md: TestReadmeTour runs its Tour, the real file, not a copy in tests/.
cp -r bin _build/images _build/integration.test _build/attack README.md "$stage/"
chmod -R a+rX "$stage"

args=(-test.v -test.count=1 -test.timeout=30m)
if [ -n "${RUN:-}" ]; then args+=(-test.run "$RUN"); fi
export URUN_BIN="$stage/bin/urun" URUN_IMAGES="$stage/images" URUN_ATTACK="$stage/attack" URUN_README="$stage/README.md"
log "integration tests as $([ "$(id -u)" = 0 ] && echo "$TEST_USER" || id -un)"
out="$stage/integration.out"
set +e
if [ "$(id -u)" = 0 ]; then
	as_user "$TEST_USER" URUN_BIN="$URUN_BIN" URUN_IMAGES="$URUN_IMAGES" URUN_ATTACK="$URUN_ATTACK" URUN_README="$URUN_README" \
		"$stage/integration.test" "${args[@]}" -test.skip NoSubIDs 2>&1 | tee "$out"
	rc=${PIPESTATUS[0]}
	if [ "$rc" = 0 ] && [ -z "${RUN:-}" ]; then
		log "single-id fallback tests as $NOSUBID_USER (no subordinate ids)"
		as_user "$NOSUBID_USER" URUN_BIN="$URUN_BIN" URUN_IMAGES="$URUN_IMAGES" \
			"$stage/integration.test" -test.v -test.count=1 -test.run NoSubIDs 2>&1 | tee -a "$out"
		rc=${PIPESTATUS[0]}
	fi
else
	(cd "$stage" && ./integration.test "${args[@]}" -test.skip NoSubIDs) 2>&1 | tee "$out"
	rc=${PIPESTATUS[0]}
fi
if [ "$rc" = 0 ] && [ "$(id -u)" = 0 ] && [ -z "${RUN:-}" ]; then
	# containerd's CRI runs as root here (the one check not done as the
	# test user), then rootless as the test user (tests/containerd/).
	log "containerd with urun as its runtime (root, then rootless under rootlesskit)"
	ROOTLESS_USER=$TEST_USER tests/containerd/containerd.sh "$stage/bin/urun" "$stage/images/busybox" 2>&1 |
		sed -e 's/^ok   /--- PASS: containerd /' -e 's/^FAIL /--- FAIL: containerd /' | tee -a "$out"
	rc=${PIPESTATUS[0]}
fi
set -e
passed=$(grep -c -- '^--- PASS' "$out" || true)
failed=$(grep -c -- '^--- FAIL' "$out" || true)
skipped=$(grep -c -- '^--- SKIP' "$out" || true)
echo "integration: $passed passed, $failed failed, $skipped skipped"
[ "$rc" = 0 ] || die "integration tests failed (exit $rc)"
# A skip on CI means the harness did not set the host up: that is a failure.
if [ "${CI:-}" = true ] && grep -q -- '--- SKIP' "$out"; then
	grep -- '--- SKIP' "$out" >&2
	die "integration tests skipped on CI: the harness must provide everything they need"
fi
