package container

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/urun-dev/urun/userns"
)

// CreateConfig is a container to create and leave waiting for start: the
// OCI runtime's `create`. The container's stdio is RunConfig's.
type CreateConfig struct {
	RunConfig
	Root, ID, Bundle string
	// Console receives the pty master when the process has a terminal
	// (the OCI --console-socket); Create closes it afterwards.
	Console func(master *os.File) error
	// PreserveFDs are passed to the process at 3, 4, … (--preserve-fds).
	PreserveFDs []*os.File
}

// Create builds the container up to the exec of its process and returns
// its saved state. The init then waits, no longer tied to this process,
// until Start. On failure nothing is left: no process, no state.
func Create(cfg CreateConfig) (st *State, err error) {
	if err := ValidNewID(cfg.ID); err != nil {
		return nil, err
	}
	// The init is cloned first, from the parsed config: its start and
	// newuidmap/newgidmap's run while the state directory, the spec's
	// copy and the exec FIFO are made. Any error below ends it
	// (EarlyInit.Abort, deferred).
	initBin, err := OpenInit(cfg.InitPath)
	if err != nil {
		return nil, err
	}
	ucfg := initUsernsConfig(cfg.RunConfig, initBin)
	// The preserved descriptors follow the init's own (sync, program).
	preserve := Preserved{From: initFD + 1, Count: len(cfg.PreserveFDs)}
	ucfg.ExtraFiles = append(ucfg.ExtraFiles, cfg.PreserveFDs...)
	cloning := cloneAsync(ucfg, initBin, cfg.Debug, "")
	defer cloning.Abort()
	filter, err := seccompProgram(cfg.Spec, cfg.SeccompCache)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Root, 0o700); err != nil {
		return nil, fmt.Errorf("creating state root %s: %w", cfg.Root, err)
	}
	unlock, err := Lock(cfg.Root, cfg.ID)
	if err != nil {
		return nil, err
	}
	defer unlock()
	dir := Dir(cfg.Root, cfg.ID)
	Unsettle(cfg.Root, cfg.ID) // a mark a killed delete of this id left
	if err := os.Mkdir(dir, 0o700); err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("container %s already exists: choose another id, or 'urun delete %s' first", cfg.ID, cfg.ID)
		}
		return nil, fmt.Errorf("creating container state: %w", err)
	}
	defer func() {
		if err != nil {
			Unsettle(cfg.Root, cfg.ID)
			os.RemoveAll(dir) // unlock then removes the lock file
		}
	}()
	if err := SaveSpec(dir, cfg.Spec); err != nil {
		return nil, err
	}
	fifo := ExecFifo(cfg.Root, cfg.ID)
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		return nil, fmt.Errorf("creating exec fifo: %w", err)
	}
	// The init reopens the FIFO through its handle as the process user
	// (runc's order), or as an id the user's files do not know when the
	// maps leave the user out: it needs write access to the inode. The
	// state directory stays private; runc's FIFO is 0622 too.
	if err := os.Chmod(fifo, 0o622); err != nil {
		return nil, fmt.Errorf("creating exec fifo: %w", err)
	}
	if cfg.RootfsDir == "" {
		cfg.RootfsDir = filepath.Join(dir, "rootfs")
		if err := os.Mkdir(cfg.RootfsDir, 0o700); err != nil {
			return nil, fmt.Errorf("creating the rootfs mount point: %w", err)
		}
	}
	spec := cfg.Spec
	var hookState *specs.State
	if len(hooksOf(spec, "createContainer"))+len(hooksOf(spec, "startContainer")) > 0 {
		hookState = &specs.State{Version: specs.Version, ID: cfg.ID, Bundle: cfg.Bundle, Annotations: spec.Annotations}
	}
	if cfg.Debug {
		fmt.Fprintf(os.Stderr, "urun: host set up  %6.2f ms (state, FIFO)\n", msSince(cloning.start))
	}
	cloneAt := cloning.cloneAt
	child, err := cloning.wait()
	if err != nil {
		return nil, err
	}
	defer child.Conn.Close()
	if err := cfg.Cgroups.Attach(child.Pid()); err != nil {
		return nil, killAndReap(child, err)
	}
	if err := child.Conn.Send(MsgInit, InitConfig{
		Spec: withoutSeccompProfile(spec), RootfsDir: cfg.RootfsDir, Rootfs: cfg.Rootfs, Debug: cfg.Debug, CloneAt: cloneAt, ExecFifo: fifo, Seccomp: filter,
		HookState: hookState, Preserve: preserve,
	}); err != nil {
		return nil, killAndReap(child, err)
	}
	if spec.Process.Terminal {
		master, err := receiveConsole(child)
		if err != nil {
			return nil, err
		}
		if cfg.Console == nil {
			master.Close()
			return nil, killAndReap(child, errors.New("the process has a terminal but no --console-socket was given"))
		}
		err = cfg.Console(master)
		master.Close()
		if err != nil {
			return nil, killAndReap(child, err)
		}
	}
	agent := newSeccompAgent(spec, filter, specs.State{
		Version: specs.Version, ID: cfg.ID, Status: specs.StateCreating, Bundle: cfg.Bundle, Annotations: spec.Annotations,
	})
	m, err := agent.receive(child, func() int { return child.Pid() })
	switch {
	case err != nil:
		return nil, killAndReap(child, fmt.Errorf("waiting for the container to be created: %w", err))
	case m.Type == userns.MsgError:
		return nil, initFailed(child, m)
	case m.Type != MsgCreated:
		return nil, killAndReap(child, fmt.Errorf("container init sent unexpected %q message", m.Type))
	}
	pid := child.Pid()
	start, err := ProcessStart(pid)
	if err != nil {
		return nil, killAndReap(child, fmt.Errorf("reading the init's start time: %w", err))
	}
	st = &State{
		State: specs.State{
			Version:     specs.Version,
			ID:          cfg.ID,
			Status:      specs.StateCreated,
			Pid:         pid,
			Bundle:      cfg.Bundle,
			Annotations: spec.Annotations,
		},
		InitStart: start,
		Created:   time.Now().UTC(),
		Rootless:  !cfg.NoNewUser,
		Cgroups:   cfg.Cgroups,
	}
	creating := st.State
	creating.Status = specs.StateCreating
	if err := RunHooks("createRuntime", hooksOf(spec, "createRuntime"), &creating); err != nil {
		return nil, killAndReap(child, err)
	}
	if err := st.Save(cfg.Root); err != nil {
		return nil, killAndReap(child, err)
	}
	// The init outlives us: it is reparented to the caller's subreaper
	// (conmon, containerd-shim) or to init, which reaps it.
	child.Cmd.Process.Release()
	return st, nil
}

// Start lets a created container exec its process: opening the exec FIFO
// for reading releases the init's blocked open; the FIFO then goes.
func Start(root, id string) error { return start(root, id, nil) }

// start is Start with the container's spec, when the caller has it
// (RunOCI created the container from it a moment ago): nil reads the one
// saved beside the state.
func start(root, id string, spec *specs.Spec) error {
	st, unlock, err := LoadLocked(root, id)
	if err != nil {
		return err
	}
	defer unlock()
	if st.Status != specs.StateCreated {
		return fmt.Errorf("container %s is %s, not created: only a created container can be started", id, st.Status)
	}
	if spec == nil {
		if spec, err = LoadSpec(Dir(root, id)); err != nil {
			return err
		}
	}
	if err := RunHooks("prestart", hooksOf(spec, "prestart"), &st.State); err != nil {
		// The lifecycle goes on at delete: the container is stopped
		// and removed, its poststop hooks run.
		unix.Kill(st.Pid, unix.SIGKILL)
		WaitGone(st.Pid, st.InitStart, 10*time.Second)
		removeState(root, id)
		st.Status = specs.StateStopped
		warnHooks("poststop", spec, &st.State)
		return fmt.Errorf("%w; container %s was deleted", err, id)
	}
	initExe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", st.Pid))
	fifo := ExecFifo(root, id)
	// O_NONBLOCK: the writer is there (the init blocks in open), so this
	// does not wait; if the init died meanwhile, nothing is read.
	f, err := os.OpenFile(fifo, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("starting %s: %w", id, err)
	}
	defer f.Close()
	os.Remove(fifo)
	buf := make([]byte, 1)
	deadline := time.Now().Add(execTimeout)
	for {
		n, err := unix.Read(int(f.Fd()), buf)
		if n == 1 {
			break
		}
		if err != nil && err != unix.EAGAIN {
			return fmt.Errorf("starting %s: %w", id, err)
		}
		if !ProcessAlive(st.Pid, st.InitStart) {
			return fmt.Errorf("container %s: its init exited before start", id)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("container %s did not start within %s", id, execTimeout)
		}
		waitFifo(f)
	}
	st.Status = specs.StateRunning
	if err := st.Save(root); err != nil {
		return err
	}
	if len(hooksOf(spec, "poststart")) > 0 && initExe != "" {
		// Poststart hooks follow the exec of the process, which the
		// init does just after the FIFO is read: wait until its
		// executable is no longer urun-init (or it is gone).
		for time.Now().Before(deadline) && ProcessAlive(st.Pid, st.InitStart) {
			if exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", st.Pid)); err != nil || exe != initExe {
				break
			}
			time.Sleep(time.Millisecond)
		}
	}
	warnHooks("poststart", spec, &st.State)
	return nil
}

// waitFifo waits until the exec FIFO may have its byte. The init sends
// MsgCreated before it opens the FIFO, so `urun start` often opens it
// first, reads end of file (no writer yet), and used to sleep 1 ms and
// try again: nearly a millisecond on most starts. poll instead wakes at
// the init's write. It does not report the missing writer as a hang-up
// (a reader opened with O_NONBLOCK sees POLLHUP only once a writer has
// come and gone), so the 50 ms bound is only for the caller to check
// that the init still lives; after a real hang-up (the init closed the
// FIFO without writing: it is exiting) poll returns at once, so that
// case sleeps as before.
func waitFifo(f *os.File) {
	fds := []unix.PollFd{{Fd: int32(f.Fd()), Events: unix.POLLIN}}
	if n, _ := unix.Poll(fds, 50); n == 1 && fds[0].Revents&unix.POLLIN == 0 {
		time.Sleep(time.Millisecond)
	}
}

// SaveSpec keeps the container's config beside its state: exec starts
// from its process.
func SaveSpec(dir string, spec *specs.Spec) error {
	b, err := json.Marshal(spec)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), b, 0o600); err != nil {
		return fmt.Errorf("saving the container's config: %w", err)
	}
	return nil
}

// LoadSpec reads the config saved by SaveSpec.
func LoadSpec(dir string) (*specs.Spec, error) {
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return nil, fmt.Errorf("reading the container's config: %w", err)
	}
	var s specs.Spec
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("reading the container's config: %w", err)
	}
	return &s, nil
}

// SpecHead is what `state` and `list` print of a container's config.json.
// Decoding only these fields skips encoding/json's field tables for the
// whole runtime-spec type tree: about 1 ms of CPU per OCI `state` call
// (docs/BENCHMARKS.md, issue 25 fourth round).
type SpecHead struct {
	Version string `json:"ociVersion"`
	Root    *struct {
		Path string `json:"path"`
	} `json:"root"`
}

// LoadSpecHead reads the SpecHead of the config.json in dir.
func LoadSpecHead(dir string) (*SpecHead, error) {
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return nil, fmt.Errorf("reading the container's config: %w", err)
	}
	var s SpecHead
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("reading the container's config: %w", err)
	}
	return &s, nil
}
