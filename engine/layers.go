package engine

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	digest "github.com/opencontainers/go-digest"

	"github.com/urun-dev/urun/container"
	"github.com/urun-dev/urun/hostcheck"
	"github.com/urun-dev/urun/idmap"
	"github.com/urun-dev/urun/store"
	"github.com/urun-dev/urun/store/podmanstore"
	"github.com/urun-dev/urun/userns"
)

// The layer store (store/layerstore.go, docs/STORE.md): each layer of an
// image in urun's store unpacked once, by go.podman.io/storage in
// urun-image, into DATA/storage; a container's lower directories are the
// image's layers' diff directories. Its files carry the ids of the
// default mapping (container 0 → you, 1… → your subordinate ids), the
// one podman uses; another mapping (keep-id, the single-id fallback)
// uses the per-mapping unpacked tree (store.RootfsWith) instead.

// LayerStoreMaps: the layer store holds files for this mapping.
func LayerStoreMaps(maps userns.Maps) bool { return podmanstore.CheckMaps(maps) == nil }

// layerRequest fills in where urun's layer store is. Its run root
// (containers/storage's lock and mount bookkeeping; urun never mounts
// through the library) is beside it in the data directory, not in the
// state root, which holds containers only.
func layerRequest(data string, req podmanstore.Request) (podmanstore.Request, error) {
	req.Own, req.GraphRoot, req.RunRoot = true, store.LayerStoreDir(data), store.LayerStoreDir(data)+"-run"
	return req, nil
}

// CallLayerStore runs one layer store operation in urun-image, in a user
// namespace with maps.
func CallLayerStore(data string, maps userns.Maps, req podmanstore.Request) (*podmanstore.Reply, error) {
	helper, err := ImageHelper()
	if err != nil {
		return nil, err
	}
	if req, err = layerRequest(data, req); err != nil {
		return nil, err
	}
	return podmanstore.Call(helper, maps, req)
}

// importLayers copies the image with manifest digest d from the OCI
// layout into the layer store, unpacking the layers it lacks.
// An image containers/storage refused once (a hard link to a file of a
// lower layer, which the OCI format allows and its overlay driver does
// not apply) is marked, and not tried again.
func importLayers(s *store.Store, data string, d store.Digest, maps userns.Maps, quiet bool) error {
	mark := unstorableMark(data, d)
	if b, err := os.ReadFile(mark); err == nil {
		return errors.New(string(b))
	}
	name, err := s.NameOf(d)
	if err != nil {
		return err
	}
	_, err = CallLayerStore(data, maps, podmanstore.Request{Op: podmanstore.OpImport, Image: name,
		Pull: &podmanstore.PullRequest{Source: "oci:" + s.Dir + ":" + name, Quiet: quiet}})
	if err != nil && os.MkdirAll(filepath.Dir(mark), 0o700) == nil {
		os.WriteFile(mark, []byte(err.Error()), 0o600)
	}
	return err
}

// LayerDiffs is store.RootfsOptions.LayerDiffs for the layer store of
// data: one layer store helper (with the store's own mapping, the
// default one, whatever the run's is) writes each layer's tar into its
// pipe, found by diff id (podmanstore.OpDiff).
func LayerDiffs(data string) func([]digest.Digest, []*os.File) error {
	return func(diffIDs []digest.Digest, w []*os.File) error {
		maps, err := userns.ResolveMaps(idmap.ModeAuto, false)
		if err == nil && !LayerStoreMaps(maps) {
			err = errors.New("the layer store needs your subordinate ids (the mapping its files were stored with): see 'urun doctor'")
		}
		helper, herr := ImageHelper()
		req, rerr := layerRequest(data, podmanstore.Request{Op: podmanstore.OpDiff})
		if err = errors.Join(err, herr, rerr); err != nil {
			for _, f := range w {
				f.Close()
			}
			return err
		}
		for _, d := range diffIDs {
			req.Layers = append(req.Layers, podmanstore.PlannedLayer{DiffID: d.String()})
		}
		_, err = podmanstore.CallFiles(helper, maps, req, w)
		return err
	}
}

// DropStoredBlobs removes the layer blobs of data's OCI layout whose
// layers the layer store holds (store.DropStoredBlobs); a failure is
// noted, never the command's: a blob left is harmless and the next
// write command removes it.
func DropStoredBlobs(data string, debug bool) {
	n, err := store.DropStoredBlobs(data)
	if debug && (n > 0 || err != nil) {
		fmt.Fprintf(os.Stderr, "urun: layer store: removed %d layer blobs it holds unpacked (err: %v)\n", n, err)
	}
}

// unstorableMark is where importLayers notes that image d failed.
func unstorableMark(data string, d store.Digest) string {
	return filepath.Join(store.LayerStoreDir(data), "urun-unstorable", d.Encoded())
}

// ImageLayers returns img's layer directories in the layer store,
// topmost first, importing it there on its first use (an image pulled
// before the layer store existed, or by a pull whose import failed). ok
// is false where the layer store cannot serve this run: another mapping,
// or an image containers/storage cannot store (the caller then unpacks a
// tree of its own, as before the layer store).
func ImageLayers(s *store.Store, img *store.Image, data string, maps userns.Maps, debug bool) (dirs []string, ok bool) {
	if os.Getenv("URUN_LAYER_STORE") == "0" {
		return nil, false
	}
	if !LayerStoreMaps(maps) {
		if debug {
			fmt.Fprintf(os.Stderr, "urun: layer store: its files carry the default mapping's ids, not this run's; %s\n", idmapLowerAnswer(data))
		}
		return nil, false
	}
	t0 := time.Now()
	graph := store.LayerStoreDir(data)
	id := img.Manifest.Config.Digest.Encoded()
	dirs, _, err := store.LayerStack(graph, id)
	if errors.Is(err, store.ErrNotInLayerStore) {
		if err = importLayers(s, data, img.Digest, maps, true); err == nil {
			dirs, _, err = store.LayerStack(graph, id)
			DropStoredBlobs(data, debug)
		}
	}
	if err != nil {
		if debug {
			fmt.Fprintf(os.Stderr, "urun: layer store: %v; unpacking a tree of its own\n", err)
		}
		return nil, false
	}
	if debug {
		fmt.Fprintf(os.Stderr, "urun: layer store %.2f ms, %d layers\n", float64(time.Since(t0).Microseconds())/1000, len(dirs))
	}
	return dirs, true
}

// idmapLowerAnswer is the idmapped-lower-layer probe's answer for data
// (hostcheck/idmaplower_parent.go), recorded by doctor or info, or probed
// now and recorded. Only a yes would let this run share the layer
// store's files; no kernel urun is tested on gives an ordinary user one
// (docs/STORE.md), so the run unpacks its own tree either way.
func idmapLowerAnswer(data string) string {
	exe, err := os.Executable()
	if err != nil {
		return "idmapped lower layers not probed: " + err.Error()
	}
	p, cached := hostcheck.IdmapLower(exe, data)
	how := "probed now, recorded in "
	if cached {
		how = "recorded in "
	}
	return hostcheck.IdmapLowerWhy(p) + " (" + how + filepath.Join(data, hostcheck.IdmapLowerCacheFile) + ")"
}

// ForgetLayers removes the image with manifest digest d from the layer
// store, and the images neither urun's index nor a container of root
// refers to, with the layers no other image uses.
func ForgetLayers(root, data string, d store.Digest, maps userns.Maps) error {
	if _, err := os.Stat(store.LayerStoreDir(data)); err != nil {
		return nil
	}
	os.Remove(unstorableMark(data, d))
	s, err := store.OpenStore(data)
	if err != nil {
		return err
	}
	entries, err := s.List()
	if err != nil {
		return err
	}
	var live []string
	for _, e := range entries {
		if e.Digest != d {
			live = append(live, e.Digest.String())
		}
	}
	ids, err := container.List(root)
	if err != nil {
		return err
	}
	for _, id := range ids {
		// Only this data directory's containers: the state root is the
		// user's, shared by every --data-dir, and a container of another
		// store's image with the same digest would keep this store's copy.
		if st, err := container.Load(root, id); err == nil && st.ImageDigest != "" && st.ImageDigest != d.String() &&
			strings.HasPrefix(st.ImageRootfs, filepath.Clean(data)+string(filepath.Separator)) {
			live = append(live, st.ImageDigest)
		}
	}
	_, err = CallLayerStore(data, maps, podmanstore.Request{Op: podmanstore.OpForget, Image: d.String(), Live: live})
	// A store pulled by an older urun kept every layer blob: rmi, as
	// every write, removes the ones the layer store holds.
	DropStoredBlobs(data, false)
	return err
}

// UnpackAtPull unpacks a pulled or loaded image into the layer store, as
// podman pull does, so that its first run starts as fast as the next. A
// failure is not the pull's: the first run unpacks the image then (or a
// tree of its own when containers/storage cannot store it).
//
// urun-image pull and load unpack each layer as its blob arrives and
// record the image (cmd/urun-image/overlap_parent.go); this finds it
// done then, and is the fallback where that did not complete.
func UnpackAtPull(s *store.Store, img *store.Image, quiet, debug bool) {
	defer img.Release()
	data := filepath.Dir(s.Dir)
	maps, err := userns.ResolveMaps(idmap.ModeAuto, false)
	if err != nil || !LayerStoreMaps(maps) || os.Getenv("URUN_LAYER_STORE") == "0" {
		return
	}
	// Once its layers are stored, the image's layer blobs go (and the
	// ones an older urun or a kill left).
	defer DropStoredBlobs(data, debug)
	if dirs, _, err := store.LayerStack(store.LayerStoreDir(data), img.Manifest.Config.Digest.Encoded()); err == nil {
		if debug {
			fmt.Fprintf(os.Stderr, "urun: layer store: the image's %d layers are stored (unpacked while it was copied, or by an earlier pull)\n", len(dirs))
		}
		return
	}
	if debug {
		fmt.Fprintln(os.Stderr, "urun: layer store: unpacking the image after the copy")
	}
	if err := importLayers(s, data, img.Digest, maps, true); err != nil && !quiet {
		fmt.Fprintf(os.Stderr, "urun: note: %v; the first run unpacks the image instead\n", err)
	}
}
