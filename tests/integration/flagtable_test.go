package integration

import (
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// Every flag podman's `run --help` lists is in urun's run flag table
// (docs/RUN-FLAGS.md, generated from the flag set): supported, or refused
// with a reason; a refused one is exit 125 and one line (issue 23).
func TestPodmanRunFlagsCovered(t *testing.T) {
	if _, err := exec.LookPath("podman"); err != nil {
		t.Log("TODO: podman not installed here; the harness installs it (tests/harness/lib.sh)")
		return
	}
	out, err := exec.Command("podman", "run", "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("podman run --help: %v\n%s", err, out)
	}
	names := regexp.MustCompile(`(?m)^\s+(?:-\w, )?--([a-z0-9-]+)`).FindAllStringSubmatch(string(out), -1)
	if len(names) < 100 {
		t.Fatalf("only %d flags parsed from podman run --help:\n%s", len(names), out)
	}
	table := urun(t, "__flag-table", "run")
	if table.code != 0 {
		t.Fatalf("urun __flag-table run: %s", table)
	}
	status := map[string]string{}
	for _, m := range regexp.MustCompile("(?m)^\\| `--([a-z0-9-]+)` \\|[^|]*\\| (supported|refused) \\|").FindAllStringSubmatch(table.stdout, -1) {
		status[m[1]] = m[2]
	}
	supported, refused := 0, 0
	for _, n := range names {
		switch status[n[1]] {
		case "supported":
			supported++
		case "refused":
			refused++
		default:
			if n[1] != "help" { // urun's --help is the command's, outside the flag set
				t.Errorf("podman run --%s is neither supported nor refused by urun", n[1])
			}
		}
	}
	t.Logf("podman run flags: %d; urun supports %d, refuses %d with a reason", len(names), supported, refused)
	for _, flag := range []string{"--annotation=a=b", "--sig-proxy=false", "--pod", "-a", "--replace", "--no-hosts"} {
		r := urun(t, "run", flag, busybox(), "true")
		lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
		if r.code != 125 || len(lines) != 1 || !strings.Contains(r.stderr, "is not supported by urun: ") || strings.Contains(r.stderr, "unknown flag") {
			t.Errorf("urun run %s: want exit 125 and one line with the reason, got %s", flag, r)
		}
	}
}
