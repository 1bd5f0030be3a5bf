package integration

// The completion scripts the built urun writes are valid zsh and fish
// (the real shells, which tests/harness/lib.sh installs) and complete
// commands, flags and second words there; bash's check is a unit test
// (cmd/urun/completion_test.go), as bash is always there.

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// completionCases: the words typed (the last one is being completed),
// a word the completion must offer and one it must not.
var completionCases = []struct{ words, want, not string }{
	{"urun ru", "run", "--hostname"},
	{"urun run --hostn", "--hostname", "rename"},
	{"urun --root /x ren", "rename", "--root"},
	{"urun system pr", "prune", "run"},
	{"urun image pru", "prune", "--hostname"},
	{"urun save --outp", "--output", "run"},
	{"urun container prune --fo", "--force", "run"},
}

func completionScript(t *testing.T, shell string) string {
	t.Helper()
	r := mustRun(t, "completion", shell)
	path := filepath.Join(t.TempDir(), "_urun")
	if err := os.WriteFile(path, []byte(r.stdout), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func shellOut(t *testing.T, name string, args ...string) (string, string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Fatalf("%s is not installed: tests/harness/lib.sh installs it (run make integration as root)", name)
	}
	cmd := exec.Command(name, args...)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %v: %v\n%s%s", name, args, err, out.String(), errb.String())
	}
	return out.String(), errb.String()
}

func checkOffers(t *testing.T, shell, words string, offered []string, want, not string) {
	t.Helper()
	has := func(w string) bool {
		for _, o := range offered {
			if o == w {
				return true
			}
		}
		return false
	}
	if !has(want) || has(not) {
		t.Errorf("%s: %q offers %v: want %q among them and not %q", shell, words, offered, want, not)
	}
}

func TestCompletionZsh(t *testing.T) {
	script := completionScript(t, "zsh")
	shellOut(t, "zsh", "-n", script)
	// zsh runs the bash function through bashcompinit, which sets
	// COMP_WORDS and a 0-based COMP_CWORD as bash does (its compgen
	// leaves the narrowing by prefix to zsh's matcher).
	prog := `autoload -U compinit && compinit -u -D; source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _urun; print -rl -- "${COMPREPLY[@]}"`
	for _, c := range completionCases {
		out, errs := shellOut(t, "zsh", append([]string{"-f", "-c", prog, "zsh", script}, strings.Fields(c.words)...)...)
		if errs != "" {
			t.Errorf("zsh: %q wrote to stderr: %s", c.words, errs)
		}
		checkOffers(t, "zsh", c.words, strings.Fields(out), c.want, c.not)
	}
	// Saved as _urun on $fpath, compinit binds it to urun.
	dir := filepath.Dir(script)
	out, _ := shellOut(t, "zsh", "-f", "-c", `fpath=("$1" $fpath); autoload -U compinit && compinit -u -D; print -r -- "$_comps[urun]"`, "zsh", dir)
	if strings.TrimSpace(out) != "_urun" {
		t.Errorf("compinit with the script on $fpath binds urun to %q, want _urun", strings.TrimSpace(out))
	}
}

func TestCompletionFish(t *testing.T) {
	script := completionScript(t, "fish")
	shellOut(t, "fish", "--no-execute", script)
	for _, c := range completionCases {
		out, errs := shellOut(t, "fish", "-c", `source $argv[1]; complete -C "$argv[2]"`, script, c.words)
		if errs != "" {
			t.Errorf("fish: %q wrote to stderr: %s", c.words, errs)
		}
		var offered []string
		for _, l := range lines(out) {
			w, _, _ := strings.Cut(l, "\t")
			offered = append(offered, w)
		}
		checkOffers(t, "fish", c.words, offered, c.want, c.not)
	}
}
