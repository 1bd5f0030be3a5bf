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
	"strings"
	"sync/atomic"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/urun-dev/urun/cgroupdelegate"
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
	// Config is the container as container.Run takes it: Spec, InitPath,
	// Rootfs, UseHelpers, SeccompCache and Debug are used.
	Config container.RunConfig
	Mode   Mode
	// AutoRemove: remove the container when it exits (--rm).
	AutoRemove bool
	// Interactive keeps stdin open in the foreground (-i, or -t).
	Interactive bool
	// TmpfsUpper keeps a --rm container's writes in memory
	// (--writable-layer=tmpfs) instead of a layer on disk.
	TmpfsUpper bool
	Network    NetConfig
	// Cgroups is the --cgroups mode.
	Cgroups       string
	RestartPolicy RestartPolicy
	// Labels are the user's --label values.
	Labels map[string]string
	// CIDFile is --cidfile: written with the id once the container is
	// registered (a file already there is refused).
	CIDFile string
	// StopSignal and StopTimeout: what `stop` does (0, nil: SIGTERM, 10 s).
	StopSignal  int
	StopTimeout *uint
	// Joins are the namespaces shared with another container (nil: none).
	Joins *Joins
	// Healthcheck is the container's health check (nil: none).
	Healthcheck *container.HealthConfig
	// User is -u as typed, else the image's USER (Record.User).
	User string
}

// Run registers the container and, unless it is only created, runs it:
// here (Foreground) or under a new supervisor (Detach), which works from
// the record written here. A kept container (anything but a foreground
// --rm run) gets a record, from which start and restart run it again.
// In the foreground it returns the container's status as
// container.ExitStatus.
func Run(r Request) error {
	root, id, cfg := r.Root, r.ID, r.Config
	use := r.Use
	if use == nil {
		use = &ImageUse{}
	}
	defer use.Release()
	rec := &Record{
		ID: id, Name: r.Name, Created: time.Now().UTC(), Root: root, Image: r.Image,
		Spec: cfg.Spec, InitPath: cfg.InitPath, Rootfs: cfg.Rootfs, UseHelpers: cfg.UseHelpers,
		SeccompCache: cfg.SeccompCache, Network: r.Network, Cgroups: r.Cgroups,
		AutoRemove: r.AutoRemove, RestartPolicy: r.RestartPolicy, Labels: r.Labels,
		StopSignal: r.StopSignal, StopTimeout: r.StopTimeout, Healthcheck: r.Healthcheck, Joins: r.Joins,
		User: r.User,
	}
	if use.Img != nil {
		rec.ImageDigest, rec.ImageRootfs = use.Img.Digest.String(), use.Rootfs
	}
	if rec.Name == "" {
		rec.Name = GeneratedName(id)
	}
	if err := reserve(root, rec); err != nil {
		return err
	}
	if err := makeLayer(rec, r.TmpfsUpper); err != nil {
		discardContainer(root, id)
		return err
	}
	if r.Mode != Foreground || !r.AutoRemove {
		if err := keep(rec, r.Mode == CreateOnly); err != nil {
			discardContainer(root, id)
			return err
		}
	}
	if r.CIDFile != "" {
		if err := writeCIDFile(r.CIDFile, id); err != nil {
			discardContainer(root, id)
			return err
		}
	}
	use.Release()
	switch r.Mode {
	case CreateOnly:
		fmt.Println(id)
		return nil
	case Detach:
		if err := spawnSupervisor(id, mustRecordPath(id)); err != nil {
			discardContainer(root, id)
			return err
		}
		fmt.Println(id)
		return nil
	}
	stdin := os.Stdin
	if cfg.Early != nil {
		// The init cloned early has its stdin already (os.Stdin or
		// /dev/null, as below).
		stdin = cfg.Early.Stdin()
	} else if !r.Interactive {
		devnull, err := os.Open(os.DevNull)
		if err != nil {
			discardContainer(root, id)
			return err
		}
		defer devnull.Close()
		stdin = devnull
	}
	foregroundRun.Store(true) // its exit does not wait for the usual trash (FinishSweep)
	err := runRecord(rec, &foreground{stdin: stdin, debug: cfg.Debug, exit: cfg.Exit, rootfsMounted: cfg.RootfsMounted, early: cfg.Early}, nil)
	if takeHealthRestart(root, id) && !r.AutoRemove {
		// --health-on-failure=restart: this run has ended (its status is
		// urun's), the container starts again detached, as podman's.
		if serr := spawnSupervisor(id, mustRecordPath(id)); serr != nil {
			fmt.Fprintln(os.Stderr, "urun: warning: restarting the unhealthy container:", serr)
		}
	}
	return err
}

// writeCIDFile writes the container's id to path, which must not exist
// (docker's --cidfile).
func writeCIDFile(path, id string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("--cidfile %s: the file exists (another container's?): remove it, or give another path", path)
		}
		return fmt.Errorf("--cidfile: %w", err)
	}
	_, err = f.WriteString(id)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("--cidfile: %w", err)
	}
	return nil
}

// makeLayer gives the container its writable layer on disk, unless it
// writes to a tmpfs (a --rm container that asked), to its rootfs
// directory itself (bind) or to its podman-store record's layer.
func makeLayer(rec *Record, tmpfs bool) error {
	if rec.AutoRemove && tmpfs || rec.Rootfs.Tier == fuseoverlay.Bind || rec.Rootfs.Upper != "" {
		return nil
	}
	return persistUpper(rec.Root, rec.ID, rec.AutoRemove, &rec.Rootfs)
}

// keep writes the record of a container that outlives its run (or runs
// under a supervisor). created: the user starts it (nobody else
// finishes it).
func keep(rec *Record, created bool) error {
	if b, err := os.ReadFile(podmanMarker(rec.Root, rec.ID)); err == nil {
		rec.PodmanStore = b
	}
	if err := rec.save(); err != nil {
		return err
	}
	return updateState(rec.Root, rec.ID, func(st *container.State) {
		st.Record = mustRecordPath(rec.ID)
		if created {
			st.Creator, st.CreatorStart = 0, 0
		}
	})
}

// foreground is how a container runs in its urun's own process; nil in a
// supervisor.
type foreground struct {
	stdin *os.File
	debug bool
	exit  *container.ExitTrace
	// rootfsMounted learns the tier the init mounted (the storage probe's record).
	rootfsMounted func(fuseoverlay.Mounted)
	// early is the init cloned before the container was registered
	// (container.StartEarly), or nil.
	early *container.EarlyInit
}

// runRecord runs the container of rec until it exits, in the foreground
// (fg) or as its supervisor (which reports the start to rep), and
// records how it ended.
func runRecord(rec *Record, fg *foreground, rep *reporter) error {
	root, id := rec.Root, rec.ID
	// A supervisor's record is read fresh for each run (supervise): its
	// spec is this run's own. The foreground's is the caller's.
	spec := rec.Spec
	if fg != nil {
		var err error
		if spec, err = rec.spec(); err != nil {
			return err
		}
	}
	cfg := container.RunConfig{
		Spec: spec, InitPath: rec.InitPath, Rootfs: rec.Rootfs, UseHelpers: rec.UseHelpers,
		SeccompCache: rec.SeccompCache, Debug: fg != nil && fg.debug,
	}
	if fg != nil {
		cfg.Exit = fg.exit
		cfg.RootfsMounted = fg.rootfsMounted
		cfg.Early = fg.early
	}
	if fg == nil {
		if err := claim(root, id, rep.shared); err != nil {
			return err
		}
	}
	// The process that runs the container holds its cgroup: this one,
	// the foreground urun or the supervisor (not a front, nor create).
	cg, err := setupCgroup(id, rec.Cgroups, spec.Linux.Resources, cfg.Debug)
	if err != nil {
		discardIfForeground(rec, fg)
		return err
	}
	if cg != nil {
		defer cg.Close()
		cfg.UseCgroup, cfg.CgroupFD = cg.CloneInto, cg.Dir()
		cfg.Attachments = append(cfg.Attachments, cg.Placer())
	}
	dir := container.Dir(root, id)
	cfg.RootfsDir = filepath.Join(dir, "rootfs")
	// Mkdir, not MkdirAll: a container removed meanwhile (rm -f while
	// it started) must not get its directory back.
	if err := os.Mkdir(cfg.RootfsDir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		discardIfForeground(rec, fg)
		return fmt.Errorf("creating container directory: %w", err)
	}
	env := ContainerEnv{Engine: EngineName, Name: rec.Name, ID: id, Image: rec.Image, ImageID: strings.TrimPrefix(rec.ImageDigest, "sha256:")}
	if rec.Joins != nil {
		// The namespaces of the target as it runs now (a restarted
		// one's are new).
		if env.JoinedDir, err = rec.Joins.apply(root, cfg.Spec); err != nil {
			discardIfForeground(rec, fg)
			return err
		}
	}
	attachments, err := rec.Network.Setup(cfg.Spec, dir, env)
	if err != nil {
		discardIfForeground(rec, fg)
		return err
	}
	cfg.Attachments = append(cfg.Attachments, attachments...)
	var logs *logWriter
	if fg == nil {
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
		cfg.Stdin, cfg.Stdout, cfg.Stderr = fg.stdin, os.Stdout, os.Stderr
		if !rec.AutoRemove && !cfg.Spec.Process.Terminal {
			// Kept: `logs` shows its output too, as docker's and podman's.
			logs, err = openLog(filepath.Join(dir, "ctr.log"))
			if err == nil {
				cfg.Stdout, cfg.Stderr, err = logs.teePipes(os.Stdout, os.Stderr)
			}
			if err != nil {
				discardIfForeground(rec, fg)
				return err
			}
		}
	}
	autoRemove := rec.AutoRemove
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
		st.SharedSupervisor = rep != nil && rep.shared
		st.Creator, st.CreatorStart = 0, 0 // handed over to its init
		if st.Healthcheck != nil {
			// Each start begins again at starting, as docker's.
			if st.Health == nil {
				st.Health = &container.Health{}
			}
			st.Health.Status, st.Health.FailingStreak = container.HealthStarting, 0
		}
		return st.Save(root)
	}
	var health *healthMonitor
	// The start event is appended beside the running container (off
	// the critical path of run and run -d's report), and before died.
	startLogged := make(chan struct{})
	var startCalled atomic.Bool
	cfg.Started = func(int) error {
		startCalled.Store(true)
		go func() {
			defer close(startLogged)
			RecordEvent(root, id, rec.Name, rec.Image, EventStart, nil)
		}()
		if logs != nil && !cfg.Spec.Process.Terminal {
			logs.closeWriters()
		}
		if rep != nil {
			rep.started()
		}
		var settle func()
		if rep != nil {
			settle = settleSupervisor
		}
		health = startHealthMonitor(root, id, rec.Healthcheck, HealthExec{InitPath: rec.InitPath, SeccompCache: rec.SeccompCache}, settle)
		return nil
	}
	status, runErr := container.Run(cfg)
	if startCalled.Load() {
		<-startLogged
	}
	health.end()
	if logs != nil {
		logs.close()
	}
	if moved := recordExit(root, id, status, runErr, autoRemove, fg != nil); moved != nil {
		// Removed by a detached remover while urun returns the status
		// (the mark below includes starting it).
		moved.removeLater()
	}
	cfg.Exit.Mark("cleaned up")
	if cg != nil {
		if cfg.Debug {
			u := cg.Usage()
			fmt.Fprintf(os.Stderr, "urun: cgroup usage: memory peak %d bytes, cpu %.2f ms\n", u.MemoryPeak, ms(u.CPU))
		}
		if runErr == nil && status == 137 && cg.OOMKilled() {
			fmt.Fprintln(os.Stderr, "urun: the container was killed for exceeding its memory limit (--memory)")
		}
	}
	if runErr != nil {
		return runErr
	}
	return container.ExitStatus(status)
}

// discardIfForeground removes a container its foreground run failed to
// start: nothing is left of a failed `urun run`. (A container a
// supervisor failed to start stays, as after any failed start; the
// front of run -d removes its own.)
func discardIfForeground(rec *Record, fg *foreground) {
	if fg != nil {
		discardContainer(rec.Root, rec.ID)
	}
}

// setupCgroup gives the container its own cgroup with the requested
// limits (see cgroupdelegate), or nil when it runs without one.
func setupCgroup(id, mode string, res *specs.LinuxResources, debug bool) (*cgroupdelegate.Cgroup, error) {
	m, err := cgroupdelegate.ParseMode(mode)
	if err != nil {
		return nil, err
	}
	cg, warnings, err := cgroupdelegate.Setup(cgroupdelegate.Request{ID: id, Mode: m, Resources: res, Explain: debug})
	for _, w := range warnings {
		fmt.Fprintln(os.Stderr, "urun: warning:", w)
	}
	if debug && cg != nil {
		fmt.Fprintf(os.Stderr, "urun: cgroup scope %6.2f ms (connect %.2f), leaf %6.2f ms: %s (delegated: %s)\n",
			ms(cg.ScopeTime), ms(cg.ConnectTime), ms(cg.SetupTime), cg.Unit, strings.Join(cg.Delegated, " "))
	}
	return cg, err
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// reserve creates the container's state (status configured) and its name.
func reserve(root string, rec *Record) error {
	id, name := rec.ID, rec.Name
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
	container.Unsettle(root, id)
	if err := os.Mkdir(dir, 0o700); err != nil {
		container.ReleaseName(root, name, id)
		return fmt.Errorf("creating container state: %w", err)
	}
	st := stateOf(rec, dir)
	st.Record = ""
	st.Creator = os.Getpid()
	st.CreatorStart, _ = container.ProcessStart(os.Getpid())
	if err := container.SaveSpec(dir, rec.Spec); err != nil {
		removeContainer(root, id)
		return err
	}
	if err := st.Save(root); err != nil {
		removeContainer(root, id)
		return err
	}
	return nil
}

// claim makes this supervisor the one of container id: rm -f stops it
// while it starts the container. For run -d the front that set the
// container up waits for us, and may be killed meanwhile: the container
// is ours to finish now.
func claim(root, id string, shared bool) error {
	self, _ := container.ProcessStart(os.Getpid())
	return updateState(root, id, func(st *container.State) {
		st.Supervisor, st.SupervisorStart = os.Getpid(), self
		st.SharedSupervisor = shared
		if st.Creator != 0 {
			st.Creator, st.CreatorStart = os.Getpid(), self
		}
	})
}

// recordExit writes how the container ended, or removes it (--rm).
// With later (a foreground run), a --rm container's writable layer is
// returned for removal after urun reports the exit (trash.go).
func recordExit(root, id string, status int, runErr error, autoRemove, later bool) *trashEntry {
	unlock, err := container.Lock(root, id)
	if err != nil {
		return nil
	}
	defer unlock()
	st, err := container.Load(root, id)
	if err != nil {
		return nil // removed meanwhile (rm -f)
	}
	if autoRemove {
		code := status
		if runErr != nil {
			code = container.ExitCode(runErr)
		}
		RecordEvent(root, id, st.Name, st.Image, EventDied, map[string]string{"exitCode": strconv.Itoa(code)})
		moved, _ := removeContainerLater(root, id, later)
		RecordEvent(root, id, st.Name, st.Image, EventRemove, nil)
		return moved
	}
	st.Status = specs.StateStopped
	st.FinishedAt = time.Now().UTC()
	if runErr == nil {
		st.ExitCode = &status
	} else {
		code := container.ExitCode(runErr)
		st.ExitCode = &code
	}
	st.Supervisor, st.SharedSupervisor = 0, false
	st.Creator, st.CreatorStart = 0, 0
	st.Save(root)
	RecordEvent(root, id, st.Name, st.Image, EventDied, map[string]string{"exitCode": strconv.Itoa(*st.ExitCode)})
	return nil
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
	_, err := removeContainerLater(root, id, false)
	return err
}

// removeContainerLater is removeContainer; with later, the writable
// layer is moved into the trash and returned for removal after the exit
// status is reported (trash.go), instead of removed here.
func removeContainerLater(root, id string, later bool) (*trashEntry, error) {
	if err := ReleasePodmanRecord(root, id); err != nil {
		return nil, err
	}
	st, err := container.Load(root, id)
	if err == nil && st.Name != "" {
		defer container.ReleaseName(root, st.Name, id)
	}
	var moved *trashEntry
	if later {
		moved = trashUpper(id)
	}
	if moved == nil {
		if err := removeUpper(id); err != nil {
			return nil, fmt.Errorf("removing container %s: %w", id, err)
		}
	}
	if later && trashState(root, id) {
		return moved, nil
	}
	if err := removeStateLast(container.Dir(root, id)); err != nil {
		if moved != nil {
			moved.removeNow()
		}
		return nil, fmt.Errorf("removing container %s: %w", id, err)
	}
	// The lock file goes when its holder unlocks (container.Lock), or
	// with the next sweep.
	return moved, nil
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
	container.Unsettle(filepath.Dir(dir), filepath.Base(dir))
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
