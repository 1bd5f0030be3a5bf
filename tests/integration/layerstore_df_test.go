package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// dfRow is one line of `urun system df --format json`.
type dfRow struct {
	Type                    string
	Total, Active           int
	RawSize, RawReclaimable int64
}

type dfImage struct {
	Name                 string
	Size, Shared, Unique int64
	Containers           int
}

func systemDF(t *testing.T, env []string) map[string]dfRow {
	t.Helper()
	var rows []dfRow
	r := mustRunEnv(t, env, "system", "df", "--format", "json")
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil {
		t.Fatalf("system df --format json: %v: %s", err, r.stdout)
	}
	m := map[string]dfRow{}
	for _, row := range rows {
		m[row.Type] = row
	}
	return m
}

func systemDFImages(t *testing.T, env []string) map[string]dfImage {
	t.Helper()
	var v struct{ Images []dfImage }
	r := mustRunEnv(t, env, "system", "df", "-v", "--format", "json")
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
		t.Fatalf("system df -v --format json: %v: %s", err, r.stdout)
	}
	m := map[string]dfImage{}
	for _, i := range v.Images {
		m[i.Name] = i
	}
	return m
}

// layerSizes reads each layer's diff-size from the layer store's
// layers.json (what podman counts as a layer's size).
func layerSizes(t *testing.T, graph string) map[string]int64 {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(graph, "overlay-layers", "layers.json"))
	if err != nil {
		t.Fatal(err)
	}
	var layers []struct {
		ID   string `json:"id"`
		Size int64  `json:"diff-size"`
	}
	if err := json.Unmarshal(b, &layers); err != nil {
		t.Fatal(err)
	}
	m := map[string]int64{}
	for _, l := range layers {
		m[l.ID] = l.Size
	}
	return m
}

// `urun system df`: two images on one base, a running container with a
// volume. The base's layer counts once; the image on it shares it and
// has its own 4 MiB layer as its unique size; what no container uses is
// reclaimable.
func TestSystemDF(t *testing.T) {
	env := storeEnv(t)
	// A kept container of another data directory (the state root is
	// the user's) is not this one's.
	other := storeEnv(t)
	mustRunEnv(t, other, "run", "-d", "--name", "df-other", busybox(), "true")
	t.Cleanup(func() { urunEnv(t, other, "rm", "-f", "df-other") })
	r := mustRunEnv(t, env, "system", "df")
	if !strings.HasPrefix(r.stdout, "TYPE") || !strings.Contains(r.stdout, "Images") || !strings.Contains(r.stdout, "Local Volumes") {
		t.Errorf("system df on an empty store: %q", r.stdout)
	}
	mustRunEnv(t, env, "pull", "-q", busybox())
	graph := layerGraph(env)
	base := layerSizes(t, graph)
	if len(base) != 1 {
		t.Fatalf("busybox's layers: %v", base)
	}
	var baseSize int64
	for _, s := range base {
		baseSize = s
	}
	mustRunEnv(t, env, "pull", "-q", plus())
	sizes := layerSizes(t, graph)
	var all int64
	for _, s := range sizes {
		all += s
	}
	const unique = 4 << 20
	if all-baseSize < unique || all-baseSize > unique*105/100 {
		t.Fatalf("plus's own layer is %d bytes in layers.json, want 4 MiB + <5%%", all-baseSize)
	}

	// images SIZE is the unpacked size, as docker's and podman's.
	var listed []struct {
		Name string `json:"name"`
		Size int64  `json:"size"`
	}
	if err := json.Unmarshal([]byte(mustRunEnv(t, env, "images", "--format", "json").stdout), &listed); err != nil {
		t.Fatal(err)
	}
	for _, l := range listed {
		if want := map[string]int64{"localhost/busybox:latest": baseSize, "localhost/plus:latest": all}[l.Name]; l.Size != want {
			t.Errorf("images: %s has size %d, want %d (unpacked)", l.Name, l.Size, want)
		}
	}

	vol := "dfvol"
	t.Cleanup(func() { urunEnv(t, env, "volume", "rm", "-f", vol) })
	name := "df-writer"
	urunEnv(t, env, "rm", "-f", name)
	mustRunEnv(t, env, "run", "-d", "--name", name, "--pull=never", "-v", vol+":/data", "localhost/plus:latest",
		"sh", "-c", "head -c 1048576 /dev/zero >/data/f && head -c 2097152 /dev/zero >/written && touch /data/done; sleep 300")
	t.Cleanup(func() { urunEnv(t, env, "rm", "-f", name) })
	deadline := time.Now().Add(20 * time.Second)
	for urunEnv(t, env, "exec", name, "test", "-e", "/data/done").code != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the container never wrote its files")
		}
		time.Sleep(100 * time.Millisecond)
	}

	df := systemDF(t, env)
	if i := df["Images"]; i.Total != 2 || i.Active != 1 || i.RawSize != all || i.RawReclaimable != 0 {
		t.Errorf("Images: %+v, want 2 images, 1 active, size %d (every layer once), nothing reclaimable (busybox's layer is plus's base)", i, all)
	}
	if c := df["Containers"]; c.Total != 1 || c.Active != 1 || c.RawSize < 2<<20 || c.RawSize > 3<<20 || c.RawReclaimable != 0 {
		t.Errorf("Containers: %+v, want 1 running with its 2 MiB writable layer", c)
	}
	if v := df["Local Volumes"]; v.Total != 1 || v.Active != 1 || v.RawSize < 1<<20 || v.RawSize > 2<<20 || v.RawReclaimable != 0 {
		t.Errorf("Local Volumes: %+v, want 1 in use, 1 MiB", v)
	}
	imgs := systemDFImages(t, env)
	bb, pl := imgs["localhost/busybox:latest"], imgs["localhost/plus:latest"]
	if bb.Size != baseSize || bb.Shared != baseSize || bb.Unique != 0 || bb.Containers != 0 {
		t.Errorf("busybox in system df -v: %+v, want size = shared = %d, unique 0", bb, baseSize)
	}
	if pl.Size != all || pl.Shared != baseSize || pl.Unique != all-baseSize || pl.Containers != 1 {
		t.Errorf("plus in system df -v: %+v, want size %d, shared %d (the base), unique %d, 1 container", pl, all, baseSize, all-baseSize)
	}
	r = mustRunEnv(t, env, "system", "df", "-v")
	t.Logf("system df -v:\n%s", r.stdout)
	for _, want := range []string{"Images space usage:", "SHARED SIZE", "UNIQUE SIZE", "localhost/plus", "Containers space usage:", name, "Local Volumes space usage:", vol} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("system df -v lacks %q:\n%s", want, r.stdout)
		}
	}

	// Stopped: the container's layer is reclaimable, its image still in use.
	mustRunEnv(t, env, "stop", "-t", "0", name)
	df = systemDF(t, env)
	if c := df["Containers"]; c.Active != 0 || c.RawReclaimable != c.RawSize || c.RawSize == 0 {
		t.Errorf("Containers after stop: %+v, want its layer reclaimable", c)
	}
	if i := df["Images"]; i.Active != 1 {
		t.Errorf("Images after stop: %+v, want plus still in use", i)
	}
	mustRunEnv(t, env, "rm", name)
	df = systemDF(t, env)
	if i := df["Images"]; i.Active != 0 || i.RawReclaimable != all {
		t.Errorf("Images with no container: %+v, want all %d reclaimable", i, all)
	}
	if v := df["Local Volumes"]; v.Active != 0 || v.RawReclaimable != v.RawSize {
		t.Errorf("Local Volumes with no container: %+v, want it reclaimable", v)
	}
	mustRunEnv(t, env, "rmi", "localhost/busybox:latest")
	imgs = systemDFImages(t, env)
	if pl := imgs["localhost/plus:latest"]; pl.Shared != 0 || pl.Unique != all {
		t.Errorf("plus alone: %+v, want nothing shared", pl)
	}
}
