package engine

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/urun-dev/urun/container"
)

// SupervisorArg is the hidden command a detached container's supervisor
// runs: urun __supervise RECORD (the container's record, engine/record.go),
// or urun __supervise --serve SOCKET (the shared supervisor, shared.go).
const SupervisorArg = "__supervise"

// reporter tells the front (`run -d`, `start`) once how the start went:
// "ok" when the process runs, else "err CODE TEXT"; closing it ends the
// front's wait.
type reporter struct {
	mu sync.Mutex
	w  io.WriteCloser
	// shared: this supervisor serves other containers too.
	shared bool
}

// started reports the container running, and lets the front go.
func (r *reporter) started() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.w == nil {
		return
	}
	fmt.Fprint(r.w, "ok")
	r.w.Close()
	r.w = nil
	// From here the supervisor only copies output and waits: give
	// back what start-up used (measured: docs/BENCHMARKS.md).
	go settleSupervisor()
}

// settleSupervisor gives back the heap and the text pages a start or a
// health check touched: a supervisor mostly waits.
func settleSupervisor() {
	debug.FreeOSMemory()
	dropText()
}

// failed reports an error before the process ran (the front prints it).
func (r *reporter) failed(code int, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.w == nil {
		return
	}
	fmt.Fprintf(r.w, "err %d %s", code, strings.TrimSpace(err.Error()))
	r.w.Close()
	r.w = nil
}

// SuperviseMain is the supervisor's main: it runs the container of the
// record at args[0], detached, its output going to the log, and records
// how it ended; with --serve SOCKET it is the shared supervisor.
func SuperviseMain(args []string) int {
	debug.SetGCPercent(25)
	if len(args) == 2 && args[0] == serveFlag {
		return serveShared(args[1])
	}
	if len(args) != 1 {
		return container.ExitRuntime
	}
	return superviseReporting(args[0], &reporter{w: os.NewFile(3, "status")})
}

// superviseReporting runs one container's supervision, reporting a
// failure to start to rep, and returns the supervisor's exit code.
func superviseReporting(path string, rep *reporter) int {
	err := supervise(path, rep)
	code := container.ExitCode(err)
	if ce, ok := err.(*container.CodedError); err == nil || ok && ce.Err == nil {
		code = 0 // the container ran; its status is recorded
	}
	if err != nil {
		rep.failed(code, err)
	}
	return code
}

// supervise runs the container of the record at path, and again as its
// restart policy says, until it says no or the user stopped it.
// The record is read again for each run, and only its policy and id
// are kept across one: a shared supervisor holds no second copy of
// every container's spec (~30 KiB each with the seccomp profile).
func supervise(path string, rep *reporter) error {
	rec, err := LoadRecord(path)
	if err != nil {
		return err
	}
	id, root, policy := rec.ID, rec.Root, rec.RestartPolicy
	// A new supervisor is a start: a stop before it no longer holds.
	os.Remove(stoppedMarker(id))
	for restarts := 0; ; restarts++ {
		if restarts > 0 {
			if rec, err = LoadRecord(path); err != nil {
				return err
			}
		}
		err = runRecord(rec, nil, rep)
		rec = nil
		// --health-on-failure=restart starts it again whatever the policy.
		again := takeHealthRestart(root, id) || policy.again(err, restarts)
		if !again || stoppedByUser(id) {
			return err
		}
		time.Sleep(restartDelay(restarts))
		if stoppedByUser(id) {
			return err
		}
	}
}

// restartDelay is docker's: 100 ms, doubling, at most a minute.
func restartDelay(restarts int) time.Duration {
	d := 100 * time.Millisecond << min(restarts, 10)
	return min(d, time.Minute)
}

// spawnSupervisor hands container id to a supervisor, which runs it from
// its record, and waits until it reports the process running: the
// user's shared supervisor where it can serve it (shared.go), else one
// of the container's own.
func spawnSupervisor(id, record string) error {
	if handled, err := handToShared(id, record); handled {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding urun's own executable: %w", err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	cmd := exec.Command(exe, SupervisorArg, record)
	cmd.ExtraFiles = []*os.File{w}
	// Its own session, no terminal, nothing of ours: it outlives us.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		w.Close()
		return fmt.Errorf("starting the supervisor: %w", err)
	}
	w.Close()
	msg, _ := io.ReadAll(r)
	if string(msg) == "ok" {
		cmd.Process.Release()
		return nil
	}
	cmd.Wait()
	if err := parseReport(msg); err != nil {
		return err
	}
	return fmt.Errorf("the supervisor of %s exited before the container started (%s)", id[:12], cmd.ProcessState)
}

// parseReport turns a supervisor's "err CODE TEXT" into its error; nil
// for anything else.
func parseReport(msg []byte) error {
	rest, ok := strings.CutPrefix(string(msg), "err ")
	if !ok {
		return nil
	}
	codeStr, text, _ := strings.Cut(rest, " ")
	code, _ := strconv.Atoi(codeStr)
	text = strings.TrimPrefix(text, "urun: ")
	return &container.CodedError{Code: code, Err: errors.New(text)}
}
