package main

import (
	"os"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/urun-dev/urun/container"
)

// abandoned reports whether st is a --rm container whose urun died
// without removing it (kill -9, or a closed terminal's SIGKILL): the init
// died with it (it has a parent-death signal), and nobody else will.
func abandoned(st *container.State) bool {
	return st.AutoRemove && st.Supervisor != 0 && st.Status == specs.StateStopped &&
		!container.ProcessAlive(st.Supervisor, st.SupervisorStart)
}

// reclaim removes container id if it is abandoned, as its urun would
// have; it reports whether it did.
func reclaim(root, id string) bool {
	unlock, err := container.Lock(root, id)
	if err != nil {
		return false
	}
	defer unlock()
	st, err := container.Load(root, id)
	if err != nil || !abandoned(st) {
		return false
	}
	return removeContainer(root, id) == nil
}

// reclaimName frees name when an abandoned --rm container holds it, so
// `urun run --rm --name N` works again after its urun was killed.
func reclaimName(root, name string) {
	b, err := os.ReadFile(filepath.Join(root, "names", name))
	if err != nil {
		return
	}
	if id := strings.TrimSpace(string(b)); container.ValidID(id) == nil {
		reclaim(root, id)
	}
}
