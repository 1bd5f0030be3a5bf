// Package integration runs the built urun as an unprivileged user against
// real images, real newuidmap/newgidmap and the real kernel. The harness
// (tests/harness/integration.sh) sets the host up and runs this suite as
// the test user; run as root, every test here skips with that reason.
package integration

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var (
	urunBin   = os.Getenv("URUN_BIN")
	imagesDir = os.Getenv("URUN_IMAGES")
)

func TestMain(m *testing.M) {
	idmapAttemptMain()
	if os.Getuid() == 0 || urunBin == "" || imagesDir == "" {
		fmt.Println("integration tests skipped: run them with `make integration`, which sets the host up and runs them as the unprivileged test user")
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// busybox and hard are the test images built by tests/mkimage.
func busybox() string { return "oci:" + filepath.Join(imagesDir, "busybox") }
func hard() string    { return "oci:" + filepath.Join(imagesDir, "hard") }

// result is one urun invocation.
type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// urun runs the urun binary with args and a 2-minute limit.
func urun(t *testing.T, args ...string) result {
	t.Helper()
	return urunEnv(t, nil, args...)
}

func urunEnv(t *testing.T, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(urunBin, withRm(args)...)
	cmd.Env = append(os.Environ(), env...)
	// Files, not pipes: a created container (OCI create, run -d) keeps
	// urun's stdio as its own, and a pipe would stay open until it exits.
	outF, err := os.CreateTemp(t.TempDir(), "stdout")
	if err != nil {
		t.Fatal(err)
	}
	errF, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	defer outF.Close()
	defer errF.Close()
	cmd.Stdout, cmd.Stderr = outF, errF
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting urun: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-time.After(2 * time.Minute):
		cmd.Process.Kill()
		<-done
		t.Fatalf("urun %v: no exit within 2 minutes", args)
	}
	out, _ := os.ReadFile(outF.Name())
	errb, _ := os.ReadFile(errF.Name())
	r := result{stdout: string(out), stderr: string(errb)}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("urun %v: %v", args, err)
	}
	return r
}

// withRm adds --rm to a foreground `run` that says nothing about it: the
// tests were written when that was the default (docker's and podman's is
// to keep the container, issue 23), and a test of keeping says so with
// --rm=false or -d.
func withRm(args []string) []string {
	// Global flags of the image face may come first (`--debug run …`);
	// --root selects the OCI face, which has no --rm.
	i := 0
	for i < len(args) && (args[i] == "--debug" || args[i] == "--data-dir" || strings.HasPrefix(args[i], "--data-dir=")) {
		if args[i] == "--data-dir" {
			i++
		}
		i++
	}
	if i >= len(args) || args[i] != "run" {
		return args
	}
	for _, a := range args[i+1:] {
		if a == "--rm" || strings.HasPrefix(a, "--rm=") || a == "-d" || a == "--detach" || a == "--bundle" || a == "-b" || a == "--dry-run" {
			return args
		}
	}
	out := append([]string{}, args[:i+1]...)
	out = append(out, "--rm")
	return append(out, args[i+1:]...)
}

// mustRun runs urun and requires exit 0.
func mustRun(t *testing.T, args ...string) result {
	t.Helper()
	r := urun(t, args...)
	if r.code != 0 {
		t.Fatalf("urun %s: %s", strings.Join(args, " "), r)
	}
	return r
}

// myProcesses lists the pids and commands of this user's processes,
// except this test process and its children's transient helpers.
func myProcesses(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	self := fmt.Sprint(os.Getpid())
	for _, e := range ents {
		pid := e.Name()
		if pid[0] < '0' || pid[0] > '9' || pid == self {
			continue
		}
		var st struct {
			uid   int
			state string
		}
		b, err := os.ReadFile("/proc/" + pid + "/status")
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(b), "\n") {
			if f := strings.Fields(l); len(f) > 1 && f[0] == "Uid:" {
				fmt.Sscan(f[1], &st.uid)
			} else if len(f) > 1 && f[0] == "State:" {
				st.state = f[1]
			}
		}
		// A zombie has ended; whether it lingers is up to the reaper the
		// host gives orphans (pid 1 here), not urun.
		if st.uid != os.Getuid() || st.state == "Z" {
			continue
		}
		cmdline, _ := os.ReadFile("/proc/" + pid + "/cmdline")
		out[pid] = strings.ReplaceAll(string(cmdline), "\x00", " ")
	}
	return out
}

// checkNoLeftovers fails when processes of this user appeared since before.
func checkNoLeftovers(t *testing.T, before map[string]string) {
	t.Helper()
	// Reaping by the kernel can trail the parent's exit by a moment.
	deadline := time.Now().Add(3 * time.Second)
	for {
		var extra []string
		for pid, cmd := range myProcesses(t) {
			if _, ok := before[pid]; !ok {
				extra = append(extra, pid+": "+cmd)
			}
		}
		if len(extra) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("processes left behind: %v", extra)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func lines(s string) []string { return strings.Split(strings.TrimRight(s, "\n"), "\n") }

// readUntil reads a pty master until marker appears, it ends, or timeout
// passes without a read, and returns what it read.
func readUntil(f *os.File, marker string, timeout time.Duration) (string, error) {
	var sb strings.Builder
	buf := make([]byte, 256)
	for !strings.Contains(sb.String(), marker) {
		f.SetReadDeadline(time.Now().Add(timeout))
		n, err := f.Read(buf)
		sb.Write(buf[:n])
		if err != nil {
			return sb.String(), err
		}
	}
	return sb.String(), nil
}

// startReady starts urun with args and waits until the container prints
// "ready" on stdout; the rest of stdout stays readable from out.
func startReady(t *testing.T, args ...string) (*exec.Cmd, io.Reader) {
	t.Helper()
	cmd := exec.Command(urunBin, withRm(args)...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	if n, _ := out.Read(buf); !strings.Contains(string(buf[:n]), "ready") {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("container did not start: %q", buf[:n])
	}
	return cmd, out
}
