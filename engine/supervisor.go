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
	"syscall"
	"time"

	"github.com/urun-dev/urun/container"
)

// SupervisorArg is the hidden command a detached container's supervisor
// runs: urun __supervise RECORD (the container's record, engine/record.go).
const SupervisorArg = "__supervise"

// supervisor is set in a supervisor process.
type supervisor struct {
	// status reports to the front (`run -d`, `start`) once: "ok" when the
	// process runs, else the error; closing it ends the front's wait.
	status *os.File
}

var supervised *supervisor

// SuperviseMain is the supervisor's main: it runs the container of the
// record at args[0], detached, its output going to the log, and records
// how it ended.
func SuperviseMain(args []string) int {
	if len(args) != 1 {
		return container.ExitRuntime
	}
	supervised = &supervisor{status: os.NewFile(3, "status")}
	debug.SetGCPercent(25)
	err := supervise(args[0])
	code := container.ExitCode(err)
	if ce, ok := err.(*container.CodedError); err == nil || ok && ce.Err == nil {
		code = 0 // the container ran; its status is recorded
	}
	if supervised.status != nil && err != nil {
		// Failed before the process ran: the front prints the error.
		fmt.Fprintf(supervised.status, "err %d %s", code, strings.TrimSpace(err.Error()))
		supervised.status.Close()
	}
	return code
}

// supervise runs the container of the record at path, and again as its
// restart policy says, until it says no or the user stopped it.
func supervise(path string) error {
	rec, err := LoadRecord(path)
	if err != nil {
		return err
	}
	// A new supervisor is a start: a stop before it no longer holds.
	os.Remove(stoppedMarker(rec.ID))
	for restarts := 0; ; restarts++ {
		err = runRecord(rec, nil)
		if !rec.RestartPolicy.again(err, restarts) || stoppedByUser(rec.ID) {
			return err
		}
		time.Sleep(restartDelay(restarts))
		if stoppedByUser(rec.ID) {
			return err
		}
	}
}

// restartDelay is docker's: 100 ms, doubling, at most a minute.
func restartDelay(restarts int) time.Duration {
	d := 100 * time.Millisecond << min(restarts, 10)
	return min(d, time.Minute)
}

// reportStarted tells the front the container runs, and lets it go.
func reportStarted() {
	if supervised != nil && supervised.status != nil {
		fmt.Fprint(supervised.status, "ok")
		supervised.status.Close()
		supervised.status = nil
		// From here the supervisor only copies output and waits: give
		// back what start-up used (measured: docs/BENCHMARKS.md).
		debug.FreeOSMemory()
	}
}

// spawnSupervisor starts a detached supervisor for container id, which
// runs it from its record, and waits until it reports the process
// running.
func spawnSupervisor(id, record string) error {
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
	s := string(msg)
	if s == "ok" {
		cmd.Process.Release()
		return nil
	}
	cmd.Wait()
	if rest, ok := strings.CutPrefix(s, "err "); ok {
		codeStr, text, _ := strings.Cut(rest, " ")
		code, _ := strconv.Atoi(codeStr)
		text = strings.TrimPrefix(text, "urun: ")
		return &container.CodedError{Code: code, Err: errors.New(text)}
	}
	return fmt.Errorf("the supervisor of %s exited before the container started (%s)", id[:12], cmd.ProcessState)
}
