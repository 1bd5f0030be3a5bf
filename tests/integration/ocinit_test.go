package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The container-init side of runc compatibility (issue 20): what a
// config asks of the process and its filesystem, checked from inside.

// editSpec rewrites a bundle's config.json through edit.
func editSpec(t *testing.T, b string, edit func(spec map[string]any)) {
	t.Helper()
	p := filepath.Join(b, "config.json")
	raw, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var spec map[string]any
	if err := json.Unmarshal(raw, &spec); err != nil {
		t.Fatal(err)
	}
	edit(spec)
	raw, _ = json.Marshal(spec)
	if err := os.WriteFile(p, raw, 0o644); err != nil {
		t.Fatal(err)
	}
}

// applets links more busybox applets into a bundle's rootfs.
func applets(b string, names ...string) {
	for _, a := range names {
		os.Symlink("busybox", filepath.Join(b, "rootfs", "bin", a))
	}
}

// process.user.umask is the process's umask, in run and in exec.
func TestOCIUmask(t *testing.T) {
	b := bundle(t, false, "sh", "-c", "umask; exec sleep 60")
	applets(b, "grep")
	editSpec(t, b, func(spec map[string]any) {
		spec["process"].(map[string]any)["user"].(map[string]any)["umask"] = 0o77
	})
	root := t.TempDir()
	mustRun(t, "--root", root, "run", "-d", "--bundle", b, "um")
	defer urun(t, "--root", root, "delete", "--force", "um")
	if r := mustRun(t, "--root", root, "exec", "um", "grep", "^Umask:", "/proc/1/status"); !strings.Contains(r.stdout, "0077") {
		t.Errorf("init's umask: %s, want 0077", r)
	}
	proc := filepath.Join(t.TempDir(), "process.json")
	os.WriteFile(proc, []byte(`{"args": ["sh", "-c", "umask"], "env": ["PATH=/bin"], "cwd": "/", "user": {"uid": 0, "gid": 0, "umask": 23}}`), 0o644)
	if r := mustRun(t, "--root", root, "exec", "--process", proc, "um"); strings.TrimSpace(r.stdout) != "0027" {
		t.Errorf("exec's umask: %s, want 0027", r)
	}
}
