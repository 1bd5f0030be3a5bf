package container

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// State is what urun keeps about one container in ROOT/ID/state.json.
// Both faces share it: the OCI face (create/start/state/kill/delete) and
// the engine's detached containers (run -d, ps, stop, rm), which add a
// supervisor and a name.
type State struct {
	specs.State
	// InitStart is the init's start time in clock ticks since boot
	// (/proc/PID/stat field 22): with the pid it names the process
	// across pid reuse.
	InitStart uint64    `json:"initStart,omitempty"`
	Created   time.Time `json:"created"`
	// Rootless: the container has a user namespace urun created.
	Rootless bool `json:"rootless,omitempty"`
	// Cgroups: the container's cgroup v1 directories, made by urun as
	// real root (see Cgroups).
	Cgroups Cgroups `json:"cgroups,omitempty"`
	// Engine (urun run -d / create) fields.
	Name  string `json:"name,omitempty"`
	Image string `json:"image,omitempty"`
	// ImageDigest is the manifest digest of the image; ImageRootfs the
	// unpacked tree the container's overlay uses (urun rmi refuses to
	// remove it while the container exists).
	ImageDigest string   `json:"imageDigest,omitempty"`
	ImageRootfs string   `json:"imageRootfs,omitempty"`
	Command     []string `json:"command,omitempty"`
	// Creator is the urun process setting the container up (run, run
	// -d, create), until it hands it over: to its init (Cloned), or to
	// the user (create). A configured container whose creator is dead
	// was left by a kill -9 and is swept (see Unfinished).
	Creator         int    `json:"creator,omitempty"`
	CreatorStart    uint64 `json:"creatorStart,omitempty"`
	Supervisor      int    `json:"supervisor,omitempty"`
	SupervisorStart uint64 `json:"supervisorStart,omitempty"`
	// SharedSupervisor: the supervisor serves other containers too
	// (engine/shared.go); rm -f must not kill it.
	SharedSupervisor bool      `json:"sharedSupervisor,omitempty"`
	StartedAt        time.Time `json:"startedAt,omitzero"`
	FinishedAt       time.Time `json:"finishedAt,omitzero"`
	ExitCode         *int      `json:"exitCode,omitempty"`
	AutoRemove       bool      `json:"autoRemove,omitempty"`
	Tty              bool      `json:"tty,omitempty"`
	LogPath          string    `json:"logPath,omitempty"`
	// Labels are the user's --label values (docker's and podman's
	// labels: metadata for filters and inspect, not OCI annotations).
	Labels map[string]string `json:"labels,omitempty"`
	// StopSignal and StopTimeout are what `stop` sends first and how many
	// seconds it waits before SIGKILL (--stop-signal, the image's
	// STOPSIGNAL, --stop-timeout); 0 and nil: SIGTERM and 10 s.
	StopSignal  int   `json:"stopSignal,omitempty"`
	StopTimeout *uint `json:"stopTimeout,omitempty"`
	// Healthcheck is the container's health check (nil: none); Health
	// its results, written by whoever runs the check (engine/health.go).
	Healthcheck *HealthConfig `json:"healthcheck,omitempty"`
	Health      *Health       `json:"health,omitempty"`
	// Record is the engine's container record (engine/record.go), from
	// which `start` and `restart` run the container again; empty for the
	// OCI face's containers and foreground --rm runs.
	Record string `json:"record,omitempty"`
	// SharesWith is the id of the container whose namespaces this one
	// joins (--ipc, --pid, --network container:NAME): rm refuses to
	// remove that one first, as podman.
	SharesWith string      `json:"sharesWith,omitempty"`
	Spec       *specs.Spec `json:"-"`
}

// Container statuses beyond the runtime-spec ones.
const (
	// StatusConfigured: created by the engine, never started.
	StatusConfigured specs.ContainerState = "configured"
	// StatusPaused: frozen through the cgroup freezer (runc's "paused").
	StatusPaused specs.ContainerState = "paused"
)

// ValidID checks a container id or name: it becomes a directory name.
// The rule is ^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$, checked by hand:
// compiling that regexp was 2 % of a `run --bundle`'s CPU time
// (state_test.go checks the two agree).
func ValidID(id string) error {
	if !validID(id) {
		return fmt.Errorf("invalid container id %q: use letters, digits, '_', '.', '-' (up to 128, not starting with a symbol)", id)
	}
	return nil
}

// ValidNewID is ValidID for the id of a container about to be made (the
// OCI runtime face's create and run take the caller's): it also refuses
// the ids of the state root's own entries.
func ValidNewID(id string) error {
	if err := ValidID(id); err != nil {
		return err
	}
	if reservedID(id) {
		return fmt.Errorf("container id %q is taken by urun's own files in the state root (names, supervisors, events, and every ID.lock): choose another", id)
	}
	return nil
}

// reservedID: id would name one of the state root's own entries, which
// sit beside the containers' directories: the name reservations (names/,
// names.lock), the shared supervisors' directory, the event log
// (events.jsonl, its rotation, events.lock), and each container's lock
// file (ID.lock, so no id may end in ".lock"). A container made there
// would mix its files with theirs: under names/ its exec FIFO made every
// later command's name sweep block on it.
func reservedID(id string) bool {
	switch id {
	case "names", "supervisors", "events", "events.jsonl", "events.jsonl.1":
		return true
	}
	return strings.HasSuffix(id, ".lock")
}

func validID(id string) bool {
	if len(id) == 0 || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case i > 0 && (c == '_' || c == '.' || c == '-'):
		default:
			return false
		}
	}
	return true
}

// Dir is the state directory of container id under root.
func Dir(root, id string) string { return filepath.Join(root, id) }

// ExecFifo is the FIFO a created container's init blocks on until start.
func ExecFifo(root, id string) string { return filepath.Join(root, id, "exec.fifo") }

// Lock takes the container's lock (flock on ROOT/ID.lock, beside the
// state directory so it outlives its removal); unlock with the returned
// function. Every read-modify-write of a container's state holds it.
// The id is checked first: the lock is the first file a command
// creates, and an id such as ../../x would put it outside root.
//
// The lock file goes when its container has: unlock removes it once the
// state directory is gone, and only a holder ever unlinks it. A locker
// that waited on a file unlinked meanwhile holds a lock nobody else
// sees, so after flock it checks that its file is still the one at the
// path, and starts again if not (the pattern of git's and dpkg's lock
// files).
func Lock(root, id string) (func(), error) {
	return lock(root, id, false)
}

// TryLock is Lock without waiting: ok is false when another holds it.
func TryLock(root, id string) (unlock func(), ok bool) {
	u, err := lock(root, id, true)
	return u, err == nil
}

func lock(root, id string, try bool) (func(), error) {
	if err := ValidID(id); err != nil {
		return nil, err
	}
	path := filepath.Join(root, id+".lock")
	how := unix.LOCK_EX
	if try {
		how |= unix.LOCK_NB
	}
	for {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
		if err != nil {
			return nil, fmt.Errorf("locking container %s: %w", id, err)
		}
		if err := unix.Flock(int(f.Fd()), how); err != nil {
			f.Close()
			return nil, fmt.Errorf("locking container %s: %w", id, err)
		}
		var held, now unix.Stat_t
		if unix.Fstat(int(f.Fd()), &held) == nil && unix.Stat(path, &now) == nil &&
			held.Dev == now.Dev && held.Ino == now.Ino {
			return func() {
				var cur unix.Stat_t
				if _, err := os.Lstat(Dir(root, id)); errors.Is(err, os.ErrNotExist) &&
					unix.Stat(path, &cur) == nil && cur.Dev == held.Dev && cur.Ino == held.Ino {
					os.Remove(path)
				}
				f.Close()
			}, nil
		}
		f.Close() // unlinked by its last holder: take the new one
	}
}

// The error classes runtime clients match by substring: containerd's
// shim (checkKillError), CRI-O and conmon look for runc's wording, so the
// texts are runc's and every message that wraps them keeps them whole.
var (
	// ErrNotExist: no container of that id.
	ErrNotExist = errors.New("container does not exist")
	// ErrNotRunning: the container has no live init to signal.
	ErrNotRunning = errors.New("container not running")
)

// Load reads the state of container id and refreshes its status from the
// processes: a dead init means stopped, whatever the file said.
// LoadLocked takes the container's lock and loads its state under it:
// the start of every command that changes a container. The caller runs
// unlock when done; on an error nothing is held.
func LoadLocked(root, id string) (*State, func(), error) {
	unlock, err := Lock(root, id)
	if err != nil {
		return nil, nil, err
	}
	st, err := Load(root, id)
	if err != nil {
		unlock()
		return nil, nil, err
	}
	return st, unlock, nil
}

func Load(root, id string) (*State, error) {
	if err := ValidID(id); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(Dir(root, id), "state.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNotExist, id)
	}
	if err != nil {
		return nil, fmt.Errorf("reading state of %s: %w", id, err)
	}
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("state of container %s is corrupt (%v): remove it with 'urun delete --force %s'", id, err, id)
	}
	s.refresh(root)
	return &s, nil
}

// Unfinished: the container was never handed over and the process that
// was setting it up is dead. Nothing will finish or remove it.
func (s *State) Unfinished() bool {
	return s.Status == StatusConfigured && s.Creator != 0 && !ProcessAlive(s.Creator, s.CreatorStart)
}

// refresh derives the status from the init process and the exec FIFO.
func (s *State) refresh(root string) {
	if s.Status == StatusConfigured && s.Pid == 0 {
		return
	}
	if s.Pid == 0 || !ProcessAlive(s.Pid, s.InitStart) {
		s.Status = specs.StateStopped
		return
	}
	if _, err := os.Lstat(ExecFifo(root, s.ID)); err == nil {
		s.Status = specs.StateCreated
		return
	}
	if s.Status != StatusPaused {
		s.Status = specs.StateRunning
	}
}

// Save writes the state atomically (temporary file, rename). Without
// fsync, as runc's saveState: the state root is runtime data (a reboot
// empties $XDG_RUNTIME_DIR, and kept containers come back from their
// records in the data directory, engine/record.go), and a fsync on a
// disk-backed root cost each run milliseconds (docs/BENCHMARKS.md).
func (s *State) Save(root string) error {
	dir := Dir(root, s.ID)
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	sweep := s.needsSweep()
	if sweep {
		Unsettle(root, s.ID) // before: a mark says the state on disk needs no sweep
	}
	tmp, err := os.CreateTemp(dir, ".state-*")
	if err != nil {
		return fmt.Errorf("saving state of %s: %w", s.ID, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("saving state of %s: %w", s.ID, err)
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, "state.json")); err != nil {
		return fmt.Errorf("saving state of %s: %w", s.ID, err)
	}
	if !sweep {
		markSettled(root, s.ID) // after: see settled.go
	}
	return nil
}

// List returns the ids of the containers under root.
func List(root string) ([]string, error) {
	ents, err := os.ReadDir(root)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, e := range ents {
		if e.IsDir() && ValidID(e.Name()) == nil {
			if _, err := os.Stat(filepath.Join(root, e.Name(), "state.json")); err == nil {
				ids = append(ids, e.Name())
			}
		}
	}
	return ids, nil
}

// ProcessStart returns a process's start time (field 22 of /proc/PID/stat).
func ProcessStart(pid int) (uint64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces and parentheses: the
	// fields after it start at the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); field 22 is f[19].
	if len(f) < 20 {
		return 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	if f[0] == "Z" || f[0] == "X" {
		return 0, fmt.Errorf("process %d has exited", pid)
	}
	return strconv.ParseUint(f[19], 10, 64)
}

// KillProcess sends sig to pid if it is still the process that started
// at start: through a pidfd, so a pid reused after the check is not hit.
func KillProcess(pid int, start uint64, sig unix.Signal) error {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if !ProcessAlive(pid, start) {
		return unix.ESRCH
	}
	return unix.PidfdSendSignal(fd, sig, nil, 0)
}

// ProcessAlive: pid runs and is the process that started at start (0:
// any process of that pid).
func ProcessAlive(pid int, start uint64) bool {
	if pid <= 0 {
		return false
	}
	st, err := ProcessStart(pid)
	if err != nil {
		return false
	}
	return start == 0 || st == start
}
