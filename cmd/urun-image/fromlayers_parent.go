package main

// push and save of an image whose layer blobs were dropped because the
// layer store holds its layers (store/blobsweep.go): the copy runs in the
// layer store helper (layerstore_child.go, transferOut), which reads the
// layers with the store's own mapping.

import (
	"os"
	"path/filepath"

	"github.com/urun-dev/urun/idmap"
	"github.com/urun-dev/urun/store"
	"github.com/urun-dev/urun/store/podmanstore"
	"github.com/urun-dev/urun/store/transfer"
	"github.com/urun-dev/urun/userns"
)

// fromLayerStore says whether the image name must be read from the
// layer store (a layer blob of it is gone), and what to ask for.
func fromLayerStore(s *store.Store, name string, o transfer.TransferOptions) (*podmanstore.TransferRequest, bool) {
	img, err := s.Lookup(name)
	if err != nil {
		return nil, false // transfer.Save or Push says what is wrong
	}
	missing := false
	for _, l := range img.Layers {
		missing = missing || l.BlobMissing()
	}
	if !missing {
		return nil, false
	}
	full, err := s.Find(name)
	if err != nil || full == "" {
		full = img.Ref
	}
	return &podmanstore.TransferRequest{
		ImageID: img.Manifest.Config.Digest.Encoded(), ManifestDigest: img.Digest.String(), Name: full,
		TLSVerify: o.TLSVerify, AuthFile: o.AuthFile, Quiet: o.Progress == nil, BlobInfoCacheDir: o.BlobInfoCacheDir,
	}, true
}

// outOfLayerStore runs OpSave or OpPush for t in the layer store of the
// data directory data; OpPush returns the registry's manifest digest.
func outOfLayerStore(data, op string, t *podmanstore.TransferRequest) (string, error) {
	maps, err := userns.ResolveMaps(idmap.ModeAuto, false)
	if err != nil {
		return "", err
	}
	if err := podmanstore.CheckMaps(maps); err != nil {
		return "", err
	}
	exe, err := os.Executable()
	if err != nil {
		return "", err
	}
	if t.File != "" {
		if t.File, err = filepath.Abs(t.File); err != nil {
			return "", err
		}
	}
	graph := store.LayerStoreDir(data)
	reply, err := podmanstore.Call(exe, maps, podmanstore.Request{Op: op, Own: true, GraphRoot: graph, RunRoot: graph + "-run", Transfer: t})
	if err != nil {
		return "", err
	}
	return reply.Digest, nil
}
