package container

import (
	"errors"
	"fmt"
	"os"
	"os/signal"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// RunOCI is runc's foreground `run`: the container is created and
// started as by `create` and `start`, so while it runs it is in the
// state root (state, list, kill, exec see it); urun forwards signals,
// relays the terminal when the process has one and no console socket was
// given, waits, and deletes the container afterwards unless keep. created
// is told the init's pid before the start (--pid-file). It returns the
// process's exit status (128+N for signal N).
func RunOCI(cc CreateConfig, keep bool, created func(pid int) error) (int, error) {
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, forwarded...)
	defer signal.Stop(sigs)
	var master *os.File
	if cc.Spec.Process.Terminal && cc.Console == nil {
		if term, ok := isTerminal(cc.Stdin); ok {
			if ws, err := unix.IoctlGetWinsize(int(term.Fd()), unix.TIOCGWINSZ); err == nil {
				cc.Spec.Process.ConsoleSize = &specs.Box{Height: uint(ws.Row), Width: uint(ws.Col)}
			}
		}
		cc.Console = func(m *os.File) error {
			fd, err := unix.FcntlInt(m.Fd(), unix.F_DUPFD_CLOEXEC, 0)
			if err != nil {
				return fmt.Errorf("keeping the pty master: %w", err)
			}
			master = os.NewFile(uintptr(fd), "pty master")
			return nil
		}
	}
	st, err := Create(cc)
	if err != nil {
		return 0, err
	}
	if master != nil {
		defer master.Close()
	}
	cleanup := func() {
		if !keep {
			deleteState(cc.Root, cc.ID, true, cc.Spec)
		}
	}
	if created != nil {
		if err := created(st.Pid); err != nil {
			deleteState(cc.Root, cc.ID, true, cc.Spec)
			return 0, err
		}
	}
	// The init is still this process's child (Create only let go of its
	// handle): wait4 reaps it and gives its status.
	done := make(chan unix.WaitStatus, 1)
	go func() {
		var ws unix.WaitStatus
		for {
			_, err := unix.Wait4(st.Pid, &ws, 0, nil)
			if !errors.Is(err, unix.EINTR) {
				break
			}
		}
		done <- ws
	}()
	if err := start(cc.Root, cc.ID, cc.Spec); err != nil {
		unix.Kill(st.Pid, unix.SIGKILL)
		<-done
		deleteState(cc.Root, cc.ID, true, cc.Spec)
		return 0, err
	}
	copied := make(chan struct{})
	var restore func()
	if master != nil {
		restore = relayTerminal(master, cc.RunConfig, copied)
	} else {
		close(copied)
	}
	for {
		select {
		case s := <-sigs:
			unix.Kill(st.Pid, s.(unix.Signal))
		case ws := <-done:
			<-copied
			if restore != nil {
				restore()
			}
			cleanup()
			if ws.Signaled() {
				return 128 + int(ws.Signal()), nil
			}
			return ws.ExitStatus(), nil
		}
	}
}
