package netns

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/urun-dev/urun/hostbin"
)

// readyTimeout bounds how long a helper may take to set the network up.
const readyTimeout = 10 * time.Second

// helper is one host-side process bound to a container's network: started
// with Pdeathsig so it dies with urun even when urun is SIGKILLed, killed
// and reaped by stop.
type helper struct {
	name   string
	cmd    *exec.Cmd
	stderr lockedBuffer
	done   chan struct{}
	err    error
}

func startHelper(name string, args []string, extra []*os.File) (*helper, error) {
	// A descriptor urun inherited without close-on-exec (the status pipe
	// a detached container's supervisor reports on) would leak into the
	// helper and keep the reader waiting for end of file as long as the
	// helper lives. Go opens its own with O_CLOEXEC and ExtraFiles are
	// dup2'd in the child, so marking everything from 3 up is safe.
	if err := unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err != nil {
		return nil, fmt.Errorf("marking descriptors close-on-exec before starting %s: %w", name, err)
	}
	h := &helper{name: name, done: make(chan struct{})}
	h.cmd = exec.Command(name, args...)
	if name == "pasta" && h.cmd.Err == nil {
		if avx2, ok := pastaAVX2(h.cmd.Path); ok {
			h.cmd.Path = avx2
		}
	}
	h.cmd.Stdout = &h.stderr
	h.cmd.Stderr = &h.stderr
	h.cmd.ExtraFiles = extra
	// Pdeathsig fires when the thread that forked exits; Go only ends a
	// thread when a goroutine locked to it exits, which urun's parent never
	// does while a container runs.
	h.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := h.cmd.Start(); err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			cause, fix := hostbin.NotFound(name, pkgOf(name))
			return nil, fmt.Errorf("%s; fix: %s", cause, fix)
		}
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	go func() {
		h.err = h.cmd.Wait()
		close(h.done)
	}()
	return h, nil
}

func pkgOf(name string) string {
	if name == "pasta" {
		return "passt"
	}
	return name
}

// failed describes a helper that exited during set-up, with its output.
func (h *helper) failed() error {
	out := strings.TrimSpace(filterSyslog(h.stderr.String()))
	if out == "" {
		return fmt.Errorf("%s exited during set-up: %v", h.name, h.err)
	}
	return fmt.Errorf("%s: %s", h.name, strings.ReplaceAll(out, "\n", "; "))
}

// filterSyslog drops passt's complaints about a missing syslog socket.
func filterSyslog(s string) string {
	var keep []string
	for _, l := range strings.Split(s, "\n") {
		if !strings.HasPrefix(l, "Failed to send ") || !strings.HasSuffix(l, "to syslog") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

// release ends a helper whose container has exited. With ports published
// it waits until the helper is gone, so they are free when urun exits (a
// script may publish the same port next). Without, it only sends SIGKILL:
// the helper's exit costs 20-50 ms here, the kernel removing its tap
// device (RCU grace periods), and nothing waits for that but urun's own
// exit; the process dies on its own, reaped by urun's goroutine or, once
// urun is gone, by pid 1 (docs/BENCHMARKS.md, the exit path).
func (h *helper) release(ports []Port) {
	if len(ports) > 0 {
		h.stop()
		return
	}
	select {
	case <-h.done:
	default:
		h.cmd.Process.Kill()
	}
}

// stop kills the helper and reaps it.
func (h *helper) stop() {
	select {
	case <-h.done:
		return
	default:
	}
	h.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-h.done:
	case <-time.After(2 * time.Second):
		h.cmd.Process.Kill()
		<-h.done
	}
}

// lockedBuffer collects a helper's output while it runs.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() > 64<<10 {
		return len(p), nil
	}
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
