package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The hard image, unpacked and mounted, must show every owner, mode,
// setuid bit, hard link count, symlink and whiteout exactly as its layers
// say (tests/mkimage computes expected.txt from the layer data), on each
// rootfs tier.
func TestHardImageTree(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(imagesDir, "hard", "expected.txt"))
	if err != nil {
		t.Fatal(err)
	}
	first, want, _ := strings.Cut(string(b), "\n")
	cmd, ok := strings.CutPrefix(first, "# cmd: ")
	if !ok {
		t.Fatalf("expected.txt has no command line: %q", first)
	}
	for _, tier := range []string{"native", "fuse"} {
		t.Run(tier, func(t *testing.T) {
			before := myProcesses(t)
			c := cmd
			if tier == "fuse" {
				// fuse-overlayfs counts a hard link only once it has
				// looked the name up (docs/TROUBLESHOOTING.md): walk the
				// tree once so the counts are complete.
				c = "find /data /etc >/dev/null; " + cmd
			}
			r := mustRun(t, "run", "--rootfs-tier", tier, "--user", "0:0", "--entrypoint", "/bin/sh", hard(), "-c", c)
			if r.stdout != want {
				t.Errorf("tree differs from the image's layers:\n%s", diffLines(want, r.stdout))
			}
			checkNoLeftovers(t, before)
		})
	}
}

// diffLines lists lines only in want (-) or only in got (+).
func diffLines(want, got string) string {
	in := func(s string) map[string]bool {
		m := map[string]bool{}
		for _, l := range lines(s) {
			m[l] = true
		}
		return m
	}
	w, g := in(want), in(got)
	var out []string
	for _, l := range lines(want) {
		if !g[l] {
			out = append(out, "- "+l)
		}
	}
	for _, l := range lines(got) {
		if !w[l] {
			out = append(out, "+ "+l)
		}
	}
	return strings.Join(out, "\n")
}
