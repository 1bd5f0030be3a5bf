package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// helperPid is the pid of a process of this user whose command line
// holds marker, or 0.
func helperPid(marker string) int {
	ents, _ := os.ReadDir("/proc")
	me := os.Getuid()
	for _, e := range ents {
		var pid int
		if _, err := fmt.Sscan(e.Name(), &pid); err != nil {
			continue
		}
		fi, err := os.Stat("/proc/" + e.Name())
		if err != nil || int(fi.Sys().(*syscall.Stat_t).Uid) != me {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err == nil && strings.Contains(string(b), marker) {
			return pid
		}
	}
	return 0
}

// killDuringHelper runs urun with args, waits until urun-image's layer
// store child (`__podman-store`) runs, lets it work for delay, then kills
// urun with SIGKILL (its helpers die with it: parent-death signal). It
// says whether the helper was still running at the kill.
func killDuringHelper(t *testing.T, env []string, delay time.Duration, args ...string) bool {
	t.Helper()
	cmd := exec.Command(urunBin, args...)
	cmd.Env = append(os.Environ(), env...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	deadline := time.Now().Add(60 * time.Second)
	pid := 0
	for pid == 0 {
		select {
		case <-done:
			t.Fatalf("urun %s ended before its layer store helper was seen", strings.Join(args, " "))
		default:
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			<-done
			t.Fatalf("urun %s: no layer store helper in 60 s", strings.Join(args, " "))
		}
		pid = helperPid("__podman-store")
	}
	time.Sleep(delay)
	alive := syscall.Kill(pid, 0) == nil
	cmd.Process.Signal(syscall.SIGKILL)
	<-done
	return alive
}

// checkLayerStore: containers/storage's own check passes.
func checkLayerStore(t *testing.T, env []string, after string) {
	t.Helper()
	if r := urunEnv(t, env, "system", "check"); r.code != 0 || !strings.HasSuffix(r.stdout, ": ok\n") {
		t.Fatalf("system check after %s: %s", after, r)
	}
}

var killDelays = []time.Duration{0, 2 * time.Millisecond, 5 * time.Millisecond, 10 * time.Millisecond, 20 * time.Millisecond, 40 * time.Millisecond, 80 * time.Millisecond}

// kill -9 of urun while its helper unpacks an image into the layer store
// (the import at pull): containers/storage's check passes, the base image
// already there still runs, and the next pull imports the image whole.
func TestLayerStoreImportKilled(t *testing.T) {
	env := storeEnv(t)
	graph := layerGraph(env)
	mustRunEnv(t, env, "pull", "-q", busybox())
	hit := 0
	for _, delay := range killDelays {
		before := myProcesses(t)
		if killDuringHelper(t, env, delay, "pull", "-q", plus()) {
			hit++
		}
		checkNoLeftovers(t, before)
		checkLayerStore(t, env, "a killed import")
		mustRunEnv(t, env, "run", "--rm", "--pull=never", "localhost/busybox:latest", "true")
		mustRunEnv(t, env, "pull", "-q", plus())
		r := mustRunEnv(t, env, "--debug", "run", "--rm", "--pull=never", "localhost/plus:latest", "wc", "-c", "/plus/blob")
		if !strings.Contains(r.stderr, "2 layers") || !strings.HasPrefix(r.stdout, "4194304") {
			t.Errorf("delay %v: plus after the killed import and a pull: %s", delay, r)
		}
		checkLayerStore(t, env, "the next pull")
		mustRunEnv(t, env, "rmi", "localhost/plus:latest")
		if n := len(storedLayers(t, graph)); n != 1 {
			t.Errorf("delay %v: %d layers after rmi of plus, want busybox's only", delay, n)
		}
	}
	t.Logf("%d of %d kills landed while the import ran", hit, len(killDelays))
	if hit == 0 {
		t.Fatal("no kill landed while the layer store helper ran")
	}
}

// kill -9 of `urun rmi` while its helper deletes the image from the layer
// store: the check passes, the other image runs, and the next pull and
// rmi leave the store as it was.
func TestLayerStoreRmiKilled(t *testing.T) {
	env := storeEnv(t)
	graph := layerGraph(env)
	mustRunEnv(t, env, "pull", "-q", busybox())
	hit := 0
	for _, delay := range killDelays {
		mustRunEnv(t, env, "pull", "-q", plus())
		before := myProcesses(t)
		if killDuringHelper(t, env, delay, "rmi", "localhost/plus:latest") {
			hit++
		}
		checkNoLeftovers(t, before)
		checkLayerStore(t, env, "a killed rmi")
		mustRunEnv(t, env, "run", "--rm", "--pull=never", "localhost/busybox:latest", "true")
		mustRunEnv(t, env, "pull", "-q", plus())
		if r := mustRunEnv(t, env, "run", "--rm", "--pull=never", "localhost/plus:latest", "wc", "-c", "/plus/blob"); !strings.HasPrefix(r.stdout, "4194304") {
			t.Errorf("delay %v: plus after the killed rmi: %s", delay, r)
		}
		mustRunEnv(t, env, "rmi", "localhost/plus:latest")
		checkLayerStore(t, env, "the next rmi")
		if n := len(storedLayers(t, graph)); n != 1 {
			t.Errorf("delay %v: %d layers after the next rmi of plus, want busybox's only", delay, n)
		}
	}
	t.Logf("%d of %d kills landed while rmi's helper ran", hit, len(killDelays))
	if hit == 0 {
		t.Fatal("no kill landed while rmi's layer store helper ran")
	}
}

// What a urun-image killed during the overlay driver's first probe of a
// store leaves (overlay/compatNNN holding the kernel's mode-000 work
// directory, which the library never removes and `rm -rf` of the data
// directory cannot open) is removed by the next command that opens the
// layer store; a probe directory of the last minute is left to its
// maker. storeEnv's cleanup then removes the whole store as the user.
func TestLayerStoreProbeLeftoverSwept(t *testing.T) {
	env := storeEnv(t)
	graph := layerGraph(env)
	mustRunEnv(t, env, "pull", "-q", busybox())
	mkProbe := func(name string, age time.Duration) string {
		t.Helper()
		d := filepath.Join(graph, "overlay", name)
		if err := os.MkdirAll(filepath.Join(d, "work", "work"), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(filepath.Join(d, "work", "work"), 0); err != nil {
			t.Fatal(err)
		}
		old := time.Now().Add(-age)
		if err := os.Chtimes(d, old, old); err != nil {
			t.Fatal(err)
		}
		return d
	}
	stale, fresh := mkProbe("compat111", 2*time.Minute), mkProbe("compat222", 0)
	// containers/storage's check names an unaccounted directory in
	// overlay/: the fresh one, not the stale one the sweep removed.
	r := urunEnv(t, env, "system", "check")
	if strings.Contains(r.stdout, "compat111") || !strings.Contains(r.stdout, "compat222") {
		t.Errorf("system check with a stale and a fresh probe directory: want only the fresh one reported: %s", r)
	}
	if _, err := os.Lstat(stale); !os.IsNotExist(err) {
		t.Errorf("a killed probe's directory is still there: %v", err)
	}
	if _, err := os.Lstat(fresh); err != nil {
		t.Errorf("a probe directory of the last minute was removed: %v", err)
	}
	os.Chmod(filepath.Join(fresh, "work", "work"), 0o700)
	os.RemoveAll(fresh)
	checkLayerStore(t, env, "the probe directories went")
}
