package container

import (
	"fmt"
	"path"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// The container's mounts are planned as data first (this file, pure, table
// tested without privilege), then replayed by one short loop in the init
// (mounts_child.go) — bubblewrap's pattern.

// opKind is what one step of the mount plan does.
type opKind int

const (
	// opMount mounts a filesystem or binds a host path (spec mounts).
	opMount opKind = iota
	// opDevice binds a host device node onto a file: a rootless process
	// cannot mknod, but it can bind what the host already has.
	opDevice
	// opSymlink creates Target as a symlink to Source.
	opSymlink
	// opCgroup mounts the container's cgroup filesystem, read-only.
	opCgroup
	// opRemount remounts the filesystem at Target with Flags: a
	// read-only tmpfs is mounted writable first, so the mount points,
	// devices and links under it can be made, and made read-only last.
	opRemount
)

// mountOp is one step of the plan. Target is a path inside the container.
type mountOp struct {
	Kind        opKind
	Source      string
	Target      string
	FSType      string
	Flags       uintptr
	Propagation []uintptr
	Data        string
	Bind        bool
	Recursive   bool
	// AttrSet and AttrClr are MOUNT_ATTR_* bits set and cleared on the
	// mount and every mount below it (rro, rnosuid…).
	AttrSet, AttrClr uint64
}

// checkProcMount refuses anything but a proc filesystem on /proc, as runc
// does: a bind of a host directory (or a tmpfs) there would undo the
// masked and read-only paths, and hide the container's own processes.
// A bind of the root of a procfs (the host's /proc, which rootless podman
// binds with --pid=host) is a proc filesystem too, and runc allows it.
func checkProcMount(m specs.Mount) error {
	if path.Clean(m.Destination) != "/proc" || m.Type == "proc" || isProcfsRoot(m.Source) {
		return nil
	}
	what := m.Type
	if what == "" || what == "bind" {
		what = "a bind of " + m.Source
	}
	return fmt.Errorf("mount at /proc is %s: only a proc filesystem may be mounted there (it would undo the masked paths)", what)
}

// isProcfsRoot: p is the root directory of a proc filesystem.
func isProcfsRoot(p string) bool {
	var fs unix.Statfs_t
	var st unix.Stat_t
	return p != "" && unix.Statfs(p, &fs) == nil && fs.Type == unix.PROC_SUPER_MAGIC &&
		unix.Stat(p, &st) == nil && st.Ino == procRootIno
}

// procRootIno is the inode number of every procfs root (PROC_ROOT_INO).
const procRootIno = 1

// planMounts turns the spec's mounts and devices into the ordered steps
// the init replays under the new root.
func planMounts(spec *specs.Spec) ([]mountOp, error) {
	var ops, last []mountOp
	devTmpfs := false
	for _, m := range spec.Mounts {
		target := path.Clean(m.Destination)
		if !path.IsAbs(target) {
			return nil, fmt.Errorf("mount destination %q is not an absolute path", m.Destination)
		}
		if target == "/" {
			return nil, fmt.Errorf("mount destination %q would replace the root filesystem", m.Destination)
		}
		if err := checkProcMount(m); err != nil {
			return nil, err
		}
		flags, prop, data, bind, rec := MountFlags(m.Options)
		typ := m.Type
		if typ == "bind" {
			bind = true
		}
		if typ == "cgroup" || typ == "cgroup2" {
			ops = append(ops, mountOp{Kind: opCgroup, Target: target, Flags: flags})
			continue
		}
		if target == "/dev" && typ == "tmpfs" {
			devTmpfs = true
		}
		src := m.Source
		if bind && !path.IsAbs(src) {
			return nil, fmt.Errorf("bind mount source %q for %s is not an absolute path", src, target)
		}
		if src == "" {
			src = typ
		}
		set, clr := RecursiveMountAttrs(m.Options)
		if typ == "tmpfs" && flags&unix.MS_RDONLY != 0 {
			// As runc: mount points under a read-only tmpfs (/dev/pts
			// in a read-only /dev) cannot be created once it is ro.
			last = append(last, mountOp{Kind: opRemount, Target: target, Flags: flags})
			flags &^= unix.MS_RDONLY
		}
		ops = append(ops, mountOp{
			Kind: opMount, Source: src, Target: target, FSType: typ,
			Flags: flags, Propagation: prop, Data: data, Bind: bind, Recursive: rec,
			AttrSet: set, AttrClr: clr,
		})
	}
	if spec.Linux != nil {
		for _, d := range spec.Linux.Devices {
			p := path.Clean(d.Path)
			if !strings.HasPrefix(p, "/dev/") {
				return nil, fmt.Errorf("device %q is not under /dev", d.Path)
			}
			if p == "/dev/ptmx" && devTmpfs {
				// A tmpfs /dev gets /dev/ptmx as a link to the
				// container's own devpts (below); the host's ptmx
				// bound there would allocate ptys in the host's
				// devpts, which the container cannot open. runc
				// replaces the device with the link too.
				continue
			}
			ops = append(ops, mountOp{Kind: opDevice, Source: p, Target: p})
		}
	}
	if devTmpfs {
		// The links every Linux /dev has; a tmpfs /dev starts empty.
		for _, l := range [][2]string{
			{"/proc/self/fd", "/dev/fd"},
			{"/proc/self/fd/0", "/dev/stdin"},
			{"/proc/self/fd/1", "/dev/stdout"},
			{"/proc/self/fd/2", "/dev/stderr"},
			{"pts/ptmx", "/dev/ptmx"},
		} {
			ops = append(ops, mountOp{Kind: opSymlink, Source: l[0], Target: l[1]})
		}
	}
	return append(ops, last...), nil
}
