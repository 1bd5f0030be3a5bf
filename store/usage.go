package store

// Disk use of the layer store, for `urun system df`: each image's layers
// and their unpacked sizes, read from containers/storage's JSON under its
// read locks as LayerStack reads them, and the shared and unique parts
// podman's `system df -v` shows.

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// LayerUse is the layer store's view of its images: each image's chain of
// layer ids (config digest → layers, topmost first) and each layer's
// unpacked size (containers/storage's diff-size, the size podman counts).
type LayerUse struct {
	Chains map[string][]string
	Sizes  map[string]int64
}

// ReadLayerUse reads the layer store at graph. An empty or missing store
// is an empty LayerUse.
func ReadLayerUse(graph string) (*LayerUse, error) {
	u := &LayerUse{Chains: map[string][]string{}, Sizes: map[string]int64{}}
	var images []lsImage
	if err := readLocked(filepath.Join(graph, "overlay-images"), "images.json", &images); err != nil {
		if errors.Is(err, ErrNotInLayerStore) {
			return u, nil
		}
		return nil, err
	}
	var layers []lsLayer
	if err := readLocked(filepath.Join(graph, "overlay-layers"), "layers.json", &layers); err != nil && !errors.Is(err, ErrNotInLayerStore) {
		return nil, err
	}
	parent := make(map[string]string, len(layers))
	for _, l := range layers {
		parent[l.ID] = l.Parent
		u.Sizes[l.ID] = l.DiffSize
	}
	for _, img := range images {
		var chain []string
		for id := img.TopLayer; id != "" && len(chain) <= len(layers); id = parent[id] {
			chain = append(chain, id)
		}
		u.Chains[img.ID] = chain
	}
	return u, nil
}

// Total is the size of every layer, each counted once.
func (u *LayerUse) Total() int64 {
	var n int64
	for _, s := range u.Sizes {
		n += s
	}
	return n
}

// ImageSize is image id's unpacked size and the part of it in layers that
// another image of others (config digests) also uses.
func (u *LayerUse) ImageSize(id string, others []string) (size, shared int64) {
	in := map[string]bool{}
	for _, o := range others {
		if o == id {
			continue
		}
		for _, l := range u.Chains[o] {
			in[l] = true
		}
	}
	for _, l := range u.Chains[id] {
		size += u.Sizes[l]
		if in[l] {
			shared += u.Sizes[l]
		}
	}
	return size, shared
}

// Unused is the size of the layers that no image of used (config
// digests) holds: what removing the other images frees.
func (u *LayerUse) Unused(used []string) int64 {
	keep := map[string]bool{}
	for _, id := range used {
		for _, l := range u.Chains[id] {
			keep[l] = true
		}
	}
	var n int64
	for l, s := range u.Sizes {
		if !keep[l] {
			n += s
		}
	}
	return n
}

// TreeSize is the disk space of the files under dir (blocks, each inode
// once), counting what the caller may read: a directory of a subordinate
// id that is closed to the user is counted as its own entry only.
func TreeSize(dir string) int64 {
	var n int64
	seen := map[uint64]bool{}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil && d == nil {
			return nil
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return nil
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return nil
		}
		if st.Nlink > 1 && !fi.IsDir() {
			if seen[st.Ino] {
				return nil
			}
			seen[st.Ino] = true
		}
		n += st.Blocks * 512
		return nil
	})
	return n
}

// RootfsTrees is the size of image d's unpacked trees under data/rootfs
// (one per id mapping: keep-id runs, images the layer store cannot hold).
func RootfsTrees(data string, d Digest) int64 {
	ents, err := os.ReadDir(filepath.Join(data, "rootfs"))
	if err != nil {
		return 0
	}
	var n int64
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), d.Encoded()) {
			n += TreeSize(filepath.Join(data, "rootfs", e.Name()))
		}
	}
	return n
}
