package container

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/urun-dev/urun/userns"
)

// A container that shares a namespace of another (docker's --ipc, --pid,
// --network container:NAME, podman's --uts container:NAME) is started in
// that container's user namespace, which owns the namespaces it joins;
// urun's own user namespace could not enter them. Entering a user
// namespace needs a single-threaded process, so the chain is:
//
//	urun → nsenter --user --preserve-credentials [--ipc --net --uts]
//	     → urun-init __joinstage FLAGS [pid=PIDNS] [shm=FD]  (in the target's user
//	       namespace, as its root: every capability there; urun's pid
//	       namespace)
//	       → urun-init                  (cloned into new mount, cgroup, and
//	                                     the namespaces not joined)
//
// nsenter does not enter the pid namespace: with --no-fork it would set
// the stage's namespace for children, in which the Go runtime cannot
// clone its threads (the kernel refuses CLONE_THREAD then); the stage
// enters it on its main thread, locked, for the fork, and stays (a
// return to urun's pid namespace needs privilege over it); the runtime
// clones further threads from a thread of its own (its template thread).
// With --ipc container:NAME the new container gets NAME's /dev/shm too
// (POSIX shared memory lives there, not in the IPC namespace): a mount in
// NAME's mount namespace, which mount(2) cannot bind into another, so a
// helper in that namespace (nsenter --user --mount --pid, urun-init
// __shmtree) clones it with open_tree(2) and sends the detached copy;
// the init moves it over its own /dev/shm (move_mount(2)).
//
// The stage sends MsgJoined with the init's pid and then only waits for
// it, passing signals on, and exits as it did. No id maps are written:
// the user namespace is the target's, mapped already.

// JoinStageArg is urun-init's first argument when it is the stage that
// clones a joining container's init.
const JoinStageArg = "__joinstage"

// MsgJoined, join stage → urun over the init's sync socket, before the
// init's first message: the init is cloned; payload joinedInit.
const MsgJoined = "joined"

// ShmTreeArg is urun-init's first argument as the helper that sends a
// detached copy of its container's /dev/shm mount (MsgShmTree, then the
// descriptor as SCM_RIGHTS).
const (
	ShmTreeArg = "__shmtree"
	MsgShmTree = "shm-tree"
)

// shmTreeInit is where the /dev/shm copy lands in the init: after the
// sync socket (3) and the init program (4).
const shmTreeInit = initFD + 1

// sharesIPC: the spec joins an IPC namespace of another container.
func sharesIPC(spec *specs.Spec) bool {
	if pid, _ := joinedUser(spec); pid == 0 {
		return false
	}
	for _, ns := range spec.Linux.Namespaces {
		if ns.Type == specs.IPCNamespace && ns.Path != "" {
			return true
		}
	}
	return false
}

// shmTreeFD is InitConfig.ShmTree for spec.
func shmTreeFD(spec *specs.Spec) int {
	if sharesIPC(spec) {
		return shmTreeInit
	}
	return 0
}

// targetShm runs the __shmtree helper in the mount namespace of process
// target and returns the detached copy of its /dev/shm.
func targetShm(target int, nsenterBin, initBin *os.File, asRoot []string) (*os.File, error) {
	args := append([]string{"nsenter", "--target", strconv.Itoa(target), "--user", "--mount", "--pid", "--preserve-credentials"}, asRoot...)
	args = append(args, "--", fmt.Sprintf("/proc/self/fd/%d", initFD), ShmTreeArg)
	parentEnd, childEnd, err := socketPair("shm")
	if err != nil {
		return nil, err
	}
	defer parentEnd.Close()
	var stderr strings.Builder
	cmd := &exec.Cmd{
		Path:        fmt.Sprintf("/proc/self/fd/%d", initFD+1),
		Args:        args,
		Env:         []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"},
		Stderr:      &stderr,
		ExtraFiles:  []*os.File{childEnd, initBin, nsenterBin},
		SysProcAttr: &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL},
	}
	err = cmd.Start()
	childEnd.Close()
	if err != nil {
		return nil, fmt.Errorf("starting nsenter: %w", err)
	}
	conn, err := userns.NewConn(parentEnd)
	var tree *os.File
	if err == nil {
		if err = conn.WaitFor(MsgShmTree, execTimeout, nil); err == nil {
			tree, err = conn.ReceiveFile("/dev/shm copy")
		}
		conn.Close()
	}
	if err != nil {
		cmd.Process.Kill()
	}
	werr := cmd.Wait()
	if err == nil && werr != nil {
		err = werr
	}
	if err != nil {
		if tree != nil {
			tree.Close()
		}
		if s := strings.TrimSpace(stderr.String()); s != "" {
			err = fmt.Errorf("%w (%s)", err, s)
		}
		return nil, fmt.Errorf("taking the /dev/shm of process %d: %w", target, err)
	}
	return tree, nil
}

type joinedInit struct {
	Pid int `json:"pid"`
}

// joinedUser is the pid whose user namespace the spec joins (a
// /proc/PID/ns/user path, as engine's join resolution writes it), or 0.
func joinedUser(spec *specs.Spec) (int, error) {
	if spec.Linux == nil {
		return 0, nil
	}
	for _, ns := range spec.Linux.Namespaces {
		if ns.Type != specs.UserNamespace || ns.Path == "" {
			continue
		}
		rest, ok := strings.CutPrefix(ns.Path, "/proc/")
		pid, err := strconv.Atoi(strings.TrimSuffix(rest, "/ns/user"))
		if !ok || !strings.HasSuffix(rest, "/ns/user") || err != nil || pid <= 0 {
			return 0, fmt.Errorf("joining the user namespace %s: urun joins another container's as /proc/PID/ns/user", ns.Path)
		}
		return pid, nil
	}
	return 0, nil
}

// nsenterFlags are nsenter's options for the namespaces a joining
// container shares, by spec type.
var nsenterFlags = map[specs.LinuxNamespaceType]string{
	specs.IPCNamespace: "--ipc", specs.NetworkNamespace: "--net", specs.UTSNamespace: "--uts",
}

// startJoined starts the init of ucfg in the user namespace of process
// target, joining the spec's namespaces given by path (see above).
func startJoined(ucfg userns.Config, spec *specs.Spec, target int) (*userns.Child, error) {
	nsenter, err := exec.LookPath("nsenter")
	if err != nil {
		return nil, errors.New("nsenter is not installed: sharing another container's namespaces needs it; install util-linux (apt-get install util-linux)")
	}
	args := []string{"nsenter", fmt.Sprintf("--user=/proc/%d/ns/user", target), "--preserve-credentials"}
	asRoot, err := rootArgs(target)
	if err != nil {
		return nil, err
	}
	args = append(args, asRoot...)
	pidns := ""
	for _, ns := range spec.Linux.Namespaces {
		if ns.Type == specs.PIDNamespace && ns.Path != "" {
			pidns = ns.Path
		}
		if flag, ok := nsenterFlags[ns.Type]; ok && ns.Path != "" {
			args = append(args, flag+"="+ns.Path)
		}
	}
	args = append(args, "--", fmt.Sprintf("/proc/self/fd/%d", initFD), JoinStageArg, strconv.FormatUint(uint64(ucfg.Cloneflags), 10))
	if pidns != "" {
		args = append(args, "pid="+pidns)
	}
	if len(ucfg.ExtraFiles) != 1 {
		return nil, errors.New("joining a container's namespaces: the init takes no further descriptors")
	}
	nsenterBin, err := OpenSealed(nsenter, "nsenter")
	if err != nil {
		return nil, err
	}
	defer nsenterBin.Close()
	files := []*os.File{ucfg.ExtraFiles[0], nsenterBin}
	if sharesIPC(spec) {
		shm, err := targetShm(target, nsenterBin, ucfg.ExtraFiles[0], asRoot)
		if err != nil {
			return nil, err
		}
		defer shm.Close()
		// fd 6 in the stage, which passes it on as shmTreeInit.
		files = append(files, shm)
		args = append(args, "shm=6")
	}
	parentEnd, childEnd, err := socketPair("sync")
	if err != nil {
		return nil, err
	}
	defer parentEnd.Close()
	cmd := &exec.Cmd{
		Path:       fmt.Sprintf("/proc/self/fd/%d", initFD+1),
		Args:       args,
		Env:        ucfg.Env,
		Stdin:      ucfg.Stdin,
		Stdout:     ucfg.Stdout,
		Stderr:     ucfg.Stderr,
		ExtraFiles: append([]*os.File{childEnd}, files...),
		SysProcAttr: &syscall.SysProcAttr{
			Pdeathsig:   syscall.SIGKILL,
			Setsid:      ucfg.Setsid,
			UseCgroupFD: ucfg.UseCgroupFD,
			CgroupFD:    ucfg.CgroupFD,
		},
	}
	err = cmd.Start()
	childEnd.Close()
	if err != nil {
		return nil, fmt.Errorf("starting nsenter: %w", err)
	}
	child := &userns.Child{Cmd: cmd}
	if child.Conn, err = userns.NewConn(parentEnd); err != nil {
		return nil, killAndReap(child, err)
	}
	var j joinedInit
	if err := child.Conn.WaitFor(MsgJoined, execTimeout, &j); err != nil {
		child.Conn.Close()
		cmd.Process.Kill()
		cmd.Wait()
		var pe *userns.PeerError
		if errors.As(err, &pe) {
			return nil, &CodedError{Code: ExitRuntime, Err: fmt.Errorf("joining the namespaces of process %d: %s", target, pe.Error())}
		}
		return nil, fmt.Errorf("joining the namespaces of process %d: %w (is the container still running?)", target, err)
	}
	// The stage runs in the target's user namespace, where the target's
	// processes could trace it: the pid it names must be its own child,
	// not some other process of the user's for urun to signal.
	if ppid, err := parentOf(j.Pid); err != nil || ppid != cmd.Process.Pid {
		child.Conn.Close()
		cmd.Process.Kill()
		cmd.Wait()
		return nil, fmt.Errorf("joining the namespaces of process %d: the join stage named process %d, which is not its child", target, j.Pid)
	}
	child.InitPid = j.Pid
	if err := child.Conn.Send(userns.MsgMapped, nil); err != nil {
		child.Conn.Close()
		return nil, killAndReap(child, err)
	}
	return child, nil
}

// parentOf is the parent pid of process pid (/proc/PID/stat field 4).
func parentOf(pid int) (int, error) {
	if pid <= 0 {
		return 0, fmt.Errorf("pid %d", pid)
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces and parentheses.
	i := strings.LastIndexByte(string(b), ')')
	f := strings.Fields(string(b[i+1:]))
	if i < 0 || len(f) < 2 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	return strconv.Atoi(f[1])
}
