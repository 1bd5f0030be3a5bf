#!/usr/bin/env bash
# make podman-suite: podman 4.3.1's own system tests (test/system, bats)
# with urun as podman's OCI runtime and, side by side in the same run,
# runc. Debian's podman 4.3.1 runs them as the unprivileged $TEST_USER;
# each runtime gets its own storage root, runroot, tmp dir, network
# config dir and containers.conf, and a wrapper the suite calls as
# $PODMAN (helpers.bash) that adds the flags.
#
# Gate: in every file, urun's "not ok" count is at most runc's. Prints a
# per-file table and writes it into docs/PODMAN.md between its markers.
# FILES="030-run 075-exec" limits the files; RUNTIMES="urun" skips runc
# (no gate then); KEEP_LOGS=DIR keeps each file's TAP output.
set -euo pipefail
cd "$(dirname "$0")/../.."
TEST_USER=${TEST_USER:-urun-podman}
. tests/harness/lib.sh
PODMAN_MODULE=github.com/containers/podman/v4@v4.3.1
# The files issue 21 names; the rest of test/system needs systemd,
# the network, a registry or root.
ALL_FILES="030-run 035-logs 045-start 050-stop 055-rm 065-cp 075-exec 080-pause 130-kill
160-volumes 170-run-userns 200-pod 220-healthcheck 450-interactive 700-play"
FILES=${FILES:-$ALL_FILES}
RUNTIMES=${RUNTIMES:-"runc urun"}
# The image helpers.bash expects, by the name it uses (PODMAN_TEST_IMAGE_FQN).
IMAGE=quay.io/libpod/testimage:20220615

[ "$(id -u)" = 0 ] || die "run as root (make podman-suite): it installs packages and runs the suite as $TEST_USER"
# bats runs the files; socat gives 450-interactive its ptys; catatonit is
# podman's pause and --init process.
install_packages podman runc bats catatonit socat conmon containernetworking-plugins
setup_user "$TEST_USER"
fix_devices
make -s build

log "downloading $PODMAN_MODULE (test/system) from the Go module proxy"
src=$(go mod download -json "$PODMAN_MODULE" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
[ -d "$src/test/system" ] || die "could not download $PODMAN_MODULE from the Go module proxy"

stage=$(stage)
uid=$(id -u "$TEST_USER")
cleanup() {
	local rc=$?
	set +e
	for rt in $RUNTIMES; do
		[ -x "$stage/$rt/podman" ] || continue
		as_user "$TEST_USER" "$stage/$rt/podman" pod rm -a -f -t 0 >/dev/null 2>&1
		as_user "$TEST_USER" "$stage/$rt/podman" rm -a -f -t 0 >/dev/null 2>&1
		# The pause process that holds podman's user namespace (one per tmp dir).
		local p; p=$(cat "$stage/$rt/tmp/pause.pid" 2>/dev/null)
		[ -n "$p" ] && kill "$p" 2>/dev/null
	done
	end_leftovers "$TEST_USER"
	rm -rf "$stage"
	exit $rc
}
trap cleanup EXIT
# The module cache is read-only and keeps no exec bits.
cp -r "$src/test/system" "$stage/system"
chmod -R u+w,a+rX "$stage/system"
cp -r bin "$stage/"

# One directory per runtime: storage, runroot, tmp dir (pause.pid,
# events, exit files), CNI config dir, containers.conf and the wrapper.
for rt in $RUNTIMES; do
	d=$stage/$rt
	mkdir -p "$d/storage" "$d/runroot" "$d/tmp" "$d/networks"
	case $rt in
	urun) bin=$stage/bin/urun ;;
	runc) bin=$(command -v runc) ;;
	*) die "unknown runtime $rt" ;;
	esac
	# runtime = …: podman build's RUN steps (buildah) take the runtime
	# from here, not from --runtime.
	cat >"$d/containers.conf" <<CONF
[engine]
runtime = "$rt"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$d/tmp/events.log"
tmp_dir = "$d/tmp"
[engine.runtimes]
$rt = ["$bin"]
[network]
network_config_dir = "$d/networks"
CONF
	# Tests that set CONTAINERS_CONF for one command keep this runtime
	# and storage: the flags outrank any containers.conf.
	cat >"$d/podman" <<WRAP
#!/bin/sh
export CONTAINERS_CONF=\${CONTAINERS_CONF:-$d/containers.conf}
exec /usr/bin/podman --root $d/storage --runroot $d/runroot --storage-driver overlay --runtime $bin --cgroup-manager cgroupfs "\$@"
WRAP
	chmod 0755 "$d/podman"
done

# The test image, built from busybox-static with what the files read:
# /home/podman/testimage-id (mtime 1600000000, for run --tz), the pause
# script 200-pod uses as --infra-command, busybox-extras (700-play's
# httpd), alpine's users, WORKDIR and CMD as build-testimage makes them.
root=$stage/image/rootfs
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,usr/local/bin,etc,home/podman,root,tmp,var/tmp,var/log,var/cache,proc,sys,dev,run,srv,mnt,opt,media}
chmod 1777 "$root/tmp" "$root/var/tmp"
cp /bin/busybox "$root/bin/busybox"
for a in $("$root/bin/busybox" --list-full); do
	[ -e "$root/$a" ] || ln -s /bin/busybox "$root/$a"
done
ln -s busybox "$root/bin/busybox-extras"
ln -s /proc/mounts "$root/etc/mtab"
# Debian's busybox-static has env but no printenv applet, which 030-run
# calls as /bin/printenv.
cat >"$root/bin/printenv" <<'EOF'
#!/bin/sh
[ $# -eq 0 ] && exec env
rc=0
for n in "$@"; do
	eval "isset=\${$n+x}"
	if [ -n "$isset" ]; then eval "printf '%s\n' \"\$$n\""; else rc=1; fi
done
exit $rc
EOF
chmod 0755 "$root/bin/printenv"
ln -s /bin/printenv "$root/usr/bin/printenv"
cat >"$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
bin:x:1:1:bin:/bin:/sbin/nologin
daemon:x:2:2:daemon:/sbin:/sbin/nologin
adm:x:3:4:adm:/var/adm:/sbin/nologin
lp:x:4:7:lp:/var/spool/lpd:/sbin/nologin
sync:x:5:0:sync:/sbin:/bin/sync
mail:x:8:12:mail:/var/mail:/sbin/nologin
operator:x:11:0:operator:/root:/sbin/nologin
ftp:x:21:21::/var/lib/ftp:/sbin/nologin
guest:x:405:100:guest:/dev/null:/sbin/nologin
nobody:x:65534:65534:nobody:/:/sbin/nologin
EOF
cat >"$root/etc/group" <<'EOF'
root:x:0:root
bin:x:1:root,bin,daemon
daemon:x:2:root,bin,daemon
sys:x:3:root,bin,adm
adm:x:4:root,adm,daemon
tty:x:5:
disk:x:6:root,adm
lp:x:7:lp
wheel:x:10:root
mail:x:12:mail
ftp:x:21:
users:x:100:games
nogroup:x:65533:
nobody:x:65534:
EOF
printf 'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.16.0\n' >"$root/etc/os-release"
echo 20220615 >"$root/home/podman/testimage-id"
touch --date=@1600000000 "$root/home/podman/testimage-id"
cat >"$root/home/podman/pause" <<'EOF'
#!/bin/sh
#
# Trivial little pause script, used in one of the pod tests
#
echo Confirmed: testimage pause invoked as $0
while :; do
    sleep 0.1
done
EOF
chmod 0755 "$root/home/podman/pause"
tar --numeric-owner --owner=0 --group=0 -C "$root" -cf "$stage/image/rootfs.tar" .
chown -R "$TEST_USER:" "$stage"

for rt in $RUNTIMES; do
	as_user "$TEST_USER" "$stage/$rt/podman" import -q \
		--change 'CMD ["/bin/echo", "This container is intended for podman CI testing"]' \
		--change 'WORKDIR /home/podman' \
		--change 'LABEL created_by=tests/podman/run.sh' \
		"$stage/image/rootfs.tar" "$IMAGE" >/dev/null ||
		die "importing the test image into $rt's storage"
done

# One bats process per file and runtime; the runtimes run side by side.
run_files() { # runtime files...
	local rt=$1 f
	shift
	for f in "$@"; do
		# urun-init on PATH, as an installed urun has it: 030-run
		# runs a copy of the runtime from /var/tmp.
		as_user "$TEST_USER" env PODMAN="$stage/$rt/podman" PATH="$stage/bin:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin" \
			bats --tap "$stage/system/$f.bats" >"$stage/$rt/$f.tap" 2>&1 || true
	done
}
start=$(date +%s)
log "podman system tests ($(echo $FILES | wc -w) files) as $TEST_USER with: $RUNTIMES"
pids=()
for rt in $RUNTIMES; do
	run_files "$rt" $FILES &
	pids+=($!)
done
wait "${pids[@]}"

count() { # tap-file pattern
	[ -f "$1" ] || { echo 0; return; }
	case $2 in
	ok) grep -E '^ok [0-9]+ ' "$1" | grep -vc '# skip' || true ;;
	notok) grep -Ec '^not ok [0-9]+ ' "$1" || true ;;
	skip) grep -E '^ok [0-9]+ ' "$1" | grep -c '# skip' || true ;;
	esac
}
# Files where urun fails more tests than runc.
tripped() {
	local f
	for f in $FILES; do
		[ -f "$stage/urun/$f.tap" ] && [ -f "$stage/runc/$f.tap" ] || continue
		[ "$(count "$stage/urun/$f.tap" notok)" -gt "$(count "$stage/runc/$f.tap" notok)" ] && echo "$f"
	done
	return 0
}
# Several tests race the clock (045-start's `sleep 20` must outlive the
# four runs and a wait before it; 030-run's --rm must be gone at once),
# and on a loaded 2-core machine either runtime loses now and then. A
# file that trips the gate runs once more for both runtimes, side by
# side; the second run decides, and the first one's failures are named.
retry=$(tripped | paste -sd" ")
if [ -n "$retry" ]; then
	for f in $retry; do
		log "$f: urun failed more than runc on the first run ($(sed -n 's/^not ok [0-9]* //p' "$stage/urun/$f.tap" | paste -sd';')); running it again for both"
		for rt in $RUNTIMES; do mv "$stage/$rt/$f.tap" "$stage/$rt/$f.first.tap"; done
	done
	pids=()
	for rt in $RUNTIMES; do
		run_files "$rt" $retry &
		pids+=($!)
	done
	wait "${pids[@]}"
fi
wall=$(( $(date +%s) - start ))

fail=0
table="| file |"
sep="|---|"
for rt in $RUNTIMES; do table+=" $rt ok / not ok / skip |"; sep+="---|"; done
table+=" urun fails where runc passes |"
sep+="---|"
table=$table$'\n'$sep
declare -A total
for f in $FILES; do
	row="| $f |"
	for rt in $RUNTIMES; do
		o=$(count "$stage/$rt/$f.tap" ok) n=$(count "$stage/$rt/$f.tap" notok) s=$(count "$stage/$rt/$f.tap" skip)
		total[$rt.ok]=$(( ${total[$rt.ok]:-0} + o ))
		total[$rt.n]=$(( ${total[$rt.n]:-0} + n ))
		total[$rt.s]=$(( ${total[$rt.s]:-0} + s ))
		row+=" $o / $n / $s |"
	done
	worse=
	if [ -f "$stage/urun/$f.tap" ] && [ -f "$stage/runc/$f.tap" ]; then
		# Test names urun fails and runc does not.
		worse=$(comm -23 <(sed -n 's/^not ok [0-9]* //p' "$stage/urun/$f.tap" | sort) \
			<(sed -n 's/^not ok [0-9]* //p' "$stage/runc/$f.tap" | sort) | paste -sd';' | sed 's/|/\\|/g')
		if [ "$(count "$stage/urun/$f.tap" notok)" -gt "$(count "$stage/runc/$f.tap" notok)" ]; then
			fail=1
			worse="**GATE** $worse"
		fi
	fi
	case " $retry " in *" $f "*) worse="${worse:+$worse; }(run twice: the first run tripped the gate)" ;; esac
	table+=$'\n'"$row ${worse:--} |"
done
row="| **total** |"
for rt in $RUNTIMES; do row+=" ${total[$rt.ok]} / ${total[$rt.n]} / ${total[$rt.s]} |"; done
table+=$'\n'"$row |"
echo "$table"
echo "podman system tests: wall time ${wall}s for both runtimes side by side"
for rt in $RUNTIMES; do
	echo "podman system tests with $rt: ${total[$rt.ok]} ok, ${total[$rt.n]} not ok, ${total[$rt.s]} skipped"
done

if [ -n "${KEEP_LOGS:-}" ]; then
	rm -rf "$KEEP_LOGS" && mkdir -p "$KEEP_LOGS"
	for rt in $RUNTIMES; do
		for t in "$stage/$rt"/*.tap; do cp "$t" "$KEEP_LOGS/$rt-$(basename "$t")"; done
	done
fi
# The table goes into docs/PODMAN.md when the whole suite ran against both.
if [ "$FILES" = "$ALL_FILES" ] && [ "$RUNTIMES" = "runc urun" ]; then
	doc=docs/PODMAN.md
	{
		sed '/<!-- podman-suite:begin -->/q' "$doc"
		echo "Written by \`make podman-suite\` on $(date -u '+%Y-%m-%d %H:%M') UTC; wall time ${wall} s (both runtimes side by side, 2 cores)."
		echo
		echo "$table"
		sed -n '/<!-- podman-suite:end -->/,$p' "$doc"
	} >"$doc.new" && mv "$doc.new" "$doc"
	log "wrote the table into $doc"
fi
[ "$fail" = 0 ] || die "urun fails more podman system tests than runc in a file (GATE rows above)"
