package integration

// The rootfs tiers (docs/STORE.md "Rootfs tiers"): the same suite under
// native overlayfs, fuse-overlayfs and the in-memory copy, forced with
// --rootfs-tier; then the probe's own choice here, and auto falling back
// for real where the kernel refuses overlayfs.

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

var tiers = []string{"native", "fuse", "copy"}

// hostState is what a container must not leave behind on the host: this
// user's processes (fuse-overlayfs included), the host's mounts, urun's
// state directories and entries in the temporary directory.
type hostState struct {
	procs  map[string]string
	mounts []string
	state  []string
	tmp    []string
}

func snapshotHost(t *testing.T) hostState {
	t.Helper()
	return hostState{procs: myProcesses(t), mounts: hostMounts(t), state: stateDirs(t), tmp: tmpEntries(t)}
}

// hostMounts lists this mount namespace's mounts (the host's: urun's
// tests run in it) by mount point and source, without ids that change.
func hostMounts(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range lines(string(b)) {
		f := strings.Fields(l)
		if len(f) < 5 {
			continue
		}
		pre, post, _ := strings.Cut(l, " - ")
		out = append(out, strings.Fields(pre)[4]+" "+post)
	}
	slices.Sort(out)
	return out
}

func tmpEntries(t *testing.T) []string {
	t.Helper()
	ents, err := os.ReadDir(os.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	// Only this user's: other users' tests may run beside these.
	var out []string
	for _, e := range ents {
		fi, err := e.Info()
		if err != nil {
			continue
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) == os.Getuid() {
			out = append(out, e.Name())
		}
	}
	return out
}

func added(before, after []string) []string {
	var out []string
	for _, a := range after {
		if !slices.Contains(before, a) {
			out = append(out, a)
		}
	}
	return out
}

func checkHostClean(t *testing.T, before hostState) {
	t.Helper()
	checkNoLeftovers(t, before.procs)
	if extra := added(before.mounts, hostMounts(t)); len(extra) > 0 {
		t.Errorf("mounts left on the host: %v", extra)
	}
	if extra := added(before.state, stateDirs(t)); len(extra) > 0 {
		t.Errorf("state directories left behind: %v", extra)
	}
	if extra := added(before.tmp, tmpEntries(t)); len(extra) > 0 {
		t.Errorf("entries left in %s: %v", os.TempDir(), extra)
	}
}

// hardExpected is the hard image's checker command and its expected output.
func hardExpected(t *testing.T) (cmd, want string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(imagesDir, "hard", "expected.txt"))
	if err != nil {
		t.Fatal(err)
	}
	first, want, _ := strings.Cut(string(b), "\n")
	cmd, ok := strings.CutPrefix(first, "# cmd: ")
	if !ok {
		t.Fatalf("expected.txt has no command line: %q", first)
	}
	return cmd, want
}

// timesCmd lists modification times of the image's own files (not the
// files urun mounts in /etc, nor /etc, whose time their mount points set).
const timesCmd = "find /data /etc /bin ! -path /etc ! -path /etc/hosts ! -path /etc/hostname ! -path /etc/resolv.conf -exec stat -c '%n|%Y' {} + | sort"

// TestTiersSuite runs the same checks under each tier, forced.
func TestTiersSuite(t *testing.T) {
	cmd, want := hardExpected(t)
	// Times as the kernel's overlay shows the image: the reference.
	refTimes := mustRun(t, "run", "--rootfs-tier", "native", "--user", "0:0", "--entrypoint", "/bin/sh", hard(), "-c", timesCmd).stdout
	if len(lines(refTimes)) < 10 {
		t.Fatalf("the times listing is too short to compare:\n%s", refTimes)
	}
	for _, tier := range tiers {
		t.Run(tier, func(t *testing.T) {
			before := snapshotHost(t)
			defer checkHostClean(t, before)
			tr := []string{"--rootfs-tier", tier}

			t.Run("used", func(t *testing.T) {
				r := mustRun(t, append(append([]string{"--debug", "run"}, tr...), busybox(), "true")...)
				if !strings.Contains(r.stderr, "rootfs ("+tier+")") {
					t.Errorf("--debug does not show tier %s:\n%s", tier, r.stderr)
				}
				if strings.Contains(r.stderr, "warning: neither") {
					t.Errorf("a forced tier printed the fallback warning:\n%s", r.stderr)
				}
			})

			t.Run("no host paths inside", func(t *testing.T) {
				// Neither /proc/mounts nor a process the container can see
				// (fuse-overlayfs is one) names the user's directories.
				home, _ := os.UserHomeDir()
				me, err := user.Current()
				if err != nil {
					t.Fatal(err)
				}
				r := mustRun(t, append(append([]string{"run"}, tr...), busybox(), "sh", "-c",
					"cat /proc/mounts; for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < $f; echo; done")...)
				for _, leak := range []string{home, stateRoot(t), me.Username} {
					if strings.Contains(r.stdout, leak) {
						t.Errorf("the container sees %q:\n%s", leak, r.stdout)
					}
				}
				if tier == "fuse" && !strings.Contains(r.stdout, "fuse-overlayfs") {
					t.Errorf("fuse-overlayfs not found among the container's processes:\n%s", r.stdout)
				}
			})

			t.Run("hard image tree", func(t *testing.T) {
				c := cmd
				if tier == "fuse" {
					// fuse-overlayfs counts a hard link only once the name
					// was looked up (docs/TROUBLESHOOTING.md).
					c = "find /data /etc >/dev/null; " + cmd
				}
				r := mustRun(t, append(append([]string{"run"}, tr...), "--user", "0:0", "--entrypoint", "/bin/sh", hard(), "-c", c)...)
				if r.stdout != want {
					t.Errorf("tree differs from the image's layers:\n%s", diffLines(want, r.stdout))
				}
				r = mustRun(t, append(append([]string{"run"}, tr...), "--user", "0:0", "--entrypoint", "/bin/sh", hard(), "-c", timesCmd)...)
				if r.stdout != refTimes {
					t.Errorf("modification times differ from native overlayfs:\n%s", diffLines(refTimes, r.stdout))
				}
			})

			t.Run("writes stay in the container", func(t *testing.T) {
				marker := "tier-marker-" + tier + "-" + fmt.Sprint(os.Getpid())
				r := mustRun(t, append(append([]string{"run"}, tr...), busybox(), "sh", "-c",
					"echo hi > /etc/"+marker+" && echo more >> /etc/passwd && rm /bin/true && mkdir /newdir && cat /etc/"+marker)...)
				if r.stdout != "hi\n" {
					t.Errorf("write and read back in the container: %q", r.stdout)
				}
				r = urun(t, append(append([]string{"run"}, tr...), busybox(), "sh", "-c",
					"test ! -e /etc/"+marker+" && test -e /bin/true && test ! -e /newdir && ! grep -q more /etc/passwd")...)
				if r.code != 0 {
					t.Errorf("the next container sees the last one's writes: %s", r)
				}
				if where := findName(t, dataHome(), marker); where != "" {
					t.Errorf("the container's write reached the store: %s", where)
				}
			})

			t.Run("read-only", func(t *testing.T) {
				r := urun(t, append(append([]string{"run", "--read-only"}, tr...), busybox(), "sh", "-c", "cat /etc/passwd >/dev/null && touch /etc/x")...)
				if r.code == 0 || !strings.Contains(r.stderr, "Read-only file system") {
					t.Errorf("--read-only: writing / succeeded or failed otherwise: %s", r)
				}
				r = mustRun(t, append(append([]string{"run", "--read-only"}, tr...), busybox(), "grep", " / ", "/proc/mounts")...)
				if f := strings.Fields(r.stdout); len(f) < 4 || !slices.Contains(strings.Split(f[3], ","), "ro") {
					t.Errorf("--read-only: / is not mounted ro: %q", r.stdout)
				}
				r = mustRun(t, append(append([]string{"run"}, tr...), busybox(), "grep", " / ", "/proc/mounts")...)
				if f := strings.Fields(r.stdout); len(f) < 4 || !slices.Contains(strings.Split(f[3], ","), "rw") {
					t.Errorf("default: / is not writable: %q", r.stdout)
				}
			})

			t.Run("exit codes", func(t *testing.T) {
				if r := urun(t, append(append([]string{"run"}, tr...), busybox(), "sh", "-c", "exit 7")...); r.code != 7 {
					t.Errorf("exit 7: %s", r)
				}
				if r := urun(t, append(append([]string{"run"}, tr...), busybox(), "/no/such/program")...); r.code != 127 {
					t.Errorf("missing program: want 127, %s", r)
				}
			})

			t.Run("rootfs dir untouched", func(t *testing.T) {
				// A file created in / itself: fuse-overlayfs once
				// deadlocked on it, re-rooted into its own mount by the
				// container's pivot_root.
				dir := filepath.Join(t.TempDir(), "rootfs")
				mustMkRootfs(t, dir)
				if err := os.WriteFile(filepath.Join(dir, "etc", "f"), []byte("orig\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				was := describeTree(t, dir)
				r := mustRun(t, append(append([]string{"run", "--rootfs"}, tr...), dir, "/bin/sh", "-c",
					"echo x > /etc/new && echo y >> /etc/f && rm /bin/ls && mkdir /d && chmod 700 /etc && echo z > /top && cat /etc/f /top")...)
				if r.stdout != "orig\ny\nz\n" {
					t.Errorf("writes in the container: %q", r.stdout)
				}
				if now := describeTree(t, dir); now != was {
					t.Errorf("--rootfs %s changed:\n%s", dir, diffLines(was, now))
				}
			})

			t.Run("detached and removed", func(t *testing.T) {
				name := "tiers-" + tier
				urun(t, "rm", "-f", name)
				mustRun(t, append(append([]string{"run", "-d", "--name", name}, tr...), busybox(), "sleep", "60")...)
				if r := urun(t, "rm", "-f", name); r.code != 0 {
					t.Errorf("urun rm -f: %s", r)
				}
			})
		})
	}
}

// describeTree lists every entry under dir with mode, owner, size and times.
func describeTree(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		fmt.Fprintf(&b, "%s %s %d:%d size=%d mtime=%d.%d ctime=%d.%d\n", p, fi.Mode(), st.Uid, st.Gid, st.Size,
			st.Mtim.Sec, st.Mtim.Nsec, st.Ctim.Sec, st.Ctim.Nsec)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func dataHome() string {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "urun")
	}
	return filepath.Join(os.Getenv("HOME"), ".local", "share", "urun")
}

// findName looks for a file called name under dir, skipping what this
// user may not read (image files owned by subordinate ids).
func findName(t *testing.T, dir, name string) string {
	t.Helper()
	found := ""
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.Name() == name {
			found = p
			return fs.SkipAll
		}
		return nil
	})
	return found
}

// infoTier is the tier `urun info --format json` reports, and why.
func infoTier(t *testing.T, env []string) (string, string) {
	t.Helper()
	r := urunEnv(t, env, "info", "--format", "json")
	var f struct {
		Storage struct {
			Tier    string `json:"tier"`
			TierWhy string `json:"tierWhy"`
		} `json:"storage"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &f); err != nil {
		t.Fatalf("urun info --format json: %v\n%s", err, r)
	}
	return f.Storage.Tier, f.Storage.TierWhy
}

// TestTiersProbeNative: on this machine (Linux ≥ 5.11, a local
// filesystem) the probe and auto both choose kernel overlayfs.
func TestTiersProbeNative(t *testing.T) {
	if tier, why := infoTier(t, nil); tier != "native" {
		t.Errorf("urun info: tier %q (%s), want native", tier, why)
	}
	r := mustRun(t, "--debug", "run", busybox(), "true")
	if !strings.Contains(r.stderr, "rootfs (native)") {
		t.Errorf("auto did not mount native overlayfs:\n%s", r.stderr)
	}
	if tier, why := infoTier(t, []string{"URUN_TIER=copy"}); tier != "copy" || !strings.Contains(why, "URUN_TIER") || !strings.Contains(why, "native") {
		t.Errorf("urun info with URUN_TIER=copy: tier %q (%s), want copy, forced, auto native", tier, why)
	}
	r = urunEnv(t, []string{"URUN_TIER=copy"}, "--debug", "run", busybox(), "true")
	if r.code != 0 || !strings.Contains(r.stderr, "rootfs (copy)") || strings.Contains(r.stderr, "warning: neither") {
		t.Errorf("URUN_TIER=copy: want the copy tier without the fallback warning: %s", r)
	}
	if r := urunEnv(t, []string{"URUN_TIER=vfs"}, "run", busybox(), "true"); r.code != 125 || !strings.Contains(r.stderr, "URUN_TIER") || len(lines(r.stderr)) != 1 {
		t.Errorf("URUN_TIER=vfs: want one line naming URUN_TIER, exit 125: %s", r)
	}
}

// fallbackScript runs as root of a user namespace of the test user's own
// (unshare -Urm). It stacks two overlays, so the rootfs sits at the
// kernel's maximum stacking depth (2) and a third overlay — the container's
// native tier — is refused by the kernel ("maximum fs stacking depth
// exceeded"): a real failure, not a simulated one. urun runs in there with
// a single-id mapping. Each step writes NAME.out, NAME.err and NAME.rc.
const fallbackScript = `set -u
d=$1; res=$2; urun=$3
mount -t overlay o1 -o lowerdir=$d/l0,upperdir=$d/u1,workdir=$d/w1,userxattr $d/m1 || exit 90
mount -t overlay o2 -o lowerdir=$d/m1,upperdir=$d/u2,workdir=$d/w2,userxattr $d/m2 || exit 91
step() { name=$1; shift; timeout -s KILL 100 "$@" >$res/$name.out 2>$res/$name.err; echo $? >$res/$name.rc; }
export XDG_DATA_HOME=$d/m2/data
step auto $urun --debug run --rm --rootfs $d/m2/rootfs /bin/sh -c 'echo hi > /etc/w && cat /etc/w'
step autoinfo $urun info --format json
export URUN_FUSE_OVERLAYFS=/nonexistent/fuse-overlayfs
step copy $urun --debug run --rm --rootfs $d/m2/rootfs /bin/sh -c 'echo hi > /etc/w && cat /etc/w'
step copyinfo $urun info --format json
step native $urun run --rm --rootfs-tier native --rootfs $d/m2/rootfs /bin/true
`

// TestTiersFallbackReal makes the kernel refuse overlayfs for real and
// checks that auto then uses fuse-overlayfs, and without fuse-overlayfs
// the copy, with exactly one warning line.
func TestTiersFallbackReal(t *testing.T) {
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Fatal("unshare (util-linux) is not installed")
	}
	d := t.TempDir()
	// The overlays made work directories with mode 0 in there.
	t.Cleanup(func() {
		filepath.WalkDir(d, func(p string, e fs.DirEntry, err error) error {
			if e != nil && e.IsDir() {
				os.Chmod(p, 0o700)
			}
			return nil
		})
	})
	before := snapshotHost(t)
	res := filepath.Join(d, "res")
	for _, sub := range []string{"l0", "u1", "w1", "m1", "u2", "w2", "m2", "res"} {
		if err := os.MkdirAll(filepath.Join(d, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	mustMkRootfs(t, filepath.Join(d, "l0", "rootfs"))
	if err := os.MkdirAll(filepath.Join(d, "l0", "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(d, "fallback.sh")
	if err := os.WriteFile(script, []byte(fallbackScript), 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(unshare, "--user", "--map-root-user", "--mount", "--propagation", "private",
		"/bin/sh", script, d, res, urunBin).CombinedOutput()
	if err != nil {
		t.Fatalf("the stacked-overlay namespace: %v\n%s", err, out)
	}
	step := func(name string) result {
		o, _ := os.ReadFile(filepath.Join(res, name+".out"))
		e, _ := os.ReadFile(filepath.Join(res, name+".err"))
		rc, _ := os.ReadFile(filepath.Join(res, name+".rc"))
		r := result{stdout: string(o), stderr: string(e)}
		fmt.Sscan(string(rc), &r.code)
		return r
	}
	tierOf := func(name string) string {
		var f struct {
			Storage struct {
				Tier, TierWhy string
			} `json:"storage"`
		}
		json.Unmarshal([]byte(step(name).stdout), &f)
		return f.Storage.Tier + " (" + f.Storage.TierWhy + ")"
	}
	warnings := func(r result) int { return strings.Count(r.stderr, "warning: neither overlayfs nor fuse-overlayfs") }

	if r := step("auto"); r.code != 0 || r.stdout != "hi\n" || !strings.Contains(r.stderr, "rootfs (fuse)") || warnings(r) != 0 {
		t.Errorf("auto with overlayfs refused: want fuse, no warning: %s", r)
	}
	if got := tierOf("autoinfo"); !strings.HasPrefix(got, "fuse ") {
		t.Errorf("urun info with overlayfs refused: %s, want fuse", got)
	}
	r := step("copy")
	if r.code != 0 || r.stdout != "hi\n" || !strings.Contains(r.stderr, "rootfs (copy)") {
		t.Errorf("auto without overlayfs and fuse-overlayfs: want copy: %s", r)
	}
	if n := warnings(r); n != 1 {
		t.Errorf("want exactly one fallback warning, got %d:\n%s", n, r.stderr)
	}
	for _, l := range lines(r.stderr) {
		if strings.Contains(l, "warning: neither") && (!strings.HasPrefix(l, "urun: warning: ") || !strings.Contains(l, " MB") || !strings.Contains(l, "/nonexistent/fuse-overlayfs")) {
			t.Errorf("the warning does not name size and reasons: %q", l)
		}
	}
	if got := tierOf("copyinfo"); !strings.HasPrefix(got, "copy ") {
		t.Errorf("urun info without overlayfs and fuse-overlayfs: %s, want copy", got)
	}
	if r := step("native"); r.code != 125 || len(lines(r.stderr)) == 0 || !strings.Contains(lines(r.stderr)[len(lines(r.stderr))-1], "try --rootfs-tier fuse") {
		t.Errorf("forced native where the kernel refuses it: want exit 125 and a hint: %s", r)
	}
	// The rootfs was never written through: the writes went to the tiers'
	// own layers.
	if _, err := os.Stat(filepath.Join(d, "l0", "rootfs", "etc", "w")); err == nil {
		t.Error("a container's write reached the lower rootfs")
	}
	if _, err := os.Stat(filepath.Join(d, "u2", "rootfs", "etc", "w")); err == nil {
		t.Error("a container's write reached the rootfs directory")
	}
	checkHostClean(t, before)
}
