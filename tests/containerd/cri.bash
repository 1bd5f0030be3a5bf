# shellcheck shell=bash
# The CRI side of the containerd tests, sourced by containerd.sh (root)
# and rootless.sh (under rootlesskit), which set $dir, $urun, $runc,
# $crictl_bin, $bridge, $subnet, $prefix and $hostdisk:
#  - cri_start: the CNI bridge, containerd with its CRI plugin and the
#    two handlers (runc, urun), crictl's config, the images;
#  - cri_lifecycle: for each handler and each pod kind (cni: a pod
#    network from the CNI bridge; host: hostNetwork; pidpod:
#    shareProcessNamespace) what the kubelet does: runp, create, start,
#    exec, logs, a container that exits by itself (EXITED with its code),
#    stop, rm, stopp, rmp. Each step is one `step` line "HANDLER KIND
#    STEP"; at the end urun must fail no step runc passes.

fail=0
check() { # name, want, got
	if [ "$2" = "$3" ]; then echo "ok   $1"; else echo "FAIL $1: want [$2], got [$3]"; fail=1; fi
}
crictl() { "$crictl_bin" -c "$dir/crictl.yaml" "$@"; }

# cri_start writes the CNI bridge's config, containerd's (EXTRA: more
# lines for the CRI plugin's section) and crictl's, starts containerd
# (its pid in $pid, its client in $C), waits for its socket and imports
# the busybox and pause images into the k8s.io namespace.
# restrict_oom_score_adj: root here lacks CAP_SYS_RESOURCE, and a user
# can only raise it. Streaming (exec) on an ephemeral loopback port. The
# handlers' Root keeps each runtime's state under $dir.
cri_start() { # busybox_tar pause_tar [extra]
	mkdir -p "$dir/cni" "$dir/logs"
	cat >"$dir/cni/10-urun-cri.conflist" <<JSON
{"cniVersion": "0.4.0", "name": "urun-cri", "plugins": [
  {"type": "bridge", "bridge": "$bridge", "isGateway": true, "ipMasq": false,
   "ipam": {"type": "host-local", "ranges": [[{"subnet": "$subnet"}]], "dataDir": "$dir/cni-ipam"}}]}
JSON
	cat >"$dir/config.toml" <<TOML
version = 2
root = "$dir/root"
state = "$dir/state"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = "$dir/containerd.sock"
[ttrpc]
  address = "$dir/containerd.sock.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "$dir/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "localhost/urun-pause:test"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  disable_apparmor = true
${3:+  $3
}  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$dir/cni"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "$runc"
        Root = "$dir/runtime-root/runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.urun]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.urun.options]
        BinaryName = "$urun"
        Root = "$dir/runtime-root/urun"
TOML
	cat >"$dir/crictl.yaml" <<YAML
runtime-endpoint: unix://$dir/containerd.sock
image-endpoint: unix://$dir/containerd.sock
timeout: 20
YAML
	containerd --config "$dir/config.toml" >"$dir/containerd.log" 2>&1 &
	pid=$!
	C="ctr -a $dir/containerd.sock"
	for _ in $(seq 100); do $C version >/dev/null 2>&1 && break; sleep 0.1; done
	# --base-name: the layouts tag their manifest ("latest", "test").
	$C -n k8s.io images import --base-name localhost/busybox "$1" >/dev/null
	$C -n k8s.io images import --base-name localhost/urun-pause "$2" >/dev/null
}

# step is check for the CRI lines: runc's failures are the peer's,
# printed as "peer"; a step urun fails as runc did (runc runs first, its
# lines are in cri.out already) is "same", not counted against urun.
step() { # name, want, got
	if [ "$2" = "$3" ]; then
		echo "ok   $1"
	elif [ "${1%% *}" = runc ]; then
		echo "peer $1: want [$2], got [$3]"
	elif grep -qF "peer runc ${1#* }: " "$dir/cri.out" 2>/dev/null; then
		echo "same $1 (runc fails it too): want [$2], got [$3]"
	else
		echo "FAIL $1: want [$2], got [$3]"
	fi
}

# NamespaceMode in the CRI: POD=0, CONTAINER=1, NODE=2.
cri_pod() { # handler kind
	local h=$1 kind=$2 n="$1-$2" net=0 pidns=1 host='"hostname": "urun-pod",'
	case $kind in
	host) net=2 host= ;;
	pidpod) pidns=0 ;;
	esac
	local ns="\"namespace_options\": {\"network\": $net, \"pid\": $pidns}"
	mkdir -p "$dir/logs/$n"
	cat >"$dir/$n-pod.json" <<JSON
{"metadata": {"name": "$n", "namespace": "urun-cri", "uid": "uid-$n", "attempt": 0}, $host
 "log_directory": "$dir/logs/$n", "linux": {"security_context": {$ns}}}
JSON
	# c1 runs until stopped (and exits 0 on SIGTERM, also as pid 1);
	# c2 exits by itself with code 7.
	cat >"$dir/$n-c1.json" <<JSON
{"metadata": {"name": "c1"}, "image": {"image": "localhost/busybox:latest"},
 "command": ["sh", "-c", "trap 'exit 0' TERM; echo started; while :; do sleep 0.2; done"],
 "log_path": "c1.log", "linux": {"security_context": {$ns}}}
JSON
	cat >"$dir/$n-c2.json" <<JSON
{"metadata": {"name": "c2"}, "image": {"image": "localhost/busybox:latest"},
 "command": ["sh", "-c", "echo bye; exit 7"],
 "log_path": "c2.log", "linux": {"security_context": {$ns}}}
JSON
	local t="$h $kind" pod c1 c2 out want
	pod=$(crictl runp --runtime "$h" "$dir/$n-pod.json" 2>"$dir/$n.err") || { sed 's/^/    /' "$dir/$n.err"; pod=; }
	step "$t runp" SANDBOX_READY "$(crictl inspectp -o go-template --template '{{.status.state}}' "$pod" 2>&1)"
	c1=$(crictl create --no-pull "$pod" "$dir/$n-c1.json" "$dir/$n-pod.json" 2>"$dir/$n.err") || { sed 's/^/    /' "$dir/$n.err"; c1=; }
	step "$t create" CONTAINER_CREATED "$(crictl inspect -o go-template --template '{{.status.state}}' "$c1" 2>&1)"
	crictl start "$c1" >/dev/null 2>"$dir/$n.err" || sed 's/^/    /' "$dir/$n.err"
	step "$t start" CONTAINER_RUNNING "$(crictl inspect -o go-template --template '{{.status.state}}' "$c1" 2>&1)"
	step "$t exec" exec-ok "$(crictl exec -s "$c1" echo exec-ok 2>&1)"
	case $kind in
	cni)
		out=$(crictl exec -s "$c1" sh -c 'hostname; ip -4 -o addr show eth0' 2>&1)
		case $out in "urun-pod"*"inet $prefix"*) out=ok ;; esac
		step "$t pod hostname and CNI address" ok "$out"
		out=$(crictl exec -s "$c1" ps -o pid,args 2>&1 | awk '$1==1{print $2, $3}')
		step "$t own pid namespace (its command is pid 1)" "sh -c" "$out"
		;;
	host)
		out=$(crictl exec -s "$c1" hostname 2>&1)
		step "$t host's hostname" "$(hostname)" "$out"
		out=$(crictl exec -s "$c1" ip -o link show 2>&1 | grep -c ": $bridge:")
		step "$t host's network (sees $bridge)" 1 "$out"
		;;
	pidpod)
		out=$(crictl exec -s "$c1" ps -o pid,args 2>&1 | awk '$1==1{print $2}')
		step "$t shared pid namespace (pause is pid 1)" /pause "$out"
		out=$(crictl exec -s "$c1" ip -4 -o addr show eth0 2>&1)
		case $out in *"inet $prefix"*) out=ok ;; esac
		step "$t CNI address" ok "$out"
		;;
	esac
	step "$t a host block device cannot be read through mknod" DENIED "$(crictl exec -s "$c1" sh -c "$hostdisk" 2>&1)"
	# crictl update: containerd's shim runs `RUNTIME update --resources -`.
	crictl update --memory 67108864 "$c1" >/dev/null 2>"$dir/$n.err" || sed "s/^/    /" "$dir/$n.err"
	step "$t update --memory" 67108864 "$(cat "/sys/fs/cgroup/memory/k8s.io/$c1/memory.limit_in_bytes" 2>&1)"
	out=$(crictl stats -o json --id "$c1" 2>&1 | grep -c '"workingSetBytes"')
	step "$t stats" 1 "$out"
	out=ok
	for _ in $(seq 50); do
		out=$(crictl logs "$c1" 2>&1)
		[ "$out" = started ] && break
		sleep 0.1
	done
	step "$t logs" started "$out"
	c2=$(crictl create --no-pull "$pod" "$dir/$n-c2.json" "$dir/$n-pod.json" 2>"$dir/$n.err") || { sed 's/^/    /' "$dir/$n.err"; c2=; }
	crictl start "$c2" >/dev/null 2>&1
	for _ in $(seq 100); do
		out=$(crictl inspect -o go-template --template '{{.status.state}} {{.status.exitCode}}' "$c2" 2>&1)
		[ "${out% *}" = CONTAINER_EXITED ] && break
		sleep 0.1
	done
	step "$t self-exit shows EXITED with its code" "CONTAINER_EXITED 7" "$out"
	step "$t logs of an exited container" bye "$(crictl logs "$c2" 2>&1)"
	local t0=$SECONDS
	crictl stop -t 10 "$c1" >/dev/null 2>&1
	out=$(crictl inspect -o go-template --template '{{.status.state}} {{.status.exitCode}}' "$c1" 2>&1)
	[ $((SECONDS - t0)) -le 5 ] || out="$out after $((SECONDS - t0)) s"
	step "$t stop (SIGTERM, within 5 s)" "CONTAINER_EXITED 0" "$out"
	crictl rm "$c1" "$c2" >/dev/null 2>&1
	step "$t rm" "" "$(crictl ps -a -q --pod "$pod" 2>&1)"
	crictl stopp "$pod" >/dev/null 2>&1
	step "$t stopp" SANDBOX_NOTREADY "$(crictl inspectp -o go-template --template '{{.status.state}}' "$pod" 2>&1)"
	crictl rmp "$pod" >/dev/null 2>&1
	step "$t rmp" "" "$(crictl pods -q --name "^$n\$" 2>&1)"
	# The name is free again: a pod of the same name starts and goes.
	pod=$(crictl runp --runtime "$h" "$dir/$n-pod.json" 2>/dev/null) && crictl stopp "$pod" >/dev/null 2>&1 && crictl rmp "$pod" >/dev/null 2>&1
	step "$t pod name reusable" "" "$(crictl pods -q --name "^$n\$" 2>&1)"
}

# cri_lifecycle runs every pod kind with each handler, then the gate.
cri_lifecycle() {
	crifail=0
	set +e
	for h in runc urun; do
		for kind in cni host pidpod; do
			cri_pod "$h" "$kind"
		done
	done 2>&1 | tee "$dir/cri.out"
	for h in runc urun; do
		echo "containerd: CRI $h: $(grep -c "^ok   $h " "$dir/cri.out")/$(grep -c -E "^(ok  |FAIL|peer|same) $h " "$dir/cri.out") steps pass" >&2
	done
	# The gate: every step runc passes here, urun passes.
	while read -r step; do
		if ! grep -qxF "ok   urun $step" "$dir/cri.out"; then
			echo "FAIL gate: runc passes \"$step\", urun does not"
			crifail=1
		fi
	done < <(sed -n 's/^ok   runc //p' "$dir/cri.out")
	grep -q '^peer runc ' "$dir/cri.out" && echo "containerd: runc fails some CRI steps here (above); urun is gated on the rest" >&2
	set -e
	[ $crifail = 0 ] || fail=1
}
