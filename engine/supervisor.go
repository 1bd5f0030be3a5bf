package engine

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"

	"github.com/urun-dev/urun/container"
)

// SupervisorArg is the hidden command a detached container's supervisor
// runs: urun __supervise ID ARGS... (ARGS: urun's own arguments).
const SupervisorArg = "__supervise"

// supervisor is set in a supervisor process.
type supervisor struct {
	id string
	// status reports to the front (`run -d`, `start`) once: "ok" when the
	// process runs, else the error; closing it ends the front's wait.
	status *os.File
}

var supervised *supervisor

// Supervised returns the id of the container this process supervises,
// or "" outside a supervisor.
func Supervised() string {
	if supervised == nil {
		return ""
	}
	return supervised.id
}

// SuperviseMain is the supervisor's main: it runs the container exactly
// as `urun ARGS` would (main is urun's own main), detached, with its
// output going to the log.
func SuperviseMain(args []string, main func(args []string, stdout, stderr io.Writer) int) int {
	if len(args) < 1 {
		return container.ExitRuntime
	}
	supervised = &supervisor{id: args[0], status: os.NewFile(3, "status")}
	debug.SetGCPercent(25)
	var errBuf bytes.Buffer
	code := main(args[1:], io.Discard, &errBuf)
	if supervised.status != nil {
		// Failed before the process ran: the front prints the error.
		fmt.Fprintf(supervised.status, "err %d %s", code, strings.TrimSpace(errBuf.String()))
		supervised.status.Close()
	}
	return code
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

// spawnSupervisor starts a detached supervisor for container id running
// `urun args...`, and waits until it reports the process running.
func spawnSupervisor(id string, args []string) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding urun's own executable: %w", err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	cmd := exec.Command(exe, append([]string{SupervisorArg, id}, args...)...)
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

// runArgsFromCreate turns `urun [globals] create FLAGS IMAGE CMD` into the
// arguments of the equivalent detached run.
func runArgsFromCreate(args []string) []string {
	out := make([]string, 0, len(args)+1)
	done := false
	for _, a := range args {
		if !done && a == "create" {
			out = append(out, "run", "-d")
			done = true
			continue
		}
		out = append(out, a)
	}
	return out
}
