package main

// The engine's containers: every `urun run` is registered in the state
// root so ps, exec, stop and rm find it; `run -d` hands the container to
// a supervisor (urun __supervise), the role conmon and containerd's shim
// play: it holds the output, writes the log, reaps the init, records the
// exit status and cleans up.

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/urun-dev/urun/container"
	"github.com/urun-dev/urun/fuse-overlay"
)

// supervisorArg is the hidden command a detached container's supervisor
// runs: urun __supervise ID ARGS... (ARGS: urun's own arguments).
const supervisorArg = "__supervise"

// engineMode is set in a supervisor process.
type engineMode struct {
	id string
	// status reports to the front (`run -d`, `start`) once: "ok" when the
	// process runs, else the error; closing it ends the front's wait.
	status *os.File
}

var supervised *engineMode

// superviseMain is the supervisor's main: it runs the container exactly
// as `urun ARGS` would, detached, with its output going to the log.
func superviseMain(args []string) int {
	if len(args) < 1 {
		return container.ExitRuntime
	}
	supervised = &engineMode{id: args[0], status: os.NewFile(3, "status")}
	debug.SetGCPercent(25)
	var errBuf bytes.Buffer
	code := urunMain(args[1:], io.Discard, &errBuf)
	if supervised.status != nil {
		// Failed before the process ran: the front prints the error.
		fmt.Fprintf(supervised.status, "err %d %s", code, strings.TrimSpace(errBuf.String()))
		supervised.status.Close()
	}
	return code
}

// reportStarted tells the front the container runs, and lets it go.
func reportStarted() {
	if supervised != nil && supervised.status != nil {
		fmt.Fprint(supervised.status, "ok")
		supervised.status.Close()
		supervised.status = nil
		// From here the supervisor only copies output and waits: give
		// back what start-up used (measured: docs/BENCHMARKS.md).
		debug.FreeOSMemory()
	}
}

// spawnSupervisor starts a detached supervisor for container id running
// `urun args...`, and waits until it reports the process running.
func spawnSupervisor(id string, args []string) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding urun's own executable: %w", err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	cmd := exec.Command(exe, append([]string{supervisorArg, id}, args...)...)
	cmd.ExtraFiles = []*os.File{w}
	// Its own session, no terminal, nothing of ours: it outlives us.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		w.Close()
		return fmt.Errorf("starting the supervisor: %w", err)
	}
	w.Close()
	msg, _ := io.ReadAll(r)
	s := string(msg)
	if s == "ok" {
		cmd.Process.Release()
		return nil
	}
	cmd.Wait()
	if rest, ok := strings.CutPrefix(s, "err "); ok {
		codeStr, text, _ := strings.Cut(rest, " ")
		code, _ := strconv.Atoi(codeStr)
		text = strings.TrimPrefix(text, "urun: ")
		return &container.CodedError{Code: code, Err: errors.New(text)}
	}
	return fmt.Errorf("the supervisor of %s exited before the container started (%s)", id[:12], cmd.ProcessState)
}

// runEngine registers the container, runs it (here, or under a
// supervisor for -d) and records how it ended.
func runEngine(g *globals, f *runFlags, ref, id string, cfg container.RunConfig) error {
	root, err := ociRoot(g)
	if err != nil {
		return err
	}
	if f.createOnly {
		if err := reserve(root, f, id, ref, cfg.Spec); err != nil {
			return err
		}
		// Handed over to the user: a created container is kept.
		if err := updateState(root, id, func(st *container.State) {
			st.RunArgs = keepSquash(runArgsFromCreate(os.Args[1:]), f.squashIDs)
			st.Creator, st.CreatorStart = 0, 0
		}); err != nil {
			discardContainer(root, id)
			return err
		}
		f.image.release()
		fmt.Println(id)
		return nil
	}
	if f.detach && supervised == nil {
		if err := reserve(root, f, id, ref, cfg.Spec); err != nil {
			return err
		}
		if err := updateState(root, id, func(st *container.State) {
			st.RunArgs = keepSquash(os.Args[1:], f.squashIDs)
		}); err != nil {
			discardContainer(root, id)
			return err
		}
		f.image.release()
		if err := spawnSupervisor(id, os.Args[1:]); err != nil {
			discardContainer(root, id)
			return err
		}
		fmt.Println(id)
		return nil
	}
	if supervised == nil {
		if err := reserve(root, f, id, ref, cfg.Spec); err != nil {
			return err
		}
	} else if err := refreshForRestart(root, id, cfg.Spec, &f.image); err != nil {
		return err
	}
	f.image.release()
	autoRemove := f.rm
	if f.detach && !f.rmExplicit {
		autoRemove = false
	}
	// (A podman store container already writes to its record's layer.)
	tmpfsUpper := autoRemove && f.writableLayer == writableTmpfs
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
	attachments, err := f.net.setup(cfg.Spec, dir)
	if err != nil {
		discardContainer(root, id)
		return err
	}
	cfg.Attachments = append(cfg.Attachments, attachments...)
	var logs *logWriter
	if supervised != nil {
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
			sock := attachSocket(root, id)
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
		if !f.interactive && !f.opts.Tty {
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
		if err := st.Save(root); err != nil {
			return err
		}
		return nil
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
	if runErr != nil {
		return runErr
	}
	return exitStatus(status)
}

// reserve creates the container's state (status configured) and its name.
func reserve(root string, f *runFlags, id, ref string, spec *specs.Spec) error {
	name := f.name
	if name == "" {
		name = generatedName(id)
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
	f.image.record(st)
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
func refreshForRestart(root, id string, spec *specs.Spec, use *imageUse) error {
	st, err := container.Load(root, id)
	if err != nil {
		return err
	}
	// The supervisor is known from now on (rm -f stops it while it
	// starts the container). For run -d the front that set the
	// container up waits for us, and may be killed meanwhile: the
	// container is ours to finish now.
	self, _ := container.ProcessStart(os.Getpid())
	if err := updateState(root, id, func(st *container.State) {
		st.Supervisor, st.SupervisorStart = os.Getpid(), self
		if st.Creator != 0 {
			st.Creator, st.CreatorStart = os.Getpid(), self
		}
	}); err != nil {
		return err
	}
	if use.img != nil && st.ImageRootfs != use.rootfs {
		// The image's name may point at a newer image now: rmi must see
		// the tree this start uses.
		unlock, err := container.Lock(root, id)
		if err != nil {
			return err
		}
		if st, err = container.Load(root, id); err == nil {
			use.record(st)
			err = st.Save(root)
		}
		unlock()
		if err != nil {
			return err
		}
	}
	return container.SaveSpec(container.Dir(root, id), spec)
}

// recordExit writes how the container ended, or removes it (--rm).
func recordExit(root, id string, status int, runErr error, autoRemove bool) {
	unlock, err := container.Lock(root, id)
	if err != nil {
		return
	}
	st, err := container.Load(root, id)
	if err != nil {
		unlock()
		return // removed meanwhile (rm -f)
	}
	if autoRemove {
		removeContainer(root, id)
		unlock()
		return
	}
	defer unlock()
	st.Status = specs.StateStopped
	st.FinishedAt = time.Now().UTC()
	if runErr == nil {
		st.ExitCode = &status
	} else {
		code := container.ExitRuntime
		var ec interface{ ExitCode() int }
		if errors.As(runErr, &ec) && ec.ExitCode() != 0 {
			code = ec.ExitCode()
		}
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
// and its name. The caller made sure nothing of it runs.
func removeContainer(root, id string) error {
	if err := releasePodmanRecord(root, id); err != nil {
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

// removeStateLast deletes a container directory with its state.json
// last: a container that `ps` no longer lists has no directory left
// (but for the final rmdir).
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

// discardContainer removes a container its command failed to set up,
// under its lock (unlocking then removes the lock file).
func discardContainer(root, id string) {
	if unlock, err := container.Lock(root, id); err == nil {
		defer unlock()
	}
	removeContainer(root, id)
}

// generatedName is a readable default name, unique by the id.
func generatedName(id string) string {
	adjectives := []string{"brave", "calm", "eager", "fond", "keen", "lucid", "merry", "neat", "proud", "quick", "sharp", "tidy"}
	nouns := []string{"otter", "lynx", "heron", "badger", "finch", "ibis", "koala", "marten", "newt", "panda", "raven", "wren"}
	n, _ := strconv.ParseUint(id[:8], 16, 64)
	return adjectives[n%12] + "_" + nouns[(n/12)%12] + "_" + id[8:12]
}

// logWriter writes the container's output as podman's k8s-file log:
// "TIMESTAMP STREAM F|P TEXT" per line (P: a partial line), rotating the
// file to .1 when it exceeds maxLog.
type logWriter struct {
	path    string
	f       *os.File
	size    int64
	done    chan struct{}
	n       int
	lines   chan [2]string
	written chan struct{}
	ws      []*os.File
}

const maxLog = 10 << 20

func openLog(path string) (*logWriter, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening the container log: %w", err)
	}
	st, _ := f.Stat()
	return &logWriter{path: path, f: f, size: st.Size(), done: make(chan struct{}, 2)}, nil
}

// pipes returns the write ends the container's stdout and stderr get.
func (l *logWriter) pipes() (stdout, stderr *os.File, err error) {
	lines := make(chan [2]string, 64)
	var ws [2]*os.File
	for i, stream := range []string{"stdout", "stderr"} {
		r, w, err := os.Pipe()
		if err != nil {
			return nil, nil, err
		}
		ws[i] = w
		l.n++
		go func() {
			defer r.Close()
			br := bufio.NewReaderSize(r, 16<<10)
			for {
				line, err := br.ReadSlice('\n')
				if len(line) > 0 {
					tag := "F"
					if line[len(line)-1] != '\n' {
						tag = "P"
					} else {
						line = line[:len(line)-1]
					}
					lines <- [2]string{stream + " " + tag, string(line)}
				}
				if err != nil && err != bufio.ErrBufferFull {
					l.done <- struct{}{}
					return
				}
			}
		}()
	}
	l.written = make(chan struct{})
	go func() {
		for ln := range lines {
			l.write(ln[0], ln[1])
		}
		close(l.written)
	}()
	l.lines = lines
	l.ws = ws[:]
	return ws[0], ws[1], nil
}

func (l *logWriter) write(tag, text string) {
	s := time.Now().UTC().Format(time.RFC3339Nano) + " " + tag + " " + text + "\n"
	if l.size+int64(len(s)) > maxLog {
		l.f.Close()
		os.Rename(l.path, l.path+".1")
		f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			return
		}
		l.f, l.size = f, 0
	}
	n, _ := l.f.WriteString(s)
	l.size += int64(n)
}

// close waits until both streams ended (the container and everything it
// started closed them), then flushes the log.
func (l *logWriter) close() {
	l.closeWriters()
	for i := 0; i < l.n; i++ {
		select {
		case <-l.done:
		case <-time.After(2 * time.Second):
			// A process outside the container still holds a pipe.
		}
	}
	close(l.lines)
	<-l.written
	l.f.Close()
}

// closeWriters drops our copies of the pipes' write ends: the container
// holds its own, and the streams end when it closes them.
func (l *logWriter) closeWriters() {
	for _, w := range l.ws {
		w.Close()
	}
}

// runArgsFromCreate turns `urun [globals] create FLAGS IMAGE CMD` into the
// arguments of the equivalent detached run.
func runArgsFromCreate(args []string) []string {
	out := make([]string, 0, len(args)+1)
	done := false
	for _, a := range args {
		if !done && a == "create" {
			out = append(out, "run", "-d")
			done = true
			continue
		}
		out = append(out, a)
	}
	return out
}
