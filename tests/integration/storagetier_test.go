package integration

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// fuseDataDir mounts fuse-overlayfs as the test user (fusermount3; the
// mount is the user's own, nothing of the host's changes) and returns a
// data directory inside it: storage on a FUSE filesystem, as on an sshfs
// or NFS home.
func fuseDataDir(t *testing.T) string {
	t.Helper()
	fo, err := exec.LookPath("fuse-overlayfs")
	if err != nil {
		t.Fatal("fuse-overlayfs is not installed")
	}
	base := t.TempDir()
	for _, d := range []string{"l", "u", "w", "m"} {
		os.Mkdir(filepath.Join(base, d), 0o755)
	}
	mnt := filepath.Join(base, "m")
	if out, err := exec.Command(fo, "-o", "lowerdir="+base+"/l,upperdir="+base+"/u,workdir="+base+"/w", mnt).CombinedOutput(); err != nil {
		t.Fatalf("mounting fuse-overlayfs as the test user: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("fusermount3", "-u", mnt).CombinedOutput(); err != nil {
			t.Errorf("unmounting %s: %v: %s", mnt, err, out)
		}
	})
	return filepath.Join(mnt, "data")
}

var initTier = regexp.MustCompile(`urun-init: rootfs \(([a-z]+)\)`)

// Issue 19: one storage probe, recorded, whose answer `urun run`
// (--debug), `urun info` and `urun doctor` all give, with the storage on
// a FUSE filesystem; and a kept container works on that tier.
func TestStorageTierAgreesOnFUSE(t *testing.T) {
	data := fuseDataDir(t)
	env := []string{"XDG_DATA_HOME=" + data}
	// fuse-overlayfs mounted by the user (no user namespace) can own
	// files only as the user: unpacking with subordinate ids would fail
	// at the first chown, as on sshfs. One id, as such hosts need.
	single := "--userns=host-single"
	tierOf := func(r result) string {
		m := initTier.FindStringSubmatch(r.stderr)
		if m == nil {
			t.Fatalf("--debug shows no rootfs tier:\n%s", r.stderr)
		}
		return m[1]
	}
	// The first run has no record: it tries the tiers and records the one
	// its container mounted.
	r := mustRunEnv(t, env, "--debug", "run", single, "--rm", "--network", "none", busybox(), "true")
	first := tierOf(r)
	t.Logf("storage on FUSE: the first container mounted tier %s", first)
	if first == "native" {
		t.Fatalf("kernel overlayfs mounted an upper layer on FUSE? %s", r.stderr)
	}
	if !strings.Contains(r.stderr, "urun: rootfs tier "+first+", recorded in ") {
		t.Errorf("the first run did not record its tier:\n%s", r.stderr)
	}
	// info probes, and records its answer.
	ri := mustRunEnv(t, env, "info", "--format", "json")
	var facts struct {
		Storage struct{ Tier, TierWhy, TierRecord string }
	}
	if err := json.Unmarshal([]byte(ri.stdout), &facts); err != nil {
		t.Fatalf("info json: %v: %s", err, ri.stdout)
	}
	if facts.Storage.Tier != first || facts.Storage.TierRecord == "" {
		t.Errorf("info says tier %q (record %q), the run used %q", facts.Storage.Tier, facts.Storage.TierRecord, first)
	}
	lines, _ := runDoctor(t, env)
	if l := lines["storage"]; !strings.Contains(l.text, "(rootfs tier "+first+")") {
		t.Errorf("doctor's storage line does not name tier %s: %s", first, l)
	}
	// The next run starts at the recorded tier, and says so.
	r = mustRunEnv(t, env, "--debug", "run", single, "--rm", "--network", "none", busybox(), "true")
	if got := tierOf(r); got != first || !strings.Contains(r.stderr, "urun: rootfs tier "+first+", as the storage probe says") {
		t.Errorf("second run: tier %s, want %s from the record:\n%s", got, first, r.stderr)
	}
	// A kept container (its writable layer in the FUSE data directory).
	name := "tier-kept"
	mustRunEnv(t, env, "run", single, "-d", "--name", name, busybox(), "sleep", "60")
	t.Cleanup(func() { urunEnv(t, env, "rm", "-f", name) })
	if r := mustRunEnv(t, env, "exec", name, "sh", "-c", "echo hi >/f && cat /f"); r.stdout != "hi\n" {
		t.Errorf("exec in the kept container: %s", r)
	}
	mustRunEnv(t, env, "rm", "-f", name)
}
