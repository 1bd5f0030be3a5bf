package integration

// Health checks (issue 23): run by the container's supervisor (or the
// foreground urun), recorded in its state, shown by inspect and ps,
// run once by `urun healthcheck run`, acted on by --health-on-failure.

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// healthOf is `inspect`'s .State.Health of ref.
type healthOf struct {
	Status        string
	FailingStreak int
	Log           []struct {
		ExitCode int
		Output   string
	}
}

func inspectHealth(t *testing.T, ref string) healthOf {
	t.Helper()
	r := mustRun(t, "inspect", "-f", "{{json .State.Health}}", ref)
	var h healthOf
	if err := json.Unmarshal([]byte(r.stdout), &h); err != nil {
		t.Fatalf("inspect .State.Health of %s: %v\n%s", ref, err, r.stdout)
	}
	return h
}

func TestHealthcheck(t *testing.T) {
	before := myProcesses(t)

	// Periodic checks in the shared supervisor: healthy, in ps too,
	// seen by a new process each time (the state is on disk).
	ok := uniqueName(t, "ok")
	mustRun(t, "run", "-d", "--name", ok, "--network", "none", "--health-cmd", "echo fine", "--health-interval", "1s", busybox(), "sleep", "300")
	t.Cleanup(func() { urun(t, "rm", "-f", ok) })
	if h := inspectHealth(t, ok); h.Status != "starting" || len(h.Log) != 0 {
		t.Errorf("before its first check (after 1s): %+v, want starting with no log", h)
	}
	waitFor(t, func() bool { return inspectHealth(t, ok).Status == "healthy" })
	h := inspectHealth(t, ok)
	if h.FailingStreak != 0 || len(h.Log) == 0 || h.Log[0].ExitCode != 0 || h.Log[0].Output != "fine\n" {
		t.Errorf("a passing check: %+v", h)
	}
	if r := mustRun(t, "ps", "--filter", "name="+ok, "--format", "{{.Status}}"); !strings.HasSuffix(strings.TrimSpace(r.stdout), "(healthy)") {
		t.Errorf("ps STATUS of a healthy container: %q", r.stdout)
	}
	if r := mustRun(t, "ps", "-q", "--filter", "health=healthy", "--filter", "name="+ok); len(lines(r.stdout)) != 1 || r.stdout == "" {
		t.Errorf("ps --filter health=healthy: %q", r.stdout)
	}
	if r := mustRun(t, "ps", "-q", "--filter", "health=none", "--filter", "name="+ok); r.stdout != "" {
		t.Errorf("ps --filter health=none lists a container with a check: %q", r.stdout)
	}
	waitFor(t, func() bool { return len(inspectHealth(t, ok).Log) == 5 })
	if r := mustRun(t, "inspect", "-f", "{{.Config.Healthcheck.Test}} {{.Config.Healthcheck.Interval}} {{.Config.Healthcheck.Retries}}", ok); strings.TrimSpace(r.stdout) != "[CMD-SHELL echo fine] 1s 3" {
		t.Errorf(".Config.Healthcheck: %q", r.stdout)
	}

	// Unhealthy, and --health-on-failure=kill ends it (137).
	bad := uniqueName(t, "bad")
	mustRun(t, "run", "-d", "--name", bad, "--network", "none", "--health-cmd", `["CMD","false"]`, "--health-retries", "1",
		"--health-interval", "1s", "--health-on-failure", "kill", busybox(), "sleep", "300")
	t.Cleanup(func() { urun(t, "rm", "-f", bad) })
	if r := mustRun(t, "wait", bad); strings.TrimSpace(r.stdout) != "137" {
		t.Errorf("on-failure kill: the container exited %q, want 137", r.stdout)
	}
	if h := inspectHealth(t, bad); h.Status != "unhealthy" || h.FailingStreak != 1 || len(h.Log) != 1 || h.Log[0].ExitCode != 1 {
		t.Errorf("an unhealthy container: %+v", h)
	}

	// healthcheck run: a check now, with no interval; its own outcome
	// is the exit status; two failures (retries 2) make it unhealthy.
	man := uniqueName(t, "manual")
	mustRun(t, "run", "-d", "--name", man, "--network", "none", "--health-cmd", "test -e /tmp/ok", "--health-retries", "2",
		"--health-interval", "disable", busybox(), "sleep", "300")
	t.Cleanup(func() { urun(t, "rm", "-f", man) })
	if r := urun(t, "healthcheck", "run", man); r.code != 1 || strings.TrimSpace(r.stdout) != "unhealthy" {
		t.Errorf("healthcheck run of a failing check: %s", r)
	}
	if h := inspectHealth(t, man); h.Status != "starting" || h.FailingStreak != 1 {
		t.Errorf("after one failure of two: %+v, want starting, streak 1", h)
	}
	mustRun(t, "exec", man, "touch", "/tmp/ok")
	if r := urun(t, "healthcheck", "run", man); r.code != 0 || r.stdout != "" {
		t.Errorf("healthcheck run of a passing check: %s", r)
	}
	if h := inspectHealth(t, man); h.Status != "healthy" || h.FailingStreak != 0 || len(h.Log) != 2 {
		t.Errorf("after a pass: %+v", h)
	}
	if r := mustRun(t, "inspect", "-f", "{{.State.Healthcheck.Status}}", man); strings.TrimSpace(r.stdout) != "healthy" {
		t.Errorf("podman's old .State.Healthcheck: %q", r.stdout)
	}
	mustRun(t, "exec", man, "rm", "/tmp/ok")
	urun(t, "healthcheck", "run", man)
	urun(t, "healthcheck", "run", man)
	if r := mustRun(t, "ps", "--filter", "name="+man, "--format", "{{.Status}}"); !strings.HasSuffix(strings.TrimSpace(r.stdout), "(unhealthy)") {
		t.Errorf("ps STATUS after two failures: %q", r.stdout)
	}

	// The timeout kills the check: exit -1 and docker's message.
	slow := uniqueName(t, "slow")
	mustRun(t, "run", "-d", "--name", slow, "--network", "none", "--health-cmd", "sleep 100", "--health-timeout", "1s",
		"--health-interval", "disable", busybox(), "sleep", "300")
	t.Cleanup(func() { urun(t, "rm", "-f", slow) })
	if r := urun(t, "healthcheck", "run", slow); r.code != 1 {
		t.Errorf("healthcheck run of a check past its timeout: %s", r)
	}
	if h := inspectHealth(t, slow); len(h.Log) != 1 || h.Log[0].ExitCode != -1 || h.Log[0].Output != "Health check exceeded timeout (1s)" {
		t.Errorf("a check past its timeout: %+v", h)
	}
	if r := mustRun(t, "top", slow, "args"); strings.Contains(r.stdout, "sleep 100") {
		t.Errorf("the timed-out check still runs:\n%s", r.stdout)
	}

	// --health-on-failure=restart: the container starts again (a new
	// init, its tmpfs fresh, so the check passes).
	rs := uniqueName(t, "restart")
	mustRun(t, "run", "-d", "--name", rs, "--network", "none", "--tmpfs", "/run/h", "--health-cmd", "test ! -e /run/h/bad",
		"--health-retries", "1", "--health-interval", "disable", "--health-on-failure", "restart", "--stop-timeout", "1", busybox(), "sleep", "300")
	t.Cleanup(func() { urun(t, "rm", "-f", rs) })
	pid0 := psAll(t)[rs].Pid
	mustRun(t, "exec", rs, "touch", "/run/h/bad")
	if r := urun(t, "healthcheck", "run", rs); r.code != 1 {
		t.Errorf("healthcheck run turning it unhealthy: %s", r)
	}
	waitFor(t, func() bool { e := psAll(t)[rs]; return e.State == "running" && e.Pid != 0 && e.Pid != pid0 })
	if r := urun(t, "healthcheck", "run", rs); r.code != 0 {
		t.Errorf("after the restart the check should pass: %s", r)
	}

	// Errors: one line, 125, nothing made.
	plain := uniqueName(t, "plain")
	mustRun(t, "run", "-d", "--name", plain, "--network", "none", busybox(), "sleep", "300")
	t.Cleanup(func() { urun(t, "rm", "-f", plain) })
	if r := urun(t, "healthcheck", "run", plain); r.code != 125 || !strings.Contains(r.stderr, "no health check") || len(lines(r.stderr)) != 1 {
		t.Errorf("healthcheck run without a check: %s", r)
	}
	if r := mustRun(t, "inspect", "-f", "[{{.State.Health.Status}}]", plain); strings.TrimSpace(r.stdout) != "[]" {
		t.Errorf(".State.Health.Status without a check: %q", r.stdout)
	}
	if r := mustRun(t, "ps", "-q", "--filter", "health=none", "--filter", "name="+plain); r.stdout == "" {
		t.Error("ps --filter health=none does not list a container without a check")
	}
	mustRun(t, "stop", "-t", "0", man)
	if r := urun(t, "healthcheck", "run", man); r.code != 125 || !strings.Contains(r.stderr, "not running") {
		t.Errorf("healthcheck run of a stopped container: %s", r)
	}
	for _, args := range [][]string{
		{"--health-cmd", "true", "--health-retries", "0"},
		{"--health-cmd", "true", "--no-healthcheck"},
		{"--health-cmd", "true", "--health-interval", "often"},
		{"--health-cmd", "true", "--health-timeout", "10ms"},
		{"--health-cmd", "true", "--health-on-failure", "explode"},
		{"--health-cmd", ""},
	} {
		name := uniqueName(t, "refused")
		r := urun(t, append(append([]string{"create", "--name", name}, args...), busybox(), "true")...)
		if r.code != 125 || len(lines(r.stderr)) != 1 || !strings.Contains(r.stderr, "health") {
			t.Errorf("create %v: want one line about it and 125, got %s", args, r)
		}
		if _, ok := psAll(t)[name]; ok {
			t.Errorf("create %v left a container", args)
			urun(t, "rm", "-f", name)
		}
	}

	// A foreground run checks too.
	fg := uniqueName(t, "fg")
	cmd := exec.Command(urunBin, "run", "--rm", "--name", fg, "--network", "none", "--health-cmd", "true", "--health-interval", "1s", busybox(), "sleep", "300")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { _, ok := psAll(t)[fg]; return ok && inspectHealth(t, fg).Status == "healthy" })
	mustRun(t, "rm", "-f", fg)
	cmd.Wait()

	// A foreground run's restart: that run ends, the container starts
	// again detached (as podman's attached run).
	fgr := uniqueName(t, "fgrestart")
	cmd = exec.Command(urunBin, "run", "--name", fgr, "--network", "none", "--tmpfs", "/run/h", "--health-cmd", "test ! -e /run/h/bad",
		"--health-retries", "1", "--health-interval", "disable", "--health-on-failure", "restart", "--stop-timeout", "1", busybox(), "sleep", "300")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { urun(t, "rm", "-f", fgr) })
	waitFor(t, func() bool { return psAll(t)[fgr].State == "running" })
	pid0 = psAll(t)[fgr].Pid
	mustRun(t, "exec", fgr, "touch", "/run/h/bad")
	if r := urun(t, "healthcheck", "run", fgr); r.code != 1 {
		t.Errorf("healthcheck run turning the foreground container unhealthy: %s", r)
	}
	if err := cmd.Wait(); err == nil {
		t.Error("the foreground run of a container restarted for its health exited 0, want the killed status")
	}
	waitFor(t, func() bool { e := psAll(t)[fgr]; return e.State == "running" && e.Pid != 0 && e.Pid != pid0 })

	mustRun(t, "rm", "-f", ok, bad, man, slow, rs, plain, fgr)
	checkNoLeftovers(t, before)
}

// The image's HEALTHCHECK applies unless the flags override it or
// --no-healthcheck drops it (the config's Healthcheck, as BuildKit
// writes it into an OCI config too).
func TestImageHealthcheck(t *testing.T) {
	img := "oci:" + imageWithHealthcheck(t, `{"Test":["CMD-SHELL","test -d /etc"],"Interval":1000000000,"Retries":2}`)
	name := uniqueName(t, "img")
	mustRun(t, "run", "-d", "--name", name, "--network", "none", img, "sleep", "300")
	t.Cleanup(func() { urun(t, "rm", "-f", name) })
	if r := mustRun(t, "inspect", "-f", "{{.Config.Healthcheck.Test}} {{.Config.Healthcheck.Interval}} {{.Config.Healthcheck.Timeout}} {{.Config.Healthcheck.Retries}}", name); strings.TrimSpace(r.stdout) != "[CMD-SHELL test -d /etc] 1s 30s 2" {
		t.Errorf("the image's HEALTHCHECK: %q", r.stdout)
	}
	waitFor(t, func() bool { return inspectHealth(t, name).Status == "healthy" })
	if r := mustRun(t, "image", "inspect", "-f", "{{json .Config.Healthcheck}}", img); !strings.Contains(r.stdout, `"test -d /etc"`) {
		t.Errorf("image inspect .Config.Healthcheck: %q", r.stdout)
	}

	over := uniqueName(t, "over")
	mustRun(t, "create", "--name", over, "--health-retries", "5", img, "true")
	t.Cleanup(func() { urun(t, "rm", "-f", over) })
	if r := mustRun(t, "inspect", "-f", "{{.Config.Healthcheck.Test}} {{.Config.Healthcheck.Retries}}", over); strings.TrimSpace(r.stdout) != "[CMD-SHELL test -d /etc] 5" {
		t.Errorf("a flag over the image's HEALTHCHECK: %q", r.stdout)
	}
	none := uniqueName(t, "none")
	mustRun(t, "create", "--name", none, "--no-healthcheck", img, "true")
	t.Cleanup(func() { urun(t, "rm", "-f", none) })
	if r := mustRun(t, "inspect", "-f", "[{{.State.Health.Status}}]", none); strings.TrimSpace(r.stdout) != "[]" {
		t.Errorf("--no-healthcheck: %q", r.stdout)
	}
	mustRun(t, "rm", "-f", name, over, none)
}

// imageWithHealthcheck is a copy of the busybox layout whose config has
// the Healthcheck hc: new config and manifest blobs, a new index.
func imageWithHealthcheck(t *testing.T, hc string) string {
	t.Helper()
	src := filepath.Join(imagesDir, "busybox")
	dst := filepath.Join(t.TempDir(), "hc")
	if out, err := exec.Command("cp", "-r", src, dst).CombinedOutput(); err != nil {
		t.Fatalf("copying the layout: %v %s", err, out)
	}
	readJSON := func(p string, v any) {
		b, err := os.ReadFile(p)
		if err == nil {
			err = json.Unmarshal(b, v)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	blob := func(d string) string { return filepath.Join(dst, "blobs", "sha256", strings.TrimPrefix(d, "sha256:")) }
	put := func(b []byte) (string, int) {
		sum := sha256.Sum256(b)
		d := "sha256:" + hex.EncodeToString(sum[:])
		if err := os.WriteFile(blob(d), b, 0o644); err != nil {
			t.Fatal(err)
		}
		return d, len(b)
	}
	var index map[string]any
	readJSON(filepath.Join(dst, "index.json"), &index)
	mdesc := index["manifests"].([]any)[0].(map[string]any)
	var manifest map[string]any
	readJSON(blob(mdesc["digest"].(string)), &manifest)
	cdesc := manifest["config"].(map[string]any)
	var config map[string]any
	readJSON(blob(cdesc["digest"].(string)), &config)
	var h any
	if err := json.Unmarshal([]byte(hc), &h); err != nil {
		t.Fatal(err)
	}
	config["config"].(map[string]any)["Healthcheck"] = h
	b, _ := json.Marshal(config)
	cdesc["digest"], cdesc["size"] = put(b)
	b, _ = json.Marshal(manifest)
	mdesc["digest"], mdesc["size"] = put(b)
	b, _ = json.Marshal(index)
	if err := os.WriteFile(filepath.Join(dst, "index.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dst
}
