package container

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/urun-dev/urun/userns"
)

// JoinStageMain is the stage between nsenter and a joining container's
// init (joinns_parent.go): it runs in the target's user namespace (and
// the namespaces joined there), clones the init into the new namespaces
// args[0] gives as clone flags (and into the pid namespace at args[1]
// when given), tells urun the init's pid, then waits for
// it, passing signals on, and ends as it ended.
func JoinStageMain(args []string) int {
	sync := os.NewFile(userns.SyncFD, "sync")
	initBin := os.NewFile(initFD, "urun-init")
	if sync == nil || initBin == nil {
		fmt.Fprintln(os.Stderr, "urun-init: the join stage is started by urun, not by hand")
		return ExitRuntime
	}
	conn, err := userns.NewConn(sync)
	if err != nil {
		fmt.Fprintln(os.Stderr, "urun-init:", err)
		return ExitRuntime
	}
	fail := func(err error) int {
		conn.SendError(err)
		return ExitRuntime
	}
	// Not traceable by the target's processes, which share this user
	// namespace and uid (the init's exec makes it dumpable again, as
	// every process the init execs).
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return fail(fmt.Errorf("join stage: %w", err))
	}
	if len(args) < 1 {
		return fail(errors.New("join stage: the clone flags are missing"))
	}
	pidns := ""
	extra := []*os.File{sync, initBin}
	for _, a := range args[1:] {
		k, v, _ := strings.Cut(a, "=")
		switch k {
		case "pid":
			pidns = v
		case "shm":
			n, err := strconv.Atoi(v)
			f := os.NewFile(uintptr(n), "/dev/shm copy")
			if err != nil || f == nil {
				return fail(fmt.Errorf("join stage: %q: no such descriptor", a))
			}
			// At shmTreeInit in the init.
			extra = append(extra, f)
		default:
			return fail(fmt.Errorf("join stage: unknown argument %q", a))
		}
	}
	flags, err := strconv.ParseUint(args[0], 10, 64)
	if err != nil {
		return fail(fmt.Errorf("join stage: clone flags %q: %w", args[0], err))
	}
	// Signals that arrive from now on go to the init once it runs.
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, append(forwarded, unix.SIGWINCH)...)
	cmd := &exec.Cmd{
		Path:       fmt.Sprintf("/proc/self/fd/%d", initFD),
		Args:       []string{"urun-init"},
		Env:        os.Environ(),
		Stdin:      os.Stdin,
		Stdout:     os.Stdout,
		Stderr:     os.Stderr,
		ExtraFiles: extra,
		SysProcAttr: &syscall.SysProcAttr{
			Cloneflags: uintptr(flags),
			// Its own session, as every init (initUsernsConfig).
			Setsid: true,
		},
	}
	if flags&unix.CLONE_NEWPID != 0 {
		// Go's fork takes a getppid() of 0 (the parent is outside the
		// child's pid namespace) for a dead parent and signals the
		// child, which as pid 1 of a new namespace ignores it; in a
		// joined one it would die. There urun kills the init itself
		// when the stage fails (killAndReap).
		cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	}
	if pidns != "" {
		// This thread (urun-init's main one, locked since init) stays
		// with the pid namespace for its children: no way back without
		// privilege over urun's, and none is needed.
		fd, err := unix.Open(pidns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fail(fmt.Errorf("opening the pid namespace %s: %w", pidns, err))
		}
		err = unix.Setns(fd, unix.CLONE_NEWPID)
		unix.Close(fd)
		if err != nil {
			return fail(fmt.Errorf("joining the pid namespace %s: %w", pidns, err))
		}
	}
	if err := cmd.Start(); err != nil {
		return fail(fmt.Errorf("starting the init in the joined namespaces: %w", err))
	}
	err = conn.Send(MsgJoined, joinedInit{Pid: cmd.Process.Pid})
	// Only urun and the init may hold the sync socket: its end of file
	// tells urun the init executed the process.
	conn.Close()
	for _, f := range extra {
		f.Close()
	}
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return ExitRuntime
	}
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-sigs:
				cmd.Process.Signal(s)
			case <-done:
				return
			}
		}
	}()
	werr := cmd.Wait()
	close(done)
	ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ok {
		fmt.Fprintln(os.Stderr, "urun-init: waiting for the init:", werr)
		return ExitRuntime
	}
	if ws.Signaled() {
		// End by the same signal, so urun records the same status.
		sig := ws.Signal()
		signal.Reset(sig)
		unix.Kill(os.Getpid(), sig)
		return 128 + int(sig)
	}
	return ws.ExitStatus()
}

// ShmTreeMain is the helper in another container's mount namespace
// (joinns_parent.go, targetShm): it sends urun a detached copy of that
// container's /dev/shm mount.
func ShmTreeMain() int {
	conn, err := userns.ChildConn()
	if err != nil {
		fmt.Fprintln(os.Stderr, "urun-init:", err)
		return ExitRuntime
	}
	defer conn.Close()
	fd, err := unix.OpenTree(unix.AT_FDCWD, "/dev/shm", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_RECURSIVE)
	if err != nil {
		conn.SendError(fmt.Errorf("cloning the container's /dev/shm mount: %w", err))
		return ExitRuntime
	}
	tree := os.NewFile(uintptr(fd), "/dev/shm")
	defer tree.Close()
	if err := conn.SendFile(MsgShmTree, tree); err != nil {
		fmt.Fprintln(os.Stderr, "urun-init:", err)
		return ExitRuntime
	}
	return 0
}

// mountShmTree moves the detached /dev/shm copy at descriptor fd over
// the container's /dev/shm (resolved inside rootfs).
func mountShmTree(rootfs string, fd int) error {
	tree := os.NewFile(uintptr(fd), "/dev/shm copy")
	defer tree.Close()
	root, err := os.OpenFile(rootfs, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("opening rootfs %s: %w", rootfs, err)
	}
	defer root.Close()
	target, err := openTarget(root, "/dev/shm", true)
	if err != nil {
		return fmt.Errorf("mounting the shared /dev/shm: %w", err)
	}
	defer target.Close()
	if err := unix.MoveMount(int(tree.Fd()), "", int(target.Fd()), "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH); err != nil {
		return fmt.Errorf("mounting the shared /dev/shm: %w", err)
	}
	return nil
}
