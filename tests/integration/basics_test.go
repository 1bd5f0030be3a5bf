package integration

import (
	"os"
	"strings"
	"testing"
)

// The suite is only meaningful as an ordinary user: this guards the harness.
func TestRunsUnprivileged(t *testing.T) {
	if os.Getuid() == 0 || os.Geteuid() == 0 {
		t.Fatalf("integration tests run as uid %d: they must run as the unprivileged test user", os.Getuid())
	}
	t.Logf("running as uid %d gid %d", os.Getuid(), os.Getgid())
}

func TestCLIBadInput(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown flag", []string{"run", "--no-such-flag", busybox(), "true"}, "unknown flag"},
		{"unknown command", []string{"frobnicate"}, `unknown command "frobnicate"`},
		{"missing image", []string{"run"}, "needs an IMAGE"},
		{"unknown global flag", []string{"--bogus", "run"}, "unknown flag"},
		{"bad userns", []string{"run", "--userns=weird", busybox(), "true"}, "--userns"},
		{"missing layout", []string{"run", "oci:/nonexistent/layout", "true"}, "not an OCI image layout"},
		{"bad volume", []string{"run", "-v", "/tmp:relative", busybox(), "true"}, "absolute"},
		{"bad ulimit", []string{"run", "--ulimit", "nofile=abc", busybox(), "true"}, "nofile=abc"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := urun(t, tc.args...)
			if r.code != 125 {
				t.Errorf("exit %d, want 125\n%s", r.code, r)
			}
			ls := lines(r.stderr)
			if len(ls) != 1 || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("stderr should be one line containing %q, got %q", tc.want, r.stderr)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	r := mustRun(t, "--help")
	for _, w := range []string{"run", "version", "Usage: urun"} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("urun --help lacks %q:\n%s", w, r.stdout)
		}
	}
	r = mustRun(t, "run", "--help")
	for _, w := range []string{"--tty", "--interactive", "--env", "--volume", "--userns", "--workdir", "--user", "--entrypoint", "--cap-add", "--read-only"} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("urun run --help lacks %q", w)
		}
	}
	// Every flag has one line of help text.
	for _, l := range lines(r.stdout) {
		if strings.HasPrefix(strings.TrimSpace(l), "-") && len(strings.Fields(l)) < 3 {
			t.Errorf("flag without help: %q", l)
		}
	}
	r = mustRun(t, "version")
	if !strings.HasPrefix(r.stdout, "urun version ") || !strings.Contains(r.stdout, "go: go1.") {
		t.Errorf("urun version:\n%s", r.stdout)
	}
}
