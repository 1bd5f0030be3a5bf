package integration

// The idmapped-lower-layer probe (hostcheck/idmaplower_parent.go,
// docs/STORE.md "Another id mapping"): its answer in info and doctor, its
// record, run's explanation, and that the answer is what a real attempt
// of the same thing gets from this kernel, made here by other code.

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/urun-dev/urun/hostcheck"
)

// idmapAttemptEnv makes the test binary try the idmapping in a
// directory instead of running tests (TestMain calls idmapAttemptMain).
const idmapAttemptEnv = "URUN_TEST_IDMAP_ATTEMPT"

// idmapAttemptMain runs in a user namespace (the user's own id as 0) with
// a mount namespace: it clones the directory as a detached mount and asks
// for an idmapping with this namespace, printing "ok" or the errno's name.
func idmapAttemptMain() {
	dir := os.Getenv(idmapAttemptEnv)
	if dir == "" {
		return
	}
	answer := func() string {
		if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
			return "setup: " + err.Error()
		}
		fd, err := unix.OpenTree(unix.AT_FDCWD, dir, unix.OPEN_TREE_CLONE)
		if err != nil {
			return "setup: open_tree: " + err.Error()
		}
		ns, err := unix.Open("/proc/self/ns/user", unix.O_RDONLY, 0)
		if err != nil {
			return "setup: " + err.Error()
		}
		err = unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH, &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_IDMAP, Userns_fd: uint64(ns)})
		var en unix.Errno
		switch {
		case err == nil:
			return "ok"
		case errors.As(err, &en):
			return unix.ErrnoName(en)
		}
		return err.Error()
	}()
	fmt.Println(answer)
	os.Exit(0)
}

// attemptIdmap re-runs the test binary in new user and mount namespaces
// to try an idmapped mount of a directory in data.
func attemptIdmap(t *testing.T, data string) string {
	t.Helper()
	dir, err := os.MkdirTemp(data, "idmap-attempt-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), idmapAttemptEnv+"="+dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}},
	}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("the idmapping attempt: %v\n%s", err, out)
	}
	got := strings.TrimSpace(string(out))
	if strings.HasPrefix(got, "setup:") {
		t.Fatalf("the idmapping attempt could not get as far as mount_setattr: %s", got)
	}
	return got
}

func TestIdmapLowerProbeMatchesAttempt(t *testing.T) {
	env := storeEnv(t)
	data := filepath.Join(strings.TrimPrefix(env[0], "XDG_DATA_HOME="), "urun")
	r := mustRunEnv(t, env, "info", "--format", "json")
	var f hostcheck.Facts
	if err := json.Unmarshal([]byte(r.stdout), &f); err != nil {
		t.Fatal(err)
	}
	p := f.Storage.IdmapLower
	if !p.Ran {
		t.Fatalf("the idmapped-lower probe did not run: %s", p.Skipped)
	}
	attempt := attemptIdmap(t, data)
	t.Logf("kernel %s, data on %s: probe ok=%v errno=%s (%s); attempt: %s", f.Kernel.Release, f.Storage.FSType, p.OK, p.Errno, p.Error, attempt)
	switch {
	case attempt == "ok" && !p.OK:
		t.Errorf("the kernel allows the idmapping, the probe says no: %s %s", p.Errno, p.Error)
	case attempt != "ok" && p.OK:
		t.Errorf("the kernel refuses the idmapping (%s), the probe says yes", attempt)
	case attempt != "ok" && p.Errno != attempt:
		t.Errorf("the probe failed with %s (%s), the attempt with %s", p.Errno, p.Error, attempt)
	}
	// Recorded for run, under the key of this kernel and filesystem.
	var rec hostcheck.IdmapLowerRecord
	b, err := os.ReadFile(filepath.Join(data, hostcheck.IdmapLowerCacheFile))
	if err != nil || json.Unmarshal(b, &rec) != nil {
		t.Fatalf("no record of the answer: %v %s", err, b)
	}
	if rec.Key != hostcheck.IdmapLowerKey(data) || rec.Probe.OK != p.OK || rec.Probe.Errno != p.Errno {
		t.Errorf("record %+v, probe %+v, key here %q", rec, p, hostcheck.IdmapLowerKey(data))
	}
	// The probe leaves nothing in the data directory.
	if ents, _ := filepath.Glob(filepath.Join(data, ".hostcheck-*")); len(ents) > 0 {
		t.Errorf("probe directories left: %v", ents)
	}
	// doctor says the same in its line.
	d := urunEnv(t, env, "doctor")
	line := ""
	for _, l := range lines(d.stdout) {
		if strings.Contains(l, "idmap-lower") {
			line = l
		}
	}
	want := "refuses you an idmapped lower layer (" + p.Errno
	if p.OK {
		want = "lets you idmap"
	}
	if !strings.Contains(line, want) {
		t.Errorf("doctor's idmap-lower line %q lacks %q:\n%s", line, want, d.stdout)
	}
	// A run with another mapping explains why it unpacks its own tree,
	// from the record.
	mustRunEnv(t, env, "pull", "-q", busybox())
	run := mustRunEnv(t, env, "--debug", "run", "--userns=keep-id", "--pull=never", "localhost/busybox:latest", "true")
	if !strings.Contains(run.stderr, "not this run's") || !strings.Contains(run.stderr, "(recorded in "+filepath.Join(data, hostcheck.IdmapLowerCacheFile)) {
		t.Errorf("keep-id run does not explain the copy from the record:\n%s", run.stderr)
	}
}
