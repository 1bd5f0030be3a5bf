package engine

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/urun-dev/urun/container"
)

// Abandoned reports whether nothing will ever finish or remove st: a
// --rm container whose urun died without removing it (kill -9, or a
// closed terminal's SIGKILL; the init died with it, it has a
// parent-death signal), or a container whose urun was killed while
// setting it up (container.State.Unfinished).
func Abandoned(st *container.State) bool {
	if st.Unfinished() {
		return true
	}
	return st.AutoRemove && st.Supervisor != 0 && st.Status == specs.StateStopped &&
		!container.ProcessAlive(st.Supervisor, st.SupervisorStart)
}

// Reclaim removes container id if it is abandoned, as its urun would
// have; it reports whether it did.
func Reclaim(root, id string) bool {
	unlock, err := container.Lock(root, id)
	if err != nil {
		return false
	}
	st, err := container.Load(root, id)
	if err == nil && dying(st) {
		// Its urun was just killed: the init follows within moments
		// (seconds on a loaded 2-core machine, with fuse-overlayfs to end too).
		unlock()
		container.WaitGone(st.Pid, st.InitStart, 5*time.Second)
		if unlock, err = container.Lock(root, id); err != nil {
			return false
		}
		st, err = container.Load(root, id)
	}
	defer unlock()
	if err != nil || !Abandoned(st) {
		return false
	}
	return removeContainer(root, id) == nil
}

// dying: a --rm container whose urun is dead and whose init, which has
// that urun's death as its parent-death signal, has not gone yet.
func dying(st *container.State) bool {
	return st.AutoRemove && st.Supervisor != 0 && st.Pid > 0 && st.Status != specs.StateStopped &&
		!container.ProcessAlive(st.Supervisor, st.SupervisorStart)
}

// reclaimName frees name when an abandoned container holds it, so
// `urun run --name N` works again after its urun was killed.
func reclaimName(root, name string) {
	b, err := os.ReadFile(filepath.Join(root, "names", name))
	if err != nil {
		return
	}
	if f := strings.Fields(string(b)); len(f) > 0 && container.ValidID(f[0]) == nil {
		Reclaim(root, f[0])
	}
}

// Sweep removes what a urun killed at any moment leaves in the state
// root, with the liveness rules above: abandoned containers, container
// directories without state that nobody is making (empty, or a first
// save cut short, or a removal cut short), lock files without their
// container, and names nothing holds; a directory's writable layer goes
// with it, and so do the layers in the trash that nobody is removing
// (trash.go). Layers whose whole state root went (a reboot) are left to
// 'container prune', which names them, but for --rm containers' layers,
// which restoreOnce's sweepUppers removes.
// A directory being made is locked by its maker (reserve,
// container.Create hold the container's lock until the state is saved;
// a directory held with a flock is in use).
// It costs two directory listings, and a state read per container
// that has no settled mark (container/settled.go).
func Sweep(root string) {
	settled := container.SettledMarks(root)
	ents, err := readDirUnsorted(root)
	if err != nil {
		return
	}
	dirs := map[string]bool{}
	for _, e := range ents {
		if e.IsDir() {
			dirs[e.Name()] = true
		}
	}
	for id := range settled {
		if !dirs[id] {
			container.Unsettle(root, id) // its container is gone
			delete(settled, id)
		}
	}
	swept := false
	for _, e := range ents {
		name := e.Name()
		if id, ok := strings.CutSuffix(name, ".lock"); ok {
			if id != "names" && !dirs[id] && container.ValidID(id) == nil {
				// Unlocking removes a lock file whose container is gone.
				if unlock, ok := container.TryLock(root, id); ok {
					unlock()
				}
			}
			continue
		}
		if !e.IsDir() || settled[name] || name == "names" || name == sharedDir || container.ValidID(name) != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join(root, name, "state.json"))
		if err == nil {
			var st container.State
			if json.Unmarshal(b, &st) != nil {
				continue
			}
			if st.Creator != 0 && st.Unfinished() || orphanedRm(&st) {
				swept = Reclaim(root, name) || swept
			} else {
				container.SettleIfDone(root, name)
			}
			continue
		}
		if errors.Is(err, os.ErrNotExist) {
			swept = removeStateless(root, name) || swept
		}
	}
	// A name nothing holds is free to every command that asks for it
	// (container.ReserveName, Resolve); its file goes here when the
	// sweep removed a container or there are more names than
	// containers, not by reading every name at every command.
	container.SweepNames(root, settled, swept, len(dirs))
	sweepTrashInBackground(root)
}

// trashSwept counts the trash removals the sweep started; trashCounted
// is closed once the first of this process has listed the trash, and
// trashBacklog says then whether it found more than one run leaves.
var (
	trashSwept   sync.WaitGroup
	trashStarted atomic.Bool
	trashCounted = make(chan struct{})
	trashOnce    sync.Once
	trashBacklog bool
	// foregroundRun: this urun runs a container in the foreground
	// (Run): its exit does not wait for the usual trash.
	foregroundRun atomic.Bool
)

// sweepTrashInBackground removes the trash (trash.go) while the command
// goes on with its own work (a run waits on its helpers and init most of
// its start); FinishSweep waits for it before urun exits, but for a
// foreground run (see FinishSweep).
func sweepTrashInBackground(root string) {
	trashSwept.Add(1)
	trashStarted.Store(true)
	go func() {
		defer trashSwept.Done()
		states, layers := stateTrashEntries(root), trashEntries()
		trashOnce.Do(func() {
			trashBacklog = len(states) > 1 || len(layers) > 1
			close(trashCounted)
		})
		removeStateTrash(states)
		removeTrash(layers)
	}()
}

// FinishSweep waits for the trash removal the sweep started. A
// foreground run does not wait for the usual trash, the one layer and
// state directory the previous --rm run left: its status is the
// user's, and what of them this run has not removed by its exit is the
// next command's (a removal cut short is taken up again: nobody holds
// the entry any more). It waits when the trash held more than that
// (runs cut short again and again), so the trash does not grow; and
// every other command waits as before.
func FinishSweep() {
	if foregroundRun.Load() && trashStarted.Load() {
		<-trashCounted
		if !trashBacklog {
			return
		}
	}
	trashSwept.Wait()
}

// orphanedRm: a --rm container whose urun (or supervisor) is dead; its
// init dies with it, and its writable layer on disk must go (reclaim
// waits for the init).
func orphanedRm(st *container.State) bool {
	return st.AutoRemove && st.Supervisor != 0 && !container.ProcessAlive(st.Supervisor, st.SupervisorStart)
}

// sweepUppers removes the writable layers of --rm containers of root
// whose state is gone. Only a reboot (or anything else that empties the
// runtime directory) leaves one: a removal takes the layer before the
// state, a kill before the layer is made leaves state the sweep reclaims
// with its layer. So it runs with restoreOnce, the first time a root is
// used, not at every command, where it looked at every kept container's
// layer of another root (708 of them: ~3 ms per command with a --root
// of its own, as podman's and containerd's). Kept containers' layers
// hold the user's data: `container prune` names and removes those.
// dirs are root's directories (a layer whose container has one is kept
// without a look at it).
func sweepUppers(root string, dirs map[string]bool) {
	data, err := DataDirPath()
	if err != nil {
		return
	}
	dir := filepath.Join(data, "containers")
	ents, err := readDirUnsorted(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		id := e.Name()
		if dirs[id] || container.ValidID(id) != nil {
			continue
		}
		if _, err := os.Lstat(filepath.Join(dir, id, autoRemoveMark)); err != nil {
			continue
		}
		if owner, err := os.ReadFile(filepath.Join(dir, id, "root")); err != nil || string(owner) != root {
			continue
		}
		if _, err := os.Lstat(container.Dir(root, id)); !errors.Is(err, os.ErrNotExist) {
			continue
		}
		// Under the container's lock: a start between its reserve and
		// its layer holds it.
		if unlock, ok := container.TryLock(root, id); ok {
			if _, err := os.Lstat(container.Dir(root, id)); errors.Is(err, os.ErrNotExist) {
				removeUpper(id)
			}
			unlock()
		}
	}
}

// removeStateless removes container directory id if it has no state and
// no process is making it.
func removeStateless(root, id string) bool {
	unlock, ok := container.TryLock(root, id)
	if !ok {
		return false
	}
	defer unlock()
	dir := container.Dir(root, id)
	d, err := os.Open(dir)
	if err != nil {
		return false
	}
	defer d.Close()
	if unix.Flock(int(d.Fd()), unix.LOCK_EX|unix.LOCK_NB) != nil {
		return false
	}
	if _, err := os.Lstat(filepath.Join(dir, "state.json")); !errors.Is(err, os.ErrNotExist) {
		return false
	}
	if removeUpper(id) != nil {
		return false
	}
	return os.RemoveAll(dir) == nil
}

// readDirUnsorted is os.ReadDir without its sort: the sweep visits
// every entry of directories that grow with the containers kept.
func readDirUnsorted(dir string) ([]os.DirEntry, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.ReadDir(-1)
}
