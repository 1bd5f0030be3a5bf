package container

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"

	"golang.org/x/sys/unix"
)

// copyTree copies the entries of the open directory src into the open
// directory dst (a new tmpfs, for the mount option tmpcopyup): files,
// directories, symbolic links, FIFOs and sockets, with their owners,
// modes and times, as crun's copy_recursive_fd_to_fd does. Every name
// is opened relative to its parent's descriptor with O_NOFOLLOW, so a
// link in the image cannot lead the copy out of it. Device nodes are
// left out: a rootless runtime cannot make them (mknod needs
// CAP_MKNOD in the initial user namespace). Hard links become copies.
// name is the directory's path in the container, for errors.
//
// Preconditions: root in the container's user namespace.
func copyTree(src, dst int, name string) error {
	d, err := unix.Dup(src)
	if err != nil {
		return fmt.Errorf("reading %s: %w", name, err)
	}
	dir := os.NewFile(uintptr(d), name)
	ents, err := dir.ReadDir(-1)
	dir.Close()
	if err != nil {
		return fmt.Errorf("reading %s: %w", name, err)
	}
	for _, e := range ents {
		if err := copyEntry(src, dst, e.Name(), path.Join(name, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// copyEntry copies the entry base of directory src into dst.
func copyEntry(src, dst int, base, name string) error {
	var st unix.Stat_t
	if err := unix.Fstatat(src, base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("reading %s: %w", name, err)
	}
	var err error
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		err = copyFile(src, dst, base)
	case unix.S_IFDIR:
		err = copyDir(src, dst, base, name)
	case unix.S_IFLNK:
		var link string
		if link, err = readlinkat(src, base); err == nil {
			err = unix.Symlinkat(link, dst, base)
		}
	case unix.S_IFIFO, unix.S_IFSOCK:
		err = unix.Mknodat(dst, base, st.Mode, 0)
	default:
		return nil // a device node: see copyTree
	}
	if err != nil {
		return fmt.Errorf("copying %s: %w", name, err)
	}
	// An owner outside the container's id map reads as the overflow id,
	// which cannot be given back (EINVAL): the copy keeps root's.
	if err := unix.Fchownat(dst, base, int(st.Uid), int(st.Gid), unix.AT_SYMLINK_NOFOLLOW); err != nil && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("giving %s its owner %d:%d: %w", name, st.Uid, st.Gid, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFLNK {
		// After the chown, which clears set-user-id bits.
		if err := unix.Fchmodat(dst, base, st.Mode&07777, 0); err != nil {
			return fmt.Errorf("giving %s its mode %o: %w", name, st.Mode&07777, err)
		}
	}
	times := []unix.Timespec{st.Atim, st.Mtim}
	if err := unix.UtimesNanoAt(dst, base, times, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("giving %s its times: %w", name, err)
	}
	return nil
}

func copyFile(src, dst int, base string) error {
	in, err := openAt(src, base, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := openAt(dst, base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func copyDir(src, dst int, base, name string) error {
	if err := unix.Mkdirat(dst, base, 0o700); err != nil {
		return err
	}
	from, err := openAt(src, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return err
	}
	defer from.Close()
	to, err := openAt(dst, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return err
	}
	defer to.Close()
	return copyTree(int(from.Fd()), int(to.Fd()), name)
}

func openAt(dir int, base string, flags int, mode uint32) (*os.File, error) {
	fd, err := unix.Openat(dir, base, flags|unix.O_CLOEXEC, mode)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), base), nil
}
