package engine

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/urun-dev/urun/container"
	"github.com/urun-dev/urun/fuse-overlay"
)

// Every container's writable layer is a directory in the data directory
// (containers/ID), on disk as podman's are: a kept container (run -d,
// create, --rm=false) keeps its writes across stop and start, and a --rm
// one removes it at exit. A tmpfs (in the container's mount namespace,
// gone with it) is only for a --rm container that asks with
// --writable-layer=tmpfs: every byte the container writes stays in RAM
// until it exits, and a build inside a CI container can exhaust memory.
// A layer whose --rm container's urun was killed is removed by the next
// urun command (sweep.go).

// minUpperFree is the free space below which a container is refused a
// writable layer on disk: the container would fail on its first larger
// write, with an error that does not say where the space went.
const minUpperFree = 64 << 20

// autoRemoveMark in a writable layer's directory marks a --rm
// container's layer, which the sweep removes when its container is gone.
const autoRemoveMark = "autoremove"

// upperDir is where container id's writable layer lives.
func upperDir(id string) (string, error) {
	data, err := DataDirPath()
	if err != nil {
		return "", err
	}
	return filepath.Join(data, "containers", id), nil
}

// persistUpper points plan's upper and work directories at the
// container's directory, creating them on its first start. The file
// "root" there names the state root the container is registered in, so
// that `container prune` can tell a layer whose container is gone (after
// a reboot emptied the runtime directory) from another root's.
// autoRemove marks the layer of a --rm container.
func persistUpper(root, id string, autoRemove bool, plan *fuseoverlay.Plan) (err error) {
	dir, err := upperDir(id)
	if err != nil {
		return err
	}
	data := filepath.Dir(filepath.Dir(dir))
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return upperError(data, err)
	}
	var fs unix.Statfs_t
	if unix.Statfs(filepath.Dir(dir), &fs) == nil && fs.Bavail*uint64(fs.Bsize) < minUpperFree {
		return &noSpaceError{data: data, free: fs.Bavail * uint64(fs.Bsize)}
	}
	upper, work := filepath.Join(dir, "upper"), filepath.Join(dir, "work")
	// The container directory is private; the upper's own mode is the
	// container's / (overlayfs takes the root's attributes from it).
	_, statErr := os.Lstat(dir)
	fresh := os.IsNotExist(statErr)
	defer func() {
		if err != nil && fresh {
			os.RemoveAll(dir) // nothing half-made is left
		}
	}()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return upperError(data, err)
	}
	for d, mode := range map[string]os.FileMode{upper: 0o755, work: 0o700} {
		if err := os.Mkdir(d, mode); err != nil && !os.IsExist(err) {
			return upperError(data, err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "root"), []byte(root), 0o600); err != nil {
		return upperError(data, err)
	}
	if autoRemove {
		if err := os.WriteFile(filepath.Join(dir, autoRemoveMark), nil, 0o600); err != nil {
			return upperError(data, err)
		}
	}
	plan.Upper, plan.Work = upper, work
	// A --rm container's layer is removed at its exit: nothing in it
	// needs to reach the disk, and its unmount need not sync the disk.
	plan.Volatile = autoRemove
	return nil
}

// upperError is a failure to make the writable layer; a full disk gets
// the one line that says where and what to do.
func upperError(data string, err error) error {
	if errors.Is(err, unix.ENOSPC) || errors.Is(err, unix.EDQUOT) {
		return &noSpaceError{data: data}
	}
	return fmt.Errorf("creating the container's writable layer: %w", err)
}

// noSpaceError: the data directory's filesystem is (nearly) full.
type noSpaceError struct {
	data string
	free uint64 // bytes, when known
}

func (e *noSpaceError) Error() string {
	free := "no space left"
	if e.free > 0 {
		free = fmt.Sprintf("%d MiB free, at least %d MiB needed", e.free>>20, minUpperFree>>20)
	}
	return fmt.Sprintf("too little disk space for the container's writable layer in the data directory %s (%s): free space there, or use a filesystem with room with --data-dir DIR (or %s=DIR), or keep this --rm container's writes in memory with --writable-layer=tmpfs", e.data, free, DataDirEnv)
}

// PruneOrphanUppers removes the writable layers of containers that are
// registered in root no more (the runtime directory does not survive a
// reboot) and returns their ids.
func PruneOrphanUppers(root string) ([]string, error) {
	data, err := DataDirPath()
	if err != nil {
		return nil, nil
	}
	entries, err := os.ReadDir(filepath.Join(data, "containers"))
	if err != nil {
		return nil, nil
	}
	var removed []string
	for _, e := range entries {
		id := e.Name()
		if container.ValidID(id) != nil {
			continue
		}
		owner, err := os.ReadFile(filepath.Join(data, "containers", id, "root"))
		if err != nil || string(owner) != root {
			continue
		}
		if _, err := os.Lstat(container.Dir(root, id)); !os.IsNotExist(err) {
			continue
		}
		if err := removeUpper(id); err != nil {
			return removed, err
		}
		removed = append(removed, id)
	}
	return removed, nil
}

// removeUpper deletes container id's writable layer, if it has one
// (RemoveIDsTree: in a user namespace where this user cannot).
func removeUpper(id string) error {
	dir, err := upperDir(id)
	if err != nil {
		return nil // no data directory: nothing was made there
	}
	if _, err := os.Lstat(dir); os.IsNotExist(err) {
		return nil
	}
	if !hasLayer(dir) {
		// Only the record (a detached --rm container's): nothing of
		// the container's ids to remove.
		return os.RemoveAll(dir)
	}
	return RemoveIDsTree(dir)
}

// hasLayer: dir holds a writable layer (upper, work), not only a record.
func hasLayer(dir string) bool {
	for _, d := range []string{"upper", "work"} {
		if _, err := os.Lstat(filepath.Join(dir, d)); err == nil {
			return true
		}
	}
	return false
}
