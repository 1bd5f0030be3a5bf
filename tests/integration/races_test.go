package integration

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Two `run -d --name same` started together: exactly one gets the name,
// the other says in one line that it is taken (exit 125), every time.
func TestNameRace(t *testing.T) {
	before := myProcesses(t)
	urun(t, "rm", "-f", "racer")
	for i := 0; i < 20; i++ {
		var wg sync.WaitGroup
		var res [2]result
		start := make(chan struct{})
		for j := range res {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				res[j] = urun(t, "run", "-d", "--name", "racer", busybox(), "sleep", "300")
			}()
		}
		close(start)
		wg.Wait()
		ok, taken := 0, 0
		for _, r := range res {
			switch {
			case r.code == 0:
				ok++
			case r.code == 125 && strings.Contains(r.stderr, `name "racer" is in use`) && len(lines(r.stderr)) == 1:
				taken++
			default:
				t.Errorf("try %d: neither started nor refused for the name: %s", i, r)
			}
		}
		if ok != 1 || taken != 1 {
			t.Fatalf("try %d: %d started, %d refused: %s\n%s", i, ok, taken, res[0], res[1])
		}
		var running []string
		for _, e := range psAll(t) {
			if slices.Contains(e.Names, "racer") {
				running = append(running, e.ID)
			}
		}
		if len(running) != 1 {
			t.Fatalf("try %d: %d containers named racer", i, len(running))
		}
		mustRun(t, "rm", "-f", "racer")
	}
	checkNoLeftovers(t, before)
}

// stateRootEntries lists the state root, and the kept containers' layers
// in the data directory: what must not grow after a kill.
func stateRootEntries(t *testing.T) []string {
	t.Helper()
	var out []string
	root := stateRoot(t)
	ents, _ := os.ReadDir(root)
	for _, e := range ents {
		// The settled marks' directory comes with the first kept
		// container and stays (docs/RUNTIME.md); the marks themselves
		// go with their containers, checked in engine's unit tests.
		// The trash (engine/trash.go) stays too; what is in it must go
		// with the next command's sweep.
		if e.Name() != ".settled" && e.Name() != ".trash" {
			out = append(out, e.Name())
		}
	}
	trash, _ := os.ReadDir(filepath.Join(root, ".trash"))
	for _, e := range trash {
		out = append(out, ".trash/"+e.Name())
	}
	names, _ := os.ReadDir(filepath.Join(root, "names"))
	for _, e := range names {
		out = append(out, "names/"+e.Name())
	}
	home, _ := os.UserHomeDir()
	layers, _ := os.ReadDir(filepath.Join(home, ".local", "share", "urun", "containers"))
	for _, e := range layers {
		out = append(out, "data/containers/"+e.Name())
	}
	layerTrash, _ := os.ReadDir(filepath.Join(home, ".local", "share", "urun", "trash"))
	for _, e := range layerTrash {
		out = append(out, "data/trash/"+e.Name())
	}
	slices.Sort(out)
	return out
}

// entriesDiff says what got has that want has not, and the reverse.
func entriesDiff(got, want []string) string {
	var extra, missing []string
	for _, e := range got {
		if !slices.Contains(want, e) {
			extra = append(extra, e)
		}
	}
	for _, e := range want {
		if !slices.Contains(got, e) {
			missing = append(missing, e)
		}
	}
	return fmt.Sprintf("left behind: %v\ngone: %v", extra, missing)
}

// What kill -9 of urun at any moment leaves in the state root (an empty
// container directory, a first save cut short, a removal cut short,
// a lock file, a configured container whose urun died before it ran) is
// swept by the next command that looks at the state root, which lists
// none of it.
func TestStateRootOrphansSwept(t *testing.T) {
	root := stateRoot(t)
	mustRun(t, "ps", "-a")
	want := stateRootEntries(t)
	id := func(n int) string { return fmt.Sprintf("%064x", 0xdead0000+n) }
	os.Mkdir(filepath.Join(root, id(1)), 0o700)
	os.Mkdir(filepath.Join(root, id(2)), 0o700)
	os.WriteFile(filepath.Join(root, id(2), "config.json"), []byte("{}"), 0o600)
	os.WriteFile(filepath.Join(root, id(2), ".state-123"), []byte("{"), 0o600)
	os.Mkdir(filepath.Join(root, id(3)), 0o700)
	os.WriteFile(filepath.Join(root, id(3), "ctr.log"), nil, 0o600)
	os.WriteFile(filepath.Join(root, id(4)+".lock"), nil, 0o600)
	// A configured container whose creator is gone (a pid that exited).
	gone := exec.Command("true")
	gone.Run()
	os.Mkdir(filepath.Join(root, id(5)), 0o700)
	st := map[string]any{"ociVersion": "1.0.2", "id": id(5), "status": "configured", "name": "unfinished",
		"created": time.Now(), "creator": gone.Process.Pid, "creatorStart": 1}
	b, _ := json.Marshal(st)
	os.WriteFile(filepath.Join(root, id(5), "state.json"), b, 0o600)
	os.WriteFile(filepath.Join(root, "names", "unfinished"), []byte(id(5)+" 1 1"), 0o600)

	r := mustRun(t, "ps", "-a")
	if strings.Contains(r.stdout, "unfinished") {
		t.Errorf("ps -a lists a container whose urun died before it ran:\n%s", r.stdout)
	}
	if got := stateRootEntries(t); !slices.Equal(got, want) {
		t.Errorf("state root after the sweep:\n%s", entriesDiff(got, want))
	}
	mustRun(t, "run", "--rm", "--name", "unfinished", busybox(), "true")
}

// A configured container is swept only when its creator is dead: a
// `create`d one, handed to the user, stays.
func TestCreatedContainerKept(t *testing.T) {
	urun(t, "rm", "-f", "kept")
	mustRun(t, "create", "--name", "kept", busybox(), "true")
	defer urun(t, "rm", "-f", "kept")
	if e := psAll(t)["kept"]; e.State != "created" {
		t.Fatalf("created container: %+v", e)
	}
	if r := urun(t, "create", "--name", "kept", busybox(), "true"); r.code != 125 || !strings.Contains(r.stderr, "in use") {
		t.Errorf("second create of one name: %s", r)
	}
}

// chaosKill starts urun with args, kills it with SIGKILL after a random
// delay up to max, and waits for it.
func chaosKill(t *testing.T, max time.Duration, args ...string) {
	t.Helper()
	cmd := exec.Command(urunBin, withRm(args)...)
	cmd.Env = os.Environ()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Duration(rand.Int63n(int64(max))))
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
}

// Chaos: urun killed with SIGKILL at random moments of run, run -d,
// create, start, rm -f and pull. After every kill the next command
// works, the name can be used again, ps -a tells the truth, and the
// state root and the data directory hold nothing that no container owns.
func TestChaosKills(t *testing.T) {
	kills := 30
	if testing.Short() {
		kills = 5
	}
	reg := startRegistry(t)
	ref := reg.push(t, "hard", "chaos/hard")
	env := storeEnv(t)
	before := myProcesses(t)
	urun(t, "rm", "-f", "chaos")
	// What every run makes once and keeps (the names' directory, the
	// event log, their locks, the supervisors' directory) is there
	// before the first kill.
	mustRun(t, "run", "--rm", "--name", "chaos", busybox(), "true")
	mustRun(t, "run", "-d", "--name", "chaos", busybox(), "true")
	mustRun(t, "rm", "-f", "chaos")
	mustRun(t, "ps", "-a")
	want := stateRootEntries(t)
	steps := []struct {
		name  string
		max   time.Duration
		setup func()
		args  []string
	}{
		{"run", 250 * time.Millisecond, nil, []string{"run", "--rm=false", "--name", "chaos", busybox(), "sleep", "300"}},
		{"run --rm", 250 * time.Millisecond, nil, []string{"run", "--name", "chaos", busybox(), "sleep", "300"}},
		{"run -d", 250 * time.Millisecond, nil, []string{"run", "-d", "--name", "chaos", busybox(), "sleep", "300"}},
		{"create", 150 * time.Millisecond, nil, []string{"create", "--name", "chaos", busybox(), "sleep", "300"}},
		{"start", 150 * time.Millisecond, func() { mustRun(t, "create", "--name", "chaos", busybox(), "sleep", "300") }, []string{"start", "chaos"}},
		{"rm -f", 150 * time.Millisecond, func() { mustRun(t, "run", "-d", "--name", "chaos", busybox(), "sleep", "300") }, []string{"rm", "-f", "chaos"}},
	}
	t0 := time.Now()
	for _, s := range steps {
		for i := 0; i < kills; i++ {
			if s.setup != nil {
				s.setup()
			}
			chaosKill(t, s.max, s.args...)
			if s.name == "run -d" {
				// The killed front's supervisor may still be starting it.
				waitFor(t, func() bool { return psAll(t)["chaos"].State != "created" })
			}
			if e, ok := psAll(t)["chaos"]; ok {
				switch {
				case e.State == "running" && syscall.Kill(e.Pid, 0) != nil && psAll(t)["chaos"].State == "running":
					// (Asked again: a killed init may die between ps
					// reading it and this check.)
					t.Errorf("%s, kill %d: ps -a says running, its pid %d is gone", s.name, i, e.Pid)
				case e.State == "created" && s.name != "create" && s.name != "start":
					t.Errorf("%s, kill %d: ps -a shows a container its killed urun never handed over: %+v", s.name, i, e)
				}
			}
			mustRun(t, "rm", "-f", "chaos")
			if r := urun(t, "run", "--rm", "--name", "chaos", busybox(), "true"); r.code != 0 {
				t.Fatalf("%s, kill %d: the name is not reusable: %s", s.name, i, r)
			}
			// That foreground --rm run left its state and layer in the
			// trash for the next command's sweep.
			mustRun(t, "ps", "-a")
			if got := stateRootEntries(t); !slices.Equal(got, want) {
				t.Fatalf("%s, kill %d: the state root or data directory changed:\n%s", s.name, i, entriesDiff(got, want))
			}
		}
	}
	for i := 0; i < kills; i++ {
		cmd := exec.Command(urunBin, "pull", "-q", "--tls-verify=false", ref)
		cmd.Env = append(os.Environ(), env...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(rand.Int63n(int64(400 * time.Millisecond))))
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		if r := urunEnv(t, env, "images"); r.code != 0 {
			t.Fatalf("pull, kill %d: images after the kill: %s", i, r)
		}
		if i%5 == 4 {
			mustRunEnv(t, env, "pull", "-q", "--tls-verify=false", ref)
			mustRunEnv(t, env, "rmi", ref)
		}
	}
	checkNoLeftovers(t, before)
	t.Logf("%d kills in %s", kills*(len(steps)+1), time.Since(t0).Round(time.Second))
}
