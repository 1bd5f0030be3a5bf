package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// fakeBusybox keeps these tests independent of the host; the real binary is
// only needed by TestRealBusybox.
var fakeBusybox = busybox{
	Binary:  []byte("not a real busybox\n"),
	Applets: []string{"busybox", "cat", "echo", "sh", "stat"},
}

func buildFake(t *testing.T) string {
	t.Helper()
	out := t.TempDir()
	if err := build(out, fakeBusybox); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestDeterministic(t *testing.T) {
	a, b := buildFake(t), buildFake(t)
	filesA, filesB := readTree(t, a), readTree(t, b)
	if len(filesA) == 0 {
		t.Fatal("build wrote nothing")
	}
	for name, content := range filesA {
		other, ok := filesB[name]
		if !ok {
			t.Errorf("%s only in the first build", name)
			continue
		}
		if !bytes.Equal(content, other) {
			t.Errorf("%s differs between builds", name)
		}
	}
	for name := range filesB {
		if _, ok := filesA[name]; !ok {
			t.Errorf("%s only in the second build", name)
		}
	}
}

// readTree returns every regular file below root by relative path.
func readTree(t *testing.T, root string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		files[rel] = b
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// image is what checkLayout found in one layout.
type image struct {
	config v1.Image
	layers [][]byte // uncompressed tars
}

func TestLayoutValid(t *testing.T) {
	out := buildFake(t)

	bb := checkLayout(t, filepath.Join(out, "busybox"))
	if len(bb.layers) != 1 {
		t.Fatalf("busybox image has %d layers, want 1", len(bb.layers))
	}
	if !slices.Equal(bb.config.Config.Cmd, []string{"/bin/sh"}) || !slices.Equal(bb.config.Config.Env, []string{defaultPath}) {
		t.Errorf("busybox config = %+v", bb.config.Config)
	}

	hard := checkLayout(t, filepath.Join(out, "hard"))
	if len(hard.layers) != 4 {
		t.Fatalf("hard image has %d layers, want 4", len(hard.layers))
	}
	if !bytes.Equal(hard.layers[0], bb.layers[0]) {
		t.Error("hard image does not reuse the busybox layer as its base")
	}
	c := hard.config.Config
	if !slices.Equal(c.Entrypoint, []string{"/bin/echo", "entry"}) ||
		!slices.Equal(c.Cmd, []string{"cmd-default"}) ||
		!slices.Equal(c.Env, []string{defaultPath, "HARD_ENV=hard-value", "SPACED=a b"}) ||
		c.WorkingDir != "/data/work" || c.User != "1000:1000" || c.Labels["urun.test"] != "hard" {
		t.Errorf("hard config = %+v", c)
	}

	// checksums.txt must name the index.json files as they are.
	sums, err := os.ReadFile(filepath.Join(out, "checksums.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"busybox", "hard"} {
		index, err := os.ReadFile(filepath.Join(out, name, "index.json"))
		if err != nil {
			t.Fatal(err)
		}
		if want := hexSum(index) + "  " + name + "/index.json\n"; !strings.Contains(string(sums), want) {
			t.Errorf("checksums.txt lacks %q:\n%s", want, sums)
		}
	}
}

// checkLayout follows index -> manifest -> config and layers, checking every
// digest, size, media type and diff_id on the way.
func checkLayout(t *testing.T, dir string) image {
	t.Helper()
	var ol v1.ImageLayout
	readJSON(t, filepath.Join(dir, v1.ImageLayoutFile), &ol)
	if ol.Version != v1.ImageLayoutVersion {
		t.Errorf("oci-layout version %q", ol.Version)
	}
	var index v1.Index
	readJSON(t, filepath.Join(dir, v1.ImageIndexFile), &index)
	if index.SchemaVersion != 2 || index.MediaType != v1.MediaTypeImageIndex || len(index.Manifests) != 1 {
		t.Fatalf("index = %+v", index)
	}
	md := index.Manifests[0]
	if md.Annotations[v1.AnnotationRefName] != "latest" {
		t.Errorf("manifest annotations = %v, want ref name latest", md.Annotations)
	}
	if md.MediaType != v1.MediaTypeImageManifest {
		t.Errorf("manifest media type %q", md.MediaType)
	}
	var manifest v1.Manifest
	if err := json.Unmarshal(readBlob(t, dir, md), &manifest); err != nil {
		t.Fatal(err)
	}
	if manifest.SchemaVersion != 2 || manifest.MediaType != v1.MediaTypeImageManifest {
		t.Errorf("manifest header = %d %q", manifest.SchemaVersion, manifest.MediaType)
	}
	if manifest.Config.MediaType != v1.MediaTypeImageConfig {
		t.Errorf("config media type %q", manifest.Config.MediaType)
	}
	var img image
	if err := json.Unmarshal(readBlob(t, dir, manifest.Config), &img.config); err != nil {
		t.Fatal(err)
	}
	if img.config.OS != "linux" || img.config.Architecture == "" || img.config.RootFS.Type != "layers" {
		t.Errorf("config platform/rootfs = %s/%s %q", img.config.OS, img.config.Architecture, img.config.RootFS.Type)
	}
	if len(img.config.RootFS.DiffIDs) != len(manifest.Layers) || len(img.config.History) != len(manifest.Layers) {
		t.Fatalf("%d layers, %d diff_ids, %d history entries",
			len(manifest.Layers), len(img.config.RootFS.DiffIDs), len(img.config.History))
	}
	for i, ld := range manifest.Layers {
		if ld.MediaType != v1.MediaTypeImageLayerGzip {
			t.Errorf("layer %d media type %q", i, ld.MediaType)
		}
		gz := readBlob(t, dir, ld)
		// Fixed gzip header: no FNAME/FCOMMENT flags, mtime 0.
		if len(gz) < 10 || gz[3] != 0 || !bytes.Equal(gz[4:8], []byte{0, 0, 0, 0}) {
			t.Errorf("layer %d: gzip header % x not fixed", i, gz[:10])
		}
		zr, err := gzip.NewReader(bytes.NewReader(gz))
		if err != nil {
			t.Fatal(err)
		}
		raw, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		if got := sha256Digest(raw); got != string(img.config.RootFS.DiffIDs[i]) {
			t.Errorf("layer %d: diff_id %s, uncompressed sha256 %s", i, img.config.RootFS.DiffIDs[i], got)
		}
		img.layers = append(img.layers, raw)
	}
	return img
}

func readJSON(t *testing.T, p string, v any) {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", p, err)
	}
}

func readBlob(t *testing.T, dir string, d v1.Descriptor) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "blobs", d.Digest.Algorithm().String(), d.Digest.Encoded()))
	if err != nil {
		t.Fatal(err)
	}
	if got := sha256Digest(b); got != d.Digest.String() {
		t.Errorf("blob %s has digest %s", d.Digest, got)
	}
	if int64(len(b)) != d.Size {
		t.Errorf("blob %s has size %d, descriptor says %d", d.Digest, len(b), d.Size)
	}
	return b
}

// TestExpectedMatchesBlobs reads the layers back from the written tars and
// merges them again, so expected.txt is checked against what was actually
// written (names, long names, modes, owners) rather than the source data.
func TestExpectedMatchesBlobs(t *testing.T) {
	out := buildFake(t)
	hard := checkLayout(t, filepath.Join(out, "hard"))
	var layers []layer
	for i, raw := range hard.layers {
		entries, err := entriesFromTar(raw)
		if err != nil {
			t.Fatalf("layer %d: %v", i, err)
		}
		layers = append(layers, layer{Entries: entries})
	}
	tr, err := applyLayers(layers)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(out, "hard", "expected.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if want := expectedFile(tr); string(got) != want {
		t.Errorf("expected.txt:\n%s\nfrom blobs:\n%s", got, want)
	}
	if !strings.HasPrefix(string(got), "# cmd: find ") {
		t.Errorf("expected.txt does not start with the command: %.40q", got)
	}
}

// entriesFromTar is the inverse of tarHeader; it also checks that headers
// carry no host-dependent data.
func entriesFromTar(raw []byte) ([]entry, error) {
	var entries []entry
	tr := tar.NewReader(bytes.NewReader(raw))
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return entries, nil
		}
		if err != nil {
			return nil, err
		}
		if !hdr.ModTime.Equal(epoch) || hdr.Uname != "" || hdr.Gname != "" {
			return nil, errors.New(hdr.Name + ": header has mtime or user/group names")
		}
		e := entry{Path: "/" + strings.TrimSuffix(hdr.Name, "/"), Mode: hdr.Mode, UID: hdr.Uid, GID: hdr.Gid}
		switch hdr.Typeflag {
		case tar.TypeDir:
			e.Type = typeDir
		case tar.TypeReg:
			e.Type = typeFile
			b, err := io.ReadAll(tr)
			if err != nil {
				return nil, err
			}
			e.Content = string(b)
		case tar.TypeSymlink:
			e.Type, e.Linkname = typeSymlink, hdr.Linkname
		case tar.TypeLink:
			e.Type, e.Linkname = typeHardlink, "/"+hdr.Linkname
		case tar.TypeFifo:
			e.Type = typeFifo
		default:
			return nil, errors.New(hdr.Name + ": unexpected tar type")
		}
		entries = append(entries, e)
	}
}

func TestLoadBusyboxMissing(t *testing.T) {
	p := filepath.Join(t.TempDir(), "busybox")
	_, err := loadBusybox(p)
	want := "busybox not found at " + p + ": apt-get install busybox-static"
	if err == nil || err.Error() != want {
		t.Errorf("error = %v, want %q", err, want)
	}
}

func TestRealBusybox(t *testing.T) {
	const p = "/bin/busybox"
	if _, err := os.Stat(p); err != nil {
		t.Skipf("no %s on this host (apt-get install busybox-static): %v", p, err)
	}
	bb, err := loadBusybox(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(bb.Applets) == 0 || len(bb.Binary) == 0 {
		t.Fatalf("%d applets, %d byte binary", len(bb.Applets), len(bb.Binary))
	}
	// The listing command needs these applets inside the image.
	for _, a := range []string{"sh", "find", "stat", "sort", "echo"} {
		if !slices.Contains(bb.Applets, a) {
			t.Errorf("busybox lacks applet %q", a)
		}
	}
}
