package engine

// The engine's containers: every `urun run` is registered in the state
// root so ps, exec, stop and rm find it; `run -d` hands the container to
// a supervisor (supervisor.go), the role conmon and containerd's shim
// play: it holds the output, writes the log, reaps the init, records the
// exit status and cleans up.

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/urun-dev/urun/container"
	"github.com/urun-dev/urun/fuse-overlay"
)

// Mode is how Run runs a container.
type Mode int

const (
	// Foreground: here, with the caller's stdio, until it exits.
	Foreground Mode = iota
	// Detach: under a new supervisor; Run returns once it runs.
	Detach
	// CreateOnly: registered, not started (`urun create`).
	CreateOnly
)

// Request is one container for Run: what the command line resolved.
type Request struct {
	Root string
	ID   string
	// Name is --name; empty: a generated one.
	Name string
	// Image is the image reference as given (what ps shows).
	Image string
	// Use is the pinned image the container starts from (nil: --rootfs
	// or podman's store).
	Use *ImageUse
	// Config is the container as container.Run takes it.
	Config container.RunConfig
	Mode   Mode
	// AutoRemove: remove the container when it exits (--rm).
	AutoRemove bool
	// Interactive keeps stdin open in the foreground (-i, or -t).
	Interactive bool
	// TmpfsUpper keeps a --rm container's writes in memory
	// (--writable-layer=tmpfs) instead of a layer on disk.
	TmpfsUpper bool
	// Network writes the container's /etc files into its directory, adds
	// their mounts to the spec and returns the network attachment.
	Network func(spec *specs.Spec, dir string) ([]container.Attachment, error)
	// Args are urun's own arguments (os.Args[1:]) that a supervisor
	// replays; SquashIDs is --squash-ids, which it must keep.
	Args      []string
	SquashIDs bool
}

// Run registers the container, runs it (here, or under a supervisor
// for Detach) and records how it ended. In the foreground and in a
// supervisor it returns the container's status as a *container.CodedError
// without text.
func Run(r Request) error {
	root, id, cfg := r.Root, r.ID, r.Config
	use := r.Use
	if use == nil {
		use = &ImageUse{}
	}
	sup := supervised
	switch {
	case r.Mode == CreateOnly:
		if err := reserve(root, r.Name, id, r.Image, cfg.Spec, use); err != nil {
			return err
		}
		// Handed over to the user: a created container is kept.
		if err := updateState(root, id, func(st *container.State) {
			st.RunArgs = keepSquash(runArgsFromCreate(r.Args), r.SquashIDs)
			st.Creator, st.CreatorStart = 0, 0
		}); err != nil {
			discardContainer(root, id)
			return err
		}
		use.Release()
		fmt.Println(id)
		return nil
	case r.Mode == Detach && sup == nil:
		if err := reserve(root, r.Name, id, r.Image, cfg.Spec, use); err != nil {
			return err
		}
		if err := updateState(root, id, func(st *container.State) {
			st.RunArgs = keepSquash(r.Args, r.SquashIDs)
		}); err != nil {
			discardContainer(root, id)
			return err
		}
		use.Release()
		if err := spawnSupervisor(id, r.Args); err != nil {
			discardContainer(root, id)
			return err
		}
		fmt.Println(id)
		return nil
	case sup == nil:
		if err := reserve(root, r.Name, id, r.Image, cfg.Spec, use); err != nil {
			return err
		}
	default:
		if err := refreshForRestart(root, id, cfg.Spec, use); err != nil {
			return err
		}
	}
	use.Release()
	autoRemove := r.AutoRemove
	// (A podman store container already writes to its record's layer.)
	tmpfsUpper := autoRemove && r.TmpfsUpper
	if !tmpfsUpper && cfg.Rootfs.Tier != fuseoverlay.Bind && cfg.Rootfs.Upper == "" {
		if err := persistUpper(root, id, autoRemove, &cfg.Rootfs); err != nil {
			discardContainer(root, id)
			return err
		}
	}
	dir := container.Dir(root, id)
	cfg.RootfsDir = filepath.Join(dir, "rootfs")
	// Mkdir, not MkdirAll: a container removed meanwhile (rm -f while
	// it started) must not get its directory back.
	if err := os.Mkdir(cfg.RootfsDir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		discardContainer(root, id)
		return fmt.Errorf("creating container directory: %w", err)
	}
	if r.Network != nil {
		attachments, err := r.Network(cfg.Spec, dir)
		if err != nil {
			discardContainer(root, id)
			return err
		}
		cfg.Attachments = append(cfg.Attachments, attachments...)
	}
	var logs *logWriter
	if sup != nil {
		devnull, err := os.Open(os.DevNull)
		if err != nil {
			return err
		}
		defer devnull.Close()
		cfg.Stdin = devnull
		logs, err = openLog(filepath.Join(dir, "ctr.log"))
		if err != nil {
			return err
		}
		if cfg.Stdout, cfg.Stderr, err = logs.pipes(); err != nil {
			return err
		}
		if cfg.Spec.Process.Terminal {
			if cfg.Spec.Process.ConsoleSize == nil {
				cfg.Spec.Process.ConsoleSize = &specs.Box{Height: 24, Width: 80}
			}
			logOut := cfg.Stdout
			// Listening before the start is reported: an attach right
			// after run -d finds the socket.
			sock := AttachSocket(root, id)
			os.Remove(sock)
			l, err := net.Listen("unix", sock)
			if err != nil {
				return fmt.Errorf("serving the terminal for attach: %w", err)
			}
			defer os.Remove(sock)
			cfg.Console = func(master *os.File) { serveConsole(master, logOut, l) }
		}
	} else {
		cfg.Stdin, cfg.Stdout, cfg.Stderr = os.Stdin, os.Stdout, os.Stderr
		if !r.Interactive {
			devnull, err := os.Open(os.DevNull)
			if err != nil {
				return err
			}
			defer devnull.Close()
			cfg.Stdin = devnull
		}
	}
	cfg.Cloned = func(pid int) error {
		unlock, err := container.Lock(root, id)
		if err != nil {
			return err
		}
		defer unlock()
		st, err := container.Load(root, id)
		if err != nil {
			return fmt.Errorf("container %s was removed while starting", id[:12])
		}
		st.Pid = pid
		st.InitStart, _ = container.ProcessStart(pid)
		st.Status = specs.StateRunning
		st.StartedAt = time.Now().UTC()
		st.FinishedAt = time.Time{}
		st.ExitCode = nil
		st.AutoRemove = autoRemove
		st.Supervisor = os.Getpid()
		st.SupervisorStart, _ = container.ProcessStart(os.Getpid())
		st.Creator, st.CreatorStart = 0, 0 // handed over to its init
		return st.Save(root)
	}
	cfg.Started = func(int) error {
		if logs != nil && !cfg.Spec.Process.Terminal {
			logs.closeWriters()
		}
		reportStarted()
		return nil
	}
	status, runErr := container.Run(cfg)
	if logs != nil {
		logs.close()
	}
	recordExit(root, id, status, runErr, autoRemove)
	cfg.Exit.Mark("cleaned up")
	if runErr != nil {
		return runErr
	}
	return container.ExitStatus(status)
}

// reserve creates the container's state (status configured) and its name.
func reserve(root, name, id, ref string, spec *specs.Spec, use *ImageUse) error {
	if name == "" {
		name = GeneratedName(id)
	}
	if err := container.ValidID(name); err != nil {
		return fmt.Errorf("--name: %w", err)
	}
	reclaimName(root, name)
	if err := container.ReserveName(root, name, id); err != nil {
		return err
	}
	// Held until the state is saved: a sweep leaves a locked directory
	// without state alone.
	unlock, err := container.Lock(root, id)
	if err != nil {
		container.ReleaseName(root, name, id)
		return err
	}
	defer unlock()
	dir := container.Dir(root, id)
	if err := os.Mkdir(dir, 0o700); err != nil {
		container.ReleaseName(root, name, id)
		return fmt.Errorf("creating container state: %w", err)
	}
	creatorStart, _ := container.ProcessStart(os.Getpid())
	st := &container.State{
		State: specs.State{Version: specs.Version, ID: id, Status: container.StatusConfigured, Bundle: dir,
			Annotations: spec.Annotations},
		Created: time.Now().UTC(), Rootless: true,
		Name: name, Image: ref, Command: spec.Process.Args, Tty: spec.Process.Terminal,
		LogPath: filepath.Join(dir, "ctr.log"),
		Creator: os.Getpid(), CreatorStart: creatorStart,
	}
	use.record(st)
	if err := container.SaveSpec(dir, spec); err != nil {
		removeContainer(root, id)
		return err
	}
	if err := st.Save(root); err != nil {
		removeContainer(root, id)
		return err
	}
	return nil
}

// refreshForRestart updates the saved config of a container a supervisor
// (re)starts: the spec may have been rebuilt from a newer image.
func refreshForRestart(root, id string, spec *specs.Spec, use *ImageUse) error {
	// The supervisor is known from now on (rm -f stops it while it
	// starts the container). For run -d the front that set the
	// container up waits for us, and may be killed meanwhile: the
	// container is ours to finish now.
	self, _ := container.ProcessStart(os.Getpid())
	var before string
	if err := updateState(root, id, func(st *container.State) {
		before = st.ImageRootfs
		st.Supervisor, st.SupervisorStart = os.Getpid(), self
		if st.Creator != 0 {
			st.Creator, st.CreatorStart = os.Getpid(), self
		}
		if use.Img != nil && before != use.Rootfs {
			// The image's name may point at a newer image now: rmi
			// must see the tree this start uses.
			use.record(st)
		}
	}); err != nil {
		return err
	}
	return container.SaveSpec(container.Dir(root, id), spec)
}

// recordExit writes how the container ended, or removes it (--rm).
func recordExit(root, id string, status int, runErr error, autoRemove bool) {
	unlock, err := container.Lock(root, id)
	if err != nil {
		return
	}
	defer unlock()
	st, err := container.Load(root, id)
	if err != nil {
		return // removed meanwhile (rm -f)
	}
	if autoRemove {
		removeContainer(root, id)
		return
	}
	st.Status = specs.StateStopped
	st.FinishedAt = time.Now().UTC()
	if runErr == nil {
		st.ExitCode = &status
	} else {
		code := container.ExitCode(runErr)
		st.ExitCode = &code
	}
	st.Supervisor = 0
	st.Creator, st.CreatorStart = 0, 0
	st.Save(root)
}

// updateState changes container id's saved state under its lock.
func updateState(root, id string, change func(*container.State)) error {
	unlock, err := container.Lock(root, id)
	if err != nil {
		return err
	}
	defer unlock()
	st, err := container.Load(root, id)
	if err != nil {
		return err
	}
	change(st)
	return st.Save(root)
}

// removeContainer deletes a container's state, its rootfs mount point
// and its name. The caller holds its lock and made sure nothing of it
// runs.
func removeContainer(root, id string) error {
	if err := ReleasePodmanRecord(root, id); err != nil {
		return err
	}
	st, err := container.Load(root, id)
	if err == nil && st.Name != "" {
		defer container.ReleaseName(root, st.Name, id)
	}
	if err := removeUpper(id); err != nil {
		return fmt.Errorf("removing container %s: %w", id, err)
	}
	if err := removeStateLast(container.Dir(root, id)); err != nil {
		return fmt.Errorf("removing container %s: %w", id, err)
	}
	// The lock file goes when its holder unlocks (container.Lock), or
	// with the next sweep.
	return nil
}

// discardContainer removes a container its command failed to set up,
// under its lock (unlocking then removes the lock file).
func discardContainer(root, id string) {
	if unlock, err := container.Lock(root, id); err == nil {
		defer unlock()
	}
	removeContainer(root, id)
}

// GeneratedName is a readable default name, unique by the id.
func GeneratedName(id string) string {
	adjectives := []string{"brave", "calm", "eager", "fond", "keen", "lucid", "merry", "neat", "proud", "quick", "sharp", "tidy"}
	nouns := []string{"otter", "lynx", "heron", "badger", "finch", "ibis", "koala", "marten", "newt", "panda", "raven", "wren"}
	n, _ := strconv.ParseUint(id[:8], 16, 64)
	return adjectives[n%12] + "_" + nouns[(n/12)%12] + "_" + id[8:12]
}

// removeStateLast deletes a container directory with its state.json
// last: a container that ps no longer lists has no directory left (but
// for the final rmdir).
func removeStateLast(dir string) error {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	for _, e := range ents {
		if e.Name() != "state.json" {
			if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	return os.RemoveAll(dir)
}
