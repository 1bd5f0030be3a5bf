package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// farids is the test image with /far/owned owned by 200000:300000, ids
// outside the test user's 65536 subordinate ids, and /far/near by
// 1000:1000 (tests/mkimage farIDsLayer).
func farids() string { return "oci:" + filepath.Join(imagesDir, "farids") }

// rootfsEntries lists the data directory's unpacked trees (and anything
// else left there: .partial, .lock).
func rootfsEntries(t *testing.T, env []string) []string {
	t.Helper()
	dir := filepath.Join(strings.TrimPrefix(env[0], "XDG_DATA_HOME="), "urun", "rootfs")
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

func TestSquashOutOfMappingIDs(t *testing.T) {
	env := storeEnv(t)
	mustRunEnv(t, env, "pull", "-q", farids())
	name := "localhost/farids:latest"
	stat := []string{"stat", "-c", "%u:%g", "/far/owned", "/far/near"}

	// Without the opt-in: one line naming the file, the id, the mapped
	// range and both fixes; exit 125; no tree, no .partial, no lock.
	r := urunEnv(t, env, append([]string{"run", "--pull=never", name}, stat...)...)
	if r.code != 125 || len(lines(r.stderr)) != 1 {
		t.Fatalf("run of an image with ids outside the mapping: want exit 125 and one line, got %s", r)
	}
	t.Logf("the error: %s", r.stderr)
	for _, want := range []string{"/far/owned", "uid 200000 and gid 300000", "uids 0-65536", "/etc/subuid", "--squash-ids"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("error does not name %q: %s", want, r.stderr)
		}
	}
	if left := rootfsEntries(t, env); len(left) != 0 {
		t.Errorf("a failed unpack left %v under rootfs/", left)
	}

	// With the opt-in: the far owner becomes root, the near one stays.
	r = mustRunEnv(t, env, append([]string{"run", "--pull=never", "--squash-ids", name}, stat...)...)
	if r.stdout != "0:0\n1000:1000\n" {
		t.Errorf("--squash-ids: owners %q, want 0:0 for the far file and 1000:1000 for the near one", r.stdout)
	}
	if !strings.Contains(r.stderr, "--squash-ids gave them to root") || len(lines(r.stderr)) != 1 {
		t.Errorf("--squash-ids should warn once that it changed owners: %q", r.stderr)
	}
	trees := rootfsEntries(t, env)
	if len(trees) != 1 || !strings.HasSuffix(trees[0], "-squashed") {
		t.Errorf("squashed tree should be cached under its own name, rootfs/ has %v", trees)
	}
	// The environment variable is the same opt-in; the tree is reused.
	r = mustRunEnv(t, append(env, "URUN_SQUASH_IDS=1"), append([]string{"run", "--pull=never", name}, stat...)...)
	if r.stdout != "0:0\n1000:1000\n" || r.stderr != "" {
		t.Errorf("URUN_SQUASH_IDS=1 on the cached tree: %s", r)
	}
	// The squashed tree is never used without the opt-in.
	if r := urunEnv(t, env, append([]string{"run", "--pull=never", name}, stat...)...); r.code != 125 {
		t.Errorf("run without the opt-in after a squashed one: %s", r)
	}

	// A normal image is unpacked unsquashed, with or without the opt-in,
	// and has one tree.
	mustRunEnv(t, env, "pull", "-q", busybox())
	bb := "localhost/busybox:latest"
	for _, args := range [][]string{{"run", "--pull=never"}, {"run", "--pull=never", "--squash-ids"}} {
		r := mustRunEnv(t, env, append(args, bb, "stat", "-c", "%u:%g", "/home/user")...)
		if r.stdout != "1000:1000\n" {
			t.Errorf("%v busybox: /home/user owned by %q, want 1000:1000", args, r.stdout)
		}
	}
	// busybox runs from the layer store; farids, which containers/storage
	// cannot store with this mapping, from its own tree.
	if trees := rootfsEntries(t, env); len(trees) != 1 {
		t.Errorf("want the squashed farids tree only (busybox is in the layer store), rootfs/ has %v", trees)
	}

	// A container created with the environment's opt-in keeps it for a
	// start from an environment without it.
	ctr := uniqueName(t, "squash")
	mustRunEnv(t, append(env, "URUN_SQUASH_IDS=1"), "create", "--name", ctr, name, "stat", "-c", "%u:%g", "/far/owned")
	t.Cleanup(func() { urunEnv(t, env, "rm", "-f", ctr) })
	mustRunEnv(t, env, "start", ctr)
	if r := mustRunEnv(t, env, "wait", ctr); strings.TrimSpace(r.stdout) != "0" {
		t.Errorf("started container: %s", r)
	}
	if out := mustRunEnv(t, env, "logs", ctr).stdout; out != "0:0\n" {
		t.Errorf("started container printed %q, want 0:0", out)
	}
	mustRunEnv(t, env, "rm", ctr)

	// rmi removes the squashed tree too.
	mustRunEnv(t, env, "rmi", name)
	mustRunEnv(t, env, "rmi", bb)
	if left := rootfsEntries(t, env); len(left) != 0 {
		t.Errorf("rmi left %v under rootfs/", left)
	}
}

// Run as the user without subordinate ids: the single-id fallback gives
// every file to root, so the image runs without the opt-in.
func TestSquashFarIDsNoSubIDs(t *testing.T) {
	r := mustRun(t, "run", farids(), "stat", "-c", "%u:%g", "/far/owned", "/far/near")
	if r.stdout != "0:0\n0:0\n" {
		t.Errorf("single-id fallback: owners %q, want everything root's", r.stdout)
	}
}
