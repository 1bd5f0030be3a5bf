#!/usr/bin/env bash
# make conformance: the opencontainers/runtime-tools validation suite
# against urun and, in the same run, rootless runc for comparison. As
# root: installs what it needs (Debian packages, the suite from the Go
# module proxy), builds the suite once into _build/runtime-tools, and
# runs it as the unprivileged $TEST_USER. Writes docs/CONFORMANCE.md.
# RUN=regex limits the tests; RUNTIMES="urun" skips runc.
set -euo pipefail
cd "$(dirname "$0")/../.."
# Its own user (lib.sh defaults to the integration suite's).
TEST_USER=${TEST_USER:-urun-conformance}
. tests/harness/lib.sh
RT_VERSION=v0.9.1-0.20251205004911-5e639034dcdc
RUNTIMES=${RUNTIMES:-"urun runc"}

[ "$(id -u)" = 0 ] || die "run as root (make conformance): it installs packages and runs the suite as $TEST_USER"
install_packages runc tar
setup_user "$TEST_USER"
fix_devices

# The suite, built once: its Makefile targets, offline from the module
# cache (its vendor/ is incomplete for this Go, hence -mod=mod).
suite=_build/runtime-tools
if [ ! -x "$suite/validation/state/state.t" ] || [ "$(cat "$suite/.version" 2>/dev/null)" != "$RT_VERSION" ]; then
	log "building runtime-tools $RT_VERSION validation suite"
	dir=$(go mod download -json "github.com/opencontainers/runtime-tools@$RT_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
	[ -d "$dir" ] || die "could not download runtime-tools $RT_VERSION from the Go module proxy"
	rm -rf "$suite.tmp" && mkdir -p _build && cp -r "$dir" "$suite.tmp" && chmod -R u+w "$suite.tmp"
	(cd "$suite.tmp" && GOFLAGS=-mod=mod make -s runtimetest validation-executables >/dev/null)
	echo "$RT_VERSION" >"$suite.tmp/.version"
	rm -rf "$suite" && mv "$suite.tmp" "$suite"
fi

make -s build
go build -o _build/conformance-suite ./tests/conformance/suite

# The suite's tree must belong to the user running it (it writes bundles
# next to itself and reads the rootfs tarball from its working directory).
stage=$(stage)
trap 'rm -rf "$stage"' EXIT
cp -r "$suite" "$stage/rt"
cp -r bin _build/conformance-suite tests/conformance/reasons.tsv "$stage/"
mkdir "$stage/logs"
uid=$(id -u "$TEST_USER")
# Rootless runc needs a user namespace it does not make itself: the
# wrapper puts every runc call in one (root mapped to the user, the
# user's subordinate ids after it), with its own state root.
cat >"$stage/runc-userns" <<WRAP
#!/bin/sh
exec unshare --user --map-root-user --map-auto -- runc --root /run/user/$uid/runc-conformance "\$@"
WRAP
chmod 0755 "$stage/runc-userns"
chown -R "$TEST_USER:" "$stage"

args=(-suite "$stage/rt" -reasons "$stage/reasons.tsv" -doc "$stage/CONFORMANCE.md" -logs "$stage/logs")
for r in $RUNTIMES; do
	case $r in
	urun) args+=(-runtime "urun=$stage/bin/urun") ;;
	runc) args+=(-runtime "runc=$stage/runc-userns") ;;
	*) die "unknown runtime $r" ;;
	esac
done
[ -n "${RUN:-}" ] && args+=(-run "$RUN")
log "validation suite as $TEST_USER: ${RUNTIMES}"
set +e
as_user "$TEST_USER" "$stage/conformance-suite" "${args[@]}"
rc=$?
set -e
if [ -z "${RUN:-}" ] && [ "$RUNTIMES" = "urun runc" ]; then
	# Its part of the document only: runc's suite writes its own.
	go run ./tests/runc/report -splice runtime-tools -from "$stage/CONFORMANCE.md" -doc docs/CONFORMANCE.md
	log "wrote the runtime-tools table in docs/CONFORMANCE.md"
fi
if [ -n "${KEEP_LOGS:-}" ]; then rm -rf "$KEEP_LOGS" && cp -r "$stage/logs" "$KEEP_LOGS"; fi
# Leftovers of the test user (containers the suite failed to delete).
for rt in "$stage/bin/urun" "$stage/runc-userns"; do
	as_user "$TEST_USER" sh -c 'for c in $($1 list -q 2>/dev/null); do $1 delete --force "$c"; done' _ "$rt" || true
done
# runc inits whose state went with a per-call user namespace: the
# processes of this suite's own user are all ours.
pkill -KILL -u "$TEST_USER" 2>/dev/null || true
exit $rc
