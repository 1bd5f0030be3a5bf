package integration

// urun run --image-store=podman, side by side with the real podman 4.3:
// podman pulls or loads, urun runs the image from podman's store in
// place, and podman's own rules (rmi refusing an image in use) hold.

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// podmanStore is a podman store of the test's own: XDG_DATA_HOME,
// XDG_CONFIG_HOME and XDG_RUNTIME_DIR point into a temporary directory,
// so podman and urun find it exactly as they find ~/.local/share/containers
// for a user, and the user's real store is not touched.
type podmanStore struct {
	dir   string
	env   []string
	graph string // graphroot
}

// newPodmanStore sets one up; driver "" keeps podman's own choice.
func newPodmanStore(t *testing.T, driver string) *podmanStore {
	t.Helper()
	if _, err := exec.LookPath("podman"); err != nil {
		t.Fatal("podman is not installed: tests/harness/lib.sh installs it (run make integration as root)")
	}
	dir, err := os.MkdirTemp("", "urun-pstore-")
	if err != nil {
		t.Fatal(err)
	}
	p := &podmanStore{dir: dir, graph: filepath.Join(dir, "data", "containers", "storage")}
	for _, d := range []string{"data", "config/containers", "run"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if driver != "" {
		conf := "[storage]\ndriver = \"" + driver + "\"\n"
		if err := os.WriteFile(filepath.Join(dir, "config/containers/storage.conf"), []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	p.env = []string{"XDG_DATA_HOME=" + filepath.Join(dir, "data"), "XDG_CONFIG_HOME=" + filepath.Join(dir, "config"),
		"XDG_RUNTIME_DIR=" + filepath.Join(dir, "run")}
	killPause := func() {
		// podman started a pause process for this runtime directory.
		if b, err := os.ReadFile(filepath.Join(dir, "run", "libpod", "tmp", "pause.pid")); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 1 {
				unix.Kill(pid, unix.SIGKILL)
			}
		}
	}
	t.Cleanup(func() {
		p.podman(t, "rm", "-a", "-f")
		p.podman(t, "rmi", "-a", "-f")
		p.podman(t, "system", "reset", "-f")
		// The overlay driver's home stays mounted in the pause
		// process's namespace: end it before removing the directory.
		killPause()
		if os.RemoveAll(dir) == nil {
			return
		}
		// Files of subordinate ids: remove them mapped.
		if r := p.podman(t, "unshare", "rm", "-rf", filepath.Join(dir, "data")); r.code != 0 {
			t.Errorf("removing the podman store: %s", r)
		}
		killPause()
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("removing %s: %v", dir, err)
		}
	})
	return p
}

func (p *podmanStore) podman(t *testing.T, args ...string) result {
	t.Helper()
	cmd := exec.Command("podman", args...)
	cmd.Env = append(os.Environ(), p.env...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return r
}

func (p *podmanStore) mustPodman(t *testing.T, args ...string) result {
	t.Helper()
	r := p.podman(t, args...)
	if r.code != 0 {
		t.Fatalf("podman %s: %s", strings.Join(args, " "), r)
	}
	return r
}

func (p *podmanStore) urun(t *testing.T, args ...string) result {
	t.Helper()
	return urunEnv(t, p.env, args...)
}

func (p *podmanStore) mustUrun(t *testing.T, args ...string) result {
	t.Helper()
	return mustRunEnv(t, p.env, args...)
}

// driver is the storage driver podman uses for this store.
func (p *podmanStore) driver(t *testing.T) string {
	t.Helper()
	return strings.TrimSpace(p.mustPodman(t, "info", "--format", "{{.Store.GraphDriverName}}").stdout)
}

// externalContainers lists the containers/storage records podman sees
// beside its own containers (urun's among them).
func (p *podmanStore) externalContainers(t *testing.T) []string {
	t.Helper()
	out := strings.TrimSpace(p.mustPodman(t, "ps", "-a", "--external", "--format", "{{.Names}}").stdout)
	if out == "" {
		return nil
	}
	return strings.Fields(out)
}

// layerSnapshot lists every file of the store's layers with inode,
// size and times, per layer directory that exists now: a copy, chown or
// rewrite of an image file changes a line. Layers added later (container
// records) are not part of it.
func (p *podmanStore) layerSnapshot(t *testing.T, driver string) map[string]string {
	t.Helper()
	base := filepath.Join(p.graph, "vfs", "dir")
	if driver == "overlay" {
		base = filepath.Join(p.graph, "overlay")
	}
	ents, err := os.ReadDir(base)
	if err != nil {
		t.Fatal(err)
	}
	snap := map[string]string{}
	for _, e := range ents {
		if e.Name() == "l" || !e.IsDir() {
			continue
		}
		dir := filepath.Join(base, e.Name())
		if driver == "overlay" {
			dir = filepath.Join(dir, "diff")
		}
		var b strings.Builder
		filepath.Walk(dir, func(path string, fi os.FileInfo, err error) error {
			if err != nil {
				b.WriteString(path + " " + err.Error() + "\n")
				return nil
			}
			st := fi.Sys().(*syscall.Stat_t)
			b.WriteString(path + " ino=" + strconv.FormatUint(st.Ino, 10) + " size=" + strconv.FormatInt(st.Size, 10) +
				" mtime=" + strconv.FormatInt(st.Mtim.Nano(), 10) + " ctime=" + strconv.FormatInt(st.Ctim.Nano(), 10) + "\n")
			return nil
		})
		snap[e.Name()] = b.String()
	}
	if len(snap) == 0 {
		t.Fatalf("no layers under %s", base)
	}
	return snap
}

// checkLayersUnchanged fails when a layer of before was changed or removed.
func checkLayersUnchanged(t *testing.T, before, after map[string]string) {
	t.Helper()
	for id, want := range before {
		if got, ok := after[id]; !ok {
			t.Errorf("layer %s of podman's store is gone", id)
		} else if got != want {
			t.Errorf("layer %s of podman's store was rewritten:\n%s", id, diffLines(want, got))
		}
	}
}

// checkURunStoreEmpty fails when urun copied anything into its own store.
func (p *podmanStore) checkURunStoreEmpty(t *testing.T) {
	t.Helper()
	for _, d := range []string{"images", "rootfs"} {
		if _, err := os.Stat(filepath.Join(p.dir, "data", "urun", d)); err == nil {
			t.Errorf("urun's own store has %s/: the image was copied", d)
		}
	}
}

// The machine's default: a fresh podman store gets podman's own choice of
// driver (vfs for rootless podman 4.3 on this host). Pulled by podman from
// the loopback registry, run by urun in place; podman rmi refuses while a
// created or detached urun container holds the image, and works after
// urun rm; podman still runs the image.
func TestPodmanStoreRun(t *testing.T) {
	reg := startRegistry(t)
	ref := reg.push(t, "busybox", "pstore/busybox:1")
	p := newPodmanStore(t, "")
	p.mustPodman(t, "pull", "-q", "--tls-verify=false", ref)
	driver := p.driver(t)
	t.Logf("podman's driver for a fresh rootless store: %s", driver)
	before := p.layerSnapshot(t, driver)
	procs := myProcesses(t) // after podman's pause process started

	r := p.mustUrun(t, "run", "--image-store=podman", ref, "sh", "-c", "cat /etc/passwd; id -u; stat -c %u:%g /bin/busybox; echo written > /new; cat /new")
	if !strings.HasPrefix(r.stdout, "root:x:0:0") || !strings.HasSuffix(r.stdout, "\n0\n0:0\nwritten\n") {
		t.Errorf("urun run from podman's store: %s", r)
	}
	// The environment form, and a short name podman would resolve too.
	short := strings.TrimSuffix(ref, ":1")
	if r := urunEnv(t, append(p.env, "URUN_IMAGE_STORE=podman"), "run", short+":1", "cat", "/new"); r.code != 1 || !strings.Contains(r.stderr, "/new") {
		t.Errorf("a new container sees the previous one's file: %s", r)
	}
	p.checkURunStoreEmpty(t)
	if ext := p.externalContainers(t); len(ext) != 0 {
		t.Errorf("records left in podman's store after run --rm: %v", ext)
	}

	// Held by a created container, then by a detached one.
	p.mustUrun(t, "create", "--image-store=podman", "--name", "pc", ref, "true")
	if ext := p.externalContainers(t); len(ext) != 1 || ext[0] != "urun-pc" {
		t.Errorf("podman ps --external after urun create: %v, want [urun-pc]", ext)
	}
	if r := p.podman(t, "rmi", ref); r.code == 0 || !strings.Contains(r.stderr, "in use") {
		t.Errorf("podman rmi of an image a urun container uses: %s", r)
	}
	// Failures after the record was made release it: a name in use
	// (before the container exists), a command that is not there (after).
	if r := p.urun(t, "create", "--image-store=podman", "--name", "pc", ref, "true"); r.code != 125 {
		t.Errorf("urun create with a name in use: %s", r)
	}
	if r := p.urun(t, "run", "--image-store=podman", ref, "nosuch"); r.code != 127 {
		t.Errorf("urun run of a missing command: %s", r)
	}
	if ext := p.externalContainers(t); len(ext) != 1 {
		t.Errorf("podman ps --external after failed runs: %v, want [urun-pc]", ext)
	}
	p.mustUrun(t, "start", "pc")
	p.mustUrun(t, "wait", "pc")
	p.mustUrun(t, "rm", "pc")
	p.mustUrun(t, "run", "-d", "--image-store=podman", "--name", "pd", ref, "sleep", "1000")
	if r := p.podman(t, "rmi", ref); r.code == 0 || !strings.Contains(r.stderr, "in use") {
		t.Errorf("podman rmi while urun run -d uses the image: %s", r)
	}
	p.mustUrun(t, "rm", "-f", "pd")
	if ext := p.externalContainers(t); len(ext) != 0 {
		t.Errorf("records left in podman's store after urun rm: %v", ext)
	}
	if m, _ := filepath.Glob(filepath.Join(p.dir, "run", "urun", "*.podman-store")); len(m) != 0 {
		t.Errorf("urun left record markers: %v", m)
	}
	// A reboot empties urun's state (the runtime directory) but not the
	// container records (the data directory) nor podman's store: the
	// container is still there, and its rm releases podman's record.
	p.mustUrun(t, "create", "--image-store=podman", "--name", "stale", ref, "true")
	if err := os.RemoveAll(filepath.Join(p.dir, "run", "urun")); err != nil {
		t.Fatal(err)
	}
	p.mustUrun(t, "run", "--image-store=podman", ref, "true")
	if ext := p.externalContainers(t); len(ext) != 1 || ext[0] != "urun-stale" {
		t.Errorf("podman ps --external after a reboot: %v, want the kept container's [urun-stale]", ext)
	}
	p.mustUrun(t, "rm", "stale")
	if ext := p.externalContainers(t); len(ext) != 0 {
		t.Errorf("records left in podman's store after rm of a container from before the reboot: %v", ext)
	}
	checkLayersUnchanged(t, before, p.layerSnapshot(t, driver))
	p.checkURunStoreEmpty(t)

	// Refusals: one line each, exit 125, nothing registered.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "--image-store=podman", "--pull=never", reg.addr + "/nosuch:1", "true"}, "urun pull --image-store=podman " + reg.addr + "/nosuch:1"},
		{[]string{"run", "--image-store=podman", "--tls-verify=false", reg.addr + "/nosuch:1", "true"}, "pulling " + reg.addr + "/nosuch:1"},
		{[]string{"run", "--image-store=podman", "--userns=keep-id", ref, "true"}, "keep-id"},
		{[]string{"run", "--image-store=podman", "--rootfs-tier=fuse", ref, "true"}, "--rootfs-tier"},
		{[]string{"run", "--image-store=other", ref, "true"}, "--image-store"},
		{[]string{"run", "--storage-root=/nonexistent", ref, "true"}, "--image-store=podman"},
	} {
		if driver != "vfs" && tc.want == "--rootfs-tier" {
			continue
		}
		r := p.urun(t, tc.args...)
		if r.code != 125 || !strings.Contains(r.stderr, tc.want) || len(lines(r.stderr)) != 1 {
			t.Errorf("urun %v: %s\nwant exit 125 and one line naming %q", tc.args, r, tc.want)
		}
	}
	if ext := p.externalContainers(t); len(ext) != 0 {
		t.Errorf("records left in podman's store after refused runs: %v", ext)
	}
	if r := p.mustUrun(t, "ps", "-a", "-q"); strings.TrimSpace(r.stdout) != "" {
		t.Errorf("urun containers left: %s", r)
	}
	checkNoLeftovers(t, procs)

	// podman still runs the image, and removes it now that nothing uses it.
	if r := p.podman(t, "run", "--rm", "--runtime", "runc", "--network", "none", ref, "echo", "podman-ok"); r.stdout != "podman-ok\n" {
		t.Errorf("podman run after urun: %s", r)
	}
	p.mustPodman(t, "rmi", ref)
}

// --storage-root names the store (podman's --root) instead of storage.conf.
func TestPodmanStoreRoot(t *testing.T) {
	p := newPodmanStore(t, "")
	layout := copyLayout(t, "busybox")
	id := lines(p.mustPodman(t, "pull", "-q", "oci:"+layout+":latest").stdout)
	img := id[len(id)-1][:12]
	// Another user's view: an empty default store, the real one named.
	other := append(append([]string{}, p.env...), "XDG_DATA_HOME="+t.TempDir())
	if r := urunEnv(t, other, "run", "--image-store=podman", img, "true"); r.code != 125 || !strings.Contains(r.stderr, "podman") {
		t.Errorf("run from an empty default store: %s", r)
	}
	if r := urunEnv(t, other, "run", "--image-store=podman", "--storage-root", p.graph, img, "echo", "from-root"); r.code != 0 || r.stdout != "from-root\n" {
		t.Errorf("run --storage-root %s: %s", p.graph, r)
	}
}

// The hard image, loaded with podman load: owners, modes, setuid bits,
// hard links, symlinks and whiteouts as the image's layers say.
func TestPodmanStoreHardImage(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(imagesDir, "hard", "expected.txt"))
	if err != nil {
		t.Fatal(err)
	}
	first, want, _ := strings.Cut(string(b), "\n")
	cmd, ok := strings.CutPrefix(first, "# cmd: ")
	if !ok {
		t.Fatalf("expected.txt has no command line: %q", first)
	}
	p := newPodmanStore(t, "")
	archive := filepath.Join(t.TempDir(), "hard.tar")
	if out, err := exec.Command("skopeo", "copy", "oci:"+filepath.Join(imagesDir, "hard"), "docker-archive:"+archive+":localhost/pstore-hard:1").CombinedOutput(); err != nil {
		t.Fatalf("skopeo copy to a docker archive: %v\n%s", err, out)
	}
	p.mustPodman(t, "load", "-q", "-i", archive)
	before := p.layerSnapshot(t, p.driver(t))
	r := p.mustUrun(t, "run", "--image-store=podman", "--user", "0:0", "--entrypoint", "/bin/sh", "localhost/pstore-hard:1", "-c", cmd)
	if r.stdout != want {
		t.Errorf("tree differs from the image's layers:\n%s", diffLines(want, r.stdout))
	}
	checkLayersUnchanged(t, before, p.layerSnapshot(t, p.driver(t)))
	p.checkURunStoreEmpty(t)
}

// The overlay driver (storage.conf driver = "overlay", native overlay in
// podman's user namespace): urun mounts the image's diff directories as
// lowers and the record's diff as its writable layer.
func TestPodmanStoreOverlay(t *testing.T) {
	p := newPodmanStore(t, "overlay")
	layout := copyLayout(t, "busybox")
	id := lines(p.mustPodman(t, "pull", "-q", "oci:"+layout+":latest").stdout)
	img := id[len(id)-1]
	if d := p.driver(t); d != "overlay" {
		t.Fatalf("podman uses %s, not the configured overlay", d)
	}
	before := p.layerSnapshot(t, "overlay")
	p.mustUrun(t, "run", "-d", "--image-store=podman", "--name", "po", img, "sh", "-c", "if test -e /etc/new; then echo again >> /etc/new; else echo kept > /etc/new; fi; rm -f /bin/ls; sleep 1000")
	if r := p.podman(t, "rmi", img); r.code == 0 || !strings.Contains(r.stderr, "in use") {
		t.Errorf("podman rmi while urun uses the image: %s", r)
	}
	waitFor(t, func() bool {
		m, _ := filepath.Glob(filepath.Join(p.graph, "overlay", "*", "diff", "etc", "new"))
		return len(m) == 1
	})
	if r := p.urun(t, "exec", "po", "sh", "-c", "cat /etc/new; ls /bin/ls"); r.stdout != "kept\n" || r.code == 0 {
		t.Errorf("the container's writes: %s", r)
	}
	// Its writes live in the record's layer: kept across stop and start.
	p.mustUrun(t, "stop", "-t", "0", "po")
	p.mustUrun(t, "start", "po")
	waitFor(t, func() bool { return p.urun(t, "exec", "po", "cat", "/etc/new").stdout == "kept\nagain\n" })
	p.mustUrun(t, "rm", "-f", "po")
	if m, _ := filepath.Glob(filepath.Join(p.graph, "overlay", "*", "diff", "etc", "new")); len(m) != 0 {
		t.Errorf("the record's layer outlived urun rm: %v", m)
	}
	if ext := p.externalContainers(t); len(ext) != 0 {
		t.Errorf("records left in podman's store after urun rm: %v", ext)
	}
	checkLayersUnchanged(t, before, p.layerSnapshot(t, "overlay"))
	p.checkURunStoreEmpty(t)
	if r := p.mustUrun(t, "run", "--image-store=podman", img, "ls", "/bin/ls"); r.stdout != "/bin/ls\n" {
		t.Errorf("a new container from the same image: %s", r)
	}
	if r := p.podman(t, "run", "--rm", "--runtime", "runc", "--network", "none", img, "echo", "podman-ok"); r.stdout != "podman-ok\n" {
		t.Errorf("podman run after urun: %s", r)
	}
}

// copyLayout copies a test image's layout to a lowercase path (podman
// names an image pulled from a layout after its path).
func copyLayout(t *testing.T, image string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "urunpstore")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if out, err := exec.Command("cp", "-r", filepath.Join(imagesDir, image), dir+"/"+image).CombinedOutput(); err != nil {
		t.Fatalf("copying the layout: %v %s", err, out)
	}
	return dir + "/" + image
}

// Without subordinate ids there is no mapping podman's store fits.
func TestPodmanStoreNoSubIDs(t *testing.T) {
	r := urun(t, "run", "--image-store=podman", "busybox", "true")
	// (After the usual single-id fallback warning.)
	if r.code != 125 || !strings.Contains(r.stderr, "subordinate ids") {
		t.Errorf("run --image-store=podman without subordinate ids: %s", r)
	}
}

// urun pull --image-store=podman puts an image into podman's store as
// podman pull would, into a store podman created but holds no image yet:
// podman lists and runs it, and urun runs it from there. run
// --image-store=podman pulls into podman's store on first use, and again
// with --pull=always. A store podman never created is refused: only
// podman knows which driver it would choose.
func TestPodmanStorePull(t *testing.T) {
	reg := startRegistry(t)
	for _, driver := range []string{"", "overlay"} {
		name := driver
		if name == "" {
			name = "podman's choice"
		}
		t.Run(name, func(t *testing.T) { podmanStorePull(t, reg, driver) })
	}
}

func podmanStorePull(t *testing.T, reg *registry, driver string) {
	ref := reg.push(t, "busybox", "pstore/pulled:1")
	other := reg.push(t, "busybox", "pstore/onrun:1")
	p := newPodmanStore(t, driver)
	oneLine(t, p.urun(t, "pull", "-q", "--image-store=podman", "--tls-verify=false", ref), "pull into a store podman never made", "podman info")
	p.mustPodman(t, "info")
	r := p.mustUrun(t, "pull", "--image-store=podman", "--tls-verify=false", ref)
	id := strings.TrimSpace(r.stdout)
	if len(id) != 64 || !strings.Contains(r.stderr, "Copying blob") {
		t.Fatalf("urun pull --image-store=podman: %s", r)
	}
	if got := strings.TrimSpace(p.mustPodman(t, "image", "inspect", "--format", "{{.Id}}", ref).stdout); got != id {
		t.Errorf("podman image inspect: id %s, urun pull printed %s", got, id)
	}
	if r := p.podman(t, "run", "--rm", "--runtime", "runc", "--network", "none", ref, "echo", "podman-ok"); r.stdout != "podman-ok\n" {
		t.Errorf("podman run of the image urun pulled: %s", r)
	}
	if r := p.mustUrun(t, "run", "--image-store=podman", "--pull=never", ref, "stat", "-c", "%u:%g", "/bin/busybox"); r.stdout != "0:0\n" {
		t.Errorf("urun run of the image urun pulled into podman's store: %s", r)
	}
	// Pull on first use, and --pull=always.
	if r := p.mustUrun(t, "run", "--image-store=podman", "--tls-verify=false", other, "echo", "pulled-on-run"); r.stdout != "pulled-on-run\n" || !strings.Contains(r.stderr, "Copying blob") {
		t.Errorf("run --image-store=podman of an image podman lacks: %s", r)
	}
	p.mustPodman(t, "image", "exists", other)
	if r := p.mustUrun(t, "run", "--image-store=podman", "--pull=always", "--tls-verify=false", other, "echo", "again"); r.stdout != "again\n" {
		t.Errorf("run --pull=always: %s", r)
	}
	p.checkURunStoreEmpty(t)
	if ext := p.externalContainers(t); len(ext) != 0 {
		t.Errorf("records left in podman's store: %v", ext)
	}
	oneLine(t, p.urun(t, "pull", "-q", "--image-store=podman", ref), "pull from plain HTTP without --tls-verify=false", "--tls-verify=false")
}

// kill -9 of `urun pull --image-store=podman` in the middle of a layer:
// podman's store keeps what it had, podman and urun still run from it,
// and the next pull completes (containers/storage drops the incomplete
// layer itself).
func TestPodmanStorePullKilled(t *testing.T) {
	reg := startRegistry(t)
	proxy, ref := stallHardPull(t, reg, "killed")
	other := reg.push(t, "busybox", "pstore/kept:1")
	p := newPodmanStore(t, "")
	p.mustPodman(t, "info")
	p.mustUrun(t, "pull", "-q", "--image-store=podman", "--tls-verify=false", other)
	before := myProcesses(t) // after podman's pause process started

	killWhenStalled(t, proxy, p.env, "pull", "--image-store=podman", "--tls-verify=false", ref)
	checkNoLeftovers(t, before)

	if r := p.mustPodman(t, "images", "--format", "{{.Repository}}:{{.Tag}}"); strings.TrimSpace(r.stdout) != other {
		t.Errorf("podman images after the killed pull: %q, want only %s", r.stdout, other)
	}
	if r := p.podman(t, "run", "--rm", "--runtime", "runc", "--network", "none", other, "echo", "podman-ok"); r.stdout != "podman-ok\n" {
		t.Errorf("podman run after the killed pull: %s", r)
	}
	p.mustUrun(t, "pull", "-q", "--image-store=podman", "--tls-verify=false", ref)
	if r := p.mustUrun(t, "run", "--image-store=podman", "--pull=never", "--entrypoint", "/bin/sh", ref, "-c", "echo whole"); r.stdout != "whole\n" {
		t.Errorf("urun run after the repeated pull: %s", r)
	}
	if r := p.podman(t, "run", "--rm", "--runtime", "runc", "--network", "none", "--entrypoint", "/bin/sh", ref, "-c", "echo whole"); r.stdout != "whole\n" {
		t.Errorf("podman run after the repeated pull: %s", r)
	}
}
