package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSaveLoadWithPodman: an image saved by urun (to stdout, and with -o)
// loads into podman 4.3.1 and runs there, and podman's archives load
// into urun and run: docker-archive and oci-archive, through a pipe and
// through a file. Nothing is left in urun's archive scratch directory.
func TestSaveLoadWithPodman(t *testing.T) {
	reg := startRegistry(t)
	ref := reg.push(t, "busybox", "test/saveload:1")
	p := newPodmanStore(t, "")
	env := storeEnv(t)
	data := filepath.Join(strings.TrimPrefix(env[0], "XDG_DATA_HOME="), "urun")
	bin := t.TempDir()
	if err := os.Symlink(urunBin, filepath.Join(bin, "urun")); err != nil {
		t.Fatal(err)
	}
	pod := "#!/bin/sh\nexec podman --runtime runc --cgroup-manager cgroupfs --events-backend file \"$@\"\n"
	if err := os.WriteFile(filepath.Join(bin, "pod"), []byte(pod), 0o755); err != nil {
		t.Fatal(err)
	}
	env = append(append([]string{}, p.env...), "URUN_DATA_DIR="+data, "PATH="+bin+":"+os.Getenv("PATH"))
	sh := func(script string) result {
		t.Helper()
		return dockerEngine{name: "both", env: env}.sh(t, t.TempDir(), ref, script)
	}
	if r := sh(`urun pull -q --tls-verify=false $IMG >/dev/null && pod pull -q --tls-verify=false $IMG >/dev/null`); r.code != 0 {
		t.Fatalf("pulling: %s", r)
	}
	// save reads the layers from the layer store: the blobs are gone.
	if l := layerBlobs(t, []string{"XDG_DATA_HOME=" + filepath.Dir(data)}); len(l) != 0 {
		t.Fatalf("layer blobs after the pull: %v", l)
	}
	for _, c := range []struct{ name, script string }{
		{"urun stdout to podman stdin", `urun save $IMG > a.tar && pod rmi -f $IMG >/dev/null && pod load < a.tar && pod run --rm $IMG echo ran`},
		{"urun -o oci-archive to podman -i", `urun save --format oci-archive -o o.tar $IMG && pod rmi -f $IMG >/dev/null && pod load -i o.tar && pod run --rm $IMG echo ran`},
		{"podman stdout to urun stdin", `pod save $IMG > p.tar && urun rmi $IMG >/dev/null && urun load < p.tar && urun run --rm $IMG echo ran`},
		{"podman oci-archive to urun -i", `pod save --format oci-archive -o po.tar $IMG && urun rmi $IMG >/dev/null && urun load -q -i po.tar && urun run --rm $IMG echo ran`},
		{"urun round trip through a pipe", `urun save $IMG | urun load -q && urun run --rm $IMG echo ran`},
	} {
		t.Run(strings.ReplaceAll(c.name, " ", "_"), func(t *testing.T) {
			r := sh(c.script)
			out := strings.TrimSpace(r.stdout)
			if r.code != 0 || !strings.HasPrefix(out, "Loaded image") || !strings.HasSuffix(out, "\nran") || !strings.Contains(out, "test/saveload:1") {
				t.Errorf("%s: %s", c.script, r)
			}
		})
	}
	// Errors: one line, 125, and no file left behind.
	for _, script := range []string{`urun save nosuchimage > x.tar`, `urun load < /dev/null`, `echo garbage | urun load`, `urun save --format zip $IMG > x.tar`} {
		r := sh(script)
		if r.code != 125 || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("%s: want one line and 125, got %s", script, r)
		}
	}
	if ents, _ := os.ReadDir(filepath.Join(data, "archive-tmp")); len(ents) != 0 {
		t.Errorf("archive-tmp keeps %d files after the saves and loads", len(ents))
	}
}
