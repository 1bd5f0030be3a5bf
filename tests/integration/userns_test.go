package integration

import (
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/urun-dev/urun/idmap"
)

// expectedMaps computes with idmap what the container's maps must be.
func expectedMaps(t *testing.T, mode idmap.Mode) (uidMap, gidMap idmap.Mapping) {
	t.Helper()
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	uid := uint32(os.Getuid())
	ur, _, err := idmap.LookupSubIDs(u.Username, uid, false)
	if err != nil {
		t.Fatal(err)
	}
	gr, _, err := idmap.LookupSubIDs(u.Username, uid, true)
	if err != nil {
		t.Fatal(err)
	}
	if uidMap, err = idmap.Build(mode, uid, ur); err != nil {
		t.Fatalf("test user needs subordinate uids: %v", err)
	}
	if gidMap, err = idmap.Build(mode, uint32(os.Getgid()), gr); err != nil {
		t.Fatalf("test user needs subordinate gids: %v", err)
	}
	return uidMap, gidMap
}

func TestUsernsModes(t *testing.T) {
	for _, mode := range []idmap.Mode{idmap.ModeAuto, idmap.ModeKeepID, idmap.ModeHostSingle} {
		t.Run(string(mode), func(t *testing.T) {
			var wantU, wantG idmap.Mapping
			if mode == idmap.ModeHostSingle {
				wantU = idmap.Mapping{{ContainerID: 0, HostID: uint32(os.Getuid()), Size: 1}}
				wantG = idmap.Mapping{{ContainerID: 0, HostID: uint32(os.Getgid()), Size: 1}}
			} else {
				wantU, wantG = expectedMaps(t, mode)
			}
			before := myProcesses(t)
			r := mustRun(t, "run", "--userns="+string(mode), busybox(), "sh", "-c", "cat /proc/self/uid_map; echo ---; cat /proc/self/gid_map")
			got := strings.SplitN(r.stdout, "---\n", 2)
			if len(got) != 2 {
				t.Fatalf("unexpected output %q", r.stdout)
			}
			if got[0] != wantU.String() {
				t.Errorf("uid_map:\n%s\nwant:\n%s", got[0], wantU.String())
			}
			if got[1] != wantG.String() {
				t.Errorf("gid_map:\n%s\nwant:\n%s", got[1], wantG.String())
			}
			if strings.Contains(r.stderr, "warning") {
				t.Errorf("unexpected warning: %s", r.stderr)
			}
			checkNoLeftovers(t, before)
		})
	}
}

// A file created as container uid 1000 belongs on the host to the
// subordinate id that uid maps to (auto), or to the user (keep-id).
func TestFileOwnershipOnHost(t *testing.T) {
	uid := os.Getuid()
	autoU, _ := expectedMaps(t, idmap.ModeAuto)
	want1000, ok := autoU.ToHost(1000)
	if !ok {
		t.Fatal("container uid 1000 is not mapped in auto mode")
	}
	for _, tc := range []struct {
		mode     string
		inUID    int
		wantHost uint32
	}{
		{"auto", 1000, want1000},
		{"keep-id", uid, uint32(uid)},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			dir := t.TempDir()
			os.Chmod(dir, 0o777) // container ids other than the user's write here
			in := strconv.Itoa(tc.inUID)
			mustRun(t, "run", "--userns="+tc.mode, "-v", dir+":/mnt", busybox(), "sh", "-c",
				"touch /mnt/f && chown "+in+":"+in+" /mnt/f && stat -c %u /mnt/f")
			var st syscall.Stat_t
			if err := syscall.Stat(filepath.Join(dir, "f"), &st); err != nil {
				t.Fatal(err)
			}
			if st.Uid != tc.wantHost {
				t.Errorf("file owned by host uid %d, want %d", st.Uid, tc.wantHost)
			}
			// Clean up files owned by subordinate ids from inside.
			mustRun(t, "run", "--userns="+tc.mode, "-v", dir+":/mnt", busybox(), "rm", "-f", "/mnt/f")
		})
	}
}

// newuidmap copied without its setuid bit, first on PATH: the error must
// name that cause and the privileged copy.
func TestNewuidmapNotSetuid(t *testing.T) {
	dir := t.TempDir()
	for _, h := range []string{"newuidmap", "newgidmap"} {
		src, err := exec.LookPath(h)
		if err != nil {
			t.Fatalf("%s not installed: %v", h, err)
		}
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, h), b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	before := myProcesses(t)
	r := urunEnv(t, []string{"PATH=" + dir + ":" + os.Getenv("PATH")}, "run", "--userns=auto", busybox(), "true")
	if r.code != 125 {
		t.Fatalf("want exit 125: %s", r)
	}
	// The fix is doctor's: the copy that works goes first (a setuid bit
	// on the user's own copy would do nothing).
	if !strings.Contains(r.stderr, "neither setuid root nor has file capabilities") ||
		!strings.Contains(r.stderr, "fix: remove "+dir+"/newuidmap, or put /usr/bin before "+dir+" in PATH") {
		t.Errorf("error does not name the cause and fix: %q", r.stderr)
	}
	checkNoLeftovers(t, before)
}

// The NoSubIDs tests run as a second user without subordinate ids
// (integration.sh runs them with -test.run NoSubIDs as that user).
func TestNoSubIDsFallback(t *testing.T) {
	u, _ := user.Current()
	if r, _, _ := idmap.LookupSubIDs(u.Username, uint32(os.Getuid()), false); len(r) != 0 {
		t.Fatalf("user %s has subordinate uids: this test must run as the user without them", u.Username)
	}
	r := mustRun(t, "run", busybox(), "cat", "/proc/self/uid_map")
	want := idmap.Mapping{{ContainerID: 0, HostID: uint32(os.Getuid()), Size: 1}}.String()
	if r.stdout != want {
		t.Errorf("uid_map %q, want %q", r.stdout, want)
	}
	if n := len(lines(r.stderr)); n != 1 || !strings.Contains(r.stderr, "warning") || !strings.Contains(r.stderr, "usermod --add-subuids") {
		t.Errorf("want one warning line naming the fix, got %q", r.stderr)
	}
	r = urun(t, "run", "--userns=auto", busybox(), "true")
	if r.code != 125 || len(lines(r.stderr)) != 1 || !strings.Contains(r.stderr, "usermod --add-subuids") {
		t.Errorf("--userns=auto without subordinate ids: want exit 125 and the fix in one line: %s", r)
	}
}
