package container

import (
	"fmt"
	"os"
	"path"
	"strconv"
	"strings"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// applySysctls writes linux.sysctl through the container's /proc/sys:
// after pivot_root (the container's own /proc, so namespaced keys such as
// net.* reach the container's network namespace) and before
// readonlyPaths makes /proc/sys read-only. Runs inside the container.
func applySysctls(sysctl map[string]string) error {
	for key, value := range sysctl {
		if key == "" || strings.Contains(key, "..") || strings.HasPrefix(key, "/") {
			return fmt.Errorf("linux.sysctl: %q is not a sysctl name", key)
		}
		p := path.Join("/proc/sys", strings.ReplaceAll(key, ".", "/"))
		if err := os.WriteFile(p, []byte(value), 0); err != nil {
			return fmt.Errorf("linux.sysctl: setting %s=%s: %w", key, value, err)
		}
	}
	return nil
}

// applyOOMScoreAdj sets process.oomScoreAdj for the init, which the
// process inherits across exec. Raising it needs no privilege; lowering
// it below the caller's needs CAP_SYS_RESOURCE on the host.
func applyOOMScoreAdj(p *specs.Process) error {
	if p.OOMScoreAdj == nil {
		return nil
	}
	v := *p.OOMScoreAdj
	if err := os.WriteFile("/proc/self/oom_score_adj", []byte(strconv.Itoa(v)), 0); err != nil {
		return fmt.Errorf("process.oomScoreAdj %d: %w (lowering it needs real root)", v, err)
	}
	return nil
}

// rootPropagation maps linux.rootfsPropagation to mount flags, with the
// r-prefixed forms runc also accepts.
var rootPropagation = map[string]uintptr{
	"shared": unix.MS_SHARED, "rshared": unix.MS_SHARED | unix.MS_REC,
	"slave": unix.MS_SLAVE, "rslave": unix.MS_SLAVE | unix.MS_REC,
	"private": unix.MS_PRIVATE, "rprivate": unix.MS_PRIVATE | unix.MS_REC,
	"unbindable": unix.MS_UNBINDABLE, "runbindable": unix.MS_UNBINDABLE | unix.MS_REC,
}

// applyRootfsPropagation sets the propagation of the container's root
// mount, after pivot_root. Everything was made private first, so
// "shared" makes a peer group of the container's own mounts only: it
// never reaches the host.
func applyRootfsPropagation(p string) error {
	if p == "" {
		return nil
	}
	flags, ok := rootPropagation[p]
	if !ok {
		return fmt.Errorf("linux.rootfsPropagation %q: want shared, slave, private or unbindable", p)
	}
	if err := unix.Mount("", "/", "", flags, ""); err != nil {
		return fmt.Errorf("linux.rootfsPropagation %s: %w", p, err)
	}
	return nil
}

// becomeRoot makes the init root of its user namespace. With the usual
// maps the caller's own id is container root already; a config's own
// maps may leave it unmapped (an overflow id, which can create no file),
// and the full capabilities the init holds in its new namespace let it
// switch to 0 (as runc's nsexec does).
func becomeRoot() error {
	if os.Getuid() == 0 && os.Getgid() == 0 {
		return nil
	}
	if err := syscall.Setresgid(0, 0, 0); err != nil {
		return fmt.Errorf("becoming gid 0 in the container (is 0 in linux.gidMappings?): %w", err)
	}
	if err := syscall.Setresuid(0, 0, 0); err != nil {
		return fmt.Errorf("becoming uid 0 in the container (is 0 in linux.uidMappings?): %w", err)
	}
	return nil
}
