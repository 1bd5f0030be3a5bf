package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// rmiStore is a test store holding busybox as localhost/busybox:latest.
func rmiStore(t *testing.T) ([]string, string) {
	t.Helper()
	env := storeEnv(t)
	mustRunEnv(t, env, "pull", "-q", busybox())
	return env, "localhost/busybox:latest"
}

// uniqueName is a container name no other test (or earlier run) uses.
func uniqueName(t *testing.T, what string) string {
	return fmt.Sprintf("%s-%d-%s", what, os.Getpid(), strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-")))
}

// checkRefused asserts rmi of img fails with one line naming the
// container and both fixes, and that the image still runs.
func checkRefused(t *testing.T, env []string, img, container string) {
	t.Helper()
	r := urunEnv(t, env, "rmi", img)
	if r.code != 125 || len(lines(r.stderr)) != 1 {
		t.Fatalf("rmi of an image a container uses: want exit 125 and one line, got %s", r)
	}
	for _, want := range []string{container, "urun rm ", "urun rmi -f"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("refusal does not name %q: %s", want, r.stderr)
		}
	}
	mustRunEnv(t, env, "run", "--pull=never", img, "true")
}

func TestRmiRefusedWhileCreatedContainer(t *testing.T) {
	env, img := rmiStore(t)
	name := uniqueName(t, "created")
	mustRunEnv(t, env, "create", "--name", name, img, "true")
	t.Cleanup(func() { urunEnv(t, env, "rm", "-f", name) })
	checkRefused(t, env, img, name)
	mustRunEnv(t, env, "rm", name)
	mustRunEnv(t, env, "rmi", img)
	if left := rootfsEntries(t, env); len(left) != 0 {
		t.Errorf("rmi left %v under rootfs/", left)
	}
}

func TestRmiRefusedWhileStoppedContainer(t *testing.T) {
	env, img := rmiStore(t)
	name := uniqueName(t, "stopped")
	mustRunEnv(t, env, "run", "--rm=false", "--name", name, img, "true")
	t.Cleanup(func() { urunEnv(t, env, "rm", "-f", name) })
	checkRefused(t, env, img, name)
	// By id too: all names go, so the containers matter.
	id := listImages(t, env)[0].ID
	if r := urunEnv(t, env, "rmi", id); r.code != 125 || !strings.Contains(r.stderr, name) {
		t.Errorf("rmi by id of an image in use: %s", r)
	}
	mustRunEnv(t, env, "container", "prune", "-f")
	mustRunEnv(t, env, "rmi", img)
	if imgs := listImages(t, env); len(imgs) != 0 {
		t.Errorf("images after rmi: %v", imgs)
	}
}

// A second name keeps the image: rmi of one name only untags, as podman,
// even while containers use the image.
func TestRmiUntagWhileInUse(t *testing.T) {
	env, img := rmiStore(t)
	mustRunEnv(t, env, "tag", img, "localhost/other:1")
	name := uniqueName(t, "untag")
	mustRunEnv(t, env, "create", "--name", name, img, "true")
	t.Cleanup(func() { urunEnv(t, env, "rm", "-f", name) })
	if r := mustRunEnv(t, env, "rmi", img); !strings.Contains(r.stdout, "Untagged") {
		t.Errorf("rmi of one of two names: %s", r)
	}
	checkRefused(t, env, "localhost/other:1", name)
}

func TestRmiForceRemovesContainers(t *testing.T) {
	before := myProcesses(t)
	env, img := rmiStore(t)
	created, stopped, running := uniqueName(t, "c"), uniqueName(t, "s"), uniqueName(t, "r")
	mustRunEnv(t, env, "create", "--name", created, img, "true")
	mustRunEnv(t, env, "run", "--rm=false", "--name", stopped, img, "true")
	mustRunEnv(t, env, "run", "-d", "--name", running, img, "sleep", "1000")
	t.Cleanup(func() { urunEnv(t, env, "rm", "-f", created, stopped, running) })
	r := mustRunEnv(t, env, "rmi", "-f", img)
	if !strings.Contains(r.stdout, "Deleted:") {
		t.Errorf("rmi -f: %s", r)
	}
	ps := psAll(t)
	for _, n := range []string{created, stopped, running} {
		if _, ok := ps[n]; ok {
			t.Errorf("container %s is left after rmi -f", n)
		}
	}
	if imgs := listImages(t, env); len(imgs) != 0 {
		t.Errorf("images after rmi -f: %v", imgs)
	}
	if left := rootfsEntries(t, env); len(left) != 0 {
		t.Errorf("rmi -f left %v under rootfs/", left)
	}
	checkNoLeftovers(t, before)
}

// rmi and load race against runs of the same image. Each run either
// works or fails with the one clear line that the image is not known;
// none fails half-way (a layer or tree deleted under it), and nothing is
// left: no container, no .partial tree, no lock, no pin of a gone image.
func TestRmiRaceWithRun(t *testing.T) {
	before := myProcesses(t)
	env, img := rmiStore(t)
	archive := filepath.Join(t.TempDir(), "busybox.tar")
	mustRunEnv(t, env, "save", "-q", "-o", archive, img)

	const runners, runsEach = 2, 15
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, notKnown := 0, 0
	done := make(chan struct{})
	for range runners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range runsEach {
				r := urunEnv(t, env, "run", "--pull=never", img, "true")
				mu.Lock()
				switch {
				case r.code == 0:
					ok++
				case r.code == 125 && len(lines(r.stderr)) == 1 && strings.Contains(r.stderr, "image not known locally"):
					notKnown++
				default:
					t.Errorf("a run racing rmi failed otherwise: %s", r)
				}
				mu.Unlock()
			}
		}()
	}
	go func() { wg.Wait(); close(done) }()

	removed, refused := 0, 0
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
		}
		r := urunEnv(t, env, "rmi", img)
		switch {
		case r.code == 0 && r.stderr == "":
			removed++
		case r.code == 125 && strings.Contains(r.stderr, "is in use by"):
			refused++
		default:
			t.Errorf("rmi racing runs: %s", r)
		}
		mustRunEnv(t, env, "load", "-q", "-i", archive, img)
	}
	t.Logf("runs: %d ok, %d image not known; rmi: %d removed, %d refused (a container of the image existed)", ok, notKnown, removed, refused)

	for n, c := range psAll(t) {
		if containerUses(t, c.ID, img) {
			t.Errorf("container %s of the raced image is left", n)
		}
	}
	for _, e := range rootfsEntries(t, env) {
		if strings.HasSuffix(e, ".partial") || strings.HasSuffix(e, ".lock") {
			t.Errorf("left under rootfs/: %s", e)
		}
	}
	// The reloaded image may have another digest than the pulled one
	// (save and load rewrite the manifest): the trees of an image whose
	// name moved on go too.
	if r := mustRunEnv(t, env, "rmi", img); r.stderr != "" {
		t.Errorf("rmi after the race: %s", r)
	}
	if left := rootfsEntries(t, env); len(left) != 0 {
		t.Errorf("rmi left %v under rootfs/", left)
	}
	if blobs := storeBlobs(t, env); len(blobs) != 0 {
		t.Errorf("rmi left %d blobs", len(blobs))
	}
	pins, _ := os.ReadDir(filepath.Join(strings.TrimPrefix(env[0], "XDG_DATA_HOME="), "urun", "images", "pins"))
	if len(pins) != 0 {
		t.Errorf("%d pin files left after the image is gone", len(pins))
	}
	checkNoLeftovers(t, before)
}

// containerUses reports whether container id was started from img.
func containerUses(t *testing.T, id, img string) bool {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(stateRoot(t), id, "state.json"))
	return err == nil && strings.Contains(string(b), `"image": "`+img+`"`)
}

// rmi -a (podman's): every image once, whatever its names; one a
// container uses stays without -f, named in the error, and the others go;
// with -f its container goes too, and the layer store is empty after.
func TestRmiAll(t *testing.T) {
	reg := startRegistry(t)
	a := reg.push(t, "busybox", "test/rmi-all-a:1")
	b := reg.push(t, "hard", "test/rmi-all-b:1")
	env := storeEnv(t)
	mustRunEnv(t, env, "pull", "-q", "--tls-verify=false", a)
	mustRunEnv(t, env, "pull", "-q", "--tls-verify=false", b)
	mustRunEnv(t, env, "tag", b, "localhost/rmi-all-b:other")
	name := uniqueName(t, "rmi-all")
	t.Cleanup(func() { urunEnv(t, env, "rm", "-f", name) })
	mustRunEnv(t, env, "create", "--name", name, "--pull=never", a, "true")
	if r := urunEnv(t, env, "rmi", "-a", a); r.code != 125 || !strings.Contains(r.stderr, "not both") {
		t.Errorf("rmi -a with an image: %s", r)
	}
	r := urunEnv(t, env, "rmi", "-a")
	if r.code != 125 || !strings.Contains(r.stderr, "in use by container "+name) || len(lines(r.stderr)) != 1 {
		t.Errorf("rmi -a with an image in use: want exit 125 and one line naming the container, got %s", r)
	}
	list := listImages(t, env)
	if len(list) != 1 || list[0].Name != a {
		t.Fatalf("after rmi -a, want only %s (in use), got %+v", a, list)
	}
	mustRunEnv(t, env, "rmi", "-a", "-f")
	if list := listImages(t, env); len(list) != 0 {
		t.Errorf("images after rmi -a -f: %+v", list)
	}
	if r := urunEnv(t, env, "inspect", name); r.code == 0 {
		t.Errorf("the container of the removed image is still there: %s", r.stdout)
	}
	if got := storedLayers(t, layerGraph(env)); len(got) != 0 {
		t.Errorf("rmi -a -f left layers in the layer store: %v", got)
	}
	if r := urunEnv(t, env, "rmi"); r.code != 125 || !strings.Contains(r.stderr, "--all") {
		t.Errorf("rmi without arguments should point at --all: %s", r)
	}
}
