package integration

import (
	"encoding/json"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// The container-init side of runc compatibility (issue 20): what a
// config asks of the process and its filesystem, checked from inside.

// editSpec rewrites a bundle's config.json through edit.
func editSpec(t *testing.T, b string, edit func(spec map[string]any)) {
	t.Helper()
	p := filepath.Join(b, "config.json")
	raw, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var spec map[string]any
	if err := json.Unmarshal(raw, &spec); err != nil {
		t.Fatal(err)
	}
	edit(spec)
	raw, _ = json.Marshal(spec)
	if err := os.WriteFile(p, raw, 0o644); err != nil {
		t.Fatal(err)
	}
}

// applets links more busybox applets into a bundle's rootfs.
func applets(b string, names ...string) {
	for _, a := range names {
		os.Symlink("busybox", filepath.Join(b, "rootfs", "bin", a))
	}
}

// process.user.umask is the process's umask, in run and in exec.
func TestOCIUmask(t *testing.T) {
	b := bundle(t, false, "sh", "-c", "umask; exec sleep 60")
	applets(b, "grep")
	editSpec(t, b, func(spec map[string]any) {
		spec["process"].(map[string]any)["user"].(map[string]any)["umask"] = 0o77
	})
	root := t.TempDir()
	mustRun(t, "--root", root, "run", "-d", "--bundle", b, "um")
	defer urun(t, "--root", root, "delete", "--force", "um")
	if r := mustRun(t, "--root", root, "exec", "um", "grep", "^Umask:", "/proc/1/status"); !strings.Contains(r.stdout, "0077") {
		t.Errorf("init's umask: %s, want 0077", r)
	}
	proc := filepath.Join(t.TempDir(), "process.json")
	os.WriteFile(proc, []byte(`{"args": ["sh", "-c", "umask"], "env": ["PATH=/bin"], "cwd": "/", "user": {"uid": 0, "gid": 0, "umask": 23}}`), 0o644)
	if r := mustRun(t, "--root", root, "exec", "--process", proc, "um"); strings.TrimSpace(r.stdout) != "0027" {
		t.Errorf("exec's umask: %s, want 0027", r)
	}
}

// subIDs is the test user's first subordinate range in /etc/subuid or
// /etc/subgid.
func subIDs(t *testing.T, file string) (start, size int) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Split(l, ":")
		if len(f) == 3 && (f[0] == u.Username || f[0] == u.Uid) {
			start, _ = strconv.Atoi(f[1])
			size, _ = strconv.Atoi(f[2])
			return start, size
		}
	}
	t.Skipf("%s has no range for %s", file, u.Username)
	return 0, 0
}

// idmapped maps the container's root to the test user and ids 1 and up
// to its subordinate ids, as runc's suite does with ROOTLESS_FEATURES=idmap,
// and gives devpts back its gid=5 (tty).
func idmapped(t *testing.T, spec map[string]any) {
	t.Helper()
	us, un := subIDs(t, "/etc/subuid")
	gs, gn := subIDs(t, "/etc/subgid")
	lin := spec["linux"].(map[string]any)
	lin["uidMappings"] = []any{
		map[string]any{"containerID": 0, "hostID": os.Getuid(), "size": 1},
		map[string]any{"containerID": 1, "hostID": us, "size": un},
	}
	lin["gidMappings"] = []any{
		map[string]any{"containerID": 0, "hostID": os.Getgid(), "size": 1},
		map[string]any{"containerID": 1, "hostID": gs, "size": gn},
	}
	for _, m := range spec["mounts"].([]any) {
		m := m.(map[string]any)
		if m["type"] == "devpts" {
			m["options"] = append(m["options"].([]any), "gid=5")
		}
	}
}

// onPTY runs urun with a new pseudo-terminal as its stdio and returns
// what the container wrote to it.
func onPTY(t *testing.T, args ...string) string {
	t.Helper()
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	cmd := exec.Command(urunBin, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tty.Close()
	outc := make(chan string)
	go func() {
		var b strings.Builder
		buf := make([]byte, 256)
		for {
			n, err := ptmx.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				break
			}
		}
		outc <- b.String()
	}()
	done := make(chan error)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-time.After(time.Minute):
		cmd.Process.Kill()
		t.Fatalf("urun %v did not exit", args)
	}
	ptmx.Close()
	out := <-outc
	if err != nil {
		t.Fatalf("urun %v: %v\n%s", args, err, out)
	}
	return out
}

// With process.terminal and a non-root process.user, the terminal is the
// process user's (group tty, from devpts' gid=5), in run and in exec: a
// root-owned pty would leave the user unable to stty or reopen it.
func TestOCITerminalOwner(t *testing.T) {
	b := bundle(t, true, "sh", "-c", "stat -c owner=%u:%g $(tty)")
	applets(b, "stat")
	editSpec(t, b, func(spec map[string]any) {
		idmapped(t, spec)
		spec["process"].(map[string]any)["user"] = map[string]any{"uid": 1000, "gid": 100}
	})
	root := t.TempDir()
	if out := onPTY(t, "--root", root, "run", "--bundle", b, "tty-owner"); !strings.Contains(out, "owner=1000:5") {
		t.Errorf("run: %q, want owner=1000:5", out)
	}
	mustRun(t, "--root", root, "delete", "--force", "tty-owner")
	editSpec(t, b, func(spec map[string]any) {
		p := spec["process"].(map[string]any)
		p["terminal"] = false
		p["args"] = []string{"sleep", "60"}
	})
	mustRun(t, "--root", root, "run", "-d", "--bundle", b, "tty-owner2")
	defer urun(t, "--root", root, "delete", "--force", "tty-owner2")
	proc := filepath.Join(t.TempDir(), "process.json")
	os.WriteFile(proc, []byte(`{"terminal": true, "args": ["sh", "-c", "stat -c owner=%u:%g $(tty)"], "env": ["PATH=/bin"], "cwd": "/", "user": {"uid": 1000, "gid": 100}}`), 0o644)
	if out := onPTY(t, "--root", root, "exec", "--process", proc, "tty-owner2"); !strings.Contains(out, "owner=1000:5") {
		t.Errorf("exec: %q, want owner=1000:5", out)
	}
}

// /dev/ptmx in linux.devices (runc's default config lists it) stays the
// link to the container's own devpts: the host's ptmx bound there would
// allocate ptys in the host's devpts, which the container cannot open.
func TestOCIPtmxDevice(t *testing.T) {
	b := bundle(t, false, "sh", "-c", "readlink /dev/ptmx; stat -L -c %u:%g:%t:%T /dev/ptmx")
	applets(b, "stat", "readlink")
	editSpec(t, b, func(spec map[string]any) {
		lin := spec["linux"].(map[string]any)
		devs, _ := lin["devices"].([]any)
		lin["devices"] = append(devs, map[string]any{"path": "/dev/ptmx", "type": "c", "major": 5, "minor": 2, "fileMode": 0o666})
	})
	r := mustRun(t, "--root", t.TempDir(), "run", "--bundle", b, "ptmx")
	if r.stdout != "pts/ptmx\n0:0:5:2\n" {
		t.Errorf("/dev/ptmx: %s, want the link pts/ptmx to the container's ptmx (0:0, 5:2)", r)
	}
}

// A read-only tmpfs /dev gets its mount points (/dev/pts, /dev/shm…),
// devices and links first and is made read-only last, as with runc; so
// does any other read-only tmpfs.
func TestOCIReadonlyTmpfs(t *testing.T) {
	b := bundle(t, false, "sh", "-c", "grep -E '^[a-z]+ /(dev|dev/pts|mnt/sub) ' /proc/mounts; ls /dev/null /dev/ptmx")
	applets(b, "grep")
	editSpec(t, b, func(spec map[string]any) {
		for _, m := range spec["mounts"].([]any) {
			m := m.(map[string]any)
			if m["destination"] == "/dev" {
				m["options"] = append(m["options"].([]any), "ro")
			}
		}
		spec["mounts"] = append(spec["mounts"].([]any), map[string]any{
			"destination": "/mnt/sub", "type": "tmpfs", "source": "tmpfs", "options": []string{"ro", "nodev", "nosuid", "mode=755"}})
	})
	r := mustRun(t, "--root", t.TempDir(), "run", "--bundle", b, "rodev")
	for _, want := range []string{"tmpfs /dev tmpfs ro,", "devpts /dev/pts devpts rw,", "tmpfs /mnt/sub tmpfs ro,", "/dev/null\n", "/dev/ptmx\n"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("missing %q in %s", want, r)
		}
	}
}

// startContainer hooks run under the container's seccomp filter, as
// with runc: a profile that kills mkdir kills a hook's mkdir, with or
// without no_new_privs (the filter goes in at different points). The
// control case, without the profile, shows that the hook runs at all.
func TestOCIStartHookUnderSeccomp(t *testing.T) {
	for _, c := range []struct {
		name      string
		nnp, kill bool
	}{{"control", false, false}, {"noNewPrivileges=false", false, true}, {"noNewPrivileges=true", true, true}} {
		t.Run(c.name, func(t *testing.T) {
			b := bundle(t, false, "true")
			applets(b, "mkdir")
			editSpec(t, b, func(spec map[string]any) {
				spec["process"].(map[string]any)["noNewPrivileges"] = c.nnp
				if c.kill {
					spec["linux"].(map[string]any)["seccomp"] = map[string]any{
						"defaultAction": "SCMP_ACT_ALLOW",
						"syscalls":      []any{map[string]any{"names": []string{"mkdir", "mkdirat"}, "action": "SCMP_ACT_KILL"}},
					}
				}
				spec["hooks"] = map[string]any{"startContainer": []any{map[string]any{
					"path": "/bin/sh", "args": []string{"sh", "-c", "mkdir /tmp/hooked"}}}}
			})
			root := t.TempDir()
			mustRun(t, "--root", root, "create", "--bundle", b, "hookseccomp")
			defer urun(t, "--root", root, "delete", "--force", "hookseccomp")
			mustRun(t, "--root", root, "start", "hookseccomp")
			waitFor(t, func() bool { return stateOf(t, root, "hookseccomp")["status"] == "stopped" })
			_, err := os.Stat(filepath.Join(b, "rootfs", "tmp", "hooked"))
			if c.kill && err == nil {
				t.Error("the hook's mkdir ran without the filter")
			}
			if !c.kill && err != nil {
				t.Errorf("the hook did not run: %v", err)
			}
		})
	}
}

// Rootless, a limit the OCI face cannot apply is refused before anything
// changes, in one line with the field and the fix; so is a cgroupsPath
// the user may not create (rootless runc refuses both).
func TestOCILimitsFailClosed(t *testing.T) {
	before := myProcesses(t)
	for name, edit := range map[string]func(lin map[string]any){
		"pids.limit": func(lin map[string]any) {
			lin["resources"] = map[string]any{"pids": map[string]any{"limit": 10}}
		},
		"cgroupsPath": func(lin map[string]any) { lin["cgroupsPath"] = "/urun-test-not-mine" },
	} {
		t.Run(name, func(t *testing.T) {
			b := bundle(t, false, "true")
			editSpec(t, b, func(spec map[string]any) { edit(spec["linux"].(map[string]any)) })
			root := t.TempDir()
			for _, args := range [][]string{{"run"}, {"run", "-d"}, {"create"}} {
				r := urun(t, append(append([]string{"--root", root}, args...), "--bundle", b, "lim")...)
				if r.code != 125 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, name) || !strings.Contains(r.stderr, "fix:") {
					t.Errorf("%v: want one line naming %s and its fix, exit 125: %s", args, name, r)
				}
				if ents, _ := os.ReadDir(root); len(ents) != 0 {
					t.Errorf("%v: state left behind: %v", args, ents)
				}
			}
		})
	}
	checkNoLeftovers(t, before)
}

// With a network namespace and a fresh sysfs, /sys/fs/cgroup is the
// container's view of the host's cgroups, read-only, as with runc:
// cgroup2 on a v2 host, each v1 hierarchy (and the unified one) on a
// hybrid host like the CI's; with and without a cgroup namespace.
func TestOCICgroupMount(t *testing.T) {
	var want []string
	var st unix.Statfs_t
	if err := unix.Statfs("/sys/fs/cgroup", &st); err != nil {
		t.Fatal(err)
	}
	if st.Type == unix.CGROUP2_SUPER_MAGIC {
		want = []string{"cgroup2 /sys/fs/cgroup cgroup2 ro,"}
	} else {
		for _, h := range []string{"memory", "pids"} {
			if _, err := os.Stat("/sys/fs/cgroup/" + h); err == nil {
				want = append(want, "/sys/fs/cgroup/"+h+" cgroup ro,")
			}
		}
	}
	for _, cgroupns := range []bool{true, false} {
		t.Run("cgroupns="+strconv.FormatBool(cgroupns), func(t *testing.T) {
			b := bundle(t, false, "sh", "-c", "grep ' /sys/fs/cgroup' /proc/mounts; cat /sys/fs/cgroup/pids/cgroup.procs /sys/fs/cgroup/cgroup.procs 2>/dev/null | grep -x 1")
			applets(b, "grep")
			editSpec(t, b, func(spec map[string]any) {
				lin := spec["linux"].(map[string]any)
				var nss []any
				for _, ns := range lin["namespaces"].([]any) {
					if typ := ns.(map[string]any)["type"]; typ == "cgroup" && !cgroupns {
						continue
					}
					nss = append(nss, ns)
				}
				lin["namespaces"] = nss
			})
			r := mustRun(t, "--root", t.TempDir(), "run", "--bundle", b, "cgmount")
			for _, w := range want {
				if !strings.Contains(r.stdout, w) {
					t.Errorf("missing %q in %s", w, r)
				}
			}
			for _, l := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
				if strings.Contains(l, "/sys/fs/cgroup") && !strings.Contains(l, " ro,") {
					t.Errorf("writable cgroup mount: %s", l)
				}
			}
			if !strings.HasSuffix(r.stdout, "\n1\n") {
				t.Errorf("the container's own cgroup does not list its init: %s", r)
			}
		})
	}
}
