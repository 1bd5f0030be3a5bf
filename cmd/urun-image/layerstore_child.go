package main

// urun's own layer store (store/layerstore.go): every write to it goes
// through go.podman.io/storage here, in a user namespace with the user's
// full mapping (store/podmanstore.Call with Request.Own), so each layer
// is unpacked once with the owners the container sees, under the
// library's locks, in the layout podman reads with --root.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/opencontainers/go-digest"
	"go.podman.io/image/v5/docker/reference"
	ocilayout "go.podman.io/image/v5/oci/layout"
	istorage "go.podman.io/image/v5/storage"
	"go.podman.io/storage"
	"go.podman.io/storage/types"

	"github.com/urun-dev/urun/store/podmanstore"
	"github.com/urun-dev/urun/store/transfer"
)

func serveLayerStore(req podmanstore.Request) (*podmanstore.Reply, error) {
	if req.GraphRoot == "" || req.RunRoot == "" {
		return nil, errors.New("layer store request without its directories")
	}
	s, err := storage.GetStore(types.StoreOptions{
		GraphRoot:       req.GraphRoot,
		RunRoot:         req.RunRoot,
		GraphDriverName: "overlay",
	})
	if err != nil {
		return nil, fmt.Errorf("opening the layer store %s: %w", req.GraphRoot, err)
	}
	defer s.Shutdown(false)
	reply := &podmanstore.Reply{GraphRoot: s.GraphRoot(), Driver: "overlay"}
	switch req.Op {
	case podmanstore.OpImport:
		if req.Pull == nil {
			return nil, errors.New("import request without a source")
		}
		reply.ImageID, err = importImage(s, req.Pull.Source, req.Image, !req.Pull.Quiet)
	case podmanstore.OpForget:
		err = forget(s, req.Image, req.Live)
	case podmanstore.OpCheck:
		reply.Problems, err = check(s, req.Repair)
	default:
		err = fmt.Errorf("layer store: unknown operation %q", req.Op)
	}
	return reply, err
}

// importImage copies the OCI layout image src (oci:DIR:NAME) into s as
// name. Layers s holds already (same diff, same parent) are not unpacked
// again: image/v5 finds them by digest.
func importImage(s storage.Store, src, name string, progress bool) (string, error) {
	// image/v5's blob-info cache stays in urun's data directory.
	o := transfer.TransferOptions{BlobInfoCacheDir: filepath.Join(filepath.Dir(s.GraphRoot()), "cache")}
	dir, refName, ok := strings.Cut(strings.TrimPrefix(src, "oci:"), ":")
	if !ok {
		return "", fmt.Errorf("import source %q: want oci:DIR:NAME", src)
	}
	srcRef, err := ocilayout.NewReference(dir, refName)
	if err != nil {
		return "", err
	}
	named, err := reference.ParseNormalizedNamed(name)
	if err != nil {
		return "", err
	}
	dst, err := istorage.Transport.NewStoreReference(s, named, "")
	if err != nil {
		return "", err
	}
	if progress {
		o.Progress = os.Stderr
	}
	if _, err := transfer.CopyImage(context.Background(), dst, srcRef, o); err != nil {
		// The layers it stored before the one that failed belong to no
		// image.
		dropUnusedLayers(s)
		return "", fmt.Errorf("unpacking %s into the layer store: %w", name, err)
	}
	img, err := s.Image(reference.TagNameOnly(named).String())
	if err != nil {
		return "", fmt.Errorf("finding %s in the layer store after unpacking it: %w", name, err)
	}
	return img.ID, nil
}

// forget deletes the images with manifest digest d, and those whose
// manifest digests are none of live (the images urun's index lists and
// those its containers use: a name that moved to a newer image, a save
// and load that rewrote the manifest), then every layer no image uses.
func forget(s storage.Store, d string, live []string) error {
	imgs, err := s.Images()
	if err != nil {
		return err
	}
	isLive := func(x digest.Digest) bool { return slices.Contains(live, x.String()) }
	var errs []error
	for _, img := range imgs {
		if img.Digest.String() == d || !isLive(img.Digest) && !slices.ContainsFunc(img.Digests, isLive) {
			if _, err := s.DeleteImage(img.ID, true); err != nil && !errors.Is(err, storage.ErrImageUnknown) {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(append(errs, dropUnusedLayers(s))...)
}

// dropUnusedLayers deletes layers that no image's chain holds and no
// container uses: what an import killed half-way leaves.
func dropUnusedLayers(s storage.Store) error {
	imgs, err := s.Images()
	if err != nil {
		return err
	}
	layers, err := s.Layers()
	if err != nil {
		return err
	}
	parent := map[string]string{}
	for _, l := range layers {
		parent[l.ID] = l.Parent
	}
	used := map[string]bool{}
	for _, img := range imgs {
		for id := img.TopLayer; id != "" && !used[id]; id = parent[id] {
			used[id] = true
		}
		for _, m := range img.MappedTopLayers {
			for id := m; id != "" && !used[id]; id = parent[id] {
				used[id] = true
			}
		}
	}
	cs, err := s.Containers()
	if err != nil {
		return err
	}
	for _, c := range cs {
		for id := c.LayerID; id != "" && !used[id]; id = parent[id] {
			used[id] = true
		}
	}
	// Children before parents: a layer with children cannot go.
	depth := func(id string) int {
		n := 0
		for ; id != ""; id = parent[id] {
			n++
		}
		return n
	}
	var drop []string
	for _, l := range layers {
		if !used[l.ID] {
			drop = append(drop, l.ID)
		}
	}
	sort.Slice(drop, func(i, j int) bool { return depth(drop[i]) > depth(drop[j]) })
	var errs []error
	for _, id := range drop {
		if err := s.DeleteLayer(id); err != nil && !errors.Is(err, storage.ErrLayerUnknown) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// check runs containers/storage's own check of everything; with repair,
// its repair of what it found. Each problem is one line.
func check(s storage.Store, repair bool) ([]string, error) {
	report, err := s.Check(storage.CheckEverything())
	if err != nil {
		return nil, fmt.Errorf("checking the layer store: %w", err)
	}
	var out []string
	add := func(kind string, m map[string][]error) {
		for id, errs := range m {
			for _, e := range errs {
				out = append(out, fmt.Sprintf("%s %.12s: %v", kind, id, e))
			}
		}
	}
	add("layer", report.Layers)
	add("image", report.Images)
	add("container", report.Containers)
	sort.Strings(out)
	if repair && len(out) > 0 {
		if errs := s.Repair(report, storage.RepairEverything()); len(errs) > 0 {
			return out, fmt.Errorf("repairing the layer store: %w", errors.Join(errs...))
		}
	}
	return out, nil
}
