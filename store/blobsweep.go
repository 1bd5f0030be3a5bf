package store

// Each layer is stored once: after a layer is complete in the layer store
// (store/layerstore.go), its compressed blob in the OCI layout
// (DATA/images/blobs) goes, as podman keeps only the unpacked layers.
// Manifests and configs stay, so image ids, digests and inspect do not
// change; push and save read the layer back from the layer store
// (containers/storage's Diff, the uncompressed tar bit for bit), the
// per-mapping trees take the same stream (rootfs_parent.go). Where the
// layer store does not hold a layer (URUN_LAYER_STORE=0, an image
// containers/storage refuses), its blob stays. docs/STORE.md, "One copy
// of each layer".

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	digest "github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"
)

// PendingDir is where the layer store's import marks a layer whose
// unpack may not be finished (cmd/urun-image/impliedparents_child.go).
func PendingDir(graph string) string { return filepath.Join(graph, "urun-pending") }

// StoredBlobs returns the layer blobs of the layout at layout (DATA/images)
// whose layer the layer store at graph holds complete: in an image's
// chain, not flagged incomplete, not marked pending, stored with the
// default mapping, and with its uncompressed digest recorded.
func StoredBlobs(graph, layout string) ([]digest.Digest, error) {
	held, err := storedLayerBlobs(graph)
	if err != nil {
		return nil, err
	}
	var out []digest.Digest
	for d := range held {
		if _, err := os.Lstat(filepath.Join(layout, "blobs", d.Algorithm().String(), d.Encoded())); err == nil {
			out = append(out, d)
		}
	}
	return out, nil
}

// StoredLayerBlob says whether the layer store at graph holds, complete,
// a layer whose compressed blob was d, and that blob's size: a pull
// need not download it again (store/transfer's copy counts it as
// present).
func StoredLayerBlob(graph string, d digest.Digest) (int64, bool) {
	held, err := storedLayerBlobs(graph)
	if err != nil {
		return 0, false
	}
	size, ok := held[d]
	return size, ok
}

// storedLayerBlobs maps the compressed digest of each complete layer of
// the layer store at graph (as StoredBlobs counts them) to its size.
func storedLayerBlobs(graph string) (map[digest.Digest]int64, error) {
	var images []lsImage
	if err := readLocked(filepath.Join(graph, "overlay-images"), "images.json", &images); err != nil {
		if errors.Is(err, ErrNotInLayerStore) {
			return nil, nil
		}
		return nil, err
	}
	var layers []lsLayer
	if err := readLocked(filepath.Join(graph, "overlay-layers"), "layers.json", &layers); err != nil {
		if errors.Is(err, ErrNotInLayerStore) {
			return nil, nil
		}
		return nil, err
	}
	byID := make(map[string]*lsLayer, len(layers))
	for i := range layers {
		byID[layers[i].ID] = &layers[i]
	}
	used := map[string]bool{}
	for _, img := range images {
		for id, n := img.TopLayer, 0; id != "" && !used[id] && n <= len(layers); n++ {
			used[id] = true
			if l := byID[id]; l != nil {
				id = l.Parent
			} else {
				id = ""
			}
		}
	}
	out := map[digest.Digest]int64{}
	for _, l := range layers {
		if !used[l.ID] || l.Flags["incomplete"] != nil || len(l.UIDMap) > 0 || len(l.GIDMap) > 0 ||
			l.Compressed == "" || l.Uncompressed == "" || l.Compressed.Validate() != nil {
			continue
		}
		if _, err := os.Lstat(filepath.Join(PendingDir(graph), l.ID)); err == nil {
			continue
		}
		out[l.Compressed] = l.CompressedSize
	}
	return out, nil
}

// DropStoredBlobs deletes the layer blobs of data's OCI layout whose
// layers the layer store holds complete (StoredBlobs), after syncing the
// layer store's filesystem, so that a crash never leaves a layer that is
// in neither place. A kill between the sync and the last removal leaves
// blobs, which the next call removes. It returns how many it removed.
// With URUN_LAYER_STORE=0 it removes nothing. No lock is taken: a reader that finds a layer blob gone reads the layer
// from the layer store instead (LayerDiffs).
func DropStoredBlobs(data string) (int, error) {
	if os.Getenv("URUN_LAYER_STORE") == "0" {
		// The layer store is off: blobs stay, as before it.
		return 0, nil
	}
	graph, layout := LayerStoreDir(data), filepath.Join(data, "images")
	ds, err := StoredBlobs(graph, layout)
	if err != nil || len(ds) == 0 {
		return 0, err
	}
	// containers/storage syncs layers.json, not every file it unpacked.
	fd, err := unix.Open(graph, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, fmt.Errorf("layer store: %w", err)
	}
	err = unix.Syncfs(fd)
	unix.Close(fd)
	if err != nil {
		return 0, fmt.Errorf("layer store: syncing %s: %w", graph, err)
	}
	n := 0
	var errs []error
	for _, d := range ds {
		err := os.Remove(filepath.Join(layout, "blobs", d.Algorithm().String(), d.Encoded()))
		if err == nil {
			n++
		} else if !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return n, errors.Join(errs...)
}

// BlobMissing reports whether layer l's blob is absent from its layout
// (dropped once its layer was in the layer store).
func (l Layer) BlobMissing() bool {
	if l.Layout == "" {
		return false
	}
	p, err := blobPath(l.Layout, l.Digest)
	if err != nil {
		return false
	}
	_, err = os.Lstat(p)
	return errors.Is(err, os.ErrNotExist)
}
