package integration

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/urun-dev/urun/hostcheck"
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

// Issue 19, the sshfs case: the data directory on a FUSE filesystem whose
// server runs as the user (fuse-overlayfs mounted by the test user, as
// sshfs and an NFS home with root squash behave) cannot store files owned
// by the user's subordinate ids. Every command that would unpack refuses
// before writing, with one line naming the data directory and the fix;
// doctor gives the same answer; a single-id run works there.
func TestFUSEStorageSubIDs(t *testing.T) {
	data := fuseDataDir(t)
	env := []string{"XDG_DATA_HOME=" + data}
	dir := filepath.Join(data, "urun")
	reg := startRegistry(t)
	ref := reg.push(t, "busybox", "fuse/busybox:1")
	check := func(what string, r result) {
		t.Helper()
		t.Logf("%s: %s", what, r)
		if r.code != 125 || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 ||
			!strings.Contains(r.stderr, dir) || !strings.Contains(r.stderr, "--data-dir") ||
			!strings.Contains(r.stderr, "URUN_DATA_DIR") || !strings.Contains(r.stderr, "local filesystem") {
			t.Errorf("%s on FUSE storage: want exit 125 and one line naming %s and the fix: %s", what, dir, r)
		}
		leftovers(t, dir)
	}
	refusal := urunEnv(t, env, "run", "--rm", "--network", "none", busybox(), "true")
	check("run", refusal)
	check("run -d", urunEnv(t, env, "run", "-d", "--name", "fuse-kept", "--network", "none", busybox(), "sleep", "60"))
	check("create", urunEnv(t, env, "create", "--name", "fuse-created", busybox(), "true"))
	check("pull", urunEnv(t, env, "pull", "--tls-verify=false", ref))
	check("run REGISTRY-IMAGE", urunEnv(t, env, "run", "--rm", "--tls-verify=false", "--network", "none", ref, "true"))
	if r := urunEnv(t, env, "ps", "-a", "--format", "{{.Names}}"); r.code != 0 || strings.Contains(r.stdout, "fuse-kept") || strings.Contains(r.stdout, "fuse-created") {
		t.Errorf("ps -a after the refusals: %s", r)
	}
	// doctor says the same, as a failure: the default mapping cannot run.
	lines, r := runDoctor(t, env)
	want(t, lines, "storage", "fail", dir, "cannot store files owned by subordinate ids", "--data-dir", "URUN_DATA_DIR", "local filesystem")
	if r.code != 2 {
		t.Errorf("doctor: exit %d, want 2", r.code)
	}
	// One answer: doctor's line has run's cause and run's fix, and the
	// record run reads holds it.
	cause, fix, _ := strings.Cut(strings.TrimPrefix(strings.TrimSpace(refusal.stderr), "urun: storage: "), " — fix: ")
	if l := lines["storage"].text; !strings.HasPrefix(l, cause) || !strings.HasSuffix(l, "fix: "+fix) {
		t.Errorf("doctor and run differ:\ndoctor: %s\nrun:    %s", l, refusal.stderr)
	}
	var rec struct{ Owners struct{ Error, By string } }
	b, _ := os.ReadFile(filepath.Join(dir, "storage-tier.json"))
	if json.Unmarshal(b, &rec) != nil || rec.Owners.By != "urun doctor/info" || !strings.Contains(cause, rec.Owners.Error) {
		t.Errorf("the storage record does not hold doctor's answer: %s", b)
	}
	check("run after doctor", urunEnv(t, env, "run", "--rm", "--network", "none", busybox(), "true"))
	checkNoProbeLeftovers(t, data)
	// One id (podman's ignore_chown_errors case) is stored as the user:
	// that works, and the refusal says so.
	mustRunEnv(t, env, "run", "--userns=host-single", "--rm", "--network", "none", busybox(), "true")
}

// leftovers fails when dir holds anything but the probes' records (the
// storage tier's, the idmapped lower layer's) and empty directories: a
// refused command must not leave half an image.
func leftovers(t *testing.T, dir string) {
	t.Helper()
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() || filepath.Base(p) == "storage-tier.json" || filepath.Base(p) == hostcheck.IdmapLowerCacheFile {
			return nil
		}
		t.Errorf("left behind: %s", p)
		return nil
	})
}

// Run as the user without subordinate ids (integration.sh, -run NoSubIDs):
// one id needs no chown, so the FUSE data directory that refuses
// subordinate ids (TestFUSEStorageSubIDs) works, doctor does not fail it,
// and a kept container runs there.
func TestFUSEStorageNoSubIDs(t *testing.T) {
	data := fuseDataDir(t)
	env := []string{"XDG_DATA_HOME=" + data}
	if r := mustRunEnv(t, env, "run", "--rm", "--network", "none", busybox(), "echo", "ok"); r.stdout != "ok\n" {
		t.Errorf("run on FUSE storage with one id: %s", r)
	}
	lines, _ := runDoctor(t, env)
	if l := lines["storage"]; l.status == "fail" || strings.Contains(l.text, "subordinate ids") {
		t.Errorf("doctor fails storage that one id can use: %s", l)
	}
	mustRunEnv(t, env, "run", "-d", "--name", "fuse-nosubid", "--network", "none", busybox(), "sleep", "60")
	t.Cleanup(func() { urunEnv(t, env, "rm", "-f", "fuse-nosubid") })
	if r := mustRunEnv(t, env, "exec", "fuse-nosubid", "sh", "-c", "echo hi >/f && cat /f"); r.stdout != "hi\n" {
		t.Errorf("exec in the kept container: %s", r)
	}
	mustRunEnv(t, env, "rm", "-f", "fuse-nosubid")
}
