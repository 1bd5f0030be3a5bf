package container

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
)

// The settled marks: ROOT/.settled/ID exists only while the saved state
// of container ID needs nothing from the sweep (engine/sweep.go): no
// urun is setting it up, no --rm supervisor's death would leave it
// behind. The sweep skips a marked container without reading its state,
// so that a command costs the same with 700 kept, exited containers as
// with none (without the marks, reading each state cost ~85 µs per
// container per command: 60 ms per start at 700, docs/BENCHMARKS.md).
//
// A mark is made after such a state is saved, and removed before a
// state that needs the sweep is saved and before the container's
// directory is removed; a urun killed in between leaves the mark
// missing, and the sweep reads the state as it always did. A missing
// mark costs time only, so removing one is always safe.
const settledDir = ".settled" // not a container id: those start with a letter or digit

func settledMark(root, id string) string { return filepath.Join(root, settledDir, id) }

// needsSweep: the sweep may have to reclaim a container in this state
// (the rules of engine.Sweep: an unfinished set-up, or an orphaned --rm).
func (s *State) needsSweep() bool {
	return s.Status == StatusConfigured && s.Creator != 0 || s.AutoRemove && s.Supervisor != 0
}

// markSettled records that container id's saved state needs no sweep.
func markSettled(root, id string) {
	p := settledMark(root, id)
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE, 0o600)
	if errors.Is(err, os.ErrNotExist) {
		if merr := os.Mkdir(filepath.Join(root, settledDir), 0o700); merr == nil || errors.Is(merr, os.ErrExist) {
			f, err = os.OpenFile(p, os.O_WRONLY|os.O_CREATE, 0o600)
		}
	}
	if err == nil {
		f.Close()
	}
}

// Unsettle removes container id's mark: the sweep reads its state again.
// Called before its directory is made or removed.
func Unsettle(root, id string) {
	os.Remove(settledMark(root, id))
}

// SettledMarks lists the marked containers of root.
func SettledMarks(root string) map[string]bool {
	f, err := os.Open(filepath.Join(root, settledDir))
	if err != nil {
		return nil
	}
	defer f.Close()
	names, _ := f.Readdirnames(-1)
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

// SettleIfDone marks container id when its saved state needs no sweep:
// for the containers saved before the marks existed (or whose mark a
// killed urun left missing), read by the sweep once and then skipped.
// Under the container's lock, re-read: a command changing it holds it.
func SettleIfDone(root, id string) {
	unlock, ok := TryLock(root, id)
	if !ok {
		return
	}
	defer unlock()
	b, err := os.ReadFile(filepath.Join(Dir(root, id), "state.json"))
	if err != nil {
		return
	}
	var s State
	if json.Unmarshal(b, &s) == nil && !s.needsSweep() {
		markSettled(root, id)
	}
}
