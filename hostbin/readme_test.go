package hostbin

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// hostPrograms are the host programs urun runs itself (getsubids, from
// uidmap too, and systemd-run, there wherever systemd is, are optional).
var hostPrograms = []string{"newuidmap", "newgidmap", "nsenter", "fuse-overlayfs", "pasta", "slirp4netns"}

// Issue 19: the README a newcomer follows. Its install line names the
// Debian package of every program urun runs (asked of dpkg, so a renamed
// package or a new helper shows), its Tour says which command builds the
// images it runs, and it points at nothing outside the repository.
func TestReadmeNewcomer(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	install := regexp.MustCompile(`(?m)^apt-get install ([^#\n]*)`).FindStringSubmatch(readme)
	if install == nil {
		t.Fatal("README has no apt-get install line")
	}
	pkgs := map[string]bool{}
	for _, p := range strings.Fields(install[1]) {
		pkgs[p] = true
	}
	// One dpkg -S for all (it reads the whole file list each time).
	paths := map[string]string{}
	var args []string
	for _, prog := range hostPrograms {
		path, err := exec.LookPath(prog)
		if err != nil {
			t.Errorf("%s is not installed here (tests/harness/lib.sh installs it): %v", prog, err)
			continue
		}
		paths[path] = prog
		args = append(args, path)
		if !strings.Contains(readme, "`"+prog+"`") && !strings.Contains(readme, "`"+prog+"/") && !strings.Contains(readme, "/"+prog+"`") {
			t.Errorf("README does not name the host program %s", prog)
		}
	}
	out, err := exec.Command("dpkg", append([]string{"-S"}, args...)...).Output()
	if err != nil {
		t.Fatalf("dpkg -S %v: %v", args, err)
	}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, path, _ := strings.Cut(l, ": ")
		if prog, ok := paths[path]; ok && !pkgs[pkg] {
			t.Errorf("urun runs %s (package %s), which README's install line does not name: %s", prog, pkg, install[0])
		}
		delete(paths, path)
	}
	for path := range paths {
		t.Errorf("dpkg -S does not know %s", path)
	}
	if m := regexp.MustCompile(`\]\(\.\./|\.\./shared|/work/`).FindString(readme); m != "" {
		t.Errorf("README points outside the repository: %q", m)
	}
	tour := readme[strings.Index(readme, "## Tour"):]
	if !strings.Contains(tour, "`make images`") || !strings.Contains(tour, "_build/images") {
		t.Error("README's Tour does not say which command builds _build/images")
	}
	mk, err := os.ReadFile("../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^images:`).Match(mk) || !strings.Contains(string(mk), "-out _build/images") {
		t.Error("the Makefile has no images target building _build/images, which README's Tour names")
	}
}
