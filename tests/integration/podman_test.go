package integration

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// podman runs podman with urun as its OCI runtime (as TestPodmanClient),
// in a storage of the test's own, with the busybox test image in it as
// localhost/urun-test-busybox:latest.
type podman struct {
	t    *testing.T
	args []string
	img  string
}

func newPodman(t *testing.T) *podman {
	t.Helper()
	if _, err := exec.LookPath("podman"); err != nil {
		t.Skip("podman not installed: the harness installs it (tests/harness/lib.sh)")
	}
	dir, err := os.MkdirTemp("", "urunpodman")
	if err != nil {
		t.Fatal(err)
	}
	p := &podman{t: t, img: "localhost/urun-test-busybox:latest", args: []string{
		"--runtime", urunBin, "--cgroup-manager", "cgroupfs", "--events-backend", "file",
		"--root", filepath.Join(dir, "storage"), "--runroot", filepath.Join(dir, "runroot"),
	}}
	// podman leaves a pause process (catatonit) holding its user
	// namespace: the test ends what it started.
	before := myProcesses(t)
	t.Cleanup(func() {
		// Nothing of a removed container stays in urun's state root
		// (podman's --root for urun): no ID/ directory, no ID.lock.
		ids := lines(p.run("ps", "-a", "-q", "--no-trunc").stdout)
		p.run("rm", "-a", "-f", "-t", "0")
		state := filepath.Join(os.Getenv("XDG_RUNTIME_DIR"), "urun")
		for _, id := range ids {
			if left, _ := filepath.Glob(filepath.Join(state, id+"*")); id != "" && len(left) > 0 {
				t.Errorf("podman rm left %v behind", left)
			}
		}
		for pid, cmd := range myProcesses(t) {
			if _, ok := before[pid]; !ok && strings.HasPrefix(cmd, "catatonit") {
				n, _ := strconv.Atoi(pid)
				unix.Kill(n, unix.SIGKILL)
			}
		}
		// The storage holds files of the container's subordinate ids.
		exec.Command("podman", append(p.args, "unshare", "rm", "-rf", dir)...).Run()
		os.RemoveAll(dir)
	})
	// podman names an image pulled from a layout after its path, which
	// must then be lowercase.
	if out, err := exec.Command("cp", "-r", filepath.Join(imagesDir, "busybox"), dir+"/busybox").CombinedOutput(); err != nil {
		t.Fatalf("copying the layout: %v %s", err, out)
	}
	r := p.run("pull", "-q", "oci:"+dir+"/busybox:latest")
	if r.code != 0 {
		t.Fatalf("podman pull from the OCI layout: %s", r)
	}
	if r := p.run("tag", lines(r.stdout)[len(lines(r.stdout))-1], p.img); r.code != 0 {
		t.Fatalf("podman tag: %s", r)
	}
	return p
}

func (p *podman) run(args ...string) result {
	p.t.Helper()
	cmd := exec.Command("podman", append(append([]string{}, p.args...), args...)...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		p.t.Fatal(err)
	}
	return r
}

// podman gives every tmpfs the option tmpcopyup (--tmpfs, --mount
// type=tmpfs, and the /tmp, /var/tmp, /run of --read-only): the tmpfs
// starts with the image's content there, and keeps the directory's mode.
func TestPodmanTmpfs(t *testing.T) {
	p := newPodman(t)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"--tmpfs copies the image's directory up", []string{"--tmpfs", "/etc", p.img, "sh", "-c",
			"stat -f -c %T /etc; head -1 /etc/passwd; stat -c '%a %U' /etc/passwd /etc"},
			"tmpfs\nroot:x:0:0:root:/root:/bin/sh\n644 root\n755 root\n"},
		{"--mount type=tmpfs with a mode and size", []string{"--mount", "type=tmpfs,dst=/etc,tmpfs-mode=0700,tmpfs-size=1m", p.img, "sh", "-c",
			"stat -c %a /etc; test -f /etc/group && echo copied; df -k /etc | tail -1 | awk '{print $2}'"},
			"700\ncopied\n1024\n"},
		{"notmpcopyup starts empty", []string{"--mount", "type=tmpfs,dst=/etc,notmpcopyup", p.img, "sh", "-c",
			"test -e /etc/passwd || echo empty"}, "empty\n"},
		{"--tmpfs on a new directory", []string{"--tmpfs", "/new/dir:mode=1777", p.img, "stat", "-c", "%a", "/new/dir"}, "1777\n"},
		{"--read-only keeps /tmp writable", []string{"--read-only", p.img, "sh", "-c",
			"touch /tmp/ok && echo tmp-ok; touch /nope 2>/dev/null || echo root-ro"},
			"tmp-ok\nroot-ro\n"},
	} {
		r := p.run(append([]string{"run", "--rm"}, tc.args...)...)
		if r.code != 0 || r.stdout != tc.want {
			t.Errorf("%s: %s\nwant stdout %q", tc.name, r, tc.want)
		}
	}
}

// An option neither urun nor the filesystem knows is refused with its
// name and the kernel's reason, never a bare "invalid argument"; an
// idmapped mount, which a rootless runtime cannot make, says why.
func TestOCIMountOptionRefused(t *testing.T) {
	for _, tc := range []struct {
		mount map[string]any
		want  []string
	}{
		{map[string]any{"destination": "/t", "type": "tmpfs", "source": "tmpfs", "options": []string{"nosuid", "size=1m", "frobnicate=3"}},
			[]string{`"frobnicate=3"`, "tmpfs", "frobnicate"}},
		{map[string]any{"destination": "/b", "type": "bind", "source": "/tmp", "options": []string{"rbind", "idmap"}},
			[]string{`"idmap"`, "idmapped", "/b"}},
		{map[string]any{"destination": "/b", "type": "bind", "source": "/tmp", "options": []string{"rbind", "rdonly"}},
			[]string{`unknown bind mount option "rdonly"`, "/b"}},
	} {
		b := bundle(t, false, "true")
		p := filepath.Join(b, "config.json")
		raw, _ := os.ReadFile(p)
		var spec map[string]any
		json.Unmarshal(raw, &spec)
		spec["mounts"] = append(spec["mounts"].([]any), tc.mount)
		raw, _ = json.Marshal(spec)
		os.WriteFile(p, raw, 0o644)
		root := t.TempDir()
		r := urun(t, "--root", root, "create", "--bundle", b, "opt")
		urun(t, "--root", root, "delete", "--force", "opt")
		if r.code == 0 || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("mount %v: %s\nwant one line of error", tc.mount["options"], r)
		}
		for _, w := range tc.want {
			if !strings.Contains(r.stderr, w) {
				t.Errorf("mount %v: stderr %q does not say %q", tc.mount["options"], r.stderr, w)
			}
		}
		if strings.Contains(r.stderr, "invalid argument") {
			t.Errorf("mount %v: the kernel's bare EINVAL reached the user: %s", tc.mount["options"], r.stderr)
		}
	}
}

// exec into a --userns=keep-id container: our uid is the user's own uid
// in there, not root, so exec must become the container's root before
// it sets the process up (it used to fail installing the seccomp filter).
func TestPodmanExecKeepID(t *testing.T) {
	p := newPodman(t)
	if r := p.run("run", "-d", "--name", "keepid", "--userns=keep-id", p.img, "sleep", "100"); r.code != 0 {
		t.Fatalf("podman run --userns=keep-id: %s", r)
	}
	want := strconv.Itoa(os.Getuid()) + " " + strconv.Itoa(os.Getgid()) + "\n"
	if r := p.run("exec", "keepid", "sh", "-c", "echo $(id -u) $(id -g)"); r.code != 0 || r.stdout != want {
		t.Errorf("podman exec into keep-id: %s\nwant %q", r, want)
	}
	if r := p.run("exec", "--user", "0", "keepid", "grep", "Seccomp:", "/proc/self/status"); r.code != 0 || !strings.Contains(r.stdout, "2") {
		t.Errorf("podman exec --user 0 into keep-id (want seccomp mode 2): %s", r)
	}
}

// A program that cannot run is reported where runc reports it: in
// create, so `podman run` prints the reason and exits 127 or 126, and
// `podman start` of such a container fails (125) instead of starting.
func TestPodmanMissingProgram(t *testing.T) {
	p := newPodman(t)
	for _, tc := range []struct {
		cmd  string
		code int
		want string
	}{
		{"/no/such/command", 127, "/no/such/command: no such file or directory"},
		{"/etc", 126, "exec /etc: permission denied"},
		{"/etc/passwd", 126, "exec /etc/passwd: permission denied"},
		{"nosuchcommand", 127, "nosuchcommand: executable file not found in $PATH"},
	} {
		r := p.run("run", "--rm", p.img, tc.cmd)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("podman run %s: %s\nwant exit %d and %q", tc.cmd, r, tc.code, tc.want)
		}
	}
	// A script on a noexec volume passes the check and fails in execve,
	// with the same words (podman's 160-volumes looks for them).
	vol := t.TempDir()
	os.WriteFile(filepath.Join(vol, "s"), []byte("#!/bin/sh\necho ran\n"), 0o755)
	if r := p.run("run", "--rm", "-v", vol+":/vol:noexec", p.img, "/vol/s"); r.code != 126 || !strings.Contains(r.stderr, "exec /vol/s: permission denied") {
		t.Errorf("podman run of a script on a noexec volume: %s\nwant exit 126 and \"exec /vol/s: permission denied\"", r)
	}
	if r := p.run("create", "--name", "nosuch", p.img, "/no/such"); r.code != 0 {
		t.Fatalf("podman create: %s", r)
	}
	if r := p.run("start", "nosuch"); r.code != 125 || !strings.Contains(r.stderr, "/no/such: no such file or directory") {
		t.Errorf("podman start of a container whose program is missing: %s\nwant exit 125 with the reason", r)
	}
}

// podman run --timeout: conmon kills the container when the time is up
// (exit 255, as with runc), and the container is left exited.
func TestPodmanTimeout(t *testing.T) {
	p := newPodman(t)
	start := time.Now()
	r := p.run("run", "--name", "timeout", "--timeout", "2", p.img, "sleep", "60")
	if took := time.Since(start); r.code != 255 || took > 30*time.Second {
		t.Errorf("podman run --timeout 2: %s after %v\nwant exit 255 within 30 s", r, took)
	}
	if r := p.run("inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", "timeout"); strings.TrimSpace(r.stdout) != "exited -1" {
		t.Errorf("state after the timeout: %s\nwant exited -1", r)
	}
}

// A copy of urun away from urun-init (podman's "full path to --runtime
// is preserved" test copies the runtime to /var/tmp) finds the
// urun-init and urun-image on PATH, and without them says where it looked.
func TestInitFoundOnPath(t *testing.T) {
	dir := t.TempDir()
	cp := filepath.Join(dir, "urun-copy")
	if out, err := exec.Command("cp", urunBin, cp).CombinedOutput(); err != nil {
		t.Fatalf("copying urun: %v %s", err, out)
	}
	run := func(path string) result {
		cmd := exec.Command(cp, "run", "--rm", busybox(), "echo", "from-copy")
		cmd.Env = append(os.Environ(), "PATH="+path)
		var out, errb strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		r := result{stdout: out.String(), stderr: errb.String()}
		if ee, ok := err.(*exec.ExitError); ok {
			r.code = ee.ExitCode()
		}
		return r
	}
	if r := run(filepath.Dir(urunBin) + ":" + os.Getenv("PATH")); r.code != 0 || r.stdout != "from-copy\n" {
		t.Errorf("copy of urun with urun-init on PATH: %s", r)
	}
	// Without its helpers anywhere, the first one it needs is named
	// (urun-image unpacks the oci: image, then urun-init runs it).
	if r := run("/usr/bin:/bin"); r.code == 0 || !strings.Contains(r.stderr, "-image is missing") && !strings.Contains(r.stderr, "-init is missing") || !strings.Contains(r.stderr, "on PATH") {
		t.Errorf("copy of urun without urun-image and urun-init anywhere: %s", r)
	}
}

// A process whose environment has no HOME gets its passwd home, else /,
// as runc and crun give it (podman sets HOME only for users it finds in
// the image's /etc/passwd).
func TestPodmanHomeDefault(t *testing.T) {
	p := newPodman(t)
	for _, tc := range []struct{ user, want string }{{"100", "/\n"}, {"0", "/root\n"}} {
		if r := p.run("run", "--rm", "--user", tc.user, p.img, "sh", "-c", "echo $HOME"); r.code != 0 || r.stdout != tc.want {
			t.Errorf("podman run --user %s: %s\nwant HOME %q", tc.user, r, tc.want)
		}
	}
	if r := p.run("run", "-d", "--name", "home", "--user", "100", p.img, "sleep", "100"); r.code != 0 {
		t.Fatalf("podman run -d: %s", r)
	}
	if r := p.run("exec", "home", "sh", "-c", "echo $HOME"); r.code != 0 || r.stdout != "/\n" {
		t.Errorf("podman exec as uid 100: %s\nwant HOME /", r)
	}
}
