package container

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"time"

	"github.com/creack/pty"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
	xterm "golang.org/x/term"

	"github.com/urun-dev/urun/fuse-overlay"
	"github.com/urun-dev/urun/idmap"
	"github.com/urun-dev/urun/userns"
)

// execTimeout bounds the container's set-up, from clone to execve.
const execTimeout = 60 * time.Second

// RunConfig is one foreground container run.
type RunConfig struct {
	Spec *specs.Spec
	// InitPath is the urun-init program.
	InitPath string
	// RootfsDir is an empty directory the init mounts the root on.
	RootfsDir string
	Rootfs    fuseoverlay.Plan
	// UseHelpers: the spec's maps need newuidmap/newgidmap.
	UseHelpers bool
	Stdin      *os.File
	Stdout     *os.File
	Stderr     *os.File
	Debug      bool
	// CgroupFD, when >= 0 and UseCgroup, is the directory of the cgroup
	// the init is cloned into (clone3 CLONE_INTO_CGROUP).
	UseCgroup bool
	CgroupFD  int
	// Console, when set, takes over the pty master of a -t container
	// and returns once the container's side has closed; without it the
	// terminal is relayed to Stdin/Stdout.
	Console func(master *os.File)
	// Cloned, when set, is told the init's pid right after the clone,
	// before the container is set up (state files record it early, so a
	// crash at any later moment leaves a pid to check).
	Cloned func(pid int) error
	// Started, when set, is told the init's pid once the process runs;
	// an error stops the container.
	Started func(pid int) error
	// NoNewUser: no user namespace of urun's own (see userns.Config).
	NoNewUser bool
	// Cgroups, when set, are the container's cgroup v1 directories (urun
	// as root): the init joins them before it sets the container up.
	Cgroups Cgroups
	// SeccompCache is a directory for compiled seccomp programs ("" = compile every time).
	SeccompCache string
	// Attachments are host-side pieces bound to the container (network
	// helpers, port forwarders…), attached once its namespaces exist.
	Attachments []Attachment
	// Exit, when set, times the exit path for --debug.
	Exit *ExitTrace
	// RootfsMounted, when set, is told which tier the init mounted the
	// root filesystem with (the storage probe's record learns from it).
	RootfsMounted func(fuseoverlay.Mounted)
	// Early, when set, is the init already cloned for this container
	// (StartEarly): Run uses it when the spec asks for the same clone,
	// else ends it and clones its own.
	Early *EarlyInit
}

// Attachment is host-side set-up bound to a container's namespaces. Attach
// runs after the init is cloned and mapped, before it sets the container
// up; Close runs after the container ended, or when start-up failed, in
// reverse order.
type Attachment interface {
	Attach(pid int) error
	Close() error
}

// BackgroundAttachment is an Attachment whose set-up overlaps the
// container's: Start runs where Attach would and returns at once, while
// the init mounts the container's filesystems; Ready waits for the set-up
// to finish and runs when the init is about to exec the process (it asks
// with MsgNetWait), so the process never sees it half done. The network
// helpers are such: pasta takes ~10-30 ms to configure a namespace, about
// as long as the init's mounts.
type BackgroundAttachment interface {
	Attachment
	Start(pid int) error
	Ready() error
}

// forwarded are the signals urun passes on to the container's process.
var forwarded = []os.Signal{
	unix.SIGHUP, unix.SIGINT, unix.SIGQUIT, unix.SIGTERM,
	unix.SIGUSR1, unix.SIGUSR2, unix.SIGALRM, unix.SIGCONT,
}

// Run starts the container, passes stdio (or a pty) through, forwards
// signals, and returns the container's exit status: its code, or 128+N
// when signal N ended it. An error means urun failed, with the status the
// error carries (125 when none).
func Run(cfg RunConfig) (int, error) {
	spec := cfg.Spec
	filter, err := seccompProgram(spec, cfg.SeccompCache)
	if err != nil {
		return 0, err
	}
	if spec.Process.Terminal {
		if term, ok := isTerminal(cfg.Stdin); ok {
			if ws, err := unix.IoctlGetWinsize(int(term.Fd()), unix.TIOCGWINSZ); err == nil {
				spec.Process.ConsoleSize = &specs.Box{Height: uint(ws.Row), Width: uint(ws.Col)}
			}
		}
	}
	// Signals that arrive while the container starts are queued, not lost.
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, forwarded...)
	defer signal.Stop(sigs)

	start := time.Now()
	var cloneAt int64
	var child *userns.Child
	if target, _ := joinedUser(spec); target != 0 {
		cfg.Early.Abort() // joins go through nsenter (startJoined)
	}
	if cfg.Early != nil && cfg.Debug && !cfg.Early.taken {
		fmt.Fprintf(os.Stderr, "urun: host set up  %6.2f ms (early clone)\n", msSince(cfg.Early.start))
	}
	if early := cfg.Early.take(initUsernsConfig(cfg, nil)); early != nil {
		// Cloned while the container was set up on the host: the marks
		// count from that clone.
		start, cloneAt = cfg.Early.start, cfg.Early.cloneAt
		if child, err = early.Wait(); err != nil {
			return 0, err
		}
	} else {
		if cfg.Early != nil && cfg.Debug {
			fmt.Fprintln(os.Stderr, "urun: the early clone is not used (it failed, or the spec asks for another): cloned again")
		}
		initBin, err := OpenInit(cfg.InitPath)
		if err != nil {
			return 0, err
		}
		defer initBin.Close()
		ucfg := initUsernsConfig(cfg, initBin)
		start = time.Now()
		if cfg.Debug {
			cloneAt = monotonicNow()
			ucfg.Trace = func(event string) { fmt.Fprintf(os.Stderr, "urun: %-14s %6.2f ms\n", event, msSince(start)) }
		}
		if child, err = startInit(ucfg, spec); err != nil {
			return 0, err
		}
	}
	if cfg.Exit != nil {
		cfg.Exit.start = start
	}
	defer child.Conn.Close()
	if cfg.Debug {
		fmt.Fprintf(os.Stderr, "urun: clone+maps   %6.2f ms\n", msSince(start))
	}
	if cfg.Cloned != nil {
		if err := cfg.Cloned(child.Pid()); err != nil {
			return 0, killAndReap(child, err)
		}
	}
	if err := cfg.Cgroups.Attach(child.Pid()); err != nil {
		return 0, killAndReap(child, err)
	}
	var background []BackgroundAttachment
	for i, a := range cfg.Attachments {
		var err error
		if b, ok := a.(BackgroundAttachment); ok {
			err = b.Start(child.Pid())
			background = append(background, b)
		} else {
			err = a.Attach(child.Pid())
		}
		if err != nil {
			closeAttachments(cfg.Attachments[:i])
			return 0, killAndReap(child, err)
		}
	}
	defer func() {
		closeAttachments(cfg.Attachments)
		cfg.Exit.Mark("helpers stopped")
	}()
	if err := child.Conn.Send(MsgInit, InitConfig{
		Spec: withoutSeccompProfile(spec), RootfsDir: cfg.RootfsDir, Rootfs: cfg.Rootfs, Debug: cfg.Debug, CloneAt: cloneAt, Seccomp: filter,
		WaitNetwork: len(background) > 0, ReportRootfs: cfg.RootfsMounted != nil, ShmTree: shmTreeFD(spec),
	}); err != nil {
		return 0, killAndReap(child, err)
	}
	if cfg.RootfsMounted != nil {
		var m fuseoverlay.Mounted
		if err := receiveRootfs(child, &m); err != nil {
			return 0, err
		}
		cfg.RootfsMounted(m)
	}
	var console *os.File
	if spec.Process.Terminal {
		if console, err = receiveConsole(child); err != nil {
			return 0, err
		}
		defer console.Close()
	}
	if len(background) > 0 {
		if err := waitBackground(child, background, cfg.Debug, start); err != nil {
			return 0, err
		}
	}
	agent := newSeccompAgent(spec, filter, specs.State{Version: specs.Version, Status: specs.StateCreating, Annotations: spec.Annotations})
	if err := waitExec(child, agent, func() int { return child.Pid() }); err != nil {
		return 0, err
	}
	if cfg.Debug {
		fmt.Fprintf(os.Stderr, "urun: started      %6.2f ms\n", msSince(start))
	}
	if cfg.Started != nil {
		if err := cfg.Started(child.Pid()); err != nil {
			return 0, killAndReap(child, err)
		}
	}
	var restore func()
	copied := make(chan struct{})
	if console != nil && cfg.Console != nil {
		// The caller relays the terminal itself (the supervisor, which
		// also serves `urun attach`); it closes copied when the
		// container's side has ended.
		go func() {
			cfg.Console(console)
			close(copied)
		}()
	} else if console != nil {
		restore = relayTerminal(console, cfg, copied)
	} else {
		close(copied)
	}
	return waitForwarding(child.Cmd, sigs, child.Cmd.Process.Signal, cfg.Exit.Exited, copied, restore)
}

// startInit starts the init: in new namespaces, or in another
// container's user namespace when the spec joins one (startJoined).
func startInit(ucfg userns.Config, spec *specs.Spec) (*userns.Child, error) {
	target, err := joinedUser(spec)
	if err != nil || target == 0 {
		if err != nil {
			return nil, err
		}
		return userns.Start(ucfg)
	}
	return startJoined(ucfg, spec, target)
}

// waitForwarding waits for cmd, passing the signals that arrive on sigs
// to deliver; when it exits it calls exited (if set), waits for the
// terminal relay to finish (copied), restores the user's terminal, and
// returns how cmd ended. run and exec share it.
func waitForwarding(cmd *exec.Cmd, sigs <-chan os.Signal, deliver func(os.Signal) error, exited func(), copied <-chan struct{}, restore func()) (int, error) {
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	for {
		select {
		case s := <-sigs:
			deliver(s)
		case werr := <-done:
			if exited != nil {
				exited()
			}
			<-copied
			if restore != nil {
				restore()
			}
			return exitStatus(cmd.ProcessState, werr)
		}
	}
}

// receiveConsole takes the pty master the init sends for -t.
func receiveConsole(child *userns.Child) (*os.File, error) {
	m, err := child.Conn.Receive(execTimeout)
	switch {
	case err != nil:
		return nil, killAndReap(child, fmt.Errorf("waiting for the container's terminal: %w", err))
	case m.Type == userns.MsgError:
		return nil, initFailed(child, m)
	case m.Type != MsgConsole:
		return nil, killAndReap(child, fmt.Errorf("container init sent unexpected %q message", m.Type))
	}
	f, err := child.Conn.ReceiveFile("pty master")
	if err != nil {
		return nil, killAndReap(child, err)
	}
	return f, nil
}

// receiveRootfs takes the init's MsgRootfs, or the error it sent instead.
func receiveRootfs(child *userns.Child, m *fuseoverlay.Mounted) error {
	msg, err := child.Conn.Receive(execTimeout)
	switch {
	case err != nil:
		return killAndReap(child, fmt.Errorf("waiting for the container's root filesystem: %w", err))
	case msg.Type == userns.MsgError:
		return initFailed(child, msg)
	case msg.Type != MsgRootfs:
		return killAndReap(child, fmt.Errorf("container init sent unexpected %q message", msg.Type))
	}
	if err := json.Unmarshal(msg.Payload, m); err != nil {
		return killAndReap(child, fmt.Errorf("decoding the init's %q message: %w", msg.Type, err))
	}
	return nil
}

// initFailed reaps an init that reported a set-up error and returns it.
func initFailed(child *userns.Child, m userns.Message) error {
	child.Cmd.Wait()
	code := m.Code
	if code == 0 {
		code = ExitRuntime
	}
	return &CodedError{Code: code, Err: errors.New(m.Error)}
}

// waitBackground answers the init's MsgNetWait once every background
// attachment is ready. The init sends it after its mounts, right before
// it execs; a set-up error it reports instead ends the run.
func waitBackground(child *userns.Child, bg []BackgroundAttachment, debug bool, start time.Time) error {
	m, err := child.Conn.Receive(execTimeout)
	switch {
	case err != nil:
		return killAndReap(child, fmt.Errorf("waiting for the container to be set up: %w", err))
	case m.Type == userns.MsgError:
		return initFailed(child, m)
	case m.Type != MsgNetWait:
		return killAndReap(child, fmt.Errorf("container init sent unexpected %q message", m.Type))
	}
	asked := time.Now()
	for _, b := range bg {
		if err := b.Ready(); err != nil {
			return killAndReap(child, err)
		}
	}
	if debug {
		fmt.Fprintf(os.Stderr, "urun: network      %6.2f ms (the init waited %.2f ms for it)\n", msSince(start), msSince(asked))
	}
	if err := child.Conn.Send(MsgNetReady, nil); err != nil {
		return killAndReap(child, err)
	}
	return nil
}

// waitExec waits until the init has executed the user's process. The sync
// socket is close-on-exec in the init, so end of file means the process
// runs; a message means set-up failed, and says why.
func waitExec(child *userns.Child, agent *seccompAgent, pid func() int) error {
	m, err := agent.receive(child, pid)
	switch {
	case errors.Is(err, io.EOF):
		return nil
	case err != nil:
		return killAndReap(child, fmt.Errorf("waiting for the container to start: %w", err))
	case m.Type == userns.MsgError:
		return initFailed(child, m)
	}
	return killAndReap(child, fmt.Errorf("container init sent unexpected %q message", m.Type))
}

// initUsernsConfig is how every container's init is started: initBin
// (from OpenInit) executed through its descriptor.
func initUsernsConfig(cfg RunConfig, initBin *os.File) userns.Config {
	spec := cfg.Spec
	ucfg := userns.Config{
		Path:       fmt.Sprintf("/proc/self/fd/%d", initFD),
		ExtraFiles: []*os.File{initBin},
		Args:       []string{"urun-init"},
		// The init needs PATH only to find fuse-overlayfs; nothing of
		// urun's environment reaches the container's process.
		Env:         []string{"PATH=" + os.Getenv("PATH")},
		Cloneflags:  cloneFlags(spec),
		UIDMap:      MappingFromSpec(spec.Linux.UIDMappings),
		GIDMap:      MappingFromSpec(spec.Linux.GIDMappings),
		UseHelpers:  cfg.UseHelpers,
		NoNewUser:   cfg.NoNewUser,
		UseCgroupFD: cfg.UseCgroup,
		CgroupFD:    cfg.CgroupFD,
		Stdin:       cfg.Stdin,
		Stdout:      cfg.Stdout,
		Stderr:      cfg.Stderr,
		// A session of its own, without the caller's controlling
		// terminal: a process whose terminal it is could push input
		// into it with TIOCSTI, which the user's shell runs once urun
		// exits (runc and crun do the same). With -t the init makes the
		// container's pty the controlling terminal of this session.
		Setsid: true,
	}
	for _, ns := range spec.Linux.Namespaces {
		if ns.Type == specs.PIDNamespace && ns.Path != "" {
			ucfg.PIDNamespace = ns.Path
		}
	}
	if spec.Process.Terminal {
		// The init opens the pty in the container's devpts and sends the
		// master back; its stdio until then is /dev/null.
		ucfg.Stdin, ucfg.Stdout, ucfg.Stderr = nil, nil, nil
	}
	return ucfg
}

// relayTerminal copies between the user's terminal and the container's
// pty, with the user's terminal in raw mode so keys reach the container
// unchanged, and window size changes forwarded. The returned function
// restores the terminal.
func relayTerminal(ptmx *os.File, cfg RunConfig, copied chan struct{}) func() {
	go func() {
		io.Copy(cfg.Stdout, ptmx) // ends with EIO when the container's side closes
		close(copied)
	}()
	go io.Copy(ptmx, cfg.Stdin)
	term, ok := isTerminal(cfg.Stdin)
	if !ok {
		return nil
	}
	winch := make(chan os.Signal, 1)
	signal.Notify(winch, unix.SIGWINCH)
	go func() {
		for range winch {
			pty.InheritSize(term, ptmx)
		}
	}()
	old, err := xterm.MakeRaw(int(term.Fd()))
	if err != nil {
		return func() { signal.Stop(winch) }
	}
	return func() {
		signal.Stop(winch)
		xterm.Restore(int(term.Fd()), old)
	}
}

func isTerminal(f *os.File) (*os.File, bool) {
	if f == nil {
		return nil, false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return f, err == nil
}

// cloneFlags are the namespaces the spec asks to create (a namespace with
// a path is joined instead, which the OCI face handles).
func cloneFlags(spec *specs.Spec) uintptr {
	var flags uintptr
	for _, ns := range spec.Linux.Namespaces {
		if ns.Path != "" {
			continue
		}
		switch ns.Type {
		case specs.PIDNamespace:
			flags |= unix.CLONE_NEWPID
		case specs.NetworkNamespace:
			flags |= unix.CLONE_NEWNET
		case specs.MountNamespace:
			flags |= unix.CLONE_NEWNS
		case specs.IPCNamespace:
			flags |= unix.CLONE_NEWIPC
		case specs.UTSNamespace:
			flags |= unix.CLONE_NEWUTS
		case specs.CgroupNamespace:
			flags |= unix.CLONE_NEWCGROUP
		}
	}
	return flags
}

// SpecMapping converts an idmap mapping to the spec's form.
func SpecMapping(m idmap.Mapping) []specs.LinuxIDMapping {
	out := make([]specs.LinuxIDMapping, len(m))
	for i, r := range m {
		out[i] = specs.LinuxIDMapping{ContainerID: r.ContainerID, HostID: r.HostID, Size: r.Size}
	}
	return out
}

func msSince(t time.Time) float64 { return float64(time.Since(t).Microseconds()) / 1000 }
