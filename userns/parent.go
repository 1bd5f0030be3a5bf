// Package userns starts a process in a new user namespace (plus any other
// namespaces the caller asks for) whose id maps are written by the setuid
// helpers newuidmap/newgidmap, and gives both sides a message channel.
//
// The privilege model, once: an ordinary user may create a user namespace,
// but may only map its own uid into it. Mapping the subordinate ids of
// /etc/subuid needs the setuid-root helpers, which must act on a process
// that already exists. So the parent clones the child straight into its
// namespaces (clone flags on exec, never unshare(2) in a running Go
// process), runs the helpers on the child's pid, then tells the child over
// a socketpair that it may go on. The child execs while it is still
// unmapped, which would drop its capabilities; it keeps them as ambient
// capabilities across that exec, so no second exec is needed once mapped.
package userns

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/urun-dev/urun/hostbin"
	"github.com/urun-dev/urun/idmap"
)

// SyncFD is the descriptor number of the sync socket in the child.
// Config.ExtraFiles follow it, from 4 on.
const SyncFD = 3

// helperTimeout bounds each newuidmap/newgidmap run.
const helperTimeout = 10 * time.Second

// Config says what to start and how to map it.
type Config struct {
	// Path is the program to execute in the new namespaces; Args its argv.
	Path string
	Args []string
	Env  []string
	Dir  string
	// Cloneflags adds namespaces; CLONE_NEWUSER is always set.
	Cloneflags uintptr
	// UIDMap and GIDMap are the child's maps.
	UIDMap, GIDMap idmap.Mapping
	// UseHelpers writes the maps with newuidmap/newgidmap. Without it the
	// maps must be a single line mapping the caller's own id, which an
	// ordinary user may write directly.
	UseHelpers bool
	Stdin      io.Reader
	Stdout     io.Writer
	Stderr     io.Writer
	ExtraFiles []*os.File
	// Setsid and Setctty make the child a session leader with Ctty (a
	// descriptor number in the child) as its controlling terminal.
	Setsid, Setctty bool
	Ctty            int
	// CgroupFD, when UseCgroupFD, places the child into that cgroup at
	// clone time (clone3 CLONE_INTO_CGROUP).
	UseCgroupFD bool
	CgroupFD    int
	// NoNewUser keeps the caller's user namespace: for real root, or when
	// urun already runs as root of a namespace its caller made (podman
	// sets _CONTAINERS_USERNS_CONFIGURED). No maps are written.
	NoNewUser bool
	// PIDNamespace, when set, is the path of a pid namespace the child
	// is born in (a pod's shared one) instead of a new one.
	PIDNamespace string
	// Trace, when set, is told when the clone returned (the child has
	// executed its program) and when each id-map helper finished, for
	// --debug's timeline.
	Trace func(event string)
}

// Child is a started child process and the parent's end of its socket.
type Child struct {
	Cmd  *exec.Cmd
	Conn *Conn
	// InitPid, when not 0, is the process the handshake is with, a child
	// of Cmd's (a container started in another's user namespace: Cmd
	// runs nsenter and the stage that clones the init, container/joinns).
	InitPid int
}

// Pid is the pid of the process at the other end of Conn.
func (c *Child) Pid() int {
	if c.InitPid != 0 {
		return c.InitPid
	}
	return c.Cmd.Process.Pid
}

// Call is one request and its reply with a helper child, which then
// exits: it sends req as msg, waits up to timeout for replyMsg into reply,
// and reaps the child (killing it first when anything failed). A failure
// the child reported is a *PeerError.
func (c *Child) Call(msg string, req any, replyMsg string, timeout time.Duration, reply any) error {
	defer c.Conn.Close()
	err := c.Conn.Send(msg, req)
	if err == nil {
		err = c.Conn.WaitFor(replyMsg, timeout, reply)
	}
	if err != nil {
		c.Cmd.Process.Kill()
	}
	werr := c.Cmd.Wait()
	if err == nil && werr != nil {
		err = fmt.Errorf("helper: %w", werr)
	}
	return err
}

// Start clones the child into its namespaces, writes its id maps and sends
// MsgMapped. On any error the child is killed and reaped before returning.
func Start(cfg Config) (*Child, error) {
	p, err := Clone(cfg)
	if err != nil {
		return nil, err
	}
	return p.Wait()
}

// Pending is a child cloned into its namespaces whose id maps are being
// written: newuidmap and newgidmap run, and MsgMapped follows them, while
// the caller does other work. Wait takes the child once it is mapped;
// Abort ends it. One of the two must be called.
type Pending struct {
	cmd    *exec.Cmd
	conn   *Conn
	mapped chan error
}

// Clone clones the child into its namespaces and starts writing its id
// maps (Start's first half). On an error nothing is left running.
func Clone(cfg Config) (*Pending, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("creating sync socketpair: %w", err)
	}
	parentEnd := os.NewFile(uintptr(fds[0]), "sync-parent")
	childEnd := os.NewFile(uintptr(fds[1]), "sync-child")
	defer parentEnd.Close()
	defer childEnd.Close()

	var ambient []uintptr
	userFlag := uintptr(unix.CLONE_NEWUSER)
	if cfg.NoNewUser {
		userFlag = 0
	} else if ambient, err = allCapabilities(); err != nil {
		return nil, err
	}
	cmd := &exec.Cmd{
		Path:       cfg.Path,
		Args:       cfg.Args,
		Env:        cfg.Env,
		Dir:        cfg.Dir,
		Stdin:      cfg.Stdin,
		Stdout:     cfg.Stdout,
		Stderr:     cfg.Stderr,
		ExtraFiles: append([]*os.File{childEnd}, cfg.ExtraFiles...),
		SysProcAttr: &syscall.SysProcAttr{
			Cloneflags:  cfg.Cloneflags | userFlag,
			Pdeathsig:   syscall.SIGKILL,
			AmbientCaps: ambient,
			Setsid:      cfg.Setsid,
			Setctty:     cfg.Setctty,
			Ctty:        cfg.Ctty,
			UseCgroupFD: cfg.UseCgroupFD,
			CgroupFD:    cfg.CgroupFD,
		},
	}
	if !cfg.UseHelpers && !cfg.NoNewUser {
		// Without the helpers Go writes the maps itself between clone and
		// exec; the kernel allows an ordinary user one line: its own id.
		cmd.SysProcAttr.UidMappings = toSysMap(cfg.UIDMap)
		cmd.SysProcAttr.GidMappings = toSysMap(cfg.GIDMap)
		cmd.SysProcAttr.GidMappingsEnableSetgroups = false
	}
	if cfg.PIDNamespace != "" {
		// Go's fork checks Pdeathsig by comparing getppid() with the
		// parent's pid, and in a joined pid namespace getppid() is 0
		// (the parent is outside it): the child would kill itself. The
		// child exits when this end of the sync socket closes anyway.
		cmd.SysProcAttr.Pdeathsig = 0
	}
	if err := startIn(cmd, cfg.PIDNamespace); err != nil {
		return nil, fmt.Errorf("starting %s in a new user namespace: %w", cfg.Path, err)
	}
	childEnd.Close()
	trace := cfg.Trace
	if trace == nil {
		trace = func(string) {}
	}
	trace("cloned")
	conn, err := NewConn(parentEnd)
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return nil, err
	}
	p := &Pending{cmd: cmd, conn: conn, mapped: make(chan error, 1)}
	go func() { p.mapped <- writeMaps(cfg, cmd.Process.Pid, conn, trace) }()
	return p, nil
}

// writeMaps runs the id-map helpers for pid (unless the clone wrote the
// maps) and tells the child with MsgMapped.
func writeMaps(cfg Config, pid int, conn *Conn, trace func(string)) error {
	if cfg.UseHelpers && !cfg.NoNewUser {
		// The two helpers write different files of the same process and
		// do not depend on each other: running them at once saves one
		// setuid program's start (~3 ms) on every container start.
		gidErr := make(chan error, 1)
		go func() {
			err := runHelper("newgidmap", pid, cfg.GIDMap)
			trace("newgidmap done")
			gidErr <- err
		}()
		err := runHelper("newuidmap", pid, cfg.UIDMap)
		trace("newuidmap done")
		if gerr := <-gidErr; err == nil {
			err = gerr
		}
		if err != nil {
			return err
		}
	}
	if err := conn.Send(MsgMapped, nil); err != nil {
		return fmt.Errorf("telling the child its maps are written: %w", err)
	}
	return nil
}

// Pid is the cloned child's pid.
func (p *Pending) Pid() int { return p.cmd.Process.Pid }

// Wait waits until the child's maps are written and it was told so, and
// returns it. On an error the child is killed and reaped.
func (p *Pending) Wait() (*Child, error) {
	if err := <-p.mapped; err != nil {
		p.conn.Close()
		p.cmd.Process.Kill()
		p.cmd.Wait()
		return nil, err
	}
	return &Child{Cmd: p.cmd, Conn: p.conn}, nil
}

// Abort kills the child, waits for its id-map helpers and reaps it:
// nothing of it is left.
func (p *Pending) Abort() {
	p.cmd.Process.Kill()
	<-p.mapped
	p.conn.Close()
	p.cmd.Wait()
}

// runHelper runs newuidmap or newgidmap for pid and turns its failure into
// a message that names the cause.
func runHelper(name string, pid int, m idmap.Mapping) error {
	path, err := exec.LookPath(name)
	if err != nil {
		cause, fix := hostbin.NotFound(name, "uidmap")
		return &HelperError{Helper: name, Cause: cause, Fix: fix}
	}
	ctx, cancel := context.WithTimeout(context.Background(), helperTimeout)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, path, m.HelperArgs(pid)...)
	cmd.Stderr = &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	err = cmd.Run()
	if err == nil {
		return nil
	}
	out := strings.TrimSpace(stderr.String())
	if ctx.Err() != nil {
		out = fmt.Sprintf("no answer within %s", helperTimeout)
	}
	return explainHelper(name, path, out, err)
}

// HelperError is a newuidmap/newgidmap failure with its cause and fix.
type HelperError struct {
	Helper string
	Cause  string
	Fix    string
	Output string
}

func (e *HelperError) Error() string {
	s := e.Helper + ": " + e.Cause
	if e.Output != "" && !strings.Contains(e.Cause, e.Output) {
		s += " (" + e.Output + ")"
	}
	if e.Fix != "" {
		s += "; fix: " + e.Fix
	}
	return s + DoctorHint
}

// explainHelper maps what the shadow helpers print to a cause a user can
// act on. Their messages are stable across shadow 4.8–4.16.
func explainHelper(name, path, out string, runErr error) error {
	file := "/etc/subuid"
	if name == "newgidmap" {
		file = "/etc/subgid"
	}
	e := &HelperError{Helper: name, Output: out}
	switch {
	case !privileged(path):
		e.Cause, e.Fix = hostbin.Unprivileged(name, path)
	case strings.Contains(out, "not allowed"):
		e.Cause = fmt.Sprintf("the requested range is not allowed by %s", file)
		e.Fix = "give the user a range: " + idmap.AddSubIDsFix(currentUser())
	case strings.Contains(out, "Could not open") || strings.Contains(out, "No such file"):
		e.Cause = "it could not read the subordinate id files or the target process"
	case strings.Contains(out, "write to") && strings.Contains(out, "failed"):
		e.Cause = "the kernel refused to write the map (" + out + ")"
		e.Fix = fmt.Sprintf("check that the ranges in %s do not overlap the user's own id or each other", file)
	default:
		if out == "" {
			out = runErr.Error()
		}
		e.Cause = out
	}
	return e
}

// privileged reports whether the helper can act for us: setuid root, or a
// file capability (Fedora installs it with cap_setuid instead of the bit).
func privileged(path string) bool { return hostbin.Privileged(path) }

func currentUser() string {
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	return strconv.Itoa(os.Getuid())
}

// allCapabilities lists every capability the running kernel knows, so the
// child can keep all of them as ambient capabilities across its exec.
func allCapabilities() ([]uintptr, error) {
	b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if err != nil {
		return nil, fmt.Errorf("reading the kernel's last capability: %w", err)
	}
	last, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, fmt.Errorf("parsing /proc/sys/kernel/cap_last_cap: %w", err)
	}
	caps := make([]uintptr, 0, last+1)
	for c := 0; c <= last; c++ {
		caps = append(caps, uintptr(c))
	}
	return caps, nil
}

func toSysMap(m idmap.Mapping) []syscall.SysProcIDMap {
	out := make([]syscall.SysProcIDMap, len(m))
	for i, r := range m {
		out[i] = syscall.SysProcIDMap{ContainerID: int(r.ContainerID), HostID: int(r.HostID), Size: int(r.Size)}
	}
	return out
}

// startIn starts cmd with its pid in the pid namespace at path ("": the
// caller's, or the new one Cloneflags ask for). setns(CLONE_NEWPID)
// changes only which namespace the calling thread's children are born
// in, and Go forks on the calling thread: so a goroutine locks a thread,
// joins, forks, and takes the thread back to urun's namespace before
// unlocking it. If it cannot go back, the thread ends with the goroutine
// (Go ends a thread whose locked goroutine exits); the child is killed
// and Start fails.
func startIn(cmd *exec.Cmd, path string) error {
	if path == "" {
		return cmd.Start()
	}
	own, err := os.Open("/proc/self/ns/pid")
	if err != nil {
		return fmt.Errorf("opening urun's pid namespace: %w", err)
	}
	defer own.Close()
	target, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("opening the pid namespace %s: %w", path, err)
	}
	defer target.Close()
	var a, b unix.Stat_t
	if unix.Fstat(int(own.Fd()), &a) == nil && unix.Fstat(int(target.Fd()), &b) == nil && a.Dev == b.Dev && a.Ino == b.Ino {
		// urun's own: joining needs privilege over it and changes nothing.
		return cmd.Start()
	}
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWPID); err != nil {
			runtime.UnlockOSThread()
			done <- fmt.Errorf("joining the pid namespace %s: %w", path, err)
			return
		}
		startErr := cmd.Start()
		if err := unix.Setns(int(own.Fd()), unix.CLONE_NEWPID); err != nil {
			if startErr == nil {
				cmd.Process.Kill()
				cmd.Wait()
			}
			done <- fmt.Errorf("returning to urun's pid namespace after joining %s: %w", path, err)
			return // still locked: the thread ends here
		}
		runtime.UnlockOSThread()
		done <- startErr
	}()
	return <-done
}
