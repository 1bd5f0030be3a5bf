package container

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// The container init's mount half, run inside `go test`: the test binary
// runs itself again (the os/exec helper-process pattern) in new user,
// mount, pid, network, ipc and cgroup namespaces, mapped to the caller's
// own id as urun's single-id fallback is, plans the default mounts of a
// container, replays the plan under a scratch rootfs with the init's own
// code, and reports what /proc/self/mountinfo then shows. It needs no
// root and no subordinate ids, so it runs as root in CI and as a
// developer's own user alike.

const initHelperEnv = "URUN_TEST_INIT_HELPER"

// initHelperResult is what the helper process prints, as JSON.
type initHelperResult struct {
	Err    string            `json:"err,omitempty"`
	Mounts map[string]string `json:"mounts"` // target (inside rootfs) -> fstype
	Links  map[string]string `json:"links"`  // /dev symlink -> its target
}

func TestInitMountsInNamespaces(t *testing.T) {
	rootfs := t.TempDir()
	vol := t.TempDir()
	if err := os.WriteFile(filepath.Join(vol, "file"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestInitHelperProcess$", "-test.v=false")
	cmd.Env = append(os.Environ(), initHelperEnv+"=1", "ROOTFS="+rootfs, "VOL="+vol)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS | syscall.CLONE_NEWPID |
			syscall.CLONE_NEWNET | syscall.CLONE_NEWIPC | unix.CLONE_NEWCGROUP,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}},
	}
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("helper process: %v\nstdout: %s\nstderr: %s", err, out, stderr)
	}
	var res initHelperResult
	line := lastLine(string(out))
	if err := json.Unmarshal([]byte(line), &res); err != nil {
		t.Fatalf("helper output %q: %v", out, err)
	}
	if res.Err != "" {
		t.Fatalf("the init's mounts failed in the helper: %s", res.Err)
	}
	want := map[string]string{
		"/proc": "proc", "/dev": "tmpfs", "/dev/pts": "devpts", "/dev/shm": "tmpfs",
		"/dev/mqueue": "mqueue", "/sys": "sysfs", "/data": "",
		"/dev/null": "", "/dev/zero": "", "/dev/urandom": "",
	}
	for target, fstype := range want {
		got, ok := res.Mounts[target]
		switch {
		case !ok:
			t.Errorf("%s is not mounted in the rootfs; mounts: %v", target, res.Mounts)
		case fstype != "" && got != fstype:
			t.Errorf("%s is %s, want %s", target, got, fstype)
		}
	}
	for link, to := range map[string]string{"/dev/ptmx": "pts/ptmx", "/dev/fd": "/proc/self/fd", "/dev/stdin": "/proc/self/fd/0"} {
		if res.Links[link] != to {
			t.Errorf("%s -> %q, want %q", link, res.Links[link], to)
		}
	}
	// The mounts lived in the helper's mount namespace only.
	if b, err := os.ReadFile("/proc/self/mountinfo"); err == nil && strings.Contains(string(b), rootfs) {
		t.Errorf("the helper's mounts under %s are visible outside its namespace", rootfs)
	}
}

// TestInitHelperProcess is the helper: it does nothing unless run by
// TestInitMountsInNamespaces.
func TestInitHelperProcess(t *testing.T) {
	if os.Getenv(initHelperEnv) != "1" {
		return
	}
	res := initHelperResult{Mounts: map[string]string{}, Links: map[string]string{}}
	if err := initMountsHelper(os.Getenv("ROOTFS"), os.Getenv("VOL"), &res); err != nil {
		res.Err = err.Error()
	}
	b, _ := json.Marshal(res)
	fmt.Println(string(b))
	os.Exit(0)
}

func initMountsHelper(rootfs, vol string, res *initHelperResult) error {
	// As the init does: nothing of ours propagates back to the host.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("making / private: %w", err)
	}
	if err := unix.Mount(rootfs, rootfs, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("binding the rootfs: %w", err)
	}
	spec := &specs.Spec{
		Mounts: append(defaultMounts(Options{}),
			specs.Mount{Destination: "/data", Type: "bind", Source: vol, Options: []string{"rbind", "ro"}}),
		Linux: &specs.Linux{Devices: defaultDevices()},
	}
	ops, err := planMounts(spec)
	if err != nil {
		return fmt.Errorf("planning: %w", err)
	}
	// The cgroup mount reads the host's hierarchies, which differ by
	// host; the integration tests cover it inside real containers.
	var keep []mountOp
	for _, op := range ops {
		if op.Kind != opCgroup {
			keep = append(keep, op)
		}
	}
	if err := applyMounts(rootfs, keep); err != nil {
		return err
	}
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// id parent major:minor root mountpoint options ... - fstype source super
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		mp := fields[4]
		if mp != rootfs && !strings.HasPrefix(mp, rootfs+"/") {
			continue
		}
		fstype := ""
		for i, x := range fields {
			if x == "-" && i+1 < len(fields) {
				fstype = fields[i+1]
			}
		}
		res.Mounts[strings.TrimPrefix(mp, rootfs)] = fstype
	}
	for _, l := range []string{"/dev/ptmx", "/dev/fd", "/dev/stdin"} {
		if to, err := os.Readlink(filepath.Join(rootfs, l)); err == nil {
			res.Links[l] = to
		}
	}
	// The read-only bind is read-only.
	if err := os.WriteFile(filepath.Join(rootfs, "data", "new"), nil, 0o644); err == nil {
		return fmt.Errorf("writing into the :ro bind at /data succeeded")
	}
	return sc.Err()
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
