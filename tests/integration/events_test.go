package integration

import (
	"encoding/json"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

type loggedEvent struct {
	ID, Name, Status, Type, Image string
	Attributes                    map[string]string
}

func eventsOf(t *testing.T, args ...string) []loggedEvent {
	t.Helper()
	r := mustRun(t, append([]string{"events", "--format", "json"}, args...)...)
	var evs []loggedEvent
	for _, l := range lines(r.stdout) {
		if l == "" {
			continue
		}
		var ev loggedEvent
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatalf("events line %q: %v", l, err)
		}
		evs = append(evs, ev)
	}
	return evs
}

func statuses(evs []loggedEvent) string {
	var s []string
	for _, ev := range evs {
		s = append(s, ev.Status)
	}
	return strings.Join(s, " ")
}

// TestEventsLifecycle: run -d, stop, rm and a foreground run --rm leave
// podman's events in order, with the exit code, within --since/--until.
func TestEventsLifecycle(t *testing.T) {
	since := strconv.FormatInt(time.Now().Add(-time.Second).Unix(), 10)
	mustRun(t, "run", "-d", "--name", "ev-d", busybox(), "sleep", "60")
	mustRun(t, "kill", "ev-d") // SIGKILL, docker's default
	mustRun(t, "wait", "ev-d")
	mustRun(t, "start", "ev-d")
	mustRun(t, "stop", "-t", "0", "ev-d")
	mustRun(t, "rename", "ev-d", "ev-d2")
	mustRun(t, "rm", "ev-d2")
	if r := urun(t, "run", "--rm", "--name", "ev-fg", busybox(), "sh", "-c", "exit 3"); r.code != 3 {
		t.Fatalf("run exit 3: %s", r)
	}
	until := time.Now().Add(time.Second).UTC().Format(time.RFC3339Nano)

	d := eventsOf(t, "--since", since, "--until", until, "--filter", "container=ev-d", "--filter", "container=ev-d2")
	want := "start kill died start died stop rename remove"
	if got := statuses(d); got != want {
		t.Fatalf("run -d/kill/start/stop/rename/rm events: %q, want %q", got, want)
	}
	if d[1].Attributes["signal"] != "9" || d[2].Attributes["exitCode"] != "137" {
		t.Errorf("kill: signal %q, died with exitCode %q, want 9 and 137", d[1].Attributes["signal"], d[2].Attributes["exitCode"])
	}
	if d[4].Attributes["exitCode"] != "137" && d[4].Attributes["exitCode"] != "143" {
		t.Errorf("died after stop -t 0: exitCode %q", d[4].Attributes["exitCode"])
	}
	if d[0].Type != "container" || d[0].Image != busybox() || d[0].ID == "" || d[6].Attributes["oldName"] != "ev-d" {
		t.Errorf("fields: %+v", d)
	}
	fg := eventsOf(t, "--since", since, "--until", until, "--filter", "container=ev-fg")
	if got := statuses(fg); got != "start died remove" || fg[1].Attributes["exitCode"] != "3" {
		t.Fatalf("run --rm exit 3 events: %+v", fg)
	}
	// Filters: event=die is docker's name for died.
	if got := eventsOf(t, "--since", since, "--until", until, "--filter", "container=ev-fg", "--filter", "event=die"); len(got) != 1 || got[0].Status != "died" {
		t.Errorf("--filter event=die: %+v", got)
	}
	// A window that ends before: nothing.
	if got := eventsOf(t, "--since", "10m", "--until", since, "--filter", "container=ev-fg"); len(got) != 0 {
		t.Errorf("--until before the run: %+v", got)
	}
	if r := urun(t, "events", "--since", "yesterday"); r.code != 125 || !strings.Contains(r.stderr, "--since") {
		t.Errorf("bad --since: %s", r)
	}
}

// TestEventsFollow: events without --until follows the log, sees a new
// container's start, and ends on SIGINT.
func TestEventsFollow(t *testing.T) {
	cmd := exec.Command(urunBin, "events", "--since", "0s", "--filter", "container=ev-follow", "--format", "{{.Status}} {{.Name}}")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	mustRun(t, "run", "--rm", "--name", "ev-follow", busybox(), "true")
	got := make(chan string, 1)
	go func() {
		var sb strings.Builder
		buf := make([]byte, 256)
		for !strings.Contains(sb.String(), "remove ev-follow") {
			n, err := out.Read(buf)
			sb.Write(buf[:n])
			if err != nil {
				break
			}
		}
		got <- sb.String()
	}()
	select {
	case s := <-got:
		if !strings.HasPrefix(s, "start ev-follow\ndied ev-follow\nremove ev-follow") {
			t.Fatalf("followed: %q", s)
		}
	case <-time.After(time.Minute):
		t.Fatal("events did not show the new container within a minute")
	}
	cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("events did not end on SIGINT")
	}
}
