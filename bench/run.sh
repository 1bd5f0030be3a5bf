#!/usr/bin/env bash
# The benchmarks themselves, run as an ordinary user (bench.sh sets the host
# up and calls this). Usage: run.sh STAGE OUT
#   STAGE holds bin/urun, bin/urun-init, images/ and bench/; OUT receives one
#   hyperfine JSON (+ its text output) per benchmark, b5.json, b6.json,
#   profile-*.txt and meta.json, which bench/report turns into results.md.
# Every comparison is made inside one hyperfine call, so the ratios compare
# runs taken minutes apart at most, on the same (noisy) machine.
set -euo pipefail
stage=$1 out=$2
URUN=$stage/bin/urun
IMG=$stage/images/busybox
W=$(mktemp -d "$stage/work.XXXXXX")
quick=${BENCH_QUICK:-}

log() { printf '== %s\n' "$*" >&2; }
want() { [ -z "${BENCH_ONLY:-}" ] || [[ " $BENCH_ONLY " == *" $1 "* ]]; }
note() { printf '%s\t%s\n' "$1" "$2" >>"$out/notes.tsv"; log "$1: $2"; }

if [ -n "$quick" ]; then
	FAST=(--warmup 1 --runs 3)
	SLOW=(--warmup 1 --runs 2)
	N_DIRS=1000 WRITE_MIB=32 LIB_DIRS=4 LAYER_MIB=2 B5_N=3 B6_N=5 B6_REPS=1 PROFILE_N=3
	B8_N=3 B8_BASE_MIB=8 B8_WRITE_MIB=32
else
	FAST=(--warmup 5 --min-runs 40)
	# B3 runs for minutes (20,000 directories on this VM's ext4 take ~30 s);
	# its data was just written, so the page cache is warm without warm-up.
	SLOW=(--warmup 0 --runs 2)
	N_DIRS=20000 WRITE_MIB=1024 LIB_DIRS=40 LAYER_MIB=24 B5_N=20 B6_N=100 B6_REPS=2 PROFILE_N=30
	B8_N=10 B8_BASE_MIB=64 B8_WRITE_MIB=1024
fi
# Any of these can be set from the environment, e.g. B6_REPS=5.
N_DIRS=${BENCH_N_DIRS:-$N_DIRS} WRITE_MIB=${BENCH_WRITE_MIB:-$WRITE_MIB}
B6_N=${BENCH_B6_N:-$B6_N} B6_REPS=${BENCH_B6_REPS:-$B6_REPS}
B8_N=${BENCH_B8_N:-$B8_N} B8_BASE_MIB=${BENCH_B8_BASE_MIB:-$B8_BASE_MIB} B8_WRITE_MIB=${BENCH_B8_WRITE_MIB:-$B8_WRITE_MIB}
# A command whose first try takes longer than this is left out of its
# benchmark (fuse-overlayfs 1.10 needs many minutes for 20,000 rmdir).
PREFLIGHT_TIMEOUT=${BENCH_PREFLIGHT_TIMEOUT:-90}

# hf NAME HYPERFINE-ARGS...: commands run without a shell (-N), so no shell
# start-up is added to (or subtracted from) what is measured. Each command
# (with its --prepare) is tried once first: one that fails is left out with
# a note, so one broken runtime does not cost the others' figures.
hf() {
	local name=$1; shift
	local keep=() pend=() a
	while [ $# -gt 0 ]; do
		case $1 in
		--warmup | --runs | --min-runs | --max-runs) keep+=("$1" "$2"); shift 2 ;;
		--show-output) keep+=("$1"); shift ;;
		-n | --prepare) pend+=("$1" "$2"); shift 2 ;;
		*)
			local prep="" label="$1" i
			for ((i = 0; i < ${#pend[@]}; i += 2)); do
				[ "${pend[i]}" = --prepare ] && prep=${pend[i + 1]}
				[ "${pend[i]}" = -n ] && label=${pend[i + 1]}
			done
			local rc=0
			{ [ -z "$prep" ] || sh -c "$prep" >/dev/null 2>&1; } &&
				timeout -k 5 "$PREFLIGHT_TIMEOUT" sh -c "$1" >"$W/preflight.out" 2>&1 </dev/null || rc=$?
			if [ "$rc" = 0 ]; then
				keep+=("${pend[@]}" "$1")
			elif [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
				note "$name" "left out '$label': one run took longer than $PREFLIGHT_TIMEOUT s"
			else
				note "$name" "left out '$label': it failed (exit $rc): $(tail -n 2 "$W/preflight.out" | tr '\n' ' ')"
			fi
			pend=()
			shift
			;;
		esac
	done
	log "$name"
	if ! hyperfine -N --style basic "${keep[@]}" --export-json "$out/$name.json" >"$out/$name.txt" 2>&1; then
		note "$name" "hyperfine failed: $(tail -n 3 "$out/$name.txt" | tr '\n' ' ')"
	fi
	# Rows without --rm keep a container per run, as docker does; each
	# command sweeps the state root, so they must not pile up from one
	# row (or one bench run) into the next.
	"$URUN" container prune -f >/dev/null 2>&1 || true
	return 0
}

# pids_here: processes of this user in this pid namespace (helpers; a
# container's own processes live in its pid namespace).
pids_here() {
	local me p; me=$(readlink /proc/self/ns/pid)
	for p in /proc/[0-9]*; do
		[ -O "$p" ] || continue
		[ "$(readlink "$p/ns/pid" 2>/dev/null)" = "$me" ] && echo "${p#/proc/}"
	done | sort # comm(1) needs lexical order
}

cleanup() {
	[ -n "${regpid:-}" ] && kill "$regpid" 2>/dev/null
	podman rm -f -t 0 -a >/dev/null 2>&1 || true
	"$URUN" container prune -f >/dev/null 2>&1 || true
	return 0
}
trap cleanup EXIT

# --- fixtures ---------------------------------------------------------------
# The busybox image's one layer, unpacked: the rootfs every runtime shares.
manifest=$(jq -r '.manifests[0].digest' "$IMG/index.json" | cut -d: -f2)
layer=$(jq -r '.layers[0].digest' "$IMG/blobs/sha256/$manifest" | cut -d: -f2)
R=$W/rootfs
mkdir "$R"
tar xzf "$IMG/blobs/sha256/$layer" -C "$R"

# OCI bundles from `runc spec --rootless`: /bin/true, no terminal. The
# variants differ only in the network namespace and the id mapping
# (single: your uid as root, no helper; subid: + newuidmap/newgidmap).
# The ambient set is dropped: runc's template has no inheritable set, and
# urun (rightly or not) refuses to raise an ambient capability without it.
uid=$(id -u) gid=$(id -g)
sub_uid=$(awk -F: -v u="$(id -un)" '$1==u {print $2; exit}' /etc/subuid)
sub_gid=$(awk -F: -v u="$(id -un)" '$1==u {print $2; exit}' /etc/subgid)
mkbundle() { # DIR NET(true|false) MAP(single|subid)
	mkdir -p "$1"
	(cd "$1" && runc spec --rootless)
	jq --arg r "$R" --argjson net "$2" --arg map "$3" \
		--argjson uid "$uid" --argjson gid "$gid" --argjson su "${sub_uid:-0}" --argjson sg "${sub_gid:-0}" '
		.root.path = $r | .process.terminal = false | .process.args = ["/bin/true"]
		| del(.process.capabilities.ambient)
		| if $net then .linux.namespaces += [{"type": "network"}] else . end
		| if $map == "subid" then
			.linux.uidMappings = [{"containerID": 0, "hostID": $uid, "size": 1}, {"containerID": 1, "hostID": $su, "size": 65536}]
			| .linux.gidMappings = [{"containerID": 0, "hostID": $gid, "size": 1}, {"containerID": 1, "hostID": $sg, "size": 65536}]
		  else . end' "$1/config.json" >"$1/config.tmp"
	mv "$1/config.tmp" "$1/config.json"
}
mkbundle "$W/b-nonet" false single
mkbundle "$W/b-nonet-subid" false subid
mkbundle "$W/b-net" true single

# podman sees the same image: copied from the same OCI layout.
PIMG=localhost/bench-busybox:latest
skopeo copy -q "oci:$IMG:latest" "containers-storage:$PIMG" 2>/dev/null
podman --runtime runc run --rm --network none "$PIMG" true 2>/dev/null # the pause process, once

# --- meta -------------------------------------------------------------------
ver() { "$@" 2>&1 | head -n 1 || true; }
jq -n --arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" --arg kernel "$(uname -r)" \
	--arg cpu "$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)" --arg ncpu "$(nproc)" \
	--arg mem "$(awk '/MemTotal/ {print $2 " kB"}' /proc/meminfo)" \
	--arg urun "$(ver "$URUN" version)" --arg runc "$(ver runc --version)" --arg bwrap "$(ver bwrap --version)" \
	--arg podman "$(ver podman --version)" --arg conmon "$(ver conmon --version)" \
	--arg fuse "$(fuse-overlayfs --version 2>&1 | grep -m1 'fuse-overlayfs:' || true)" --arg hyperfine "$(ver hyperfine --version)" \
	--arg registry "$(ver docker-registry --version)" --arg cgroup "$(stat -fc %T /sys/fs/cgroup)" \
	--arg quick "$quick" \
	'{date: $date, kernel: $kernel, cpu: $cpu, ncpu: $ncpu, mem: $mem, cgroupfs: $cgroup, quick: ($quick != ""),
	  versions: {urun: $urun, runc: $runc, bubblewrap: $bwrap, podman: $podman, conmon: $conmon,
	  "fuse-overlayfs": $fuse, hyperfine: $hyperfine, "docker-registry": $registry}}' >"$out/meta.json"

# --- B0 floor ---------------------------------------------------------------
want B0 && hf B0 "${FAST[@]}" \
	-n "true" "/bin/true" \
	-n "unshare -Ur" "unshare -Ur true" \
	-n "bwrap --unshare-all" "bwrap --unshare-all --ro-bind $R / --proc /proc --dev /dev /bin/true" \
	-n "urun --version" "$URUN --version"

# --- B1 runtime level: same rootfs, no tty ----------------------------------
BW="bwrap --unshare-user --unshare-pid --unshare-ipc --unshare-uts --bind $R / --proc /proc --dev /dev"
want B1 && hf B1-nonet "${FAST[@]}" \
	-n "runc run" "runc run -b $W/b-nonet bench-runc" \
	-n "urun run --bundle" "$URUN run --bundle $W/b-nonet bench-urun" \
	-n "runc run (subids)" "runc run -b $W/b-nonet-subid bench-runc" \
	-n "urun run --bundle (subids)" "$URUN run --bundle $W/b-nonet-subid bench-urun" \
	-n "urun run --rootfs" "$URUN run --rootfs --network host $R /bin/true" \
	-n "urun run --rootfs --rootfs-tier bind" "$URUN run --rootfs --rootfs-tier bind --network host $R /bin/true" \
	-n "bwrap" "$BW /bin/true"
want B1 && hf B1-net "${FAST[@]}" \
	-n "runc run" "runc run -b $W/b-net bench-runc" \
	-n "urun run --bundle" "$URUN run --bundle $W/b-net bench-urun" \
	-n "urun run --rootfs" "$URUN run --rootfs --network none $R /bin/true" \
	-n "bwrap" "$BW --unshare-net /bin/true"

# --- B2 engine level: image local and warm ----------------------------------
want B2 && hf B2 "${FAST[@]}" \
	-n "urun run IMG" "$URUN run --rm --network none oci:$IMG true" \
	-n "podman run IMG" "podman --runtime runc run --rm --network none $PIMG true"
# B2-net: what most users run, no --network: urun's default (pasta) against
# the same run without a network and with slirp4netns, and podman's own
# default (slirp4netns, for rootless podman 4.3).
want B2-net && hf B2-net "${FAST[@]}" \
	-n "urun run IMG (default network)" "$URUN run --rm oci:$IMG true" \
	-n "urun run IMG --network none" "$URUN run --rm --network none oci:$IMG true" \
	-n "urun run IMG --network slirp4netns" "$URUN run --rm --network slirp4netns oci:$IMG true" \
	-n "podman run IMG (default network)" "podman --runtime runc run --rm $PIMG true"

# B2-debian: a real Debian 12 image (debootstrap minbase, made once by
# bench.sh into _build/bench-debian), both engines with their default
# network: the issue's "real image" row.
DEB=$stage/images/debian
if want B2-debian; then
	if [ -f "$DEB/index.json" ]; then
		PDEB=localhost/bench-debian:latest
		skopeo copy -q "oci:$DEB:latest" "containers-storage:$PDEB" 2>/dev/null
		hf B2-debian "${FAST[@]}" \
			-n "urun run DEBIAN (default network)" "$URUN run --rm oci:$DEB true" \
			-n "urun run DEBIAN --network none" "$URUN run --rm --network none oci:$DEB true" \
			-n "podman run DEBIAN (default network)" "podman --runtime runc run --rm $PDEB true"
	else
		note B2-debian "left out: no Debian image (bench.sh makes it as root with debootstrap; not in quick mode)"
	fi
fi

# --- start-up profile: urun's phases ----------------------------------------
# dry-run = binary start + flags + idmap (getsubids) + store lookup + spec,
# no clone; host-single = no getsubids, no newuidmap/newgidmap; --debug
# prints the rest per phase.
if want profile; then
	hf profile "${FAST[@]}" \
		-n "urun --version" "$URUN --version" \
		-n "urun run --dry-run --rootfs" "$URUN run --dry-run --rootfs --network host $R /bin/true" \
		-n "urun run --dry-run --rootfs --userns host-single" "$URUN run --dry-run --rootfs --network host --userns host-single $R /bin/true" \
		-n "urun run --dry-run IMG" "$URUN run --dry-run oci:$IMG true" \
		-n "urun run --rootfs --userns host-single" "$URUN run --rootfs --network host --userns host-single $R /bin/true" \
		-n "urun run --rootfs" "$URUN run --rootfs --network host $R /bin/true" \
		-n "urun run IMG" "$URUN run --network none oci:$IMG true"
	: >"$out/profile-rootfs.txt"
	: >"$out/profile-image.txt"
	: >"$out/profile-net.txt"
	for _ in $(seq "$PROFILE_N"); do
		"$URUN" --debug run --rootfs --network host "$R" /bin/true 2>>"$out/profile-rootfs.txt"
		"$URUN" --debug run --rm --network none "oci:$IMG" true 2>>"$out/profile-image.txt"
		"$URUN" --debug run --rm "oci:$IMG" true 2>>"$out/profile-net.txt"
	done
fi

# --- B3 filesystem inside the container's rootfs ----------------------------
if want B3; then
	# A rootfs with something to read: the busybox tree plus a /lib of
	# LIB_DIRS x 50 files (4..196 KiB), and the workload script.
	R3=$W/rootfs3
	cp -a "$R" "$R3"
	mkdir -p "$R3/lib" "$R3/bench/work"
	for d in $(seq "$LIB_DIRS"); do
		mkdir "$R3/lib/d$d"
		for f in $(seq 50); do head -c $(((f % 49 + 1) * 4096)) /dev/urandom >"$R3/lib/d$d/f$f"; done
	done
	cp "$stage/bench/fs.sh" "$R3/bench/fs.sh"
	R3B=$W/rootfs3-bind # the bind tier writes into its directory
	cp -a "$R3" "$R3B"
	SHM=$(mktemp -d /dev/shm/urun-bench.XXXXXX)
	trap 'cleanup; rm -rf "$SHM"' EXIT
	ur="$URUN run --rootfs --network host"
	fd="unshare --map-auto --map-root-user --mount sh $stage/bench/fuse-direct.sh $R3 $W/fuse-direct"
	mkdir -p "$W/fuse-direct"
	b3() { # NAME OP ARGS... (paths inside the rootfs are prefixed for host runs)
		local name=$1 op=$2; shift 2
		local hostargs=() a
		for a in "$@"; do case $a in /*) hostargs+=("$R3$a") ;; *) hostargs+=("$a") ;; esac; done
		local extra=()
		[ "$op" != tar ] && extra=(-n "host tmpfs (/dev/shm)" "busybox sh $R3/bench/fs.sh $SHM $op $*")
		hf "$name" "${SLOW[@]}" \
			-n "urun native overlay" "$ur --rootfs-tier native $R3 /bin/sh /bench/fs.sh /bench/work $op $*" \
			-n "urun fuse-overlayfs" "$ur --rootfs-tier fuse $R3 /bin/sh /bench/fs.sh /bench/work $op $*" \
			-n "urun bind" "$ur --rootfs-tier bind $R3B /bin/sh /bench/fs.sh /bench/work $op $*" \
			-n "fuse-overlayfs direct" "$fd $op $*" \
			-n "host directory (ext4)" "busybox sh $R3/bench/fs.sh $R3/bench/work $op ${hostargs[*]}" \
			"${extra[@]}"
	}
	b3 B3-mkdir mkdir "$N_DIRS"
	b3 B3-write write "$WRITE_MIB"
	b3 B3-tar tar /bin /lib
fi

# --- B4 pull + unpack from a loopback registry ------------------------------
# podman is measured even when urun cannot pull yet, so the peer's figure
# is there to compare with once it can.
if want B4; then
	{
		port=$((20000 + RANDOM % 20000))
		mkdir -p "$W/registry"
		printf 'version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%s\n' \
			"$W/registry" "$port" >"$W/registry.yml"
		docker-registry serve "$W/registry.yml" >"$W/registry.log" 2>&1 &
		regpid=$!
		for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
		# A multi-layer image: busybox + 4 layers of LAYER_MIB each, half
		# random (incompressible), half base64 text.
		ctx=$W/big
		mkdir -p "$ctx"
		printf 'FROM %s\n' "$PIMG" >"$ctx/Containerfile"
		for l in 1 2 3 4; do
			mkdir -p "$ctx/l$l"
			for f in $(seq 8); do
				head -c $((LAYER_MIB * 65536)) /dev/urandom >"$ctx/l$l/r$f"
				head -c $((LAYER_MIB * 49152)) /dev/urandom | base64 >"$ctx/l$l/t$f"
			done
			printf 'COPY l%s /data/l%s\n' "$l" "$l" >>"$ctx/Containerfile"
		done
		REF=127.0.0.1:$port/bench/big:latest
		podman build -q -t localhost/bench-big "$ctx" >/dev/null 2>"$W/build.log" || note B4 "podman build failed: $(tail -n1 "$W/build.log")"
		podman push -q --tls-verify=false localhost/bench-big "docker://$REF" 2>"$W/push.log" || note B4 "podman push failed: $(tail -n1 "$W/push.log")"
		PR="podman --root $W/podman-b4 --runroot $W/podman-b4-run --storage-driver overlay"
		urun_b4=()
		if "$URUN" pull --help >/dev/null 2>&1; then
			tls=()
			"$URUN" pull --help 2>&1 | grep -q -- --tls-verify && tls=(--tls-verify=false)
			# Emptied as podman's is (rm -a, rmi): the store and its
			# probes' records stay, the images and layers go; a layer
			# left behind fails the prepare (a pull that reused it
			# would time less than a pull).
			urun_b4=(-n "urun pull" --prepare "sh -c 'env XDG_DATA_HOME=$W/urun-b4 $URUN rm -a -f; env XDG_DATA_HOME=$W/urun-b4 $URUN rmi -f $REF; ! grep -qs id $W/urun-b4/urun/storage/overlay-layers/layers.json'"
				"env XDG_DATA_HOME=$W/urun-b4 $URUN pull ${tls[*]} docker://$REF")
		else
			note B4 "urun: not available: this urun has no 'urun pull' (podman measured alone)"
		fi
		hf B4 "${SLOW[@]}" "${urun_b4[@]}" \
			-n "podman pull" --prepare "$PR rmi -a -f" \
			"$PR pull -q --tls-verify=false $REF"
		# podman pull also unpacks the layers; urun unpacks on the first
		# run for the mapping. Pull + first run is the like-for-like.
		UR="env XDG_DATA_HOME=$W/urun-b4 $URUN"
		# hyperfine runs without a shell (-N): each pair goes through sh -c.
		hf B4-run "${SLOW[@]}" \
			-n "urun pull + first run" --prepare "sh -c '$UR rm -a -f; $UR rmi -f $REF; ! grep -qs id $W/urun-b4/urun/storage/overlay-layers/layers.json'" \
			"sh -c '$UR pull -q --tls-verify=false docker://$REF && $UR run --rm --network none --pull=never $REF true'" \
			-n "podman pull + first run" --prepare "sh -c '$PR rm -a -f; $PR rmi -a -f'" \
			"sh -c '$PR pull -q --tls-verify=false $REF && $PR --runtime runc run --rm --network none $REF true'"
		kill "$regpid" 2>/dev/null; wait "$regpid" 2>/dev/null || true
		regpid=
	}
fi

# --- B5 idle memory of detached containers ----------------------------------
# pss_of PID...: sum of Pss (kB) from smaps_rollup.
pss_of() {
	local p s=0 v
	for p in "$@"; do
		v=$(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup" 2>/dev/null || echo 0)
		s=$((s + ${v:-0}))
	done
	echo "$s"
}
# b5 NAME START-CMD STOP-CMD: STOP-CMD gets the ids START-CMD printed.
b5() {
	local name=$1 start=$2 stop=$3 before after new ids=() i id t0 t1 start_ns=0
	before=$(pids_here)
	for i in $(seq "$B5_N"); do
		t0=$(date +%s%N)
		id=$(timeout 20 $start 2>>"$W/b5.err") || { note B5 "$name: start failed: $(tail -n1 "$W/b5.err")"; break; }
		t1=$(date +%s%N)
		start_ns=$((start_ns + t1 - t0))
		ids+=("$id")
	done
	sleep 2
	after=$(pids_here)
	new=$(comm -13 <(echo "$before") <(echo "$after") | grep -vx "$$" || true)
	# The ps/awk/readlink of this function are gone by now; what is new
	# and still alive is a per-container helper.
	local live=() names=()
	for i in $new; do
		[ -e "/proc/$i" ] || continue
		live+=("$i")
		names+=("$(cat "/proc/$i/comm")")
	done
	local total; total=$(pss_of "${live[@]}")
	jq -n --arg name "$name" --argjson n "${#ids[@]}" --argjson total "$total" --argjson start_ns "$start_ns" \
		--arg names "$(printf '%s\n' "${names[@]}" | sort | uniq -c | awk '{printf "%s×%s ", $1, $2}')" \
		'{($name): {containers: $n, helper_pss_kib: $total, per_container_kib: (if $n > 0 then $total / $n else null end),
		  start_ms: (if $n > 0 then $start_ns / $n / 1e6 else null end), helpers: $names}}' \
		>"$W/b5-$name.json"
	[ ${#ids[@]} -gt 0 ] && $stop "${ids[@]}" >/dev/null 2>&1
	return 0
}
if want B5; then
	: >"$W/b5.err"
	b5 podman "podman --runtime runc run -d --rm --network none $PIMG sleep 1000" "podman rm -f -t 0"
	log "B5 podman done"
	# `urun run -d IMG` returns at once when it exists; a urun without it
	# runs sleep in the foreground, which the timeout ends.
	if probe=$(timeout 10 "$URUN" run -d --network none "oci:$IMG" sleep 30 2>/dev/null) && [ -n "$probe" ]; then
		urun_stop() { local id; for id in "$@"; do "$URUN" rm -f "$id" || { "$URUN" kill "$id" KILL; sleep 0.2; "$URUN" delete "$id"; }; done; }
		urun_stop "$probe" >/dev/null 2>&1
		b5 urun "$URUN run -d --network none oci:$IMG sleep 1000" urun_stop
		[ -s "$W/b5-urun.json" ] || note B5 "urun: measured nothing: $(tail -n 2 "$W/b5.err" | tr '\n' ' ')"
		log "B5 urun done"
		# The same with a supervisor per container (what urun did before
		# the shared one): its start time is the latency to keep.
		b5 urun-own "env URUN_SUPERVISOR=own $URUN run -d --network none oci:$IMG sleep 1000" urun_stop
	else
		note B5 "urun: not available: 'urun run -d IMAGE' did not return a container id (not implemented in this build)"
	fi
	cat "$W"/b5-*.json 2>/dev/null | jq -s 'add // {}' >"$out/b5.json"
fi

# --- B6 throughput: 2 workers x N sequential `run true` ---------------------
if want B6; then
	b6() { # NAME CMD (%W is the worker number)
		local name=$1 cmd=$2 rates=() fails=0 r t0 t1 w
		for r in $(seq "$B6_REPS"); do
			t0=$(date +%s%N)
			for w in 1 2; do
				(
					f=0
					for _ in $(seq "$B6_N"); do ${cmd//%W/$w} >/dev/null 2>&1 </dev/null || f=$((f + 1)); done
					echo "$f" >"$W/b6-fail-$w"
				) &
			done
			wait
			t1=$(date +%s%N)
			fails=$((fails + $(cat "$W/b6-fail-1") + $(cat "$W/b6-fail-2")))
			rates+=("$(awk -v n=$((2 * B6_N)) -v ns=$((t1 - t0)) 'BEGIN {printf "%.2f", n / (ns / 1e9)}')")
		done
		log "B6 $name: ${rates[*]} containers/s, $fails failed"
		jq -n --arg name "$name" --argjson fails "$fails" --argjson n "$B6_N" \
			--argjson rates "[$(IFS=,; echo "${rates[*]}")]" \
			'{($name): {per_worker: $n, workers: 2, failures: $fails, rates: $rates}}' >"$W/b6-$name.json"
	}
	mkbundle "$W/b6-1" false single
	mkbundle "$W/b6-2" false single
	b6 "urun run IMG" "$URUN run --rm --network none oci:$IMG true"
	b6 "urun run --rootfs" "$URUN run --rootfs --network host $R /bin/true"
	b6 "urun run --bundle" "$URUN run --bundle $W/b6-%W bench-urun-%W"
	b6 "runc run" "runc run -b $W/b6-%W bench-runc-%W"
	b6 "bwrap" "$BW /bin/true"
	b6 "podman run IMG" "podman --runtime runc run --rm --network none $PIMG true"
	cat "$W"/b6-*.json | jq -s add >"$out/b6.json"
fi
# --- B7 network throughput per driver (iperf3, all on this machine) -------
# container -> host loopback (allow_host_loopback, 10.0.2.2), and host ->
# container through a published port. The host's root is the container's
# (read-only, bind tier) so the host's iperf3 runs inside.
if want B7; then
	secs=10; [ -n "$quick" ] && secs=2
	rows=()
	for net in "slirp4netns:allow_host_loopback=true" "pasta:allow_host_loopback" host; do
		target=10.0.2.2; [ "$net" = host ] && target=127.0.0.1
		iperf3 -s -B 127.0.0.1 -p 5301 -1 >/dev/null 2>&1 &
		srv=$!
		sleep 0.5
		mbit=$($URUN run --rm --network "$net" --rootfs --rootfs-tier bind --read-only --tmpfs /tmp / \
			iperf3 -c "$target" -p 5301 -t "$secs" -f m -J 2>/dev/null | jq '.end.sum_received.bits_per_second / 1e6 | floor' 2>/dev/null)
		kill "$srv" 2>/dev/null || true; wait "$srv" 2>/dev/null || true
		rows+=("{\"path\": \"container->host\", \"network\": \"${net%%:*}\", \"mbit\": ${mbit:-null}}")
		log "B7 container->host via ${net%%:*}: ${mbit:-failed} Mbit/s"
	done
	for net in slirp4netns pasta; do
		$URUN run --rm --network "$net" -p 127.0.0.1:5302:5201 --rootfs --rootfs-tier bind --read-only --tmpfs /tmp / iperf3 -s -1 >/dev/null 2>&1 &
		ctr=$!
		mbit=
		for _ in $(seq 50); do
			mbit=$(iperf3 -c 127.0.0.1 -p 5302 -t "$secs" -f m -J 2>/dev/null | jq '.end.sum_received.bits_per_second / 1e6 | floor' 2>/dev/null) && [ -n "$mbit" ] && [ "$mbit" != null ] && break
			sleep 0.2
		done
		wait "$ctr" 2>/dev/null || true
		rows+=("{\"path\": \"host->container (-p)\", \"network\": \"$net\", \"mbit\": ${mbit:-null}}")
		log "B7 host->container -p via $net: ${mbit:-failed} Mbit/s"
	done
	(IFS=,; echo "[${rows[*]}]") | jq . >"$out/b7.json"
fi
# --- B8 disk use of N images on one base, and RAM for a container's writes --
# N images, each the same base (busybox + B8_BASE_MIB of random files) and
# one 1 MiB layer of its own, pulled from one OCI layout by urun and by
# podman (overlay driver): the bytes on disk of urun's layer store, of its
# whole data directory (with the compressed blobs it keeps for save and
# push), and of podman's graph root. Then host Shmem (/proc/meminfo, which
# a container reads unchanged) before and after a --rm container writes
# B8_WRITE_MIB: urun's writable layer on disk, urun's tmpfs layer
# (--writable-layer=tmpfs) and podman's.
# du_b DIR: its disk use in bytes, read in a user namespace that maps the
# subordinate ids its files belong to.
du_b() { unshare --user --map-auto --map-root-user du -s --block-size=1 "$1" 2>/dev/null | cut -f1; }
shmem_delta() { # a command line that prints "before after" (kB)
	local r; r=$("$@" sh -c "a=\$(awk '/^Shmem:/ {print \$2}' /proc/meminfo); head -c $((B8_WRITE_MIB * 1048576)) /dev/zero >/b8-written; sync; b=\$(awk '/^Shmem:/ {print \$2}' /proc/meminfo); echo \$a \$b" 2>>"$W/b8.err") || { echo null; return; }
	set -- $r
	echo $(( ($2 - $1) ))
}
if want B8; then
	{
		ctx=$W/b8
		mkdir -p "$ctx/base"
		for f in $(seq 4); do head -c $((B8_BASE_MIB * 262144)) /dev/urandom >"$ctx/base/r$f"; done
		printf 'FROM %s\nCOPY base /base\n' "$PIMG" >"$ctx/Containerfile"
		podman build -q -t localhost/b8-base "$ctx" >/dev/null 2>"$W/b8-build.log" || note B8 "podman build of the base failed: $(tail -n1 "$W/b8-build.log")"
		for i in $(seq "$B8_N"); do
			d=$W/b8-$i
			mkdir -p "$d"
			head -c 1048576 /dev/urandom >"$d/own"
			printf 'FROM localhost/b8-base\nCOPY own /own\n' >"$d/Containerfile"
			podman build -q -t "localhost/b8-i$i" "$d" >/dev/null 2>>"$W/b8-build.log" || note B8 "podman build failed: $(tail -n1 "$W/b8-build.log")"
			skopeo copy -q "containers-storage:localhost/b8-i$i" "oci:$W/b8-oci:i$i" 2>>"$W/b8-build.log" || note B8 "skopeo copy failed: $(tail -n1 "$W/b8-build.log")"
		done
		UD=$W/urun-b8
		P8="podman --root $W/podman-b8 --runroot $W/podman-b8-run --storage-driver overlay"
		for i in $(seq "$B8_N"); do
			env XDG_DATA_HOME="$UD" "$URUN" pull -q "oci:$W/b8-oci:i$i" >/dev/null 2>>"$W/b8.err" || note B8 "urun pull failed: $(tail -n1 "$W/b8.err")"
			# (podman pull oci:DIR names the image after DIR, which has
			# capitals here: skopeo copies it into podman's store instead.)
			skopeo copy -q "oci:$W/b8-oci:i$i" "containers-storage:[overlay@$W/podman-b8+$W/podman-b8-run]localhost/b8:i$i" 2>>"$W/b8.err" || note B8 "copying into podman's store failed: $(tail -n1 "$W/b8.err")"
		done
		u_store=$(du_b "$UD/urun/storage") u_data=$(du_b "$UD/urun") p_root=$(du_b "$W/podman-b8")
		log "B8 disk, $B8_N images on one ${B8_BASE_MIB} MiB base: urun layer store $u_store, urun data dir $u_data, podman $p_root bytes"
		u_ram=$(shmem_delta env XDG_DATA_HOME="$UD" "$URUN" run --rm --network none --pull=never localhost/b8-oci:i1)
		t_ram=$(shmem_delta env XDG_DATA_HOME="$UD" "$URUN" run --rm --network none --pull=never --writable-layer=tmpfs localhost/b8-oci:i1)
		p_ram=$(shmem_delta $P8 --runtime runc run --rm --network none localhost/b8:i1)
		log "B8 RAM (Shmem) for ${B8_WRITE_MIB} MiB written: urun $u_ram kB, urun tmpfs $t_ram kB, podman $p_ram kB"
		jq -n --argjson n "$B8_N" --argjson base "$B8_BASE_MIB" --argjson write "$B8_WRITE_MIB" \
			--argjson us "${u_store:-null}" --argjson ud "${u_data:-null}" --argjson pr "${p_root:-null}" \
			--argjson ur "$u_ram" --argjson tr "$t_ram" --argjson pram "$p_ram" \
			'{images: $n, base_mib: $base, write_mib: $write,
			  disk: {"urun layer store": $us, "urun data directory": $ud, "podman graph root": $pr},
			  shmem_kib: {"urun": $ur, "urun --writable-layer=tmpfs": $tr, "podman": $pram}}' >"$out/b8.json"
		$P8 rm -a -f >/dev/null 2>&1 || true
	}
fi
log "raw results in $out"
