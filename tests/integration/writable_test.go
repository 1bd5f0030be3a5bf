package integration

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// shmem is the host's Shmem (tmpfs and shared memory pages) in bytes.
func shmem(t *testing.T) int64 {
	t.Helper()
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "Shmem:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no Shmem line in /proc/meminfo")
	return 0
}

// layersIn lists the writable layers in data directory data.
func layersIn(t *testing.T, data string) []string {
	t.Helper()
	return entriesIn(t, filepath.Join(data, "containers"))
}

// trashIn lists the layers in data's trash: moved there at a --rm
// container's exit, removed by the detached remover or the next sweep.
func trashIn(t *testing.T, data string) []string {
	t.Helper()
	return entriesIn(t, filepath.Join(data, "trash"))
}

func entriesIn(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

// duBytes is the disk use of dir (du -sb), read as the test user; files
// of subordinate ids inside may be unreadable, so errors are ignored.
func duBytes(dir string) int64 {
	out, _ := exec.Command("du", "-sb", dir).Output()
	f := strings.Fields(string(out))
	if len(f) == 0 {
		return 0
	}
	n, _ := strconv.ParseInt(f[0], 10, 64)
	return n
}

// writeThenWait starts a --rm container (args before the image) that
// writes mib MiB into / and says ready, then waits; it returns urun's
// command and how much Shmem rose while the file was written.
func writeThenWait(t *testing.T, env []string, mib int, args ...string) (*exec.Cmd, int64) {
	t.Helper()
	before := shmem(t)
	argv := append([]string{"run", "--rm", "--network", "none"}, args...)
	argv = append(argv, busybox(), "sh", "-c",
		"dd if=/dev/zero of=/big bs=1M count="+strconv.Itoa(mib)+" 2>/dev/null && sync && echo ready && exec sleep 120")
	cmd := exec.Command(urunBin, withRm(argv)...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(out).ReadString('\n')
	if !strings.Contains(line, "ready") {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("the container did not write its file: %q, stderr: %s", line, stderr.String())
	}
	return cmd, shmem(t) - before
}

// A --rm container's writes go to disk in the data directory, not to
// host memory; the layer goes at exit (into the trash, removed by a
// detached remover), and after kill -9 of urun the next urun command
// removes it. --writable-layer=tmpfs keeps them in memory.
func TestWritableLayerOnDisk(t *testing.T) {
	data, err := os.MkdirTemp("", "urun-writable-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(data)
	env := []string{"URUN_DATA_DIR=" + data}
	before := myProcesses(t)

	cmd, rose := writeThenWait(t, env, 1024)
	t.Logf("1 GiB written on disk: Shmem rose by %d KiB", rose>>10)
	if rose > 16<<20 {
		t.Errorf("a 1 GiB write in a --rm container raised host Shmem by %d MiB (want ≤ 16 MiB: the writable layer belongs on disk)", rose>>20)
	}
	layers := layersIn(t, data)
	if len(layers) != 1 {
		t.Fatalf("writable layers while the container runs: %v, want one", layers)
	}
	if n := duBytes(filepath.Join(data, "containers")); n < 1<<30 {
		t.Errorf("the data directory holds %d bytes of writable layer, want the 1 GiB written", n)
	}
	// kill -9 of urun: the container dies with it (parent-death signal),
	// and its layer stays until the next urun command.
	cmd.Process.Kill()
	cmd.Wait()
	mustRunEnv(t, env, "ps", "-a")
	if l := append(layersIn(t, data), trashIn(t, data)...); len(l) != 0 {
		t.Errorf("writable layers after kill -9 of urun and the next command: %v", l)
	}
	if n := duBytes(filepath.Join(data, "containers")); n > 64<<10 {
		t.Errorf("the writable layers' directory still holds %d bytes after the sweep", n)
	}

	// An ordinary exit removes the layer at once, also files of
	// another id in a directory of that id (which only the user
	// namespace can remove).
	r := mustRunEnv(t, env, "run", "--rm", "--network", "none", busybox(), "sh", "-c",
		"mkdir -p /d/e && echo x >/d/e/f && chown -R 1000:1000 /d && chmod 700 /d && dd if=/dev/zero of=/big bs=1M count=8 2>/dev/null && ls -l /big")
	if !strings.Contains(r.stdout, "8388608") {
		t.Errorf("the write did not happen: %s", r)
	}
	if l := layersIn(t, data); len(l) != 0 {
		t.Errorf("writable layers after a --rm container exited: %v", l)
	}
	// It was moved into the trash, and (files it cannot size: another
	// id's) the remover urun left behind frees its space without
	// another urun command.
	waitFor(t, func() bool { return len(trashIn(t, data)) == 0 })
	if n := duBytes(data + "/trash"); n > 64<<10 {
		t.Errorf("the trash holds %d bytes after its remover finished", n)
	}
	// A large layer: the same, without another command.
	mustRunEnv(t, env, "run", "--rm", "--network", "none", busybox(), "dd", "if=/dev/zero", "of=/big", "bs=1M", "count=40")
	waitFor(t, func() bool { return len(trashIn(t, data)) == 0 })
	// A small layer is left to the next command's sweep, as is the
	// entry of a remover killed before it finished: nobody holds it.
	mustRunEnv(t, env, "run", "--rm", "--network", "none", busybox(), "sh", "-c", "echo x >/small")
	if l := trashIn(t, data); len(l) != 1 {
		t.Errorf("the trash after a --rm container with a small layer exited: %v, want its layer", l)
	}
	mustRunEnv(t, env, "ps", "-a")
	if l := trashIn(t, data); len(l) != 0 {
		t.Errorf("the trash after the next command: %v", l)
	}
	// Its state directory went into the state root's trash at exit,
	// and the next command removed it too.
	if l := entriesIn(t, filepath.Join(stateRoot(t), ".trash")); len(l) != 0 {
		t.Errorf("the state root's trash after the next command: %v", l)
	}

	// On request, the writes stay in memory: the measure above can fail.
	cmd, rose = writeThenWait(t, env, 256, "--writable-layer", "tmpfs")
	t.Logf("256 MiB written with --writable-layer=tmpfs: Shmem rose by %d KiB", rose>>10)
	if rose < 200<<20 {
		t.Errorf("256 MiB written into a tmpfs writable layer raised Shmem by only %d MiB", rose>>20)
	}
	if l := layersIn(t, data); len(l) != 0 {
		t.Errorf("a tmpfs writable layer made a layer on disk: %v", l)
	}
	cmd.Process.Kill()
	cmd.Wait()
	mustRunEnv(t, env, "ps", "-a")
	checkNoLeftovers(t, before)

	// A kept container cannot keep its writes in memory.
	r = urunEnv(t, env, "create", "--writable-layer", "tmpfs", busybox(), "true")
	if r.code != 125 || !strings.Contains(r.stderr, "--rm containers only") || len(lines(r.stderr)) != 1 {
		t.Errorf("create --writable-layer=tmpfs: %s", r)
	}
	if r := urunEnv(t, env, "run", "--writable-layer", "ram", busybox(), "true"); r.code != 125 || !strings.Contains(r.stderr, "want disk or tmpfs") {
		t.Errorf("--writable-layer=ram: %s", r)
	}
	// From the environment, tmpfs is for --rm containers: a kept one
	// gets its layer on disk.
	r = mustRunEnv(t, append(env, "URUN_WRITABLE_LAYER=tmpfs"), "run", "-d", busybox(), "sleep", "60")
	id := strings.TrimSpace(r.stdout)
	defer urunEnv(t, env, "rm", "-f", id)
	if l := layersIn(t, data); len(l) != 1 || l[0] != id {
		t.Errorf("layers of a kept container started with URUN_WRITABLE_LAYER=tmpfs: %v, want [%s]", l, id)
	}
	mustRunEnv(t, env, "rm", "-f", id)
	if l := layersIn(t, data); len(l) != 0 {
		t.Errorf("layers after rm -f: %v", l)
	}
}

// A data directory without room for a writable layer: one line naming
// it and --data-dir, exit 125, no layer left. The small filesystem is a
// 40 MiB tmpfs in a user namespace of the test user's own, with urun
// inside it (single-id, as newuidmap cannot map there).
func TestWritableLayerNoSpace(t *testing.T) {
	small, err := os.MkdirTemp("", "urun-small-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(small)
	script := `mount -t tmpfs -o size=40m tmpfs "$1" || exit 99
URUN_DATA_DIR="$1" "$2" run --rm --userns host-single --network none "$3" true 2>"$1/err"; echo "rc=$?"
echo "layers=$(ls "$1/containers" | wc -l)"
cat "$1/err"
URUN_DATA_DIR="$1" "$2" run --rm --userns host-single --network none --writable-layer tmpfs "$3" echo in-memory`
	out, err := exec.Command("unshare", "-Urm", "sh", "-c", script, "sh", small, urunBin, busybox()).CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	got := string(out)
	if !strings.Contains(got, "rc=125\n") || !strings.Contains(got, "layers=0\n") {
		t.Errorf("a run with 40 MiB free in the data directory:\n%s", got)
	}
	var errLines []string
	for _, l := range lines(got) {
		if strings.HasPrefix(l, "urun:") {
			errLines = append(errLines, l)
		}
	}
	if len(errLines) != 1 || !strings.Contains(errLines[0], "too little disk space") ||
		!strings.Contains(errLines[0], small) || !strings.Contains(errLines[0], "--data-dir") {
		t.Errorf("want one line naming the data directory and --data-dir, got:\n%s", got)
	}
	if !strings.HasSuffix(got, "in-memory\n") {
		t.Errorf("--writable-layer=tmpfs in the same data directory:\n%s", got)
	}
}
