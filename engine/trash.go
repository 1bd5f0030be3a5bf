package engine

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/urun-dev/urun/container"

	"github.com/urun-dev/urun/idmap"
	"github.com/urun-dev/urun/store"
	"github.com/urun-dev/urun/userns"
)

// The trash: at a foreground --rm container's exit its writable layer is
// renamed into DATA/trash (one rename in the same filesystem, under a
// flock on the layer's directory that moves with it) instead of removed
// while the user waits: even an empty layer costs several rmdirs on disk
// (milliseconds each on ext4 with discard, more on a loaded machine).
// Who removes it then (docs/BENCHMARKS.md says what each costs):
//   - a small layer (the common case: a few files the container wrote)
//     is left to the next urun command's sweep (sweepTrash), which pays
//     its removal before it does its own work;
//   - a large one (bigLayer or more, or one that cannot be sized) is
//     removed by a detached `urun __rmtrash`, started at exit, which
//     inherits the flock: its disk space is freed without waiting for
//     another urun command.
// An entry nobody holds is one whose urun or remover is gone (an exit,
// kill -9): the sweep of every urun command removes those, so nothing
// stays behind.

// bigLayer is the size from which a layer is removed at once, by the
// detached remover, rather than by the next command.
const bigLayer = 32 << 20

// smallLayerEntries bounds the walk that sizes a layer.
const smallLayerEntries = 256

// The state directory of such a container (ROOT/ID, a few small files
// in the runtime directory) is renamed too, into ROOT/.trash: one
// rename takes the container out of ps at once, and the next command's
// sweep removes the files.

// stateTrash is the runtime directory's trash (not a container id, so
// ps, the sweep's own pass and the names ignore it).
const stateTrash = ".trash"

// trashState moves container id's state directory into the state
// root's trash; false when it could not (the caller removes it).
func trashState(root, id string) bool {
	trash := filepath.Join(root, stateTrash)
	if err := os.Mkdir(trash, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return false
	}
	dst := filepath.Join(trash, id+"-"+strconv.FormatInt(time.Now().UnixNano(), 36))
	container.Unsettle(root, id)
	return os.Rename(filepath.Join(root, id), dst) == nil
}

// stateTrashEntries lists the state directories in root's trash.
func stateTrashEntries(root string) []string {
	return entries(filepath.Join(root, stateTrash))
}

// entries lists the paths in dir (none when it cannot be read).
func entries(dir string) []string {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	out := make([]string, len(ents))
	for i, e := range ents {
		out[i] = filepath.Join(dir, e.Name())
	}
	return out
}

// removeStateTrash removes state directories of root's trash.
func removeStateTrash(paths []string) {
	for _, p := range paths {
		os.RemoveAll(p)
	}
}

// TrashArg is the hidden command of the detached remover.
const TrashArg = "__rmtrash"

// trashEntry is a layer moved into the trash, locked by held.
type trashEntry struct {
	path string
	held *os.File
}

// trashUpper moves container id's writable layer into the trash. It
// returns nil (and nothing moved) when there is no layer on disk, or the
// move failed (the caller then removes the layer where it is).
func trashUpper(id string) *trashEntry {
	dir, err := upperDir(id)
	if err != nil || !hasLayer(dir) {
		return nil
	}
	trash := filepath.Join(filepath.Dir(filepath.Dir(dir)), "trash")
	if err := os.Mkdir(trash, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return nil
	}
	f, err := os.Open(dir)
	if err != nil {
		return nil
	}
	if unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) != nil {
		f.Close() // another remover has it
		return nil
	}
	// Unique in the trash: the id, and the time for an id moved twice.
	dst := filepath.Join(trash, id+"-"+strconv.FormatInt(time.Now().UnixNano(), 36))
	if err := os.Rename(dir, dst); err != nil {
		f.Close()
		return nil
	}
	return &trashEntry{path: dst, held: f}
}

// removeNow removes the entry in this process and drops its lock.
func (e *trashEntry) removeNow() error {
	defer e.held.Close()
	return RemoveIDsTree(e.path)
}

// removeLater leaves a small entry to the next command's sweep (its
// lock goes with this process), and hands a large one to a detached
// `urun __rmtrash`, which inherits its lock; when that cannot start, the
// entry is removed now.
func (e *trashEntry) removeLater() {
	if smallLayer(e.path) {
		return
	}
	exe, err := os.Executable()
	if err == nil {
		cmd := exec.Command(exe, TrashArg, e.path)
		cmd.ExtraFiles = []*os.File{e.held}
		// Its own session: the terminal's signals are not for it.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if cmd.Start() == nil {
			cmd.Process.Release()
			e.held.Close()
			return
		}
	}
	e.removeNow()
}

// TrashMain is `urun __rmtrash PATH`: it removes PATH, whose lock it
// inherited as descriptor 3, then any other entry nobody holds.
func TrashMain(args []string) int {
	if len(args) != 1 {
		fmt.Fprintln(os.Stderr, "urun: __rmtrash PATH is urun's own")
		return 125
	}
	held := os.NewFile(3, "trash-lock")
	err := RemoveIDsTree(args[0])
	held.Close()
	sweepTrash()
	if err != nil {
		return 1
	}
	return 0
}

// smallLayer: the layer in dir holds fewer than smallLayerEntries
// entries and less than bigLayer bytes, all readable by this user.
func smallLayer(dir string) bool {
	var n, size int64
	err := filepath.WalkDir(filepath.Join(dir, "upper"), func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if n++; n > smallLayerEntries {
			return fs.SkipAll
		}
		if d.Type().IsRegular() {
			info, err := d.Info()
			if err != nil {
				return err
			}
			size += info.Size()
		}
		return nil
	})
	return err == nil && n <= smallLayerEntries && size < bigLayer
}

// sweepTrash removes the trash entries nobody holds: their urun or
// remover was killed before it finished.
func sweepTrash() { removeTrash(trashEntries()) }

// trashEntries lists the layers in the data directory's trash.
func trashEntries() []string {
	data, err := DataDirPath()
	if err != nil {
		return nil
	}
	return entries(filepath.Join(data, "trash"))
}

// removeTrash removes the entries of the layer trash nobody holds.
func removeTrash(paths []string) {
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		if unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) == nil {
			RemoveIDsTree(p)
		}
		f.Close()
	}
}

// RemoveIDsTree deletes a directory whose files belong to containers'
// ids (a writable layer, a volume): what this user cannot remove is
// removed in a user namespace with all of the user's ids (any mapping a
// container had is inside it).
func RemoveIDsTree(dir string) error {
	maps, err := userns.ResolveMaps(idmap.ModeAuto, false)
	if err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding urun's own executable: %w", err)
	}
	return store.RemoveTree(dir, maps, exe)
}
