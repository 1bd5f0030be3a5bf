package integration

import (
	"encoding/binary"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

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
	return onPTYSized(t, nil, args...)
}

// onPTYSized is onPTY with the terminal set to size first (nil: as opened).
func onPTYSized(t *testing.T, size *pty.Winsize, args ...string) string {
	t.Helper()
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	if size != nil {
		pty.Setsize(ptmx, size)
	}
	cmd := exec.Command(urunBin, withRm(args)...)
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
				if r.code != 1 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, name) || !strings.Contains(r.stderr, "fix:") {
					t.Errorf("%v: want one line naming %s and its fix, exit 1 (runc's): %s", args, name, r)
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

// seccompAgent is a minimal user-notification agent, as runc's suite's
// contrib/cmd/seccompagent: it takes one container's listener and state
// from its socket and answers mkdir with ENOMEDIUM, letting every other
// notified syscall go on.
type seccompAgent struct {
	sock  string
	state chan map[string]any
}

func startSeccompAgent(t *testing.T) *seccompAgent {
	t.Helper()
	a := &seccompAgent{sock: filepath.Join(t.TempDir(), "agent.sock"), state: make(chan map[string]any, 4)}
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: a.sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.AcceptUnix()
			if err != nil {
				return
			}
			buf, oob := make([]byte, 8192), make([]byte, unix.CmsgSpace(4))
			n, oobn, _, _, err := c.ReadMsgUnix(buf, oob)
			c.Close()
			if err != nil {
				continue
			}
			var st map[string]any
			json.Unmarshal(buf[:n], &st)
			a.state <- st
			msgs, _ := unix.ParseSocketControlMessage(oob[:oobn])
			if len(msgs) != 1 {
				continue
			}
			fds, _ := unix.ParseUnixRights(&msgs[0])
			if len(fds) == 1 {
				go answerENOMEDIUM(fds[0])
			}
		}
	}()
	return a
}

// answerENOMEDIUM serves a listener: struct seccomp_notif is 80 bytes
// (id, pid, flags, seccomp_data), seccomp_notif_resp 24 (id, val,
// error, flags).
func answerENOMEDIUM(fd int) {
	defer unix.Close(fd)
	for {
		var req [80]byte
		if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SECCOMP_IOCTL_NOTIF_RECV, uintptr(unsafe.Pointer(&req[0]))); e != 0 {
			if e == unix.EINTR || e == unix.ENOENT {
				// ENOENT: the notifying thread was interrupted (a
				// Go runtime signal in the init) and will retry.
				continue
			}
			return
		}
		var resp [24]byte
		copy(resp[:8], req[:8])
		if nr := binary.NativeEndian.Uint32(req[16:]); nr == unix.SYS_MKDIR || nr == unix.SYS_MKDIRAT {
			errno := -int32(unix.ENOMEDIUM)
			binary.NativeEndian.PutUint32(resp[16:], uint32(errno))
		} else {
			binary.NativeEndian.PutUint32(resp[20:], unix.SECCOMP_USER_NOTIF_FLAG_CONTINUE)
		}
		unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SECCOMP_IOCTL_NOTIF_SEND, uintptr(unsafe.Pointer(&resp[0])))
	}
}

// SCMP_ACT_NOTIFY: the listener goes to the agent at listenerPath with
// runc's container process state (fds, pid, metadata, state), and the
// agent's answer is the syscall's result, in run (with and without
// no_new_privs: the filter goes in at different points) and in exec;
// close and execve, which the init itself makes after the filter is in,
// may be notified too. Without an agent listening, run fails in one
// line and leaves nothing.
func TestOCISeccompNotify(t *testing.T) {
	before := myProcesses(t)
	notifyProfile := func(sock string) map[string]any {
		return map[string]any{
			"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": sock, "listenerMetadata": "meta",
			"syscalls": []any{map[string]any{"names": []string{"mkdir", "mkdirat", "close", "execve"}, "action": "SCMP_ACT_NOTIFY"}},
		}
	}
	for _, nnp := range []bool{false, true} {
		t.Run("noNewPrivileges="+strconv.FormatBool(nnp), func(t *testing.T) {
			a := startSeccompAgent(t)
			b := bundle(t, false, "sh", "-c", "mkdir /tmp/x 2>/tmp/err; exec sleep 60")
			applets(b, "mkdir")
			editSpec(t, b, func(spec map[string]any) {
				spec["process"].(map[string]any)["noNewPrivileges"] = nnp
				spec["linux"].(map[string]any)["seccomp"] = notifyProfile(a.sock)
			})
			root := t.TempDir()
			mustRun(t, "--root", root, "run", "-d", "--bundle", b, "notify")
			defer urun(t, "--root", root, "delete", "--force", "notify")
			agentState := func(status string) {
				t.Helper()
				var st map[string]any
				select {
				case st = <-a.state:
				case <-time.After(30 * time.Second):
					t.Fatal("the agent got no listener")
				}
				inner, _ := st["state"].(map[string]any)
				if fds, _ := st["fds"].([]any); len(fds) != 1 || fds[0] != "seccompFd" || st["metadata"] != "meta" ||
					st["pid"] == nil || st["pid"] != inner["pid"] || inner["id"] != "notify" || inner["status"] != status {
					t.Errorf("state sent to the agent: %v, want status %s", st, status)
				}
			}
			agentState("creating")
			errFile := filepath.Join(b, "rootfs", "tmp", "err")
			waitFor(t, func() bool { b, _ := os.ReadFile(errFile); return len(b) > 0 })
			if e, _ := os.ReadFile(errFile); !strings.Contains(string(e), "No medium found") {
				t.Errorf("mkdir in the container: %q, want the agent's ENOMEDIUM", e)
			}
			r := urun(t, "--root", root, "exec", "notify", "mkdir", "/tmp/y")
			if r.code == 0 || !strings.Contains(r.stderr, "No medium found") {
				t.Errorf("mkdir in exec: %s, want the agent's ENOMEDIUM", r)
			}
			agentState("running")
		})
	}
	t.Run("no agent", func(t *testing.T) {
		b := bundle(t, false, "true")
		editSpec(t, b, func(spec map[string]any) {
			spec["linux"].(map[string]any)["seccomp"] = notifyProfile(filepath.Join(t.TempDir(), "nobody.sock"))
		})
		root := t.TempDir()
		r := urun(t, "--root", root, "run", "--bundle", b, "noagent")
		if r.code != 1 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "failed to connect with seccomp agent") {
			t.Errorf("want one line and exit 1 (runc's): %s", r)
		}
		if ents, _ := os.ReadDir(root); len(ents) != 0 {
			t.Errorf("state left behind: %v", ents)
		}
	})
	checkNoLeftovers(t, before)
}
