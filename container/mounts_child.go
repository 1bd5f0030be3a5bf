package container

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strconv"
	"strings"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"
)

// applyMounts replays the mount plan under rootfs. Every target is
// resolved inside rootfs by pathrs (symlinks in the image cannot point a
// mount at the host: the CVE-2021-30465 class) and mounted through its
// /proc/self/fd handle, so nothing can swap the path between check and use.
//
// Preconditions: in the container's mount namespace, rootfs mounted.
func applyMounts(rootfs string, ops []mountOp) error {
	root, err := os.OpenFile(rootfs, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("opening rootfs %s: %w", rootfs, err)
	}
	defer root.Close()
	for _, op := range ops {
		if err := checkKernelDir(root, op.Target); err != nil {
			return err
		}
		switch op.Kind {
		case opMount:
			err = mountOne(root, op)
		case opDevice:
			err = bindDevice(root, op)
		case opSymlink:
			err = symlinkIn(root, op)
		case opCgroup:
			err = mountCgroup(root, op)
		case opRemount:
			err = remountIn(root, op)
		}
		if err != nil {
			return fmt.Errorf("mounting %s: %w", op.Target, err)
		}
	}
	return nil
}

// checkKernelDir refuses an image whose /proc, /sys or /dev (the first
// component of target, when it is one of them) is a symbolic link. The
// mount would follow it inside the rootfs (to / for a link to /), put
// procfs or sysfs where the image's files were, and fail later with a
// message that names neither.
func checkKernelDir(root *os.File, target string) error {
	first, _, _ := strings.Cut(strings.TrimPrefix(path.Clean(target), "/"), "/")
	switch first {
	case "proc", "sys", "dev":
	default:
		return nil
	}
	link, err := readlinkat(int(root.Fd()), first)
	if err != nil {
		return nil // not a link (or absent: created as a directory)
	}
	return fmt.Errorf("the image's /%s is a symbolic link (to %q): refusing to mount there; an image must have /%s as a directory or not at all", first, link, first)
}

func readlinkat(dirfd int, name string) (string, error) {
	buf := make([]byte, 4096)
	n, err := unix.Readlinkat(dirfd, name, buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}

func mountOne(root *os.File, op mountOp) error {
	dirTarget := true
	if op.Bind {
		if op.CopySymlink {
			if link, err := os.Readlink(op.Source); err == nil {
				return copySymlink(root, op.Target, link)
			}
		}
		st, err := os.Stat(op.Source)
		if err != nil {
			return fmt.Errorf("bind source: %w", err)
		}
		dirTarget = st.IsDir()
	}
	// The image's directory under a tmpfs, read before the tmpfs hides
	// it: for tmpcopyup, and for the mode the tmpfs root keeps.
	var below *os.File
	if op.FSType == "tmpfs" && (op.CopyUp || op.KeepDirMode) {
		if f, err := openatInRoot(root, op.Target); err == nil {
			below, err = os.OpenFile(procFD(f), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
			f.Close()
			if err != nil && !errors.Is(err, unix.ENOTDIR) {
				return fmt.Errorf("opening the directory under the tmpfs: %w", err)
			}
		}
		if below != nil {
			defer below.Close()
		}
	}
	target, err := openTarget(root, op.Target, dirTarget)
	if err != nil && op.Optional {
		return nil
	}
	if err != nil {
		return err
	}
	defer target.Close()
	fdPath := procFD(target)
	// mounted reopens the target after the mount: the handle taken before
	// names the directory underneath, and a remount or propagation change
	// through it would hit the mount below (or fail with EINVAL).
	mounted := func() (*os.File, error) {
		f, err := openatInRoot(root, op.Target)
		if err != nil {
			return nil, fmt.Errorf("reopening mount point: %w", err)
		}
		return f, nil
	}
	if op.Bind {
		flags := uintptr(unix.MS_BIND)
		if op.Recursive {
			flags |= unix.MS_REC
		}
		if err := unix.Mount(op.Source, fdPath, "", flags, ""); err != nil {
			return fmt.Errorf("binding %s: %w", op.Source, err)
		}
		// Bind mounts ignore every flag but MS_BIND and MS_REC; the rest
		// (ro, nosuid…) needs a remount of the new mount point.
		if rest := op.Flags &^ (unix.MS_BIND | unix.MS_REC); rest != 0 {
			m, err := mounted()
			if err != nil {
				return err
			}
			defer m.Close()
			if err := remountBind(procFD(m), rest); err != nil {
				return err
			}
		}
	} else if err := unix.Mount(op.Source, fdPath, op.FSType, op.Flags, op.Data); err != nil {
		if op.FSType == "sysfs" && errors.Is(err, unix.EPERM) {
			// sysfs may be mounted only by the user namespace owning the
			// network namespace; in a joined or shared one, bind the
			// host's /sys instead (as runc and crun do).
			return mountOne(root, mountOp{Kind: opMount, Source: "/sys", Target: op.Target,
				Flags: op.Flags, Bind: true, Recursive: true})
		}
		if errors.Is(err, unix.EINVAL) && op.Data != "" {
			if bad := badFSOption(op.FSType, op.Data); bad != nil {
				return bad
			}
		}
		return fmt.Errorf("mounting %s: %w", op.FSType, err)
	}
	if below != nil {
		if err := fillTmpfs(root, op, below); err != nil {
			return err
		}
	}
	if len(op.Propagation) == 0 && op.AttrSet|op.AttrClr == 0 {
		return nil
	}
	m, err := mounted()
	if err != nil {
		return err
	}
	defer m.Close()
	if err := setRecursiveAttrs(m, op.AttrSet, op.AttrClr); err != nil {
		return err
	}
	for _, p := range op.Propagation {
		if err := unix.Mount("", procFD(m), "", p, ""); err != nil {
			return fmt.Errorf("setting propagation: %w", err)
		}
	}
	return nil
}

// fillTmpfs gives the new tmpfs at op.Target the image directory's mode
// (without mode=) and, for tmpcopyup, its content. below is that
// directory, opened before the mount covered it.
func fillTmpfs(root *os.File, op mountOp, below *os.File) error {
	f, err := openatInRoot(root, op.Target)
	if err != nil {
		return fmt.Errorf("reopening mount point: %w", err)
	}
	defer f.Close()
	dst, err := os.OpenFile(procFD(f), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("opening the new tmpfs: %w", err)
	}
	defer dst.Close()
	if op.KeepDirMode {
		var st unix.Stat_t
		if err := unix.Fstat(int(below.Fd()), &st); err != nil {
			return fmt.Errorf("reading the mode of the directory under the tmpfs: %w", err)
		}
		if err := unix.Fchmod(int(dst.Fd()), st.Mode&07777); err != nil {
			return fmt.Errorf("setting the tmpfs mode: %w", err)
		}
	}
	if !op.CopyUp {
		return nil
	}
	if err := copyTree(int(below.Fd()), int(dst.Fd()), op.Target); err != nil {
		return fmt.Errorf("tmpcopyup: %w", err)
	}
	return nil
}

// copySymlink makes target (inside root) a symbolic link to link, for a
// copy-symlink bind whose source is one: what was there as a file or
// link goes.
func copySymlink(root *os.File, target, link string) error {
	dir, err := mkdirAllInRoot(root, path.Dir(target), 0o755)
	if err != nil {
		return fmt.Errorf("creating %s: %w", path.Dir(target), err)
	}
	defer dir.Close()
	base := path.Base(target)
	if err := unix.Unlinkat(int(dir.Fd()), base, 0); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("replacing %s with a symbolic link: %w", target, err)
	}
	if err := unix.Symlinkat(link, int(dir.Fd()), base); err != nil {
		return fmt.Errorf("creating symbolic link %s -> %s: %w", target, link, err)
	}
	return nil
}

// badFSOption names the option of data that fstype refuses, with the
// kernel's own words: mount(2) says only EINVAL for the whole string,
// while the new mount API takes one option at a time and logs why it
// refused one on the filesystem context (fsconfig(2), Linux 5.2). nil
// when the filesystem takes each option alone (or cannot be asked).
func badFSOption(fstype, data string) error {
	fd, err := unix.Fsopen(fstype, unix.FSOPEN_CLOEXEC)
	if err != nil {
		return nil
	}
	defer unix.Close(fd)
	for _, o := range strings.Split(data, ",") {
		k, v, hasValue := strings.Cut(o, "=")
		if hasValue {
			err = unix.FsconfigSetString(fd, k, v)
		} else {
			err = unix.FsconfigSetFlag(fd, k)
		}
		if err == nil {
			continue
		}
		why := err.Error()
		buf := make([]byte, 512)
		if n, rerr := unix.Read(fd, buf); rerr == nil && n > 2 {
			// "e tmpfs: Unknown parameter 'foo'": drop the level letter.
			why = strings.TrimSpace(string(buf[2:n]))
		}
		return fmt.Errorf("mount option %q is not one %s accepts (%s)", o, fstype, why)
	}
	return nil
}

// setRecursiveAttrs applies rro and its kin to the mount at m and every
// mount below it, atomically: a remount with MS_RDONLY changes the top
// mount only, and submounts of a bind's source (a tmpfs, /dev/shm, a FUSE
// or NFS mount) would stay writable.
func setRecursiveAttrs(m *os.File, set, clr uint64) error {
	if set|clr == 0 {
		return nil
	}
	attr := &unix.MountAttr{Attr_set: set, Attr_clr: clr}
	err := unix.MountSetattr(int(m.Fd()), "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, attr)
	switch {
	case errors.Is(err, unix.ENOSYS):
		return errors.New("read-only (or another attribute) for every mount below needs mount_setattr(2), Linux 5.12 or later; this kernel has none (the OCI option \"ro\" without \"rro\" makes the top mount read-only only)")
	case err != nil:
		return fmt.Errorf("setting attributes %#x (clearing %#x) recursively: %w", set, clr, err)
	}
	return nil
}

// remountBind applies flags to an existing bind mount. In a user namespace
// the kernel refuses to clear flags the mount was locked with (a nosuid
// host mount stays nosuid), so they are read and kept.
func remountBind(target string, flags uintptr) error {
	var st unix.Statfs_t
	if err := unix.Statfs(target, &st); err != nil {
		return fmt.Errorf("reading mount flags: %w", err)
	}
	// statfs reports ST_* bits: the first four equal their MS_* twins,
	// the atime ones do not.
	locked := uintptr(st.Flags) & (unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC | unix.MS_RDONLY)
	err := unix.Mount("", target, "", unix.MS_REMOUNT|unix.MS_BIND|flags|locked, "")
	if errors.Is(err, unix.EPERM) {
		// A locked mount's atime mode cannot change either: keep the
		// current one instead of the requested one (as runc does).
		const atime = unix.MS_NOATIME | unix.MS_NODIRATIME | unix.MS_RELATIME | unix.MS_STRICTATIME
		cur := uintptr(unix.MS_STRICTATIME)
		switch {
		case st.Flags&unix.ST_NOATIME != 0:
			cur = unix.MS_NOATIME
		case st.Flags&unix.ST_RELATIME != 0:
			cur = unix.MS_RELATIME
		}
		if st.Flags&unix.ST_NODIRATIME != 0 {
			cur |= unix.MS_NODIRATIME
		}
		err = unix.Mount("", target, "", unix.MS_REMOUNT|unix.MS_BIND|flags&^atime|cur|locked, "")
	}
	if err != nil {
		return fmt.Errorf("remounting bind mount with flags %#x: %w", flags, err)
	}
	return nil
}

func remountReadonly(target string) error {
	return remountBind(target, unix.MS_RDONLY)
}

// bindDevice binds a host device node onto an empty file in the
// container: a rootless process cannot mknod, but may bind what exists.
func bindDevice(root *os.File, op mountOp) error {
	target, err := openTarget(root, op.Target, false)
	if err != nil {
		return err
	}
	defer target.Close()
	if err := unix.Mount(op.Source, procFD(target), "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("binding host device %s: %w", op.Source, err)
	}
	return nil
}

func symlinkIn(root *os.File, op mountOp) error {
	dir, err := mkdirAllInRoot(root, path.Dir(op.Target), 0o755)
	if err != nil {
		return fmt.Errorf("creating %s: %w", path.Dir(op.Target), err)
	}
	defer dir.Close()
	err = unix.Symlinkat(op.Source, int(dir.Fd()), path.Base(op.Target))
	if errors.Is(err, unix.EEXIST) {
		return nil
	}
	return err
}

// remountIn applies op.Flags to the filesystem mounted at op.Target.
func remountIn(root *os.File, op mountOp) error {
	f, err := openatInRoot(root, op.Target)
	if err != nil {
		return fmt.Errorf("reopening mount point: %w", err)
	}
	defer f.Close()
	if err := unix.Mount("", procFD(f), "", unix.MS_REMOUNT|op.Flags, ""); err != nil {
		return fmt.Errorf("remounting with flags %#x: %w", op.Flags, err)
	}
	return nil
}

// mountCgroup gives the container its cgroup namespace's view of the
// host's cgroups, as runc does: cgroup2 where the host has it at
// /sys/fs/cgroup; on a cgroup v1 or hybrid host, a tmpfs holding each of
// the host's hierarchies (read-only when the mount is), so tools that
// look for /sys/fs/cgroup/memory or /sys/fs/cgroup/unified find them.
func mountCgroup(root *os.File, op mountOp) error {
	target, err := openTarget(root, op.Target, true)
	if err != nil {
		return err
	}
	defer target.Close()
	flags := op.Flags | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC
	var st unix.Statfs_t
	if err := unix.Statfs("/sys/fs/cgroup", &st); err == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
		if err := unix.Mount("cgroup2", procFD(target), "cgroup2", flags, ""); err != nil {
			return fmt.Errorf("mounting cgroup2: %w", err)
		}
		return nil
	}
	hiers, err := hostCgroupHierarchies()
	if err != nil || len(hiers) == 0 {
		return err
	}
	if err := unix.Mount("tmpfs", procFD(target), "tmpfs", flags&^unix.MS_RDONLY, "mode=755"); err != nil {
		return fmt.Errorf("mounting the tmpfs for the cgroup v1 hierarchies: %w", err)
	}
	for _, h := range hiers {
		if err := mountHierarchy(root, path.Join(op.Target, h.name), h, flags); err != nil {
			return fmt.Errorf("mounting cgroup hierarchy %s: %w", h.name, err)
		}
	}
	// The host's links for co-mounted controllers (cpu -> cpu,cpuacct).
	if ents, err := os.ReadDir("/sys/fs/cgroup"); err == nil {
		for _, e := range ents {
			if e.Type()&os.ModeSymlink == 0 {
				continue
			}
			if dest, err := os.Readlink(path.Join("/sys/fs/cgroup", e.Name())); err == nil && !strings.Contains(dest, "/") {
				symlinkIn(root, mountOp{Source: dest, Target: path.Join(op.Target, e.Name())})
			}
		}
	}
	if op.Flags&unix.MS_RDONLY != 0 {
		return remountIn(root, mountOp{Target: op.Target, Flags: flags})
	}
	return nil
}

// cgroupHierarchy is one cgroup filesystem mounted under /sys/fs/cgroup.
type cgroupHierarchy struct {
	name   string // the directory: memory, cpu,cpuacct, systemd, unified
	fstype string // cgroup or cgroup2
	data   string // the controllers (or name=), for a new mount
	mount  string // where the host has it
	own    string // this process's cgroup in it, for a bind
}

// hostCgroupHierarchies reads the hierarchies from mountinfo, and this
// process's cgroup in each from /proc/self/cgroup.
func hostCgroupHierarchies() ([]cgroupHierarchy, error) {
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("reading mountinfo: %w", err)
	}
	own := map[string]string{}
	if b, err := os.ReadFile("/proc/self/cgroup"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if f := strings.SplitN(l, ":", 3); len(f) == 3 {
				own[f[1]] = f[2]
			}
		}
	}
	var hs []cgroupHierarchy
	for _, l := range strings.Split(string(mi), "\n") {
		pre, post, ok := strings.Cut(l, " - ")
		f, g := strings.Fields(pre), strings.Fields(post)
		if !ok || len(f) < 5 || len(g) < 3 || path.Dir(f[4]) != "/sys/fs/cgroup" {
			continue
		}
		h := cgroupHierarchy{name: path.Base(f[4]), fstype: g[0], mount: f[4]}
		switch g[0] {
		case "cgroup2":
			h.own = own[""]
		case "cgroup":
			var ctrls []string
			for _, o := range strings.Split(g[2], ",") {
				if o != "rw" && o != "ro" && o != "clone_children" && o != "xattr" && !strings.HasPrefix(o, "release_agent=") {
					ctrls = append(ctrls, o)
				}
			}
			h.data = strings.Join(ctrls, ",")
			h.own = own[h.data]
		default:
			continue
		}
		hs = append(hs, h)
	}
	return hs, nil
}

// mountHierarchy mounts one hierarchy at target (inside root): a new
// mount of it, which the kernel roots at the cgroup namespace's root and
// allows in the container's own cgroup namespace; without one (or where
// the kernel refuses), a bind of this process's cgroup in the host's.
func mountHierarchy(root *os.File, target string, h cgroupHierarchy, flags uintptr) error {
	dir, err := openTarget(root, target, true)
	if err != nil {
		return err
	}
	defer dir.Close()
	err = unix.Mount(h.fstype, procFD(dir), h.fstype, flags, h.data)
	if err == nil || !errors.Is(err, unix.EPERM) || h.own == "" {
		return err
	}
	src := path.Join(h.mount, h.own)
	if err := unix.Mount(src, procFD(dir), "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("binding %s: %w", src, err)
	}
	m, err := openatInRoot(root, target)
	if err != nil {
		return fmt.Errorf("reopening mount point: %w", err)
	}
	defer m.Close()
	return remountBind(procFD(m), flags)
}

// openatInRoot opens p inside root as an O_PATH handle, as pathrs'
// OpenatInRoot does: where the kernel has openat2 (Linux 5.6) that is
// one call, RESOLVE_IN_ROOT keeping every "..", absolute link and link
// inside root. pathrs makes the same call and then reads the handle's
// path back from /proc/self/fd only to name the *os.File, which cost
// more than the lookup (two thirds of the init's mount time went to
// pathrs); this skips that. Anything but success (an old kernel, EAGAIN
// from a racing rename, a missing path) goes to pathrs, which retries,
// falls back and words the error as before.
func openatInRoot(root *os.File, p string) (*os.File, error) {
	if f := openat2InRoot(root, p, 0); f != nil {
		return f, nil
	}
	return pathrs.OpenatInRoot(root, p)
}

// mkdirAllInRoot is pathrs' MkdirAllHandle, which creates what is missing
// of p inside root and opens it, with openatInRoot's shortcut for the
// common case: the directory exists already (/proc, /dev, /sys of an
// image). The handle is O_PATH; every caller uses it as a mount point
// or as the directory of an *at call, for which O_PATH is enough.
func mkdirAllInRoot(root *os.File, p string, mode os.FileMode) (*os.File, error) {
	if f := openat2InRoot(root, p, unix.O_DIRECTORY); f != nil {
		return f, nil
	}
	// The next most common: one directory missing in one that exists
	// (a mount point in a tmpfs just mounted: /dev/pts, the cgroup v1
	// hierarchies). mkdirat does not follow a link in its last
	// component, and the handle is opened below the parent with no
	// link followed at all, so it is the directory made here (or by a
	// racing process, which is the same to the caller). pathrs does
	// exactly this per component, plus its /proc/self/fd checks.
	if dir, base := path.Split(path.Clean(p)); dir != "" && base != "" && base != "." && base != ".." && mode&^os.ModePerm == 0 {
		if parent := openat2InRoot(root, dir, unix.O_DIRECTORY); parent != nil {
			defer parent.Close()
			if err := unix.Mkdirat(int(parent.Fd()), base, uint32(mode)); err == nil || errors.Is(err, unix.EEXIST) {
				fd, err := unix.Openat2(int(parent.Fd()), base, &unix.OpenHow{
					Flags:   unix.O_PATH | unix.O_CLOEXEC | unix.O_DIRECTORY | unix.O_NOFOLLOW,
					Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
				})
				if err == nil {
					return os.NewFile(uintptr(fd), p), nil
				}
			}
		}
	}
	return pathrs.MkdirAllHandle(root, p, mode)
}

// openat2InRoot is the one openat2 call, or nil.
func openat2InRoot(root *os.File, p string, flags uint64) *os.File {
	fd, err := unix.Openat2(int(root.Fd()), p, &unix.OpenHow{
		Flags:   flags | unix.O_PATH | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return nil
	}
	return os.NewFile(uintptr(fd), p)
}

// openTarget creates (if needed) and opens a mount point inside root.
func openTarget(root *os.File, p string, dir bool) (*os.File, error) {
	if dir {
		f, err := mkdirAllInRoot(root, p, 0o755)
		if err != nil {
			return nil, fmt.Errorf("creating mount point: %w", err)
		}
		return f, nil
	}
	parent, err := mkdirAllInRoot(root, path.Dir(p), 0o755)
	if err != nil {
		return nil, fmt.Errorf("creating mount point's directory: %w", err)
	}
	defer parent.Close()
	base := path.Base(p)
	fd, err := unix.Openat(int(parent.Fd()), base, unix.O_CREAT|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_RDONLY, 0o644)
	if err != nil && !errors.Is(err, unix.EEXIST) {
		// An existing mount point may be something we cannot open for
		// reading (a FIFO, a 0000 file); O_PATH opens anything.
		fd, err = unix.Openat(int(parent.Fd()), base, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	}
	if err != nil {
		return nil, fmt.Errorf("creating mount point file: %w", err)
	}
	f := os.NewFile(uintptr(fd), p)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		f.Close()
		return nil, err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFLNK || st.Mode&unix.S_IFMT == unix.S_IFDIR {
		f.Close()
		return nil, fmt.Errorf("mount point %s is a directory or symlink in the image, the source is a file", p)
	}
	return f, nil
}

func procFD(f *os.File) string {
	return "/proc/self/fd/" + strconv.Itoa(int(f.Fd()))
}

// maskPaths hides host information in /proc and /sys: files get /dev/null
// bound over them, directories an empty read-only tmpfs.
//
// Preconditions: after pivot_root, so paths are the container's.
func maskPaths(paths []string) error {
	for _, p := range paths {
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			if errors.Is(err, unix.ENOENT) {
				continue
			}
			return fmt.Errorf("masking %s: %w", p, err)
		}
		var err error
		if st.Mode&unix.S_IFMT == unix.S_IFDIR {
			err = unix.Mount("tmpfs", p, "tmpfs", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "size=0,mode=0555")
		} else {
			err = unix.Mount("/dev/null", p, "", unix.MS_BIND, "")
		}
		if err != nil {
			return fmt.Errorf("masking %s: %w", p, err)
		}
	}
	return nil
}

// readonlyPaths binds each path onto itself and makes that read-only.
func readonlyPaths(paths []string) error {
	for _, p := range paths {
		if err := unix.Mount(p, p, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			if errors.Is(err, unix.ENOENT) {
				continue
			}
			return fmt.Errorf("making %s read-only: %w", p, err)
		}
		if err := remountBind(p, unix.MS_RDONLY|unix.MS_REC); err != nil {
			return fmt.Errorf("making %s read-only: %w", p, err)
		}
	}
	return nil
}
