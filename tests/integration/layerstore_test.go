package integration

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The layer store (docs/STORE.md): each layer unpacked once, at pull
// time, in go.podman.io/storage's overlay layout under DATA/storage.

func stacked() string { return "oci:" + filepath.Join(imagesDir, "stacked") }
func plus() string    { return "oci:" + filepath.Join(imagesDir, "plus") }

// layerGraph is the layer store of the data directory env names.
func layerGraph(env []string) string {
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "XDG_DATA_HOME="); ok {
			return filepath.Join(v, "urun", "storage")
		}
	}
	panic("env names no XDG_DATA_HOME")
}

// storedLayers lists the layer directories of the layer store.
func storedLayers(t *testing.T, graph string) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(graph, "overlay"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if len(e.Name()) == 64 {
			out = append(out, e.Name())
		}
	}
	return out
}

// Two images on one base: the second costs its own layer only; rmi of
// the base keeps a container of the other running; rmi of both empties
// the store.
func TestLayerStoreSharedBase(t *testing.T) {
	env := storeEnv(t)
	graph := layerGraph(env)
	mustRunEnv(t, env, "pull", "-q", busybox())
	one, dataOne := duBytes(graph), duBytes(dataDir(env))
	if n := len(storedLayers(t, graph)); n != 1 {
		t.Fatalf("layers after pulling busybox: %d, want 1", n)
	}
	mustRunEnv(t, env, "pull", "-q", plus())
	two, dataTwo := duBytes(graph), duBytes(dataDir(env))
	checkLayerStore(t, env, "the pulls")
	const unique = 4 << 20 // plus's own layer: one 4 MiB file
	t.Logf("layer store: %d bytes with busybox, %d with plus too (+%d; its own layer %d)", one, two, two-one, unique)
	t.Logf("data directory: %d bytes with busybox, %d with plus too (+%d)", dataOne, dataTwo, dataTwo-dataOne)
	if two-one > unique*105/100 {
		t.Errorf("the second image on the same base grew the store by %d bytes, want ≤ its own layer (%d) + 5%%", two-one, unique)
	}
	// Each layer once: no compressed copy beside the layer store
	// (manifests and configs stay).
	if dataTwo-dataOne > unique*105/100 {
		t.Errorf("the second image on the same base grew the data directory by %d bytes, want ≤ its own layer (%d) + 5%%", dataTwo-dataOne, unique)
	}
	if l := layerBlobs(t, env); len(l) != 0 {
		t.Errorf("layer blobs in images/blobs after the pulls: %v", l)
	}
	if n := len(storeBlobs(t, env)); n != 4 {
		t.Errorf("blobs in images/blobs: %d, want 4 (two manifests, two configs)", n)
	}
	if n := len(storedLayers(t, graph)); n != 2 {
		t.Errorf("layers after pulling plus: %d, want 2 (the base once)", n)
	}

	r := mustRunEnv(t, env, "run", "-d", "--pull=never", "localhost/plus:latest", "sleep", "60")
	id := strings.TrimSpace(r.stdout)
	defer urunEnv(t, env, "rm", "-f", id)
	mustRunEnv(t, env, "rmi", "localhost/busybox:latest")
	if n := len(storedLayers(t, graph)); n != 2 {
		t.Errorf("rmi of busybox removed a layer plus uses: %d left", n)
	}
	r = mustRunEnv(t, env, "exec", id, "sh", "-c", "wc -c </plus/blob; /bin/busybox true && echo base-ok")
	if r.stdout != "4194304\nbase-ok\n" {
		t.Errorf("the plus container after rmi of busybox: %s", r)
	}
	mustRunEnv(t, env, "rm", "-f", id)
	mustRunEnv(t, env, "rmi", "localhost/plus:latest")
	if l := storedLayers(t, graph); len(l) != 0 {
		t.Errorf("layers after rmi of both images: %v", l)
	}
	if n := duBytes(graph); n > 128<<10 {
		t.Errorf("the layer store holds %d bytes after rmi of every image", n)
	}
}

// The stacked image (owners, modes, setuid, links, whiteouts, an opaque
// directory across layers) runs from the layer store exactly as its
// layers say, on both overlay tiers and the copy tier (which merges the
// layers' diff directories).
func TestLayerStoreStackedImageExact(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(imagesDir, "stacked", "expected.txt"))
	if err != nil {
		t.Fatal(err)
	}
	first, want, _ := strings.Cut(string(b), "\n")
	cmd, ok := strings.CutPrefix(first, "# cmd: ")
	if !ok {
		t.Fatalf("expected.txt has no command line: %q", first)
	}
	env := storeEnv(t)
	mustRunEnv(t, env, "pull", "-q", stacked())
	if n := len(storedLayers(t, layerGraph(env))); n != 3 {
		t.Fatalf("layers of the stacked image in the layer store: %d, want 3", n)
	}
	for _, tier := range []string{"native", "fuse", "copy"} {
		r := mustRunEnv(t, env, "--debug", "run", "--pull=never", "--rootfs-tier", tier, "--user", "0:0", "localhost/stacked:latest", "sh", "-c", cmd)
		if !strings.Contains(r.stderr, "layer store") || !strings.Contains(r.stderr, "3 layers") {
			t.Errorf("%s: the run did not use the layer store: %s", tier, r.stderr)
		}
		if r.stdout != want {
			t.Errorf("%s: tree differs from the image's layers:\n%s", tier, diffLines(want, r.stdout))
		}
	}
}

// The hard image (owners, modes, setuid, hard links, whiteouts, an
// opaque directory, and a hard link in its last layer to a file of a
// lower layer, which containers/storage's PutLayer cannot apply) is
// stored in the layer store (lowerlinks_child.go copies the link's
// target up into the layer) and runs from it exactly as its layers say,
// as kernel overlayfs and as fuse-overlayfs lower directories and merged
// by the copy tier.
func TestLayerStoreHardImageExact(t *testing.T) {
	cmd, want := hardExpected(t)
	env := storeEnv(t)
	r := mustRunEnv(t, env, "--debug", "pull", "-q", hard())
	if strings.Contains(r.stderr, "after the copy") || strings.Contains(r.stderr, "note:") {
		t.Errorf("the hard image did not go into the layer store at pull:\n%s", r.stderr)
	}
	if n := len(storedLayers(t, layerGraph(env))); n != 4 {
		t.Fatalf("layers of the hard image in the layer store: %d, want 4", n)
	}
	for _, tier := range []string{"native", "fuse", "copy"} {
		c := cmd
		if tier == "fuse" {
			// fuse-overlayfs counts a hard link only once the name was
			// looked up (docs/TROUBLESHOOTING.md).
			c = "find /data /etc >/dev/null; " + cmd
		}
		r := mustRunEnv(t, env, "--debug", "run", "--pull=never", "--rootfs-tier", tier, "--user", "0:0", "--entrypoint", "/bin/sh", "localhost/hard:latest", "-c", c)
		if !strings.Contains(r.stderr, "layer store") || !strings.Contains(r.stderr, "4 layers") {
			t.Errorf("%s: the run did not use the layer store: %s", tier, r.stderr)
		}
		if r.stdout != want {
			t.Errorf("%s: tree differs from the image's layers:\n%s", tier, diffLines(want, r.stdout))
		}
	}
}

// podman and skopeo read urun's layer store with --root: the same image,
// no copy.
func TestLayerStorePodmanReads(t *testing.T) {
	if _, err := exec.LookPath("podman"); err != nil {
		t.Fatal("podman is not installed: tests/harness/lib.sh installs it")
	}
	env := storeEnv(t)
	graph := layerGraph(env)
	mustRunEnv(t, env, "pull", "-q", plus())
	layers := storedLayers(t, graph)
	run := t.TempDir()
	podman := func(args ...string) (string, error) {
		cmd := exec.Command("podman", append([]string{"--root", graph, "--runroot", run, "--storage-driver", "overlay", "--runtime", "runc", "--cgroup-manager", "cgroupfs", "--events-backend", "none"}, args...)...)
		out, err := cmd.Output()
		if ee, ok := err.(*exec.ExitError); ok {
			return string(out), &podmanError{err, string(ee.Stderr)}
		}
		return string(out), err
	}
	out, err := podman("images", "--format", "{{.Repository}}:{{.Tag}}")
	if err != nil || !strings.Contains(out, "localhost/plus:latest") {
		t.Fatalf("podman images on urun's store: %v\n%s", err, out)
	}
	out, err = podman("run", "--rm", "--network", "none", "localhost/plus:latest", "sh", "-c", "wc -c </plus/blob")
	if err != nil || out != "4194304\n" {
		t.Errorf("podman run from urun's store: %v\n%q", err, out)
	}
	if got := storedLayers(t, graph); len(got) != len(layers) {
		t.Errorf("podman's run changed the layers: %v, before %v", got, layers)
	}
	sk, err := exec.Command("skopeo", "inspect", "containers-storage:[overlay@"+graph+"+"+run+"]localhost/plus:latest").Output()
	var info struct{ Layers []string }
	if err != nil || json.Unmarshal(sk, &info) != nil || len(info.Layers) != 2 {
		t.Errorf("skopeo inspect of urun's store: %v\n%s", err, sk)
	}
	// podman's run left its own bookkeeping (libpod/); urun's rmi still
	// removes the image and its layers.
	mustRunEnv(t, env, "rmi", "localhost/plus:latest")
	if l := storedLayers(t, graph); len(l) != 0 {
		t.Errorf("layers after rmi: %v", l)
	}
}

type podmanError struct {
	err    error
	stderr string
}

func (e *podmanError) Error() string { return e.err.Error() + ": " + e.stderr }

// The copy tier from the layer store for a kept container: the layers
// merged once into its writable layer, its writes kept across stop and
// start, nothing left after rm.
func TestLayerStoreCopyTierKept(t *testing.T) {
	env := storeEnv(t)
	mustRunEnv(t, env, "pull", "-q", plus())
	name := "copy-kept"
	urunEnv(t, env, "rm", "-f", name)
	r := mustRunEnv(t, env, "--debug", "run", "-d", "--name", name, "--pull=never", "--rootfs-tier", "copy", "localhost/plus:latest",
		"sh", "-c", "echo kept >>/kept; sleep 300")
	t.Cleanup(func() { urunEnv(t, env, "rm", "-f", name) })
	if !strings.Contains(r.stderr, "2 layers") {
		t.Errorf("the copy tier did not take the layer store's stack: %s", r.stderr)
	}
	if r := mustRunEnv(t, env, "exec", name, "sh", "-c", "wc -c </plus/blob; /bin/busybox true && cat /kept"); r.stdout != "4194304\nkept\n" {
		t.Errorf("the copy of plus's two layers: %s", r)
	}
	mustRunEnv(t, env, "stop", "-t", "0", name)
	mustRunEnv(t, env, "start", name)
	if r := mustRunEnv(t, env, "exec", name, "cat", "/kept"); r.stdout != "kept\nkept\n" {
		t.Errorf("the copy's writes across stop and start: %s", r)
	}
	mustRunEnv(t, env, "rm", "-f", name)
	dir := strings.TrimPrefix(env[0], "XDG_DATA_HOME=")
	if ents, _ := os.ReadDir(filepath.Join(dir, "urun", "containers")); len(ents) != 0 {
		t.Errorf("the copy is left after rm: %v", ents)
	}
}

// A pull unpacks each layer into the layer store as its blob arrives
// (urun-image's import-layers helper) and records the image itself, so
// the pull's own import after the copy finds it done; the image then
// runs from the layer store and containers/storage's check passes. A
// pull whose copy fails half-way (a corrupt second layer) leaves no
// layer and no helper behind.
func TestLayerStorePullUnpacksWhileCopying(t *testing.T) {
	reg := startRegistry(t)
	ref := reg.push(t, "plus", "overlap")
	env := storeEnv(t)
	graph := layerGraph(env)
	r := mustRunEnv(t, env, "--debug", "pull", "-q", "--tls-verify=false", ref)
	if !strings.Contains(r.stderr, "the image's 2 layers are stored") || strings.Contains(r.stderr, "after the copy") {
		t.Errorf("the pull did not unpack while copying:\n%s", r.stderr)
	}
	if n := len(storedLayers(t, graph)); n != 2 {
		t.Errorf("layers in the layer store after the pull: %d, want 2", n)
	}
	checkLayerStore(t, env, "the pull")
	// A second pull finds the layers stored and unpacks nothing.
	r = mustRunEnv(t, env, "--debug", "pull", "-q", "--tls-verify=false", ref)
	if !strings.Contains(r.stderr, "the image's 2 layers are stored") || strings.Contains(r.stderr, "after the copy") {
		t.Errorf("the second pull:\n%s", r.stderr)
	}
	run := mustRunEnv(t, env, "--debug", "run", "--pull=never", ref, "sh", "-c", "wc -c </plus/blob")
	if run.stdout != "4194304\n" || !strings.Contains(run.stderr, "2 layers") {
		t.Errorf("run from the layer store: %s", run)
	}

	// plus's own layer corrupted in the registry: the base arrives and
	// may be unpacked, the second fails its digest.
	layers := layerDigests(t, "plus")
	top := layers[len(layers)-1]
	bad := startRegistry(t)
	badRef := bad.push(t, "plus", "overlap-corrupt")
	bad.corruptBlob(t, top)
	before := myProcesses(t)
	env2 := storeEnv(t)
	if r := urunEnv(t, env2, "pull", "-q", "--tls-verify=false", badRef); r.code != 125 || !strings.Contains(strings.ToLower(r.stderr), "digest") {
		t.Fatalf("want a digest error and exit 125: %s", r)
	}
	if l := storedLayers(t, layerGraph(env2)); len(l) != 0 {
		t.Errorf("layers left by the failed pull: %v", l)
	}
	checkNoLeftovers(t, before)
}

// A tag that moves to another image at the registry: the second pull's
// image takes the name in the layer store too (containers/storage
// refuses a name another image holds), so it runs from the layer store.
func TestLayerStoreTagMoves(t *testing.T) {
	reg := startRegistry(t)
	ref := reg.push(t, "busybox", "moving:1")
	env := storeEnv(t)
	mustRunEnv(t, env, "pull", "-q", "--tls-verify=false", ref)
	reg.push(t, "plus", "moving:1")
	r := mustRunEnv(t, env, "--debug", "pull", "--tls-verify=false", ref)
	if strings.Contains(r.stderr, "note:") || strings.Contains(r.stderr, "after the copy") {
		t.Errorf("the second pull of a moved tag did not go into the layer store:\n%s", r.stderr)
	}
	run := mustRunEnv(t, env, "--debug", "run", "--pull=never", ref, "sh", "-c", "wc -c </plus/blob")
	if run.stdout != "4194304\n" || !strings.Contains(run.stderr, "2 layers") {
		t.Errorf("run of the moved tag from the layer store: %s", run)
	}
	checkLayerStore(t, env, "the moved tag's pulls and run")
}

// containers/storage's check (`urun system check`) is clean on every test
// image, the stacked image's /data (which its layer 3 leaves out: the
// directory is layer 2's) shows layer 2's time, mode and owner (the
// unpacker made it with the time of the pull, which the check reported
// as "layer content modified": impliedparents_child.go), and a real
// change to a stored layer's file (same size, same time: only its bytes)
// fails the check, naming the layer and the file.
func TestLayerStoreCheck(t *testing.T) {
	env := storeEnv(t)
	graph := layerGraph(env)
	for _, img := range []string{busybox(), hard(), farids(), stacked(), plus(), "oci:" + filepath.Join(imagesDir, "exposed")} {
		mustRunEnv(t, env, "pull", "-q", img)
		checkLayerStore(t, env, "pulling "+img)
	}
	// Layer 2's /data: mtime 0 (mkimage's time), 0755, root.
	r := mustRunEnv(t, env, "run", "--rm", "--pull=never", "--user", "0:0", "localhost/stacked:latest", "stat", "-c", "%Y %a %u:%g", "/data")
	if r.stdout != "0 755 0:0\n" {
		t.Errorf("/data in the stacked image (left out by its layer 3): %q, want layer 2's \"0 755 0:0\"", r.stdout)
	}

	// A directory's time changed in a layer (layer 3's /data, which its
	// tar leaves out) fails the check; what an import killed between the
	// unpack and the fix of that directory leaves (the same time, and
	// the layer marked pending in DATA/storage/urun-pending) is finished
	// by the check, which then passes.
	var third string
	for _, l := range storedLayers(t, graph) {
		if _, err := os.Lstat(filepath.Join(graph, "overlay", l, "diff", "data", "opq", "new")); err == nil {
			third = l
		}
	}
	if third == "" {
		t.Fatal("no stored layer holds data/opq/new")
	}
	data := filepath.Join(graph, "overlay", third, "diff", "data")
	now := time.Now()
	if err := os.Chtimes(data, now, now); err != nil {
		t.Fatal(err)
	}
	r = urunEnv(t, env, "system", "check")
	if r.code != 1 || !strings.Contains(r.stdout, "layer "+third[:12]) || !strings.Contains(r.stdout, "/data(mtime:") {
		t.Errorf("system check of a layer whose /data time was changed: want exit 1 and a line for layer %.12s and /data's mtime: %s", third, r)
	}
	if err := os.MkdirAll(filepath.Join(graph, "urun-pending"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(graph, "urun-pending", third), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	checkLayerStore(t, env, "marking a layer pending (an import killed before its fix)")
	if fi, err := os.Stat(data); err != nil || fi.ModTime().Unix() != 0 {
		t.Errorf("layer 3's /data after the check finished its fix: %v, %v; want time 0", fi.ModTime(), err)
	}
	if _, err := os.Stat(filepath.Join(graph, "urun-pending", third)); !os.IsNotExist(err) {
		t.Errorf("the pending mark stayed after the check finished the fix: %v", err)
	}

	// The layer holding /data/root-owned ("root\n", owned by the
	// container's root, which is this user in the store's mapping).
	var file, layer string
	for _, l := range storedLayers(t, graph) {
		p := filepath.Join(graph, "overlay", l, "diff", "data", "root-owned")
		if _, err := os.Lstat(p); err == nil {
			file, layer = p, l
		}
	}
	if file == "" {
		t.Fatal("no stored layer holds data/root-owned")
	}
	fi, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte("ROOT\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(file, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	r = urunEnv(t, env, "system", "check")
	if r.code != 1 || !strings.Contains(r.stdout, "layer "+layer[:12]) || !strings.Contains(r.stdout, "data/root-owned") {
		t.Errorf("system check of a layer whose file was changed: want exit 1 and a line for layer %.12s and data/root-owned: %s", layer, r)
	}
	// Put back, the check is clean again.
	if err := os.WriteFile(file, []byte("root\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(file, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	checkLayerStore(t, env, "putting the file back")
}
