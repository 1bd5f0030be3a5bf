package store

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	digest "github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestNormalizeName(t *testing.T) {
	for in, want := range map[string]string{
		"busybox":                       "docker.io/library/busybox:latest",
		"docker://busybox:1":            "docker.io/library/busybox:1",
		"localhost:5000/a/b":            "localhost:5000/a/b:latest",
		"127.0.0.1:5931/busybox:1":      "127.0.0.1:5931/busybox:1",
		"quay.io/x/y@sha256:" + hex64(): "quay.io/x/y@sha256:" + hex64(),
	} {
		got, err := NormalizeName(in)
		if err != nil || got != want {
			t.Errorf("NormalizeName(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := NormalizeName("UPPER/case"); err == nil {
		t.Error("an invalid name was accepted")
	}
}

func hex64() string { return digest.FromString("x").Encoded() }

// addImage writes a one-layer image with distinct content into s as name.
func addImage(t *testing.T, s *Store, name, content string) v1.Descriptor {
	t.Helper()
	put := func(b []byte) v1.Descriptor {
		d := digest.FromBytes(b)
		if err := os.WriteFile(filepath.Join(s.Dir, "blobs", "sha256", d.Encoded()), b, 0o600); err != nil {
			t.Fatal(err)
		}
		return v1.Descriptor{Digest: d, Size: int64(len(b))}
	}
	layer := put([]byte("layer " + content))
	layer.MediaType = v1.MediaTypeImageLayer
	cfg, _ := json.Marshal(v1.Image{RootFS: v1.RootFS{Type: "layers", DiffIDs: []digest.Digest{layer.Digest}}})
	config := put(cfg)
	config.MediaType = v1.MediaTypeImageConfig
	man, _ := json.Marshal(v1.Manifest{MediaType: v1.MediaTypeImageManifest, Config: config, Layers: []v1.Descriptor{layer}})
	m := put(man)
	m.MediaType = v1.MediaTypeImageManifest
	index, err := s.readIndex()
	if err != nil {
		t.Fatal(err)
	}
	full, err := NormalizeName(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.setName(index, full, m); err != nil {
		t.Fatal(err)
	}
	return m
}

func blobCount(t *testing.T, s *Store) int {
	ents, err := os.ReadDir(filepath.Join(s.Dir, "blobs", "sha256"))
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

func TestStoreNamesTagRemove(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	a := addImage(t, s, "busybox", "a")
	addImage(t, s, "localhost/mine:1", "b")
	if blobCount(t, s) != 6 {
		t.Fatalf("want 6 blobs, have %d", blobCount(t, s))
	}

	for _, name := range []string{"busybox", "docker.io/library/busybox:latest", a.Digest.Encoded()[:12], "mine:1"} {
		if _, err := s.Lookup(name); err != nil {
			t.Errorf("Lookup(%q): %v", name, err)
		}
	}
	if _, err := s.Lookup("nothere"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Lookup of a missing name: %v", err)
	}

	if err := s.Tag("busybox", "other:2"); err != nil {
		t.Fatal(err)
	}
	img, err := s.Lookup("other:2")
	if err != nil || img.Digest != a.Digest {
		t.Fatalf("tagged name resolves to %v, %v", img, err)
	}
	// Tagging onto an existing name moves it.
	if err := s.Tag("mine:1", "other:2"); err != nil {
		t.Fatal(err)
	}
	if img, _ := s.Lookup("other:2"); img.Digest == a.Digest {
		t.Error("re-tag did not move the name")
	}

	// Removing one name of an image keeps its blobs.
	gone, err := s.Remove("localhost/mine:1")
	if err != nil || len(gone) != 0 || blobCount(t, s) != 6 {
		t.Fatalf("Remove of a shared image: gone %v, err %v, %d blobs", gone, err, blobCount(t, s))
	}
	gone, err = s.Remove("other:2")
	if err != nil || len(gone) != 1 || blobCount(t, s) != 3 {
		t.Fatalf("Remove of the last name: gone %v, err %v, %d blobs", gone, err, blobCount(t, s))
	}
	if err := s.Tag("busybox", "third"); err != nil {
		t.Fatal(err)
	}
	// By id: every name goes.
	gone, err = s.Remove(a.Digest.Encoded()[:16])
	if err != nil || len(gone) != 1 || gone[0] != a.Digest || blobCount(t, s) != 0 {
		t.Fatalf("Remove by id: gone %v, err %v, %d blobs", gone, err, blobCount(t, s))
	}
	if list, err := s.List(); err != nil || len(list) != 0 {
		t.Errorf("List after removing all: %v, %v", list, err)
	}
}

func TestListSizes(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	m := addImage(t, s, "busybox", "a")
	list, err := s.List()
	if err != nil || len(list) != 1 {
		t.Fatal(list, err)
	}
	e := list[0]
	if e.Name != "docker.io/library/busybox:latest" || e.Digest != m.Digest || e.ID != m.Digest.Encoded()[:12] || e.Size <= m.Size {
		t.Errorf("List entry %+v", e)
	}
}

func TestTagOf(t *testing.T) {
	for in, want := range map[string]string{
		"localhost:5000/a:1":    ":1",
		"localhost:5000/a":      "",
		"a/b@sha256:" + hex64(): "@sha256:" + hex64(),
	} {
		if got := tagOf(in); got != want {
			t.Errorf("tagOf(%q) = %q, want %q", in, got, want)
		}
	}
}

// A manifest that a pull or load rewrites in place reads short for a
// moment: the reader waits for the full blob; one that stays short is an
// error.
func TestReadBlobJSONWaitsOutRewrite(t *testing.T) {
	dir := t.TempDir()
	content := []byte(`{"schemaVersion":2}`)
	d := v1.Descriptor{Digest: digest.FromBytes(content), Size: int64(len(content))}
	p, err := blobPath(dir, d.Digest)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := readBlobJSON(dir, d, new(map[string]any)); err == nil || !strings.Contains(err.Error(), "is 0 bytes") {
		t.Fatalf("a blob that stays empty: %v", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		time.Sleep(20 * time.Millisecond)
		os.WriteFile(p, content, 0o600)
	}()
	var m map[string]any
	if err := readBlobJSON(dir, d, &m); err != nil || m["schemaVersion"] != float64(2) {
		t.Errorf("a blob rewritten while read: %v, %v", m, err)
	}
	<-done
}

// Unnamed images (commit without a name): one entry per image, found
// by id, listed as dangling, replaced by a name given to it.
func TestUnnamedImages(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	a := addImage(t, s, "a:1", "a")
	b := addImage(t, s, "b:1", "b")
	for _, d := range []v1.Descriptor{a, b, b} {
		if err := s.AddName("", d); err != nil {
			t.Fatal(err)
		}
	}
	// a and b have names: AddName("") adds nothing for them.
	if l, _ := s.List(); len(l) != 2 {
		t.Fatalf("unnamed entries for named images: %+v", l)
	}
	for _, n := range []string{"a:1", "b:1"} {
		if _, err := s.Remove(n); err != nil {
			t.Fatal(err)
		}
	}
	c := addImage(t, s, "c:1", "c")
	d := addImage(t, s, "d:1", "d")
	index, _ := s.readIndex()
	index.Manifests = nil
	s.writeIndex(index)
	for _, x := range []v1.Descriptor{c, d, d} {
		if err := s.AddName("", x); err != nil {
			t.Fatal(err)
		}
	}
	l, err := s.List()
	if err != nil || len(l) != 2 || !l[0].Dangling() || !l[1].Dangling() {
		t.Fatalf("two unnamed images: %+v %v", l, err)
	}
	for _, e := range l {
		img, err := s.OpenEntry(e)
		if err != nil || img.Digest != e.Digest {
			t.Errorf("OpenEntry %s: %v", e.Digest, err)
		}
		if img, err := s.Lookup(e.Ref()); err != nil || img.Digest != e.Digest {
			t.Errorf("Lookup by id %s: %v", e.Ref(), err)
		}
	}
	if err := s.Tag(c.Digest.Encoded()[:12], "named:1"); err != nil {
		t.Fatal(err)
	}
	l, _ = s.List()
	if len(l) != 2 || l[0].Name != "" || l[0].Digest != d.Digest || l[1].Name != "docker.io/library/named:1" {
		t.Errorf("after tag of an unnamed image: %+v", l)
	}
}
