package engine

// `urun system df`: what urun's images and containers take on disk, in
// docker's and podman's terms (total, active, size, reclaimable), with
// podman's shared and unique sizes per image (`system df -v`).

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/urun-dev/urun/store"
)

// ImageDisk is one name of an image in urun's store.
type ImageDisk struct {
	Name    string
	ID      string
	Digest  store.Digest
	Created string
	// Size is the image unpacked: its layers in the layer store
	// (containers/storage's diff sizes, as podman counts), plus any tree
	// of its own under rootfs/ (another id mapping, an image the layer
	// store cannot hold); the compressed blobs when it has neither.
	Size, Shared, Unique int64
	Containers           int
}

// ContainerDisk is one container's writable layer.
type ContainerDisk struct {
	ID, Name, Image, Status string
	Command                 []string
	Created                 time.Time
	Running                 bool
	Size                    int64
}

// Usage is the data directory's disk use.
type Usage struct {
	Images []ImageDisk
	// ImagesTotal and ImagesActive count images (by digest);
	// ImagesSize is every layer and tree once; ImagesReclaimable what
	// removing the images no container uses would free.
	ImagesTotal, ImagesActive             int
	ImagesSize, ImagesReclaimable         int64
	Containers                            []ContainerDisk
	ContainersSize, ContainersReclaimable int64
}

// DiskUsage measures data's images and the containers of root that use it.
func DiskUsage(root, data string) (*Usage, error) {
	s, err := store.OpenStore(data)
	if err != nil {
		return nil, err
	}
	entries, err := s.List()
	if err != nil {
		return nil, err
	}
	lu, err := store.ReadLayerUse(store.LayerStoreDir(data))
	if err != nil {
		return nil, err
	}
	states, err := List(root)
	if err != nil {
		return nil, err
	}
	u := &Usage{}
	users := map[string]int{}
	prefix := filepath.Clean(data) + string(filepath.Separator)
	for _, st := range states {
		// Only this data directory's containers: the state root is the
		// user's, shared by every --data-dir.
		_, err := os.Lstat(filepath.Join(data, "containers", st.ID))
		if !strings.HasPrefix(st.ImageRootfs, prefix) && err != nil {
			continue
		}
		if st.ImageDigest != "" && strings.HasPrefix(st.ImageRootfs, prefix) {
			users[st.ImageDigest]++
		}
		c := ContainerDisk{ID: st.ID, Name: st.Name, Image: st.Image, Status: string(st.Status), Command: st.Command,
			Created: st.Created, Running: st.Status == "running"}
		if c.Name == "" {
			c.Name = st.ID
		}
		c.Size = store.TreeSize(filepath.Join(data, "containers", st.ID, "upper"))
		u.ContainersSize += c.Size
		if !c.Running {
			u.ContainersReclaimable += c.Size
		}
		u.Containers = append(u.Containers, c)
	}
	// One config digest (the layer store's image id) per image.
	config := map[store.Digest]string{}
	var all, active []string
	for _, e := range entries {
		if _, ok := config[e.Digest]; ok {
			continue
		}
		id := ""
		if img, err := s.OpenEntry(e); err == nil {
			id = img.Manifest.Config.Digest.Encoded()
		}
		config[e.Digest] = id
		all = append(all, id)
		if users[e.Digest.String()] > 0 {
			active = append(active, id)
		}
	}
	u.ImagesTotal, u.ImagesActive = len(config), len(active)
	u.ImagesSize, u.ImagesReclaimable = lu.Total(), lu.Unused(active)
	// The trees of its own an image has, or, for an image neither in
	// the layer store nor unpacked, its compressed blobs.
	own := map[store.Digest]int64{}
	for _, e := range entries {
		if _, done := own[e.Digest]; done {
			continue
		}
		own[e.Digest] = store.RootfsTrees(data, e.Digest)
		if _, ok := lu.Chains[config[e.Digest]]; !ok && own[e.Digest] == 0 {
			own[e.Digest] = e.Size
		}
		u.ImagesSize += own[e.Digest]
		if users[e.Digest.String()] == 0 {
			u.ImagesReclaimable += own[e.Digest]
		}
	}
	for _, e := range entries {
		id := config[e.Digest]
		iu := ImageDisk{Name: e.Name, ID: e.ID, Digest: e.Digest, Created: e.Created, Containers: users[e.Digest.String()]}
		if _, ok := lu.Chains[id]; ok {
			iu.Size, iu.Shared = lu.ImageSize(id, all)
		}
		iu.Size += own[e.Digest]
		iu.Unique = iu.Size - iu.Shared
		u.Images = append(u.Images, iu)
	}
	sort.SliceStable(u.Images, func(i, j int) bool { return u.Images[i].Name < u.Images[j].Name })
	return u, nil
}

// UnpackedSizes sets each entry's Size to its image's unpacked size, as
// docker and podman show it in `images`: its layers in the layer store
// (their diff sizes, as system df counts them), or its tree of its own
// under rootfs/; an image in neither keeps the size of its compressed
// blobs.
func UnpackedSizes(s *store.Store, list []store.Entry) {
	data := filepath.Dir(s.Dir)
	lu, err := store.ReadLayerUse(store.LayerStoreDir(data))
	if err != nil {
		return
	}
	for i, e := range list {
		img, err := s.OpenEntry(e)
		if err != nil {
			continue
		}
		if _, ok := lu.Chains[img.Manifest.Config.Digest.Encoded()]; ok {
			list[i].Size, _ = lu.ImageSize(img.Manifest.Config.Digest.Encoded(), nil)
		} else if n := store.RootfsTrees(data, e.Digest); n > 0 {
			list[i].Size = n
		}
	}
}
