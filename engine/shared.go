package engine

// The shared supervisor: one process per user (per urun binary and
// environment) supervises every detached container it is handed, the
// way one conmon does for one container. A Go process costs at least
// ~0.7 MB of private memory (its runtime), more than a whole conmon
// (~0.4 MB), so one supervisor per container cannot match conmon; one
// for all of them makes a container's share its goroutines and buffers
// (docs/BENCHMARKS.md, B5). It starts with the first detached container
// and exits when its last one has ended. A container that needs a
// systemd scope of its own (the supervisor joins it: cgroupdelegate)
// keeps a supervisor of its own, as does any start the shared one
// cannot take.
//
// The handshake, over ROOT/supervisors/KEY.sock: the front sends the
// record's path and a newline; the supervisor answers "+" once the
// container is its own, then "ok" or "err CODE TEXT" as the
// per-container supervisor's status pipe does, and closes. The front
// holds ROOT/supervisors/KEY.lock from before it connects until the "+";
// the supervisor takes it to decide to exit, so no start is lost
// between its last container's end and its exit.

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/urun-dev/urun/cgroupdelegate"
	"github.com/urun-dev/urun/container"
)

const (
	serveFlag = "--serve"
	// sharedDir, in the state root, holds the shared supervisors'
	// sockets and locks.
	sharedDir = "supervisors"
	// SupervisorEnv set to "own" gives every detached container a
	// supervisor of its own (the bench compares both).
	SupervisorEnv = "URUN_SUPERVISOR"
	// handTimeout bounds the wait for the shared supervisor's "+".
	handTimeout = 10 * time.Second
)

// handToShared hands container id to the shared supervisor, starting it
// when none runs. handled is false when it cannot (the caller starts a
// supervisor of the container's own); then nothing was started.
func handToShared(id, record string) (handled bool, err error) {
	if os.Getenv(SupervisorEnv) == "own" {
		return false, nil
	}
	rec, err := LoadRecord(record)
	if err != nil {
		return false, nil // the own supervisor reports it
	}
	if mode, err := cgroupdelegate.ParseMode(rec.Cgroups); err != nil || cgroupdelegate.Scoped(mode) {
		return false, nil
	}
	sock, lockPath, ok := sharedPaths(rec.Root)
	if !ok {
		return false, nil
	}
	unlock, err := container.FlockPath(lockPath)
	if err != nil {
		return false, nil
	}
	conn, err := dialShared(sock)
	if err != nil {
		unlock()
		return false, nil
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(handTimeout))
	_, err = fmt.Fprintf(conn, "%s\n", record)
	ack := make([]byte, 1)
	if err == nil {
		_, err = io.ReadFull(conn, ack)
	}
	unlock()
	if err != nil || ack[0] != '+' {
		return false, nil // it did not take the container: nothing ran
	}
	conn.SetDeadline(time.Time{})
	msg, _ := io.ReadAll(conn)
	if string(msg) == "ok" {
		return true, nil
	}
	if err := parseReport(msg); err != nil {
		return true, err
	}
	return true, fmt.Errorf("the supervisor of %s ended before the container started", id[:12])
}

// sharedPaths are the shared supervisor's socket and lock for this urun
// binary and environment under root; ok is false when the socket's path
// is too long for a unix socket.
func sharedPaths(root string) (sock, lock string, ok bool) {
	dir := filepath.Join(root, sharedDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", "", false
	}
	key := sharedKey()
	sock = filepath.Join(dir, key+".sock")
	return sock, filepath.Join(dir, key+".lock"), len(sock) < 100
}

// sharedKey names the supervisor that behaves as one this process would
// start: the same urun binary (by inode and time) and the same
// environment, but for what only a shell's state puts there.
func sharedKey() string {
	h := sha256.New()
	if exe, err := os.Executable(); err == nil {
		var st unix.Stat_t
		unix.Stat(exe, &st)
		fmt.Fprintf(h, "%s\x00%d\x00%d\x00%d\x00", exe, st.Dev, st.Ino, st.Mtim.Nano())
	}
	env := os.Environ()
	sort.Strings(env)
	for _, e := range env {
		switch k, _, _ := strings.Cut(e, "="); k {
		case "PWD", "OLDPWD", "_", "SHLVL":
			continue
		}
		fmt.Fprintf(h, "%s\x00", e)
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// dialShared connects to the shared supervisor at sock, starting one
// when none answers. The caller holds the lock.
func dialShared(sock string) (net.Conn, error) {
	if c, err := net.Dial("unix", sock); err == nil {
		return c, nil
	}
	os.Remove(sock) // a supervisor killed before it removed it
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	cmd := exec.Command(exe, SupervisorArg, serveFlag, sock)
	cmd.ExtraFiles = []*os.File{w}
	// Its own session in /, no terminal, nothing of ours: it outlives
	// us and holds no directory of the user's.
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		w.Close()
		return nil, err
	}
	w.Close()
	msg, _ := io.ReadAll(r)
	if string(msg) != "ok" {
		cmd.Wait()
		return nil, fmt.Errorf("the shared supervisor did not start: %q", msg)
	}
	cmd.Process.Release()
	return net.Dial("unix", sock)
}

// serveShared is the shared supervisor's main: it listens on sock,
// supervises each container it is handed, and exits when the last one
// has ended.
func serveShared(sock string) int {
	// One P: the work is waiting and copying output, and each P has
	// caches of its own (-0.4 MB PSS measured with 20 containers).
	runtime.GOMAXPROCS(1)
	status := os.NewFile(3, "status")
	l, err := net.Listen("unix", sock)
	if err != nil {
		fmt.Fprintf(status, "err 125 %v", err)
		return 125
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	fmt.Fprint(status, "ok")
	status.Close()
	s := &shared{sock: sock, lock: strings.TrimSuffix(sock, ".sock") + ".lock", l: l, exit: func() { os.Exit(0) }}
	for {
		c, err := l.Accept()
		if err != nil {
			return 0
		}
		go s.handle(c)
	}
}

type shared struct {
	sock, lock string
	l          net.Listener
	// exit ends the process once the last container has ended.
	exit   func()
	mu     sync.Mutex
	active int
}

// handle takes one container: its record's path, "+", then its
// supervision, reporting the start on c.
func (s *shared) handle(c net.Conn) {
	c.SetReadDeadline(time.Now().Add(handTimeout))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		c.Close()
		return
	}
	c.SetReadDeadline(time.Time{})
	s.mu.Lock()
	s.active++
	s.mu.Unlock()
	if _, err := c.Write([]byte("+")); err != nil {
		c.Close()
		s.done()
		return
	}
	rep := &reporter{w: c, shared: true}
	superviseReporting(strings.TrimSuffix(line, "\n"), rep)
	rep.failed(125, fmt.Errorf("the container ended before it reported its start"))
	s.done()
}

// done counts a supervision ended; after the last, the supervisor exits,
// under the lock a front holds while it hands a container over.
func (s *shared) done() {
	s.mu.Lock()
	s.active--
	idle := s.active == 0
	s.mu.Unlock()
	if !idle {
		return
	}
	unlock, err := container.FlockPath(s.lock)
	if err != nil {
		return
	}
	s.mu.Lock()
	if s.active == 0 {
		os.Remove(s.sock)
		s.l.Close()
		s.exit()
	}
	s.mu.Unlock()
	unlock()
}
