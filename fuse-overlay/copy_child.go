package fuseoverlay

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// The copy tier: where neither overlay implementation mounts, the
// container gets its own copy of the image in a tmpfs mounted on the
// rootfs directory inside the container's mount namespace. The tmpfs is
// freed by the kernel when the last process of that namespace exits, so
// no exit path (kill -9 of urun, a detached container, `urun rm`) can
// leave a copy behind; the price is memory: the image's size per container.
// The copy is writable like an overlay's upper layer; --read-only remounts
// it read-only later, as it does an overlay.

// copyStats counts what a copy made, for the warning and debug output.
type copyStats struct {
	bytes   int64
	files   int
	skipped []string // device nodes a user namespace may not create
}

// copyMarker is the file in a kept container's work directory (which the
// container never sees) that says its upper directory holds a copy of
// the image: "partial" while copying, "done" once complete.
const copyMarker = "urun-copy"

// HasDiskCopy reports whether the writable layer whose work directory is
// work holds a complete copy of the image, made by the copy tier for a
// kept container.
func HasDiskCopy(work string) bool {
	b, err := os.ReadFile(filepath.Join(work, copyMarker))
	return err == nil && string(b) == "done"
}

// copyLayers copies lower (topmost first, as overlay's lowerdir) onto
// dst: one directory as it is; a stack of layers (the layer store's diff
// directories) bottom up, with overlay's rules: a whiteout (a 0/0
// character device) removes what the layers below have at its path, an
// opaque directory (user.overlay.opaque or trusted.overlay.opaque = y)
// hides their directory's entries, and anything else replaces what is
// below it, a directory over a directory merging with it.
func copyLayers(lower []string, dst string, st *copyStats) error {
	if len(lower) == 1 {
		c := copier{links: map[devIno]string{}, stats: st}
		return c.copyTree(lower[0], dst)
	}
	for i := len(lower) - 1; i >= 0; i-- {
		c := copier{links: map[devIno]string{}, stats: st, merge: true}
		if err := c.copyTree(lower[i], dst); err != nil {
			return err
		}
	}
	return nil
}

// mountCopy copies p.Lower (the image's one tree, or its layers) into a tmpfs mounted at target, or, for a
// kept container (p.Upper set), into its writable layer on disk, once:
// later starts bind that copy, so writes survive stop and start as they
// do with the overlay tiers.
func mountCopy(p Plan, target string) (copyStats, error) {
	if p.Upper != "" {
		return mountDiskCopy(p, target)
	}
	var st copyStats
	if err := unix.Mount("tmpfs", target, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0755"); err != nil {
		return st, fmt.Errorf("mounting tmpfs for the image copy: %w", err)
	}
	if err := copyLayers(p.Lower, target, &st); err != nil {
		// The tmpfs holds nothing anyone else sees: drop it whole.
		unix.Unmount(target, unix.MNT_DETACH)
		return st, fmt.Errorf("copying the image into memory (tier copy): %w", err)
	}
	return st, nil
}

// mountDiskCopy makes the copy in p.Upper on the first start (again when
// an earlier one was interrupted) and binds it onto target.
func mountDiskCopy(p Plan, target string) (copyStats, error) {
	var st copyStats
	marker := filepath.Join(p.Work, copyMarker)
	state, err := os.ReadFile(marker)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return st, fmt.Errorf("reading %s: %w", marker, err)
	}
	if string(state) != "done" {
		if err == nil && string(state) != "partial" {
			return st, fmt.Errorf("%s says %q: remove the container and create it again", marker, state)
		}
		if err := clearDir(p.Upper, err == nil); err != nil {
			return st, err
		}
		if err := os.WriteFile(marker, []byte("partial"), 0o600); err != nil {
			return st, fmt.Errorf("copying the image (tier copy): %w", err)
		}
		if err := copyLayers(p.Lower, p.Upper, &st); err != nil {
			return st, fmt.Errorf("copying the image into the container's writable layer %s (tier copy): %w", p.Upper, err)
		}
		if err := syncDir(p.Upper); err != nil {
			return st, fmt.Errorf("copying the image (tier copy): %w", err)
		}
		if err := os.WriteFile(marker, []byte("done"), 0o600); err != nil {
			return st, fmt.Errorf("copying the image (tier copy): %w", err)
		}
	}
	if err := unix.Mount(p.Upper, target, "", unix.MS_BIND, ""); err != nil {
		return st, fmt.Errorf("binding the container's copy %s: %w", p.Upper, err)
	}
	return st, nil
}

// syncDir flushes the filesystem holding dir, so "done" is never written
// before the copy it vouches for.
func syncDir(dir string) error {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return unix.Syncfs(fd)
}

// clearDir empties dir before a copy. An interrupted copy (partial) is
// removed; anything else there is an overlay tier's writes, which the
// copy tier cannot turn into a root filesystem.
func clearDir(dir string, partial bool) error {
	names, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("reading the container's writable layer: %w", err)
	}
	if len(names) > 0 && !partial {
		return fmt.Errorf("the container's writable layer %s holds an overlay's changes, which the copy tier cannot use: start it where overlayfs or fuse-overlayfs works (`urun doctor`)", dir)
	}
	for _, n := range names {
		if err := os.RemoveAll(filepath.Join(dir, n.Name())); err != nil {
			return fmt.Errorf("removing an interrupted copy: %w", err)
		}
	}
	return nil
}

type devIno struct{ dev, ino uint64 }

type copier struct {
	links map[devIno]string // first path copied for each multiply linked file
	stats *copyStats
	// merge: the layers of a stack are copied onto each other, with
	// overlay's whiteouts and opaque directories (copyLayers).
	merge bool
}

// isOverlayXattr names overlay's own markers, which a merged copy has
// applied and does not carry.
func isOverlayXattr(name string) bool {
	return strings.HasPrefix(name, "user.overlay.") || strings.HasPrefix(name, "trusted.overlay.")
}

// opaque: src is an overlay opaque directory.
func opaque(src string) bool {
	for _, n := range []string{"user.overlay.opaque", "trusted.overlay.opaque"} {
		if v, err := getXattr(src, n); err == nil && string(v) == "y" {
			return true
		}
	}
	return false
}

// copyTree copies the directory src onto the existing directory dst
// (the tmpfs root), then gives dst src's owner, mode, xattrs and times.
func (c *copier) copyTree(src, dst string) error {
	var st unix.Stat_t
	if err := unix.Lstat(src, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return fmt.Errorf("%s is not a directory", src)
	}
	if c.merge && opaque(src) {
		if err := emptyDir(dst); err != nil {
			return err
		}
	}
	if err := c.copyDirContents(src, dst); err != nil {
		return err
	}
	return c.finishDir(src, dst, &st)
}

// emptyDir removes dir's entries (a lower layer's, under an opaque
// directory of the layer above).
func emptyDir(dir string) error {
	names, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, n := range names {
		if err := os.RemoveAll(filepath.Join(dir, n.Name())); err != nil {
			return err
		}
	}
	return nil
}

func (c *copier) copyDirContents(src, dst string) error {
	d, err := os.Open(src)
	if err != nil {
		return err
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return err
	}
	for _, name := range names {
		if err := c.copyEntry(filepath.Join(src, name), filepath.Join(dst, name)); err != nil {
			return err
		}
	}
	return nil
}

func (c *copier) copyEntry(src, dst string) error {
	var st unix.Stat_t
	if err := unix.Lstat(src, &st); err != nil {
		return err
	}
	mode := st.Mode & unix.S_IFMT
	if c.merge {
		var old unix.Stat_t
		exists := unix.Lstat(dst, &old) == nil
		if mode == unix.S_IFCHR && st.Rdev == 0 {
			// A whiteout: the path is gone from here up.
			if exists {
				return os.RemoveAll(dst)
			}
			return nil
		}
		if exists && mode == unix.S_IFDIR && old.Mode&unix.S_IFMT == unix.S_IFDIR {
			// A directory over a directory: its entries merge.
			if err := unix.Chmod(dst, 0o700); err != nil {
				return err
			}
			if opaque(src) {
				if err := emptyDir(dst); err != nil {
					return err
				}
			}
			if err := c.copyDirContents(src, dst); err != nil {
				return err
			}
			return c.finishDir(src, dst, &st)
		}
		if exists {
			if err := os.RemoveAll(dst); err != nil {
				return err
			}
		}
	}
	if mode != unix.S_IFDIR && st.Nlink > 1 {
		key := devIno{uint64(st.Dev), st.Ino}
		if first, ok := c.links[key]; ok {
			if err := unix.Link(first, dst); err != nil {
				return fmt.Errorf("hard link %s: %w", dst, err)
			}
			return nil
		}
		c.links[key] = dst
	}
	switch mode {
	case unix.S_IFDIR:
		// Owner-only until filled: a 0555 directory must still take entries.
		if err := unix.Mkdir(dst, 0o700); err != nil {
			return err
		}
		if err := c.copyDirContents(src, dst); err != nil {
			return err
		}
		return c.finishDir(src, dst, &st)
	case unix.S_IFREG:
		if err := c.copyFile(src, dst, &st); err != nil {
			return fmt.Errorf("copying %s: %w", src, err)
		}
		return nil
	case unix.S_IFLNK:
		target, err := os.Readlink(src)
		if err != nil {
			return err
		}
		if err := unix.Symlink(target, dst); err != nil {
			return err
		}
	default:
		// Fifos, sockets and whiteouts (0/0 character devices) can be made
		// in a user namespace; real device nodes cannot, and /dev is
		// mounted over the image's anyway.
		if err := unix.Mknod(dst, st.Mode, int(st.Rdev)); err != nil {
			if errors.Is(err, unix.EPERM) {
				delete(c.links, devIno{uint64(st.Dev), st.Ino}) // nothing to link to
				c.stats.skipped = append(c.stats.skipped, src)
				return nil
			}
			return fmt.Errorf("creating %s: %w", dst, err)
		}
	}
	return finishNode(src, dst, &st, c.merge)
}

func (c *copier) copyFile(src, dst string, st *unix.Stat_t) error {
	in, err := os.OpenFile(src, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return err
	}
	n, err := io.Copy(out, in)
	if err == nil {
		err = finishFD(int(out.Fd()), src, st, c.merge)
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	c.stats.bytes += n
	c.stats.files++
	return err
}

// finishFD sets owner, then mode (chown clears setuid/setgid), xattrs and
// times on an open regular file.
func finishFD(fd int, src string, st *unix.Stat_t, merge bool) error {
	if err := unix.Fchown(fd, int(st.Uid), int(st.Gid)); err != nil {
		return fmt.Errorf("owner %d:%d: %w", st.Uid, st.Gid, err)
	}
	if err := unix.Fchmod(fd, st.Mode&0o7777); err != nil {
		return err
	}
	set := func(name string, val []byte) error { return unix.Fsetxattr(fd, name, val, 0) }
	if err := copyXattrs(src, set, false, merge); err != nil {
		return err
	}
	// The descriptor's magic link leads to the file itself.
	return unix.UtimesNanoAt(unix.AT_FDCWD, fmt.Sprintf("/proc/self/fd/%d", fd), []unix.Timespec{st.Atim, st.Mtim}, 0)
}

// finishDir is finishNode for a directory, done after its entries so
// their creation does not change its times.
func (c *copier) finishDir(src, dst string, st *unix.Stat_t) error {
	if err := unix.Chown(dst, int(st.Uid), int(st.Gid)); err != nil {
		return fmt.Errorf("owner %d:%d of %s: %w", st.Uid, st.Gid, dst, err)
	}
	if err := unix.Chmod(dst, st.Mode&0o7777); err != nil {
		return err
	}
	if err := copyXattrs(src, lset(dst), false, c.merge); err != nil {
		return err
	}
	return setTimes(dst, st)
}

// finishNode sets what finishFD does on a path that is not followed.
func finishNode(src, dst string, st *unix.Stat_t, merge bool) error {
	if err := unix.Lchown(dst, int(st.Uid), int(st.Gid)); err != nil {
		return fmt.Errorf("owner %d:%d of %s: %w", st.Uid, st.Gid, dst, err)
	}
	link := st.Mode&unix.S_IFMT == unix.S_IFLNK
	if !link {
		if err := unix.Chmod(dst, st.Mode&0o7777); err != nil {
			return err
		}
	}
	if err := copyXattrs(src, lset(dst), link, merge); err != nil {
		return err
	}
	return setTimes(dst, st)
}

func setTimes(dst string, st *unix.Stat_t) error {
	ts := []unix.Timespec{st.Atim, st.Mtim}
	return unix.UtimesNanoAt(unix.AT_FDCWD, dst, ts, unix.AT_SYMLINK_NOFOLLOW)
}

// copyXattrs copies the extended attributes the copy can carry. security.*
// and trusted.* ones a user namespace may not set, and user.* ones on a
// symlink (which the kernel refuses), are left out, as the overlay tiers
// would not show the latter either.
func copyXattrs(src string, set func(name string, val []byte) error, link, merge bool) error {
	names, err := listXattrs(src)
	if err != nil || len(names) == 0 {
		return nil // a filesystem without xattrs has none to copy
	}
	for _, name := range names {
		if merge && isOverlayXattr(name) {
			continue
		}
		val, err := getXattr(src, name)
		if err != nil {
			continue
		}
		if err := set(name, val); err != nil {
			switch {
			case errors.Is(err, unix.EPERM), errors.Is(err, unix.ENOTSUP), errors.Is(err, unix.EACCES):
				continue
			case link && errors.Is(err, unix.EINVAL):
				continue
			}
			return fmt.Errorf("xattr %s: %w", name, err)
		}
	}
	return nil
}

func lset(path string) func(string, []byte) error {
	return func(name string, val []byte) error { return unix.Lsetxattr(path, name, val, 0) }
}

func listXattrs(path string) ([]string, error) {
	sz, err := unix.Llistxattr(path, nil)
	if err != nil || sz == 0 {
		return nil, err
	}
	buf := make([]byte, sz)
	if sz, err = unix.Llistxattr(path, buf); err != nil {
		return nil, err
	}
	var names []string
	start := 0
	for i, b := range buf[:sz] {
		if b == 0 {
			if i > start {
				names = append(names, string(buf[start:i]))
			}
			start = i + 1
		}
	}
	return names, nil
}

func getXattr(path, name string) ([]byte, error) {
	sz, err := unix.Lgetxattr(path, name, nil)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, sz)
	sz, err = unix.Lgetxattr(path, name, buf)
	if err != nil {
		return nil, err
	}
	return buf[:sz], nil
}
