#!/usr/bin/env bash
# B4 in interleaved rounds: pull + first run of the same multi-layer image
# from a loopback registry, by one or more urun builds and by podman, one
# after another in each round, so that every figure of a round saw the
# same load. A shared, loaded machine moves all of them together; the
# ratios of one round are what to compare. Prints each round and the
# medians.
#
#   bash bench/b4-rounds.sh ROUNDS LAYER_MIB URUN_BIN_DIR...
#
# Run it as an ordinary user with subordinate ids, podman, docker-registry
# and skopeo installed (make bench installs them and makes urun-bench),
# with the busybox image of tests/mkimage in _build/images, e.g.
#   sudo -u urun-bench bash bench/b4-rounds.sh 7 24 /tmp/a/bin /tmp/b/bin
set -euo pipefail
rounds=$1 mib=$2
shift 2
bins=("$@")
here=$(cd "$(dirname "$0")/.." && pwd)
W=$(mktemp -d /tmp/urun-b4r.XXXXXX)
regpid=
cleanup() {
	[ -z "$regpid" ] || kill "$regpid" 2>/dev/null || true
	podman --root "$W/podman" --runroot "$W/podman-run" rmi -a -f >/dev/null 2>&1 || true
	unshare --map-auto --map-root-user rm -rf "$W" 2>/dev/null || rm -rf "$W"
}
trap cleanup EXIT
port=$((20000 + RANDOM % 20000))
mkdir -p "$W/registry"
printf 'version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%s\n' "$W/registry" "$port" >"$W/registry.yml"
docker-registry serve "$W/registry.yml" >"$W/registry.log" 2>&1 &
regpid=$!
for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
# The image B4 pulls: busybox + 4 layers of $mib MiB, half random, half
# base64 text.
PB="podman --root $W/podman-build --runroot $W/podman-build-run --storage-driver overlay"
skopeo copy -q "oci:$here/_build/images/busybox:latest" "containers-storage:[overlay@$W/podman-build+$W/podman-build-run]localhost/b4-base:latest"
ctx=$W/ctx
mkdir -p "$ctx"
printf 'FROM localhost/b4-base:latest\n' >"$ctx/Containerfile"
for l in 1 2 3 4; do
	mkdir -p "$ctx/l$l"
	for f in $(seq 8); do
		head -c $((mib * 65536)) /dev/urandom >"$ctx/l$l/r$f"
		head -c $((mib * 49152)) /dev/urandom | base64 >"$ctx/l$l/t$f"
	done
	printf 'COPY l%s /data/l%s\n' "$l" "$l" >>"$ctx/Containerfile"
done
REF=127.0.0.1:$port/bench/big:latest
$PB build -q -t localhost/b4-big "$ctx" >/dev/null
$PB push -q --tls-verify=false localhost/b4-big "docker://$REF"
$PB rmi -a -f >/dev/null 2>&1 || true
PR="podman --root $W/podman --runroot $W/podman-run --storage-driver overlay"
if [ -n "${B4_HOLD:-}" ]; then
	# Keep the registry up for measurements by hand until killed.
	echo "registry up: docker://$REF"
	sleep "$B4_HOLD"
	exit 0
fi

# store_empty fails the run when a layer survived the rmi: the next pull
# would reuse it and time less than a pull.
store_empty() {
	local j=$1/overlay-layers/layers.json
	if [ -s "$j" ] && [ "$(tr -d ' \n' <"$j")" != "[]" ]; then
		echo "the urun store at $1 still holds layers after rmi: $(cat "$j")" >&2
		exit 1
	fi
}
ms() { local t0 t1; t0=$(date +%s%N); "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; return 1; }; t1=$(date +%s%N); echo $(((t1 - t0) / 1000000)); }
declare -A pull run rp rr
declare -a ratio_pull ratio_run
names=()
for i in "${!bins[@]}"; do names+=("urun$i"); done
names+=(podman)
for r in $(seq "$rounds"); do
	line="round $r:"
	# Each round starts with another of them: none always runs first.
	order=("${names[@]:$(((r - 1) % ${#names[@]}))}" "${names[@]:0:$(((r - 1) % ${#names[@]}))}")
	for n in "${order[@]}"; do
		if [ "$n" = podman ]; then
			$PR rm -a -f >/dev/null 2>&1 || true
			$PR rmi -a -f >/dev/null 2>&1 || true
			p=$(ms $PR pull -q --tls-verify=false "$REF")
			q=$(ms $PR --runtime runc run --rm --network none "$REF" true)
		else
			b=${bins[${n#urun}]}
			d=$W/$n
			# Emptied as podman's is: its containers and images
			# removed, the store itself (its probes' records) kept.
			env XDG_DATA_HOME="$d" "$b/urun" rm -a -f >/dev/null 2>&1 || true
			env XDG_DATA_HOME="$d" "$b/urun" rmi -f "$REF" >/dev/null 2>&1 || true
			store_empty "$d/urun/storage"
			p=$(ms env XDG_DATA_HOME="$d" "$b/urun" pull -q --tls-verify=false "docker://$REF")
			q=$(ms env XDG_DATA_HOME="$d" "$b/urun" run --rm --network none --pull=never "$REF" true)
		fi
		pull[$n]+="$p " run[$n]+="$((p + q)) "
		rp[$n]=$p rr[$n]=$((p + q))
		line+=" $n pull $p ms, pull+run $((p + q)) ms;"
	done
	for i in "${!bins[@]}"; do
		ratio_pull[$i]+="$(awk -v a="${rp[urun$i]}" -v b="${rp[podman]}" 'BEGIN {printf "%.3f", a/b}') "
		ratio_run[$i]+="$(awk -v a="${rr[urun$i]}" -v b="${rr[podman]}" 'BEGIN {printf "%.3f", a/b}') "
	done
	echo "$line"
done
median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
pp=$(median <<<"${pull[podman]}") pr=$(median <<<"${run[podman]}")
echo "podman: pull median $pp ms, pull+run median $pr ms"
for i in "${!bins[@]}"; do
	up=$(median <<<"${pull[urun$i]}") ur=$(median <<<"${run[urun$i]}")
	xp=$(median <<<"${ratio_pull[$i]}") xr=$(median <<<"${ratio_run[$i]}")
	echo "urun$i (${bins[$i]}): pull median $up ms, pull+run median $ur ms; median of the rounds' ratios to podman: pull ${xp}x, pull+run ${xr}x"
done
