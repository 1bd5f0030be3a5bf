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
	// CopyUp (tmpfs, option tmpcopyup) fills the new tmpfs with the
	// content of the image's directory it covers.
	CopyUp bool
	// CopySymlink (bind, option copy-symlink): a source that is a
	// symbolic link makes the same link at Target instead of a bind of
	// what it points to.
	CopySymlink bool
	// KeepDirMode (tmpfs without mode=) gives the tmpfs root the mode of
	// the directory it covers, as runc does: --tmpfs /tmp keeps 1777.
	KeepDirMode bool
	// Optional (option x-urun-optional): a mount point that cannot be
	// made skips the mount instead of failing the container.
	Optional bool
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

// checkRuntimeOptions refuses options the mount's kind cannot take, by
// name: a bind passes no data to the kernel, which would ignore an
// unknown option silently, and tmpcopyup or copy-symlink on the wrong
// kind would be dropped. idmap and ridmap (idmapped mounts) need
// CAP_SYS_ADMIN in the user namespace that mounted the source
// filesystem, which a rootless runtime never has for the host's.
func checkRuntimeOptions(m specs.Mount, target, typ string, bind bool, data string) error {
	for _, o := range m.Options {
		k, _, _ := strings.Cut(o, "=")
		switch {
		case k == "idmap" || k == "ridmap":
			return fmt.Errorf("mount %s: option %q (an idmapped mount) is not supported by urun: it needs CAP_SYS_ADMIN in the user namespace that mounted %s; leave the option out and give the files the container's owners (podman's :U does)", target, o, m.Source)
		case o == "tmpcopyup" && typ != "tmpfs":
			return fmt.Errorf("mount %s: option tmpcopyup is for tmpfs mounts only, this one is %q", target, typ)
		case o == "copy-symlink" && !bind:
			return fmt.Errorf("mount %s: option copy-symlink is for bind mounts only, this one is %q", target, typ)
		}
	}
	if bind && data != "" {
		// A filesystem's key=value option on a bind (runtime-tools sends
		// mode=755,size=1k with every mount) is ignored, as the kernel and
		// runc ignore a bind's data; a bare word is a flag urun does not
		// know, likely a typo that would silently drop a protection.
		for _, o := range strings.Split(data, ",") {
			if !strings.Contains(o, "=") {
				return fmt.Errorf("mount %s: unknown bind mount option %q (a bind takes mount flags such as ro, nosuid, rprivate; see `urun features`)", target, o)
			}
		}
	}
	return nil
}

// hasDataKey reports whether the filesystem data string sets key.
func hasDataKey(data, key string) bool {
	for _, o := range strings.Split(data, ",") {
		if k, _, _ := strings.Cut(o, "="); k == key {
			return true
		}
	}
	return false
}

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
		if err := checkRuntimeOptions(m, target, typ, bind, data); err != nil {
			return nil, err
		}
		if bind {
			data = "" // ignored by the kernel: say so by not sending it
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
			CopyUp:      typ == "tmpfs" && hasOption(m.Options, "tmpcopyup"),
			CopySymlink: bind && hasOption(m.Options, "copy-symlink"),
			KeepDirMode: typ == "tmpfs" && !hasDataKey(data, "mode"),
			Optional:    hasOption(m.Options, OptionalMount),
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
