package store

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/urun-dev/urun/userns"
)

// RemoveTree deletes dir, whose files may be owned by subordinate ids (a
// container's writable layer), from inside a user namespace with maps: an
// ordinary user cannot remove them from outside. helperExe is urun, which
// runs UnpackMain for the hidden UnpackCommand. A missing dir is no error.
//
// Most writable layers hold only files of the container's root (which is
// the user) in directories of the user's: those are removed here first,
// without the user namespace (a re-exec and newuidmap, 5–10 ms that every
// `urun run --rm` would pay at exit); what is left needs the namespace.
func RemoveTree(dir string, maps userns.Maps, helperExe string) error {
	if _, err := os.Lstat(dir); os.IsNotExist(err) {
		return nil
	}
	if removeOwnTree(dir) == nil {
		return nil
	}
	if err := runUnpack(UnpackRequest{Dir: dir, Remove: true}, maps, helperExe); err != nil {
		return fmt.Errorf("removing %s: %w", dir, err)
	}
	return nil
}

// removeOwnTree removes dir as this process's own user. Directories of
// ours that we may not enter or change (overlayfs leaves its work/work
// with mode 0) are opened up first. It fails on the first entry it
// cannot remove, leaving the rest for the user namespace.
func removeOwnTree(dir string) error {
	uid := uint32(os.Getuid())
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		var st unix.Stat_t
		if unix.Lstat(p, &st) != nil || st.Uid != uid {
			return nil
		}
		if st.Mode&0o700 != 0o700 {
			// Before WalkDir reads it.
			return os.Chmod(p, os.FileMode(st.Mode&0o777|0o700))
		}
		return nil
	})
	if err != nil {
		return err
	}
	return os.RemoveAll(dir)
}
