#!/usr/bin/env bash
# `make demo`: urun's main job as a user meets it. It installs what is
# missing (as root) and creates the unprivileged demo user first, builds
# urun and the demo image, starts a registry on 127.0.0.1 and puts the
# image there, then, as the ordinary user: urun pull (with its progress),
# urun run IMAGE CMD, run -d + exec + logs + rm. At the end it removes the
# image and stops the registry it started (by pid). `make test` runs it
# first, so a fresh machine (CI) checks every install step it needs.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/harness/lib.sh
export PATH=/usr/local/go/bin:$PATH

DEMO_USER=${DEMO_USER:-urun-demo}
# Packages first: the image is built from busybox-static, the registry
# is docker-registry, the image goes there with skopeo.
if [ "$(id -u)" = 0 ]; then
	install_packages
	setup_user "$DEMO_USER"
	fix_devices
else
	for p in docker-registry skopeo newuidmap /bin/busybox; do
		command -v "$p" >/dev/null ||
			die "$p is missing: as root, apt-get install $PACKAGES (or run make demo as root)"
	done
fi

make -s build
go run ./tests/mkimage -out _build/images >/dev/null

work=$(stage)
reg_pid=
ref=
cleanup() {
	if [ -n "$ref" ]; then
		demo_user "$urun_bin" rm -f urun-demo >/dev/null 2>&1 || true
		demo_user "$urun_bin" rmi "$ref" >/dev/null 2>&1 || true
	fi
	if [ -n "$reg_pid" ]; then
		kill "$reg_pid" 2>/dev/null || true
		wait "$reg_pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT
cp -r bin _build/images "$work/"
chmod -R a+rX "$work"
urun_bin="$work/bin/urun"

# demo_user runs a command as the demo user (or as you, run unprivileged).
demo_user() {
	if [ "$(id -u)" = 0 ]; then as_user "$DEMO_USER" "$@"; else "$@"; fi
}
# show prints the command as the user would type it (a multi-line script
# shortened to its first line), then runs it as the demo user.
show() {
	local a line='$ urun'
	for a in "$@"; do
		case $a in
		*$'\n'*) line+=" '${a%%$'\n'*} ...'" ;;
		*[[:space:]]* | *'$'* | *'"'*) line+=" '$a'" ;;
		*) line+=" $a" ;;
		esac
	done
	printf '\n%s\n' "$line"
	demo_user "$urun_bin" "$@" 2>&1
}

# A registry of our own on a free loopback port, storage in $work.
port=
for p in $(shuf -i 20000-40000 -n 20); do
	if ! ss -Htln "sport = :$p" | grep -q .; then port=$p; break; fi
done
[ -n "$port" ] || die "no free port for the demo registry"
mkdir -p "$work/registry"
cat >"$work/registry/config.yml" <<EOF
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $work/registry/data
http:
  addr: 127.0.0.1:$port
EOF
docker-registry serve "$work/registry/config.yml" >"$work/registry/log" 2>&1 &
reg_pid=$!
for _ in $(seq 100); do
	(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
	kill -0 "$reg_pid" 2>/dev/null || { cat "$work/registry/log" >&2; die "the registry did not start"; }
	sleep 0.1
done
ref="127.0.0.1:$port/demo/busybox:1"
demo_user "$urun_bin" rm -f urun-demo >/dev/null 2>&1 || true
log "registry on 127.0.0.1:$port (pid $reg_pid); putting the demo image there as $ref"
skopeo copy -q --dest-tls-verify=false "oci:_build/images/busybox" "docker://$ref" >/dev/null

who=$([ "$(id -u)" = 0 ] && echo "$DEMO_USER" || id -un)
log "as $who (uid $(id -u "$who")), an ordinary user:"
show pull --tls-verify=false "$ref"
show images

script='echo "pid:      $$ (the container has its own pid namespace)"
echo "hostname: $(hostname)"
echo "id:       $(id)"
echo "uid_map:"; cat /proc/self/uid_map
echo "mounts:"; mount | head -3'
show run --rm "$ref" sh -c "$script"

show run -d --name urun-demo "$ref" sh -c 'echo "hello from the detached container"; exec sleep 300'
show ps
show exec urun-demo sh -c 'echo "exec in the same container: $(hostname), its processes:"; ps -o pid,args'
show logs urun-demo
show rm -f urun-demo
show rmi "$ref"
ref=
log "done: the container, the image and the registry (pid $reg_pid) are gone"
