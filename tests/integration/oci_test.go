package integration

import (
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// bundle makes an OCI bundle with the host's busybox as rootfs and a
// config from `urun spec --rootless`, with args and terminal set.
func bundle(t *testing.T, terminal bool, args ...string) string {
	t.Helper()
	dir := t.TempDir()
	mustMkRootfs(t, filepath.Join(dir, "rootfs"))
	for _, a := range []string{"sleep", "ps", "id", "hostname", "stty", "tty", "true"} {
		os.Symlink("busybox", filepath.Join(dir, "rootfs", "bin", a))
	}
	mustRun(t, "spec", "--rootless", "--bundle", dir)
	p := filepath.Join(dir, "config.json")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var spec map[string]any
	if err := json.Unmarshal(b, &spec); err != nil {
		t.Fatal(err)
	}
	proc := spec["process"].(map[string]any)
	proc["args"] = args
	proc["terminal"] = terminal
	spec["root"].(map[string]any)["readonly"] = false
	b, _ = json.Marshal(spec)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func stateOf(t *testing.T, root, id string) map[string]any {
	t.Helper()
	r := mustRun(t, "--root", root, "state", id)
	var st map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
		t.Fatalf("state is not JSON: %v\n%s", err, r.stdout)
	}
	return st
}

// The runc life cycle: create leaves the process waiting, start runs it,
// state follows it, kill and delete end it; the pid file names the init.
func TestOCILifecycle(t *testing.T) {
	before := myProcesses(t)
	b := bundle(t, false, "sh", "-c", "echo started > /tmp/marker; exec sleep 60")
	root := t.TempDir()
	pidFile := filepath.Join(t.TempDir(), "pid")
	mustRun(t, "--root", root, "create", "--bundle", b, "--pid-file", pidFile, "c1")
	st := stateOf(t, root, "c1")
	pb, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	if st["status"] != "created" || strconv.Itoa(int(st["pid"].(float64))) != string(pb) {
		t.Fatalf("after create: state %v, pid file %q", st, pb)
	}
	// A created container has not run its process yet.
	if _, err := os.Stat(filepath.Join(b, "rootfs", "tmp", "marker")); err == nil {
		t.Fatal("the process ran before start")
	}
	if r := urun(t, "--root", root, "create", "--bundle", b, "c1"); r.code != 1 || !strings.Contains(r.stderr, "already exists") {
		t.Errorf("second create with the same id: %s", r)
	}
	mustRun(t, "--root", root, "start", "c1")
	waitFor(t, func() bool {
		_, err := os.Stat(filepath.Join(b, "rootfs", "tmp", "marker"))
		return err == nil
	})
	if st := stateOf(t, root, "c1"); st["status"] != "running" {
		t.Errorf("after start: %v", st)
	}
	if r := urun(t, "--root", root, "delete", "c1"); r.code != 1 || !strings.Contains(r.stderr, "running") {
		t.Errorf("delete of a running container: %s", r)
	}
	mustRun(t, "--root", root, "kill", "c1", "SIGKILL")
	waitFor(t, func() bool { return stateOf(t, root, "c1")["status"] == "stopped" })
	mustRun(t, "--root", root, "delete", "c1")
	if r := urun(t, "--root", root, "state", "c1"); r.code != 1 {
		t.Errorf("state after delete: %s", r)
	}
	checkNoLeftovers(t, before)
}

// A created container may be deleted without running its process.
func TestOCIDeleteCreated(t *testing.T) {
	before := myProcesses(t)
	b := bundle(t, false, "true")
	root := t.TempDir()
	mustRun(t, "--root", root, "create", "--bundle", b, "c2")
	mustRun(t, "--root", root, "delete", "c2")
	if ids := strings.TrimSpace(mustRun(t, "--root", root, "list", "-q").stdout); ids != "" {
		t.Errorf("list after delete: %q", ids)
	}
	checkNoLeftovers(t, before)
}

// A bad config.json is refused with the field named, and nothing is left.
func TestOCIBadConfig(t *testing.T) {
	for name, cfg := range map[string]string{
		"syntax":       `{"ociVersion": "1.0.2", "process": `,
		"type":         `{"ociVersion": "1.0.2", "process": {"args": "sh"}}`,
		"no-root":      `{"ociVersion": "1.0.2", "process": {"args": ["sh"], "cwd": "/"}, "linux": {}}`,
		"bad-ns":       `{"ociVersion": "1.0.2", "root": {"path": "rootfs"}, "process": {"args": ["sh"], "cwd": "/"}, "linux": {"namespaces": [{"type": "bogus"}]}}`,
		"relative-cwd": `{"ociVersion": "1.0.2", "root": {"path": "rootfs"}, "process": {"args": ["sh"], "cwd": "tmp"}, "linux": {}}`,
		"proc-bind":    `{"ociVersion": "1.0.2", "root": {"path": "rootfs"}, "process": {"args": ["sh"], "cwd": "/"}, "mounts": [{"destination": "/proc", "type": "bind", "source": "/tmp", "options": ["rbind"]}], "linux": {}}`,
		"uid-overflow": `{"ociVersion": "1.0.2", "root": {"path": "rootfs"}, "process": {"args": ["sh"], "cwd": "/"}, "linux": {"namespaces": [{"type": "user"}], "uidMappings": [{"containerID": 0, "hostID": 4294967295, "size": 4294967295}], "gidMappings": [{"containerID": 0, "hostID": 0, "size": 1}]}}`,
		"dup-pid-ns":   `{"ociVersion": "1.0.2", "root": {"path": "rootfs"}, "process": {"args": ["sh"], "cwd": "/"}, "linux": {"namespaces": [{"type": "pid"}, {"type": "pid"}, {"type": "pid"}]}}`,
		"dup-user-ns":  `{"ociVersion": "1.0.2", "root": {"path": "rootfs"}, "process": {"args": ["sh"], "cwd": "/"}, "linux": {"namespaces": [{"type": "user"}, {"type": "mount"}, {"type": "user"}]}}`,
	} {
		t.Run(name, func(t *testing.T) {
			b := t.TempDir()
			os.Mkdir(filepath.Join(b, "rootfs"), 0o755)
			os.WriteFile(filepath.Join(b, "config.json"), []byte(cfg), 0o644)
			root := t.TempDir()
			r := urun(t, "--root", root, "create", "--bundle", b, "bad")
			if r.code != 1 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "config.json") {
				t.Errorf("want one line naming config.json and exit 1 (runc's): %s", r)
			}
			want := map[string]string{"dup-pid-ns": "namespace is listed twice", "dup-user-ns": "namespace is listed twice",
				"proc-bind": "only a proc filesystem", "uid-overflow": "runs past the last id"}[name]
			if !strings.Contains(r.stderr, want) {
				t.Errorf("want %q in the one line: %s", want, r)
			}
			if ents, _ := os.ReadDir(root); len(ents) != 0 {
				t.Errorf("state left behind: %v", ents)
			}
		})
	}
}

// --console-socket gets the pty master as one SCM_RIGHTS message, the way
// conmon and containerd receive it, and the terminal is the container's.
func TestOCIConsoleSocket(t *testing.T) {
	before := myProcesses(t)
	b := bundle(t, true, "sh", "-c", "tty; echo done")
	root := t.TempDir()
	sockPath := filepath.Join(t.TempDir(), "console.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: sockPath, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	got := make(chan *os.File, 1)
	go func() {
		c, err := l.AcceptUnix()
		if err != nil {
			got <- nil
			return
		}
		defer c.Close()
		buf, oob := make([]byte, 64), make([]byte, 64)
		_, oobn, _, _, err := c.ReadMsgUnix(buf, oob)
		if err != nil {
			got <- nil
			return
		}
		msgs, _ := unix.ParseSocketControlMessage(oob[:oobn])
		if len(msgs) != 1 {
			got <- nil
			return
		}
		fds, _ := unix.ParseUnixRights(&msgs[0])
		if len(fds) != 1 {
			got <- nil
			return
		}
		got <- os.NewFile(uintptr(fds[0]), "master")
	}()
	mustRun(t, "--root", root, "create", "--bundle", b, "--console-socket", sockPath, "tty1")
	master := <-got
	if master == nil {
		t.Fatal("no pty master received on the console socket")
	}
	defer master.Close()
	mustRun(t, "--root", root, "start", "tty1")
	out := make(chan string)
	go func() {
		got, _ := readUntil(master, "done", 30*time.Second)
		out <- got
	}()
	select {
	case s := <-out:
		if !strings.Contains(s, "/dev/pts/0") {
			t.Errorf("terminal output %q, want /dev/pts/0 (the container's own devpts)", s)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no output on the pty")
	}
	waitFor(t, func() bool { return stateOf(t, root, "tty1")["status"] == "stopped" })
	mustRun(t, "--root", root, "delete", "tty1")
	checkNoLeftovers(t, before)
}

// exec joins the running container: same pid namespace, exit codes and
// 255 for a missing command (as runc).
func TestOCIExec(t *testing.T) {
	before := myProcesses(t)
	b := bundle(t, false, "sleep", "60")
	root := t.TempDir()
	mustRun(t, "--root", root, "run", "-d", "--bundle", b, "ex")
	r := mustRun(t, "--root", root, "exec", "ex", "ps", "-o", "pid,args")
	if !strings.Contains(r.stdout, "1 sleep 60") {
		t.Errorf("exec does not see the container's processes: %s", r)
	}
	if r := urun(t, "--root", root, "exec", "ex", "sh", "-c", "exit 7"); r.code != 7 {
		t.Errorf("exec exit code: %s", r)
	}
	if r := urun(t, "--root", root, "exec", "ex", "nosuch"); r.code != 255 || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("exec of a missing command: %s", r)
	}
	proc := filepath.Join(t.TempDir(), "process.json")
	os.WriteFile(proc, []byte(`{"args": ["sh", "-c", "echo $FOO"], "env": ["FOO=from-process-json", "PATH=/bin"], "cwd": "/"}`), 0o644)
	if r := mustRun(t, "--root", root, "exec", "--process", proc, "ex"); r.stdout != "from-process-json\n" {
		t.Errorf("exec --process: %s", r)
	}
	mustRun(t, "--root", root, "delete", "--force", "ex")
	checkNoLeftovers(t, before)
}

// podman drives urun as its OCI runtime (through conmon), as the
// unprivileged user: run, exit codes, -d + exec + stop + rm.
func TestPodmanClient(t *testing.T) {
	podman, err := exec.LookPath("podman")
	if err != nil {
		t.Skip("podman not installed: the harness installs it (tests/harness/lib.sh)")
	}
	pod := func(args ...string) result {
		t.Helper()
		cmd := exec.Command(podman, append([]string{"--runtime", urunBin}, args...)...)
		var out, errb strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		r := result{stdout: out.String(), stderr: errb.String()}
		if ee, ok := err.(*exec.ExitError); ok {
			r.code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return r
	}
	const img = "localhost/urun-test-busybox:latest"
	// podman starts a pause process (catatonit) for its user namespace
	// and leaves it running; the test ends what it started.
	before := myProcesses(t)
	defer func() {
		for pid, cmd := range myProcesses(t) {
			if _, ok := before[pid]; !ok && strings.HasPrefix(cmd, "catatonit") {
				n, _ := strconv.Atoi(pid)
				unix.Kill(n, unix.SIGKILL)
			}
		}
	}()
	// podman names an image pulled from a layout after its path, which
	// must then be lowercase: copy the layout to such a path.
	layout, err := os.MkdirTemp("", "urunpodman")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(layout)
	if out, err := exec.Command("cp", "-r", filepath.Join(imagesDir, "busybox"), layout+"/busybox").CombinedOutput(); err != nil {
		t.Fatalf("copying the layout: %v %s", err, out)
	}
	r := pod("pull", "-q", "oci:"+layout+"/busybox:latest")
	if r.code != 0 {
		t.Fatalf("podman pull from the OCI layout: %s", r)
	}
	imageID := lines(r.stdout)[len(lines(r.stdout))-1]
	if r := pod("tag", imageID, img); r.code != 0 {
		t.Fatalf("podman tag: %s", r)
	}
	// -it: conmon gets the pty master through --console-socket.
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(podman, "--runtime", urunBin, "run", "--rm", "-it", img, "sh", "-c", "tty; echo it-done")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tty.Close()
	got, _ := readUntil(ptmx, "it-done", 60*time.Second)
	cmd.Wait()
	ptmx.Close()
	if !strings.Contains(got, "/dev/pts/0") {
		t.Errorf("podman run -it: output %q, want the container's /dev/pts/0", got)
	}
	if r := pod("run", "--rm", img, "echo", "hello"); r.code != 0 || r.stdout != "hello\n" {
		t.Errorf("podman run: %s", r)
	}
	for _, tc := range []struct {
		args []string
		code int
	}{{[]string{"true"}, 0}, {[]string{"sh", "-c", "exit 7"}, 7}, {[]string{"nosuch"}, 127}} {
		if r := pod(append([]string{"run", "--rm", img}, tc.args...)...); r.code != tc.code {
			t.Errorf("podman run %v: %s\nwant exit %d", tc.args, r, tc.code)
		}
	}
	pod("rm", "-f", "urun-web")
	if r := pod("run", "-d", "--name", "urun-web", img, "sh", "-c", "trap 'exit 0' TERM; echo up; while :; do sleep 0.1; done"); r.code != 0 {
		t.Fatalf("podman run -d: %s", r)
	}
	defer pod("rm", "-f", "urun-web")
	if r := pod("exec", "urun-web", "sh", "-c", "echo in-exec; ps -o pid,args"); r.code != 0 || !strings.Contains(r.stdout, "in-exec") || !strings.Contains(r.stdout, "while") {
		t.Errorf("podman exec: %s", r)
	}
	if r := pod("exec", "urun-web", "nosuch"); r.code != 127 {
		t.Errorf("podman exec of a missing command: %s", r)
	}
	if r := pod("logs", "urun-web"); !strings.Contains(r.stdout, "up") {
		t.Errorf("podman logs: %s", r)
	}
	if r := pod("stop", "-t", "10", "urun-web"); r.code != 0 {
		t.Errorf("podman stop: %s", r)
	}
	if r := pod("inspect", "--format", "{{.State.ExitCode}}", "urun-web"); strings.TrimSpace(r.stdout) != "0" {
		t.Errorf("exit code after stop: %s", r)
	}
	if r := pod("rm", "urun-web"); r.code != 0 {
		t.Errorf("podman rm: %s", r)
	}
}

// waitFor polls cond for up to 30 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for i := 0; i < 3000; i++ {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("condition not met within 30 s")
}

// runc's rootless template lists ambient capabilities but no inheritable
// ones; runc runs it, and so must urun (ambient ones become inheritable).
func TestOCIAmbientWithoutInheritable(t *testing.T) {
	b := bundle(t, false, "grep", "CapAmb", "/proc/self/status")
	os.Symlink("busybox", filepath.Join(b, "rootfs", "bin", "grep"))
	p := filepath.Join(b, "config.json")
	raw, _ := os.ReadFile(p)
	var spec map[string]any
	json.Unmarshal(raw, &spec)
	caps := []string{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"}
	spec["process"].(map[string]any)["capabilities"] = map[string]any{
		"bounding": caps, "effective": caps, "permitted": caps, "ambient": caps,
	}
	raw, _ = json.Marshal(spec)
	os.WriteFile(p, raw, 0o644)
	r := mustRun(t, "--root", t.TempDir(), "run", "--bundle", b, "amb")
	if !strings.Contains(r.stdout, "0000000020000420") {
		t.Errorf("ambient set inside: %s, want AUDIT_WRITE|KILL|NET_BIND_SERVICE", r)
	}
}
