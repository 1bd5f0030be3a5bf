package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/creack/pty"
)

func TestRunBasics(t *testing.T) {
	before := myProcesses(t)
	r := mustRun(t, "run", busybox(), "sh", "-c", "echo $$; hostname; id -u; cat /proc/self/uid_map")
	l := lines(r.stdout)
	if len(l) < 4 {
		t.Fatalf("short output: %s", r)
	}
	if l[0] != "1" {
		t.Errorf("pid inside = %s, want 1 (own pid namespace)", l[0])
	}
	if h, _ := os.Hostname(); l[1] == h || len(l[1]) != 12 {
		t.Errorf("hostname inside = %q, want the 12-character container id, not the host's", l[1])
	}
	if l[2] != "0" {
		t.Errorf("uid inside = %s, want 0", l[2])
	}
	if f := strings.Fields(l[3]); len(f) != 3 || f[0] != "0" || f[1] != strconv.Itoa(os.Getuid()) {
		t.Errorf("uid_map first line %q, want 0 -> %d", l[3], os.Getuid())
	}
	checkNoLeftovers(t, before)
}

func TestDefaultsVisibleInside(t *testing.T) {
	r := mustRun(t, "run", busybox(), "sh", "-c", `
grep -E '^Cap(Bnd|Eff)' /proc/self/status
echo ---; stat -c '%F %t:%T' /proc/keys /proc/kcore 2>&1
echo ---; echo 1 > /proc/sys/kernel/domainname 2>&1 && echo "sys-writable" || echo "sys-readonly"
echo ---; ls /proc/self/fd
echo ---; mount`)
	parts := strings.Split(r.stdout, "---\n")
	if len(parts) != 5 {
		t.Fatalf("unexpected output: %s", r)
	}
	// podman's rootless default set: CHOWN DAC_OVERRIDE FOWNER FSETID KILL
	// SETGID SETUID SETPCAP NET_BIND_SERVICE SYS_CHROOT SETFCAP.
	const want = "00000000800405fb"
	for _, l := range lines(parts[0]) {
		if !strings.HasSuffix(l, want) {
			t.Errorf("%s, want %s", l, want)
		}
	}
	// Masked files have /dev/null (1:3) bound over them; a masked path
	// the kernel does not have (no /proc/kcore here) stays absent.
	for _, l := range lines(parts[1]) {
		if !strings.HasSuffix(l, "character special file 1:3") && !strings.Contains(l, "No such file") {
			t.Errorf("masked path not masked: %q", l)
		}
	}
	if !strings.Contains(parts[1], "character special file 1:3") {
		t.Errorf("/proc/keys not masked: %q", parts[1])
	}
	if !strings.Contains(parts[2], "sys-readonly") {
		t.Errorf("/proc/sys writable: %q", parts[2])
	}
	if fds := strings.Fields(parts[3]); strings.Join(fds, " ") != "0 1 2" && strings.Join(fds, " ") != "0 1 2 3" {
		t.Errorf("fds inside: %v, want 0 1 2 (3 is ls's own directory)", fds)
	}
	home, _ := os.UserHomeDir()
	for _, l := range lines(parts[4]) {
		if strings.Contains(l, home) || strings.Contains(l, imagesDir) || strings.Contains(l, "/run/user") {
			t.Errorf("mount shows a host path: %q", l)
		}
	}
	for _, m := range []string{"on / type overlay", "on /proc type proc", "on /dev type tmpfs", "on /dev/pts type devpts", "on /dev/shm type tmpfs", "on /sys type sysfs"} {
		if !strings.Contains(parts[4], m) {
			t.Errorf("mount lacks %q:\n%s", m, parts[4])
		}
	}
}

func TestExitCodes(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"sh", "-c", "exit 3"}, 3, ""},
		{[]string{"no-such-command"}, 127, "not found"},
		{[]string{"/etc/passwd"}, 126, "permission denied"},
	} {
		r := urun(t, append([]string{"run", busybox()}, tc.args...)...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.msg) {
			t.Errorf("%v: %s\nwant exit %d and %q", tc.args, r, tc.code, tc.msg)
		}
	}
}

// A container whose process dies by a signal exits 128+signal, as a
// shell reports it. (Inside its pid namespace the process is init, which
// the kernel guards from its own SIGKILL, so the kill comes from outside.)
func TestExitBySignal(t *testing.T) {
	before := myProcesses(t)
	// --network none: a network helper would be urun's child too.
	cmd, _ := startReady(t, "run", "--network", "none", busybox(), "sh", "-c", "echo ready; exec sleep 100")
	children := childPIDs(t, cmd.Process.Pid)
	if len(children) != 1 {
		t.Fatalf("urun has children %v, want the container's init alone", children)
	}
	syscall.Kill(children[0], syscall.SIGKILL)
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 137 {
		t.Errorf("exit: %v, want 137", err)
	}
	checkNoLeftovers(t, before)
}

// childPIDs lists the children of pid.
func childPIDs(t *testing.T, pid int) []int {
	t.Helper()
	var out []int
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	for _, f := range tasks {
		b, _ := os.ReadFile(f)
		for _, s := range strings.Fields(string(b)) {
			n, _ := strconv.Atoi(s)
			out = append(out, n)
		}
	}
	return out
}

// SIGTERM to urun reaches the container's process.
func TestSignalForwarding(t *testing.T) {
	before := myProcesses(t)
	cmd, out := startReady(t, "run", busybox(), "sh", "-c", `trap 'echo got-term; exit 42' TERM; echo ready; while :; do sleep 0.1; done`)
	cmd.Process.Signal(syscall.SIGTERM)
	rest := make([]byte, 64)
	m, _ := out.Read(rest)
	err := cmd.Wait()
	if !strings.Contains(string(rest[:m]), "got-term") {
		t.Errorf("container did not see SIGTERM: %q", rest[:m])
	}
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 42 {
		t.Errorf("exit: %v, want 42", err)
	}
	checkNoLeftovers(t, before)
}

// -t gives the container a terminal; the test is the terminal's other end.
func TestTTY(t *testing.T) {
	out := onPTYSized(t, &pty.Winsize{Rows: 33, Cols: 77},
		"run", "-t", busybox(), "sh", "-c", "test -t 0 && test -t 1 && echo is-a-tty; stty size")
	if !strings.Contains(out, "is-a-tty") || !strings.Contains(out, "33 77") {
		t.Errorf("output %q, want is-a-tty and size 33 77", out)
	}
}

// A symlink in the image pointing at /etc must not redirect a volume onto
// the host's /etc: destinations resolve inside the rootfs.
func TestVolumeThroughSymlinkStaysInside(t *testing.T) {
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "marker"), []byte("from-volume\n"), 0o644)
	// A rootfs of our own making, with /escape -> /etc, used in place
	// (bind tier) so the mount point it gets is visible here.
	rootfs := filepath.Join(t.TempDir(), "rootfs")
	mustMkRootfs(t, rootfs)
	if err := os.Symlink("/etc", filepath.Join(rootfs, "escape")); err != nil {
		t.Fatal(err)
	}
	r := mustRun(t, "run", "--rootfs", "--rootfs-tier", "bind", "-v", src+":/escape/sub", rootfs, "/bin/busybox", "cat", "/etc/sub/marker")
	if r.stdout != "from-volume\n" {
		t.Errorf("volume not visible at the resolved path inside: %s", r)
	}
	if _, err := os.Stat("/etc/sub"); err == nil {
		t.Errorf("the mount point was created on the host at /etc/sub")
	}
	if _, err := os.Stat(filepath.Join(rootfs, "etc", "sub")); err != nil {
		t.Errorf("mount point not created inside the rootfs: %v", err)
	}
}

// mustMkRootfs makes a minimal rootfs directory with the host's busybox.
func mustMkRootfs(t *testing.T, dir string) {
	t.Helper()
	for _, d := range []string{"bin", "etc", "proc", "sys", "dev", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatalf("busybox-static not installed: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bin", "busybox"), b, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"sh", "cat", "ls", "echo"} {
		os.Symlink("busybox", filepath.Join(dir, "bin", a))
	}
}

func TestHardImageConfigHonoured(t *testing.T) {
	r := mustRun(t, "run", hard())
	if r.stdout != "entry cmd-default\n" {
		t.Errorf("ENTRYPOINT+CMD: got %q", r.stdout)
	}
	r = mustRun(t, "run", hard(), "given")
	if r.stdout != "entry given\n" {
		t.Errorf("ENTRYPOINT with CMD override: got %q", r.stdout)
	}
	r = mustRun(t, "run", "--entrypoint", "/bin/sh", hard(), "-c", `id -u; id -g; pwd; echo "$HARD_ENV|$SPACED"`)
	if want := "1000\n1000\n/data/work\nhard-value|a b\n"; r.stdout != want {
		t.Errorf("USER/WORKDIR/ENV: got %q, want %q", r.stdout, want)
	}
}

// --init puts a small init in front of the process: it is pid 1, the
// process gets default signal handling (SIGTERM ends it: 143), and the
// exit status passes through.
func TestInitFlag(t *testing.T) {
	before := myProcesses(t)
	r := urun(t, "run", "--init", busybox(), "sh", "-c", "ps -o pid,args; exit 4")
	if r.code != 4 || !strings.Contains(r.stdout, "1 "+"/run/urun-init") {
		t.Errorf("run --init: %s", r)
	}
	cmd, _ := startReady(t, "run", "--init", busybox(), "sh", "-c", "echo ready; exec sleep 100")
	cmd.Process.Signal(syscall.SIGTERM)
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 143 {
		t.Errorf("SIGTERM with --init: %v, want exit 143 (sleep is not pid 1, so SIGTERM ends it)", err)
	}
	checkNoLeftovers(t, before)
}
