package engine

// The commands on registered containers: find, list, start, stop,
// remove, prune.

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/urun-dev/urun/container"
)

// Resolve finds a container by id, name, or unique id prefix.
func Resolve(root, ref string) (string, error) {
	if container.ValidID(ref) == nil {
		if _, err := container.Load(root, ref); err == nil {
			return ref, nil
		} else if !errors.Is(err, container.ErrNotExist) {
			return "", err
		}
	}
	ids, err := container.List(root)
	if err != nil {
		return "", err
	}
	var match []string
	for _, id := range ids {
		st, err := container.Load(root, id)
		if err != nil {
			continue
		}
		if st.Name == ref {
			return id, nil
		}
		if len(ref) >= 3 && strings.HasPrefix(id, ref) {
			match = append(match, id)
		}
	}
	switch len(match) {
	case 1:
		return match[0], nil
	case 0:
		return "", fmt.Errorf("%w: no id or name %q (see 'urun ps -a')", container.ErrNotExist, ref)
	}
	return "", fmt.Errorf("%q matches %d containers: give more of the id", ref, len(match))
}

// Find resolves ref and loads the container's state.
func Find(root, ref string) (string, *container.State, error) {
	id, err := Resolve(root, ref)
	if err != nil {
		return "", nil, err
	}
	st, err := container.Load(root, id)
	if err != nil {
		return "", nil, err
	}
	return id, st, nil
}

// List is every registered container's state, newest first; abandoned
// ones are removed on the way, as their urun would have.
func List(root string) ([]*container.State, error) {
	ids, err := container.List(root)
	if err != nil {
		return nil, err
	}
	var list []*container.State
	for _, id := range ids {
		st, err := container.Load(root, id)
		if err != nil {
			continue // removed meanwhile
		}
		if Abandoned(st) && Reclaim(root, id) {
			continue
		}
		list = append(list, st)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Created.After(list[j].Created) })
	return list, nil
}

// Start starts a created container: the OCI face's (exec FIFO) or an
// engine container's (a new supervisor runs it; supervised is true).
func Start(root, ref string) (supervised bool, err error) {
	id, st, err := Find(root, ref)
	if err != nil {
		return false, err
	}
	if st.Record == "" {
		return false, container.Start(root, id)
	}
	if st.Status == specs.StateRunning {
		return true, fmt.Errorf("container %s is already running", ref)
	}
	return true, spawnSupervisor(id, st.Record)
}

// Stop signals the init and waits for the recorded exit: its stop
// signal (SIGTERM unless --stop-signal or the image's STOPSIGNAL), then
// SIGKILL after timeout (negative: the container's --stop-timeout, else
// 10 s). A stopped container is no error, as in podman.
func Stop(root, ref string, timeout time.Duration) error {
	id, st, err := Find(root, ref)
	if err != nil {
		return err
	}
	if (st.Status != specs.StateRunning && st.Status != specs.StateCreated) || st.Pid <= 0 {
		return nil // already stopped (or never started), as podman
	}
	if st.Record != "" {
		markStopped(id)
	}
	if err := stopInit(st, timeout); err != nil {
		return fmt.Errorf("stopping %s: %w", ref, err)
	}
	WaitRecorded(root, id)
	RecordEvent(root, id, st.Name, st.Image, EventStop, nil)
	return nil
}

// stopInit sends st's init its stop signal and, after timeout (negative:
// the container's --stop-timeout, else 10 s), SIGKILL; it returns once
// the init is gone.
func stopInit(st *container.State, timeout time.Duration) error {
	sig := unix.SIGTERM
	if st.StopSignal != 0 {
		sig = unix.Signal(st.StopSignal)
	}
	if timeout < 0 {
		timeout = 10 * time.Second
		if st.StopTimeout != nil {
			timeout = time.Duration(*st.StopTimeout) * time.Second
		}
	}
	unix.Kill(st.Pid, sig)
	if container.WaitGone(st.Pid, st.InitStart, timeout) != nil {
		unix.Kill(st.Pid, unix.SIGKILL)
		return container.WaitGone(st.Pid, st.InitStart, 10*time.Second)
	}
	return nil
}

// WaitRecorded waits (briefly) for the supervisor to record the exit, so
// a following ps shows the code.
func WaitRecorded(root, id string) {
	for i := 0; i < 500; i++ {
		st, err := container.Load(root, id)
		if err != nil || st.Supervisor == 0 || !container.ProcessAlive(st.Supervisor, st.SupervisorStart) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Wait waits until container id has stopped and returns its exit code
// (-1: unknown).
func Wait(root, id string) (int, error) {
	for {
		st, err := container.Load(root, id)
		if err != nil {
			return 0, err
		}
		if st.Status == specs.StateStopped {
			WaitRecorded(root, id)
			if st, err = container.Load(root, id); err != nil {
				return 0, err
			}
			if st.ExitCode != nil {
				return *st.ExitCode, nil
			}
			return -1, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Remove removes a stopped container, or with force any: the init (and
// with it the whole pid namespace) is killed, the supervisor given a
// moment to finish, then the state and name are removed.
func Remove(root, ref string, force bool) error {
	return remove(root, ref, force, 0)
}

func remove(root, ref string, force bool, depth int) error {
	id, err := Resolve(root, ref)
	if err != nil {
		return err
	}
	st, err := load(root, id)
	if err != nil {
		return err
	}
	if deps := dependents(root, id); len(deps) > 0 {
		// As podman (with or without -f): the others' next start, or
		// their pid namespace, would go with it.
		return fmt.Errorf("container %s %w: %s (they share its namespaces)", ref, ErrDependents, strings.Join(deps, ", "))
	}
	if st.Status == container.StatusConfigured && force && st.SharedSupervisor {
		// Being started by the shared supervisor, which serves others
		// too and must not be killed: let the start end (running, or
		// failed), then it is stopped as any.
		if st, err = settleShared(root, id); err != nil {
			return err
		}
	} else if st.Status == container.StatusConfigured && force {
		// Being set up or started (its urun, or the supervisor of run
		// -d or start, still runs and writes into its directory):
		// stop that first, as a started one's init is.
		for _, p := range [][2]uint64{{uint64(st.Creator), st.CreatorStart}, {uint64(st.Supervisor), st.SupervisorStart}} {
			if p[0] != 0 && container.KillProcess(int(p[0]), p[1], unix.SIGKILL) == nil {
				if err := container.WaitGone(int(p[0]), p[1], 10*time.Second); err != nil {
					return fmt.Errorf("removing %s: %w", ref, err)
				}
			}
		}
		if st, err = load(root, id); err != nil {
			return err
		}
	}
	if (st.Status == specs.StateRunning || st.Status == specs.StateCreated) && st.Pid > 0 {
		if !force {
			return fmt.Errorf("container %s is running: stop it first, or use 'urun rm -f'", ref)
		}
		if st.Record != "" {
			markStopped(id)
		}
		unix.Kill(st.Pid, unix.SIGKILL)
		if err := container.WaitGone(st.Pid, st.InitStart, 10*time.Second); err != nil {
			return fmt.Errorf("removing %s: %w", ref, err)
		}
	}
	WaitRecorded(root, id)
	unlock, err := container.Lock(root, id)
	if err != nil {
		return err
	}
	if now, err := container.Load(root, id); err == nil && force && depth < 3 && startingShared(now) {
		// The shared supervisor took it over meanwhile (its claim):
		// removing now would race with its set-up writes.
		unlock()
		return remove(root, ref, force, depth+1)
	}
	defer unlock()
	if err := removeContainer(root, id); err != nil {
		return err
	}
	RecordEvent(root, id, st.Name, st.Image, EventRemove, nil)
	return nil
}

// busyConfigured: st was never started and a live urun (create, run,
// start) or supervisor is still setting it up or starting it.
func busyConfigured(st *container.State) bool {
	return st.Status == container.StatusConfigured &&
		(st.Creator != 0 && container.ProcessAlive(st.Creator, st.CreatorStart) ||
			st.Supervisor != 0 && container.ProcessAlive(st.Supervisor, st.SupervisorStart))
}

// startingShared: the shared supervisor is still setting st up.
func startingShared(st *container.State) bool {
	return st.Status == container.StatusConfigured && st.SharedSupervisor &&
		container.ProcessAlive(st.Supervisor, st.SupervisorStart)
}

// settleShared waits (at most a start's timeout) until the shared
// supervisor has finished starting container id, and returns its state.
func settleShared(root, id string) (*container.State, error) {
	deadline := time.Now().Add(time.Minute)
	for {
		st, err := load(root, id)
		if err != nil || !startingShared(st) || time.Now().After(deadline) {
			return st, err
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Prune removes every container that does not run, as docker's and
// podman 4.3.1's: the stopped ones and the created ones never started,
// and the writable layers whose container is gone;
// it returns the ids removed. A container being set up or started (its
// urun or supervisor alive) is left alone.
func Prune(root string) ([]string, error) {
	list, err := List(root)
	if err != nil {
		return nil, err
	}
	var removed []string
	for _, st := range list {
		switch st.Status {
		case specs.StateRunning, specs.StateCreated:
			continue // what ps shows as running (an OCI-created init runs)
		case container.StatusConfigured:
			if busyConfigured(st) {
				continue
			}
		}
		if err := Remove(root, st.ID, false); errors.Is(err, ErrDependents) {
			continue // a running container shares its namespaces
		} else if err != nil {
			return removed, err
		}
		removed = append(removed, st.ID)
	}
	orphans, err := PruneOrphanUppers(root)
	return append(removed, orphans...), err
}

// load reads container id's state under its lock.
func load(root, id string) (*container.State, error) {
	unlock, err := container.Lock(root, id)
	if err != nil {
		return nil, err
	}
	defer unlock()
	return container.Load(root, id)
}

// Kill sends sig to container id's init (every process with all); an
// engine container's kill is a "kill" event with docker's signal
// attribute (its number). The OCI face's is not: podman records its own.
func Kill(root, id string, sig unix.Signal, all bool) error {
	if err := container.Kill(root, id, sig, all); err != nil {
		return err
	}
	if st, err := container.Load(root, id); err == nil && st.Record != "" {
		RecordEvent(root, id, st.Name, st.Image, EventKill, map[string]string{"signal": strconv.Itoa(int(sig))})
	}
	return nil
}
