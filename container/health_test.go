package container

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseHealthCmd(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
		err  string
	}{
		{in: "curl -f http://localhost/ || exit 1", want: []string{"CMD-SHELL", "curl -f http://localhost/ || exit 1"}},
		{in: "true", want: []string{"CMD-SHELL", "true"}},
		{in: `["CMD","pg_isready","-U","postgres"]`, want: []string{"CMD", "pg_isready", "-U", "postgres"}},
		{in: `["cmd-shell","exit 0"]`, want: []string{"CMD-SHELL", "exit 0"}},
		{in: `["/bin/check","--quick"]`, want: []string{"CMD", "/bin/check", "--quick"}},
		{in: `["check it"]`, want: []string{"CMD-SHELL", "check it"}},
		// A shell test, not JSON.
		{in: "[ -e /tmp/ready ]", want: []string{"CMD-SHELL", "[ -e /tmp/ready ]"}},
		{in: "none", want: nil},
		{in: "NONE", want: nil},
		{in: `["NONE"]`, want: nil},
		{in: "", err: "empty"},
		{in: `[]`, err: "empty"},
		{in: `["CMD"]`, err: "needs a command"},
	} {
		got, err := ParseHealthCmd(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("ParseHealthCmd(%q): err %v, want one with %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("ParseHealthCmd(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}

func TestHealthCommand(t *testing.T) {
	c := &HealthConfig{Test: []string{"CMD-SHELL", "echo a", "b"}}
	if got := c.Command(); !reflect.DeepEqual(got, []string{"/bin/sh", "-c", "echo a b"}) {
		t.Errorf("CMD-SHELL: %q", got)
	}
	c.Test = []string{"CMD", "echo", "a b"}
	if got := c.Command(); !reflect.DeepEqual(got, []string{"echo", "a b"}) {
		t.Errorf("CMD: %q", got)
	}
	for _, test := range [][]string{nil, {"CMD"}, {"NONE"}, {"whatever", "x"}} {
		if got := (&HealthConfig{Test: test}).Command(); got != nil {
			t.Errorf("%q: command %q, want none", test, got)
		}
	}
}

func TestResolveHealth(t *testing.T) {
	img := &ImageHealthcheck{Test: []string{"CMD", "/check"}, Interval: 5 * time.Second, Retries: 4}
	// The image's check, with docker's defaults for what it leaves unset.
	c, err := ResolveHealth(img, HealthFlags{})
	if err != nil || !reflect.DeepEqual(c, &HealthConfig{Test: []string{"CMD", "/check"}, Interval: 5 * time.Second, Timeout: DefaultHealthTimeout, Retries: 4}) {
		t.Errorf("image only: %+v, %v", c, err)
	}
	// Flags override field by field.
	c, err = ResolveHealth(img, HealthFlags{Retries: 1, RetriesSet: true, Timeout: "2s", TimeoutSet: true, OnFailure: "kill"})
	if err != nil || c.Retries != 1 || c.Timeout != 2*time.Second || c.Interval != 5*time.Second || c.OnFailure != "kill" || c.Test[1] != "/check" {
		t.Errorf("flags over the image: %+v, %v", c, err)
	}
	c, err = ResolveHealth(img, HealthFlags{Cmd: "true", CmdSet: true, Interval: "disable", IntervalSet: true, StartPeriod: "1m", StartSet: true})
	if err != nil || c.Interval != 0 || c.StartPeriod != time.Minute || !reflect.DeepEqual(c.Test, []string{"CMD-SHELL", "true"}) {
		t.Errorf("--health-cmd and --health-interval disable: %+v, %v", c, err)
	}
	// No check: none at all, the image's dropped, the image's NONE.
	for _, tc := range []struct {
		img *ImageHealthcheck
		f   HealthFlags
	}{
		{nil, HealthFlags{}},
		{nil, HealthFlags{Interval: "1s", IntervalSet: true}},
		{img, HealthFlags{NoHealthcheck: true}},
		{img, HealthFlags{Cmd: "none", CmdSet: true}},
		{&ImageHealthcheck{Test: []string{"NONE"}}, HealthFlags{}},
	} {
		if c, err := ResolveHealth(tc.img, tc.f); c != nil || err != nil {
			t.Errorf("%+v %+v: %+v, %v; want no check", tc.img, tc.f, c, err)
		}
	}
	c, err = ResolveHealth(nil, HealthFlags{Cmd: "true", CmdSet: true})
	if err != nil || c.Interval != DefaultHealthInterval || c.Timeout != DefaultHealthTimeout || c.Retries != DefaultHealthRetries || c.StartPeriod != 0 {
		t.Errorf("defaults: %+v, %v", c, err)
	}
	for _, f := range []HealthFlags{
		{Cmd: "true", CmdSet: true, NoHealthcheck: true},
		{Cmd: "true", CmdSet: true, Retries: 0, RetriesSet: true},
		{Cmd: "true", CmdSet: true, Interval: "soon", IntervalSet: true},
		{Cmd: "true", CmdSet: true, Interval: "-1s", IntervalSet: true},
		{Cmd: "true", CmdSet: true, Timeout: "500ms", TimeoutSet: true},
		{Cmd: "true", CmdSet: true, Timeout: "disable", TimeoutSet: true},
		{Cmd: "true", CmdSet: true, StartPeriod: "-5s", StartSet: true},
		{Cmd: "true", CmdSet: true, OnFailure: "reboot"},
		{Cmd: `["CMD"]`, CmdSet: true},
	} {
		if _, err := ResolveHealth(nil, f); err == nil {
			t.Errorf("%+v: accepted", f)
		}
	}
	if _, err := ResolveHealth(&ImageHealthcheck{Test: []string{"BOGUS", "x"}}, HealthFlags{}); err == nil {
		t.Error("an image test of an unknown kind: accepted")
	}
}

func TestParseImageHealthcheck(t *testing.T) {
	h, err := ParseImageHealthcheck([]byte(`{"Test":["CMD-SHELL","curl -f localhost"],"Interval":30000000000,"Timeout":3000000000,"StartPeriod":0,"Retries":3}`))
	if err != nil || h.Interval != 30*time.Second || h.Timeout != 3*time.Second || h.Retries != 3 || h.Test[1] != "curl -f localhost" {
		t.Errorf("%+v, %v", h, err)
	}
	if h, err := ParseImageHealthcheck(nil); h != nil || err != nil {
		t.Errorf("none: %+v, %v", h, err)
	}
	if _, err := ParseImageHealthcheck([]byte(`{"Test":"x"}`)); err == nil {
		t.Error("a malformed HEALTHCHECK: accepted")
	}
}

// The state machine, step by step, against docker's rules.
func TestHealthRecord(t *testing.T) {
	started := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return started.Add(time.Duration(s) * time.Second) }
	pass := func(s int) HealthResult { return HealthResult{Start: at(s), End: at(s), ExitCode: 0} }
	fail := func(s int) HealthResult { return HealthResult{Start: at(s), End: at(s), ExitCode: 1} }
	c := &HealthConfig{Retries: 2, StartPeriod: 10 * time.Second}
	h := &Health{Status: HealthStarting}
	type step struct {
		r      HealthResult
		status string
		streak int
		turned bool
	}
	for i, s := range []step{
		{fail(1), HealthStarting, 0, false}, // in the start period: not counted
		{fail(5), HealthStarting, 0, false},
		{fail(11), HealthStarting, 1, false}, // past it: counted
		{fail(12), HealthUnhealthy, 2, true}, // retries reached
		{fail(13), HealthUnhealthy, 3, false},
		{pass(14), HealthHealthy, 0, false},
		{fail(15), HealthHealthy, 1, false},
		{fail(16), HealthUnhealthy, 2, true},
	} {
		turned := h.Record(s.r, c, started)
		if h.Status != s.status || h.FailingStreak != s.streak || turned != s.turned {
			t.Fatalf("step %d: %s streak %d turned %v; want %s %d %v", i, h.Status, h.FailingStreak, turned, s.status, s.streak, s.turned)
		}
	}
	if len(h.Log) != HealthLogEntries || !h.Log[len(h.Log)-1].Start.Equal(at(16)) || !h.Log[0].Start.Equal(at(12)) {
		t.Errorf("the log keeps the last %d: %+v", HealthLogEntries, h.Log)
	}
	// Healthy once: a failure in the start period counts then (docker
	// waives only while starting).
	h = &Health{Status: HealthStarting}
	h.Record(pass(1), c, started)
	h.Record(fail(2), c, started)
	if h.FailingStreak != 1 || h.Status != HealthHealthy {
		t.Errorf("a failure after a pass within the start period: %+v", h)
	}
	// A timed-out check (-1) is a failure.
	h = &Health{}
	if !h.Record(HealthResult{ExitCode: -1, Start: at(1)}, &HealthConfig{Retries: 1}, started) || h.Status != HealthUnhealthy {
		t.Errorf("-1 with retries 1: %+v", h)
	}
}

func TestTruncateHealthOutput(t *testing.T) {
	if got := TruncateHealthOutput([]byte("ok\n")); got != "ok\n" {
		t.Errorf("%q", got)
	}
	long := strings.Repeat("x", HealthOutputMax+10)
	if got := TruncateHealthOutput([]byte(long)); len(got) != HealthOutputMax+3 || !strings.HasSuffix(got, "x...") {
		t.Errorf("cut to %d bytes, ending %q", len(got), got[len(got)-5:])
	}
	if got := TruncateHealthOutput([]byte(long[:HealthOutputMax])); got != long[:HealthOutputMax] {
		t.Error("exactly the limit was cut")
	}
}
