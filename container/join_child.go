package container

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/urun-dev/urun/seccomp"
	"github.com/urun-dev/urun/userns"
)

// ExecArg is urun-init's first argument when it runs a process in an
// existing container (urun exec) instead of being a container's init.
const ExecArg = "__exec"

// JoinMain runs in a container's namespaces, entered by nsenter(1) on
// urun exec's behalf (joining a user and a mount namespace needs a
// single-threaded process, which nsenter is and a Go program is not). It
// receives the process, sets up its terminal, user, capabilities and
// limits as the init does, and execs it. It returns only on failure.
func JoinMain() int {
	boot, err := userns.ChildConn()
	if err != nil {
		fmt.Fprintln(os.Stderr, "urun-init:", err)
		return ExitRuntime
	}
	// nsenter's waiting parent holds a copy of the descriptor we were
	// given, so its end of file would never come at exec: the real sync
	// socket arrives over it, and only this process holds that one.
	conn, err := receiveSync(boot)
	boot.Close()
	if err != nil {
		fmt.Fprintln(os.Stderr, "urun-init:", err)
		return ExitRuntime
	}
	runtime.LockOSThread()
	var req execRequest
	err = conn.WaitFor(MsgExec, initTimeout, &req)
	if err == nil && req.Process == nil {
		err = errors.New("exec request has no process")
	}
	if err == nil {
		err = joinExec(conn, req.Process, req.Seccomp, req.Preserve)
	}
	if errors.Is(err, io.EOF) {
		return ExitRuntime
	}
	conn.SendError(err)
	var ec interface{ ExitCode() int }
	if errors.As(err, &ec) && ec.ExitCode() != 0 {
		return ec.ExitCode()
	}
	return ExitRuntime
}

func receiveSync(boot *userns.Conn) (*userns.Conn, error) {
	if err := boot.WaitFor(MsgSync, initTimeout, nil); err != nil {
		return nil, err
	}
	f, err := boot.ReceiveFile("sync socket")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return userns.NewConn(f)
}

func joinExec(conn *userns.Conn, p *specs.Process, filter *seccomp.Program, preserve Preserved) error {
	if p.Terminal {
		if err := setupConsole(conn, p.ConsoleSize); err != nil {
			return err
		}
	}
	if err := setRlimits(p.Rlimits); err != nil {
		return err
	}
	return execProcess(conn, &specs.Spec{Process: p}, false, filter, nil, preserve)
}
