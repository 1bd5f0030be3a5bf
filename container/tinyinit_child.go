package container

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"
)

// TinyInitPath is where `run --init` mounts urun-init in the container,
// read-only, to run as pid 1 in front of the process (podman's
// --init with catatonit).
const TinyInitPath = "/run/urun-init"

// TinyInitMain is pid 1 for `run --init`: it runs args as its child,
// forwards every signal it may to it, reaps every orphan the container
// leaves, and exits with the child's status. A process that is not pid 1
// gets the default signal behaviour its authors expect, and zombies do
// not pile up.
func TinyInitMain(args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "urun-init: --init needs a command")
		return ExitRuntime
	}
	sigs := make(chan os.Signal, 32)
	signal.Notify(sigs)
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	// With -t the terminal is ours, as session leader: the child gets a
	// process group of its own in the foreground of it, so ^C reaches
	// it (catatonit does the same; it cannot take the terminal into a
	// session of its own while ours holds it). A terminal that is only
	// our stdin (run -i from a shell) is nobody's controlling one here.
	if _, err := unix.IoctlGetInt(0, unix.TIOCGSID); err == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Foreground: true, Ctty: 0}
	}
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "urun-init:", err)
		if os.IsNotExist(err) {
			return ExitNotFound
		}
		return ExitNotExecutable
	}
	child := cmd.Process.Pid
	for {
		if s := <-sigs; s != unix.SIGCHLD {
			unix.Kill(child, s.(syscall.Signal))
			continue
		}
		for {
			var ws unix.WaitStatus
			pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
			if err != nil || pid <= 0 {
				break
			}
			if pid == child {
				if ws.Signaled() {
					return 128 + int(ws.Signal())
				}
				return ws.ExitStatus()
			}
		}
	}
}
