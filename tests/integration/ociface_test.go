package integration

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// runIn runs prog (urun, or a link to it) in dir and returns its result.
func runIn(t *testing.T, prog, dir string, args ...string) result {
	t.Helper()
	cmd := exec.Command(prog, args...)
	cmd.Dir = dir
	// Files, not pipes: a created container keeps urun's stdio.
	outF, err := os.CreateTemp(t.TempDir(), "stdout")
	if err != nil {
		t.Fatal(err)
	}
	defer outF.Close()
	errF, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	defer errF.Close()
	cmd.Stdout, cmd.Stderr = outF, errF
	err = cmd.Run()
	out, _ := os.ReadFile(outF.Name())
	errb, _ := os.ReadFile(errF.Name())
	r := result{stdout: string(out), stderr: string(errb)}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s %v: %v", prog, args, err)
	}
	return r
}

// The face rule: with --root, `run ID` and `create ID` take the current
// directory as the bundle (never an image name sent to a registry); so
// does urun called as runc; an image flag there is refused in one line.
func TestOCIFaceRule(t *testing.T) {
	before := myProcesses(t)
	b := bundle(t, false, "sh", "-c", "echo from-cwd-bundle")
	root := t.TempDir()
	if r := runIn(t, urunBin, b, "--root", root, "run", "face1"); r.code != 0 || r.stdout != "from-cwd-bundle\n" {
		t.Errorf("--root run ID in the bundle: %s", r)
	}
	link := filepath.Join(t.TempDir(), "runc")
	if err := os.Symlink(urunBin, link); err != nil {
		t.Fatal(err)
	}
	// No --root: the name runc alone selects the face (state in the
	// default root).
	if r := runIn(t, link, b, "run", "face2"); r.code != 0 || r.stdout != "from-cwd-bundle\n" {
		t.Errorf("runc run ID through a link: %s", r)
	}
	if r := runIn(t, urunBin, b, "--root", root, "create", "face3"); r.code != 0 {
		t.Errorf("--root create ID in the bundle: %s", r)
	}
	if st := stateOf(t, root, "face3"); st["status"] != "created" {
		t.Errorf("create from the cwd: %v", st)
	}
	mustRun(t, "--root", root, "delete", "--force", "face3")
	// An id in a directory without config.json: the bundle is missing,
	// nothing is pulled.
	r := runIn(t, urunBin, t.TempDir(), "--root", root, "run", "busybox")
	if r.code != 1 || !strings.Contains(r.stderr, "config.json") || strings.Contains(r.stderr, "docker.io") || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("--root run ID without a bundle: %s", r)
	}
	r = runIn(t, urunBin, b, "--root", root, "run", "--name", "x", "face4")
	if r.code != 1 || !strings.Contains(r.stderr, "--name") || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("an image flag in the OCI face: %s", r)
	}
	if ids := strings.TrimSpace(mustRun(t, "--root", root, "list", "-q").stdout); ids != "" {
		t.Errorf("containers left: %q", ids)
	}
	checkNoLeftovers(t, before)
}

// A foreground `run --bundle` is in the state root while it runs (state,
// list and kill see it) and writes --pid-file; it is gone afterwards.
func TestOCIForegroundRunRegistered(t *testing.T) {
	before := myProcesses(t)
	b := bundle(t, false, "sleep", "60")
	root := t.TempDir()
	pidFile := filepath.Join(t.TempDir(), "pid")
	cmd := exec.Command(urunBin, "--root", root, "run", "--bundle", b, "--pid-file", pidFile, "fg")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	waitFor(t, func() bool {
		r := urun(t, "--root", root, "state", "fg")
		return r.code == 0 && strings.Contains(r.stdout, `"running"`)
	})
	st := stateOf(t, root, "fg")
	pb, err := os.ReadFile(pidFile)
	if err != nil || strconv.Itoa(int(st["pid"].(float64))) != string(pb) {
		t.Errorf("pid file %q (%v), state %v", pb, err, st)
	}
	if ids := strings.TrimSpace(mustRun(t, "--root", root, "list", "-q").stdout); ids != "fg" {
		t.Errorf("list while it runs: %q", ids)
	}
	mustRun(t, "--root", root, "kill", "fg", "KILL")
	select {
	case err := <-done:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 128+int(syscall.SIGKILL) {
			t.Errorf("run's exit after kill: %v", err)
		}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatal("run did not return after kill")
	}
	if r := urun(t, "--root", root, "state", "fg"); r.code == 0 || !strings.Contains(r.stderr, "container does not exist") {
		t.Errorf("state after the run: %s", r)
	}
	checkNoLeftovers(t, before)
}

// kill as runc 1.1.5: signal 0 checks a running container; a stopped
// one's init is "container not running", but kill --all succeeds; a
// missing one is "container does not exist".
func TestOCIKillSemantics(t *testing.T) {
	before := myProcesses(t)
	b := bundle(t, false, "sleep", "60")
	root := t.TempDir()
	mustRun(t, "--root", root, "run", "-d", "--bundle", b, "k1")
	mustRun(t, "--root", root, "kill", "k1", "0")
	mustRun(t, "--root", root, "kill", "k1", "KILL")
	waitFor(t, func() bool { return stateOf(t, root, "k1")["status"] == "stopped" })
	if r := urun(t, "--root", root, "kill", "k1", "KILL"); r.code == 0 || !strings.Contains(r.stderr, "container not running") {
		t.Errorf("kill of a stopped container: %s", r)
	}
	mustRun(t, "--root", root, "kill", "--all", "k1", "0")
	mustRun(t, "--root", root, "kill", "-a", "k1", "KILL")
	mustRun(t, "--root", root, "delete", "k1")
	if r := urun(t, "--root", root, "kill", "k1"); r.code == 0 || !strings.Contains(r.stderr, "container does not exist") {
		t.Errorf("kill of a deleted container: %s", r)
	}
	if r := urun(t, "--root", root, "delete", "k1"); r.code == 0 || !strings.Contains(r.stderr, "container does not exist") {
		t.Errorf("delete of a deleted container: %s", r)
	}
	checkNoLeftovers(t, before)
}

// exec joins a created container, before its process runs (as runc).
func TestOCIExecCreated(t *testing.T) {
	before := myProcesses(t)
	b := bundle(t, false, "sleep", "60")
	root := t.TempDir()
	mustRun(t, "--root", root, "create", "--bundle", b, "ec")
	if r := mustRun(t, "--root", root, "exec", "ec", "sh", "-c", "echo in-created"); r.stdout != "in-created\n" {
		t.Errorf("exec into a created container: %s", r)
	}
	if st := stateOf(t, root, "ec"); st["status"] != "created" {
		t.Errorf("after the exec: %v", st)
	}
	mustRun(t, "--root", root, "delete", "--force", "ec")
	checkNoLeftovers(t, before)
}

// --preserve-fds N passes descriptors 3… to the process, on run and exec.
func TestOCIPreserveFDs(t *testing.T) {
	before := myProcesses(t)
	b := bundle(t, false, "sh", "-c", "cat <&3; cat <&4")
	root := t.TempDir()
	open := func(text string) *os.File {
		p := filepath.Join(t.TempDir(), "f")
		os.WriteFile(p, []byte(text), 0o644)
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	cmd := exec.Command(urunBin, "--root", root, "run", "--bundle", b, "--preserve-fds", "2", "pf")
	cmd.ExtraFiles = []*os.File{open("three\n"), open("four\n")}
	out, err := cmd.CombinedOutput()
	if err != nil || string(out) != "three\nfour\n" {
		t.Errorf("run --preserve-fds 2: %v: %q", err, out)
	}
	b2 := bundle(t, false, "sleep", "60")
	mustRun(t, "--root", root, "run", "-d", "--bundle", b2, "pf2")
	// The shell's own descriptors: ls's directory handle is not among
	// them, nor a pipe (ls writes to a file its own child opens).
	cmd = exec.Command(urunBin, "--root", root, "exec", "--preserve-fds", "1", "pf2", "sh", "-c", "cat <&3; ls /proc/$$/fd >/tmp/fds; echo $(cat /tmp/fds)")
	cmd.ExtraFiles = []*os.File{open("exec-three\n"), open("not-passed\n")}
	out, err = cmd.CombinedOutput()
	// (busybox sh keeps a copy of its stdout at 10 around the redirect.)
	fds := func(out []byte) []string {
		lines := strings.SplitN(string(out), "\n", 3)
		return strings.Fields(lines[len(lines)-2])
	}
	if err != nil || !strings.HasPrefix(string(out), "exec-three\n") || !slices.Contains(fds(out), "3") || slices.Contains(fds(out), "4") {
		t.Errorf("exec --preserve-fds 1: %v: %q", err, out)
	}
	// Without the flag nothing beyond stdio reaches the process.
	cmd = exec.Command(urunBin, "--root", root, "exec", "pf2", "sh", "-c", "ls /proc/$$/fd >/tmp/fds; echo $(cat /tmp/fds)")
	cmd.ExtraFiles = []*os.File{open("x")}
	out, err = cmd.CombinedOutput()
	if err != nil || slices.Contains(fds(out), "3") {
		t.Errorf("exec without --preserve-fds: %v: %q", err, out)
	}
	mustRun(t, "--root", root, "delete", "--force", "pf2")
	checkNoLeftovers(t, before)
}

// state and list --format json carry runc's fields: ociVersion, rootfs,
// and an owner given by name.
func TestOCIStateListJSON(t *testing.T) {
	before := myProcesses(t)
	b := bundle(t, false, "sleep", "60")
	root := t.TempDir()
	mustRun(t, "--root", root, "create", "--bundle", b, "lj")
	var list []map[string]any
	r := mustRun(t, "--root", root, "list", "--format", "json")
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil || len(list) != 1 {
		t.Fatalf("list json: %v: %s", err, r.stdout)
	}
	me, _ := user.Current()
	e := list[0]
	if e["ociVersion"] == nil || e["ociVersion"] == "" || e["rootfs"] != filepath.Join(b, "rootfs") || e["owner"] != me.Username ||
		e["id"] != "lj" || e["status"] != "created" || e["bundle"] != b {
		t.Errorf("list entry: %v", e)
	}
	st := stateOf(t, root, "lj")
	if st["ociVersion"] == nil || st["rootfs"] != filepath.Join(b, "rootfs") || st["created"] == nil {
		t.Errorf("state: %v", st)
	}
	mustRun(t, "--root", root, "delete", "--force", "lj")
	checkNoLeftovers(t, before)
}

// The OCI face exits as runc: 1 when a command fails, 255 when exec
// fails (runc's tests and clients check these), the process's own
// status otherwise.
func TestOCIExitCodes(t *testing.T) {
	before := myProcesses(t)
	b := bundle(t, false, "sleep", "60")
	root := t.TempDir()
	mustRun(t, "--root", root, "run", "-d", "--bundle", b, "x1")
	if r := urun(t, "--root", root, "exec", "x1", "sh", "-c", "exit 42"); r.code != 42 {
		t.Errorf("exec's own status: %s", r)
	}
	if r := urun(t, "--root", root, "exec", "--pid-file", "/non-existent/directory", "x1", "true"); r.code != 255 || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("a failing exec: %s", r)
	}
	if r := urun(t, "--root", root, "start", "x1"); r.code != 1 || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("start of a running container: %s", r)
	}
	mustRun(t, "--root", root, "delete", "--force", "x1")
	checkNoLeftovers(t, before)
}

// The OCI face takes the caller's container id, and the state root holds
// urun's own entries beside the containers: an id that names one of them
// is refused before anything is made (a container created as "names"
// once put its exec FIFO where the name sweep reads, and every later
// command blocked on it). A non-file left among the name reservations is
// skipped, not opened.
func TestOCIReservedIDs(t *testing.T) {
	root := t.TempDir()
	b := bundle(t, false, "true")
	for _, id := range []string{"names", "supervisors", "events", "events.jsonl", "events.jsonl.1", "names.lock", "x.lock"} {
		r := urun(t, "--root", root, "create", "--bundle", b, id)
		if r.code == 0 || !strings.Contains(r.stderr, "taken by urun's own files") || len(lines(r.stderr)) != 1 {
			t.Errorf("create %s: want a one-line refusal, got %s", id, r)
			urun(t, "--root", root, "delete", "-f", id)
		}
	}
	if ents, _ := os.ReadDir(root); len(ents) != 0 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("refused creates left %v in the state root", names)
	}
	// A FIFO where a name reservation would be.
	if err := os.Mkdir(filepath.Join(root, "names"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mkfifo(filepath.Join(root, "names", "stale"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, urunBin, "--root", root, "list").CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("urun list blocked on a FIFO among the name reservations")
	}
	if err != nil {
		t.Errorf("urun list with a FIFO among the name reservations: %v\n%s", err, out)
	}
	mustRun(t, "--root", root, "run", "--bundle", b, "ok-after")
}
