package integration

import (
	"strings"
	"testing"
)

// These run on the development and CI hosts, which cannot delegate cgroups
// to an ordinary user (hybrid cgroups, no systemd, no user bus): a limit
// must fail with the cause and fix, never be dropped silently. The limits
// themselves are tested in a VM with systemd (tests/vm).

func TestCgroupNoLimitsRunsQuietly(t *testing.T) {
	r := mustRun(t, "run", busybox(), "echo", "hi")
	if r.stdout != "hi\n" || r.stderr != "" {
		t.Errorf("a run without limits should print only its output: %s", r)
	}
	// --debug says why there is no cgroup.
	r = mustRun(t, "--debug", "run", busybox(), "true")
	if !strings.Contains(r.stderr, "no cgroup for the container: ") {
		t.Errorf("--debug does not say why the container has no cgroup:\n%s", r.stderr)
	}
}

func TestCgroupLimitFailsWithFix(t *testing.T) {
	before := myProcesses(t)
	dirsBefore := stateDirs(t)
	for _, flags := range [][]string{
		{"--memory", "32m"},
		{"--pids-limit", "20"},
		{"--cpus", "0.5"},
		{"--memory", "64m", "--memory-swap", "-1", "--cpu-shares", "512"},
	} {
		t.Run(strings.Join(flags, " "), func(t *testing.T) {
			args := append(append([]string{"run"}, flags...), busybox(), "echo", "ran")
			r := urun(t, args...)
			if r.code != 125 || strings.Contains(r.stdout, "ran") {
				t.Fatalf("want exit 125 without running: %s", r)
			}
			if len(lines(r.stderr)) != 1 || !strings.Contains(r.stderr, flags[0]+" ") ||
				!strings.Contains(r.stderr, "needs a cgroup") || !strings.Contains(r.stderr, "fix:") ||
				!strings.Contains(r.stderr, "--cgroups=best-effort") {
				t.Errorf("want one line naming %s, the cause, the fix and --cgroups=best-effort: %q", flags[0], r.stderr)
			}
		})
	}
	checkNoLeftovers(t, before)
	checkNoContainerDirs(t, dirsBefore)
}

func TestCgroupBestEffortWarns(t *testing.T) {
	r := mustRun(t, "run", "--cgroups=best-effort", "--memory", "32m", "--pids-limit", "20", busybox(), "echo", "ran")
	if r.stdout != "ran\n" {
		t.Errorf("the container did not run: %s", r)
	}
	if ls := lines(r.stderr); len(ls) != 1 || !strings.HasPrefix(ls[0], "urun: warning: running without --memory and --pids-limit: ") {
		t.Errorf("want one warning naming both flags and the cause: %q", r.stderr)
	}
}

func TestCgroupDisabled(t *testing.T) {
	r := mustRun(t, "run", "--cgroups=disabled", busybox(), "echo", "ran")
	if r.stdout != "ran\n" || r.stderr != "" {
		t.Errorf("--cgroups=disabled: %s", r)
	}
	r = urun(t, "run", "--cgroups=disabled", "--pids-limit", "20", busybox(), "true")
	if r.code != 125 || len(lines(r.stderr)) != 1 || !strings.Contains(r.stderr, "--pids-limit") {
		t.Errorf("a limit with --cgroups=disabled must be an error: %s", r)
	}
}

func TestCgroupBadFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--memory", "lots"}, "--memory"},
		{[]string{"--cpus", "-1"}, "--cpus"},
		{[]string{"--cgroups", "split"}, "--cgroups"},
		{[]string{"--memory-swap", "1g"}, "needs --memory"},
		{[]string{"--cpuset-cpus", "x"}, "--cpuset-cpus"},
	} {
		args := append(append([]string{"run"}, tc.args...), busybox(), "true")
		r := urun(t, args...)
		if r.code != 125 || len(lines(r.stderr)) != 1 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: want exit 125 and one line with %q: %s", tc.args, tc.want, r)
		}
	}
}

func TestCgroupDryRunShowsResources(t *testing.T) {
	r := mustRun(t, "run", "--dry-run", "--memory", "64m", "--pids-limit", "20", "--cpus", "0.5", busybox(), "true")
	for _, w := range []string{`"limit": 67108864`, `"quota": 50000`, `"period": 100000`, `"pids": {`} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("--dry-run config lacks %s", w)
		}
	}
}

// A detached container's supervisor sets its cgroup up: the error reaches
// the front, and no container is registered.
func TestCgroupDetachedLimitFails(t *testing.T) {
	r := urun(t, "run", "-d", "--name", "cglimit", "--memory", "32m", busybox(), "sleep", "60")
	if r.code != 125 || len(lines(r.stderr)) != 1 || !strings.Contains(r.stderr, "needs a cgroup") {
		t.Errorf("run -d --memory: want exit 125 and one line with the cause: %s", r)
	}
	if _, ok := psAll(t)["cglimit"]; ok {
		t.Errorf("a container that never started is listed by ps -a")
		urun(t, "rm", "-f", "cglimit")
	}
}
