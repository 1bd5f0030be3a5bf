package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// childNamed finds the child of pid whose command is comm.
func childNamed(pid int, comm string) int {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		i, j := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if i < 0 || j < i {
			continue
		}
		f := strings.Fields(s[j+1:])
		if s[i+1:j] == comm && len(f) > 1 && f[1] == strconv.Itoa(pid) {
			n, _ := strconv.Atoi(e.Name())
			return n
		}
	}
	return 0
}

// urun-image killed in the middle of a pull: urun says so in one line
// and exits 125 (not 255 with Go's "signal: killed").
func TestPullHelperKilled(t *testing.T) {
	reg := startRegistry(t)
	proxy, ref := stallHardPull(t, reg, "helperkilled")
	env := storeEnv(t)
	cmd := exec.Command(urunBin, "pull", "--tls-verify=false", ref)
	cmd.Env = append(os.Environ(), env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-proxy.stalled:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatal("the pull never reached the layer download")
	}
	helper := childNamed(cmd.Process.Pid, "urun-image")
	if helper == 0 {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatal("no urun-image child of urun pull")
	}
	syscall.Kill(helper, syscall.SIGKILL)
	cmd.Wait()
	proxy.Release()
	code := cmd.ProcessState.ExitCode()
	msg := strings.TrimSpace(stderr.String())
	last := lines(msg)[len(lines(msg))-1]
	if code != 125 || !strings.HasPrefix(last, "urun: ") || !strings.Contains(last, "killed") || strings.Contains(msg, "signal: killed") {
		t.Errorf("urun pull whose urun-image was killed: exit %d, stderr:\n%s", code, msg)
	}
	mustRunEnv(t, env, "pull", "-q", "--tls-verify=false", ref)
}

// fuse-overlayfs dying after it mounted the container's root (killed,
// out of memory) is reported as that, not as the program being missing
// (sh's 127). The fuse-overlayfs here is the real one, run in the
// foreground by a wrapper first on PATH that kills it once it mounted.
func TestFuseOverlayKilledAtStart(t *testing.T) {
	real, err := exec.LookPath("fuse-overlayfs")
	if err != nil {
		t.Fatal("fuse-overlayfs is not installed")
	}
	dir := t.TempDir()
	wrapper := "#!/bin/sh\n" + real + " -f \"$@\" & pid=$!\nsleep 0.5\nkill -9 $pid\n"
	if err := os.WriteFile(filepath.Join(dir, "fuse-overlayfs"), []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	before := myProcesses(t)
	r := urunEnv(t, []string{"PATH=" + dir + ":" + os.Getenv("PATH")}, "run", "--rm", "--rootfs-tier", "fuse", busybox(), "sh", "-c", "echo ran")
	if r.code != 125 || !strings.Contains(r.stderr, "root filesystem is gone") || len(lines(r.stderr)) != 1 {
		t.Errorf("run whose fuse-overlayfs died: %s", r)
	}
	checkNoLeftovers(t, before)
}
