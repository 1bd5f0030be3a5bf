package engine

// Health checks: the process that runs a container (its supervisor, or
// the foreground urun) runs its check every interval by exec'ing the
// command inside it, as `urun exec` does (container.Exec), with the
// check's timeout; `urun healthcheck run` runs it once from the CLI.
// Each result goes into the container's state (state.json, under its
// lock) by docker's rules (container.Health.Record), where inspect and
// ps read it. When the container turns unhealthy, --health-on-failure
// acts: kill, stop, or restart (the supervisor starts it again).
//
// docker runs the checks in its daemon, podman from a systemd timer per
// container (`podman healthcheck run`); urun's supervisor is already
// there for every detached container, so the checks need no timer
// service, and a foreground `urun run` runs them too.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/urun-dev/urun/container"
)

// HealthExec is what a check's exec needs of the host: urun-init and
// the compiled seccomp programs' directory.
type HealthExec struct {
	InitPath, SeccompCache string
}

// healthRestartFile, in the container's state directory, asks the
// process that runs the container to start it again once it has ended
// (--health-on-failure=restart).
const healthRestartFile = "health-restart"

// ErrNoHealthcheck: the container has no health check.
var ErrNoHealthcheck = errors.New("has no health check")

// HealthcheckRun runs container ref's health check once now and records
// the result (`urun healthcheck run`); passed is this check's outcome.
// When the result turns the container unhealthy, --health-on-failure
// acts as after a periodic check.
func HealthcheckRun(root, ref string, env HealthExec) (passed bool, err error) {
	id, st, err := Find(root, ref)
	if err != nil {
		return false, err
	}
	if st.Healthcheck == nil {
		return false, fmt.Errorf("container %s %w: give --health-cmd to run or create (or use an image with a HEALTHCHECK)", ref, ErrNoHealthcheck)
	}
	if st.Status != specs.StateRunning || st.Pid <= 0 {
		return false, fmt.Errorf("container %s is not running: a health check runs inside a running container (start it first)", ref)
	}
	res, turned, err := checkHealth(root, id, st, env)
	if err != nil {
		return false, err
	}
	if turned {
		onUnhealthy(root, id, st, false)
	}
	return res.ExitCode == 0, nil
}

// checkHealth runs st's check once and records it; turned says the
// result made the container unhealthy. A result that arrives after the
// container stopped or started again is dropped.
func checkHealth(root, id string, st *container.State, env HealthExec) (container.HealthResult, bool, error) {
	hc := st.Healthcheck
	res := execHealth(root, id, hc, env)
	turned := false
	err := updateState(root, id, func(now *container.State) {
		if now.Status != specs.StateRunning || now.Pid != st.Pid || now.InitStart != st.InitStart || now.Healthcheck == nil ||
			!container.ProcessAlive(now.Pid, now.InitStart) {
			return // a check that failed because the container was ending
		}
		if now.Health == nil {
			now.Health = &container.Health{Status: container.HealthStarting}
		}
		turned = now.Health.Record(res, now.Healthcheck, now.StartedAt)
	})
	return res, turned, err
}

// execHealth runs the check's command in the container and returns its
// result: the exit status and docker's share of the output; -1 when it
// timed out or could not run.
func execHealth(root, id string, hc *container.HealthConfig, env HealthExec) container.HealthResult {
	res := container.HealthResult{Start: time.Now().UTC(), ExitCode: -1}
	fail := func(err error) container.HealthResult {
		res.End = time.Now().UTC()
		res.Output = err.Error()
		return res
	}
	spec, err := container.LoadSpec(container.Dir(root, id))
	if err != nil {
		return fail(err)
	}
	p := spec.Process
	p.Args = hc.Command()
	p.Terminal, p.ConsoleSize = false, nil
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return fail(err)
	}
	defer devnull.Close()
	r, w, err := os.Pipe()
	if err != nil {
		return fail(err)
	}
	defer r.Close()
	out := make(chan []byte, 1)
	go func() { out <- readLimited(r, container.HealthOutputMax+1) }()
	status, err := container.Exec(container.ExecConfig{
		Root: root, ID: id, Process: p, InitPath: env.InitPath, SeccompCache: env.SeccompCache,
		Stdin: devnull, Stdout: w, Stderr: w, Timeout: hc.Timeout,
	})
	w.Close()
	res.End = time.Now().UTC()
	// A process the check left behind may hold the pipe open: what came
	// until a moment after the exit is the output.
	r.SetReadDeadline(time.Now().Add(time.Second))
	output := <-out
	switch {
	case errors.Is(err, container.ErrExecTimeout):
		res.Output = fmt.Sprintf("Health check exceeded timeout (%s)", hc.Timeout)
	case err != nil:
		res.Output = err.Error()
	default:
		res.ExitCode = status
		res.Output = container.TruncateHealthOutput(output)
	}
	return res
}

// readLimited reads r to its end (or an error), keeping the first max
// bytes.
func readLimited(r io.Reader, max int) []byte {
	var b bytes.Buffer
	buf := make([]byte, 4096)
	for {
		n, err := r.Read(buf)
		if keep := min(n, max-b.Len()); keep > 0 {
			b.Write(buf[:keep])
		}
		if err != nil {
			return b.Bytes()
		}
	}
}

// healthMonitor runs one container's periodic checks while it runs.
type healthMonitor struct {
	stop, done chan struct{}
}

// startHealthMonitor checks container id (its init pid, started at
// initStart) every interval of hc, from the end of one check to the
// start of the next, as docker; nil when hc runs no periodic check.
// settle, when set, runs after each check (a supervisor gives back the
// memory and text pages the check used, as after a start).
func startHealthMonitor(root, id string, hc *container.HealthConfig, env HealthExec, settle func()) *healthMonitor {
	if hc == nil || hc.Interval <= 0 {
		return nil
	}
	m := &healthMonitor{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(m.done)
		t := time.NewTimer(hc.Interval)
		defer t.Stop()
		for {
			select {
			case <-m.stop:
				return
			case <-t.C:
			}
			st, err := container.Load(root, id)
			if err == nil && st.Status == container.StatusPaused {
				// Frozen (urun pause): an exec would hang; check again
				// once it may run.
				t.Reset(hc.Interval)
				continue
			}
			if err != nil || st.Status != specs.StateRunning || st.Healthcheck == nil {
				return
			}
			if _, turned, err := checkHealth(root, id, st, env); err == nil && turned {
				onUnhealthy(root, id, st, true)
			}
			if settle != nil {
				settle()
			}
			t.Reset(hc.Interval)
		}
	}()
	return m
}

// end stops the checks and waits for one under way (it ends with the
// container, whose pid namespace held it, or at its timeout).
func (m *healthMonitor) end() {
	if m == nil {
		return
	}
	close(m.stop)
	<-m.done
}

// onUnhealthy does what --health-on-failure says now that st turned
// unhealthy: kill (SIGKILL; the restart policy applies as to any
// exit), stop (as `urun stop`: not restarted), restart (stopped, then
// started again by the process that runs it). With background (the
// monitor, in the process that records the exit) stop and restart wait
// for the init in a goroutine of their own.
func onUnhealthy(root, id string, st *container.State, background bool) {
	stop := func(waitRecorded bool) {
		if background {
			go stopInit(st, -1)
			return
		}
		stopInit(st, -1)
		if waitRecorded {
			WaitRecorded(root, id)
		}
	}
	switch st.Healthcheck.OnFailure {
	case container.HealthActionKill:
		container.KillProcess(st.Pid, st.InitStart, unix.SIGKILL)
	case container.HealthActionStop:
		if st.Record != "" {
			markStopped(id)
		}
		stop(true)
	case container.HealthActionRestart:
		os.WriteFile(filepath.Join(container.Dir(root, id), healthRestartFile), nil, 0o600)
		stop(false)
	}
}

// takeHealthRestart says whether --health-on-failure=restart stopped
// container id (and forgets it).
func takeHealthRestart(root, id string) bool {
	return os.Remove(filepath.Join(container.Dir(root, id), healthRestartFile)) == nil
}
