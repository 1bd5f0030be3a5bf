package container

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strings"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/urun-dev/urun/seccomp"
	"github.com/urun-dev/urun/userns"
)

// setRlimits applies the process's resource limits before exec.
func setRlimits(limits []specs.POSIXRlimit) error {
	for _, l := range limits {
		res, ok := rlimitResources[l.Type]
		if !ok {
			return fmt.Errorf("unknown rlimit %q", l.Type)
		}
		if err := unix.Prlimit(0, res, &unix.Rlimit{Cur: l.Soft, Max: l.Hard}, nil); err != nil {
			return fmt.Errorf("setting %s to %d:%d: %w", l.Type, l.Soft, l.Hard, err)
		}
	}
	return nil
}

var rlimitResources = map[string]int{
	"RLIMIT_AS": unix.RLIMIT_AS, "RLIMIT_CORE": unix.RLIMIT_CORE, "RLIMIT_CPU": unix.RLIMIT_CPU,
	"RLIMIT_DATA": unix.RLIMIT_DATA, "RLIMIT_FSIZE": unix.RLIMIT_FSIZE, "RLIMIT_LOCKS": unix.RLIMIT_LOCKS,
	"RLIMIT_MEMLOCK": unix.RLIMIT_MEMLOCK, "RLIMIT_MSGQUEUE": unix.RLIMIT_MSGQUEUE, "RLIMIT_NICE": unix.RLIMIT_NICE,
	"RLIMIT_NOFILE": unix.RLIMIT_NOFILE, "RLIMIT_NPROC": unix.RLIMIT_NPROC, "RLIMIT_RSS": unix.RLIMIT_RSS,
	"RLIMIT_RTPRIO": unix.RLIMIT_RTPRIO, "RLIMIT_RTTIME": unix.RLIMIT_RTTIME, "RLIMIT_SIGPENDING": unix.RLIMIT_SIGPENDING,
	"RLIMIT_STACK": unix.RLIMIT_STACK,
}

// execProcess becomes the container's process: working directory, user
// and groups, capabilities, no_new_privs, seccomp, then execve in place,
// so the process keeps the init's pid (pid 1, or the pid a caller's pid
// file names).
//
// The seccomp filter goes in as late as the kernel lets it, as runc and
// crun order it: with no_new_privs, right before execve, so the filter
// need not allow the init's own set-up; without, installing it needs
// CAP_SYS_ADMIN in the user namespace, which the switch to the process's
// capabilities may drop, so it goes in before that switch, and the
// profile must then allow setresuid, capset, prctl, close_range and
// execve (docker's does).
//
// ready, when not nil, runs after all of that, the filter installed,
// right before execve: the init waits there for `urun start` and runs
// the startContainer hooks, which so run under the container's filter,
// as its process user, as with runc.
//
// Preconditions: OS thread locked; after pivot_root.
func execProcess(conn *userns.Conn, spec *specs.Spec, dieWithParent bool, filter *seccomp.Program, ready func() error, preserve Preserved) error {
	p := spec.Process
	if len(p.Args) == 0 {
		return errors.New("the process has no arguments")
	}
	prog, err := lookPath(p.Args[0], p.Env)
	if err != nil {
		return err
	}
	cwd := p.Cwd
	if cwd == "" {
		cwd = "/"
	}
	// As root in the namespace we can enter any directory; a directory
	// only the target user may enter is tried again after switching.
	cwdErr := unix.Chdir(cwd)
	if cwdErr == nil {
		if err := checkCwd(cwd); err != nil {
			return err
		}
		// A path (not a name looked up in PATH) is checked here, in
		// create, as runc does: `podman start` of a container whose
		// program is missing fails with the reason, not later with
		// a bare exit status.
		if err := checkProgram(prog); err != nil {
			return err
		}
	}
	// No descriptor but stdio reaches the container's program, whatever
	// urun or its caller left open (the CVE-2024-21626 class). Before the
	// seccomp filter: a config's allow-list may well not name close_range
	// (runtime-tools' default profile does not), nor getcwd.
	if err := unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err != nil {
		return fmt.Errorf("marking inherited descriptors close-on-exec: %w", err)
	}
	if p.User.Umask != nil {
		// The init's and an exec's own umask is the caller's; the
		// config's wins, as with runc. Before the filter, which
		// need not allow umask.
		unix.Umask(int(*p.User.Umask))
	}
	if !p.NoNewPrivileges {
		if err := installSeccomp(conn, filter); err != nil {
			return err
		}
	}
	if err := dropBounding(p.Capabilities); err != nil {
		return err
	}
	if p.Terminal {
		if err := chownTerminal(p.User.UID); err != nil {
			return err
		}
	}
	// Read as root, before the switch: /etc/passwd may be unreadable
	// for the process user.
	env := withHome(p.Env, p.User.UID)
	if err := setUser(p.User); err != nil {
		return err
	}
	if cwdErr != nil {
		if err := unix.Chdir(cwd); err != nil {
			// 126, as podman: the command cannot be run there.
			return &CodedError{Code: ExitNotExecutable, Err: fmt.Errorf("changing to working directory %s: %w", cwd, err)}
		}
		if err := checkCwd(cwd); err != nil {
			return err
		}
	}
	if err := setCapabilities(p.Capabilities); err != nil {
		return err
	}
	if dieWithParent {
		// The clone set it, but credential changes on the way (the id
		// maps being written, a switch of user) clear it: set it after
		// the last one (no_new_privs and seccomp are none), so the
		// container dies with urun or with its supervisor.
		if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0); err != nil {
			return fmt.Errorf("setting the parent-death signal: %w", err)
		}
	}
	if p.NoNewPrivileges {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("setting no_new_privs: %w", err)
		}
		if err := installSeccomp(conn, filter); err != nil {
			return err
		}
	}
	if ready != nil {
		if err := ready(); err != nil {
			return err
		}
	}
	restore, err := placePreserved(conn, preserve)
	if err != nil {
		return err
	}
	err = unix.Exec(prog, p.Args, env)
	restore()
	return execFailure(p.Args[0], err)
}

// Preserved are the descriptors --preserve-fds passes on: Count of them,
// which arrive in the init at From, From+1, … and which the process gets
// at 3, 4, … (as runc's).
type Preserved struct {
	From  int `json:"from,omitempty"`
	Count int `json:"count,omitempty"`
}

// placePreserved puts the preserved descriptors at 3… without the
// close-on-exec flag, as the very last step before execve: the sync
// socket may sit in that range, so it is first duplicated above it
// (close-on-exec, so its end of file still tells the parent the exec
// happened). The returned function puts the socket back when the exec
// failed, so the failure can still be reported.
//
// Preconditions: OS thread locked; nothing talks over conn in between.
func placePreserved(conn *userns.Conn, p Preserved) (func(), error) {
	if p.Count == 0 {
		return func() {}, nil
	}
	top := 3 + p.Count
	if p.From+p.Count > top {
		top = p.From + p.Count
	}
	sock, err := conn.Fd()
	if err != nil {
		return nil, err
	}
	saved, err := unix.FcntlInt(uintptr(sock), unix.F_DUPFD_CLOEXEC, top)
	if err != nil {
		return nil, fmt.Errorf("moving the sync socket: %w", err)
	}
	high := make([]int, p.Count)
	for i := range high {
		if high[i], err = unix.FcntlInt(uintptr(p.From+i), unix.F_DUPFD_CLOEXEC, top); err != nil {
			return nil, fmt.Errorf("preserved descriptor %d: %w", 3+i, err)
		}
	}
	for i, fd := range high {
		if err := unix.Dup3(fd, 3+i, 0); err != nil {
			return nil, fmt.Errorf("preserved descriptor %d: %w", 3+i, err)
		}
		unix.Close(fd)
	}
	return func() { unix.Dup3(saved, sock, unix.O_CLOEXEC) }, nil
}

// installSeccomp installs the filter; a user-notification listener goes
// to urun's side of the sync socket at once, which hands it to the
// profile's agent: until the agent has it, a notified syscall (of this
// init too: close, execve) waits.
func installSeccomp(conn *userns.Conn, filter *seccomp.Program) error {
	listener, err := seccomp.Install(filter)
	if err != nil || listener == nil {
		return err
	}
	defer listener.Close()
	return conn.SendFile(MsgSeccomp, listener)
}

// checkCwd refuses a working directory outside the container's root. A
// path through a descriptor the init still holds (-w /proc/self/fd/N, the
// CVE-2024-21626 class) can land in a host directory: the kernel's
// getcwd then returns a path starting "(unreachable)" instead of "/".
func checkCwd(cwd string) error {
	buf := make([]byte, unix.PathMax)
	n, err := unix.Getcwd(buf)
	if err != nil {
		return fmt.Errorf("checking working directory %s: %w", cwd, err)
	}
	if n == 0 || buf[0] != '/' {
		return fmt.Errorf("working directory %s is outside the container's root filesystem: give a path inside it", cwd)
	}
	return nil
}

// execFailure turns execve's errno into the message and status a shell
// user expects: 127 for a missing program, 126 for one that cannot run.
// "exec NAME: …" is runc's and crun's wording, which clients match (podman
// turns "permission denied" into 126, its tests look for "exec.*
// permission denied" for a script on a noexec volume).
func execFailure(name string, err error) error {
	switch {
	case errors.Is(err, unix.ENOENT):
		return &CodedError{Code: ExitNotFound, Err: fmt.Errorf("exec %s: no such file or directory", name)}
	case errors.Is(err, unix.EACCES), errors.Is(err, unix.EPERM):
		return &CodedError{Code: ExitNotExecutable, Err: fmt.Errorf("exec %s: permission denied", name)}
	case errors.Is(err, unix.ENOEXEC):
		return &CodedError{Code: ExitNotExecutable, Err: fmt.Errorf("exec %s: exec format error (not a program for this machine)", name)}
	}
	return &CodedError{Code: ExitNotExecutable, Err: fmt.Errorf("executing %s: %w", name, err)}
}

// withHome adds HOME to a process environment that has none, as runc and
// crun do: the home of the process's uid in the container's /etc/passwd,
// else "/" (podman sets HOME only for users it finds there; tools and
// shells misbehave without one).
//
// Preconditions: after pivot_root.
func withHome(env []string, uid uint32) []string {
	for _, e := range env {
		if strings.HasPrefix(e, "HOME=") {
			return env
		}
	}
	home := "/"
	if users, err := readPasswd(os.ReadFile); err == nil {
		for _, u := range users {
			if u.uid == uid && u.home != "" {
				home = u.home
				break
			}
		}
	}
	return append(env[:len(env):len(env)], "HOME="+home)
}

// checkProgram refuses a program path that execve would: missing (127),
// a directory or without any execute bit (126). The words match runc's,
// which podman turns into its exit statuses ("no such file or
// directory", "permission denied").
func checkProgram(prog string) error {
	st, err := os.Stat(prog)
	switch {
	case errors.Is(err, unix.ENOENT), errors.Is(err, unix.ENOTDIR):
		return &CodedError{Code: ExitNotFound, Err: fmt.Errorf("exec %s: no such file or directory", prog)}
	case err != nil:
		return nil // let execve say what is wrong
	case st.IsDir():
		return &CodedError{Code: ExitNotExecutable, Err: fmt.Errorf("exec %s: permission denied (it is a directory)", prog)}
	case st.Mode()&0o111 == 0:
		return &CodedError{Code: ExitNotExecutable, Err: fmt.Errorf("exec %s: permission denied (no execute permission)", prog)}
	}
	return nil
}

// lookPath finds name in the container's PATH, as a shell would.
func lookPath(name string, env []string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	pathVar := "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "PATH="); ok {
			pathVar = v
		}
	}
	var denied string
	for _, dir := range strings.Split(pathVar, ":") {
		if dir == "" {
			dir = "."
		}
		p := path.Join(dir, name)
		st, err := os.Stat(p)
		if err != nil || st.IsDir() {
			continue
		}
		if st.Mode()&0o111 != 0 {
			return p, nil
		}
		if denied == "" {
			denied = p
		}
	}
	if denied != "" {
		return "", &CodedError{Code: ExitNotExecutable, Err: fmt.Errorf("%s: permission denied", denied)}
	}
	return "", &CodedError{Code: ExitNotFound, Err: fmt.Errorf("%s: executable file not found in $PATH", name)}
}

// setUser switches to the process user. Only this thread changes: the
// raw syscalls skip Go's all-threads variants on purpose, since execve
// ends the other threads and takes this thread's credentials.
// PR_SET_KEEPCAPS keeps the permitted set across the uid change so
// setCapabilities can then choose what the process keeps.
func setUser(u specs.User) error {
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("keeping capabilities across setuid: %w", err)
	}
	n := len(u.AdditionalGids)
	if setgroupsDenied() {
		// With a single-id map the kernel denies setgroups (as crun, we
		// then run with no supplementary groups: the image's extra groups
		// cannot be mapped anyway).
		n = 0
	}
	groups := make([]uint32, n)
	copy(groups, u.AdditionalGids)
	if n == 0 {
		groups = []uint32{0} // a valid pointer; the length passed is 0
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETGROUPS, uintptr(n), uintptr(unsafe.Pointer(&groups[0])), 0); e != 0 {
		if !(e == unix.EPERM && n == 0) {
			return fmt.Errorf("setting supplementary groups %v: %w", groups[:n], e)
		}
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESGID, uintptr(u.GID), uintptr(u.GID), uintptr(u.GID)); e != 0 {
		return fmt.Errorf("setting gid %d: %w (is it inside the container's gid map?)", u.GID, e)
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, uintptr(u.UID), uintptr(u.UID), uintptr(u.UID)); e != 0 {
		return fmt.Errorf("setting uid %d: %w (is it inside the container's uid map?)", u.UID, e)
	}
	return nil
}

// setgroupsDenied reports whether this user namespace forbids setgroups
// (a single-id map written without the helpers).
func setgroupsDenied() bool {
	b, err := os.ReadFile("/proc/self/setgroups")
	return err == nil && strings.TrimSpace(string(b)) == "deny"
}

// chownTerminal gives the process user its terminal: the pty was opened
// by the init as root, so the kernel made it root's, and a non-root
// process could not change its modes (stty, mesg) or reopen it. Only the
// owner changes: the group is devpts' gid= option (tty, 5), as with runc.
// Only the terminal urun made (process.terminal): a file, a pipe or the
// caller's own terminal passed as stdio stays the caller's. An inode
// whose owner is not mapped, or a read-only /dev, keeps its owner
// (EINVAL, EPERM, EROFS), as runc ignores these too.
//
// Preconditions: root in the container's user namespace.
func chownTerminal(uid uint32) error {
	for fd := 0; fd <= 2; fd++ {
		if !isTerminalFD(fd) {
			continue
		}
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil || st.Uid == uid {
			continue
		}
		err := unix.Fchown(fd, int(uid), -1)
		if err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.EPERM) && !errors.Is(err, unix.EROFS) {
			return fmt.Errorf("giving the terminal to uid %d: %w", uid, err)
		}
	}
	return nil
}

func isTerminalFD(fd int) bool {
	_, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	return err == nil
}
