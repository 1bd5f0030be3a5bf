package engine

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/urun-dev/urun/container"
)

// deadPid is the pid of a process that has exited.
func deadPid(t *testing.T) int {
	t.Helper()
	c := exec.Command("true")
	if err := c.Run(); err != nil {
		t.Fatal(err)
	}
	return c.Process.Pid
}

func settledMark(root, id string) bool {
	_, err := os.Lstat(filepath.Join(root, ".settled", id))
	return err == nil
}

// A saved state that needs no sweep is marked after the save; one that
// may need it is unmarked before; removal unmarks first.
func TestSettledMarks(t *testing.T) {
	dataDir(t)
	root := t.TempDir()
	id := strings.Repeat("d", 64)
	if err := os.Mkdir(container.Dir(root, id), 0o700); err != nil {
		t.Fatal(err)
	}
	st := &container.State{State: specs.State{ID: id, Status: container.StatusConfigured}, Created: time.Now(), Creator: os.Getpid()}
	if err := st.Save(root); err != nil {
		t.Fatal(err)
	}
	if settledMark(root, id) {
		t.Error("a container being set up is marked settled")
	}
	st.Status, st.Creator = specs.StateStopped, 0
	if err := st.Save(root); err != nil {
		t.Fatal(err)
	}
	if !settledMark(root, id) {
		t.Error("an exited, kept container is not marked settled")
	}
	st.AutoRemove, st.Supervisor = true, os.Getpid()
	if err := st.Save(root); err != nil {
		t.Fatal(err)
	}
	if settledMark(root, id) {
		t.Error("a --rm container with a supervisor is marked settled")
	}
	st.AutoRemove, st.Supervisor = false, 0
	st.Save(root)
	if err := removeStateLast(container.Dir(root, id)); err != nil {
		t.Fatal(err)
	}
	if settledMark(root, id) {
		t.Error("the mark outlived the container")
	}
}

// The sweep reads the state of an unmarked container (and reclaims it
// when its creator died, or marks it when it needs nothing), and skips a
// marked one without reading it; a mark without its container goes.
func TestSweepReadsOnlyUnmarked(t *testing.T) {
	dataDir(t)
	root := t.TempDir()
	unfinished := func(id string) {
		t.Helper()
		if err := os.Mkdir(container.Dir(root, id), 0o700); err != nil && !os.IsExist(err) {
			t.Fatal(err)
		}
		st := map[string]any{"ociVersion": "1.0.2", "id": id, "status": "configured", "created": time.Now(), "creator": deadPid(t), "creatorStart": 1}
		b, _ := json.Marshal(st)
		if err := os.WriteFile(filepath.Join(container.Dir(root, id), "state.json"), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	kept, legacy, marked, gone := strings.Repeat("1", 64), strings.Repeat("2", 64), strings.Repeat("3", 64), strings.Repeat("4", 64)
	unfinished(kept)
	// A kept, exited container saved before the marks existed.
	os.Mkdir(container.Dir(root, legacy), 0o700)
	old := &container.State{State: specs.State{ID: legacy, Status: specs.StateStopped}, Created: time.Now()}
	b, _ := json.Marshal(old)
	os.WriteFile(filepath.Join(container.Dir(root, legacy), "state.json"), b, 0o600)
	// A marked container whose state file says it needs the sweep: a
	// sweep that skips marked containers leaves it alone, which shows
	// it did not read it (the marks' contract keeps this from happening).
	unfinished(marked)
	os.MkdirAll(filepath.Join(root, ".settled"), 0o700)
	os.WriteFile(filepath.Join(root, ".settled", marked), nil, 0o600)
	os.WriteFile(filepath.Join(root, ".settled", gone), nil, 0o600)

	Sweep(root)
	if _, err := os.Lstat(container.Dir(root, kept)); !os.IsNotExist(err) {
		t.Errorf("an unmarked container whose creator died was not reclaimed: %v", err)
	}
	if !settledMark(root, legacy) {
		t.Error("the sweep did not mark a settled container it read")
	}
	if _, err := os.Lstat(container.Dir(root, marked)); err != nil {
		t.Errorf("the sweep read a marked container's state: %v", err)
	}
	if settledMark(root, gone) {
		t.Error("a mark without its container was kept")
	}
	container.Unsettle(root, marked)
	Sweep(root)
	if _, err := os.Lstat(container.Dir(root, marked)); !os.IsNotExist(err) {
		t.Errorf("once unmarked, the container was not reclaimed: %v", err)
	}
}

// Records are restored into a state root once per data directory, not
// at every command.
func TestRestoreOnce(t *testing.T) {
	dataDir(t)
	root := t.TempDir()
	a, b := strings.Repeat("a", 64), strings.Repeat("b", 64)
	testRecord(root, a, "first").save()
	restoreOnce(root)
	if _, err := container.Load(root, a); err != nil {
		t.Fatalf("not restored: %v", err)
	}
	testRecord(root, b, "second").save()
	restoreOnce(root)
	if _, err := container.Load(root, b); err == nil {
		t.Error("restored again in a state root already restored")
	}
	// Another data directory: its records are looked at once.
	dataDir(t)
	c := strings.Repeat("c", 64)
	testRecord(root, c, "third").save()
	restoreOnce(root)
	if _, err := container.Load(root, c); err != nil {
		t.Errorf("another data directory's records were not restored: %v", err)
	}
}
