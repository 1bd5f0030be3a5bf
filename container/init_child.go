package container

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/urun-dev/urun/fuse-overlay"
	"github.com/urun-dev/urun/userns"
)

// Everything in this file runs inside the container's namespaces, in the
// small urun-init program (cmd/urun-init), which links only this package's
// init side: it must start fast and carry no image stack.

// initTimeout bounds the wait for the init config after mapping.
const initTimeout = 30 * time.Second

// InitMain is the container init: it waits for its id maps and config,
// builds the container's view of the world, and execs the user's process
// in place (same pid). It returns only on failure, with the exit status.
func InitMain() int {
	up := monotonicNow() // for --debug: the Go runtime is up
	conn, err := userns.ChildConn()
	if err != nil {
		fmt.Fprintln(os.Stderr, "urun-init:", err)
		return ExitRuntime
	}
	var cfg InitConfig
	// While the parent runs newuidmap and newgidmap, build encoding/json's
	// decoders for the config's types: decoding the first spec in a fresh
	// process costs ~1.8 ms cold, ~0.15 ms warm (docs/BENCHMARKS.md).
	// The config is decoded once they are built: decoding it while
	// warmDecoder still runs (the maps come at once when the clone wrote
	// them, as for a bundle mapping only the user's own id) built every
	// decoder twice, on the 2 CPUs the container start had.
	warmed := make(chan struct{})
	go func() {
		warmDecoder()
		close(warmed)
	}()
	err = conn.WaitMapped()
	var raw json.RawMessage
	if err == nil {
		err = conn.WaitFor(MsgInit, initTimeout, &raw)
	}
	if err == nil {
		<-warmed
		if err = json.Unmarshal(raw, &cfg); err != nil {
			err = fmt.Errorf("decoding %q message: %w", MsgInit, err)
		}
	}
	if err == nil {
		if cfg.Debug && cfg.CloneAt != 0 {
			now := monotonicNow()
			fmt.Fprintf(os.Stderr, "urun-init: runtime up     %6.2f ms\n", float64(up-cfg.CloneAt)/1e6)
			fmt.Fprintf(os.Stderr, "urun-init: maps+config    %6.2f ms\n", float64(now-up)/1e6)
		}
		err = containerInit(conn, &cfg)
	}
	// containerInit returns only when something failed before exec.
	if errors.Is(err, io.EOF) {
		// The parent went away; there is nobody to tell.
		return ExitRuntime
	}
	if _, serr := os.Stat("/"); errors.Is(err, unix.ENOTCONN) || errors.Is(serr, unix.ENOTCONN) {
		// Every path under a FUSE root whose daemon died (killed, out
		// of memory) fails so, and the program lookup would say "not
		// found" (127): name the cause, as urun's failure (125).
		err = fmt.Errorf("the container's root filesystem is gone (its fuse-overlayfs exited): %v", err)
	}
	if conn.SendError(err) != nil {
		// Nobody listens any more: `urun create` has returned and
		// start let the init go on, so execve failed after start.
		// The container's stderr (conmon's log, the caller's
		// terminal) is where the reason can still go.
		fmt.Fprintln(os.Stderr, "urun:", err)
	}
	var ec interface{ ExitCode() int }
	if errors.As(err, &ec) && ec.ExitCode() != 0 {
		return ec.ExitCode()
	}
	return ExitRuntime
}

// warmUpConfig has every type an InitConfig usually holds once.
const warmUpConfig = `{"spec":{"ociVersion":"","process":{"terminal":false,"consoleSize":{"height":0,"width":0},` +
	`"user":{"uid":0,"gid":0,"additionalGids":[0]},"args":[""],"env":[""],"cwd":"/",` +
	`"capabilities":{"bounding":[""],"effective":[""],"permitted":[""],"inheritable":[""],"ambient":[""]},` +
	`"rlimits":[{"type":"","hard":0,"soft":0}],"noNewPrivileges":false,"oomScoreAdj":0},` +
	`"root":{"path":"","readonly":false},"hostname":"","mounts":[{"destination":"","type":"","source":"","options":[""]}],` +
	`"hooks":{"createContainer":[{"path":"","args":[""],"env":[""],"timeout":1}]},"annotations":{"a":"b"},` +
	`"linux":{"uidMappings":[{"containerID":0,"hostID":0,"size":1}],"gidMappings":[{"containerID":0,"hostID":0,"size":1}],` +
	`"sysctl":{"a":"b"},"resources":{"devices":[{"allow":false,"access":"rwm"}],"memory":{"limit":1},"cpu":{"shares":1},"pids":{"limit":1}},` +
	`"namespaces":[{"type":"pid","path":""}],"devices":[{"path":"","type":"c","major":1,"minor":1,"fileMode":438,"uid":0,"gid":0}],` +
	`"maskedPaths":[""],"readonlyPaths":[""],"rootfsPropagation":""}},` +
	`"rootfsDir":"","rootfs":{"tier":"auto","lower":[""]},"seccomp":{"filter":"AAAAAAAAAAA=","flags":0},` +
	`"hookState":{"ociVersion":"","id":"","status":"","pid":1,"bundle":"","annotations":{"a":"b"}},"debug":false}`

func warmDecoder() {
	var c InitConfig
	json.Unmarshal([]byte(warmUpConfig), &c)
}

// containerInit reads top to bottom as the container is built: mounts,
// root switch, paths masked, host name, limits, then the process.
//
// Preconditions: the OS thread is locked from here to execve, because
// capabilities, no_new_privs and seccomp are per-thread and execve takes
// the calling thread's.
func containerInit(conn *userns.Conn, cfg *InitConfig) error {
	runtime.LockOSThread()
	spec := cfg.Spec
	if spec == nil || spec.Process == nil || spec.Root == nil {
		return errors.New("init config has no spec, process or root")
	}
	tr := newTracer(cfg.Debug)
	if err := rootCgroupNamespace(spec); err != nil {
		return err
	}
	if err := joinNamespaces(spec); err != nil {
		return err
	}
	// The FIFO is opened now, while the host's paths are visible; after
	// pivot_root only this handle reaches it.
	var fifo *os.File
	if cfg.ExecFifo != "" {
		f, err := os.OpenFile(cfg.ExecFifo, unix.O_PATH|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("opening exec fifo: %w", err)
		}
		defer f.Close()
		fifo = f
	}
	if err := loopbackUp(spec); err != nil {
		return err
	}
	// Nothing we mount may propagate back to the host's namespace.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("making mounts private: %w", err)
	}
	mounted, err := fuseoverlay.MountRootfsReport(cfg.Rootfs, cfg.RootfsDir)
	if err != nil {
		return err
	}
	tier := mounted.Tier
	if cfg.ReportRootfs {
		if err := conn.Send(MsgRootfs, mounted); err != nil {
			return err
		}
	}
	if tier == fuseoverlay.Fuse {
		// fuse-overlayfs serves the rootfs from this mount namespace.
		// pivot_root moves the root of every process in the namespace
		// onto the new root, so in this one fuse-overlayfs would walk
		// its own mount for /proc/self/fd/N and deadlock on the first
		// file created in /. Move this thread (locked above, and the
		// one that execs) into a copy of the namespace, as podman does
		// by mounting outside the container's namespace.
		if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
			return fmt.Errorf("leaving fuse-overlayfs' mount namespace: %w", err)
		}
	}
	tr.mark("rootfs (" + string(tier) + ")")
	rootfsDir := cfg.RootfsDir
	if os.Getuid() != 0 || os.Getgid() != 0 {
		// The config's maps leave our own id out: become the
		// container's root, reaching the rootfs (under the user's
		// private state directory) through a handle opened before.
		rf, err := os.OpenFile(cfg.RootfsDir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("opening rootfs: %w", err)
		}
		defer rf.Close()
		if err := becomeRoot(); err != nil {
			return err
		}
		rootfsDir = procFD(rf)
	}
	ops, err := planMounts(spec)
	if err != nil {
		return err
	}
	if err := applyMounts(rootfsDir, ops); err != nil {
		return err
	}
	if cfg.ShmTree != 0 {
		if err := mountShmTree(rootfsDir, cfg.ShmTree); err != nil {
			return err
		}
	}
	tr.mark("mounts")
	if cfg.HookState != nil {
		// Before pivot_root the host's /proc names our host pid.
		if self, err := os.Readlink("/proc/self"); err == nil {
			fmt.Sscan(self, &cfg.HookState.Pid)
		}
		cfg.HookState.Status = specs.StateCreating
		if err := RunHooks("createContainer", hooksOf(spec, "createContainer"), cfg.HookState); err != nil {
			return err
		}
	}
	if err := pivotRoot(rootfsDir); err != nil {
		return err
	}
	tr.mark("pivot_root")
	if spec.Linux != nil {
		if err := applySysctls(spec.Linux.Sysctl); err != nil {
			return err
		}
		if err := maskPaths(spec.Linux.MaskedPaths); err != nil {
			return err
		}
		if err := readonlyPaths(spec.Linux.ReadonlyPaths); err != nil {
			return err
		}
	}
	if spec.Root.Readonly {
		if err := remountReadonly("/"); err != nil {
			return fmt.Errorf("making the root filesystem read-only: %w", err)
		}
	}
	if spec.Linux != nil {
		if err := applyRootfsPropagation(spec.Linux.RootfsPropagation); err != nil {
			return err
		}
	}
	if spec.Hostname != "" {
		if err := unix.Sethostname([]byte(spec.Hostname)); err != nil {
			return fmt.Errorf("setting hostname %q: %w", spec.Hostname, err)
		}
	}
	if spec.Domainname != "" {
		if err := unix.Setdomainname([]byte(spec.Domainname)); err != nil {
			return fmt.Errorf("setting domainname %q: %w", spec.Domainname, err)
		}
	}
	if spec.Process.Terminal {
		if err := setupConsole(conn, spec.Process.ConsoleSize); err != nil {
			return err
		}
	}
	if err := setRlimits(spec.Process.Rlimits); err != nil {
		return err
	}
	if err := applyOOMScoreAdj(spec.Process); err != nil {
		return err
	}
	// Waiting for start and the startContainer hooks come last, under
	// the seccomp filter and as the process user (runc's order: a hook
	// is killed by a profile that kills what it does).
	ready := func() error {
		if fifo != nil {
			if err := waitStart(conn, fifo); err != nil {
				return err
			}
		}
		if cfg.HookState != nil {
			cfg.HookState.Status = specs.StateCreated
			if err := RunHooks("startContainer", hooksOf(spec, "startContainer"), cfg.HookState); err != nil {
				return err
			}
		}
		tr.mark("ready to exec")
		return nil
	}
	if cfg.WaitNetwork {
		// As late as can be, so the network helper's set-up overlaps
		// everything above; before the seccomp filter, which need not
		// allow this exchange.
		if err := conn.Send(MsgNetWait, nil); err != nil {
			return err
		}
		if err := conn.WaitFor(MsgNetReady, initTimeout, nil); err != nil {
			return err
		}
		tr.mark("network")
	}
	return execProcess(conn, spec, fifo == nil, cfg.Seccomp, ready, cfg.Preserve)
}

// waitStart ends `create`: the program was found already (a missing one
// is a create error, as with runc), the init stops dying with its parent,
// tells it the container is created, and blocks until `urun start` opens
// the exec FIFO for reading.
func waitStart(conn *userns.Conn, fifo *os.File) error {
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("detaching from urun create: %w", err)
	}
	if err := conn.Send(MsgCreated, nil); err != nil {
		return err
	}
	w, err := os.OpenFile(procFD(fifo), unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("opening exec fifo: %w", err)
	}
	defer w.Close()
	if _, err := w.Write([]byte{'0'}); err != nil {
		return fmt.Errorf("writing exec fifo: %w", err)
	}
	return nil
}

// pivotRoot makes dir the root. pivot_root(".", ".") stacks the old root
// on top of the new one at "/", so one detached unmount removes it without
// needing a directory for it inside the container (as runc does).
func pivotRoot(dir string) error {
	if err := unix.Chdir(dir); err != nil {
		return fmt.Errorf("entering rootfs %s: %w", dir, err)
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root into %s: %w", dir, err)
	}
	// Keep unmount events of the old root from reaching anything shared.
	if err := unix.Mount("", ".", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("making the old root a slave: %w", err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("unmounting the old root: %w", err)
	}
	return unix.Chdir("/")
}

// monotonicNow is CLOCK_MONOTONIC in ns, the one clock urun and urun-init
// share (time.Time's monotonic reading is private to a process).
func monotonicNow() int64 {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano()
}

// tracer prints how long each init phase took, for `urun --debug`.
type tracer struct {
	on   bool
	last time.Time
}

func newTracer(on bool) *tracer { return &tracer{on: on, last: time.Now()} }

func (t *tracer) mark(phase string) {
	if !t.on {
		return
	}
	now := time.Now()
	fmt.Fprintf(os.Stderr, "urun-init: %-14s %6.2f ms\n", phase, float64(now.Sub(t.last).Microseconds())/1000)
	t.last = now
}

// joinNamespaces enters the namespaces the spec gives by path (network,
// ipc, uts, cgroup: the ones a thread may switch alone; the parent cloned
// the init into a pid namespace given by path, and ParseOCIConfig refused
// mount and user ones, saying why). The OS thread is locked, and execve
// carries this thread's namespaces into the process.
func joinNamespaces(spec *specs.Spec) error {
	if spec.Linux == nil {
		return nil
	}
	for _, ns := range spec.Linux.Namespaces {
		if ns.Path == "" {
			continue
		}
		var flag int
		var name string
		switch ns.Type {
		case specs.NetworkNamespace:
			flag, name = unix.CLONE_NEWNET, "net"
		case specs.IPCNamespace:
			flag, name = unix.CLONE_NEWIPC, "ipc"
		case specs.UTSNamespace:
			flag, name = unix.CLONE_NEWUTS, "uts"
		case specs.CgroupNamespace:
			flag, name = unix.CLONE_NEWCGROUP, "cgroup"
		case specs.PIDNamespace, specs.UserNamespace:
			// The pid namespace was entered at clone; a user namespace
			// given by path only by the join stage (joinns_parent.go).
			continue
		default:
			return fmt.Errorf("joining a %s namespace by path is not supported", ns.Type)
		}
		fd, err := unix.Open(ns.Path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("opening %s namespace %s: %w", ns.Type, ns.Path, err)
		}
		if sameNamespace(fd, "/proc/thread-self/ns/"+name) {
			// Already in it (a hostNetwork pod's uts under rootless
			// containerd is the one urun runs in): setns would need
			// CAP_SYS_ADMIN over a namespace a user namespace may not
			// own, for no change.
			unix.Close(fd)
			continue
		}
		err = unix.Setns(fd, flag)
		unix.Close(fd)
		if err != nil {
			return fmt.Errorf("joining %s namespace %s: %w", ns.Type, ns.Path, err)
		}
	}
	return nil
}

// rootCgroupNamespace roots a new cgroup namespace at the init's own
// cgroup. The one made at clone is rooted at urun's cgroup instead: the
// kernel copies namespaces before it moves the child into its cgroup
// (CLONE_INTO_CGROUP, or cgroup.procs after clone), so /proc/self/cgroup
// would show "/../container". cgroup namespaces are per thread; this one
// is locked until execve.
func rootCgroupNamespace(spec *specs.Spec) error {
	if spec.Linux == nil {
		return nil
	}
	for _, ns := range spec.Linux.Namespaces {
		if ns.Type == specs.CgroupNamespace && ns.Path == "" {
			if err := unix.Unshare(unix.CLONE_NEWCGROUP); err != nil {
				return fmt.Errorf("creating the cgroup namespace: %w", err)
			}
		}
	}
	return nil
}

// sameNamespace: the namespace file fd and the one at path are the same
// namespace (nsfs inodes compare by device and inode number).
func sameNamespace(fd int, path string) bool {
	var a, b unix.Stat_t
	return unix.Fstat(fd, &a) == nil && unix.Stat(path, &b) == nil && a.Dev == b.Dev && a.Ino == b.Ino
}
