package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The bash script is valid bash and completes commands, flags (from the
// real flag sets) and docker-style second words, with a global flag's
// value skipped.
func TestBashCompletion(t *testing.T) {
	var b strings.Builder
	writeBashCompletion(&b)
	script := filepath.Join(t.TempDir(), "urun.bash")
	if err := os.WriteFile(script, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("bash", "-n", script).CombinedOutput(); err != nil {
		t.Fatalf("bash -n: %v\n%s", err, out)
	}
	for words, want := range map[string]string{
		"urun ru":                   "run",
		"urun run --hostn":          "--hostname",
		"urun --root /x ren":        "rename",
		"urun system pr":            "prune",
		"urun image pru":            "prune",
		"urun save --outp":          "--output",
		"urun container prune --fo": "--force",
	} {
		prog := `. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _urun; echo "${COMPREPLY[*]}"`
		args := append([]string{"-c", prog, "bash", script}, strings.Fields(words)...)
		out, err := exec.Command("bash", args...).CombinedOutput()
		if got := strings.TrimSpace(string(out)); err != nil || got != want {
			t.Errorf("%q completes to %q (%v), want %q", words, got, err, want)
		}
	}
}

// Every command and every flag of its flag set is in the fish script.
func TestFishCompletionHasEveryFlag(t *testing.T) {
	var b strings.Builder
	writeFishCompletion(&b)
	s := b.String()
	_, cmds := completionTable()
	for _, c := range cmds {
		if !strings.Contains(s, "-a "+c.name+" ") {
			t.Errorf("command %s missing", c.name)
		}
		for _, f := range c.flags {
			if !strings.Contains(s, "__urun_using_cmd "+c.name+"' -l "+f.Name) {
				t.Errorf("%s --%s missing", c.name, f.Name)
			}
		}
	}
}
