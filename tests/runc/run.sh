#!/usr/bin/env bash
# make runc-suite: runc v1.1.5's own integration suite (tests/integration/
# *.bats), rootless, as the unprivileged $TEST_USER, once with RUNC=runc
# (Debian's runc 1.1.5) and once with RUNC=urun, in both of runc's
# rootless modes (ROOTLESS_FEATURES="" and "idmap"). As root: installs the
# Debian packages it needs, downloads the suite from the Go module proxy
# at test time (never copied into this repo), builds the suite's helpers,
# makes the busybox tarball the suite expects from busybox-static (no
# network), runs every file under a pseudo-terminal as runc's CI does,
# prints per-file and total counts, writes the table to docs/CONFORMANCE.md
# and fails when urun fails a test that runc passes in the same run and
# tests/runc/allow.tsv does not list (tests/runc/report).
# RUN=regex limits the .bats files (no doc is written then);
# MODES="idmap" runs one mode; KEEP_LOGS=DIR keeps the TAP output.
set -euo pipefail
cd "$(dirname "$0")/../.."
# Its own user, named after the integration suite's: the two may run at
# once, and each cleans up every process of its user.
TEST_USER=${RUNC_SUITE_USER:-${TEST_USER:-urun}-runcsuite}
. tests/harness/lib.sh
RUNC_VERSION=v1.1.5
MODES=${MODES-"none idmap"}

[ "$(id -u)" = 0 ] || die "run as root (make runc-suite): it installs packages and runs the suite as $TEST_USER"
# bats and jq drive the suite, gawk its helpers' awk, script (bsdutils)
# the pty, libseccomp-dev the seccompagent build, xz-utils the tarball.
install_packages runc bats jq gawk bsdutils libseccomp-dev xz-utils tar pkg-config gcc
setup_user "$TEST_USER"
fix_devices
start=$(date +%s)

src=$(go mod download -json "github.com/opencontainers/runc@$RUNC_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
[ -d "$src" ] || die "could not download runc $RUNC_VERSION from the Go module proxy"

make -s build
go build -o _build/runc-report ./tests/runc/report

# The suite's tree must belong to the user running it: helpers.bash
# finds the helpers at ../../contrib/cmd/NAME/NAME and the images in
# testdata/.
stage=$(stage)
trap 'rm -rf "$stage"' EXIT
cp -r "$src" "$stage/runc" && chmod -R u+w "$stage/runc"
# Module zips keep no exec bits; helpers.bash runs get-images.sh directly.
find "$stage/runc" -name '*.sh' -exec chmod +x {} +
log "building runc $RUNC_VERSION's test helpers"
for h in recvtty sd-helper seccompagent; do
	# -tags seccomp as runc's Makefile: without it seccompagent is a stub.
	(cd "$stage/runc" && GOFLAGS=-mod=mod go build -tags seccomp -o "contrib/cmd/$h/$h" "./contrib/cmd/$h")
done

# The busybox image the suite downloads, made from busybox-static: the
# applets as links, the users and groups of docker's busybox image.
arch=$(go env GOARCH)
rootfs="$stage/busybox-rootfs"
mkdir -p "$rootfs"/{bin,sbin,usr/bin,usr/sbin,etc,root,home,var/spool/mail,var/www,tmp,dev,proc,sys}
chmod 1777 "$rootfs/tmp"
cp /bin/busybox "$rootfs/bin/busybox"
for a in $("$rootfs/bin/busybox" --list-full); do
	[ "$a" = bin/busybox ] || [ -e "$rootfs/$a" ] || ln -s /bin/busybox "$rootfs/$a"
done
cat >"$rootfs/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
sys:x:3:3:sys:/dev:/bin/false
sync:x:4:100:sync:/bin:/bin/sync
mail:x:8:8:mail:/var/spool/mail:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
operator:x:37:37:Operator:/var:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
EOF
cat >"$rootfs/etc/group" <<'EOF'
root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
adm:x:4:
tty:x:5:
disk:x:6:
lp:x:7:
mail:x:8:
kmem:x:9:
wheel:x:10:root
floppy:x:11:
news:x:13:
uucp:x:14:
audio:x:29:
www-data:x:33:
operator:x:37:
staff:x:50:
users:x:100:
nogroup:x:65534:
EOF
tar --numeric-owner --owner=0 --group=0 -C "$rootfs" -cJf "$stage/runc/tests/integration/testdata/busybox-$arch.tar.xz" .
# hooks.bats (root only: it skips here) is the one user of the Debian
# image; an empty tarball keeps get-images.sh from downloading it.
tar -cJf "$stage/runc/tests/integration/testdata/debian-$arch.tar.xz" -T /dev/null
rm -rf "$rootfs"

cp -r bin "$stage/"
mkdir -p "$stage/logs"
chown -R "$TEST_USER:" "$stage"
chmod 0755 "$stage"

# runc's rootless.sh sets these for its idmap mode: the user's
# subordinate ranges (read from /etc/subuid, never assumed), and AUX_DIR
# owned by the host id that container uid AUX_UID maps to.
read -r uid_start uid_len < <(awk -F: -v u="$TEST_USER" '$1==u {print $2, $3; exit}' /etc/subuid)
read -r gid_start gid_len < <(awk -F: -v u="$TEST_USER" '$1==u {print $2, $3; exit}' /etc/subgid)
aux_uid=1024
aux_dir="$stage/aux"
mkdir "$aux_dir"
chown "$((uid_start - 1000 + aux_uid))" "$aux_dir"

files=()
for f in "$stage"/runc/tests/integration/*.bats; do
	b=$(basename "$f")
	if [ -n "${RUN:-}" ] && ! [[ $b =~ $RUN ]]; then continue; fi
	files+=("$b")
done

# one_run MODE RUNTIME NAME: every file, each under its own pty, TAP to
# logs/MODE/NAME/FILE.tap. BATS_TMPDIR is the run's own: the suite puts
# its seccomp agent's socket there.
# one_run MODE RUNTIME NAME [FILE...]: only those files when given.
one_run() {
	local mode=$1 rt=$2 name=$3 features=
	shift 3
	[ "$mode" = idmap ] && features=idmap
	local out="$stage/logs/$mode/$name" tmp="$stage/tmp-$mode-$name"
	as_user "$TEST_USER" mkdir -p "$out" "$tmp"
	local f
	for f in "${@:-${files[@]}}"; do
		as_user "$TEST_USER" PATH="/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin:$(dirname "$(command -v go)")" \
			RUNC="$rt" ROOTLESS_FEATURES="$features" TMPDIR="$tmp" \
			ROOTLESS_UIDMAP_START="$uid_start" ROOTLESS_UIDMAP_LENGTH="$uid_len" \
			ROOTLESS_GIDMAP_START="$gid_start" ROOTLESS_GIDMAP_LENGTH="$gid_len" \
			AUX_UID="$aux_uid" AUX_DIR="$aux_dir" \
			script -qefc "timeout 600 bats -t '$stage/runc/tests/integration/$f'" /dev/null </dev/null |
			tr -d '\r' >"$out/$f.tap" || true
	done
}

# The two runtimes of a mode run side by side (the suite's tests are
# short and mostly wait on processes; two cores cope), the modes in turn.
for mode in $MODES; do
	log "runc's suite, mode ${mode}: runc and urun side by side, ${#files[@]} files"
	one_run "$mode" "$(command -v runc)" runc &
	p1=$!
	one_run "$mode" "$stage/bin/urun" urun &
	p2=$!
	wait "$p1" "$p2"
done
# Some tests race the clock, and on a loaded 2-core machine either
# runtime loses now and then (userns.bats "userns with simple mount" did,
# and passed on rerun). A file with a gate line runs once more, for both
# runtimes side by side; the second run decides, the first is named.
_build/runc-report -logs "$stage/logs" -allow tests/runc/allow.tsv -tripped "$stage/tripped"
while read -r mode f; do
	log "runc's suite, mode $mode: $f tripped the gate on the first run ($(grep '^not ok' "$stage/logs/$mode/urun/$f.tap" | paste -sd';')); running it again for both"
	for rt in runc urun; do mv "$stage/logs/$mode/$rt/$f.tap" "$stage/logs/$mode/$rt/$f.first"; done
	one_run "$mode" "$(command -v runc)" runc "$f" &
	p1=$!
	one_run "$mode" "$stage/bin/urun" urun "$f" &
	p2=$!
	wait "$p1" "$p2"
done <"$stage/tripped"
# Leftovers of the test user: every process of this suite's own user.
pkill -KILL -u "$TEST_USER" 2>/dev/null || true
rm -rf "$aux_dir"

wall=$(($(date +%s) - start))
args=(-logs "$stage/logs" -allow tests/runc/allow.tsv -wall "$wall")
[ -z "${RUN:-}" ] && [ "$MODES" = "none idmap" ] && args+=(-doc docs/CONFORMANCE.md)
set +e
_build/runc-report "${args[@]}"
rc=$?
set -e
if [ -n "${KEEP_LOGS:-}" ]; then rm -rf "$KEEP_LOGS" && cp -r "$stage/logs" "$KEEP_LOGS"; fi
log "runc's suite took ${wall}s"
exit $rc
