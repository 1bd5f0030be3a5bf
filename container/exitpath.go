package container

import (
	"fmt"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/urun-dev/urun/userns"
)

// The exit path: what urun does between the container's process ending
// and urun's own exit (reap, stop the helpers, record or remove the
// container). Every run pays it after the user's work is done, so it is
// timed under --debug rather than guessed at (docs/BENCHMARKS.md).

// ExitTrace prints, for --debug, when the container's process ended and
// how long each later step of urun's exit took after that. A nil
// *ExitTrace (no --debug) prints nothing.
type ExitTrace struct {
	start, exited time.Time
}

// NewExitTrace returns a trace when debug is on, else nil.
func NewExitTrace(debug bool) *ExitTrace {
	if !debug {
		return nil
	}
	return &ExitTrace{start: time.Now()}
}

// Exited marks the moment the container's process was reaped.
func (t *ExitTrace) Exited() {
	if t == nil {
		return
	}
	t.exited = time.Now()
	fmt.Fprintf(os.Stderr, "urun: exited       %6.2f ms\n", msSince(t.start))
}

// Mark prints how long after the exit step what finished.
func (t *ExitTrace) Mark(what string) {
	if t == nil || t.exited.IsZero() {
		return
	}
	fmt.Fprintf(os.Stderr, "urun: %-16s +%.2f ms after exit\n", what, msSince(t.exited))
}

// closeAttachments closes in reverse order of attaching.
func closeAttachments(as []Attachment) {
	for i := len(as) - 1; i >= 0; i-- {
		as[i].Close()
	}
}

func killAndReap(child *userns.Child, err error) error {
	if child.InitPid != 0 {
		// The stage between us and the init cannot pass SIGKILL on.
		unix.Kill(child.InitPid, unix.SIGKILL)
	}
	child.Cmd.Process.Kill()
	child.Cmd.Wait()
	return err
}

// exitStatus is the shell's view of how the process ended.
func exitStatus(ps *os.ProcessState, werr error) (int, error) {
	if ps == nil {
		return 0, fmt.Errorf("waiting for the container: %w", werr)
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal()), nil
	}
	return ps.ExitCode(), nil
}
