#!/bin/bash
# Runs inside the VM as root, started by urun-vmtest.service from the
# payload disk (/payload) that tests/vm/run.sh built. Every line meant for
# the host starts with URUN-VM; the unit powers the VM off afterwards.
P=/payload
say() { echo "URUN-VM-$*"; }
say "BOOTED $(uname -r)"

wait_bus() {
	for _ in $(seq 1 240); do
		[ -S /run/user/1000/bus ] && systemctl is-active -q user@1000.service && return 0
		sleep 0.5
	done
	say "ERROR the user's systemd (user@1000.service) did not come up"
	systemctl status user@1000.service --no-pager 2>&1 | sed 's/^/URUN-VM| /'
	return 1
}

# set_delegate writes the user@.service drop-in the error messages tell
# users to write, and restarts dev's systemd with it.
set_delegate() {
	mkdir -p /etc/systemd/system/user@.service.d
	# An empty Delegate= resets the list Debian's unit sets; the next adds.
	printf '[Service]\nDelegate=\nDelegate=%s\n' "$1" >/etc/systemd/system/user@.service.d/delegate.conf
	systemctl daemon-reload
	systemctl restart user@1000.service
	wait_bus
	say "DELEGATED $(cat /sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service/cgroup.controllers)"
}

run_phase() {
	local name=$1 regex=$2
	# VM_RUN (tests/vm/run.sh) narrows every phase to matching tests.
	[ -s $P/filter ] && regex="$regex.*($(cat $P/filter))"
	runuser -u dev -- env -i HOME=/home/dev USER=dev LOGNAME=dev SHELL=/bin/bash \
		PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin LANG=C.UTF-8 \
		XDG_RUNTIME_DIR=/run/user/1000 DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/1000/bus \
		URUN_VM=1 URUN_BIN=$P/bin/urun URUN_IMAGES=$P/images \
		sh -c 'cd /home/dev && exec "$0" "$@"' $P/vm.test -test.v -test.count=1 -test.timeout=20m -test.run "$regex" 2>&1 |
		sed -u 's/^/URUN-VM| /'
	say "PHASE $name rc=${PIPESTATUS[0]}"
}

wait_bus || { say DONE; exit 1; }
for d in /dev/fuse /dev/net/tun; do [ -e $d ] && chmod 0666 $d; done
say "DELEGATED $(cat /sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service/cgroup.controllers)"
run_phase default '^TestDefault'
set_delegate "memory pids" && run_phase nocpu '^TestNoCPU'
set_delegate "cpu cpuset io memory pids" && run_phase all '^TestAll'
say DONE
