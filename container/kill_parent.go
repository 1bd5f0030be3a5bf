package container

import (
	"fmt"
	"os"
	"strconv"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Kill sends sig to the container's init, or with all to every process
// in its pid namespace. A stopped container is an error, as with runc.
func Kill(root, id string, sig unix.Signal, all bool) error {
	st, err := Load(root, id)
	if err != nil {
		return err
	}
	if st.Status == specs.StateStopped || st.Status == StatusConfigured || st.Pid <= 0 {
		return fmt.Errorf("%w: %s", ErrNotRunning, id)
	}
	if all {
		for _, pid := range PidsInContainer(st.Pid) {
			unix.Kill(pid, sig)
		}
		return nil
	}
	if err := unix.Kill(st.Pid, sig); err != nil {
		return fmt.Errorf("signalling container %s: %w", id, err)
	}
	return nil
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
func Delete(root, id string, force bool) error {
	unlock, err := Lock(root, id)
	if err != nil {
		return err
	}
	defer unlock()
	st, err := Load(root, id)
	if err != nil {
		return err
	}
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
	// The config goes with the state: its poststop hooks are read first.
	spec, _ := LoadSpec(Dir(root, id))
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
