package container

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// checkCwd must refuse a working directory reached through a descriptor
// that points outside the root (the CVE-2024-21626 shape): a child chroots
// into a directory while holding a descriptor of its parent directory,
// changes into it, and asks.
func TestCheckCwdOutsideRoot(t *testing.T) {
	if dir := os.Getenv("URUN_CWD_CHILD"); dir != "" {
		cwdChild(dir)
		return
	}
	if os.Getuid() != 0 {
		t.Skip("needs root for chroot (unit tests run as root)")
	}
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "root"), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestCheckCwdOutsideRoot$")
	cmd.Env = append(os.Environ(), "URUN_CWD_CHILD="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	got := string(out)
	if !strings.Contains(got, "inside: ok\n") {
		t.Errorf("a working directory inside the root was refused:\n%s", got)
	}
	if !strings.Contains(got, "outside: working directory /proc/self/fd/N is outside") {
		t.Errorf("a working directory outside the root was not refused:\n%s", got)
	}
}

func cwdChild(dir string) {
	outside, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY, 0)
	if err == nil {
		err = unix.Chroot(filepath.Join(dir, "root"))
	}
	if err == nil {
		err = unix.Chdir("/")
	}
	if err != nil {
		println("setup:", err.Error())
		os.Exit(1)
	}
	report := func(what string, err error) {
		if err == nil {
			os.Stdout.WriteString(what + ": ok\n")
		} else {
			os.Stdout.WriteString(what + ": " + err.Error() + "\n")
		}
	}
	report("inside", checkCwd("/"))
	if err := unix.Fchdir(outside); err != nil {
		println("fchdir:", err.Error())
		os.Exit(1)
	}
	report("outside", checkCwd("/proc/self/fd/N"))
	os.Exit(0)
}

// The decoder warm-up document must stay a valid InitConfig: a field
// renamed upstream would make the warm-up silently miss it.
func TestWarmUpConfigDecodes(t *testing.T) {
	d := json.NewDecoder(strings.NewReader(warmUpConfig))
	d.DisallowUnknownFields()
	var c InitConfig
	if err := d.Decode(&c); err != nil {
		t.Fatalf("warmUpConfig: %v", err)
	}
	if c.Spec == nil || c.Spec.Linux == nil || c.Spec.Linux.Resources == nil || c.Spec.Hooks == nil || c.Seccomp == nil || c.HookState == nil {
		t.Errorf("warmUpConfig leaves parts out: %+v", c)
	}
}
