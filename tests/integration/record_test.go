package integration

// The container record (engine/record.go): created containers start
// from what create resolved, wherever start runs, whatever the image's
// name points at by then, and after a reboot.

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// urunIn runs urun with its working directory dir.
func urunIn(t *testing.T, dir string, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(urunBin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	outF, errF := filepath.Join(t.TempDir(), "out"), filepath.Join(t.TempDir(), "err")
	o, err := os.Create(outF)
	if err != nil {
		t.Fatal(err)
	}
	e, err := os.Create(errF)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = o, e
	runErr := cmd.Run()
	o.Close()
	e.Close()
	out, _ := os.ReadFile(outF)
	errb, _ := os.ReadFile(errF)
	r := result{stdout: string(out), stderr: string(errb)}
	if ee, ok := runErr.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if runErr != nil {
		t.Fatalf("urun %v: %v", args, runErr)
	}
	return r
}

// A container created with relative paths on its command line (an OCI
// layout, an env file) starts from another directory: create resolved
// them, start does not read them again.
func TestCreateRelativeStartElsewhere(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	if err := os.Symlink(filepath.Join(imagesDir, "busybox"), filepath.Join(a, "img")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(a, "vars.env"), []byte("FROM_FILE=created-in-a\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	name := uniqueName(t, "rel")
	r := urunIn(t, a, nil, "create", "--name", name, "--env-file", "vars.env", "oci:img", "sh", "-c", "echo $FROM_FILE")
	if r.code != 0 {
		t.Fatalf("create with relative paths: %s", r)
	}
	t.Cleanup(func() { urun(t, "rm", "-f", name) })
	// The relative paths mean nothing from b, and the originals go.
	os.Remove(filepath.Join(a, "vars.env"))
	os.Remove(filepath.Join(a, "img"))
	if r := urunIn(t, b, nil, "start", name); r.code != 0 {
		t.Fatalf("start from another directory: %s", r)
	}
	if r := urunIn(t, b, nil, "wait", name); r.code != 0 || strings.TrimSpace(r.stdout) != "0" {
		t.Fatalf("wait: %s", r)
	}
	if out := urun(t, "logs", name).stdout; strings.TrimSpace(out) != "created-in-a" {
		t.Errorf("the container's output: %q, want the env file's value", out)
	}
	// And again (restart works from the record too).
	if r := urunIn(t, b, nil, "start", name); r.code != 0 {
		t.Fatalf("second start: %s", r)
	}
	urun(t, "wait", name)
	if out := urun(t, "logs", name).stdout; strings.Count(out, "created-in-a") != 2 {
		t.Errorf("the output after two starts: %q", out)
	}
}

// A tag moved between create and start does not change what the
// container runs: create resolved the image.
func TestTagMovedBetweenCreateAndStart(t *testing.T) {
	env := storeEnv(t)
	mustRunEnv(t, env, "pull", "-q", busybox())
	mustRunEnv(t, env, "pull", "-q", hard())
	mustRunEnv(t, env, "tag", "localhost/busybox:latest", "localhost/moving:1")
	name := uniqueName(t, "moved")
	// The hard image has /data, busybox has not.
	mustRunEnv(t, env, "create", "--name", name, "localhost/moving:1", "sh", "-c", "if test -d /data; then echo hard; else echo busybox; fi")
	t.Cleanup(func() { urunEnv(t, env, "rm", "-f", name) })
	mustRunEnv(t, env, "tag", "localhost/hard:latest", "localhost/moving:1")
	if r := mustRunEnv(t, env, "run", "--rm", "--entrypoint", "sh", "localhost/moving:1", "-c", "test -d /data && echo hard"); strings.TrimSpace(r.stdout) != "hard" {
		t.Fatalf("the tag did not move: %s", r)
	}
	mustRunEnv(t, env, "start", name)
	mustRunEnv(t, env, "wait", name)
	if out := urunEnv(t, env, "logs", name).stdout; strings.TrimSpace(out) != "busybox" {
		t.Errorf("the created container ran %q, want the image it was created from (busybox)", out)
	}
	mustRunEnv(t, env, "rm", name)
}

// 20 detached containers through a simulated reboot: every process
// gone, the runtime directory emptied, the data directory kept. ps -a
// lists them all, exited; start runs them again.
func TestRebootKeepsContainers(t *testing.T) {
	before := myProcesses(t)
	// The runtime directory a reboot empties: XDG_RUNTIME_DIR/urun.
	xdg := t.TempDir()
	if err := os.Chmod(xdg, 0o700); err != nil {
		t.Fatal(err)
	}
	env := []string{"XDG_RUNTIME_DIR=" + xdg}
	root := filepath.Join(xdg, "urun")
	const n = 20
	names := make([]string, n)
	ids := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("%s-%d", uniqueName(t, "boot"), i)
		r := urunEnv(t, env, "run", "-d", "--network", "none", "--name", names[i], busybox(), "sleep", "1000")
		if r.code != 0 {
			t.Fatalf("run -d %d: %s", i, r)
		}
		ids[i] = strings.TrimSpace(r.stdout)
	}
	t.Cleanup(func() {
		for _, name := range names {
			urunEnv(t, env, "rm", "-f", name)
		}
	})
	// The reboot: supervisors and inits die at once, then the runtime
	// directory (a tmpfs) is empty.
	var pids []int
	for _, id := range ids {
		b, err := os.ReadFile(filepath.Join(root, id, "state.json"))
		if err != nil {
			t.Fatal(err)
		}
		var st struct {
			Pid        int `json:"pid"`
			Supervisor int `json:"supervisor"`
		}
		if err := json.Unmarshal(b, &st); err != nil {
			t.Fatal(err)
		}
		if st.Pid <= 0 || st.Supervisor <= 0 {
			t.Fatalf("state of %s: %s", id, b)
		}
		pids = append(pids, st.Supervisor, st.Pid)
	}
	for _, p := range pids {
		syscall.Kill(p, syscall.SIGKILL)
	}
	for _, p := range pids {
		for deadline := time.Now().Add(10 * time.Second); syscall.Kill(p, 0) == nil && time.Now().Before(deadline); {
			time.Sleep(20 * time.Millisecond)
		}
	}
	if err := os.RemoveAll(root); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(root, 0o700); err != nil {
		t.Fatal(err)
	}
	r := urunEnv(t, env, "ps", "-a", "--format", "json")
	var list []psJSON
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil {
		t.Fatalf("ps -a after the reboot: %v\n%s", err, r)
	}
	seen := map[string]psJSON{}
	for _, e := range list {
		seen[e.Names[0]] = e
	}
	for i, name := range names {
		if e, ok := seen[name]; !ok || e.ID != ids[i] || e.State != "exited" {
			t.Errorf("ps -a after the reboot: %s is %+v (listed: %v), want exited", name, e, ok)
		}
	}
	if r := urunEnv(t, env, "start", names[0]); r.code != 0 {
		t.Fatalf("start after the reboot: %s", r)
	}
	if r := urunEnv(t, env, "exec", names[0], "true"); r.code != 0 {
		t.Errorf("exec in the restarted container: %s", r)
	}
	for _, name := range names {
		if r := urunEnv(t, env, "rm", "-f", name); r.code != 0 {
			t.Errorf("rm -f %s: %s", name, r)
		}
	}
	if r := urunEnv(t, env, "ps", "-a", "-q"); strings.TrimSpace(r.stdout) != "" {
		t.Errorf("containers left after rm: %s", r)
	}
	for _, id := range ids {
		if got := containerLayers(t, nil); slices.Contains(got, id) {
			t.Errorf("the record or layer of %s is left after rm", id)
		}
	}
	checkNoLeftovers(t, before)
}

// --restart: on-failure:N restarts a failing container N times and
// records its last exit; always brings a container back on the first
// urun command after a reboot; stop is not undone by the policy.
func TestRestartPolicy(t *testing.T) {
	before := myProcesses(t)
	// The runtime directory a reboot empties: XDG_RUNTIME_DIR/urun.
	xdg := t.TempDir()
	if err := os.Chmod(xdg, 0o700); err != nil {
		t.Fatal(err)
	}
	env := []string{"XDG_RUNTIME_DIR=" + xdg}
	root := filepath.Join(xdg, "urun")
	fail := uniqueName(t, "onfail")
	mustRunEnv(t, env, "run", "-d", "--network", "none", "--restart", "on-failure:2", "--name", fail, busybox(), "sh", "-c", "echo ran; exit 3")
	t.Cleanup(func() { urunEnv(t, env, "rm", "-f", fail) })
	waitFor(t, func() bool {
		return strings.Count(urunEnv(t, env, "logs", fail).stdout, "ran") == 3 &&
			strings.TrimSpace(urunEnv(t, env, "wait", fail).stdout) == "3"
	})
	time.Sleep(500 * time.Millisecond)
	if n := strings.Count(urunEnv(t, env, "logs", fail).stdout, "ran"); n != 3 {
		t.Errorf("on-failure:2 ran the container %d times, want 3", n)
	}
	if r := urun(t, "run", "--restart", "always", busybox(), "true"); r.code != 125 || !strings.Contains(r.stderr, "--restart") {
		t.Errorf("--restart on a foreground run: %s", r)
	}

	always := uniqueName(t, "always")
	mustRunEnv(t, env, "run", "-d", "--network", "none", "--restart", "always", "--name", always, busybox(), "sleep", "1000")
	t.Cleanup(func() { urunEnv(t, env, "rm", "-f", always) })
	var st struct {
		ID         string `json:"id"`
		Pid        int    `json:"pid"`
		Supervisor int    `json:"supervisor"`
	}
	readState := func() {
		t.Helper()
		r := mustRunEnv(t, env, "ps", "-a", "--format", "json", "--no-trunc")
		var list []psJSON
		json.Unmarshal([]byte(r.stdout), &list)
		for _, e := range list {
			if e.Names[0] == always {
				st.ID = e.ID
			}
		}
		b, err := os.ReadFile(filepath.Join(root, st.ID, "state.json"))
		if err != nil {
			t.Fatal(err)
		}
		json.Unmarshal(b, &st)
	}
	readState()
	syscall.Kill(st.Supervisor, syscall.SIGKILL)
	syscall.Kill(st.Pid, syscall.SIGKILL)
	waitFor(t, func() bool { return syscall.Kill(st.Pid, 0) != nil && syscall.Kill(st.Supervisor, 0) != nil })
	os.RemoveAll(root)
	os.Mkdir(root, 0o700)
	if e := psAllRoot(t, env)[always]; e.State != "running" {
		t.Errorf("a --restart always container after the reboot: %+v, want running", e)
	}
	mustRunEnv(t, env, "stop", "-t", "1", always)
	time.Sleep(500 * time.Millisecond)
	if e := psAllRoot(t, env)[always]; e.State != "exited" {
		t.Errorf("after stop, the policy started it again: %+v", e)
	}
	mustRunEnv(t, env, "rm", "-f", always, fail)
	checkNoLeftovers(t, before)
}

func psAllRoot(t *testing.T, env []string) map[string]psJSON {
	t.Helper()
	r := mustRunEnv(t, env, "ps", "-a", "--format", "json")
	var list []psJSON
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil {
		t.Fatalf("ps --format json: %v\n%s", err, r.stdout)
	}
	out := map[string]psJSON{}
	for _, e := range list {
		out[e.Names[0]] = e
	}
	return out
}

// generate systemd: the unit's ExecStart and ExecStop, run as systemd
// would run them, start and stop the container (systemd itself runs in
// the VM suite only; here the commands are what is checked).
func TestGenerateSystemd(t *testing.T) {
	before := myProcesses(t)
	name := uniqueName(t, "unit")
	mustRun(t, "create", "--network", "none", "--name", name, busybox(), "sleep", "1000")
	t.Cleanup(func() { urun(t, "rm", "-f", name) })
	unit := mustRun(t, "generate", "systemd", "-t", "2", name).stdout
	if !strings.Contains(unit, "[Install]") || !strings.Contains(unit, "Description=urun container "+name) {
		t.Fatalf("unit:\n%s", unit)
	}
	line := func(key string) []string {
		for _, l := range strings.Split(unit, "\n") {
			if v, ok := strings.CutPrefix(l, key+"="); ok {
				return strings.Fields(v)
			}
		}
		t.Fatalf("unit has no %s:\n%s", key, unit)
		return nil
	}
	start, stop := line("ExecStart"), line("ExecStop")
	if start[0] != urunBin {
		t.Errorf("ExecStart runs %s, want the absolute path of urun (%s)", start[0], urunBin)
	}
	// From another directory, as systemd runs it.
	if r := urunIn(t, "/", nil, start[1:]...); r.code != 0 {
		t.Fatalf("ExecStart %v: %s", start, r)
	}
	if e := psAll(t)[name]; e.State != "running" {
		t.Errorf("after ExecStart: %+v", e)
	}
	if r := urunIn(t, "/", nil, stop[1:]...); r.code != 0 {
		t.Fatalf("ExecStop %v: %s", stop, r)
	}
	if e := psAll(t)[name]; e.State != "exited" {
		t.Errorf("after ExecStop: %+v", e)
	}
	if r := urun(t, "generate", "systemd", "nosuch-"+name); r.code != 125 || len(lines(r.stderr)) != 1 {
		t.Errorf("generate systemd of a missing container: %s", r)
	}
	mustRun(t, "rm", name)
	checkNoLeftovers(t, before)
}
