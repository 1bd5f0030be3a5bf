package integration

// TestReadmeTour runs README.md's Tour line by line, as a reader would
// type it: every `$ ` line, in order, in one interactive shell on a
// pseudo-terminal, as the unprivileged user, with a fresh store, a
// registry on loopback for localhost:5000 and one that wants a password
// for localhost:5001. The README is the real one (the harness copies it
// into the stage directory); a line the test does not know fails the
// test, and so does an entry here that the README no longer has.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
)

// tourCommand is one `$ ` line of the Tour and the output lines under it.
type tourCommand struct {
	line string   // as typed, with its comment
	want []string // the README's output lines
}

// readTour parses the Tour section of the README the harness staged.
func readTour(t *testing.T) []tourCommand {
	t.Helper()
	path := os.Getenv("URUN_README")
	if path == "" {
		t.Fatal("URUN_README is not set: tests/harness/integration.sh copies README.md into the stage directory and sets it")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cmds []tourCommand
	inTour, inCode := false, false
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, "## ") {
			inTour = l == "## Tour"
			continue
		}
		if !inTour {
			continue
		}
		if strings.HasPrefix(l, "```") {
			inCode = !inCode
			continue
		}
		if !inCode {
			continue
		}
		if strings.HasPrefix(l, "$ ") {
			cmds = append(cmds, tourCommand{line: strings.TrimPrefix(l, "$ ")})
			continue
		}
		if len(cmds) == 0 {
			t.Fatalf("README Tour: output line %q before any command", l)
		}
		cmds[len(cmds)-1].want = append(cmds[len(cmds)-1].want, l)
	}
	if len(cmds) < 20 {
		t.Fatalf("README Tour: found %d commands in %s, want the whole tour (a `## Tour` section with a code block of `$ ` lines)", len(cmds), path)
	}
	return cmds
}

// tourComment is a line's trailing shell comment.
var tourComment = regexp.MustCompile(`\s+#\s.*$`)

// tourShell is an interactive sh on a pty, in the tour's directory.
type tourShell struct {
	t    *testing.T
	ptmx *os.File
	mu   sync.Mutex
	seen strings.Builder
	more chan struct{}
	n    int
}

func startTourShell(t *testing.T, dir string, env []string) *tourShell {
	t.Helper()
	ptmx := startPtySh(t, dir, env)
	s := &tourShell{t: t, ptmx: ptmx, more: make(chan struct{}, 1)}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := ptmx.Read(buf)
			s.mu.Lock()
			s.seen.Write(buf[:n])
			s.mu.Unlock()
			select {
			case s.more <- struct{}{}:
			default:
			}
			if err != nil {
				return
			}
		}
	}()
	return s
}

// startPtySh starts an interactive sh (prompt "$ ") on a pty in dir with
// env and returns the pty's master; the test's end kills the shell.
func startPtySh(t *testing.T, dir string, env []string) *os.File {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-i")
	cmd.Dir = dir
	cmd.Env = append(env, "PS1=$ ", "ENV=")
	// A test started in the background of a non-interactive shell (as
	// CI may be) inherits SIGINT ignored; sh keeps an ignored-at-entry
	// SIGINT ignored and so do its children, and ^C would end nothing.
	// While Go handles SIGINT, the exec'd shell starts with the default.
	sigint := make(chan os.Signal, 1)
	signal.Notify(sigint, syscall.SIGINT)
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 50, Cols: 200})
	signal.Stop(sigint)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		ptmx.Close()
	})
	return ptmx
}

func (s *tourShell) text() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seen.String()
}

// waitFor waits until what the terminal showed after from matches re
// and returns the match's offset and submatches.
func (s *tourShell) waitFor(from int, re *regexp.Regexp, timeout time.Duration) (int, []string) {
	s.t.Helper()
	deadline := time.After(timeout)
	for {
		got := s.text()[from:]
		if loc := re.FindStringSubmatchIndex(got); loc != nil {
			subs := []string{}
			for i := 0; i+1 < len(loc); i += 2 {
				subs = append(subs, got[loc[i]:loc[i+1]])
			}
			return from + loc[0], subs
		}
		select {
		case <-s.more:
		case <-time.After(100 * time.Millisecond):
		case <-deadline:
			s.t.Fatalf("no %q within %s; the terminal showed:\n%s", re, timeout, got)
		}
	}
}

func (s *tourShell) send(text string) {
	if _, err := s.ptmx.WriteString(text); err != nil {
		s.t.Fatal(err)
	}
}

// tourStep says how to drive one line and what it must show.
type tourStep struct {
	// interact drives the line once typed (a terminal, ^C); nil for a
	// line that ends by itself.
	interact func(s *tourShell, from int)
	codes    []int                          // exit codes allowed; nil: 0
	check    func(t *testing.T, out string) // more than the README's lines
}

func TestReadmeTour(t *testing.T) {
	cmds := readTour(t)
	before := myProcesses(t)
	t.Cleanup(func() {
		// podman's rootless pause process outlives every podman command
		// by design (the harness ends it); anything else is a leak.
		for pid, cmd := range myProcesses(t) {
			if strings.HasPrefix(cmd, "catatonit -P") {
				before[pid] = cmd
			}
		}
		checkNoLeftovers(t, before)
	})

	// One store for podman and urun (urun's is $XDG_DATA_HOME/urun).
	ps := newPodmanStore(t, "")
	dir := t.TempDir()
	bin := filepath.Join(t.TempDir(), "bin")
	for _, err := range []error{os.MkdirAll(filepath.Join(dir, "_build"), 0o755), os.Mkdir(bin, 0o755),
		os.Symlink(imagesDir, filepath.Join(dir, "_build", "images")), os.Symlink(urunBin, filepath.Join(bin, "urun"))} {
		if err != nil {
			t.Fatal(err)
		}
	}
	env := append(os.Environ(), ps.env...)
	env = append(env, "HOME="+t.TempDir(), "PATH="+bin+":"+os.Getenv("PATH"),
		"REGISTRY_USER="+testUser, "REGISTRY_PASSWORD="+testPassword)
	t.Cleanup(func() { tourCleanup(t, env, dir) })

	reg := startRegistry(t)
	reg.push(t, "busybox", "busybox")
	auth := startAuthRegistry(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	webAddr := l.Addr().String()
	l.Close()
	_, webPort, _ := net.SplitHostPort(webAddr)
	// Placeholders: the README's fixed ports are free ones here.
	subst := strings.NewReplacer("localhost:5000", "localhost:"+portOf(reg.addr), "localhost:5001", "localhost:"+portOf(auth.addr),
		"127.0.0.1:8080:", "127.0.0.1:"+webPort+":")
	uid := strconv.Itoa(os.Getuid())
	subStart, subCount := mySubIDs(t)
	// ...and so are the README's ids: 1000 is the reader's uid.
	ids := map[string]string{"1000": uid, "100000": subStart, "65536": subCount}

	steps := tourSteps(t, webAddr)
	used := map[string]bool{}
	s := startTourShell(t, dir, env)
	s.waitFor(0, regexp.MustCompile(`\$ `), 30*time.Second)
	for _, c := range cmds {
		key := tourComment.ReplaceAllString(c.line, "")
		step, ok := steps[key]
		if !ok {
			t.Fatalf("README Tour line %q: TestReadmeTour does not know how to run it; add it to tourSteps", key)
		}
		used[key] = true
		t.Logf("$ %s", c.line)
		s.n++
		from := len(s.text())
		typed := subst.Replace(c.line)
		s.send(typed + "\n")
		if step.interact != nil {
			step.interact(s, from)
		}
		marker := fmt.Sprintf("echo TOUR%d=$?:END", s.n)
		s.send(marker + "\n")
		at, m := s.waitFor(from, regexp.MustCompile(fmt.Sprintf(`TOUR%d=(\d+):END`, s.n)), 3*time.Minute)
		code, _ := strconv.Atoi(m[1])
		// The next line is typed at the next prompt.
		s.waitFor(at, regexp.MustCompile(`:END\r\n\$ `), time.Minute)
		out := s.text()[from:at]
		// Drop the terminal's echo of what was typed.
		out = strings.Replace(out, typed+"\r\n", "", 1)
		out = strings.Replace(out, marker+"\r\n", "", 1)
		out = strings.ReplaceAll(out, "\r\n", "\n")
		codes := step.codes
		if codes == nil {
			codes = []int{0}
		}
		if !containsInt(codes, code) {
			t.Fatalf("README Tour line %q: exit %d, want %v; the terminal showed:\n%s", c.line, code, codes, out)
		}
		if err := matchLines(c.want, out, ids); err != nil {
			t.Errorf("README Tour line %q: %v; the terminal showed:\n%s", c.line, err, out)
		}
		if step.check != nil {
			step.check(t, out)
		}
	}
	for key := range steps {
		if !used[key] {
			t.Errorf("tourSteps has %q, which README's Tour no longer has: remove it", key)
		}
	}
}

// interrupt types ^C and waits for the shell's next prompt: what is
// typed before it may be dropped with the interrupted line's input.
func interrupt(s *tourShell) {
	s.t.Helper()
	from := len(s.text())
	s.send("\x03")
	s.waitFor(from, regexp.MustCompile(`\$ `), time.Minute)
}

// tourSteps knows every line of the Tour, keyed by the line without its
// comment (so a change to a command needs a look here).
func tourSteps(t *testing.T, webAddr string) map[string]tourStep {
	contains := func(want ...string) func(*testing.T, string) {
		return func(t *testing.T, out string) {
			for _, w := range want {
				if !strings.Contains(out, w) {
					t.Errorf("the output does not contain %q:\n%s", w, out)
				}
			}
		}
	}
	// A busybox shell on the terminal: type at it, see the answer.
	terminal := func(s *tourShell, from int) {
		at, _ := s.waitFor(from, regexp.MustCompile(`/ # `), time.Minute)
		s.send("echo $((6*7)); exit\n")
		at, _ = s.waitFor(at, regexp.MustCompile(`\n42\r`), time.Minute)
		// The shell's prompt: urun has ended and given the terminal back
		// (what is typed before may go to the container).
		s.waitFor(at, regexp.MustCompile(`\n\$ `), time.Minute)
	}
	return map[string]tourStep{
		`urun run --rm oci:_build/images/busybox sh -c 'echo $$; id; cat /proc/self/uid_map'`:   {},
		`urun run --rm --userns=keep-id oci:_build/images/busybox id -u`:                        {},
		`urun run -it oci:_build/images/busybox sh`:                                             {interact: terminal},
		`urun run -v $PWD:/src:ro -w /src oci:_build/images/busybox ls`:                         {check: contains("_build\n")},
		`mkdir myroot && urun export $(urun create oci:_build/images/busybox) | tar -xC myroot`: {},
		`urun run --rootfs ./myroot /bin/sh -c 'echo hi from myroot'`:                           {},
		`urun run --dry-run oci:_build/images/busybox true`:                                     {check: contains(`"ociVersion"`, `"uidMappings"`)},
		`urun --debug run oci:_build/images/busybox true`:                                       {check: contains("urun: exited")},
		`urun run --rm --init -p 127.0.0.1:8080:80 oci:_build/images/busybox httpd -f -p 80`: {
			interact: func(s *tourShell, from int) {
				// Served through the published port, then ^C.
				deadline := time.Now().Add(time.Minute)
				for {
					resp, err := http.Get("http://" + webAddr + "/")
					if err == nil {
						resp.Body.Close()
						break
					}
					if time.Now().After(deadline) {
						s.t.Fatalf("nothing answered on %s (-p) within a minute: %v; the terminal showed:\n%s", webAddr, err, s.text()[from:])
					}
					time.Sleep(100 * time.Millisecond)
				}
				interrupt(s)
			},
			codes: []int{130},
		},
		`urun run --security-opt seccomp=unconfined oci:_build/images/busybox unshare -U true`: {},
		`urun run --memory 64m --pids-limit 100 --cpus 0.5 oci:_build/images/busybox cat /sys/fs/cgroup/memory.max`: {
			codes: []int{0, 125},
			check: func(t *testing.T, out string) {
				// With a delegated cgroup v2 the limit is there; without
				// one, the line says why and how to fix it.
				if !strings.Contains(out, "67108864") && !(strings.Contains(out, "needs a cgroup") && strings.Contains(out, "fix:")) {
					t.Errorf("want memory.max 67108864, or the one-line reason and fix:\n%s", out)
				}
			},
		},
		`urun run --name job oci:_build/images/busybox sh -c 'echo done'; urun logs job; urun rm job`:                                {},
		`urun run --rm --shm-size 256m --group-add 2000 --sysctl net.ipv4.ip_unprivileged_port_start=0 oci:_build/images/busybox id`: {},
		`urun run -d --name web oci:_build/images/busybox httpd -f`: {check: func(t *testing.T, out string) {
			if !regexp.MustCompile(`(?m)^[0-9a-f]{64}$`).MatchString(out) {
				t.Errorf("run -d prints the container's id:\n%s", out)
			}
		}},
		`urun ps`: {check: func(t *testing.T, out string) {
			if !regexp.MustCompile(`(?m)^CONTAINER ID .*NAMES\n[0-9a-f]{12} .* httpd -f .* Up .* web$`).MatchString(out) {
				t.Errorf("ps does not show web up:\n%s", out)
			}
		}},
		`urun inspect -f '{{.State.Running}} {{json .Config.Env}}' web`: {check: contains(`true ["PATH=`)},
		`urun exec -it web sh`: {interact: terminal},
		`urun logs -f web`: {
			interact: func(s *tourShell, from int) {
				waitForProcess(s.t, "logs\x00-f\x00web\x00")
				interrupt(s)
			},
			codes: []int{130},
		},
		`urun stop -t 2 web && urun rm web`:                                                                     {},
		`urun create --name job oci:_build/images/busybox echo hi && urun start -a job`:                         {},
		`urun run -d --restart always --name svc oci:_build/images/busybox httpd -f; urun generate systemd svc`: {check: contains("[Unit]", "[Service]", "ExecStart=")},
		`urun run -d --name db --health-cmd 'test -d /etc' oci:_build/images/busybox sleep 300 >/dev/null; urun healthcheck run db && urun inspect -f '{{.State.Health.Status}}' db`: {},
		`urun doctor`: {codes: []int{0, 1, 2}},
		`urun info --format json`: {check: func(t *testing.T, out string) {
			var v map[string]any
			if err := json.Unmarshal([]byte(out[strings.Index(out, "{"):strings.LastIndex(out, "}")+1]), &v); err != nil {
				t.Errorf("info --format json: %v\n%s", err, out)
			}
		}},
		`urun pull --tls-verify=false localhost:5000/busybox`: {},
		`urun images; urun tag localhost:5000/busybox bb; urun rmi bb`: {check: func(t *testing.T, out string) {
			if !regexp.MustCompile(`(?m)^localhost:\d+/busybox +latest `).MatchString(out) || !strings.Contains(out, "Untagged: bb") {
				t.Errorf("want the image listed and bb untagged:\n%s", out)
			}
		}},
		`echo "$REGISTRY_PASSWORD" | urun login -u "$REGISTRY_USER" --password-stdin --tls-verify=false localhost:5001; urun logout localhost:5001`: {check: contains("Removed login credentials for localhost:")},
		`urun run --rm --squash-ids oci:_build/images/farids stat -c %u:%g /far/owned`:                                                              {},
		`urun save -o bb.tar localhost:5000/busybox; urun load -i bb.tar`:                                                                           {check: contains("Loaded image")},
		`urun push --tls-verify=false localhost:5000/busybox localhost:5000/team/bb:1`:                                                              {},
		`urun run --rm --pull=missing --tls-verify=false localhost:5000/team/bb:1 id`:                                                               {check: contains("uid=0(root)")},
		`podman pull -q --tls-verify=false localhost:5000/busybox; urun run --rm --image-store=podman localhost:5000/busybox id`:                    {check: contains("uid=0(root)")},
		`urun pull --image-store=podman --tls-verify=false localhost:5000/team/bb:1; podman images`:                                                 {check: contains("/team/bb ")},
		`urun --data-dir ./scratch pull --tls-verify=false localhost:5000/busybox`:                                                                  {},
	}
}

// matchLines requires every want line, in order, among the output's
// lines, field by field, with the README's ids standing for this user's.
func matchLines(want []string, out string, ids map[string]string) error {
	got := strings.Split(out, "\n")
	i := 0
	for _, w := range want {
		wf := strings.Fields(w)
		for j, f := range wf {
			if v, ok := ids[f]; ok {
				wf[j] = v
			}
		}
		for ; i < len(got); i++ {
			if strings.Join(strings.Fields(got[i]), " ") == strings.Join(wf, " ") {
				break
			}
		}
		if i == len(got) {
			return fmt.Errorf("no output line %q (as %q here)", w, strings.Join(wf, " "))
		}
		i++
	}
	return nil
}

// mySubIDs is this user's first subordinate uid and how many.
func mySubIDs(t *testing.T) (string, string) {
	t.Helper()
	b, err := os.ReadFile("/etc/subuid")
	if err != nil {
		t.Fatal(err)
	}
	name := os.Getenv("USER")
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Split(l, ":")
		if len(f) == 3 && (f[0] == name || f[0] == strconv.Itoa(os.Getuid())) {
			return f[1], f[2]
		}
	}
	t.Fatalf("no /etc/subuid entry for %s", name)
	return "", ""
}

func portOf(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

func containsInt(list []int, v int) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// waitForProcess waits until one of this user's processes has a command
// line containing cmdline (NUL-separated arguments).
func waitForProcess(t *testing.T, cmdline string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		ents, _ := os.ReadDir("/proc")
		for _, e := range ents {
			if _, err := strconv.Atoi(e.Name()); err != nil {
				continue
			}
			if b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline")); err == nil && strings.Contains(string(b), cmdline) {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no process %q within a minute", strings.ReplaceAll(cmdline, "\x00", " "))
}

// tourCleanup removes what the tour made: its containers, then its images
// (unpacked as subordinate ids, so through urun), also in ./scratch.
func tourCleanup(t *testing.T, env []string, dir string) {
	run := func(args ...string) result {
		cmd := exec.Command(urunBin, args...)
		cmd.Dir, cmd.Env = dir, env
		out, err := cmd.Output()
		r := result{stdout: string(out)}
		if ee, ok := err.(*exec.ExitError); ok {
			r.code, r.stderr = ee.ExitCode(), string(ee.Stderr)
		}
		return r
	}
	for _, id := range strings.Fields(run("ps", "-a", "-q").stdout) {
		if r := run("rm", "-f", id); r.code != 0 {
			t.Errorf("removing the tour's container %s: %s", id, r)
		}
	}
	for _, dd := range [][]string{nil, {"--data-dir", "./scratch"}} {
		seen := map[string]bool{}
		for _, id := range strings.Fields(run(append(dd, "images", "-q")...).stdout) {
			if seen[id] {
				continue
			}
			seen[id] = true
			if r := run(append(dd, "rmi", "-f", id)...); r.code != 0 {
				t.Errorf("removing the tour's image %s: %s", id, r)
			}
		}
	}
	if err := os.RemoveAll(filepath.Join(dir, "scratch")); err != nil {
		t.Errorf("the tour's ./scratch store is not removable after rmi: %v", err)
	}
}
