package engine

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/urun-dev/urun/container"
)

func TestParseRestartPolicy(t *testing.T) {
	for in, want := range map[string]RestartPolicy{
		"": {}, "no": {}, "always": {Name: "always"}, "unless-stopped": {Name: "unless-stopped"},
		"on-failure": {Name: "on-failure"}, "on-failure:3": {Name: "on-failure", MaxRetries: 3},
	} {
		got, err := ParseRestartPolicy(in)
		if err != nil || got != want {
			t.Errorf("ParseRestartPolicy(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, bad := range []string{"sometimes", "always:2", "on-failure:x", "on-failure:-1"} {
		if _, err := ParseRestartPolicy(bad); err == nil || !strings.Contains(err.Error(), "--restart") {
			t.Errorf("ParseRestartPolicy(%q): %v, want a refusal naming --restart", bad, err)
		}
	}
}

func TestRestartAgain(t *testing.T) {
	failed, ok, broke := container.ExitStatus(3), container.ExitStatus(0), errors.New("setup failed")
	for _, c := range []struct {
		p        RestartPolicy
		err      error
		restarts int
		want     bool
	}{
		{RestartPolicy{}, failed, 0, false},
		{RestartPolicy{Name: RestartAlways}, ok, 5, true},
		{RestartPolicy{Name: RestartUnlessStopped}, ok, 0, true},
		{RestartPolicy{Name: RestartOnFailure}, ok, 0, false},
		{RestartPolicy{Name: RestartOnFailure}, failed, 100, true},
		{RestartPolicy{Name: RestartOnFailure, MaxRetries: 2}, failed, 1, true},
		{RestartPolicy{Name: RestartOnFailure, MaxRetries: 2}, failed, 2, false},
		{RestartPolicy{Name: RestartOnFailure}, broke, 0, true},
	} {
		if got := c.p.again(c.err, c.restarts); got != c.want {
			t.Errorf("%+v.again(%v, %d) = %v, want %v", c.p, c.err, c.restarts, got, c.want)
		}
	}
	if d := restartDelay(0); d != 100*time.Millisecond {
		t.Errorf("first delay %s", d)
	}
	if d := restartDelay(50); d != time.Minute {
		t.Errorf("delay after many restarts %s, want the 1 minute cap", d)
	}
}

// dataDir points the engine's data directory at a temporary one.
func dataDir(t *testing.T) string {
	d := t.TempDir()
	t.Setenv(DataDirEnv, d)
	return d
}

func testRecord(root, id, name string) *Record {
	return &Record{
		ID: id, Name: name, Root: root, Created: time.Now().UTC(), Image: "localhost/x:1",
		ImageDigest: "sha256:" + strings.Repeat("a", 64), ImageRootfs: "/data/rootfs/a",
		Spec:     &specs.Spec{Process: &specs.Process{Args: []string{"sh"}}, Linux: &specs.Linux{}},
		InitPath: "/usr/bin/urun-init",
	}
}

func TestRecordSaveLoad(t *testing.T) {
	dataDir(t)
	id := strings.Repeat("1", 64)
	rec := testRecord("/run/x", id, "n")
	rec.RestartPolicy = RestartPolicy{Name: RestartAlways}
	if err := rec.save(); err != nil {
		t.Fatal(err)
	}
	p, _ := RecordPath(id)
	got, err := LoadRecord(p)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "n" || got.ImageDigest != rec.ImageDigest || got.RestartPolicy.Name != RestartAlways || got.Spec.Process.Args[0] != "sh" {
		t.Errorf("loaded %+v", got)
	}
	// A start's copy of the spec is its own.
	s, _ := got.spec()
	s.Mounts = append(s.Mounts, specs.Mount{Destination: "/etc/hosts"})
	if len(got.Spec.Mounts) != 0 {
		t.Error("the record's spec changed with a start's copy")
	}
	os.WriteFile(p, []byte(`{"version":99}`), 0o600)
	if _, err := LoadRecord(p); err == nil || !strings.Contains(err.Error(), "version 99") {
		t.Errorf("a record of another version: %v", err)
	}
	os.WriteFile(p, []byte(`{"version":1}`), 0o600)
	if _, err := LoadRecord(p); err == nil || !strings.Contains(err.Error(), "no complete spec") {
		t.Errorf("a record without spec: %v", err)
	}
	if _, err := LoadRecord(filepath.Join(t.TempDir(), "none")); !errors.Is(err, errNoRecord) {
		t.Errorf("a missing record: %v", err)
	}
}

// After a reboot emptied the state root, the next command registers the
// kept containers again (exited, names reserved); --rm ones' records go;
// another root's records are left alone.
func TestRestoreRecords(t *testing.T) {
	data := dataDir(t)
	root := t.TempDir()
	kept, rm, other := strings.Repeat("a", 64), strings.Repeat("b", 64), strings.Repeat("c", 64)
	testRecord(root, kept, "kept").save()
	r := testRecord(root, rm, "gone")
	r.AutoRemove = true
	r.save()
	testRecord("/elsewhere", other, "other").save()
	restoreRecords(root)
	st, err := container.Load(root, kept)
	if err != nil {
		t.Fatalf("the kept container is not registered again: %v", err)
	}
	if st.Status != specs.StateStopped || st.ExitCode != nil || st.Name != "kept" || st.ImageRootfs != "/data/rootfs/a" || st.Record == "" {
		t.Errorf("restored state %+v", st)
	}
	if id, err := Resolve(root, "kept"); err != nil || id != kept {
		t.Errorf("the name after restore: %q, %v", id, err)
	}
	if _, err := os.Lstat(filepath.Join(data, "containers", rm)); !os.IsNotExist(err) {
		t.Errorf("a --rm container's record survived the reboot: %v", err)
	}
	if _, err := container.Load(root, other); err == nil {
		t.Error("another root's container was registered here")
	}
	list, err := List(root)
	if err != nil || len(list) != 1 {
		t.Fatalf("List: %d, %v", len(list), err)
	}
	// Restoring twice changes nothing.
	restoreRecords(root)
	if list, _ := List(root); len(list) != 1 {
		t.Errorf("second restore: %d containers", len(list))
	}
	if err := Remove(root, "kept", false); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(data, "containers", kept)); !os.IsNotExist(err) {
		t.Errorf("rm left the record: %v", err)
	}
	if _, err := Resolve(root, "kept"); !errors.Is(err, container.ErrNotExist) {
		t.Errorf("resolve after rm: %v", err)
	}
}

func TestResolveAmbiguousAndUnknown(t *testing.T) {
	dataDir(t)
	root := t.TempDir()
	a, b := "abc"+strings.Repeat("1", 61), "abc"+strings.Repeat("2", 61)
	testRecord(root, a, "one").save()
	testRecord(root, b, "two").save()
	restoreRecords(root)
	if _, err := Resolve(root, "abc"); err == nil || !strings.Contains(err.Error(), "matches 2") {
		t.Errorf("ambiguous prefix: %v", err)
	}
	if id, err := Resolve(root, "abc1"); err != nil || id != a {
		t.Errorf("unique prefix: %q %v", id, err)
	}
	if _, err := Resolve(root, "nosuch"); !errors.Is(err, container.ErrNotExist) {
		t.Errorf("unknown: %v", err)
	}
	removed, err := Prune(root)
	if err != nil || len(removed) != 2 {
		t.Errorf("prune: %v, %v", removed, err)
	}
}

// A stream whose writer outlives close (a process outside the container
// holding the pipe) does not write after the log is closed, nor panic.
func TestLogWriterCloseWithStreamOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ctr.log")
	l, err := openLog(path)
	if err != nil {
		t.Fatal(err)
	}
	out, errw, err := l.pipes()
	if err != nil {
		t.Fatal(err)
	}
	// A second holder of stdout's write end keeps the stream open.
	held, err := os.OpenFile("/proc/self/fd/"+itoa(int(out.Fd())), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	out.WriteString("line one\npartial")
	errw.WriteString("oops\n")
	l.closeWriters()
	start := time.Now()
	l.close()
	if d := time.Since(start); d < logWait/2 {
		t.Errorf("close returned after %s with a stream open", d)
	}
	held.WriteString("\nlate\n")
	held.Close()
	time.Sleep(100 * time.Millisecond)
	b, _ := os.ReadFile(path)
	s := string(b)
	for _, want := range []string{" stdout F line one\n", " stderr F oops\n"} {
		if !strings.Contains(s, want) {
			t.Errorf("log lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "late") {
		t.Errorf("written after close:\n%s", s)
	}
}

func TestLogWriterRotates(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ctr.log")
	l, err := openLog(path)
	if err != nil {
		t.Fatal(err)
	}
	l.size = maxLog - 10
	l.write("stdout F", []byte("a line that does not fit"))
	l.close()
	if _, err := os.Stat(path + ".1"); err != nil {
		t.Errorf("no rotated log: %v", err)
	}
	if b, _ := os.ReadFile(path); !strings.Contains(string(b), "does not fit") {
		t.Errorf("the new log: %q", b)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestGeneratedName(t *testing.T) {
	n := GeneratedName(strings.Repeat("0", 64))
	if n != "brave_otter_0000" {
		t.Errorf("GeneratedName = %q", n)
	}
	if err := container.ValidID(GeneratedName("ffffffff" + strings.Repeat("9", 56))); err != nil {
		t.Error(err)
	}
}

func TestSystemdUnit(t *testing.T) {
	dataDir(t)
	root := t.TempDir()
	id := strings.Repeat("d", 64)
	testRecord(root, id, "web").save()
	restoreRecords(root)
	name, unit, err := SystemdUnit(root, "web", "/opt/my bin/urun", 7)
	if err != nil {
		t.Fatal(err)
	}
	if name != "container-web.service" {
		t.Errorf("unit name %q", name)
	}
	for _, want := range []string{
		`ExecStart="/opt/my bin/urun" start ` + id + "\n",
		`ExecStop="/opt/my bin/urun" stop -t 7 ` + id + "\n",
		"Environment=" + DataDirEnv + "=",
		"Environment=" + SupervisorEnv + "=own\n",
		"WantedBy=default.target",
	} {
		if !strings.Contains(unit, want) {
			t.Errorf("unit lacks %q:\n%s", want, unit)
		}
	}
	if _, _, err := SystemdUnit(root, "nosuch", "/u", 10); !errors.Is(err, container.ErrNotExist) {
		t.Errorf("unit for a missing container: %v", err)
	}
}
