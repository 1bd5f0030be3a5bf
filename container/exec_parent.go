package container

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/urun-dev/urun/idmap"
	"github.com/urun-dev/urun/userns"
)

// ExecConfig is a further process to run in a running container.
type ExecConfig struct {
	Root, ID string
	Process  *specs.Process
	// InitPath is urun-init, which applies the process's user,
	// capabilities and limits inside and execs it.
	InitPath string
	Stdin    *os.File
	Stdout   *os.File
	Stderr   *os.File
	// Detach returns once the process runs; Started gets its pid (the
	// nsenter that holds it, whose exit status is the process's).
	Detach  bool
	Started func(pid int) error
	// Console receives the pty master for a process with a terminal; nil
	// relays it to Stdin/Stdout here.
	Console func(master *os.File) error
	// SeccompCache is a directory for compiled seccomp programs.
	SeccompCache string
	// PreserveFDs are passed to the process at 3, 4, … (--preserve-fds).
	PreserveFDs []*os.File
	// Timeout, when set, kills the process (SIGKILL) once it has run
	// that long; Exec then returns ErrExecTimeout (a health check's
	// --health-timeout).
	Timeout time.Duration
}

// ErrExecTimeout: the process ran past ExecConfig.Timeout and was killed.
var ErrExecTimeout = errors.New("the process exceeded its timeout and was killed")

// joinable are the namespaces exec enters, with nsenter's flag for each.
var joinable = []struct{ ns, flag string }{
	{"user", "--user"}, {"mnt", "--mount"}, {"pid", "--pid"}, {"uts", "--uts"},
	{"ipc", "--ipc"}, {"net", "--net"}, {"cgroup", "--cgroup"},
}

// Exec runs cfg.Process in the container and returns its exit status
// (Detach: 0 once it runs). The container's namespaces are entered with
// nsenter(1) from util-linux, which is single-threaded C: a Go program
// cannot join a user or mount namespace once its threads run. Only the
// namespaces the container does not share with urun are entered.
func Exec(cfg ExecConfig) (int, error) {
	st, err := Load(cfg.Root, cfg.ID)
	if err != nil {
		return 0, err
	}
	// A created container's init waits before its exec with every
	// namespace and mount in place: runc lets a process join it too.
	if st.Status != specs.StateRunning && st.Status != specs.StateCreated {
		if st.Status == specs.StateStopped {
			return 0, fmt.Errorf("%w: %s is stopped, exec needs a running or created container", ErrNotRunning, cfg.ID)
		}
		return 0, fmt.Errorf("container %s is %s: exec needs a running or created container", cfg.ID, st.Status)
	}
	// The process gets the container's seccomp filter too: it is not
	// a descendant of the container's process, so it inherits none.
	spec, err := LoadSpec(Dir(cfg.Root, cfg.ID))
	if err != nil {
		return 0, err
	}
	filter, err := seccompProgram(spec, cfg.SeccompCache)
	if err != nil {
		return 0, err
	}
	nsenter, err := exec.LookPath("nsenter")
	if err != nil {
		return 0, errors.New("nsenter is not installed: install util-linux (apt-get install util-linux)")
	}
	args := []string{"nsenter", "--target", strconv.Itoa(st.Pid)}
	for _, j := range joinable {
		theirs, err1 := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", st.Pid, j.ns))
		ours, err2 := os.Readlink("/proc/self/ns/" + j.ns)
		if err1 != nil {
			return 0, fmt.Errorf("container %s: reading its %s namespace: %w", cfg.ID, j.ns, err1)
		}
		if err2 == nil && theirs != ours {
			args = append(args, j.flag)
		}
	}
	// nsenter keeps our ids (it would otherwise drop the supplementary
	// groups, which a user namespace without setgroups refuses).
	args = append(args, "--preserve-credentials")
	if slices.Contains(args, "--user") {
		asRoot, err := rootArgs(st.Pid)
		if err != nil {
			return 0, fmt.Errorf("container %s: %w", cfg.ID, err)
		}
		args = append(args, asRoot...)
	}
	args = append(args, "--", "/proc/self/fd/4", ExecArg)

	initBin, err := OpenSealed(cfg.InitPath, "urun-init")
	if err != nil {
		return 0, err
	}
	defer initBin.Close()
	nsenterBin, err := OpenSealed(nsenter, "nsenter")
	if err != nil {
		return 0, err
	}
	defer nsenterBin.Close()
	// Two socket pairs: nsenter's waiting parent keeps a copy of every
	// descriptor it passes on, so the first (boot) only carries the
	// second (sync), whose end of file then reliably means "exec done".
	bootParent, bootChild, err := socketPair("boot")
	if err != nil {
		return 0, err
	}
	defer bootParent.Close()
	parentEnd, syncChild, err := socketPair("sync")
	if err != nil {
		bootChild.Close()
		return 0, err
	}
	defer parentEnd.Close()
	defer syncChild.Close()
	childEnd := bootChild

	p := cfg.Process
	cmd := &exec.Cmd{
		// fd 5: nsenter's sealed copy (OpenSealed says why).
		Path: "/proc/self/fd/5",
		Args: args,
		Env:  []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"},
		// The preserved descriptors follow, from 6 (execRequest.Preserve).
		ExtraFiles: append([]*os.File{childEnd, initBin, nsenterBin}, cfg.PreserveFDs...),
		// A new session without the caller's controlling terminal, as
		// the init's (initUsernsConfig says why: TIOCSTI).
		SysProcAttr: &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setsid: true},
	}
	if !p.Terminal {
		cmd.Stdin, cmd.Stdout, cmd.Stderr = cfg.Stdin, cfg.Stdout, cfg.Stderr
	} else if cfg.Console == nil {
		if term, ok := isTerminal(cfg.Stdin); ok {
			if ws, err := unix.IoctlGetWinsize(int(term.Fd()), unix.TIOCGWINSZ); err == nil {
				p.ConsoleSize = &specs.Box{Height: uint(ws.Row), Width: uint(ws.Col)}
			}
		}
	}
	if cfg.Detach {
		// The process outlives us: no parent-death signal.
		cmd.SysProcAttr.Pdeathsig = 0
	}
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, forwarded...)
	defer signal.Stop(sigs)
	// As root the process joins the container's cgroup (its device
	// rules above all): nsenter is born there, and its child with it.
	back, err := st.Cgroups.Join()
	if err != nil {
		childEnd.Close()
		return 0, fmt.Errorf("exec in %s: %w", st.ID, err)
	}
	err = cmd.Start()
	back()
	if err != nil {
		childEnd.Close()
		return 0, fmt.Errorf("starting nsenter: %w", err)
	}
	childEnd.Close()
	child := &userns.Child{Cmd: cmd}
	boot, err := userns.NewConn(bootParent)
	if err != nil {
		return 0, killAndReap(child, err)
	}
	defer boot.Close()
	if err := boot.SendFile(MsgSync, syncChild); err != nil {
		return 0, killAndReap(child, err)
	}
	syncChild.Close()
	if child.Conn, err = userns.NewConn(parentEnd); err != nil {
		return 0, killAndReap(child, err)
	}
	defer child.Conn.Close()
	if err := child.Conn.Send(MsgExec, execRequest{Process: p, Seccomp: filter, Preserve: Preserved{From: 6, Count: len(cfg.PreserveFDs)}}); err != nil {
		return 0, killAndReap(child, err)
	}
	var console *os.File
	if p.Terminal {
		if console, err = receiveConsole(child); err != nil {
			return 0, err
		}
		defer console.Close()
		if cfg.Console != nil {
			if err := cfg.Console(console); err != nil {
				return 0, killAndReap(child, err)
			}
		}
	}
	agent := newSeccompAgent(spec, filter, st.State)
	execPid := func() int {
		if p := nsenterChild(cmd.Process.Pid); p != 0 {
			return p
		}
		return cmd.Process.Pid
	}
	if err := waitExec(child, agent, execPid); err != nil {
		return 0, err
	}
	if cfg.Started != nil {
		if err := cfg.Started(cmd.Process.Pid); err != nil {
			return 0, killAndReap(child, err)
		}
	}
	if cfg.Detach {
		cmd.Process.Release()
		return 0, nil
	}
	target := nsenterChild(cmd.Process.Pid)
	if target == 0 {
		// No pid namespace to enter: nsenter did not fork.
		target = cmd.Process.Pid
	}
	copied := make(chan struct{})
	var restore func()
	if console != nil && cfg.Console == nil {
		restore = relayTerminal(console, RunConfig{Stdin: cfg.Stdin, Stdout: cfg.Stdout}, copied)
	} else {
		close(copied)
	}
	deliver := func(s os.Signal) error {
		if target > 0 {
			return unix.Kill(target, s.(syscall.Signal))
		}
		return nil
	}
	if cfg.Timeout <= 0 {
		return waitForwarding(cmd, sigs, deliver, nil, copied, restore)
	}
	var timedOut atomic.Bool
	timer := time.AfterFunc(cfg.Timeout, func() {
		timedOut.Store(true)
		// nsenter leads a session of its own (Setsid): its process
		// group holds the process and what it forked, unless they
		// moved to groups of their own.
		unix.Kill(-cmd.Process.Pid, unix.SIGKILL)
		if target > 0 {
			unix.Kill(target, unix.SIGKILL)
		}
		cmd.Process.Kill()
	})
	status, err := waitForwarding(cmd, sigs, deliver, nil, copied, restore)
	timer.Stop()
	if timedOut.Load() {
		return status, ErrExecTimeout
	}
	return status, err
}

func socketPair(name string) (parent, child *os.File, err error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("creating %s socketpair: %w", name, err)
	}
	return os.NewFile(uintptr(fds[0]), name+"-parent"), os.NewFile(uintptr(fds[1]), name+"-child"), nil
}

// rootArgs makes nsenter switch to the container's root after it joins
// the user namespace at pid, when our uid is not root in there: with
// --userns=keep-id our uid is the user's own uid inside, and urun-init
// executed as that uid would start without capabilities, so it could
// neither switch to the process user nor install the seccomp filter.
// Joining a user namespace gives every capability in it, which the
// switch to its root (setuid 0, the groups stay) keeps across the exec.
func rootArgs(pid int) ([]string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/uid_map", pid))
	if err != nil {
		return nil, fmt.Errorf("reading its uid map: %w", err)
	}
	m, err := idmap.ParseProcMap(string(b))
	if err != nil {
		return nil, err
	}
	if inside, ok := m.ToContainer(uint32(os.Geteuid())); ok && inside == 0 {
		return nil, nil
	}
	if _, ok := m.ToHost(0); !ok {
		return nil, errors.New("its user namespace maps neither our uid nor any id to root: exec cannot set up a process in it")
	}
	return []string{"--setuid", "0"}, nil
}

// nsenterChild is the process nsenter forked into the pid namespace.
func nsenterChild(pid int) int {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	for _, t := range tasks {
		b, _ := os.ReadFile(t)
		if f := strings.Fields(string(b)); len(f) > 0 {
			n, _ := strconv.Atoi(f[0])
			return n
		}
	}
	return 0
}
