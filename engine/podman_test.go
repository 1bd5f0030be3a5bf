package engine

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/urun-dev/urun/store/podmanstore"
)

// The first layer holding a path wins; a whiteout (a character device,
// here any non-regular file) hides the lower layers.
func TestLayeredReader(t *testing.T) {
	top, mid, low := t.TempDir(), t.TempDir(), t.TempDir()
	write := func(dir, p, s string) {
		os.MkdirAll(filepath.Join(dir, filepath.Dir(p)), 0o755)
		if err := os.WriteFile(filepath.Join(dir, p), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(low, "etc/passwd", "low")
	write(low, "etc/group", "low")
	write(low, "etc/hidden", "low")
	write(mid, "etc/passwd", "mid")
	os.MkdirAll(filepath.Join(top, "etc", "hidden"), 0o755) // not a file: hides
	read := LayeredReader([]string{top, mid, low})
	for p, want := range map[string]string{"/etc/passwd": "mid", "/etc/group": "low"} {
		if b, err := read(p); err != nil || string(b) != want {
			t.Errorf("%s: %q, %v; want %q", p, b, err, want)
		}
	}
	if _, err := read("/etc/hidden"); err == nil {
		t.Error("/etc/hidden: read through the layer that hides it")
	}
	if _, err := read("/etc/none"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("/etc/none: %v, want not found", err)
	}
}

// Containers with state and recent markers are live; an old marker
// without state is removed and its container is not.
func TestLiveIDs(t *testing.T) {
	root := t.TempDir()
	os.Mkdir(filepath.Join(root, "withstate"), 0o700)
	os.WriteFile(filepath.Join(root, "withstate.podman-store"), []byte("{}"), 0o600)
	os.WriteFile(filepath.Join(root, "starting.podman-store"), []byte("{}"), 0o600)
	old := filepath.Join(root, "dead.podman-store")
	os.WriteFile(old, []byte("{}"), 0o600)
	past := time.Now().Add(-podmanstore.StartWindow - time.Minute)
	os.Chtimes(old, past, past)
	ids, err := LiveIDs(root)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(ids)
	if want := []string{"starting", "withstate"}; !slices.Equal(ids, want) {
		t.Errorf("liveIDs = %v, want %v", ids, want)
	}
	if _, err := os.Stat(old); err == nil {
		t.Error("the stale marker was kept")
	}
}
