package integration

// Each test here attempts one known way out of a container, as the
// unprivileged user, and asserts that it fails and that the host file it
// aims at is unchanged. docs/SECURITY.md lists them against the classes
// they cover. tests/attack is the program that makes the attempts inside.

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// attackBin is tests/attack, staged by the harness.
func attackBin(t *testing.T) string {
	t.Helper()
	p := os.Getenv("URUN_ATTACK")
	if p == "" {
		t.Fatal("URUN_ATTACK is not set: run the suite with make integration")
	}
	return p
}

// attack runs tests/attack inside a busybox container with extra urun
// flags and returns its lines as a map "what" → "ok" or errno name.
func attack(t *testing.T, flags []string, args ...string) map[string]string {
	t.Helper()
	argv := append([]string{"run", "-v", attackBin(t) + ":/attack:ro"}, flags...)
	argv = append(argv, busybox(), "/attack")
	r := mustRun(t, append(argv, args...)...)
	out := map[string]string{}
	for _, l := range lines(r.stdout) {
		if i := strings.LastIndexByte(l, ' '); i > 0 {
			out[l[:i]] = l[i+1:]
		}
	}
	return out
}

func wantResults(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %s gave %q, want %q (all: %v)", what, k, got[k], v, got)
		}
	}
}

// The default profile blocks what docker's blocks, whichever order the
// init installs it in (before the user switch without no_new_privs,
// right before execve with it); unconfined lifts it.
func TestSeccompDefaultProfile(t *testing.T) {
	blocked := map[string]string{
		"unshare-user": "EPERM", "keyctl": "EPERM", "add_key": "EPERM",
		"socket-vsock": "EPERM", "getpid": "ok",
	}
	for _, flags := range [][]string{
		nil,
		{"--security-opt", "no-new-privileges"},
		{"-u", "1000:1000"},
		{"-u", "1000:1000", "--security-opt", "no-new-privileges"},
	} {
		wantResults(t, fmt.Sprint("default profile ", flags), attack(t, flags, "syscalls"), blocked)
	}
	unconfined := attack(t, []string{"--security-opt", "seccomp=unconfined"}, "syscalls")
	wantResults(t, "unconfined", unconfined, map[string]string{"keyctl": "ok", "add_key": "ok", "getpid": "ok"})
	// A Go program cannot unshare a user namespace (it has threads):
	// busybox's unshare shows the difference.
	r := urun(t, "run", busybox(), "unshare", "-U", "true")
	if r.code == 0 || !strings.Contains(r.stderr, "Operation not permitted") {
		t.Errorf("unshare -U under the default profile: %s", r)
	}
	mustRun(t, "run", "--security-opt", "seccomp=unconfined", busybox(), "unshare", "-U", "true")
	// --privileged drops the filter, as docker and podman do.
	mustRun(t, "run", "--privileged", busybox(), "unshare", "-U", "true")

	// A process exec'd into a detached container is filtered as well.
	urun(t, "rm", "-f", "sec-seccomp")
	mustRun(t, "run", "-d", "--name", "sec-seccomp", busybox(), "sleep", "60")
	defer urun(t, "rm", "-f", "sec-seccomp")
	r = urun(t, "exec", "sec-seccomp", "unshare", "-U", "true")
	if r.code == 0 || !strings.Contains(r.stderr, "Operation not permitted") {
		t.Errorf("unshare -U in an exec'd process under the default profile: %s", r)
	}
}

func TestSeccompCustomProfile(t *testing.T) {
	prof := filepath.Join(t.TempDir(), "profile.json")
	os.WriteFile(prof, []byte(`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
		{"names":["getpid"],"action":"SCMP_ACT_ERRNO","errnoRet":13},
		{"names":["keyctl"],"action":"SCMP_ACT_ERRNO"}]}`), 0o644)
	got := attack(t, []string{"--security-opt", "seccomp=" + prof}, "syscalls")
	wantResults(t, "custom profile", got, map[string]string{"getpid": "EACCES", "keyctl": "EPERM", "add_key": "ok"})
}

// A profile urun cannot use is refused before anything starts.
func TestSeccompBadProfileRefused(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(body), 0o644)
		return p
	}
	huge := write("huge.json", `{"defaultAction":"SCMP_ACT_ALLOW","x":"`+strings.Repeat("a", 5<<20)+`"}`)
	cases := map[string]string{
		"bad json":  write("bad.json", `{"defaultAction":`),
		"missing":   filepath.Join(dir, "nope.json"),
		"huge":      huge,
		"notify":    write("notify.json", `{"defaultAction":"SCMP_ACT_NOTIFY"}`),
		"bad arg":   write("arg.json", `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO","args":[{"index":9,"value":1,"op":"SCMP_CMP_EQ"}]}]}`),
		"bad op":    write("op.json", `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":1,"op":"SCMP_CMP_SOMETIMES"}]}]}`),
		"directory": dir,
	}
	before := myProcesses(t)
	dirsBefore := stateDirs(t)
	for name, p := range cases {
		r := urun(t, "run", "--security-opt", "seccomp="+p, busybox(), "echo", "ran")
		if r.code != 125 || len(lines(r.stderr)) != 1 || !strings.HasPrefix(r.stderr, "urun: ") || r.stdout != "" {
			t.Errorf("%s: want exit 125 and one line, got %s", name, r)
		}
	}
	checkNoLeftovers(t, before)
	checkNoContainerDirs(t, dirsBefore)
}

// checkNoContainerDirs fails when urun left a container's state
// directory behind: there must be as many as there were before.
func checkNoContainerDirs(t *testing.T, before []string) {
	t.Helper()
	if now := stateDirs(t); len(now) != len(before) {
		t.Errorf("container state directories left behind in %s: %d now, %d before", stateRoot(t), len(now), len(before))
	}
}

// The OCI face installs the config's linux.seccomp, for the container's
// process and for processes exec'd into it later.
func TestSeccompOCIConfig(t *testing.T) {
	bundle := t.TempDir()
	rootfs := filepath.Join(bundle, "rootfs")
	mustMkRootfs(t, rootfs)
	os.Symlink("busybox", filepath.Join(rootfs, "bin", "sleep"))
	os.Symlink("busybox", filepath.Join(rootfs, "bin", "mkdir"))
	mustRun(t, "spec", "--bundle", bundle)
	cfgPath := filepath.Join(bundle, "config.json")
	var cfg map[string]any
	b, _ := os.ReadFile(cfgPath)
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	proc := cfg["process"].(map[string]any)
	proc["args"] = []string{"/bin/sh", "-c", "mkdir /tmp/x && echo made"}
	proc["terminal"] = false
	cfg["linux"].(map[string]any)["seccomp"] = map[string]any{
		"defaultAction": "SCMP_ACT_ALLOW",
		"syscalls": []any{map[string]any{
			"names": []string{"mkdir", "mkdirat"}, "action": "SCMP_ACT_ERRNO", "errnoRet": 13,
		}},
	}
	b, _ = json.Marshal(cfg)
	os.WriteFile(cfgPath, b, 0o644)
	root := filepath.Join(t.TempDir(), "state")
	r := urun(t, "--root", root, "run", "--bundle", bundle, "sec-oci-1")
	if r.code == 0 || !strings.Contains(r.stderr, "Permission denied") {
		t.Errorf("mkdir under a profile that denies it with EACCES: %s", r)
	}

	// exec: the new process gets the same filter.
	proc["args"] = []string{"/bin/sleep", "30"}
	b, _ = json.Marshal(cfg)
	os.WriteFile(cfgPath, b, 0o644)
	mustCreate(t, nil, "--root", root, "create", "--bundle", bundle, "sec-oci-2")
	defer urun(t, "--root", root, "delete", "--force", "sec-oci-2")
	mustRun(t, "--root", root, "start", "sec-oci-2")
	r = urun(t, "--root", root, "exec", "sec-oci-2", "/bin/mkdir", "/tmp/y")
	if r.code == 0 || !strings.Contains(r.stderr, "Permission denied") {
		t.Errorf("mkdir in an exec'd process under the container's profile: %s", r)
	}
	urun(t, "--root", root, "kill", "sec-oci-2", "KILL")
}

// No descriptor of urun's or its caller's reaches the container, and its
// working directory is inside the root (CVE-2024-21626 class).
func TestNoHostDescriptors(t *testing.T) {
	secret := t.TempDir()
	dirFD, err := os.Open(secret)
	if err != nil {
		t.Fatal(err)
	}
	defer dirFD.Close()
	cmd := exec.Command(urunBin, "run", "--rm", busybox(), "sh", "-c", "ls -l /proc/self/fd/; echo cwd=$(readlink /proc/self/cwd); echo root=$(readlink /proc/1/root)")
	cmd.ExtraFiles = []*os.File{dirFD, dirFD, dirFD} // fds 3, 4, 5 in urun
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v: %s%s", err, out.String(), errb.String())
	}
	s := out.String()
	if strings.Contains(s, secret) {
		t.Errorf("a host directory is visible inside:\n%s", s)
	}
	for _, l := range lines(s) {
		f := strings.Fields(l)
		if len(f) < 9 || f[0] == "total" {
			continue
		}
		fd, _ := strconv.Atoi(f[8])
		// 0-2 are stdio; 3 is ls's own directory handle.
		if fd > 3 {
			t.Errorf("descriptor %d reached the container: %s", fd, l)
		}
	}
	if !strings.Contains(s, "cwd=/\n") || !strings.Contains(s, "root=/\n") {
		t.Errorf("working directory or root not the container's:\n%s", s)
	}
}

// -w through /proc/self/fd/N fails with one line, whatever N is, and the
// process never runs in a host directory.
func TestWorkdirThroughProcFD(t *testing.T) {
	for n := 3; n <= 12; n++ {
		r := urun(t, "run", "-w", fmt.Sprintf("/proc/self/fd/%d", n), busybox(), "sh", "-c", "pwd; ls")
		if r.code != 125 && r.code != 126 {
			t.Errorf("-w /proc/self/fd/%d: exit %d, want 125 or 126\n%s", n, r.code, r)
		}
		if len(lines(r.stderr)) != 1 || r.stdout != "" {
			t.Errorf("-w /proc/self/fd/%d: want one line of error and no output\n%s", n, r)
		}
	}
}

// Mount destinations through symlinks, absolute or with "..", land inside
// the rootfs (CVE-2021-30465 class); the host paths they aim at are not
// touched.
func TestMountsThroughSymlinksStayInside(t *testing.T) {
	victim := t.TempDir()
	os.WriteFile(filepath.Join(victim, "keep"), []byte("host\n"), 0o644)
	before := treeHash(t, victim)
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "marker"), []byte("from-volume\n"), 0o644)
	rootfs := filepath.Join(t.TempDir(), "rootfs")
	mustMkRootfs(t, rootfs)
	os.Symlink("busybox", filepath.Join(rootfs, "bin", "find"))
	up := strings.Repeat("../", 20)
	links := map[string]string{
		"abs":     victim,                    // absolute, to a host directory
		"rel":     up + victim[1:],           // relative, climbing out
		"chain":   "/abs",                    // through another link
		"dotdot":  "tmp/../../" + victim[1:], // .. in the middle
		"tmp/sub": "../../" + victim[1:],
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(rootfs, name)); err != nil {
			t.Fatal(err)
		}
	}
	// The targets exist inside the rootfs too, as in an image that
	// ships them: resolution must pick those.
	if err := os.MkdirAll(filepath.Join(rootfs, victim), 0o755); err != nil {
		t.Fatal(err)
	}
	args := []string{"run", "--rootfs", "--rootfs-tier", "bind"}
	for _, d := range []string{"/abs/v1", "/rel/v2", "/chain/v3", "/dotdot/v4", "/tmp/sub/v5", "/../../" + victim[1:] + "/v6"} {
		args = append(args, "-v", src+":"+d)
	}
	args = append(args, "--tmpfs", "/abs/t1", "--tmpfs", "/rel/t2")
	args = append(args, rootfs, "/bin/busybox", "sh", "-c",
		"for v in v1 v2 v3 v4 v5 v6; do cat "+victim+"/$v/marker; done; ls -d "+victim+"/t1 "+victim+"/t2")
	r := mustRun(t, args...)
	if strings.Count(r.stdout, "from-volume\n") != 6 {
		t.Errorf("volumes not visible at their resolved paths inside:\n%s", r)
	}
	if after := treeHash(t, victim); after != before {
		t.Errorf("the host directory the symlinks point at changed:\n%s\n%s", before, after)
	}
	// The mount points were made inside the rootfs instead.
	if _, err := os.Stat(filepath.Join(rootfs, victim, "v1")); err != nil {
		t.Errorf("mount point not created inside the rootfs: %v", err)
	}

	// A symlink whose target exists only on the host dangles inside the
	// rootfs: urun refuses to create through it, with one line.
	rootfs2 := filepath.Join(t.TempDir(), "rootfs")
	mustMkRootfs(t, rootfs2)
	os.Symlink(victim, filepath.Join(rootfs2, "esc"))
	for _, flag := range [][]string{{"-v", src + ":/esc/x"}, {"--tmpfs", "/esc/x"}} {
		before := myProcesses(t)
		args := append([]string{"run", "--rootfs", "--rootfs-tier", "bind"}, flag...)
		r := urun(t, append(args, rootfs2, "/bin/busybox", "true")...)
		if r.code != 125 || len(lines(r.stderr)) != 1 {
			t.Errorf("%v through a dangling escaping symlink: want 125 and one line, got %s", flag, r)
		}
		checkNoLeftovers(t, before)
	}
	if after := treeHash(t, victim); after != before {
		t.Errorf("the host directory changed through a dangling symlink:\n%s", after)
	}
}

// treeHash describes a directory tree: names, modes and contents.
func treeHash(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s %v\n", strings.TrimPrefix(p, dir), fi.Mode())
		if fi.Mode().IsRegular() {
			c, _ := os.ReadFile(p)
			fmt.Fprintf(&b, "%x\n", sha256.Sum256(c))
		}
		return nil
	})
	return b.String()
}

// The kernel's interfaces to the host are masked or read-only.
func TestProcAndSysMasked(t *testing.T) {
	script := `
for f in /proc/kcore /proc/keys /proc/timer_list /proc/sched_debug; do
  [ -e $f ] && echo "$f size=$(wc -c < $f)"; done
echo "firmware=$(ls /sys/firmware 2>/dev/null | wc -l)"
echo 1 > /proc/sys/kernel/panic 2>/dev/null && echo "sysctl written"
echo b > /proc/sysrq-trigger 2>/dev/null && echo "sysrq written"
echo x > /sys/kernel/uevent_helper 2>/dev/null && echo "uevent_helper written"
true`
	r := mustRun(t, "run", busybox(), "sh", "-c", script)
	for _, l := range lines(r.stdout) {
		switch {
		case strings.HasSuffix(l, " size=0"), l == "firmware=0", l == "":
		default:
			t.Errorf("host interface reachable: %q", l)
		}
	}
}

// The container sees only its own processes: urun and everything else on
// the host can be neither signalled nor traced from inside.
func TestHostProcessesInvisible(t *testing.T) {
	me := strconv.Itoa(os.Getpid())
	got := attack(t, nil, "kill", me)
	for k, v := range attack(t, nil, "ptrace", me) {
		got[k] = v
	}
	wantResults(t, "host pid", got, map[string]string{"kill " + me: "ESRCH", "ptrace " + me: "ESRCH"})
	r := mustRun(t, "run", busybox(), "sh", "-c", "echo /proc/[0-9]*")
	pids := strings.Fields(r.stdout)
	// sh and the shell's own children only, numbered from 1 in the container.
	if len(pids) == 0 || len(pids) > 3 || pids[0] != "/proc/1" {
		t.Errorf("the container sees processes %v", pids)
	}
}

// When the user can write urun-init, the program a container could reach
// through /proc/PID/exe is a sealed copy; the CVE-2019-5736 sequence
// (hold the running init's exe, reopen it for writing once it has exec'd)
// fails and the file on disk is unchanged.
func TestInitBinaryNotWritableThroughProcExe(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "urun-init")
	orig, err := os.ReadFile(filepath.Join(filepath.Dir(urunBin), "urun-init"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, orig, 0o755); err != nil { // ours to write
		t.Fatal(err)
	}
	bundle := t.TempDir()
	rootfs := filepath.Join(bundle, "rootfs")
	mustMkRootfs(t, rootfs)
	os.Symlink("busybox", filepath.Join(rootfs, "bin", "sleep"))
	mustRun(t, "spec", "--bundle", bundle)
	cfgPath := filepath.Join(bundle, "config.json")
	var cfg map[string]any
	b, _ := os.ReadFile(cfgPath)
	json.Unmarshal(b, &cfg)
	proc := cfg["process"].(map[string]any)
	proc["args"] = []string{"/bin/sleep", "30"}
	proc["terminal"] = false
	b, _ = json.Marshal(cfg)
	os.WriteFile(cfgPath, b, 0o644)
	root := filepath.Join(t.TempDir(), "state")
	pidFile := filepath.Join(t.TempDir(), "pid")
	env := []string{"URUN_INIT=" + bin}
	mustCreate(t, env, "--root", root, "create", "--bundle", bundle, "--pid-file", pidFile, "sec-exe")
	defer urun(t, "--root", root, "delete", "--force", "sec-exe")
	pb, _ := os.ReadFile(pidFile)
	pid := strings.TrimSpace(string(pb))
	exe := "/proc/" + pid + "/exe"
	link, _ := os.Readlink(exe)
	if !strings.HasPrefix(link, "/memfd:urun-init") {
		t.Errorf("the waiting init runs %q, not a sealed copy", link)
	}
	// Hold the init's program as an attacker would, then let it exec.
	held, err := unix.Open(exe, unix.O_PATH, 0)
	if err != nil {
		t.Fatalf("opening %s: %v", exe, err)
	}
	defer unix.Close(held)
	mustRun(t, "--root", root, "start", "sec-exe")
	deadline := time.Now().Add(10 * time.Second)
	for {
		if l, _ := os.Readlink(exe); !strings.HasPrefix(l, "/memfd:") || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	w, err := os.OpenFile(fmt.Sprintf("/proc/self/fd/%d", held), os.O_WRONLY, 0)
	if err == nil {
		_, err = w.Write([]byte("#!/bin/sh\necho pwned\n"))
		w.Close()
	}
	if err == nil || !(errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES)) {
		t.Errorf("writing the init's program after it exec'd: %v, want EPERM", err)
	}
	if now, _ := os.ReadFile(bin); !bytes.Equal(now, orig) {
		t.Error("urun-init on disk changed")
	}
	urun(t, "--root", root, "kill", "sec-exe", "KILL")
}

// mustCreate runs urun create: the container's init keeps the stdio it
// was given, so it gets files, not the pipes urun() waits to close.
func mustCreate(t *testing.T, env []string, args ...string) {
	t.Helper()
	out, err := os.CreateTemp(t.TempDir(), "create")
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cmd := exec.Command(urunBin, withRm(args)...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Run(); err != nil {
		b, _ := os.ReadFile(out.Name())
		t.Fatalf("urun %s: %v\n%s", strings.Join(args, " "), err, b)
	}
}

// --init binds urun-init into the container read-only. Without
// CAP_SYS_ADMIN the container can neither write it nor remount it; with
// it, and a urun-init the user can write, urun refuses to start.
func TestInitBindNotWritable(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "urun-init")
	orig, err := os.ReadFile(filepath.Join(filepath.Dir(urunBin), "urun-init"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, orig, 0o755); err != nil {
		t.Fatal(err)
	}
	env := []string{"URUN_INIT=" + bin}
	r := urunEnv(t, env, "run", "--init", busybox(), "sh", "-c",
		"echo x >> /run/urun-init; echo x >> /proc/1/exe; mount -o remount,rw,bind /run/urun-init && echo remounted; true")
	if r.code != 0 || strings.Contains(r.stdout, "remounted") {
		t.Errorf("--init with default capabilities: %s", r)
	}
	r = urunEnv(t, env, "run", "--init", "--privileged", busybox(), "true")
	if r.code != 125 || len(lines(r.stderr)) != 1 || !strings.Contains(r.stderr, "--init") {
		t.Errorf("--init --privileged with a writable urun-init: want 125 and one line, got %s", r)
	}
	if now, _ := os.ReadFile(bin); !bytes.Equal(now, orig) {
		t.Error("urun-init on disk changed")
	}
	// The staged urun-init is root's: the combination is allowed.
	mustRun(t, "run", "--init", "--privileged", busybox(), "true")
}

// ptyShell is an interactive shell whose controlling terminal is a pty
// the test holds: what a user types at, and what TIOCSTI would type into.
type ptyShell struct {
	t    *testing.T
	ptmx *os.File
	out  chan string
	seen strings.Builder
	n    int
}

func startPtyShell(t *testing.T) *ptyShell {
	t.Helper()
	ptmx := startPtySh(t, "", os.Environ())
	s := &ptyShell{t: t, ptmx: ptmx, out: make(chan string, 64)}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := ptmx.Read(buf)
			if n > 0 {
				s.out <- string(buf[:n])
			}
			if err != nil {
				close(s.out)
				return
			}
		}
	}()
	return s
}

// run types line into the shell and waits for its output to contain
// until and for the next prompt; then it types a marker command and
// returns what the terminal showed up to the marker's output. The marker
// is typed only once the command has ended (with -t urun reads the
// terminal while it runs), so anything pushed into the shell's input
// before runs first.
func (s *ptyShell) run(line, until string, timeout time.Duration) string {
	s.t.Helper()
	s.n++
	start := s.seen.Len()
	deadline := time.After(timeout)
	wait := func(done func(string) bool) string {
		for {
			if got := s.seen.String()[start:]; done(got) {
				return got
			}
			select {
			case chunk, ok := <-s.out:
				if !ok {
					s.t.Fatalf("shell ended; terminal showed:\n%s", s.seen.String()[start:])
				}
				s.seen.WriteString(chunk)
			case <-deadline:
				s.t.Fatalf("no end of %q within %s; terminal showed:\n%s", line, timeout, s.seen.String()[start:])
			}
		}
	}
	fmt.Fprintf(s.ptmx, "%s\n", line)
	wait(func(got string) bool {
		i := strings.Index(got, until)
		return i >= 0 && strings.Contains(got[i:], "$ ")
	})
	marker := fmt.Sprintf("DONE%d", s.n)
	// The shell echoes the typed command, not its output: split the word.
	fmt.Fprintf(s.ptmx, "echo DO\"\"NE%d\n", s.n)
	return wait(func(got string) bool { return strings.Contains(got, marker+"\r\n") })
}

// A container process must not type into the terminal urun was started
// from (TIOCSTI): run, run -i, run --init, exec, and the OCI face's run
// and exec all start it in a new session without a controlling terminal,
// as runc does. With -t it may push into its own pty, which reaches the
// host's terminal only as output.
func TestTIOCSTIDoesNotReachHostTerminal(t *testing.T) {
	dir := t.TempDir()
	attackIn := "-v " + attackBin(t) + ":/attack:ro"
	b := bundle(t, false, "sleep", "60")
	data, err := os.ReadFile(attackBin(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(b, "rootfs", "attack"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	ociRoot := t.TempDir()
	mustRun(t, "--root", ociRoot, "run", "-d", "--bundle", b, "tiocsti-oci")
	defer urun(t, "--root", ociRoot, "delete", "--force", "tiocsti-oci")
	mustRun(t, "run", "-d", "--name", "tiocsti-exec", "-v", attackBin(t)+":/attack:ro", busybox(), "sleep", "60")
	defer urun(t, "rm", "-f", "tiocsti-exec")

	runBundle := bundle(t, false, "/attack", "tiocsti", "PLACEHOLDER")
	if err := os.WriteFile(filepath.Join(runBundle, "rootfs", "attack"), data, 0o755); err != nil {
		t.Fatal(err)
	}

	sh := startPtyShell(t)
	cases := []struct {
		name, cmd string
		terminal  bool
	}{
		{"run", "%s run " + attackIn + " " + busybox() + " /attack tiocsti %q", false},
		{"run -i", "%s run -i " + attackIn + " " + busybox() + " /attack tiocsti %q", false},
		{"run --init", "%s run --init " + attackIn + " " + busybox() + " /attack tiocsti %q", false},
		{"exec", "%s exec tiocsti-exec /attack tiocsti %q", false},
		{"exec -i", "%s exec -i tiocsti-exec /attack tiocsti %q", false},
		{"oci exec", "%s --root " + ociRoot + " exec tiocsti-oci /attack tiocsti %q", false},
		{"oci run", "", false},
		{"run -i --init", "%s run -i --init " + attackIn + " " + busybox() + " /attack tiocsti %q", false},
		{"run -t", "%s run -t " + attackIn + " " + busybox() + " /attack tiocsti %q", true},
		{"run -t --init", "%s run -t --init " + attackIn + " " + busybox() + " /attack tiocsti %q", true},
		{"exec -t", "%s exec -t tiocsti-exec /attack tiocsti %q", true},
	}
	for i, c := range cases {
		pwned := filepath.Join(dir, fmt.Sprintf("pwned-%d", i))
		inject := "touch " + pwned
		line := fmt.Sprintf(c.cmd, urunBin, inject)
		if c.name == "oci run" {
			setArgs(t, runBundle, "/attack", "tiocsti", inject)
			line = fmt.Sprintf("%s --root %s run --bundle %s tiocsti-run%d", urunBin, t.TempDir(), runBundle, i)
		}
		got := sh.run(line, "tiocsti 2 ", time.Minute)
		if !strings.Contains(got, "tiocsti 0 ") {
			t.Errorf("%s: the attack did not run; terminal showed:\n%s", c.name, got)
			continue
		}
		if _, err := os.Stat(pwned); err == nil {
			t.Errorf("%s: the container typed %q into the host's shell, which ran it; terminal showed:\n%s", c.name, inject, got)
		}
		// fd 0 is /dev/null without -i: ENOTTY there, EPERM on the
		// caller's terminal, which is not the process's.
		if !c.terminal && strings.Contains(got, " ok\r\n") {
			t.Errorf("%s: TIOCSTI on the caller's terminal was not refused; terminal showed:\n%s", c.name, got)
		}
		if c.terminal && !strings.Contains(got, "tiocsti 0 ok") {
			t.Errorf("%s: the container could not use its own terminal; terminal showed:\n%s", c.name, got)
		}
	}
}

// setArgs rewrites a bundle's process.args.
func setArgs(t *testing.T, b string, args ...string) {
	t.Helper()
	p := filepath.Join(b, "config.json")
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var spec map[string]any
	if err := json.Unmarshal(data, &spec); err != nil {
		t.Fatal(err)
	}
	spec["process"].(map[string]any)["args"] = args
	data, _ = json.Marshal(spec)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// `-v SRC:DST:ro` (and --mount ...,readonly) is read-only all the way
// down: a filesystem mounted below SRC (here a tmpfs in a mount namespace
// the test owns; on a host /dev/shm, FUSE, NFS, another disk) is
// read-only in the container too. The control run without ro writes.
func TestReadonlyVolumeIsRecursive(t *testing.T) {
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Fatal("unshare (util-linux) is not installed")
	}
	d := t.TempDir()
	src := filepath.Join(d, "src")
	rootfs := filepath.Join(d, "rootfs")
	mustMkRootfs(t, rootfs)
	os.Symlink("busybox", filepath.Join(rootfs, "bin", "touch"))
	if err := os.MkdirAll(filepath.Join(src, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	try := func(flag string) string {
		return fmt.Sprintf(`%s run --userns=host-single %s --rootfs %s sh -c 'touch /v/top-file; touch /v/sub/below && echo WROTE-BELOW'; echo; `, urunBin, flag, rootfs)
	}
	script := "set -e; mount -t tmpfs below " + filepath.Join(src, "sub") + "; set +e; " +
		try("-v "+src+":/v:ro") +
		try("-v "+src+":/v:rro,rslave") +
		try("--mount type=bind,source="+src+",target=/v,readonly") +
		try("--mount type=bind,src="+src+",dst=/v,ro=true,bind-propagation=rprivate") +
		try("-v "+src+":/v") +
		"test -e " + filepath.Join(src, "sub", "below") + " && echo HOST-SEES-IT"
	// urun runs as root of a namespace the test made, with a full map
	// (newuidmap via --map-auto): the tmpfs belongs to it, so nothing in
	// the kernel locks it, and only urun's ro keeps it read-only.
	cmd := exec.Command("unshare", "--user", "--map-auto", "--map-root-user", "--mount", "sh", "-c", script)
	cmd.Env = append(os.Environ(), "_CONTAINERS_USERNS_CONFIGURED=1",
		"XDG_DATA_HOME="+filepath.Join(d, "data"), "XDG_RUNTIME_DIR="+filepath.Join(d, "run"))
	os.Mkdir(filepath.Join(d, "run"), 0o700)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("unshare: %v\n%s", err, out)
	}
	got := string(out)
	if n := strings.Count(got, "WROTE-BELOW"); n != 1 {
		t.Errorf("%d of 5 runs wrote below the volume, want 1 (the read-write control):\n%s", n, got)
	}
	if n := strings.Count(got, "touch: /v/sub/below: Read-only file system"); n != 4 {
		t.Errorf("%d of 4 read-only runs were refused the write below with EROFS:\n%s", n, got)
	}
	if n := strings.Count(got, "touch: /v/top-file: Read-only file system"); n != 4 {
		t.Errorf("%d of 4 read-only runs were refused the write at the top with EROFS:\n%s", n, got)
	}
	if !strings.Contains(got, "HOST-SEES-IT") {
		t.Errorf("the control run's write did not reach the tmpfs below the source:\n%s", got)
	}
}

// A container id is a file name under urun's state directory: every
// command that takes one checks it before it touches the filesystem, so
// `../` in an id creates, locks or removes nothing outside.
func TestContainerIDWithPathRefused(t *testing.T) {
	d := t.TempDir()
	root := filepath.Join(d, "r1", "r2")
	os.MkdirAll(root, 0o700)
	os.WriteFile(filepath.Join(d, "victim.lock"), []byte("keep"), 0o600)
	os.Mkdir(filepath.Join(d, "victim"), 0o700)
	os.WriteFile(filepath.Join(d, "victim", "state.json"), []byte(`{"id":"victim","status":"stopped"}`), 0o600)
	before := treeHash(t, d)
	// From the default state directory ($XDG_RUNTIME_DIR/urun) too.
	up := strings.Repeat("../", 20) + strings.TrimPrefix(d, "/")
	b := bundle(t, false, "true")
	for _, id := range []string{"../../pwned", "../../victim", up + "/pwned", up + "/victim", "/" + d[1:] + "/pwned", "..", "."} {
		for _, args := range [][]string{
			{"delete", id}, {"delete", "--force", id}, {"state", id}, {"start", id},
			{"kill", id}, {"kill", id, "KILL"}, {"exec", id, "true"},
			{"create", "--bundle", b, id}, {"run", "--bundle", b, id},
		} {
			r := urun(t, append([]string{"--root", root}, args...)...)
			if r.code == 0 || len(lines(r.stderr)) != 1 {
				t.Errorf("urun --root %s %s: want one line and a failure, got %s", root, strings.Join(args, " "), r)
			}
		}
		for _, args := range [][]string{
			{"rm", id}, {"rm", "-f", id}, {"stop", id}, {"start", id}, {"kill", id},
			{"logs", id}, {"inspect", id}, {"wait", id}, {"restart", id}, {"exec", id, "true"},
			{"attach", id}, {"delete", "--force", id}, {"run", "--name", id, busybox(), "true"},
		} {
			r := urun(t, args...)
			if args[0] == "rm" && args[1] == "-f" {
				// docker's rm -f: a container that does not exist is
				// no error; an invalid id cannot exist.
				continue
			}
			if r.code == 0 || len(lines(r.stderr)) != 1 {
				t.Errorf("urun %s: want one line and a failure, got %s", strings.Join(args, " "), r)
			}
		}
	}
	if after := treeHash(t, d); after != before {
		t.Errorf("a command given an id with a path changed files outside the state directory:\n%s", after)
	}
	if ents, _ := os.ReadDir(root); len(ents) != 0 {
		t.Errorf("state directory holds %d entries, want none", len(ents))
	}
}

// pull, save and load write only under urun's data dir: image/v5's
// blob-info cache would otherwise land in ~/.local/share/containers.
func TestImageToolsWriteOnlyUnderDataDir(t *testing.T) {
	home := t.TempDir()
	env := []string{"HOME=" + home, "XDG_DATA_HOME=" + filepath.Join(home, "data"), "XDG_CONFIG_HOME=" + filepath.Join(home, "config")}
	os.Mkdir(filepath.Join(home, "config"), 0o700)
	// The layer store's files belong to subordinate ids: rmi removes them.
	t.Cleanup(func() {
		urunEnv(t, env, "rmi", "localhost/busybox:latest", "localhost/again:latest")
	})
	archive := filepath.Join(t.TempDir(), "busybox.tar")
	for _, args := range [][]string{
		{"pull", "-q", busybox()},
		{"save", "-o", archive, "localhost/busybox:latest"},
		{"load", "-i", archive, "localhost/again:latest"},
	} {
		if r := urunEnv(t, env, args...); r.code != 0 {
			t.Fatalf("urun %s: %s", strings.Join(args, " "), r)
		}
	}
	var outside []string
	filepath.Walk(home, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() && !strings.HasPrefix(p, filepath.Join(home, "data", "urun")+"/") {
			outside = append(outside, p)
		}
		return nil
	})
	if len(outside) > 0 {
		t.Errorf("files written outside urun's data dir: %v", outside)
	}
	if _, err := os.Stat(filepath.Join(home, "data", "urun", "cache", "blob-info-cache-v1.sqlite")); err != nil {
		t.Errorf("image/v5's blob-info cache is not in urun's data dir: %v", err)
	}
}

// Only a proc filesystem may be mounted on /proc (a bind there would undo
// the masked paths): -v and --mount onto /proc are refused with one line.
func TestBindOntoProcRefused(t *testing.T) {
	procs := myProcesses(t)
	for _, args := range [][]string{
		{"-v", t.TempDir() + ":/proc"},
		{"-v", t.TempDir() + ":/proc/:ro"},
		{"--mount", "type=bind,source=" + t.TempDir() + ",target=/proc"},
		{"--tmpfs", "/proc"},
	} {
		r := urun(t, append(append([]string{"run"}, args...), busybox(), "true")...)
		if r.code != 125 || len(lines(r.stderr)) != 1 || !strings.Contains(r.stderr, "only a proc filesystem may be mounted there") {
			t.Errorf("run %v: want one line and exit 125, got %s", args, r)
		}
	}
	checkNoLeftovers(t, procs)
}

// A config mapping container 0 to host 0, run by an ordinary user, cannot
// be honoured as written: urun says so in one warning line and reads the
// map in the user's rootless id space (host 0 is the user).
func TestOCIMapToHostRootWarns(t *testing.T) {
	b := bundle(t, false, "cat", "/proc/self/uid_map")
	p := filepath.Join(b, "config.json")
	data, _ := os.ReadFile(p)
	var spec map[string]any
	json.Unmarshal(data, &spec)
	linux := spec["linux"].(map[string]any)
	linux["uidMappings"] = []any{map[string]any{"containerID": 0, "hostID": 0, "size": 1}, map[string]any{"containerID": 1, "hostID": 1, "size": 1000}}
	linux["gidMappings"] = []any{map[string]any{"containerID": 0, "hostID": 0, "size": 1}, map[string]any{"containerID": 1, "hostID": 1, "size": 1000}}
	data, _ = json.Marshal(spec)
	os.WriteFile(p, data, 0o644)
	r := urun(t, "--root", t.TempDir(), "run", "--bundle", b, "maproot")
	if r.code != 0 {
		t.Fatalf("run: %s", r)
	}
	if len(lines(r.stderr)) != 1 || !strings.Contains(r.stderr, "urun: warning: ") || !strings.Contains(r.stderr, "to host id 0 (root)") ||
		!strings.Contains(r.stderr, fmt.Sprintf("your own id %d", os.Getuid())) {
		t.Errorf("want one warning line naming host id 0 and uid %d: %s", os.Getuid(), r)
	}
	if f := strings.Fields(r.stdout); len(f) < 3 || f[0] != "0" || f[1] != strconv.Itoa(os.Getuid()) {
		t.Errorf("uid_map %q: want container 0 on uid %d", r.stdout, os.Getuid())
	}
}

// A process joining a container with urun exec shows the container no
// host path in /proc/PID/exe: nsenter and urun-init run from sealed memfd
// copies, as a user-writable init does for run. (--privileged: without it
// the container's processes hold fewer capabilities than the joining
// init, and the kernel refuses them its exe anyway.)
func TestExecShowsNoHostInitPath(t *testing.T) {
	mustRun(t, "run", "-d", "--privileged", "--name", "watchexe", "-v", attackBin(t)+":/attack:ro", busybox(), "sleep", "60")
	defer urun(t, "rm", "-f", "watchexe")
	watcher := exec.Command(urunBin, "exec", "watchexe", "/attack", "watchexe", "4")
	var out bytes.Buffer
	watcher.Stdout = &out
	if err := watcher.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	for i := 0; i < 15; i++ {
		mustRun(t, "exec", "watchexe", "true")
	}
	if err := watcher.Wait(); err != nil {
		t.Fatalf("watcher: %v\n%s", err, out.String())
	}
	t.Logf("exe targets the container saw:\n%s", out.String())
	hostDir := filepath.Dir(filepath.Dir(urunBin))
	for _, l := range lines(out.String()) {
		if strings.Contains(l, "urun-init") && !strings.HasPrefix(l, "exe /memfd:") || strings.Contains(l, hostDir) || strings.Contains(l, "nsenter") && !strings.HasPrefix(l, "exe /memfd:") {
			t.Errorf("the container saw a host path: %s", l)
		}
	}
	if !strings.Contains(out.String(), "/memfd:urun-init") {
		t.Errorf("the watcher never saw a joining urun-init (it must, for this test to mean anything):\n%s", out.String())
	}
}
