package engine

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/urun-dev/urun/container"
)

// The lifecycle on a scratch state root and data dir, without a
// container: a state file stands in for what run wrote, and where a live
// init is needed a `sleep` child of the test stands in for it (pid and
// start time name it, as they name an init).

// lifecycleRoot is an empty state root; the data dir is a scratch one.
func lifecycleRoot(t *testing.T) string {
	t.Helper()
	t.Setenv("URUN_DATA_DIR", t.TempDir())
	return t.TempDir()
}

// saveState registers container id as run would leave it.
func saveState(t *testing.T, root, id, name string, status specs.ContainerState, pid int) *container.State {
	t.Helper()
	st := &container.State{Created: time.Now(), Name: name}
	st.ID, st.Status, st.Pid = id, status, pid
	if pid > 0 {
		start, err := container.ProcessStart(pid)
		if err != nil {
			t.Fatal(err)
		}
		st.InitStart = start
	}
	code := 3
	if status == specs.StateStopped {
		st.ExitCode = &code
		st.FinishedAt = time.Now()
	}
	if err := os.MkdirAll(container.Dir(root, id), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := st.Save(root); err != nil {
		t.Fatal(err)
	}
	if name != "" {
		if err := container.ReserveName(root, name, id); err != nil {
			t.Fatal(err)
		}
	}
	return st
}

// fakeInit is a live process of the test's own, reaped when it ends.
func fakeInit(t *testing.T) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
	})
	return cmd
}

const (
	idStopped = "aaaa000000000000000000000000000000000000000000000000000000000001"
	idRunning = "bbbb000000000000000000000000000000000000000000000000000000000002"
	idDead    = "cccc000000000000000000000000000000000000000000000000000000000003"
)

func TestLifecycleOnStateFiles(t *testing.T) {
	root := lifecycleRoot(t)
	init := fakeInit(t)
	saveState(t, root, idStopped, "done", specs.StateStopped, 0)
	saveState(t, root, idRunning, "web", specs.StateRunning, init.Process.Pid)
	// Recorded as running, but its init is gone (a reboot, a kill -9 of
	// everything): its status is derived, not believed.
	saveState(t, root, idDead, "", specs.StateRunning, 0)

	list, err := List(root)
	if err != nil {
		t.Fatal(err)
	}
	status := map[string]specs.ContainerState{}
	for _, st := range list {
		status[st.ID] = st.Status
	}
	want := map[string]specs.ContainerState{idStopped: specs.StateStopped, idRunning: specs.StateRunning, idDead: specs.StateStopped}
	for id, s := range want {
		if status[id] != s {
			t.Errorf("List: %s is %q, want %q (all: %v)", id[:4], status[id], s, status)
		}
	}

	// Names, unique id prefixes and a prefix two ids share.
	for ref, id := range map[string]string{"web": idRunning, "done": idStopped, "cccc": idDead} {
		if got, err := Resolve(root, ref); err != nil || got != id {
			t.Errorf("Resolve(%q) = %q, %v; want %s", ref, got, err, id[:4])
		}
	}
	saveState(t, root, "cccc000000000000000000000000000000000000000000000000000000000009", "", specs.StateStopped, 0)
	if _, err := Resolve(root, "cccc"); err == nil || !strings.Contains(err.Error(), "matches 2 containers") {
		t.Errorf("Resolve of a shared prefix: %v", err)
	}
	if _, err := Resolve(root, "nosuch"); !errors.Is(err, container.ErrNotExist) {
		t.Errorf("Resolve of an unknown name: %v, want ErrNotExist", err)
	}

	// rm refuses a running container with the fix, and leaves it be.
	err = Remove(root, "web", false)
	if err == nil || !strings.Contains(err.Error(), "is running") || !strings.Contains(err.Error(), "urun rm -f") {
		t.Errorf("Remove of a running container: %v", err)
	}
	if !container.ProcessAlive(init.Process.Pid, 0) {
		t.Fatal("Remove without force killed the init")
	}

	// prune removes what is stopped and what was created and never
	// started (as docker and podman), keeps what runs and what a live
	// urun is still setting up, frees the names.
	idIdle := "dddd000000000000000000000000000000000000000000000000000000000001"
	saveState(t, root, idIdle, "idle", container.StatusConfigured, 0)
	idBusy := "dddd000000000000000000000000000000000000000000000000000000000002"
	busy := saveState(t, root, idBusy, "busy", container.StatusConfigured, 0)
	busy.Creator = os.Getpid()
	if busy.CreatorStart, err = container.ProcessStart(busy.Creator); err != nil {
		t.Fatal(err)
	}
	if err := busy.Save(root); err != nil {
		t.Fatal(err)
	}
	removed, err := Prune(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 4 {
		t.Errorf("Prune removed %d containers, want 4: %v", len(removed), removed)
	}
	for _, id := range []string{idRunning, idBusy} {
		if _, err := container.Load(root, id); err != nil {
			t.Errorf("Prune removed %s, which runs or is being set up: %v", id[:4], err)
		}
	}
	// (rm -f would end its creator: this test.)
	busy.Creator, busy.CreatorStart = 0, 0
	if err := busy.Save(root); err != nil {
		t.Fatal(err)
	}
	if err := Remove(root, idBusy, false); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{idStopped, idDead, idIdle} {
		if _, err := os.Stat(container.Dir(root, id)); !os.IsNotExist(err) {
			t.Errorf("Prune left %s's directory: %v", id[:4], err)
		}
	}
	if owner := container.NameOwner(root, "done"); owner != "" {
		t.Errorf("the name of a pruned container is still held by %q", owner)
	}

	// rm -f ends the init and removes everything of it.
	if err := Remove(root, "web", true); err != nil {
		t.Fatal(err)
	}
	if start, err := container.ProcessStart(init.Process.Pid); err == nil && container.ProcessAlive(init.Process.Pid, start) {
		// A zombie until the test's Wait reaps it is gone enough;
		// a process that still runs is not.
		if b, _ := os.ReadFile(filepath.Join("/proc", itoa(init.Process.Pid), "stat")); !strings.Contains(string(b), ") Z") {
			t.Errorf("rm -f left the init running: %s", b)
		}
	}
	if ids, _ := container.List(root); len(ids) != 0 {
		t.Errorf("containers left after rm -f and prune: %v", ids)
	}
	if owner := container.NameOwner(root, "web"); owner != "" {
		t.Errorf("the name web is still held by %q after rm -f", owner)
	}
}

func TestWaitReturnsRecordedExit(t *testing.T) {
	root := lifecycleRoot(t)
	saveState(t, root, idStopped, "", specs.StateStopped, 0)
	code, err := Wait(root, idStopped)
	if err != nil || code != 3 {
		t.Errorf("Wait = %d, %v; want the recorded 3", code, err)
	}
}
