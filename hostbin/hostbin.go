// Package hostbin finds the host programs urun runs (newuidmap,
// newgidmap, pasta, slirp4netns, fuse-overlayfs, nsenter) and words what
// is wrong with one the same way wherever urun says it: `urun run`'s
// warnings and errors and `urun doctor`'s checks. The *Text functions are
// pure (doctor's diagnosis calls them on gathered facts); the others look
// at the file system.
package hostbin

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"golang.org/x/sys/unix"
)

// standardDirs are where a distribution installs programs: a PATH that
// lacks one of them (a minimal sudo or cron environment, a hand-made
// one) may miss a program that is installed.
var standardDirs = []string{"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"}

// OffPath is where name is installed in a standard directory that PATH
// does not list, or "".
func OffPath(name string) string {
	path := filepath.SplitList(os.Getenv("PATH"))
	for _, d := range standardDirs {
		if slices.Contains(path, d) {
			continue
		}
		p := filepath.Join(d, name)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

// NotFound is the cause and fix for name missing from PATH: it is not
// installed (pkg is its Debian package), or installed where PATH does not
// look.
func NotFound(name, pkg string) (cause, fix string) {
	return NotFoundText(name, OffPath(name), pkg)
}

// NotFoundText is NotFound with the off-PATH location already looked up
// ("" when there is none).
func NotFoundText(name, offPath, pkg string) (cause, fix string) {
	if offPath != "" {
		dir := filepath.Dir(offPath)
		return fmt.Sprintf("%s is installed at %s, but %s is not on PATH", name, offPath, dir),
			fmt.Sprintf(`export PATH="$PATH:%s" (and add that to your shell's profile)`, dir)
	}
	return name + " is not installed", "sudo apt-get install " + pkg
}

// Privileged reports whether an id-mapping helper can act for the user:
// setuid root, or file capabilities (Fedora installs it with cap_setuid),
// on a filesystem not mounted nosuid.
func Privileged(path string) bool {
	var st unix.Stat_t
	if unix.Stat(path, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		return false
	}
	var sfs unix.Statfs_t
	if unix.Statfs(path, &sfs) == nil && sfs.Flags&unix.ST_NOSUID != 0 {
		return false
	}
	if st.Mode&unix.S_ISUID != 0 && st.Uid == 0 {
		return true
	}
	sz, err := unix.Getxattr(path, "security.capability", nil)
	return err == nil && sz > 0
}

// PrivilegedCopy finds a privileged name on PATH other than skip, or in
// /usr/bin.
func PrivilegedCopy(name, skip string) string {
	for _, d := range append(filepath.SplitList(os.Getenv("PATH")), "/usr/bin") {
		if p := filepath.Join(d, name); d != "" && p != skip && Privileged(p) {
			return p
		}
	}
	return ""
}

// Unprivileged is the cause and fix for an id-mapping helper at path
// that cannot map ids.
func Unprivileged(name, path string) (cause, fix string) {
	nosuid := ""
	var sfs unix.Statfs_t
	if unix.Statfs(path, &sfs) == nil && sfs.Flags&unix.ST_NOSUID != 0 {
		nosuid = MountPoint(path)
	}
	return UnprivilegedText(path, PrivilegedCopy(name, path), nosuid)
}

// UnprivilegedText is Unprivileged with what was looked up: a privileged
// copy elsewhere ("" when there is none), and the nosuid mount the file
// is on (""). A copy PATH finds first (often one the user built or
// copied) is not made setuid: the one that works is put first instead.
func UnprivilegedText(path, privilegedCopy, nosuidMount string) (cause, fix string) {
	why := "it is neither setuid root nor has file capabilities"
	if nosuidMount != "" {
		why = "its filesystem " + nosuidMount + " is mounted nosuid"
	}
	if privilegedCopy != "" {
		return fmt.Sprintf("PATH finds %s first, which cannot map ids (%s), while %s can", path, why, privilegedCopy),
			fmt.Sprintf("remove %s, or put %s before %s in PATH", path, filepath.Dir(privilegedCopy), filepath.Dir(path))
	}
	if nosuidMount != "" {
		return fmt.Sprintf("%s cannot map ids: %s", path, why),
			fmt.Sprintf("sudo mount -o remount,suid %s (and remove nosuid for it in /etc/fstab), or put a uidmap installed on a suid filesystem first on PATH", nosuidMount)
	}
	return fmt.Sprintf("%s cannot map ids: %s", path, why),
		fmt.Sprintf("sudo chmod u+s %s (if root owns it), or reinstall the uidmap package (sudo apt-get install --reinstall uidmap)", path)
}

// MountPoint walks up from path to the top of its filesystem.
func MountPoint(path string) string {
	dev := func(p string) (uint64, bool) {
		var st unix.Stat_t
		if unix.Stat(p, &st) != nil {
			return 0, false
		}
		return st.Dev, true
	}
	d, ok := dev(path)
	if !ok {
		return path
	}
	cur := path
	for cur != "/" {
		parent := filepath.Dir(cur)
		if pd, ok := dev(parent); !ok || pd != d {
			return cur
		}
		cur = parent
	}
	return "/"
}
