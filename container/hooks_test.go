package container

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestRunHooks(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	st := &specs.State{Version: specs.Version, ID: "c1", Status: specs.StateCreated, Pid: 42, Bundle: "/b"}
	hooks := []specs.Hook{
		{Path: "/bin/sh", Args: []string{"sh", "-c", `cat > "$OUT"`}, Env: []string{"OUT=" + out}},
		{Path: "/bin/sh", Args: []string{"sh", "-c", `echo "$0 second" >> "$OUT"`}, Env: []string{"OUT=" + out}},
	}
	if err := RunHooks("prestart", hooks, st); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(out)
	js, rest, _ := strings.Cut(string(b), "}")
	var got specs.State
	if err := json.Unmarshal([]byte(js+"}"), &got); err != nil || got.ID != "c1" || got.Pid != 42 || got.Status != specs.StateCreated {
		t.Errorf("state on stdin: %q (%v)", js, err)
	}
	if rest != "sh second\n" {
		t.Errorf("second hook (argv[0] from args, in order): %q", rest)
	}

	one := 1
	failing := []specs.Hook{
		{Path: "/bin/sh", Args: []string{"sh", "-c", "echo broken >&2; exit 3"}},
		{Path: "/bin/sh", Args: []string{"sh", "-c", "touch " + filepath.Join(dir, "not-reached")}},
	}
	err := RunHooks("createRuntime", failing, st)
	if err == nil || !strings.Contains(err.Error(), "exit status 3") || !strings.Contains(err.Error(), "broken") {
		t.Errorf("failing hook: %v, want its status and output", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "not-reached")); err == nil {
		t.Error("a hook after a failing one ran")
	}
	err = RunHooks("poststart", []specs.Hook{{Path: "/bin/sleep", Args: []string{"sleep", "30"}, Timeout: &one}}, st)
	if err == nil || !strings.Contains(err.Error(), "timeout of 1s") {
		t.Errorf("hook past its timeout: %v", err)
	}
}
