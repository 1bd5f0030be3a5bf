package integration

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Each layer is stored once (docs/STORE.md, "One copy of each layer"):
// once the layer store holds a layer, its compressed blob leaves
// DATA/images/blobs; manifests and configs stay. push, save, keep-id
// trees and imports read the layer store instead.

// layerBlobs lists the blobs of env's OCI layout that are not JSON
// (manifests, configs and indexes are): the layer blobs.
func layerBlobs(t *testing.T, env []string) []string {
	t.Helper()
	dir := filepath.Join(strings.TrimPrefix(env[0], "XDG_DATA_HOME="), "urun", "images", "blobs", "sha256")
	var out []string
	for _, b := range storeBlobs(t, env) {
		data, err := os.ReadFile(filepath.Join(dir, b))
		if err != nil {
			t.Fatal(err)
		}
		if !json.Valid(data) {
			out = append(out, b)
		}
	}
	return out
}

// dataDir is the urun data directory of env.
func dataDir(env []string) string {
	return filepath.Join(strings.TrimPrefix(env[0], "XDG_DATA_HOME="), "urun")
}

// diffIDs are the image's layers' uncompressed digests, as inspect shows them.
func diffIDs(t *testing.T, env []string, img string) string {
	t.Helper()
	return strings.TrimSpace(mustRunEnv(t, env, "image", "inspect", "-f", "{{json .RootFS.Layers}}", img).stdout)
}

// A keep-id run of an image whose blobs are gone: its tree is unpacked
// from the layer store's layers (each layer's Diff streamed into the
// unpack helper), and shows every owner, mode, link and whiteout as the
// image's layers say.
func TestLayerStoreBlobsKeepID(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(imagesDir, "stacked", "expected.txt"))
	if err != nil {
		t.Fatal(err)
	}
	first, want, _ := strings.Cut(string(b), "\n")
	cmd, _ := strings.CutPrefix(first, "# cmd: ")
	env := storeEnv(t)
	mustRunEnv(t, env, "pull", "-q", stacked())
	if l := layerBlobs(t, env); len(l) != 0 {
		t.Fatalf("layer blobs left after the pull: %v", l)
	}
	r := mustRunEnv(t, env, "--debug", "run", "--rm", "--pull=never", "--userns=keep-id", "--user", "0:0", "localhost/stacked:latest", "sh", "-c", cmd)
	if r.stdout != want {
		t.Errorf("keep-id tree built from the layer store differs from the image's layers:\n%s", diffLines(want, r.stdout))
	}
	r = mustRunEnv(t, env, "run", "--rm", "--pull=never", "--userns=keep-id", "localhost/stacked:latest", "id", "-u")
	if strings.TrimSpace(r.stdout) != strings.TrimSpace(mustOutput(t, "id", "-u")) {
		t.Errorf("keep-id run: id -u %q, want mine", r.stdout)
	}
	if l := layerBlobs(t, env); len(l) != 0 {
		t.Errorf("layer blobs after the keep-id run: %v", l)
	}
	checkLayerStore(t, env, "the keep-id run")
}

func mustOutput(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return string(out)
}

// A store an older urun filled (every layer both in the layer store and
// as a blob, made here by pulling again with the layer store off, which
// keeps blobs as before) loses the duplicate blobs at the next write
// command, and `system check` passes before and after. With the layer
// store off, blobs stay.
func TestLayerStoreBlobsMigration(t *testing.T) {
	env := storeEnv(t)
	mustRunEnv(t, env, "pull", "-q", busybox())
	if l := layerBlobs(t, env); len(l) != 0 {
		t.Fatalf("layer blobs after the pull: %v", l)
	}
	off := append(append([]string{}, env...), "URUN_LAYER_STORE=0")
	mustRunEnv(t, off, "pull", "-q", busybox())
	if l := layerBlobs(t, env); len(l) != 1 {
		t.Fatalf("layer blobs after a pull with URUN_LAYER_STORE=0: %v, want busybox's one", l)
	}
	// A run with the layer store off unpacks its own tree from the blob.
	if r := mustRunEnv(t, off, "run", "--rm", "--pull=never", "localhost/busybox:latest", "echo", "off"); r.stdout != "off\n" {
		t.Errorf("run with the layer store off: %s", r)
	}
	checkLayerStore(t, env, "the old-style store")
	// The next write command (a pull of another image) removes it.
	mustRunEnv(t, env, "pull", "-q", plus())
	if l := layerBlobs(t, env); len(l) != 0 {
		t.Errorf("layer blobs after the next pull: %v", l)
	}
	checkLayerStore(t, env, "the migration")
	for _, img := range []string{"localhost/busybox:latest", "localhost/plus:latest"} {
		if r := mustRunEnv(t, env, "run", "--rm", "--pull=never", img, "echo", "ok"); r.stdout != "ok\n" {
			t.Errorf("%s after the migration: %s", img, r)
		}
	}
	// With the layer store off a run of an image without blobs builds its
	// tree from the layer store's layers.
	if r := mustRunEnv(t, off, "run", "--rm", "--pull=never", "localhost/plus:latest", "wc", "-c", "/plus/blob"); !strings.HasPrefix(r.stdout, "4194304") {
		t.Errorf("run of plus (no blobs) with the layer store off: %s", r)
	}
}

// kill -9 of `urun pull` just after its layer store import, when the
// blobs are being removed: the check passes, whatever the kill left, and
// the next command (another pull) leaves no layer blob and the image
// runs.
func TestLayerStoreBlobsKilled(t *testing.T) {
	env := storeEnv(t)
	mustRunEnv(t, env, "pull", "-q", busybox())
	left := 0
	for _, delay := range []time.Duration{0, time.Millisecond, 2 * time.Millisecond, 5 * time.Millisecond, 10 * time.Millisecond} {
		before := myProcesses(t)
		cmd := exec.Command(urunBin, "pull", "-q", plus())
		cmd.Env = append(os.Environ(), env...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		// Wait for the layer store helper to come and go: the import is
		// done, the blob removal follows.
		seen, deadline := false, time.Now().Add(60*time.Second)
	wait:
		for time.Now().Before(deadline) {
			select {
			case <-done:
				break wait
			default:
			}
			pid := helperPid("__podman-store")
			if pid != 0 {
				seen = true
			} else if seen {
				break
			}
			time.Sleep(200 * time.Microsecond)
		}
		time.Sleep(delay)
		cmd.Process.Signal(syscall.SIGKILL)
		<-done
		checkNoLeftovers(t, before)
		checkLayerStore(t, env, "a pull killed at the blob removal")
		if len(layerBlobs(t, env)) > 0 {
			left++
		}
		mustRunEnv(t, env, "pull", "-q", plus())
		if l := layerBlobs(t, env); len(l) != 0 {
			t.Errorf("delay %v: layer blobs after the next pull: %v", delay, l)
		}
		if r := mustRunEnv(t, env, "run", "--rm", "--pull=never", "localhost/plus:latest", "wc", "-c", "/plus/blob"); !strings.HasPrefix(r.stdout, "4194304") {
			t.Errorf("delay %v: plus after the killed pull: %s", delay, r)
		}
		mustRunEnv(t, env, "rmi", "localhost/plus:latest")
		checkLayerStore(t, env, "the next pull and rmi")
	}
	t.Logf("%d of 5 kills left layer blobs for the next command", left)
}

// A pull of an image whose layers the layer store holds downloads no
// layer again (its blob is gone, the layer is there): the registry's
// copies of both layers are corrupted after the first pull, and the
// second pull (which would fail on a digest mismatch if it fetched one)
// gives the same image; no layer blob is left.
func TestLayerStoreBlobsRepull(t *testing.T) {
	reg := startRegistry(t)
	ref := reg.push(t, "plus", "test/plus:1")
	env := storeEnv(t)
	first := mustRunEnv(t, env, "pull", "--tls-verify=false", ref)
	var layers []string
	for _, line := range strings.Split(first.stderr, "\n") {
		if d, ok := strings.CutPrefix(line, "Copying blob sha256:"); ok {
			layers = append(layers, strings.TrimSpace(d))
		}
	}
	if len(layers) != 2 {
		t.Fatalf("first pull: %d blobs copied, want 2:\n%s", len(layers), first.stderr)
	}
	for _, d := range layers {
		reg.corruptBlob(t, d)
	}
	again := mustRunEnv(t, env, "pull", "--tls-verify=false", ref)
	if again.stdout != first.stdout {
		t.Errorf("second pull printed %q, the first %q", again.stdout, first.stdout)
	}
	if l := layerBlobs(t, env); len(l) != 0 {
		t.Errorf("layer blobs after the second pull: %v", l)
	}
	if r := mustRunEnv(t, env, "run", "--rm", "--pull=never", ref, "wc", "-c", "/plus/blob"); !strings.HasPrefix(r.stdout, "4194304") {
		t.Errorf("run after the second pull: %s", r)
	}
	checkLayerStore(t, env, "the pulls")
}
