package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// dirNames lists dir's entries ("" for a missing dir).
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

// A foreground --rm run clones its init before it registers the
// container and makes its writable layer (container.StartEarly). An
// error found after that clone (a name in use, a user the image does
// not have, a missing seccomp profile, a limit without a cgroup, after
// the state and the layer were made) ends the cloned init: the run
// says what it said with the late clone, in one line, exits 125, and
// leaves no process, no state and no layer.
func TestRunEarlyCloneErrors(t *testing.T) {
	state := filepath.Join(os.Getenv("XDG_RUNTIME_DIR"), "urun")
	home, _ := os.UserHomeDir()
	layers := filepath.Join(home, ".local", "share", "urun", "containers")
	mustRun(t, "create", "--name", "early-taken", busybox(), "true")
	defer urun(t, "rm", "-f", "early-taken")
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"name in use", []string{"--name", "early-taken"},
			`urun: the name "early-taken" is in use by container `},
		{"no such user", []string{"-u", "nosuchuser"},
			`urun: user "nosuchuser" not found in the image's /etc/passwd (give a numeric uid, or a name listed there)`},
		{"seccomp profile missing", []string{"--security-opt", "seccomp=/nonexistent/profile.json"},
			`urun: --security-opt seccomp: open /nonexistent/profile.json: no such file or directory`},
		// Found in the engine after reserve and the writable layer.
		{"limit without a cgroup", []string{"--cgroups=disabled", "--memory", "10m"},
			`urun: --memory needs a cgroup, and --cgroups=disabled gives none: drop one of them`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := myProcesses(t)
			states, uppers := dirNames(t, state), dirNames(t, layers)
			args := append(append([]string{"--debug", "run", "--rm", "--network", "none"}, c.args...), busybox(), "true")
			r := urun(t, args...)
			// The init was cloned before the error was found.
			if r.code != 125 || !strings.Contains(r.stderr, "urun: early clone") || !strings.Contains(r.stderr, c.want) {
				t.Fatalf("with --debug: want exit 125, the early clone's mark and %q: %s", c.want, r)
			}
			r = urun(t, append(append([]string{"run", "--rm", "--network", "none"}, c.args...), busybox(), "true")...)
			if r.code != 125 || len(lines(r.stderr)) != 1 || !strings.HasPrefix(r.stderr, c.want) {
				t.Fatalf("want exit 125 and one line %q: %s", c.want, r)
			}
			checkNoLeftovers(t, before)
			if got := dirNames(t, state); !slices.Equal(got, states) {
				t.Errorf("state root %s: %v, before the runs %v", state, got, states)
			}
			if got := dirNames(t, layers); !slices.Equal(got, uppers) {
				t.Errorf("writable layers %s: %v, before the runs %v", layers, got, uppers)
			}
		})
	}
}

// The early init is the container's: a run that uses it (the common
// case, shown by --debug's marks) runs as before: the exit status, and
// with -i the caller's stdin.
func TestRunEarlyCloneUsed(t *testing.T) {
	r := urun(t, "--debug", "run", "--rm", "--network", "none", busybox(), "sh", "-c", "exit 7")
	if r.code != 7 || !strings.Contains(r.stderr, "urun: early clone") || !strings.Contains(r.stderr, "urun: host set up") ||
		strings.Contains(r.stderr, "cloned again") {
		t.Fatalf("want exit 7 from the early-cloned init: %s", r)
	}
	cmd := exec.Command(urunBin, "--debug", "run", "--rm", "-i", "--network", "none", busybox(), "sh", "-c", "read l; echo got $l")
	cmd.Stdin = strings.NewReader("hello\n")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || string(out) != "got hello\n" || !strings.Contains(stderr.String(), "urun: early clone") {
		t.Fatalf("run -i: %v, stdout %q, stderr:\n%s", err, out, stderr.String())
	}
}
