package integration

import (
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

// Configs that would change the host because the container lacks the
// namespace a setting lives in are refused at create, before anything
// happens, with the field named (issue 21: a CRI hostNetwork pod's
// hostname set the host's). runc's words come first: clients match them.
func TestOCIRefusesSettingsWithoutTheirNamespace(t *testing.T) {
	for name, c := range map[string]struct {
		edit func(spec map[string]any)
		want string
	}{
		"hostname": {func(s map[string]any) { s["hostname"] = "h"; dropNamespace(s, "uts") },
			`hostname "h": unable to set hostname without a private UTS namespace`},
		"domainname": {func(s map[string]any) { delete(s, "hostname"); s["domainname"] = "d"; dropNamespace(s, "uts") },
			`domainname "d": unable to set domainname without a private UTS namespace`},
		"net-sysctl": {func(s map[string]any) {
			s["linux"].(map[string]any)["sysctl"] = map[string]string{"net.ipv4.ip_forward": "1"}
			dropNamespace(s, "network")
		}, `linux.sysctl "net.ipv4.ip_forward": sysctl is not allowed in the host's network namespace`},
		"host-sysctl": {func(s map[string]any) {
			s["linux"].(map[string]any)["sysctl"] = map[string]string{"vm.swappiness": "1"}
		},
			`linux.sysctl "vm.swappiness": sysctl is not in a separate kernel namespace`},
		"join-mount": {func(s map[string]any) { setNamespacePath(s, "mount", "/proc/self/ns/mnt") },
			`joining a mount namespace by path (/proc/self/ns/mnt) is not supported: urun builds`},
	} {
		t.Run(name, func(t *testing.T) {
			b := bundle(t, false, "true")
			editSpec(t, b, c.edit)
			root := t.TempDir()
			r := urun(t, "--root", root, "create", "--bundle", b, "refused")
			if r.code != 1 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "config.json: ") || !strings.Contains(r.stderr, c.want) {
				t.Errorf("want one line with %q and exit 1 (runc's): %s", c.want, r)
			}
			if ents, _ := os.ReadDir(root); len(ents) != 0 {
				t.Errorf("state left behind: %v", ents)
			}
		})
	}
}

// A hostname with the UTS namespace is set; so is the domainname, which
// urun ignored before.
func TestOCIHostnameAndDomainname(t *testing.T) {
	b := bundle(t, false, "sh", "-c", "hostname; cat /proc/sys/kernel/domainname")
	editSpec(t, b, func(s map[string]any) { s["hostname"] = "pod-h"; s["domainname"] = "pod-d" })
	r := mustRun(t, "--root", t.TempDir(), "run", "--bundle", b, "named")
	if r.stdout != "pod-h\npod-d\n" {
		t.Errorf("want pod-h and pod-d: %s", r)
	}
}

func dropNamespace(spec map[string]any, typ string) {
	linux := spec["linux"].(map[string]any)
	var kept []any
	for _, ns := range linux["namespaces"].([]any) {
		if ns.(map[string]any)["type"] != typ {
			kept = append(kept, ns)
		}
	}
	linux["namespaces"] = kept
}

func setNamespacePath(spec map[string]any, typ, path string) {
	linux := spec["linux"].(map[string]any)
	for _, ns := range linux["namespaces"].([]any) {
		if m := ns.(map[string]any); m["type"] == typ {
			m["path"] = path
			return
		}
	}
	linux["namespaces"] = append(linux["namespaces"].([]any), map[string]any{"type": typ, "path": path})
}

// Rootless, the OCI face keeps no cgroup for a container that outlives
// urun: pause, resume, update and events say so in one line and change
// nothing (as root on cgroup v1 they work: tests/containerd).
func TestOCIPauseUpdateEventsWithoutCgroup(t *testing.T) {
	b := bundle(t, false, "sleep", "60")
	root := t.TempDir()
	mustRun(t, "--root", root, "run", "--detach", "--bundle", b, "nocg")
	defer urun(t, "--root", root, "delete", "--force", "nocg")
	for _, args := range [][]string{{"pause", "nocg"}, {"resume", "nocg"}, {"update", "--memory", "1000000", "nocg"}, {"events", "--stats", "nocg"}} {
		r := urun(t, append([]string{"--root", root}, args...)...)
		want := "has no cgroup of its own"
		if args[0] == "resume" {
			want = "is running, not paused"
		}
		if r.code != 1 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, want) {
			t.Errorf("urun %v: want one line with %q and exit 1 (runc's): %s", args, want, r)
		}
	}
	if st := stateOf(t, root, "nocg"); st["status"] != "running" {
		t.Errorf("after the refusals: %v", st)
	}
}

// A namespace path naming the namespace urun already runs in is not
// re-entered (setns would need privilege over a namespace a user
// namespace does not own, for no change): a hostNetwork pod under
// rootless containerd joins "the pod's" uts, which is urun's own.
func TestOCIJoinOwnNamespaceByPath(t *testing.T) {
	b := bundle(t, false, "hostname")
	editSpec(t, b, func(s map[string]any) {
		delete(s, "hostname")
		// The init opens the path: /proc/self is the init itself, in
		// the host's uts namespace (owned by the host's user namespace).
		setNamespacePath(s, "uts", "/proc/self/ns/uts")
	})
	r := mustRun(t, "--root", t.TempDir(), "run", "--bundle", b, "ownuts")
	host, _ := os.Hostname()
	if strings.TrimSpace(r.stdout) != host {
		t.Errorf("want the host's hostname %q: %s", host, r)
	}
}

// A container without a pid namespace of its own (the host's here; a
// pod's shared one under CRI) shares it with processes that are not its
// own: ps lists and kill --all signals only the container's (its init
// and descendants), never a process of the host's.
func TestOCIPsAndKillAllWithoutOwnPidNamespace(t *testing.T) {
	b := bundle(t, false, "sh", "-c", "sleep 60 & wait")
	editSpec(t, b, func(s map[string]any) {
		dropNamespace(s, "pid")
		// A user namespace may not mount a proc for the host's pid
		// namespace: the host's /proc is bound instead (as rootless
		// runc needs too).
		for _, m := range s["mounts"].([]any) {
			if m := m.(map[string]any); m["destination"] == "/proc" {
				m["type"], m["source"], m["options"] = "bind", "/proc", []string{"rbind"}
			}
		}
	})
	root := t.TempDir()
	bystander := exec.Command("sleep", "60")
	if err := bystander.Start(); err != nil {
		t.Fatal(err)
	}
	defer bystander.Process.Kill()
	mustRun(t, "--root", root, "run", "--detach", "--bundle", b, "hostpid")
	defer urun(t, "--root", root, "delete", "--force", "hostpid")
	var pids []int
	waitFor(t, func() bool {
		r := mustRun(t, "--root", root, "ps", "--format", "json", "hostpid")
		pids = nil
		json.Unmarshal([]byte(r.stdout), &pids)
		return len(pids) == 2 // sh and its sleep
	})
	for _, p := range pids {
		if p == os.Getpid() || p == bystander.Process.Pid {
			t.Errorf("ps lists %d, a process of the host's: %v", p, pids)
		}
	}
	mustRun(t, "--root", root, "kill", "--all", "hostpid", "KILL")
	waitFor(t, func() bool { return stateOf(t, root, "hostpid")["status"] == "stopped" })
	if err := bystander.Process.Signal(syscall.Signal(0)); err != nil {
		t.Errorf("kill --all killed a process of the host's: %v", err)
	}
}
