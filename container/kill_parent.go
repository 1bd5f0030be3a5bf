package container

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Kill sends sig to the container's init, or with all to every process
// in its pid namespace; signal 0 only checks. As runc 1.1.5: the init of
// a stopped container is an error (ErrNotRunning), but --all on a stopped
// container succeeds with nothing to signal (runc finds its cgroup
// empty or gone).
func Kill(root, id string, sig unix.Signal, all bool) error {
	st, err := Load(root, id)
	if err != nil {
		return err
	}
	gone := st.Status == specs.StateStopped || st.Status == StatusConfigured || st.Pid <= 0
	if gone && all && st.Status == specs.StateStopped {
		return nil
	}
	if gone {
		return fmt.Errorf("%w: %s", ErrNotRunning, id)
	}
	if all {
		for _, pid := range ContainerPids(root, id, st) {
			unix.Kill(pid, sig)
		}
		return nil
	}
	if err := KillProcess(st.Pid, st.InitStart, sig); err != nil {
		if err == unix.ESRCH {
			return fmt.Errorf("%w: %s", ErrNotRunning, id)
		}
		return fmt.Errorf("signalling container %s: %w", id, err)
	}
	return nil
}

// ContainerPids lists the container's processes: those in its cgroup
// when urun made one (as root), else, init first, those in its pid namespace when it is the container's own; a namespace shared
// with a pod or the host holds other processes, so then only the init and
// its descendants.
func ContainerPids(root, id string, st *State) []int {
	if pids := st.Cgroups.Pids(); pids != nil {
		return pids
	}
	spec, err := LoadSpec(Dir(root, id))
	if err == nil && spec.Linux != nil {
		for _, ns := range spec.Linux.Namespaces {
			if ns.Type == specs.PIDNamespace && ns.Path == "" {
				return PidsInContainer(st.Pid)
			}
		}
	}
	return descendants(st.Pid)
}

// descendants lists pid and every process below it, pid first.
func descendants(pid int) []int {
	children := map[int][]int{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid …: comm may hold spaces and parentheses.
		i := bytes.LastIndexByte(b, ')')
		var state byte
		var ppid int
		if i < 0 || i+2 >= len(b) {
			continue
		}
		if _, err := fmt.Sscanf(string(b[i+2:]), "%c %d", &state, &ppid); err == nil {
			children[ppid] = append(children[ppid], p)
		}
	}
	out := []int{pid}
	for i := 0; i < len(out); i++ {
		out = append(out, children[out[i]]...)
	}
	return out
}

// PidsInContainer lists the host pids of the processes that share init's
// pid namespace, init first.
func PidsInContainer(init int) []int {
	want, err := os.Readlink("/proc/" + strconv.Itoa(init) + "/ns/pid")
	if err != nil {
		return nil
	}
	pids := []int{init}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == init {
			continue
		}
		if ns, err := os.Readlink("/proc/" + e.Name() + "/ns/pid"); err == nil && ns == want {
			pids = append(pids, pid)
		}
	}
	return pids
}

// Delete removes a container's state. A created container is killed; a
// running one only with force. Its mounts live in its own mount namespace
// and go with its last process.
func Delete(root, id string, force bool) error { return deleteState(root, id, force, nil) }

// deleteState is Delete with the container's spec when the caller has it
// (RunOCI); nil reads the one saved beside the state.
func deleteState(root, id string, force bool, spec *specs.Spec) error {
	st, unlock, err := LoadLocked(root, id)
	if err != nil {
		return err
	}
	defer unlock()
	switch st.Status {
	case specs.StateRunning, StatusPaused:
		if !force {
			return fmt.Errorf("container %s is running: stop it first, or use 'delete --force'", id)
		}
		fallthrough
	case specs.StateCreated:
		if st.Pid <= 0 {
			break
		}
		unix.Kill(st.Pid, unix.SIGKILL)
		if err := WaitGone(st.Pid, st.InitStart, 10*time.Second); err != nil {
			return fmt.Errorf("deleting %s: %w", id, err)
		}
	}
	if err := st.Cgroups.Remove(); err != nil {
		return fmt.Errorf("deleting %s: %w", id, err)
	}
	// The config goes with the state: its poststop hooks are read first.
	if spec == nil {
		spec, _ = LoadSpec(Dir(root, id))
	}
	if err := removeState(root, id); err != nil {
		return err
	}
	st.Status = specs.StateStopped
	warnHooks("poststop", spec, &st.State)
	return nil
}

// removeState removes a container's state directory; the caller holds
// its lock, and unlocking removes the lock file (see Lock).
func removeState(root, id string) error {
	Unsettle(root, id)
	if err := os.RemoveAll(Dir(root, id)); err != nil {
		return fmt.Errorf("removing state of %s: %w", id, err)
	}
	return nil
}

// WaitGone polls until the process is gone (it is not our child: it
// cannot be waited for).
func WaitGone(pid int, start uint64, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for ProcessAlive(pid, start) {
		if time.Now().After(deadline) {
			return fmt.Errorf("process %d still runs after %s", pid, timeout)
		}
		time.Sleep(2 * time.Millisecond)
	}
	return nil
}
