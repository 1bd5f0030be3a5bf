package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// asMeWithMounts runs urun commands (sh -c script, urun as "$0") as this
// user after mounts made in a mount namespace of the test's own: setup
// runs as root of a new user namespace (which may mount there), then a
// nested user namespace maps this uid back, so urun runs as the user it
// is. Nothing changes for the host or anyone else. It returns the output
// and the exit status of script.
func asMeWithMounts(t *testing.T, env []string, setup, script string) (string, int) {
	t.Helper()
	inner := "exec unshare --user --map-user=" + itoa(os.Getuid()) + " --map-group=" + itoa(os.Getgid()) +
		" sh -c '" + strings.ReplaceAll(script, "'", `'\''`) + `' "$0"`
	cmd := exec.Command("unshare", "--user", "--map-root-user", "--mount", "sh", "-c", setup+" && "+inner, urunBin)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), code
}

// A read-only home: doctor fails the storage check with the fix (exit 2)
// instead of blaming overlayfs, and run says the same in one line. The
// home is made read-only by a bind mount in the test's own namespace.
func TestReadOnlyHome(t *testing.T) {
	home, _ := os.UserHomeDir()
	env := editEnv(nil, "XDG_DATA_HOME", "URUN_DATA_DIR")
	setup := "mount --bind " + home + " " + home + " && mount -o remount,bind,ro " + home
	const fix = "is on a read-only filesystem — fix: export URUN_DATA_DIR=/a/writable/dir"
	out, code := asMeWithMounts(t, env, setup, `"$0" doctor`)
	if code != 2 || !strings.Contains(out, "fail  storage     "+home+"/.local/share/urun "+fix) {
		t.Errorf("doctor with a read-only home: exit %d\n%s", code, out)
	}
	if strings.Contains(out, "fuse-overlayfs") && strings.Contains(out, "reinstall") {
		t.Errorf("doctor blames fuse-overlayfs for a read-only home:\n%s", out)
	}
	out, code = asMeWithMounts(t, env, setup, `"$0" run `+busybox()+` true`)
	var errs []string
	for _, l := range lines(out) {
		if !strings.HasPrefix(l, "urun: warning:") { // the nested namespace has no subordinate ids
			errs = append(errs, l)
		}
	}
	if code != 125 || len(errs) != 1 || !strings.Contains(errs[0], "urun: storage: "+home+"/.local/share/urun "+fix) {
		t.Errorf("run with a read-only home: exit %d\n%s", code, out)
	}
}

// Storage on a FUSE filesystem (here fuse-overlayfs mounted by the test
// user through fusermount3; sshfs and NFS homes are the real cases):
// kernel overlayfs mounts an upper layer there but cannot write through
// it, so kept containers (run -d, create), whose writable layer lives in
// the storage, failed at "mounting /etc/hosts". They run on every tier
// the probe allows: info and doctor name fuse-overlayfs, and that is what
// they get. --userns=host-single: a FUSE mount of the user's own cannot
// hold files of subordinate ids.
func TestKeptContainersOnFUSEStorage(t *testing.T) {
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
	env := []string{"XDG_DATA_HOME=" + filepath.Join(mnt, "data")}
	t.Cleanup(func() {
		urunEnv(t, env, "rm", "-f", "fusekept", "fusecreated")
		if out, err := exec.Command("fusermount3", "-u", mnt).CombinedOutput(); err != nil {
			t.Errorf("unmounting %s: %v: %s", mnt, err, out)
		}
	})
	info := mustRunEnv(t, env, "info").stdout
	if !strings.Contains(info, "rootfs tier fuse") {
		t.Errorf("info on FUSE storage does not say fuse:\n%s", info)
	}
	run := []string{"--userns=host-single"}
	mustRunEnv(t, env, append(append([]string{"run", "-d", "--name", "fusekept"}, run...), busybox(), "sh", "-c", "echo up; exec sleep 300")...)
	if out := mustRunEnv(t, env, "exec", "fusekept", "sh", "-c", "echo kept > /f && cat /f").stdout; out != "kept\n" {
		t.Errorf("exec in a kept container on FUSE storage printed %q", out)
	}
	if out := mustRunEnv(t, env, "exec", "fusekept", "sh", "-c", `awk '$2 == "/" {print $3}' /proc/mounts`).stdout; out != "fuse.fuse-overlayfs\n" {
		t.Errorf("the kept container's root is %q, want fuse.fuse-overlayfs (what info says)", out)
	}
	if out := mustRunEnv(t, env, "logs", "fusekept").stdout; out != "up\n" {
		t.Errorf("logs: %q", out)
	}
	mustRunEnv(t, env, append(append([]string{"create", "--name", "fusecreated"}, run...), busybox(), "sh", "-c", "echo created")...)
	mustRunEnv(t, env, "start", "fusecreated")
	waitFor(t, func() bool { return urunEnv(t, env, "logs", "fusecreated").stdout == "created\n" })
	if out := mustRunEnv(t, env, append(append([]string{"run", "--rm"}, run...), busybox(), "echo", "rm")...).stdout; out != "rm\n" {
		t.Errorf("run --rm on FUSE storage printed %q", out)
	}
	mustRunEnv(t, env, "rm", "-f", "fusekept", "fusecreated")
	for _, im := range listImages(t, env) {
		mustRunEnv(t, env, "rmi", im.Name)
	}
}
