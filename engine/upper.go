package engine

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/urun-dev/urun/container"
	"github.com/urun-dev/urun/fuse-overlay"
	"github.com/urun-dev/urun/idmap"
	"github.com/urun-dev/urun/store"
	"github.com/urun-dev/urun/userns"
)

// A container that is kept after it exits (run -d, create, --rm=false)
// keeps its writes across stop and start, as podman's do: its writable
// layer is a directory in the data directory, not the tmpfs a foreground
// --rm run gets (cheaper, and gone with the mount namespace).

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
func persistUpper(root, id string, plan *fuseoverlay.Plan) error {
	dir, err := upperDir(id)
	if err != nil {
		return err
	}
	upper, work := filepath.Join(dir, "upper"), filepath.Join(dir, "work")
	// The container directory is private; the upper's own mode is the
	// container's / (overlayfs takes the root's attributes from it).
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating the container's writable layer: %w", err)
	}
	for d, mode := range map[string]os.FileMode{upper: 0o755, work: 0o700} {
		if err := os.Mkdir(d, mode); err != nil && !os.IsExist(err) {
			return fmt.Errorf("creating the container's writable layer: %w", err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "root"), []byte(root), 0o600); err != nil {
		return fmt.Errorf("creating the container's writable layer: %w", err)
	}
	plan.Upper, plan.Work = upper, work
	return nil
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

// removeUpper deletes container id's writable layer, if it has one. Its
// files belong to the container's ids, so the removal runs in a user
// namespace with all of the user's ids (any mapping a container had is
// inside it).
func removeUpper(id string) error {
	dir, err := upperDir(id)
	if err != nil {
		return nil // no data directory: nothing was made there
	}
	if _, err := os.Lstat(dir); os.IsNotExist(err) {
		return nil
	}
	maps, err := userns.ResolveMaps(idmap.ModeAuto, false)
	if err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding urun's own executable: %w", err)
	}
	return store.RemoveTree(dir, maps, exe)
}
