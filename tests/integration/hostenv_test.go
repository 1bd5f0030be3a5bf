package integration

import (
	"os"
	"os/exec"
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
