package integration

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// Containers that share another's namespaces (--ipc, --pid, --network,
// --uts container:NAME; issue 23): the refusals (exit 125, one line,
// nothing left behind), keep-id and uts, the exit status through the join
// stage, rm of a container others depend on, and the joiner's end when
// the pid namespace's first process ends.
func TestJoinNamespaces(t *testing.T) {
	run := t.TempDir()
	os.Chmod(run, 0o700)
	// The image from urun's store: the joiner's layers are the layer
	// store's for the target's mapping (and an unpacked tree for keep-id).
	env := append(storeEnv(t), "XDG_RUNTIME_DIR="+run)
	u := func(args ...string) result { t.Helper(); return urunEnv(t, env, args...) }
	must := func(args ...string) result {
		t.Helper()
		r := u(args...)
		if r.code != 0 {
			t.Fatalf("urun %s: %s", strings.Join(args, " "), r)
		}
		return r
	}
	count := func() int { return len(strings.Fields(u("ps", "-a", "-q").stdout)) }
	must("pull", "-q", busybox())
	img := "localhost/busybox:latest"
	before := myProcesses(t)
	t.Cleanup(func() { u("rm", "-f", "jb", "jd", "jn", "jk", "jc", "ja") })

	must("create", "--name", "jc", img, "sleep", "300")
	refusals := []struct {
		args []string
		want string
	}{
		{[]string{"--ipc", "container:jnosuch"}, "jnosuch"},
		{[]string{"--pid", "container:jc"}, "not running"},
		{[]string{"--network", "container:jc"}, "not running"},
		{[]string{"--ipc", "container:jc", "--pid", "container:jother"}, "one container at a time"},
		{[]string{"--uts", "host"}, "--uts host"},
	}
	for _, c := range refusals {
		n := count()
		args := append(append([]string{"run", "--rm"}, c.args...), img, "true")
		r := u(args...)
		if r.code != 125 || len(lines(r.stderr)) != 1 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("urun %s: want exit 125 and one line naming %q, got %s", strings.Join(args, " "), c.want, r)
		}
		if got := count(); got != n {
			t.Errorf("urun %s left a container behind (%d, was %d)", strings.Join(args, " "), got, n)
		}
	}

	// create needs the target to exist only; start needs it running.
	must("create", "--name", "jd", "--pid", "container:jc", img, "true")
	if r := u("start", "jd"); r.code != 125 || len(lines(r.stderr)) != 1 || !strings.Contains(r.stderr, "not running") {
		t.Errorf("start of a container sharing a created one's pid namespace: want 125 and 'not running', got %s", r)
	}
	must("rm", "jd")

	must("run", "-d", "--name", "ja", "-h", "ja-host", img, "sleep", "300")
	for _, c := range [][]string{
		{"--userns", "keep-id", "--pid", "container:ja"},
		{"-p", "8080:80", "--network", "container:ja"},
		{"-h", "other", "--uts", "container:ja"},
	} {
		args := append(append([]string{"run", "--rm"}, c...), img, "true")
		if r := u(args...); r.code != 125 || len(lines(r.stderr)) != 1 {
			t.Errorf("urun %s: want exit 125 and one line, got %s", strings.Join(args, " "), r)
		}
	}
	// The exit status and a signal's pass through the join stage.
	if r := u("run", "--rm", "--ipc", "container:ja", img, "sh", "-c", "exit 3"); r.code != 3 {
		t.Errorf("exit 3 in a joined container: %s", r)
	}
	if r := u("run", "--rm", "--pid", "container:ja", img, "sh", "-c", "kill -9 $$"); r.code != 137 {
		t.Errorf("kill -9 in a joined pid namespace: want 137, got %s", r)
	}
	// The shared pid namespace: ja's sleep is there, and the joiner is not pid 1.
	if r := must("run", "--rm", "--pid", "container:ja", img, "sh", "-c", "test $$ -ne 1 && cat /proc/1/cmdline | tr '\\0' ' '"); strings.TrimSpace(r.stdout) != "sleep 300" {
		t.Errorf("pid 1 seen from a container in ja's pid namespace: %q, want ja's sleep", r.stdout)
	}
	// uts: ja's hostname.
	if r := must("run", "--rm", "--uts", "container:ja", img, "hostname"); strings.TrimSpace(r.stdout) != "ja-host" {
		t.Errorf("hostname with --uts container:ja: %q", r.stdout)
	}
	// --ipc container:ja: ja's /dev/shm, both ways.
	must("exec", "ja", "sh", "-c", "echo from-ja > /dev/shm/a")
	if r := must("run", "--rm", "--ipc", "container:ja", img, "sh", "-c", "cat /dev/shm/a && echo from-joiner > /dev/shm/b"); strings.TrimSpace(r.stdout) != "from-ja" {
		t.Errorf("ja's /dev/shm/a from a container sharing its IPC: %q", r.stdout)
	}
	if r := must("exec", "ja", "cat", "/dev/shm/b"); strings.TrimSpace(r.stdout) != "from-joiner" {
		t.Errorf("the joiner's /dev/shm/b in ja: %q", r.stdout)
	}
	// --network container:ja: ja's hostname and /etc files (docker's).
	if r := must("run", "--rm", "--network", "container:ja", img, "sh", "-c", "hostname; cat /etc/hosts /etc/resolv.conf"); r.stdout != "ja-host\n"+must("exec", "ja", "cat", "/etc/hosts", "/etc/resolv.conf").stdout {
		t.Errorf("hostname and /etc files with --network container:ja:\n%s\nwant ja's:\n%s", r.stdout, must("exec", "ja", "cat", "/etc/hosts", "/etc/resolv.conf").stdout)
	}
	must("create", "--name", "jn", "--network", "container:ja", img, "true")
	if r := must("inspect", "-f", "{{.HostConfig.NetworkMode}}", "jn"); !strings.HasPrefix(strings.TrimSpace(r.stdout), "container:") {
		t.Errorf("inspect .HostConfig.NetworkMode of a container on ja's network: %q, want container:ID", r.stdout)
	}
	must("rm", "jn")
	// Its own mount namespace: a file written by the joiner is not ja's.
	must("run", "--rm", "--ipc", "container:ja", "--pid", "container:ja", "--network", "container:ja", img, "touch", "/only-mine")
	if r := u("exec", "ja", "test", "-e", "/only-mine"); r.code == 0 {
		t.Errorf("a file the joiner wrote is in ja's root")
	}

	// A dependent keeps ja from being removed, -f or not (podman's rule).
	must("create", "--name", "jb", "--pid", "container:ja", img, "sleep", "300")
	for _, args := range [][]string{{"rm", "ja"}, {"rm", "-f", "ja"}} {
		r := u(args...)
		if r.code != 125 || len(lines(r.stderr)) != 1 || !strings.Contains(r.stderr, "jb") {
			t.Errorf("urun %s with jb sharing its namespaces: want exit 125 naming jb, got %s", strings.Join(args, " "), r)
		}
	}
	// Started, jb runs in ja's pid namespace, and exec reaches it.
	must("start", "jb")
	if r := must("exec", "jb", "sh", "-c", "ps | grep -c '[s]leep 300'"); strings.TrimSpace(r.stdout) != "2" {
		t.Errorf("sleeps seen from exec in jb: %q, want ja's and jb's", r.stdout)
	}
	// ja's first process ends: the kernel ends its pid namespace, jb with it.
	must("kill", "ja")
	done := make(chan result, 1)
	go func() { done <- urunEnv(t, env, "wait", "jb") }()
	select {
	case r := <-done:
		if r.code != 0 || strings.TrimSpace(r.stdout) != "137" {
			t.Errorf("wait jb after ja was killed: want 137, got %s", r)
		}
	case <-time.After(time.Minute):
		t.Fatalf("jb still runs a minute after its pid namespace's first process was killed")
	}
	// Not running now: jb's start says so, and removes nothing.
	if r := u("start", "jb"); r.code != 125 || !strings.Contains(r.stderr, "not running") {
		t.Errorf("start jb with ja stopped: want 125 and 'not running', got %s", r)
	}
	// rm of both at once: the dependent goes first.
	if r := u("rm", "ja", "jb"); r.code != 0 {
		t.Errorf("rm ja jb: %s", r)
	}

	// keep-id: the joiner runs as you too, in the target's mapping.
	must("run", "-d", "--name", "jk", "--userns", "keep-id", img, "sleep", "300")
	if r := must("run", "--rm", "--pid", "container:jk", img, "id", "-u"); strings.TrimSpace(r.stdout) != fmt.Sprint(os.Getuid()) {
		t.Errorf("id -u beside a keep-id container: %q, want %d", r.stdout, os.Getuid())
	}
	must("rm", "-f", "jk", "jc")
	if n := count(); n != 0 {
		t.Errorf("%d containers left: %s", n, u("ps", "-a"))
	}
	checkNoLeftovers(t, before)
}
