package store

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	digest "github.com/opencontainers/go-digest"
)

// A layer blob goes only when its layer is complete in an image's chain:
// not incomplete, not pending, not another mapping's, not an orphan.
func TestDropStoredBlobs(t *testing.T) {
	data := t.TempDir()
	graph, layout := LayerStoreDir(data), filepath.Join(data, "images")
	blob := func(name string) digest.Digest {
		d := digest.FromString(name)
		p := filepath.Join(layout, "blobs", "sha256", d.Encoded())
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(name), 0o600); err != nil {
			t.Fatal(err)
		}
		return d
	}
	base, top, incomplete, pending, mapped, orphan, manifest := blob("base"), blob("top"), blob("incomplete"), blob("pending"), blob("mapped"), blob("orphan"), blob("manifest")
	diff := digest.FromString("diff").String()
	write := func(dir, file, lock, body string) {
		if err := os.MkdirAll(filepath.Join(graph, dir), 0o700); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(graph, dir, lock), nil, 0o600)
		if err := os.WriteFile(filepath.Join(graph, dir, file), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("overlay-layers", "layers.json", "layers.lock", `[
 {"id":"l1","compressed-diff-digest":"`+base.String()+`","compressed-size":4,"diff-digest":"`+diff+`"},
 {"id":"l2","parent":"l1","compressed-diff-digest":"`+top.String()+`","diff-digest":"`+diff+`"},
 {"id":"l3","parent":"l2","compressed-diff-digest":"`+incomplete.String()+`","diff-digest":"`+diff+`","flags":{"incomplete":true}},
 {"id":"l4","parent":"l2","compressed-diff-digest":"`+pending.String()+`","diff-digest":"`+diff+`"},
 {"id":"l5","compressed-diff-digest":"`+mapped.String()+`","diff-digest":"`+diff+`","uidmap":[{}]},
 {"id":"l6","compressed-diff-digest":"`+orphan.String()+`","diff-digest":"`+diff+`"}]`)
	write("overlay-images", "images.json", "images.lock", `[{"id":"a","layer":"l2"},{"id":"b","layer":"l3"},{"id":"c","layer":"l4"},{"id":"d","layer":"l5"}]`)
	if err := os.MkdirAll(PendingDir(graph), 0o700); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(PendingDir(graph), "l4"), nil, 0o600)

	if size, ok := StoredLayerBlob(graph, base); !ok || size != 4 {
		t.Errorf("StoredLayerBlob(base) = %d, %v; want 4, true", size, ok)
	}
	if _, ok := StoredLayerBlob(graph, pending); ok {
		t.Error("a pending layer's blob counts as stored")
	}
	n, err := DropStoredBlobs(data)
	if err != nil || n != 2 {
		t.Fatalf("DropStoredBlobs = %d, %v; want 2 (base, top)", n, err)
	}
	var left []digest.Digest
	ents, _ := os.ReadDir(filepath.Join(layout, "blobs", "sha256"))
	for _, e := range ents {
		left = append(left, digest.NewDigestFromEncoded(digest.SHA256, e.Name()))
	}
	for _, d := range []digest.Digest{incomplete, pending, mapped, orphan, manifest} {
		if !slices.Contains(left, d) {
			t.Errorf("blob %s was removed", d)
		}
	}
	if len(left) != 5 {
		t.Errorf("%d blobs left, want 5", len(left))
	}
	// Twice changes nothing; with the layer store off nothing goes.
	if n, err := DropStoredBlobs(data); n != 0 || err != nil {
		t.Errorf("second DropStoredBlobs = %d, %v", n, err)
	}
	os.Remove(filepath.Join(PendingDir(graph), "l4"))
	t.Setenv("URUN_LAYER_STORE", "0")
	if n, _ := DropStoredBlobs(data); n != 0 {
		t.Errorf("URUN_LAYER_STORE=0 removed %d blobs", n)
	}
}
