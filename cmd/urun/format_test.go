package main

import (
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/urun-dev/urun/container"
)

func TestPsTemplates(t *testing.T) {
	e := psEntry{ID: strings.Repeat("ab", 32), Names: []string{"web"}, Image: "busybox", State: "running",
		Status: "Up 1 second", Labels: map[string]string{"team": "ci"}, Created: time.Now()}
	for format, want := range map[string]string{
		`{{.Names}}`:                   "web\n",
		`{{.ID}}`:                      "abababababab\n",
		`{{.Names}}\t{{.State}}`:       "web\trunning\n",
		`{{json .Names}}`:              "\"web\"\n",
		`{{.Label "team"}}`:            "ci\n",
		`{{upper .Names}}`:             "WEB\n",
		`table {{.ID}}\t{{.Names}}`:    "CONTAINER ID  NAMES\nabababababab  web\n",
		`table {{.Image}} {{.Status}}`: "IMAGE STATUS\nbusybox Up 1 second\n",
	} {
		var b strings.Builder
		if err := printPs(&b, []psEntry{e}, false, format, false); err != nil {
			t.Fatalf("%s: %v", format, err)
		}
		if b.String() != want {
			t.Errorf("ps --format %q = %q, want %q", format, b.String(), want)
		}
	}
	var b strings.Builder
	if err := printPs(&b, []psEntry{e}, true, "", false); err != nil || b.String() != "abababababab\n" {
		t.Errorf("ps -q = %q, %v", b.String(), err)
	}
	if err := printPs(&b, nil, false, "{{.Nope}}", false); err != nil {
		t.Errorf("a template over no rows: %v", err)
	}
	if err := printPs(&b, []psEntry{e}, false, "{{.Nope}}", false); err == nil {
		t.Error("an unknown field is not an error")
	}
}

func TestPsFilter(t *testing.T) {
	list := []psEntry{
		{ID: "aaaa", Names: []string{"web"}, State: "running", Image: "docker.io/library/busybox:latest", Labels: map[string]string{"a": "1"}},
		{ID: "bbbb", Names: []string{"db"}, State: "exited", Exited: true, ExitCode: 3, Image: "alpine"},
	}
	for filter, want := range map[string][]string{
		"name=we": {"aaaa"}, "status=exited": {"bbbb"}, "label=a": {"aaaa"}, "label=a=2": nil,
		"id=bb": {"bbbb"}, "ancestor=busybox": {"aaaa"}, "exited=3": {"bbbb"},
	} {
		m, err := parseFilters([]string{filter})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range m.apply(list) {
			got = append(got, e.ID)
		}
		if !slices.Equal(got, want) {
			t.Errorf("--filter %s = %v, want %v", filter, got, want)
		}
	}
	if _, err := parseFilters([]string{"colour=red"}); err == nil {
		t.Error("an unknown filter key is accepted")
	}
}

func TestDockerForms(t *testing.T) {
	for in, want := range map[string]string{
		"container ls -a": "ps -a", "container rm -f x": "rm -f x", "container prune": "container prune",
		"image ls": "images", "image rm x": "rmi x", "image inspect x": "inspect x", "run x": "run x",
	} {
		if got := strings.Join(dockerForms(strings.Fields(in)), " "); got != want {
			t.Errorf("dockerForms(%q) = %q, want %q", in, got, want)
		}
	}
	if got := didYouMean("rnu", commandNames()); got != ` (did you mean "run"?)` {
		t.Errorf("didYouMean(rnu) = %q", got)
	}
	if got := didYouMean("zzzzzz", commandNames()); got != "" {
		t.Errorf("didYouMean(zzzzzz) = %q", got)
	}
}

func TestSplitCtrPath(t *testing.T) {
	for in, want := range map[string][3]string{
		"web:/etc/x": {"web", "/etc/x", "true"}, "web:rel": {"web", "/rel", "true"},
		"./a:b": {"", "./a:b", "false"}, "/abs:x": {"", "/abs:x", "false"}, "-": {"", "-", "false"},
		"plain": {"", "plain", "false"},
	} {
		c, p, ok := splitCtrPath(in)
		if got := [3]string{c, p, map[bool]string{true: "true", false: "false"}[ok]}; got != want {
			t.Errorf("splitCtrPath(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestCheckPlatform(t *testing.T) {
	for _, ok := range []string{"", "linux", hostPlatform(), runtime.GOARCH, hostPlatform() + "/v8"} {
		if err := checkPlatform(ok); err != nil {
			t.Errorf("checkPlatform(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"windows/amd64", "linux/s390x", "s390x", "darwin"} {
		if err := checkPlatform(bad); err == nil {
			t.Errorf("checkPlatform(%q): no error", bad)
		}
	}
}

// ps shows health as docker does, and --filter health= matches it.
func TestPsHealth(t *testing.T) {
	started := time.Now().Add(-5 * time.Second)
	st := func(name string, hc bool, status string) *container.State {
		s := &container.State{Name: name, StartedAt: started, Created: started}
		s.ID, s.Status, s.Pid = name+strings.Repeat("0", 12), "running", 1
		if hc {
			s.Healthcheck = &container.HealthConfig{Test: []string{"CMD", "true"}}
			if status != "" {
				s.Health = &container.Health{Status: status}
			}
		}
		return s
	}
	var list []psEntry
	for _, c := range []struct {
		st   *container.State
		want string
	}{
		{st("plain", false, ""), "Up 5 seconds"},
		{st("fresh", true, ""), "Up 5 seconds (health: starting)"},
		{st("good", true, container.HealthHealthy), "Up 5 seconds (healthy)"},
		{st("sick", true, container.HealthUnhealthy), "Up 5 seconds (unhealthy)"},
	} {
		e := entryOf(c.st)
		if e.Status != c.want {
			t.Errorf("%s: STATUS %q, want %q", c.st.Name, e.Status, c.want)
		}
		list = append(list, e)
	}
	for filter, want := range map[string][]string{
		"health=none": {"plain"}, "health=starting": {"fresh"}, "health=healthy": {"good"}, "health=unhealthy": {"sick"},
	} {
		m, err := parseFilters([]string{filter})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range m.apply(list) {
			got = append(got, e.Names[0])
		}
		if !slices.Equal(got, want) {
			t.Errorf("--filter %s = %v, want %v", filter, got, want)
		}
	}
	if _, err := parseFilters([]string{"health=great"}); err == nil {
		t.Error("--filter health=great is accepted")
	}
}
