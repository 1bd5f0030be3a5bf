package main

// Unpacking while pulling: urun-image pull starts the layer
// store's import-layers helper (layerstore_child.go) before image/v5's
// copy, so that each layer is unpacked as soon as its blob has arrived
// instead of after the whole download (docs/STORE.md, "The layer store").
// urun's own OpImport then finds the layers stored and only records the
// image under its name.

import (
	"os"
	"path/filepath"

	digest "github.com/opencontainers/go-digest"

	"github.com/urun-dev/urun/idmap"
	"github.com/urun-dev/urun/store"
	"github.com/urun-dev/urun/store/podmanstore"
	"github.com/urun-dev/urun/store/transfer"
	"github.com/urun-dev/urun/userns"
)

// overlapImport is TransferOptions.Overlap for the store in data, or nil
// where the layer store is not used (another mapping than the default,
// URUN_LAYER_STORE=0): there the pull only downloads, as before. Its
// function returns nil where the layers are stored already.
func overlapImport(data string) func(transfer.Plan) func(string) {
	if os.Getenv("URUN_LAYER_STORE") == "0" {
		return nil
	}
	maps, err := userns.ResolveMaps(idmap.ModeAuto, false)
	if err != nil || podmanstore.CheckMaps(maps) != nil {
		return nil
	}
	exe, err := os.Executable()
	if err != nil {
		return nil
	}
	graph := store.LayerStoreDir(data)
	return func(p transfer.Plan) func(string) {
		var diffIDs []digest.Digest
		for _, l := range p.Layers {
			diffIDs = append(diffIDs, digest.Digest(l.DiffID))
		}
		if store.HasLayers(graph, diffIDs) {
			// A pull of an image whose layers are stored (a re-pull, run
			// --pull=always): urun's import after the pull only records
			// it, or finds it recorded.
			return nil
		}
		req := podmanstore.Request{Op: podmanstore.OpImportLayers, Own: true,
			GraphRoot: graph, RunRoot: graph + "-run",
			Layout: p.Layout, WaitFor: p.Until}
		for _, l := range p.Layers {
			req.Layers = append(req.Layers, podmanstore.PlannedLayer{Digest: l.Digest, Size: l.Size, DiffID: l.DiffID})
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			// A failure is not the pull's: urun's OpImport after the
			// pull stores what is missing, and says why when it cannot.
			podmanstore.Call(exe, maps, req)
		}()
		return func(name string) {
			if name != "" {
				// The helper waits for this file (or for the pull's tmp
				// directory to go) once its layers are stored.
				tmp := filepath.Join(p.Until, podmanstore.ImportNameFile+".tmp")
				if os.WriteFile(tmp, []byte(name), 0o600) == nil {
					os.Rename(tmp, filepath.Join(p.Until, podmanstore.ImportNameFile))
				}
			}
			<-done
		}
	}
}
