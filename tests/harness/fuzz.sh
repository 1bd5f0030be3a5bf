#!/usr/bin/env bash
# Runs every go test -fuzz target for FUZZTIME (default 60s) each. A
# finding fails the run; go writes the input under the package's
# testdata/fuzz, to be checked in as a seed once fixed. `go test ./...`
# (make unit) replays all checked-in seeds.
set -euo pipefail
cd "$(dirname "$0")/../.."
FUZZTIME=${FUZZTIME:-60s}
TAGS=containers_image_openpgp,exclude_graphdriver_btrfs
grep -rl --include='*_test.go' '^func Fuzz' . | sort | while read -r f; do
	pkg=./$(dirname "${f#./}")
	for target in $(grep -o '^func Fuzz[A-Za-z0-9_]*' "$f" | cut -d' ' -f2); do
		echo "== $target ($pkg) for $FUZZTIME"
		go test -tags "$TAGS" -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" "$pkg"
	done
done
