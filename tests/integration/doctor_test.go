package integration

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/urun-dev/urun/hostcheck"
)

// Each doctor test breaks one thing for the urun process only (its PATH,
// environment or storage directory), never the host, and checks the line
// for that thing and the exit status.

// doctorLine is one parsed line of `urun doctor`.
type doctorLine struct{ status, id, text string }

func (l doctorLine) String() string { return l.status + " " + l.id + " " + l.text }

// runDoctor runs `urun doctor` with env changed by set (KEY=VALUE) and
// unset (KEY), and parses its lines by check id.
func runDoctor(t *testing.T, set []string, unset ...string) (map[string]doctorLine, result) {
	t.Helper()
	r := urunExactEnv(t, editEnv(set, unset...), "doctor")
	lines := map[string]doctorLine{}
	for _, l := range strings.Split(strings.TrimRight(r.stdout, "\n"), "\n") {
		f := strings.Fields(l)
		if len(f) < 3 || (f[0] != "ok" && f[0] != "warn" && f[0] != "fail") {
			continue
		}
		lines[f[1]] = doctorLine{status: f[0], id: f[1], text: strings.Join(f[2:], " ")}
	}
	if r.code < 0 || r.code > 2 || len(lines) != 13 {
		t.Fatalf("urun doctor: want 13 check lines and exit 0-2: %s", r)
	}
	return lines, r
}

func editEnv(set []string, unset ...string) []string {
	drop := map[string]bool{}
	for _, k := range unset {
		drop[k] = true
	}
	for _, kv := range set {
		drop[strings.SplitN(kv, "=", 2)[0]] = true
	}
	var env []string
	for _, kv := range os.Environ() {
		if !drop[strings.SplitN(kv, "=", 2)[0]] {
			env = append(env, kv)
		}
	}
	return append(env, set...)
}

// urunExactEnv runs urun with exactly env.
func urunExactEnv(t *testing.T, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(urunBin, withRm(args)...)
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting urun: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(2 * time.Minute):
		cmd.Process.Kill()
		<-done
		t.Fatalf("urun %v: no exit within 2 minutes", args)
	}
	r := result{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("urun %v: %v", args, err)
	}
	return r
}

// want checks one line's status and the words its text must hold.
func want(t *testing.T, lines map[string]doctorLine, id, status string, words ...string) {
	t.Helper()
	l, ok := lines[id]
	if !ok {
		t.Fatalf("no %s line in %v", id, lines)
	}
	if l.status != status {
		t.Errorf("%s: status %s, want %s: %s", id, l.status, status, l)
	}
	for _, w := range words {
		if !strings.Contains(l.text, w) {
			t.Errorf("%s line lacks %q: %s", id, w, l)
		}
	}
}

var (
	baselineOnce sync.Once
	baselineExit int
)

// baseline is doctor's exit status on this host unbroken: the exit a
// test expects is at least this.
func baseline(t *testing.T) int {
	baselineOnce.Do(func() {
		_, r := runDoctor(t, nil)
		baselineExit = r.code
	})
	return baselineExit
}

func degraded(t *testing.T) int { return max(baseline(t), hostcheck.ExitDegraded) }

// checkNoProbeLeftovers fails when a probe left its directories behind.
func checkNoProbeLeftovers(t *testing.T, dataDir string) {
	t.Helper()
	for _, pat := range []string{filepath.Join(os.TempDir(), "urun-hostcheck-*"), filepath.Join(dataDir, "urun", ".hostcheck-*")} {
		m, _ := filepath.Glob(pat)
		for _, p := range m {
			if st, err := os.Stat(p); err == nil && st.Sys().(*syscall.Stat_t).Uid == uint32(os.Getuid()) {
				t.Errorf("probe directory left behind: %s", p)
			}
		}
	}
}

func defaultDataDir() string {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return d
	}
	return filepath.Join(os.Getenv("HOME"), ".local", "share")
}

// On this CI host cgroups are hybrid and PID 1 is not systemd: doctor must
// say that limits are impossible and why, and exit 1. On a host with
// systemd and cgroup v2 the same test checks the lines are ok.
func TestDoctorThisHost(t *testing.T) {
	before := myProcesses(t)
	lines, r := runDoctor(t, nil)
	for _, id := range []string{"userns", "init", "subids", "newuidmap", "runtime-dir", "storage"} {
		want(t, lines, id, "ok")
	}
	hybrid := isFS("/sys/fs/cgroup", 0x01021994) && isFS("/sys/fs/cgroup/unified", 0x63677270)
	comm, _ := os.ReadFile("/proc/1/comm")
	pid1 := strings.TrimSpace(string(comm))
	if hybrid {
		want(t, lines, "cgroups", "warn", "no limits possible", "cgroups are hybrid", "/sys/fs/cgroup/unified has only", "--memory", "fix: boot with cgroup v2 only")
		if r.code != hostcheck.ExitDegraded {
			t.Errorf("hybrid cgroups: exit %d, want 1 (degraded): %s", r.code, r)
		}
	}
	if pid1 != "systemd" {
		want(t, lines, "systemd", "warn", "no systemd", `PID 1 is "`+pid1+`"`, "without limits", "fix:")
	}
	if !strings.Contains(r.stdout, "(exit "+itoa(r.code)+")") {
		t.Errorf("summary does not state the exit status: %s", r)
	}
	checkNoLeftovers(t, before)
	checkNoProbeLeftovers(t, defaultDataDir())
}

func isFS(path string, magic int64) bool {
	var st syscall.Statfs_t
	return syscall.Statfs(path, &st) == nil && st.Type == magic
}

// urun info --format json: valid JSON, matching the documented schema,
// with the fields the issue lists filled from this host.
func TestInfoJSON(t *testing.T) {
	r := mustRun(t, "info", "--format", "json")
	if err := hostcheck.Validate(hostcheck.InfoSchema, []byte(r.stdout)); err != nil {
		t.Fatalf("info JSON does not match docs/info.schema.json: %v\n%s", err, r.stdout)
	}
	var f hostcheck.Facts
	if err := json.Unmarshal([]byte(r.stdout), &f); err != nil {
		t.Fatal(err)
	}
	u, _ := user.Current()
	checks := map[string]bool{
		"version.urun":              f.Version.Urun != "",
		"version.go":                strings.HasPrefix(f.Version.Go, "go"),
		"kernel.release":            f.Kernel.Release != "",
		"kernel.usernsProbe works":  f.Kernel.Userns.OK,
		"user":                      f.User.Name == u.Username && f.User.UID == os.Getuid(),
		"idMapping.source":          f.IDs.Source == "file" || f.IDs.Source == "getsubids",
		"idMapping.mode auto":       f.IDs.Mode == "auto",
		"idMapping.uidMap":          strings.HasPrefix(f.IDs.UIDMap, "0:"+u.Uid+":1,1:"),
		"helpers.newuidmap setuid":  f.Helpers["newuidmap"].Setuid && f.Helpers["newuidmap"].Path != "",
		"helpers.slirp4netns ver":   strings.Contains(f.Helpers["slirp4netns"].Version, "1."),
		"storage.tier":              f.Storage.Tier == "native" && f.Storage.TierWhy != "",
		"cgroup.layout":             f.Cgroup.Layout != "",
		"systemd.init":              f.Systemd.Init != "",
		"network.default":           f.Network.Default == "slirp4netns" && f.Network.DefaultWhy != "", // the harness installs both; no -p
		"directories.state":         strings.HasPrefix(f.Dirs.State, os.Getenv("XDG_RUNTIME_DIR")),
		"directories.data":          f.Dirs.Data == filepath.Join(defaultDataDir(), "urun"),
		"sysctl.max_user_namespace": f.Sysctl.MaxUserNamespaces != nil,
	}
	for what, ok := range checks {
		if !ok {
			t.Errorf("%s is wrong in:\n%s", what, r.stdout)
		}
	}
	// The text form names the same things.
	text := mustRun(t, "info").stdout
	for _, w := range []string{"id mapping:", "newuidmap:", "storage:", "cgroups:", "systemd:", "user bus:", "network:", "state:", "data:"} {
		if !strings.Contains(text, w) {
			t.Errorf("urun info lacks %q:\n%s", w, text)
		}
	}
	// Every line has its label; the bus line reads as a sentence.
	for _, l := range lines(text) {
		if strings.HasPrefix(l, ":") || strings.HasPrefix(l, " ") {
			t.Errorf("urun info line without a label: %q", l)
		}
		if bus, ok := strings.CutPrefix(l, "user bus:"); ok {
			bus = strings.TrimSpace(bus)
			if !strings.HasPrefix(bus, "none (") && !strings.HasSuffix(bus, ", reachable") && !strings.Contains(bus, ", not reachable (") {
				t.Errorf("urun info's user bus line: %q", l)
			}
		}
	}
}

// Each doctor run stops every helper its probes start (pasta forks into
// the background unless told not to).
func TestDoctorLeavesNoProcesses(t *testing.T) {
	before := myProcesses(t)
	for i := 0; i < 3; i++ {
		urun(t, "doctor")
	}
	checkNoLeftovers(t, before)
}

func TestDoctorJSON(t *testing.T) {
	r := urun(t, "doctor", "--format", "json")
	if err := hostcheck.Validate(hostcheck.DoctorSchema, []byte(r.stdout)); err != nil {
		t.Fatalf("doctor JSON does not match the schema: %v\n%s", err, r)
	}
	var rep hostcheck.Report
	json.Unmarshal([]byte(r.stdout), &rep)
	if rep.Exit != r.code {
		t.Errorf("JSON says exit %d, urun exited %d", rep.Exit, r.code)
	}
	if r := urun(t, "doctor", "--format", "yaml"); r.code != 125 || !strings.Contains(r.stderr, "unknown --format") {
		t.Errorf("--format yaml: %s", r)
	}
}

// copyHelpers copies newuidmap and newgidmap: the copies are ours, so
// they lose the setuid bit.
func copyHelpers(t *testing.T) string {
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
	return dir
}

func TestDoctorNewuidmapNotSetuid(t *testing.T) {
	dir := copyHelpers(t)
	path := "PATH=" + dir + ":" + os.Getenv("PATH")
	before := myProcesses(t)
	lines, r := runDoctor(t, []string{path})
	want(t, lines, "newuidmap", "warn", "PATH finds "+dir+"/newuidmap first", "neither setuid root nor has file capabilities", "single-id",
		"fix: remove "+dir+"/newuidmap, or put /usr/bin before "+dir+" in PATH")
	if r.code != degraded(t) {
		t.Errorf("exit %d, want %d", r.code, degraded(t))
	}
	checkNoLeftovers(t, before)
	// urun run still works, with a single-id namespace and the same advice.
	rr := urunEnv(t, []string{path}, "run", busybox(), "cat", "/proc/self/uid_map")
	if rr.code != 0 || strings.Count(strings.TrimSpace(rr.stdout), "\n") != 0 {
		t.Errorf("urun run with a non-setuid newuidmap: want a single-id map and exit 0: %s", rr)
	}
	if !strings.Contains(rr.stderr, "neither setuid root") || !strings.Contains(rr.stderr, "run `urun doctor` for details") {
		t.Errorf("urun run does not warn with the cause and point at urun doctor: %s", rr.stderr)
	}
	// One text: run names the copy that works, as doctor does, and does
	// not suggest making the user's own copy setuid.
	for _, w := range []string{"PATH finds " + dir + "/newuidmap first", "fix: remove " + dir + "/newuidmap, or put /usr/bin before " + dir + " in PATH"} {
		if !strings.Contains(rr.stderr, w) {
			t.Errorf("urun run's warning lacks doctor's %q: %s", w, rr.stderr)
		}
	}
	if strings.Contains(rr.stderr, "chmod u+s") {
		t.Errorf("urun run suggests chmod u+s on the user's copy: %s", rr.stderr)
	}
}

// Helpers installed where PATH does not look (a minimal PATH from sudo,
// cron or a hand-made profile): doctor and run say where they are and
// how to fix PATH, not "not installed".
func TestHelpersOffPath(t *testing.T) {
	path := "PATH=" + t.TempDir()
	lines, _ := runDoctor(t, []string{path})
	want(t, lines, "newuidmap", "warn", "newuidmap is installed at /usr/bin/newuidmap, but /usr/bin is not on PATH", `fix: export PATH="$PATH:/usr/bin"`)
	want(t, lines, "network", "warn", "pasta is installed at /usr/bin/pasta, but /usr/bin is not on PATH", `fix: export PATH="$PATH:/usr/bin"`)
	want(t, lines, "fuse", lines["fuse"].status, "fuse-overlayfs is installed at /usr/bin/fuse-overlayfs, but /usr/bin is not on PATH")
	rr := urunEnv(t, []string{path}, "run", busybox(), "true")
	if rr.code != 0 || !strings.Contains(rr.stderr, "newuidmap is installed at /usr/bin/newuidmap, but /usr/bin is not on PATH") || !strings.Contains(rr.stderr, `fix: export PATH="$PATH:/usr/bin"`) {
		t.Errorf("urun run with newuidmap off PATH: %s", rr)
	}
	rr = urunEnv(t, []string{path}, "run", "--network", "pasta", busybox(), "true")
	if rr.code != 125 || !strings.Contains(rr.stderr, "pasta is installed at /usr/bin/pasta, but /usr/bin is not on PATH") {
		t.Errorf("urun run --network pasta with pasta off PATH: %s", rr)
	}
	rr = urunEnv(t, []string{path}, "run", "--network", "slirp4netns", busybox(), "true")
	if rr.code != 125 || !strings.Contains(rr.stderr, "slirp4netns is installed at /usr/bin/slirp4netns, but /usr/bin is not on PATH") || !strings.Contains(rr.stderr, `fix: export PATH="$PATH:/usr/bin"`) {
		t.Errorf("urun run --network slirp4netns with slirp4netns off PATH: %s", rr)
	}
}

// XDG_RUNTIME_DIR unset (su, a CI shell) or naming another user's
// directory: as podman, urun uses the login's /run/user/UID when it is
// the user's and 0700, so a container started from the login shell is
// seen, and its name cannot be taken twice.
func TestDoctorRuntimeDirUnset(t *testing.T) {
	me := itoa(os.Getuid())
	login := "/run/user/" + me
	if os.Getenv("XDG_RUNTIME_DIR") != login {
		t.Fatalf("XDG_RUNTIME_DIR=%q: the harness gives the test user %s", os.Getenv("XDG_RUNTIME_DIR"), login)
	}
	lines, r := runDoctor(t, nil, "XDG_RUNTIME_DIR")
	want(t, lines, "runtime-dir", "ok", "XDG_RUNTIME_DIR is unset", login+"/urun, your login's runtime directory")
	if r.code != degraded(t) {
		t.Errorf("exit %d, want %d", r.code, degraded(t))
	}
	urun(t, "rm", "-f", "rtdir")
	noXDG := editEnv(nil, "XDG_RUNTIME_DIR")
	if rr := urunExactEnv(t, noXDG, "run", "-d", "--name", "rtdir", busybox(), "sleep", "300"); rr.code != 0 || rr.stderr != "" {
		t.Fatalf("urun run -d without XDG_RUNTIME_DIR: %s", rr)
	}
	defer urun(t, "rm", "-f", "rtdir")
	if e := psAll(t)["rtdir"]; e.State != "running" {
		t.Errorf("the login shell's ps does not see the container started without XDG_RUNTIME_DIR: %+v", e)
	}
	if rr := urun(t, "run", "-d", "--name", "rtdir", busybox(), "true"); rr.code != 125 || !strings.Contains(rr.stderr, "in use") {
		t.Errorf("the name was taken twice: %s", rr)
	}
}

// Without /run/user/UID either, state goes to $TMPDIR/urun-UID, and urun
// says so once, when it makes that directory. The test hides /run/user
// with a tmpfs in a mount namespace of its own (a user namespace as root
// for the mount, then one mapping back to this uid).
func TestRuntimeDirFallbackSaidOnce(t *testing.T) {
	me := itoa(os.Getuid())
	tmp := t.TempDir()
	fallback := filepath.Join(tmp, "urun-"+me)
	script := `mount -t tmpfs none /run/user &&
exec unshare --user --map-user=` + me + ` --map-group=` + itoa(os.Getgid()) + ` sh -c '
"$0" ps -a 2>&1; echo "--"; "$0" ps -a 2>&1; echo "--"; ls -d ` + fallback + `' "$0"`
	cmd := exec.Command("unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script, urunBin)
	cmd.Env = editEnv([]string{"TMPDIR=" + tmp}, "XDG_RUNTIME_DIR")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	parts := strings.Split(string(out), "--\n")
	if len(parts) != 3 {
		t.Fatalf("output: %s", out)
	}
	if !strings.Contains(parts[0], "urun: note: XDG_RUNTIME_DIR is unset and /run/user/"+me+" does not exist: container state goes to "+fallback) {
		t.Errorf("first command does not say where state goes: %q", parts[0])
	}
	if strings.Contains(parts[1], "note:") {
		t.Errorf("the second command says it again: %q", parts[1])
	}
	if strings.TrimSpace(parts[2]) != fallback {
		t.Errorf("state directory: %q", parts[2])
	}
}

func TestDoctorRuntimeDirOtherUser(t *testing.T) {
	other := otherUsersDir(t)
	var st syscall.Stat_t
	if err := syscall.Stat(other, &st); err != nil {
		t.Fatal(err)
	}
	lines, r := runDoctor(t, []string{"XDG_RUNTIME_DIR=" + other})
	want(t, lines, "runtime-dir", "ok", "XDG_RUNTIME_DIR="+other+" belongs to uid "+itoa(int(st.Uid))+", not to you (uid "+itoa(os.Getuid())+")",
		"/run/user/"+itoa(os.Getuid())+"/urun")
	if r.code != degraded(t) {
		t.Errorf("exit %d, want %d", r.code, degraded(t))
	}
}

// otherUsersDir is another user's runtime directory, as `su` leaves in
// XDG_RUNTIME_DIR, or failing that a root-owned directory.
func otherUsersDir(t *testing.T) string {
	ents, _ := os.ReadDir("/run/user")
	for _, e := range ents {
		p := filepath.Join("/run/user", e.Name())
		var st syscall.Stat_t
		if syscall.Stat(p, &st) == nil && int(st.Uid) != os.Getuid() {
			return p
		}
	}
	return "/"
}

func itoa(n int) string { return strconv.Itoa(n) }

// /dev/fuse cannot be made inaccessible without touching the host, so the
// probe is pointed at a device path of the test's making (FuseDeviceEnv).
func TestDoctorFuseDevice(t *testing.T) {
	locked := filepath.Join(t.TempDir(), "fuse")
	if err := os.WriteFile(locked, nil, 0o000); err != nil {
		t.Fatal(err)
	}
	lines, r := runDoctor(t, []string{hostcheck.FuseDeviceEnv + "=" + locked})
	want(t, lines, "fuse", "warn", locked+" cannot be opened (permission denied, mode ----------", "fix: sudo chmod 0666 "+locked)
	// fuse-overlayfs is only the fallback: with kernel overlay working
	// the exit status does not change.
	if lines["storage"].status == "ok" && r.code != baseline(t) {
		t.Errorf("exit %d, want %d", r.code, baseline(t))
	}
	lines, _ = runDoctor(t, []string{hostcheck.FuseDeviceEnv + "=/nonexistent/fuse"})
	want(t, lines, "fuse", "warn", "/nonexistent/fuse does not exist", "fix: sudo modprobe fuse")
}

// doctorHiding runs urun doctor (and then script, if any) with the
// given host programs hidden: /dev/null bind-mounted over each in the
// test's own mount namespace, so they are not installed as far as urun
// can see, wherever it looks.
func doctorHiding(t *testing.T, script string, progs ...string) (map[string]doctorLine, string) {
	t.Helper()
	var setup []string
	for _, p := range progs {
		setup = append(setup, "mount --bind /dev/null /usr/bin/"+p)
	}
	out, _ := asMeWithMounts(t, os.Environ(), strings.Join(setup, " && "), `"$0" doctor; echo "--"; `+script)
	doctor, rest, _ := strings.Cut(out, "--\n")
	lines := map[string]doctorLine{}
	for _, l := range strings.Split(doctor, "\n") {
		if f := strings.Fields(l); len(f) >= 3 && (f[0] == "ok" || f[0] == "warn" || f[0] == "fail") {
			lines[f[1]] = doctorLine{status: f[0], id: f[1], text: strings.Join(f[2:], " ")}
		}
	}
	if len(lines) != 13 {
		t.Fatalf("urun doctor: want 13 check lines:\n%s", out)
	}
	return lines, rest
}

func TestDoctorNoFuseOverlayfs(t *testing.T) {
	lines, rest := doctorHiding(t, `"$0" run `+busybox()+` true && echo ran`, "fuse-overlayfs")
	want(t, lines, "fuse", "warn", "fuse-overlayfs is not installed", "fix: sudo apt-get install fuse-overlayfs")
	if !strings.Contains(rest, "ran\n") {
		t.Errorf("urun run without fuse-overlayfs: %s", rest)
	}
}

func TestDoctorNoNetworkHelpers(t *testing.T) {
	lines, _ := doctorHiding(t, "", "pasta", "slirp4netns")
	want(t, lines, "network", "warn", "neither pasta nor slirp4netns is installed", "--network none or host", "fix: sudo apt-get install passt")
	// With only slirp4netns, networking still works.
	lines, _ = doctorHiding(t, "", "pasta")
	want(t, lines, "network", "ok", "slirp4netns works", "pasta is not installed")
}

// Storage on a FUSE filesystem (fuse-overlayfs mounted by the test user
// through fusermount3): kernel overlayfs refuses an upper layer there.
func TestDoctorStorageOnFUSE(t *testing.T) {
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
	data := filepath.Join(mnt, "data")
	lines, r := runDoctor(t, []string{"XDG_DATA_HOME=" + data})
	l := lines["storage"]
	if l.status == "ok" {
		t.Fatalf("storage on FUSE: want warn or fail: %s", l)
	}
	want(t, lines, "storage", l.status, "kernel overlayfs cannot be mounted in "+data+"/urun (fuse)", "fix: keep urun's storage on a local filesystem")
	if r.code < degraded(t) {
		t.Errorf("exit %d, want at least %d", r.code, degraded(t))
	}
	checkNoProbeLeftovers(t, data)
}

// Run as the user without subordinate ids (integration.sh, -run NoSubIDs).
func TestDoctorNoSubIDs(t *testing.T) {
	u, _ := user.Current()
	before := myProcesses(t)
	lines, r := runDoctor(t, nil)
	want(t, lines, "subids", "warn", "has no entry for "+u.Username, "single-id", "fix: sudo usermod --add-subuids ")
	// The range suggested belongs to nobody yet (on Debian, 100000-165535
	// is the first user's), and run suggests the same one.
	rng := suggestedRange(t, r.stdout)
	if r := mustRun(t, "run", busybox(), "true"); !strings.Contains(r.stderr, "--add-subuids "+rng+" --add-subgids "+rng+" "+u.Username) {
		t.Errorf("run's warning does not suggest %s: %q", rng, r.stderr)
	}
	// newuidmap itself is fine: shadow lets a user map its own id.
	want(t, lines, "newuidmap", "ok")
	if r.code != degraded(t) {
		t.Errorf("exit %d, want %d", r.code, degraded(t))
	}
	checkNoLeftovers(t, before)
}

// suggestedRange finds "--add-subuids A-B" in text and checks that A-B
// overlaps no line of /etc/subuid or /etc/subgid.
func suggestedRange(t *testing.T, text string) string {
	t.Helper()
	_, rest, ok := strings.Cut(text, "--add-subuids ")
	if !ok {
		t.Fatalf("no --add-subuids in %q", text)
	}
	rng, _, _ := strings.Cut(rest, " ")
	var lo, hi uint64
	if _, err := fmt.Sscanf(rng, "%d-%d", &lo, &hi); err != nil || hi-lo+1 != 65536 || lo < 100000 {
		t.Fatalf("suggested range %q: want 65536 ids from 100000 up", rng)
	}
	for _, file := range []string{"/etc/subuid", "/etc/subgid"} {
		b, err := os.ReadFile(file)
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(b), "\n") {
			var start, count uint64
			if f := strings.Split(l, ":"); len(f) == 3 {
				fmt.Sscan(f[1], &start)
				fmt.Sscan(f[2], &count)
				if count > 0 && lo < start+count && start <= hi {
					t.Errorf("suggested range %s overlaps %s's line %q", rng, file, l)
				}
			}
		}
	}
	return rng
}
