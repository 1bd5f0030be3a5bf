package store

// urun's layer store: each image layer unpacked once, by
// go.podman.io/storage's overlay driver, in its own layout under
// DATA/storage (overlay/ID/diff, overlay-layers/layers.json,
// overlay-images/images.json, their lock files, the l/ short links), so
// that an image is the stack of its layers' diff directories and podman,
// buildah and skopeo read the same directory with --root. The library
// writes it, in the helper urun-image (layerstore_child.go there), inside
// a user namespace with the user's full mapping. The warm `urun run` path
// reads it here, without linking the library (docs/STORE.md says why):
// two JSON files read under the library's own read locks.

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	digest "github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"
)

// LayerStoreDir is the layer store's graph root in data directory data.
func LayerStoreDir(data string) string { return filepath.Join(data, "storage") }

// LayerStoreUse is what a container records as its image's files
// (State.ImageRootfs) when it runs from the layer store.
func LayerStoreUse(data string, d Digest) string {
	return filepath.Join(LayerStoreDir(data), "urun-image", d.Encoded())
}

// ErrNotInLayerStore: the layer store has no complete copy of the image.
var ErrNotInLayerStore = errors.New("image not in the layer store")

// lsImage and lsLayer are the fields of containers/storage's
// images.json and layers.json entries that urun reads.
type lsImage struct {
	ID       string   `json:"id"`
	Digest   string   `json:"digest,omitempty"`
	Names    []string `json:"names,omitempty"`
	TopLayer string   `json:"layer,omitempty"`
}

type lsLayer struct {
	ID       string         `json:"id"`
	Parent   string         `json:"parent,omitempty"`
	Flags    map[string]any `json:"flags,omitempty"`
	UIDMap   []any          `json:"uidmap,omitempty"`
	GIDMap   []any          `json:"gidmap,omitempty"`
	DiffSize int64          `json:"diff-size,omitempty"`
	// The digests blobsweep.go matches a layout's blobs against.
	Compressed     digest.Digest `json:"compressed-diff-digest,omitempty"`
	CompressedSize int64         `json:"compressed-size,omitempty"`
	Uncompressed   digest.Digest `json:"diff-digest,omitempty"`
}

// LayerStack returns the diff directories of the image whose config
// digest is configID (containers/storage's image id), topmost first, as
// overlay lower directories, and their total unpacked size. It takes the
// read locks containers/storage's own readers take (fcntl, on
// images.lock and layers.lock), so a writer never shows it half a file.
func LayerStack(graph, configID string) ([]string, int64, error) {
	var images []lsImage
	if err := readLocked(filepath.Join(graph, "overlay-images"), "images.json", &images); err != nil {
		return nil, 0, err
	}
	var img *lsImage
	for i := range images {
		if images[i].ID == configID {
			img = &images[i]
			break
		}
	}
	if img == nil || img.TopLayer == "" {
		return nil, 0, ErrNotInLayerStore
	}
	var layers []lsLayer
	if err := readLocked(filepath.Join(graph, "overlay-layers"), "layers.json", &layers); err != nil {
		return nil, 0, err
	}
	byID := make(map[string]*lsLayer, len(layers))
	for i := range layers {
		byID[layers[i].ID] = &layers[i]
	}
	var dirs []string
	var size int64
	for id := img.TopLayer; id != ""; {
		l := byID[id]
		if l == nil || l.Flags["incomplete"] != nil || len(l.UIDMap) > 0 || len(l.GIDMap) > 0 {
			return nil, 0, ErrNotInLayerStore
		}
		dirs = append(dirs, filepath.Join(graph, "overlay", id, "diff"))
		size += l.DiffSize
		id = l.Parent
		if len(dirs) > len(layers) {
			return nil, 0, fmt.Errorf("layer store %s: the layers of image %.12s form a loop", graph, configID)
		}
	}
	return dirs, size, nil
}

// LayerStoreID is image/v5's id for a layer with uncompressed digest
// diffID on parent (the chain id's shape), so that a pull by podman or
// image/v5 into the same store finds the layers urun stored.
func LayerStoreID(parent string, diffID digest.Digest) string {
	if parent == "" {
		return diffID.Encoded()
	}
	return digest.Canonical.FromString(parent + "+" + diffID.Encoded()).Encoded()
}

// HasLayers reports whether the layer store at graph holds, complete, the
// stack of layers with these diff ids (base first).
func HasLayers(graph string, diffIDs []digest.Digest) bool {
	var layers []lsLayer
	if len(diffIDs) == 0 || readLocked(filepath.Join(graph, "overlay-layers"), "layers.json", &layers) != nil {
		return false
	}
	byID := make(map[string]*lsLayer, len(layers))
	for i := range layers {
		byID[layers[i].ID] = &layers[i]
	}
	parent := ""
	for _, d := range diffIDs {
		id := LayerStoreID(parent, d)
		if l := byID[id]; l == nil || l.Flags["incomplete"] != nil || l.Parent != parent {
			return false
		}
		parent = id
	}
	return true
}

// readLocked decodes dir/file under a read lock on dir/*.lock.
func readLocked(dir, file string, v any) error {
	lockName := map[string]string{"images.json": "images.lock", "layers.json": "layers.lock"}[file]
	fd, err := unix.Open(filepath.Join(dir, lockName), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOENT) {
		return ErrNotInLayerStore
	}
	if err != nil {
		return fmt.Errorf("layer store: %w", err)
	}
	defer unix.Close(fd) // closing drops the lock
	lk := unix.Flock_t{Type: unix.F_RDLCK, Whence: 0}
	if err := unix.FcntlFlock(uintptr(fd), unix.F_SETLKW, &lk); err != nil {
		return fmt.Errorf("layer store: locking %s: %w", lockName, err)
	}
	b, err := os.ReadFile(filepath.Join(dir, file))
	if errors.Is(err, os.ErrNotExist) {
		return ErrNotInLayerStore
	}
	if err != nil {
		return fmt.Errorf("layer store: %w", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("layer store: reading %s: %w", filepath.Join(dir, file), err)
	}
	return nil
}

// NameOf is a full name the store's index gives the image with manifest
// digest d (the first), for copying it into the layer store.
func (s *Store) NameOf(d Digest) (string, error) {
	index, err := s.readIndex()
	if err != nil {
		return "", err
	}
	for _, m := range index.Manifests {
		if m.Digest == d {
			return m.Annotations["org.opencontainers.image.ref.name"], nil
		}
	}
	return "", ErrNotFound
}
