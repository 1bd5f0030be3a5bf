package cgroupdelegate

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// cgroupRoot is where the unified (v2) hierarchy is mounted.
const cgroupRoot = "/sys/fs/cgroup"

// Unavailable says why this host cannot give a container a delegated
// cgroup, and what fixes it.
type Unavailable struct {
	Cause string
	Fix   string
}

func (u *Unavailable) Error() string { return u.Cause + "; fix: " + u.Fix }

// probeHost checks the two things delegation needs: the unified cgroup v2
// hierarchy at /sys/fs/cgroup and a user systemd bus. It returns the bus
// address.
func probeHost() (string, *Unavailable) {
	if u := probeHierarchy(); u != nil {
		return "", u
	}
	return busAddress()
}

func probeHierarchy() *Unavailable {
	const fixV2 = "boot the host with cgroup v2 (kernel command line systemd.unified_cgroup_hierarchy=1, the default since Debian 11)"
	var st unix.Statfs_t
	if err := unix.Statfs(cgroupRoot, &st); err == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
		return nil
	}
	if err := unix.Statfs(filepath.Join(cgroupRoot, "unified"), &st); err == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
		return &Unavailable{
			Cause: "this host's cgroups are hybrid: memory, pids and cpu are on cgroup v1, which cannot be delegated to an ordinary user",
			Fix:   fixV2,
		}
	}
	return &Unavailable{
		Cause: "this host has no cgroup v2 hierarchy at " + cgroupRoot + " (cgroup v1 cannot be delegated to an ordinary user)",
		Fix:   fixV2,
	}
}

// busAddress is the user's systemd bus: $DBUS_SESSION_BUS_ADDRESS, else
// $XDG_RUNTIME_DIR/bus when that socket exists.
func busAddress() (string, *Unavailable) {
	if a := os.Getenv("DBUS_SESSION_BUS_ADDRESS"); a != "" {
		return a, nil
	}
	noBus := &Unavailable{
		Cause: "there is no systemd user session bus ($DBUS_SESSION_BUS_ADDRESS is unset and $XDG_RUNTIME_DIR/bus does not exist)",
		Fix:   "run urun in a login session with systemd --user and the dbus-user-session package (for a service account: loginctl enable-linger USER)",
	}
	rt := os.Getenv("XDG_RUNTIME_DIR")
	if rt == "" {
		return "", noBus
	}
	p := filepath.Join(rt, "bus")
	if st, err := os.Stat(p); err != nil || st.Mode().Type() != os.ModeSocket {
		return "", noBus
	}
	return "unix:path=" + p, nil
}

// ownCgroup is this process's cgroup v2 path, from /proc/self/cgroup.
func ownCgroup() (string, error) {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if p, ok := strings.CutPrefix(line, "0::"); ok {
			return p, nil
		}
	}
	return "", fmt.Errorf("/proc/self/cgroup has no cgroup v2 entry")
}

// kernelHasCloneIntoCgroup: clone3 CLONE_INTO_CGROUP arrived in Linux 5.7.
func kernelHasCloneIntoCgroup() bool {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return false
	}
	var major, minor int
	if _, err := fmt.Sscanf(unix.ByteSliceToString(u.Release[:]), "%d.%d", &major, &minor); err != nil {
		return false
	}
	return major > 5 || (major == 5 && minor >= 7)
}
