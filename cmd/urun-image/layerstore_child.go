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
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/image/v5/manifest"
	istorage "go.podman.io/image/v5/storage"
	"go.podman.io/storage"
	"go.podman.io/storage/pkg/archive"
	"go.podman.io/storage/types"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/urun-dev/urun/store"
	"github.com/urun-dev/urun/store/podmanstore"
	"github.com/urun-dev/urun/store/transfer"
)

func serveLayerStore(req podmanstore.Request) (*podmanstore.Reply, error) {
	if req.GraphRoot == "" || req.RunRoot == "" {
		return nil, errors.New("layer store request without its directories")
	}
	sweepCompat(req.GraphRoot)
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
		reply.ImageID, err = importImage(s, req.Pull.Source, req.Image)
	case podmanstore.OpImportLayers:
		reply.ImageID, err = importPlanned(s, req)
	case podmanstore.OpForget:
		err = forget(s, req.Image, req.Live)
	case podmanstore.OpCommit:
		reply.ImageID, reply.Digest, err = commitImage(s, req.Commit, req.Image)
	case podmanstore.OpCheck:
		reply.Problems, err = check(s, req.Repair)
	case podmanstore.OpDiff:
		err = writeDiffs(s, req.Layers)
	case podmanstore.OpSave, podmanstore.OpPush:
		reply.Digest, err = transferOut(s, req.Op, req.Transfer)
	default:
		err = fmt.Errorf("layer store: unknown operation %q", req.Op)
	}
	return reply, err
}

// importImage copies the OCI layout image src (oci:DIR:NAME) into s as
// name. Each layer blob is read once, straight into the overlay driver
// (containers/storage's PutLayer, which decompresses and unpacks it in
// one pass), with the layer and image records image/v5's
// containers-storage transport writes (the same layer ids, compressed and
// uncompressed digests, the manifest and config as the image's big data),
// so podman, skopeo and image/v5 read and reuse them. Going through
// image/v5's copy instead first copied every blob to a temporary file and
// decompressed it twice (docs/STORE.md has the measurements). Layers s
// holds already (same diff on the same parent) are not unpacked again.
func importImage(s storage.Store, src, name string) (string, error) {
	dir, refName, ok := strings.Cut(strings.TrimPrefix(src, "oci:"), ":")
	if !ok {
		return "", fmt.Errorf("import source %q: want oci:DIR:NAME", src)
	}
	named, err := reference.ParseNormalizedNamed(name)
	if err != nil {
		return "", err
	}
	tagged := reference.TagNameOnly(named).String()
	img, err := store.OpenOCILayout(src, dir, refName)
	if err != nil {
		return "", err
	}
	id, err := importLayers(s, img, nil)
	if err != nil {
		// The layers it stored before the one that failed belong to no
		// image.
		dropUnusedLayers(s)
		return "", fmt.Errorf("unpacking %s into the layer store: %w", name, err)
	}
	if err := createImage(s, dir, refName, img, id, tagged); err != nil {
		dropUnusedLayers(s)
		return "", fmt.Errorf("recording %s in the layer store: %w", name, err)
	}
	return img.Manifest.Config.Digest.Encoded(), nil
}

// importLayers stores img's layers, base first, and returns the top one.
// wait, when set, is called before a layer's blob is opened (a pull may
// still be bringing it).
func importLayers(s storage.Store, img *store.Image, wait func(store.Layer) error) (string, error) {
	diffIDs := img.Config.RootFS.DiffIDs
	if len(diffIDs) != len(img.Layers) {
		return "", fmt.Errorf("the image's config lists %d layers, its manifest %d: the image is corrupt, pull it again", len(diffIDs), len(img.Layers))
	}
	parent := ""
	for i, l := range img.Layers {
		id := store.LayerStoreID(parent, diffIDs[i])
		if have, err := s.Layer(id); err == nil {
			if have.UncompressedDigest == diffIDs[i] && have.Flags["incomplete"] == nil {
				if _, err := os.Stat(pendingMark(s, id)); err == nil {
					// Left by a kill before its fix: impliedparents_child.go.
					if err := fixImpliedParents(s, id, parent); err != nil {
						return "", err
					}
					os.Remove(pendingMark(s, id))
				}
				parent = id
				continue
			}
			// Left half-made by a killed import (putLayerWithLowerLinks
			// creates the layer before it fills it).
			s.DeleteLayer(id)
		}
		if wait != nil {
			if err := wait(l); err != nil {
				return "", err
			}
		}
		// A pull's layer (wait is set) was checked as it arrived.
		b, err := openLayer(s, l, diffIDs[i], wait != nil)
		if err != nil {
			return "", err
		}
		if err := markPending(s, id); err != nil {
			b.Close()
			return "", err
		}
		size := l.Size
		layer, _, err := s.PutLayer(id, parent, nil, "", false, &storage.LayerOptions{
			// Checked by the blob's reader as it streams (LayerBlob).
			OriginalDigest: l.Digest,
			OriginalSize:   &size,
		}, b)
		if err == nil {
			err = b.Finish()
		}
		b.Close()
		if errors.Is(err, storage.ErrDuplicateID) {
			// Another import stored it meanwhile.
			parent = id
			continue
		}
		if err == nil && layer.UncompressedDigest != diffIDs[i] {
			err = fmt.Errorf("layer %s unpacks to %s, the image's config says %s: the image is corrupt, pull it again", l.Digest, layer.UncompressedDigest, diffIDs[i])
		}
		if err == nil {
			// impliedparents_child.go
			err = fixImpliedParents(s, id, parent)
		}
		if err == nil || layer == nil {
			os.Remove(pendingMark(s, id))
		}
		if err != nil && layer == nil && !errors.Is(err, storage.ErrDuplicateID) {
			// A hard link to a lower layer's file, which PutLayer
			// cannot apply: lowerlinks_child.go.
			if lerr := putLayerWithLowerLinks(s, id, parent, l, diffIDs[i]); !errors.Is(lerr, errNoLowerLinks) {
				err = lerr
			}
		}
		if err != nil {
			if layer != nil {
				s.DeleteLayer(id)
				os.Remove(pendingMark(s, id))
			}
			return "", err
		}
		parent = id
	}
	return parent, nil
}

// importPlanned is OpImportLayers: the layers of an image a pull is
// downloading, each unpacked as soon as its blob has been renamed into
// the layout's blobs/ (image/v5's OCI layout destination writes a blob to
// a temporary file, checks it, syncs it and renames it into place), so
// that unpacking overlaps the download instead of following it
// (docs/STORE.md). The wait ends, with an error, when the pull's tmp
// directory is gone (the pull ended without the blob) or the caller
// died; the layers stored by then stay for urun's OpImport after the
// pull, or go with the next drop of unused layers. Once the pull has
// named the image (podmanstore.ImportNameFile), it is recorded as
// OpImport records it, and the pull's own OpImport finds it done.
func importPlanned(s storage.Store, req podmanstore.Request) (string, error) {
	if req.Layout == "" || req.WaitFor == "" || len(req.Layers) == 0 {
		return "", errors.New("import-layers request without its layers, layout or directory to wait on")
	}
	img := &store.Image{}
	for _, l := range req.Layers {
		d, err := digest.Parse(l.Digest)
		if err != nil {
			return "", fmt.Errorf("import-layers: layer digest %q: %w", l.Digest, err)
		}
		diffID, err := digest.Parse(l.DiffID)
		if err != nil {
			return "", fmt.Errorf("import-layers: diff id %q: %w", l.DiffID, err)
		}
		img.Layers = append(img.Layers, store.Layer{Layout: req.Layout, Digest: d, Size: l.Size})
		img.Config.RootFS.DiffIDs = append(img.Config.RootFS.DiffIDs, diffID)
	}
	parent := os.Getppid()
	flush := startWriteback(s.GraphRoot())
	defer flush.stop()
	wait := func(l store.Layer) error {
		// The layer before this one is stored: its files start for the
		// disk while this one unpacks.
		flush.kick()
		p := filepath.Join(req.Layout, "blobs", l.Digest.Algorithm().String(), l.Digest.Encoded())
		for {
			if _, err := os.Lstat(p); err == nil {
				return nil
			}
			if _, err := os.Lstat(filepath.Join(req.WaitFor, podmanstore.ImportNameFile)); err == nil {
				// The copy is done without the blob: the layer store
				// held it (on another parent), and openLayer reads the
				// layer store's copy.
				return nil
			}
			if _, err := os.Stat(req.WaitFor); err != nil {
				return fmt.Errorf("the pull ended before layer %s arrived", l.Digest)
			}
			if os.Getppid() != parent {
				return errors.New("the pull that asked for the import is gone")
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	if _, err := importLayers(s, img, wait); err != nil {
		// Nothing half-made stays: a failed pull leaves no layer, and
		// urun's OpImport after a pull that succeeded stores them again
		// (and marks an image containers/storage cannot hold).
		dropUnusedLayers(s)
		return "", err
	}
	// The pull names the image once its copy is done, or removes
	// WaitFor without naming it.
	for {
		b, err := os.ReadFile(filepath.Join(req.WaitFor, podmanstore.ImportNameFile))
		if err == nil && len(b) > 0 {
			name := string(b)
			return importImage(s, "oci:"+req.Layout+":"+name, name)
		}
		if _, err := os.Stat(req.WaitFor); err != nil {
			dropUnusedLayers(s)
			return "", errors.New("the pull ended without naming the image")
		}
		if os.Getppid() != parent {
			return "", errors.New("the pull that asked for the import is gone")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// createImage records img (top layer top) under tagged (no name: ""), with the big data
// image/v5 stores: the config under its digest, the manifest under
// "manifest-DIGEST" and "manifest" (and the layout's image index, when
// the name points at one, under its own digest).
func createImage(s storage.Store, dir, tag string, img *store.Image, top, tagged string) error {
	manifestBlob, err := store.RawBlob(dir, img.Digest)
	if err != nil {
		return err
	}
	config := img.Manifest.Config.Digest
	configBlob, err := store.RawBlob(dir, config)
	if err != nil {
		return err
	}
	opts := &storage.ImageOptions{Digest: img.Digest, Metadata: "{}"}
	if img.Config.Created != nil {
		opts.CreationDate = *img.Config.Created
	}
	if desc, err := store.TopManifest(dir, tag); err == nil && desc.Digest != img.Digest {
		if b, err := store.RawBlob(dir, desc.Digest); err == nil {
			opts.BigData = append(opts.BigData, storage.ImageBigDataOption{Key: storage.ImageDigestManifestBigDataNamePrefix + "-" + desc.Digest.String(), Data: b, Digest: desc.Digest})
		}
	}
	opts.BigData = append(opts.BigData,
		storage.ImageBigDataOption{Key: config.String(), Data: configBlob, Digest: config},
		storage.ImageBigDataOption{Key: storage.ImageDigestManifestBigDataNamePrefix + "-" + img.Digest.String(), Data: manifestBlob, Digest: img.Digest},
		storage.ImageBigDataOption{Key: storage.ImageDigestBigDataKey, Data: manifestBlob, Digest: img.Digest},
	)
	id := config.Encoded()
	var names []string
	if tagged != "" {
		names = []string{tagged}
		// The name moves to this image, as in urun's index: a tag that
		// now names a newer image (a re-pull, a commit after one killed
		// between recording here and in the index) would otherwise make
		// CreateImage fail with "name already in use".
		if other, err := s.Image(tagged); err == nil && other.ID != id {
			if err := s.RemoveNames(other.ID, names); err != nil {
				return err
			}
		}
	}
	_, err = s.CreateImage(id, names, top, "", opts)
	if !errors.Is(err, storage.ErrDuplicateID) {
		return err
	}
	have, err := s.Image(id)
	if err != nil {
		return err
	}
	if have.TopLayer != top {
		return fmt.Errorf("image %.12s is in the layer store with other layers", id)
	}
	for _, d := range opts.BigData {
		if err := s.SetImageBigData(id, d.Key, d.Data, manifest.Digest); err != nil {
			return err
		}
	}
	if tagged == "" {
		return nil
	}
	return s.AddNames(id, names)
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
	// An import killed between storing a layer and fixing its implied
	// directories: finish it, or the check reports the layer.
	if err := finishPending(s); err != nil {
		return nil, fmt.Errorf("checking the layer store: %w", err)
	}
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

// layerSource is a layer's tar for PutLayer: its blob, or where the
// blob was dropped (store/blobsweep.go), the layer store's own copy of
// the same content on another parent, uncompressed.
type layerSource interface {
	Read([]byte) (int, error)
	Finish() error
	Close() error
}

// openLayer opens l's blob, or the uncompressed tar of a complete layer
// of s with diff id diffID when the blob is gone.
func openLayer(s storage.Store, l store.Layer, diffID digest.Digest, pulled bool) (layerSource, error) {
	open := store.OpenLayerBlob
	if pulled {
		open = store.OpenPulledLayerBlob
	}
	b, err := open(l)
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		return b, err
	}
	rc, derr := diffOf(s, diffID)
	if derr != nil {
		return nil, fmt.Errorf("%w (and the layer store has no copy: %v): pull the image again", err, derr)
	}
	// Diff holds the layer store's lock until it is closed, and PutLayer
	// takes it: the tar goes through an unnamed temporary file first.
	f, err := os.CreateTemp(s.GraphRoot(), "urun-diff-")
	if err != nil {
		rc.Close()
		return nil, err
	}
	os.Remove(f.Name())
	_, err = io.Copy(f, rc)
	if cerr := rc.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("reading layer %s from the layer store: %w", diffID, err)
	}
	return &diffSource{f}, nil
}

type diffSource struct{ *os.File }

// Finish: PutLayer checks the uncompressed digest against the diff id.
func (d *diffSource) Finish() error {
	_, err := io.Copy(io.Discard, d.File)
	return err
}

// diffOf is the uncompressed tar of a complete layer with diff id d:
// containers/storage's Diff, which reassembles it from the layer's
// tar-split and files bit for bit.
func diffOf(s storage.Store, d digest.Digest) (io.ReadCloser, error) {
	layers, err := s.LayersByUncompressedDigest(d)
	if err != nil {
		return nil, fmt.Errorf("no layer with diff id %s: %w", d, err)
	}
	for _, l := range layers {
		if l.Flags["incomplete"] != nil || len(l.UIDMap) > 0 || len(l.GIDMap) > 0 {
			continue
		}
		if _, err := os.Stat(pendingMark(s, l.ID)); err == nil {
			continue
		}
		unc := archive.Uncompressed
		return s.Diff("", l.ID, &storage.DiffOptions{Compression: &unc})
	}
	return nil, fmt.Errorf("no complete layer with diff id %s", d)
}

// writeDiffs is OpDiff: layer i's tar to descriptor 4+i (passed by
// podmanstore.CallFiles), each closed when written.
func writeDiffs(s storage.Store, layers []podmanstore.PlannedLayer) error {
	files := make([]*os.File, len(layers))
	for i := range layers {
		files[i] = os.NewFile(uintptr(4+i), fmt.Sprintf("diff-%d", i))
	}
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	for i, l := range layers {
		d, err := digest.Parse(l.DiffID)
		if err != nil {
			return fmt.Errorf("diff: layer %q: %w", l.DiffID, err)
		}
		rc, err := diffOf(s, d)
		if err != nil {
			return err
		}
		_, err = io.Copy(files[i], rc)
		rc.Close()
		if err != nil {
			return fmt.Errorf("writing layer %s: %w", d, err)
		}
		files[i].Close()
	}
	return nil
}

// transferOut is OpSave and OpPush: the copy reads the image from the
// layer store through image/v5's containers-storage transport, as
// podman push and save do (each layer the store's Diff; registries get
// it gzip-compressed again, archives uncompressed). For OpPush it
// returns the registry's manifest digest.
func transferOut(s storage.Store, op string, t *podmanstore.TransferRequest) (string, error) {
	if t == nil || t.ImageID == "" || t.Name == "" {
		return "", errors.New("save or push request without its image")
	}
	// By its manifest digest, so the copy starts from the manifest urun's
	// index names (an image id may have several).
	var named reference.Named
	if n, err := reference.ParseNormalizedNamed(t.Name); err == nil && t.ManifestDigest != "" {
		if d, err := digest.Parse(t.ManifestDigest); err == nil {
			named, _ = reference.WithDigest(reference.TrimNamed(n), d)
		}
	}
	src, err := istorage.Transport.NewStoreReference(s, named, t.ImageID)
	if err != nil {
		return "", err
	}
	o := transfer.TransferOptions{TLSVerify: t.TLSVerify, AuthFile: t.AuthFile, BlobInfoCacheDir: t.BlobInfoCacheDir}
	if !t.Quiet {
		o.Progress = os.Stderr
	}
	logrus.SetOutput(os.Stderr)
	defer logrus.SetOutput(io.Discard)
	ctx := context.Background()
	if op == podmanstore.OpSave {
		return "", transfer.SaveRef(ctx, src, t.Name, t.File, t.Format, o)
	}
	return transfer.PushRef(ctx, src, t.Name, t.Dest, o)
}

// writeback syncs a layer store's file system in the background while a
// pull's next layer unpacks, so that the sync before a pull drops its
// blobs (store.DropStoredBlobs) waits only for the last layer's files,
// not for every file the pull wrote (docs/STORE.md, "On a quiet
// machine"). It changes when the data reaches the disk, not whether.
type writeback struct {
	ask  chan struct{}
	done chan struct{}
}

func startWriteback(dir string) *writeback {
	w := &writeback{ask: make(chan struct{}, 1), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for range w.ask {
			fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
			if err != nil {
				continue
			}
			// An error here is the final sync's to report.
			unix.Syncfs(fd)
			unix.Close(fd)
		}
	}()
	return w
}

// kick asks for a sync; one asked while another runs is merged with it.
func (w *writeback) kick() {
	select {
	case w.ask <- struct{}{}:
	default:
	}
}

// stop ends the goroutine once a sync in progress is done.
func (w *writeback) stop() {
	close(w.ask)
	<-w.done
}
