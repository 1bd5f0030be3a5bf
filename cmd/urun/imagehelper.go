package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"

	"golang.org/x/term"

	"github.com/urun-dev/urun/engine"
)

// imageHelper runs urun-image (pull, load, save: the code that links
// go.podman.io/image/v5) on the store in dataDir. Its stderr is ours: the
// progress and, on failure, its one-line error, after which urun exits
// with the helper's status silently. It returns the helper's output.
func imageHelper(args ...string) (string, error) {
	return imageHelperIn(nil, args...)
}

// imageHelperIn is imageHelper with stdin (a password) for the helper.
func imageHelperIn(stdin io.Reader, args ...string) (string, error) {
	bin, err := engine.ImageHelper()
	if err != nil {
		return "", err
	}
	data, err := engine.DataDir()
	if err != nil {
		return "", err
	}
	rest := args[1:]
	if stdin == nil && args[0] == "pull" && term.IsTerminal(int(os.Stdin.Fd())) && term.IsTerminal(int(os.Stdout.Fd())) {
		// On a terminal, an ambiguous short name is asked about, as
		// podman asks (enforcing mode).
		stdin, rest = os.Stdin, append([]string{"--prompt"}, rest...)
	}
	cmd := exec.Command(bin, append([]string{args[0], "--store", data}, rest...)...)
	var out bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, &out, os.Stderr
	// A killed urun must not leave a pull running: the store lock and the
	// tmp directory are the helper's while it lives.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	// Pdeathsig follows the thread that started the child: keep it.
	runtime.LockOSThread()
	err = cmd.Run()
	runtime.UnlockOSThread()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() > 0 {
		return "", exitStatus(ee.ExitCode())
	}
	if ee != nil {
		// Killed (the OOM killer, a kill -9): its store lock went with
		// it, and a pull resumes where it stopped. Not the ExitError
		// itself: its ExitCode is -1, which would become urun's 255.
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return "", fmt.Errorf("%s %s was killed by signal %d (%s): run 'urun %s' again", filepath.Base(bin), args[0], ws.Signal(), ws.Signal(), args[0])
		}
	}
	if err != nil {
		return "", fmt.Errorf("running %s: %v", bin, err)
	}
	return strings.TrimSpace(out.String()), nil
}

// pullFlags are the helper arguments for --tls-verify and -q.
func pullFlags(tlsVerify, quiet bool) []string {
	a := []string{fmt.Sprintf("--tls-verify=%t", tlsVerify)}
	if quiet {
		a = append(a, "-q")
	}
	return a
}
