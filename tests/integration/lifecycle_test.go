package integration

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
)

// stateRoot is where urun keeps container state for this user.
func stateRoot(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		return filepath.Join(d, "urun")
	}
	return filepath.Join(os.TempDir(), "urun-"+strconv.Itoa(os.Getuid()))
}

// stateDirs lists the container state directories (not names/locks).
func stateDirs(t *testing.T) []string {
	t.Helper()
	ents, _ := os.ReadDir(stateRoot(t))
	var out []string
	for _, e := range ents {
		if e.IsDir() && len(e.Name()) == 64 {
			out = append(out, e.Name())
		}
	}
	return out
}

type psJSON struct {
	ID       string   `json:"Id"`
	Names    []string `json:"Names"`
	State    string   `json:"State"`
	Status   string   `json:"Status"`
	ExitCode int      `json:"ExitCode"`
	Pid      int      `json:"Pid"`
}

func psAll(t *testing.T) map[string]psJSON {
	t.Helper()
	r := mustRun(t, "ps", "-a", "--format", "json")
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

// The podman user's day: run -d --name, ps, exec, logs, stop, ps -a, rm,
// and the name is free again.
func TestDetachedLifecycle(t *testing.T) {
	before := myProcesses(t)
	beforeDirs := len(stateDirs(t))
	urun(t, "rm", "-f", "web")
	r := mustRun(t, "run", "-d", "--name", "web", busybox(), "sh", "-c",
		`echo web-started; trap 'echo got-term; exit 3' TERM; httpd -f -p 127.0.0.1:8080 & while :; do sleep 0.1; done`)
	id := strings.TrimSpace(r.stdout)
	if len(id) != 64 {
		t.Fatalf("run -d printed %q, want the 64-hex id", r.stdout)
	}
	if e := psAll(t)["web"]; e.State != "running" || e.ID != id {
		t.Fatalf("ps after run -d: %+v", e)
	}
	if out := mustRun(t, "ps").stdout; !strings.Contains(out, "web") || !strings.Contains(out, "Up ") {
		t.Errorf("ps table: %s", out)
	}
	// exec sees the same pid namespace: the init is pid 1, httpd is there.
	r = mustRun(t, "exec", "web", "ps", "-o", "pid,args")
	if !strings.Contains(r.stdout, "1 sh -c") || !strings.Contains(r.stdout, "httpd -f") {
		t.Errorf("exec ps does not show the container's processes: %s", r)
	}
	if r := urun(t, "exec", "web", "no-such-cmd"); r.code != 127 {
		t.Errorf("exec of a missing command: %s", r)
	}
	waitFor(t, func() bool { return strings.Contains(urun(t, "logs", "web").stdout, "web-started") })
	start := time.Now()
	mustRun(t, "stop", "-t", "5", "web")
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("stop took %s though the container handles SIGTERM", d)
	}
	e := psAll(t)["web"]
	if e.State != "exited" || e.ExitCode != 3 || !strings.Contains(e.Status, "Exited (3)") {
		t.Errorf("ps -a after stop: %+v", e)
	}
	if out := urun(t, "logs", "web").stdout; !strings.Contains(out, "got-term") {
		t.Errorf("logs after stop lack the SIGTERM handler's output: %q", out)
	}
	if r := urun(t, "run", "-d", "--name", "web", busybox(), "true"); r.code != 125 || !strings.Contains(r.stderr, "in use") {
		t.Errorf("a second container named web: %s", r)
	}
	mustRun(t, "rm", "web")
	if _, ok := psAll(t)["web"]; ok {
		t.Error("web still listed after rm")
	}
	r = mustRun(t, "run", "-d", "--rm", "--name", "web", busybox(), "true")
	waitFor(t, func() bool { _, ok := psAll(t)["web"]; return !ok })
	if n := len(stateDirs(t)); n != beforeDirs {
		t.Errorf("%d state directories, %d before", n, beforeDirs)
	}
	checkNoLeftovers(t, before)
}

// exec -it gets a terminal of its own in the container's devpts.
func TestExecTTY(t *testing.T) {
	before := myProcesses(t)
	urun(t, "rm", "-f", "ttyexec")
	mustRun(t, "run", "-d", "--name", "ttyexec", busybox(), "sleep", "60")
	defer urun(t, "rm", "-f", "ttyexec")
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	cmd := exec.Command(urunBin, "exec", "-it", "ttyexec", "sh", "-c", "tty; echo exec-done")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tty.Close()
	got, _ := readUntil(ptmx, "exec-done", 30*time.Second)
	if err := cmd.Wait(); err != nil {
		t.Errorf("exec -it: %v", err)
	}
	if !strings.Contains(got, "/dev/pts/") {
		t.Errorf("exec -it output %q, want a /dev/pts terminal", got)
	}
	mustRun(t, "rm", "-f", "ttyexec")
	checkNoLeftovers(t, before)
}

// 20 containers started at once, listed, then removed at once: nothing
// is left (processes, state directories, names).
func TestManyConcurrent(t *testing.T) {
	before := myProcesses(t)
	beforeDirs := len(stateDirs(t))
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan string, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			r := urun(t, "run", "-d", "--name", fmt.Sprintf("many-%d", i), busybox(), "sleep", "300")
			if r.code != 0 {
				errs <- r.String()
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Errorf("run -d: %s", e)
	}
	running := 0
	for name, e := range psAll(t) {
		if strings.HasPrefix(name, "many-") && e.State == "running" {
			running++
		}
	}
	if running != n {
		t.Errorf("ps shows %d running many-* containers, want %d", running, n)
	}
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if r := urun(t, "rm", "-f", fmt.Sprintf("many-%d", i)); r.code != 0 {
				t.Errorf("rm -f: %s", r)
			}
		}(i)
	}
	wg.Wait()
	for name := range psAll(t) {
		if strings.HasPrefix(name, "many-") {
			t.Errorf("%s still listed", name)
		}
	}
	if d := len(stateDirs(t)); d != beforeDirs {
		t.Errorf("%d state directories left, %d before", d, beforeDirs)
	}
	names, _ := filepath.Glob(filepath.Join(stateRoot(t), "names", "many-*"))
	if len(names) != 0 {
		t.Errorf("names left: %v", names)
	}
	checkNoLeftovers(t, before)
}

// kill -9 of a supervisor: the container dies with it, shows as exited
// with an unknown status, rm -f cleans up and the name is reusable.
func TestSupervisorKilled(t *testing.T) {
	before := myProcesses(t)
	urun(t, "rm", "-f", "orphan")
	mustRun(t, "run", "-d", "--name", "orphan", busybox(), "sleep", "300")
	var st struct {
		Supervisor int `json:"supervisor"`
	}
	id := psAll(t)["orphan"].ID
	b, err := os.ReadFile(filepath.Join(stateRoot(t), id, "state.json"))
	if err != nil {
		t.Fatal(err)
	}
	json.Unmarshal(b, &st)
	if st.Supervisor == 0 {
		t.Fatalf("no supervisor recorded: %s", b)
	}
	syscall.Kill(st.Supervisor, syscall.SIGKILL)
	waitFor(t, func() bool { return psAll(t)["orphan"].State == "exited" })
	if e := psAll(t)["orphan"]; !strings.Contains(e.Status, "unknown") {
		t.Errorf("status after the supervisor died: %+v", e)
	}
	mustRun(t, "rm", "-f", "orphan")
	mustRun(t, "run", "-d", "--rm", "--name", "orphan", busybox(), "true")
	waitFor(t, func() bool { _, ok := psAll(t)["orphan"]; return !ok })
	checkNoLeftovers(t, before)
}

// kill -9 of a foreground urun run --rm=false leaves no container
// process; the kept container shows as exited.
func TestForegroundKilled(t *testing.T) {
	before := myProcesses(t)
	urun(t, "rm", "-f", "fgkill")
	cmd, _ := startReady(t, "run", "--rm=false", "--name", "fgkill", busybox(), "sh", "-c", "echo ready; sleep 300")
	cmd.Process.Kill()
	cmd.Wait()
	checkNoLeftovers(t, before)
	// Its state reads as exited and rm -f clears it.
	if e := psAll(t)["fgkill"]; e.State != "exited" {
		t.Errorf("after kill -9 of urun: %+v", e)
	}
	mustRun(t, "rm", "-f", "fgkill")
}

// kill -9 of a foreground `urun run --rm`, on each overlay tier: the
// container (and fuse-overlayfs) die with it, and the next urun command
// removes what that urun would have: ps does not list it, its name is
// free, no state or mount point is left.
func TestForegroundRmKilled(t *testing.T) {
	for _, tier := range []string{"native", "fuse"} {
		t.Run(tier, func(t *testing.T) {
			before := myProcesses(t)
			dirsBefore := len(stateDirs(t))
			name := "fgrm-" + tier
			cmd, _ := startReady(t, "run", "--rm", "--rootfs-tier", tier, "--name", name, busybox(), "sh", "-c", "echo ready; sleep 300")
			cmd.Process.Kill()
			cmd.Wait()
			checkNoLeftovers(t, before)
			if e, ok := psAll(t)[name]; ok {
				t.Errorf("ps lists the --rm container after its urun was killed: %+v", e)
			}
			if n := len(stateDirs(t)); n != dirsBefore {
				t.Errorf("state directories: %d before, %d after", dirsBefore, n)
			}
			// The name is free again at once, even without a ps first.
			cmd, _ = startReady(t, "run", "--rm", "--rootfs-tier", tier, "--name", name, busybox(), "sh", "-c", "echo ready; sleep 300")
			cmd.Process.Kill()
			cmd.Wait()
			if r := urun(t, "run", "--rm", "--rootfs-tier", tier, "--name", name, busybox(), "true"); r.code != 0 {
				t.Errorf("reusing the name of a killed --rm run: %s", r)
			}
			checkNoLeftovers(t, before)
		})
	}
}

// attach joins a detached -t container's terminal; what is typed reaches
// the shell, and attach returns the container's exit status.
func TestAttach(t *testing.T) {
	before := myProcesses(t)
	urun(t, "rm", "-f", "att")
	mustRun(t, "run", "-d", "-t", "--name", "att", busybox(), "sh")
	defer urun(t, "rm", "-f", "att")
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	cmd := exec.Command(urunBin, "attach", "att")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tty.Close()
	time.Sleep(200 * time.Millisecond)
	ptmx.Write([]byte("echo hi-$((40+2))\r"))
	if got, err := readUntil(ptmx, "hi-42", 20*time.Second); err != nil {
		t.Fatalf("attached terminal: %v; got %q", err, got)
	}
	ptmx.Write([]byte("exit 5\r"))
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	go io.Copy(io.Discard, ptmx)
	select {
	case err := <-done:
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 5 {
			t.Errorf("attach ended with %v, want exit 5", err)
		}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatal("attach did not return after the shell exited")
	}
	if out := mustRun(t, "logs", "att").stdout; !strings.Contains(out, "hi-42") {
		t.Errorf("the log lacks the terminal output: %q", out)
	}
	mustRun(t, "rm", "att")
	checkNoLeftovers(t, before)
}

// containerLayers lists the writable layers kept in the data directory.
func containerLayers(t *testing.T, env []string) []string {
	t.Helper()
	base := os.Getenv("HOME") + "/.local/share"
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "XDG_DATA_HOME="); ok {
			base = v
		}
	}
	ents, err := os.ReadDir(filepath.Join(base, "urun", "containers"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range ents {
		ids = append(ids, e.Name())
	}
	return ids
}

// A kept container keeps its writes, whiteouts included, across stop and
// start, as podman's do, on every tier (the copy tier copies the image
// into the container's layer once); rm removes them (files owned by
// subordinate ids). A foreground run writes nothing to disk.
func TestWritesSurviveRestart(t *testing.T) {
	for _, tier := range tiers {
		t.Run(tier, func(t *testing.T) { writesSurviveRestart(t, tier) })
	}
}

func writesSurviveRestart(t *testing.T, tier string) {
	env := []string{"URUN_TIER=" + tier}
	before := myProcesses(t)
	layersBefore := len(containerLayers(t, env))
	urunEnv(t, env, "rm", "-f", "keeper")
	script := `if [ -e /marker ]; then echo again >> /marker; else echo first > /marker; rm /etc/group; mkdir -p /d/e; fi; sleep 1000`
	if r := urunEnv(t, env, "run", "-d", "--name", "keeper", busybox(), "sh", "-c", script); r.code != 0 {
		t.Fatalf("run -d: %s", r)
	}
	t.Cleanup(func() { urunEnv(t, env, "rm", "-f", "keeper") })
	waitFor(t, func() bool { return urunEnv(t, env, "exec", "keeper", "cat", "/marker").code == 0 })
	if got := containerLayers(t, env); len(got) != layersBefore+1 {
		t.Fatalf("writable layers with one detached container: %v, %d before", got, layersBefore)
	}
	restart := func(env []string, want string) {
		t.Helper()
		if r := urunEnv(t, env, "restart", "-t", "1", "keeper"); r.code != 0 {
			t.Fatalf("restart: %s", r)
		}
		waitFor(t, func() bool {
			return urunEnv(t, env, "exec", "keeper", "cat", "/marker").stdout == want
		})
		r := urunEnv(t, env, "exec", "keeper", "sh", "-c", "cat /marker; ls /etc/group; ls -d /d/e")
		if r.stdout != want+"/d/e\n" || !strings.Contains(r.stderr, "/etc/group") {
			t.Errorf("after restart: %s; want the marker %q, /etc/group still deleted, /d/e kept", r, want)
		}
	}
	restart(env, "first\nagain\n")
	if tier == "copy" {
		// The copy holds the writes: auto starts it as a copy again,
		// without the copy's warning, though overlayfs works here.
		restart([]string{"URUN_TIER=auto"}, "first\nagain\nagain\n")
		if b, _ := os.ReadFile(filepath.Join(stateRoot(t), psAll(t)["keeper"].ID, "ctr.log")); strings.Contains(string(b), "warning") {
			t.Errorf("restart of a copy: %s", b)
		}
	}
	if r := urunEnv(t, env, "rm", "-f", "keeper"); r.code != 0 {
		t.Fatalf("rm -f: %s", r)
	}
	if got := containerLayers(t, env); len(got) != layersBefore {
		t.Errorf("writable layers after rm: %v, %d before", got, layersBefore)
	}
	// Foreground --rm runs keep their writes in memory only.
	if r := urunEnv(t, env, "run", busybox(), "sh", "-c", "echo x > /f; cat /f"); r.code != 0 || r.stdout != "x\n" {
		t.Errorf("foreground write: %s", r)
	}
	if got := containerLayers(t, env); len(got) != layersBefore {
		t.Errorf("a foreground run left a writable layer: %v, %d before", got, layersBefore)
	}
	checkNoLeftovers(t, before)
}

// A kept container outlives a reboot that empties the runtime directory
// (its record is in the data directory): it shows as exited, so
// container prune removes it with its writable layer; another state
// root's prune leaves it alone.
func TestPruneOrphanLayers(t *testing.T) {
	// The state root is XDG_RUNTIME_DIR's: --root would select the OCI
	// face, where create takes a bundle (docs/RUNTIME.md).
	var env []string
	layersBefore := containerLayers(t, env)
	// A runtime directory must be private to count (runtimeDir).
	privateDir := func() string {
		d := t.TempDir()
		if err := os.Chmod(d, 0o700); err != nil {
			t.Fatal(err)
		}
		return d
	}
	root := privateDir()
	renv := []string{"XDG_RUNTIME_DIR=" + root}
	r := urunEnv(t, renv, "create", "--name", "orphan", busybox(), "sh", "-c", "echo x > /f")
	if r.code != 0 {
		t.Fatalf("create: %s", r)
	}
	id := strings.TrimSpace(r.stdout)
	if r := urunEnv(t, renv, "start", "orphan"); r.code != 0 {
		t.Fatalf("start: %s", r)
	}
	waitFor(t, func() bool { return urunEnv(t, renv, "wait", "orphan").code == 0 })
	if got := containerLayers(t, env); len(got) != len(layersBefore)+1 || !slices.Contains(got, id) {
		t.Fatalf("writable layers: %v, want %s added to %v", got, id, layersBefore)
	}
	// The reboot: the state root disappears, the data directory stays.
	if err := os.RemoveAll(root); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(root, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(root, "urun"), 0o700); err != nil {
		t.Fatal(err)
	}
	// Another state root's prune leaves the layer alone.
	if r := urunEnv(t, []string{"XDG_RUNTIME_DIR=" + privateDir()}, "container", "prune", "-f"); r.code != 0 || !slices.Contains(containerLayers(t, env), id) {
		t.Errorf("prune of another root: %s; layers %v", r, containerLayers(t, env))
	}
	r = urunEnv(t, renv, "container", "prune", "-f")
	if r.code != 0 || !strings.Contains(r.stdout, id) {
		t.Errorf("prune: %s; want the orphan's id", r)
	}
	if got := containerLayers(t, env); slices.Contains(got, id) {
		t.Errorf("writable layers after prune: %v", got)
	}
}

// Detached containers share one supervisor (engine/shared.go): it serves
// each, records each exit, and ends with the last one; with
// URUN_SUPERVISOR=own each gets its own, as before.
func TestSharedSupervisor(t *testing.T) {
	before := myProcesses(t)
	supervisorOf := func(name string) (int, bool) {
		var st struct {
			Supervisor int  `json:"supervisor"`
			Shared     bool `json:"sharedSupervisor"`
		}
		b, err := os.ReadFile(filepath.Join(stateRoot(t), psAll(t)[name].ID, "state.json"))
		if err != nil {
			t.Fatal(err)
		}
		json.Unmarshal(b, &st)
		return st.Supervisor, st.Shared
	}
	names := []string{"sh-a", "sh-b", "sh-c"}
	for _, n := range names {
		urun(t, "rm", "-f", n)
		mustRun(t, "run", "-d", "--name", n, busybox(), "sh", "-c", "echo "+n+"; exec sleep 300")
	}
	pid, shared := supervisorOf("sh-a")
	if pid == 0 || !shared {
		t.Fatalf("sh-a: supervisor %d, shared %v", pid, shared)
	}
	for _, n := range names[1:] {
		if p, _ := supervisorOf(n); p != pid {
			t.Errorf("%s is supervised by %d, sh-a by %d", n, p, pid)
		}
	}
	for _, n := range names {
		waitFor(t, func() bool { return strings.Contains(urun(t, "logs", n).stdout, n) })
	}
	// One container's end leaves the others supervised.
	mustRun(t, "stop", "-t", "1", "sh-a")
	if e := psAll(t)["sh-a"]; e.State != "exited" {
		t.Errorf("sh-a after stop: %+v", e)
	}
	if e := psAll(t)["sh-b"]; e.State != "running" {
		t.Errorf("sh-b after sh-a stopped: %+v", e)
	}
	own := urunEnv(t, []string{"URUN_SUPERVISOR=own"}, "run", "-d", "--rm", "--name", "sh-own", busybox(), "sleep", "300")
	if own.code != 0 {
		t.Fatalf("run -d with URUN_SUPERVISOR=own: %s", own)
	}
	if p, shared := supervisorOf("sh-own"); p == pid || shared {
		t.Errorf("URUN_SUPERVISOR=own: supervisor %d (shared one %d), shared %v", p, pid, shared)
	}
	mustRun(t, "rm", "-f", "sh-a", "sh-b", "sh-c", "sh-own")
	checkNoLeftovers(t, before)
}
