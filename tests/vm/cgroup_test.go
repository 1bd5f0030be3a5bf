// Package vm is the cgroup suite that needs a real systemd with cgroup v2
// delegation. tests/vm/run.sh boots a Debian 12 VM and runs this test
// binary there as the lingering user dev, one phase per Delegate= setting
// of user@.service: TestDefault* with Debian's own (cpu memory pids),
// TestNoCPU* with a drop-in delegating only memory and pids, TestAll* with
// cpu cpuset io memory pids. Outside the VM every test skips.
package vm

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

var (
	urunBin   = os.Getenv("URUN_BIN")
	imagesDir = os.Getenv("URUN_IMAGES")
)

func TestMain(m *testing.M) {
	if os.Getenv("URUN_VM") != "1" || urunBin == "" || imagesDir == "" {
		fmt.Println("vm tests skipped: they run inside the VM that `make vm-test` (tests/vm/run.sh) boots")
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func busybox() string { return "oci:" + filepath.Join(imagesDir, "busybox") }

type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// urun runs the urun binary; the VM is slow, so the limit is generous.
func urun(t *testing.T, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(urunBin, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting urun: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(5 * time.Minute):
		cmd.Process.Kill()
		<-done
		t.Fatalf("urun %v: no exit within 5 minutes", args)
	}
	r := result{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("urun %v: %v", args, err)
	}
	return r
}

func mustRun(t *testing.T, args ...string) result {
	t.Helper()
	r := urun(t, nil, args...)
	if r.code != 0 {
		t.Fatalf("urun %s: %s", strings.Join(args, " "), r)
	}
	return r
}

func lines(s string) []string { return strings.Split(strings.TrimRight(s, "\n"), "\n") }

// systemctlShow reads properties of a user unit.
func systemctlShow(t *testing.T, unit string, props ...string) map[string]string {
	t.Helper()
	args := []string{"--user", "show", unit}
	for _, p := range props {
		args = append(args, "-p", p)
	}
	out, err := exec.Command("systemctl", args...).Output()
	if err != nil {
		t.Fatalf("systemctl %v: %v", args, err)
	}
	m := map[string]string{}
	for _, l := range lines(string(out)) {
		if k, v, ok := strings.Cut(l, "="); ok {
			m[k] = v
		}
	}
	return m
}

// waitScopeGone waits until systemd has dropped the scope and its cgroup.
func waitScopeGone(t *testing.T, unit string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		p := systemctlShow(t, unit, "LoadState", "ActiveState")
		matches, _ := filepath.Glob("/sys/fs/cgroup/user.slice/user-*.slice/user@*.service/*/" + unit)
		if p["ActiveState"] != "active" && p["LoadState"] == "not-found" && len(matches) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("scope %s still there after the container exited: %v, cgroups %v", unit, p, matches)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestDefaultControllersReported(t *testing.T) {
	r := mustRun(t, "--debug", "run", busybox(), "true")
	m := regexp.MustCompile(`cgroup scope .* (urun-[0-9a-f]{12}\.scope) \(delegated: ([a-z ]*)\)`).FindStringSubmatch(r.stderr)
	if m == nil {
		t.Fatalf("--debug does not report the scope and its controllers:\n%s", r)
	}
	for _, c := range []string{"cpu", "memory", "pids"} {
		if !strings.Contains(" "+m[2]+" ", " "+c+" ") {
			t.Errorf("controller %s not reported as delegated: %q", c, m[2])
		}
	}
	waitScopeGone(t, m[1])
}

func TestDefaultMemoryLimitOOMKills(t *testing.T) {
	// dd reads 64 MiB from /dev/zero into one buffer: every page is touched.
	r := urun(t, nil, "run", "--memory", "32m", busybox(), "dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1")
	if r.code != 137 {
		t.Fatalf("want exit 137 (OOM-killed), got %s", r)
	}
	if !strings.Contains(r.stderr, "memory limit") {
		t.Errorf("urun does not say the container ran out of memory: %q", r.stderr)
	}
	// The same under the limit passes: the limit is what killed it.
	mustRun(t, "run", "--memory", "128m", busybox(), "dd", "if=/dev/zero", "of=/dev/null", "bs=32M", "count=1")
}

func TestDefaultMemoryFiles(t *testing.T) {
	r := mustRun(t, "run", "--memory", "64m", "--memory-reservation", "16m", "--memory-swap", "96m", busybox(),
		"sh", "-c", "cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/memory.low /sys/fs/cgroup/memory.swap.max")
	want := []string{"67108864", "16777216", "33554432"}
	if got := lines(r.stdout); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("memory.max, memory.low, memory.swap.max = %q, want %q", got, want)
	}
}

func TestDefaultPidsLimitStopsForkBomb(t *testing.T) {
	r := urun(t, nil, "run", "--pids-limit", "20", busybox(), "sh", "-c",
		`cat /sys/fs/cgroup/pids.max; i=0; while [ $i -lt 100 ]; do sleep 600 & i=$((i+1)); done; echo all-started`)
	if got := lines(r.stdout)[0]; got != "20" {
		t.Errorf("pids.max in the container = %q, want 20", got)
	}
	if strings.Contains(r.stdout, "all-started") || r.code == 0 {
		t.Errorf("100 processes started under --pids-limit 20: %s", r)
	}
	if !strings.Contains(r.stderr, "fork") {
		t.Errorf("the shell did not report a failed fork: %s", r)
	}
	// The host is unaffected: no sleep of the bomb is left, and forking works.
	out, err := exec.Command("pgrep", "-u", strconv.Itoa(os.Getuid()), "-x", "sleep").Output()
	if len(bytes.TrimSpace(out)) != 0 {
		t.Errorf("processes of the fork bomb left behind: %s (%v)", out, err)
	}
}

func TestDefaultCPU(t *testing.T) {
	r := mustRun(t, "run", "--cpus", "0.5", "--cpu-shares", "512", busybox(),
		"cat", "/sys/fs/cgroup/cpu.max", "/sys/fs/cgroup/cpu.weight")
	if got := lines(r.stdout); len(got) != 2 || got[0] != "50000 100000" || got[1] != "20" {
		t.Errorf("cpu.max, cpu.weight = %q, want [\"50000 100000\" \"20\"]", got)
	}
}

func TestDefaultOwnCgroupNamespace(t *testing.T) {
	r := mustRun(t, "run", "--pids-limit", "50", busybox(), "cat", "/proc/self/cgroup")
	if got := strings.TrimSpace(r.stdout); got != "0::/" {
		t.Errorf("/proc/self/cgroup in the container = %q, want 0::/ (its own namespace root)", got)
	}
}

func TestDefaultAttachFallback(t *testing.T) {
	// Kernels before 5.7 have no CLONE_INTO_CGROUP: the init is moved by
	// writing cgroup.procs before it sets the container up.
	r := urun(t, []string{"URUN_CGROUP_ATTACH=procs"}, "run", "--pids-limit", "20", busybox(),
		"cat", "/sys/fs/cgroup/pids.max", "/proc/self/cgroup")
	if got := lines(r.stdout); r.code != 0 || len(got) != 2 || got[0] != "20" || got[1] != "0::/" {
		t.Errorf("with cgroup.procs: want pids.max 20 and 0::/, got %s", r)
	}
}

func TestDefaultMissingControllerFails(t *testing.T) {
	// Debian's user@.service delegates cpu memory pids, not io.
	r := urun(t, nil, "run", "--blkio-weight", "500", busybox(), "true")
	if r.code != 125 || len(lines(r.stderr)) != 1 || !strings.Contains(r.stderr, "Delegate=") || !strings.Contains(r.stderr, "io") {
		t.Errorf("want one line naming io and the Delegate= fix, exit 125: %s", r)
	}
}

// startHeld starts a container that prints its host name (its id's
// first 12 characters, as in its scope's name) and waits on stdin.
func startHeld(t *testing.T) (*exec.Cmd, io.WriteCloser, string, chan error) {
	t.Helper()
	cmd := exec.Command(urunBin, "run", "-i", "--pids-limit", "50", busybox(), "sh", "-c", "hostname; read x; true")
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	host, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("reading the container's host name: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	return cmd, stdin, "urun-" + strings.TrimSpace(host) + ".scope", done
}

func TestDefaultScopeLifecycle(t *testing.T) {
	_, stdin, unit, done := startHeld(t)
	p := systemctlShow(t, unit, "ActiveState", "Delegate", "ControlGroup")
	if p["ActiveState"] != "active" || p["Delegate"] != "yes" {
		t.Errorf("scope %s while the container runs: %v, want active with Delegate=yes", unit, p)
	}
	procs, err := os.ReadFile(filepath.Join("/sys/fs/cgroup", p["ControlGroup"], "container", "cgroup.procs"))
	if err != nil || len(bytes.Fields(procs)) == 0 {
		t.Errorf("the container's cgroup has no process: %q %v", procs, err)
	}
	stdin.Close()
	if err := <-done; err != nil {
		t.Fatalf("container: %v", err)
	}
	waitScopeGone(t, unit)
}

func TestDefaultScopeGoneAfterUrunKilled(t *testing.T) {
	cmd, _, unit, done := startHeld(t)
	cmd.Process.Signal(syscall.SIGKILL)
	<-done
	waitScopeGone(t, unit)
}

// TestDefaultScopeCost measures what the cgroup costs per container: the
// D-Bus scope and the cgroupfs leaf as urun --debug reports them, and the
// whole run with and without a cgroup. It reports, never asserts a time.
func TestDefaultScopeCost(t *testing.T) {
	const n = 10
	re := regexp.MustCompile(`cgroup scope +([0-9.]+) ms \(connect ([0-9.]+)\), leaf +([0-9.]+) ms`)
	var scope, connect, leaf, with, without []float64
	for i := 0; i < n; i++ {
		start := time.Now()
		r := mustRun(t, "--debug", "run", "--pids-limit", "100", busybox(), "true")
		with = append(with, msSince(start))
		m := re.FindStringSubmatch(r.stderr)
		if m == nil {
			t.Fatalf("no cgroup timing in --debug output:\n%s", r.stderr)
		}
		s, _ := strconv.ParseFloat(m[1], 64)
		c, _ := strconv.ParseFloat(m[2], 64)
		l, _ := strconv.ParseFloat(m[3], 64)
		scope, connect, leaf = append(scope, s), append(connect, c), append(leaf, l)
		start = time.Now()
		mustRun(t, "run", "--cgroups=disabled", busybox(), "true")
		without = append(without, msSince(start))
	}
	fmt.Printf("URUN-VM-METRIC n=%d scope_ms_median=%.1f connect_ms_median=%.1f leaf_ms_median=%.1f run_with_cgroup_ms_median=%.1f run_without_ms_median=%.1f\n",
		n, median(scope), median(connect), median(leaf), median(with), median(without))
}

func TestNoCPUFailsWithFix(t *testing.T) {
	r := urun(t, nil, "run", "--cpus", "1", busybox(), "true")
	if r.code != 125 || len(lines(r.stderr)) != 1 || !strings.Contains(r.stderr, "cpu controller") || !strings.Contains(r.stderr, "Delegate=cpu") {
		t.Errorf("want one line naming the cpu controller and the Delegate= drop-in, exit 125: %s", r)
	}
}

func TestNoCPUBestEffortWarns(t *testing.T) {
	r := urun(t, nil, "run", "--cgroups=best-effort", "--cpus", "1", "--memory", "64m", busybox(),
		"sh", "-c", "cat /sys/fs/cgroup/memory.max; test -e /sys/fs/cgroup/cpu.max && echo has-cpu-max; true")
	if r.code != 0 || !strings.Contains(r.stderr, "warning") || !strings.Contains(r.stderr, "--cpus") {
		t.Fatalf("want a warning about --cpus and a run: %s", r)
	}
	if got := lines(r.stdout); got[0] != "67108864" || strings.Contains(r.stdout, "has-cpu-max") {
		t.Errorf("memory limit not applied, or cpu controller present: %q", got)
	}
}

func TestAllCpusetAndIO(t *testing.T) {
	r := mustRun(t, "run", "--cpuset-cpus", "0", "--blkio-weight", "1000", busybox(),
		"cat", "/sys/fs/cgroup/cpuset.cpus", "/sys/fs/cgroup/io.weight")
	if got := lines(r.stdout); len(got) != 2 || got[0] != "0" || got[1] != "default 10000" {
		t.Errorf("cpuset.cpus, io.weight = %q, want [0 \"default 10000\"]", got)
	}
}

func msSince(t time.Time) float64 { return float64(time.Since(t).Microseconds()) / 1000 }

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[len(s)/2]
}

func TestDefaultUsageReported(t *testing.T) {
	r := mustRun(t, "--debug", "run", "--memory", "128m", busybox(), "dd", "if=/dev/zero", "of=/dev/null", "bs=16M", "count=4")
	m := regexp.MustCompile(`cgroup usage: memory peak (-?[0-9]+) bytes, cpu ([0-9.]+) ms`).FindStringSubmatch(r.stderr)
	if m == nil {
		t.Fatalf("--debug does not report usage:\n%s", r.stderr)
	}
	peak, _ := strconv.ParseInt(m[1], 10, 64)
	cpu, _ := strconv.ParseFloat(m[2], 64)
	if peak < 16<<20 || peak > 128<<20 {
		t.Errorf("memory peak %d, want between the 16 MiB buffer and the 128 MiB limit", peak)
	}
	if cpu <= 0 {
		t.Errorf("cpu usage %v ms, want more than 0", cpu)
	}
}

// pause freezes a `urun run -d` container through cgroup.freeze of the
// cgroup the user's systemd delegated (issue 21): cgroup.events says
// frozen and the container's CPU time stands still until resume.
func TestDefaultPauseResume(t *testing.T) {
	r := mustRun(t, "run", "-d", busybox(), "sh", "-c", "while :; do :; done")
	id := strings.TrimSpace(r.stdout)
	defer urun(t, nil, "rm", "-f", id)
	cg := filepath.Join("/sys/fs/cgroup", systemctlShow(t, "urun-"+id[:12]+".scope", "ControlGroup")["ControlGroup"], "container")
	usage := func() string {
		time.Sleep(2 * time.Second)
		b, _ := os.ReadFile(filepath.Join(cg, "cpu.stat"))
		return strings.Fields(string(b) + " ?")[1] // usage_usec N
	}
	frozen := func() bool {
		b, _ := os.ReadFile(filepath.Join(cg, "cgroup.events"))
		return strings.Contains(string(b), "frozen 1")
	}
	mustRun(t, "pause", id)
	if a, b := usage(), usage(); a != b || !frozen() {
		t.Errorf("paused: CPU time %s then %s, frozen %v; want it still and frozen", a, b, frozen())
	}
	if r := urun(t, nil, "pause", id); r.code != 125 || !strings.Contains(r.stderr, "is paused, not running") {
		t.Errorf("pause of a paused container: %s", r)
	}
	mustRun(t, "resume", id)
	if a, b := usage(), usage(); a == b || frozen() {
		t.Errorf("resumed: CPU time %s then %s, frozen %v; want it counting", a, b, frozen())
	}
}
