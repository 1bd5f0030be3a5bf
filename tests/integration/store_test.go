package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
)

// registry is a real CNCF distribution registry (Debian's docker-registry)
// serving plain HTTP on a free loopback port, with its own storage.
type registry struct {
	addr string // host:port
	data string // its storage root
}

func startRegistry(t *testing.T) *registry {
	t.Helper()
	bin, err := exec.LookPath("docker-registry")
	if err != nil {
		t.Fatal("docker-registry is not installed: tests/harness/lib.sh installs it (run make integration as root)")
	}
	dir := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	r := &registry{addr: addr, data: filepath.Join(dir, "data")}
	cfg := fmt.Sprintf("version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\nhttp:\n  addr: %s\n", r.data, addr)
	if err := os.WriteFile(filepath.Join(dir, "config.yml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(dir, "registry.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", filepath.Join(dir, "config.yml"))
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		logf.Close()
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return r
			}
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "registry.log"))
			t.Fatalf("registry on %s did not come up: %v\n%s", addr, err, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// push copies a test image's OCI layout into the registry with skopeo.
func (r *registry) push(t *testing.T, image, name string) string {
	t.Helper()
	dst := r.addr + "/" + name
	out, err := exec.Command("skopeo", "copy", "--dest-tls-verify=false",
		"oci:"+filepath.Join(imagesDir, image), "docker://"+dst).CombinedOutput()
	if err != nil {
		t.Fatalf("skopeo copy %s %s: %v\n%s", image, dst, err, out)
	}
	return dst
}

// corruptBlob overwrites bytes in the middle of the registry's copy of a
// blob, keeping its size: only the digest can tell.
func (r *registry) corruptBlob(t *testing.T, digest string) {
	t.Helper()
	p := filepath.Join(r.data, "docker", "registry", "v2", "blobs", "sha256", digest[:2], digest, "data")
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatalf("the registry's copy of the blob: %v", err)
	}
	defer f.Close()
	if _, err := f.WriteAt([]byte("this is not the layer that was pushed"), 1000); err != nil {
		t.Fatal(err)
	}
}

// storeEnv gives a test its own image store. Unpacked files belong to
// subordinate ids, so the cleanup removes the images with urun rmi (in a
// mapped user namespace) before the directory goes.
func storeEnv(t *testing.T) []string {
	t.Helper()
	dir, err := os.MkdirTemp("", "urun-store-test-")
	if err != nil {
		t.Fatal(err)
	}
	env := []string{"XDG_DATA_HOME=" + dir}
	t.Cleanup(func() {
		for _, e := range listImages(t, env) {
			if e.Name == "" {
				e.Name = e.ID // an unnamed image (commit without a name)
			}
			urunEnv(t, env, "rmi", e.Name)
		}
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("the store is not removable after rmi of every image: %v", err)
		}
	})
	return env
}

type imageEntry struct {
	Name   string `json:"name"`
	ID     string `json:"id"`
	Digest string `json:"digest"`
	Size   int64  `json:"size"`
}

func listImages(t *testing.T, env []string) []imageEntry {
	t.Helper()
	r := urunEnv(t, env, "images", "--format", "json")
	if r.code != 0 {
		t.Fatalf("urun images: %s", r)
	}
	var list []imageEntry
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil {
		t.Fatalf("urun images --format json: %v\n%s", err, r.stdout)
	}
	return list
}

func mustRunEnv(t *testing.T, env []string, args ...string) result {
	t.Helper()
	r := urunEnv(t, env, args...)
	if r.code != 0 {
		t.Fatalf("urun %s: %s", strings.Join(args, " "), r)
	}
	return r
}

// storeBlobs lists the blob files in the store of env.
func storeBlobs(t *testing.T, env []string) []string {
	t.Helper()
	dir := strings.TrimPrefix(env[0], "XDG_DATA_HOME=")
	ents, _ := os.ReadDir(filepath.Join(dir, "urun", "images", "blobs", "sha256"))
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

func TestStorePullListRunRmi(t *testing.T) {
	reg := startRegistry(t)
	ref := reg.push(t, "busybox", "test/busybox:1.0")
	env := storeEnv(t)
	r := mustRunEnv(t, env, "pull", "--tls-verify=false", ref)
	// Not a terminal: one line per blob, no bars.
	if !strings.Contains(r.stderr, "Copying blob sha256:") || strings.Contains(r.stderr, "\r") {
		t.Errorf("line-based progress expected on a pipe, got:\n%s", r.stderr)
	}
	list := listImages(t, env)
	if len(list) != 1 || list[0].Name != ref || !strings.HasPrefix(list[0].Digest, "sha256:") || list[0].Size < 100000 {
		t.Fatalf("images after pull: %+v", list)
	}
	if got := strings.TrimSpace(r.stdout); got != list[0].Digest {
		t.Errorf("pull printed %q, images says digest %s", got, list[0].Digest)
	}
	table := mustRunEnv(t, env, "images").stdout
	// REPOSITORY and TAG columns, as podman's.
	i := strings.LastIndex(ref, ":")
	if !strings.Contains(table, ref[:i]) || !strings.Contains(table, ref[i+1:]) || !strings.Contains(table, list[0].ID) {
		t.Errorf("images table lacks the image:\n%s", table)
	}
	before := myProcesses(t)
	if out := mustRunEnv(t, env, "run", "--pull=never", ref, "echo", "hello").stdout; out != "hello\n" {
		t.Errorf("run printed %q", out)
	}
	checkNoLeftovers(t, before)
	mustRunEnv(t, env, "rmi", ref)
	if list := listImages(t, env); len(list) != 0 {
		t.Errorf("images after rmi: %+v", list)
	}
	if b := storeBlobs(t, env); len(b) != 0 {
		t.Errorf("rmi left blobs: %v", b)
	}
	if r := urunEnv(t, env, "rmi", ref); r.code != 125 || len(lines(r.stderr)) != 1 {
		t.Errorf("rmi of a missing image: %s", r)
	}
}

// On a terminal, pull draws a progress bar per layer (image/v5's) and
// ends with one finished bar per blob; the digest is still the last line.
func TestStorePullProgressBarsOnTerminal(t *testing.T) {
	reg := startRegistry(t)
	ref := reg.push(t, "hard", "test/hard:1")
	env := storeEnv(t)
	cmd := exec.Command(urunBin, "pull", "--tls-verify=false", ref)
	cmd.Env = append(os.Environ(), env...)
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 40, Cols: 120})
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	var out strings.Builder
	done := make(chan struct{})
	go func() { io.Copy(&out, ptmx); close(done) }()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("pull on a terminal: %v\n%q", err, out.String())
	}
	<-done
	got := out.String()
	list := listImages(t, env)
	if len(list) != 1 {
		t.Fatalf("images after pull: %+v", list)
	}
	// The layers, from the test image's own layout (pushed as it is).
	var index, m struct {
		Manifests []struct{ Digest string } `json:"manifests"`
		Layers    []struct{ Digest string } `json:"layers"`
	}
	blob := func(d string) []byte {
		b, err := os.ReadFile(filepath.Join(imagesDir, "hard", "blobs", "sha256", strings.TrimPrefix(d, "sha256:")))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	b, err := os.ReadFile(filepath.Join(imagesDir, "hard", "index.json"))
	if err != nil || json.Unmarshal(b, &index) != nil || len(index.Manifests) != 1 {
		t.Fatalf("test image index: %v %s", err, b)
	}
	if err := json.Unmarshal(blob(index.Manifests[0].Digest), &m); err != nil || len(m.Layers) < 2 {
		t.Fatalf("test image manifest: %v %+v", err, m)
	}
	// Bars name blobs by 12 hex digits and end "done | "; they are
	// redrawn in place (escape sequences) only when the pull is slow
	// enough to draw twice. The line form names the whole digest.
	if strings.Contains(got, "Copying blob sha256:") {
		t.Errorf("line-based progress on a terminal:\n%q", got)
	}
	for _, l := range m.Layers {
		short := strings.TrimPrefix(l.Digest, "sha256:")[:12]
		if !strings.Contains(got, "Copying blob "+short+" done") {
			t.Errorf("no finished bar for layer %s:\n%q", short, got)
		}
	}
	if last := lines(strings.ReplaceAll(got, "\r\n", "\n")); strings.TrimSpace(last[len(last)-1]) != list[0].Digest {
		t.Errorf("last line %q, want the digest %s", last[len(last)-1], list[0].Digest)
	}
}

func TestStoreRunPullsOnFirstUse(t *testing.T) {
	reg := startRegistry(t)
	ref := reg.push(t, "busybox", "busybox")
	env := storeEnv(t)
	r := mustRunEnv(t, env, "run", "--tls-verify=false", ref, "echo", "first")
	if r.stdout != "first\n" || !strings.Contains(r.stderr, "Copying blob") {
		t.Fatalf("first run should pull then run: %s", r)
	}
	// The second run finds it locally (--pull=never would fail otherwise)
	// and starts from the same unpacked layers: no file is rewritten.
	layers := filepath.Join(strings.TrimPrefix(env[0], "XDG_DATA_HOME="), "urun", "storage", "overlay")
	before := snapshotTree(t, layers)
	r = mustRunEnv(t, env, "run", "--pull=never", ref, "sh", "-c", "echo second; touch /new")
	if r.stdout != "second\n" || strings.Contains(r.stderr, "Copying") {
		t.Errorf("second run: %s", r)
	}
	if after := snapshotTree(t, layers); after != before {
		t.Errorf("the second run changed the unpacked image:\n%s", diffLines(before, after))
	}
	r = mustRunEnv(t, env, "run", "--tls-verify=false", "--pull=always", ref, "true")
	if !strings.Contains(r.stderr, "Copying") {
		t.Errorf("--pull=always did not pull: %s", r)
	}
	if list := listImages(t, env); len(list) != 1 || list[0].Name != ref+":latest" {
		t.Errorf("images: %+v", list)
	}
	// Without --tls-verify=false a plain-HTTP registry is refused with the fix.
	r = urunEnv(t, env, "pull", reg.addr+"/other")
	if r.code != 125 || !strings.Contains(r.stderr, "--tls-verify=false") {
		t.Errorf("pull over HTTP without --tls-verify=false: %s", r)
	}
}

func TestStorePullNeverMissing(t *testing.T) {
	env := storeEnv(t)
	r := urunEnv(t, env, "run", "--pull=never", "localhost/nothing-here", "true")
	if r.code != 125 {
		t.Fatalf("want exit 125: %s", r)
	}
	if l := lines(r.stderr); len(l) != 1 || !strings.Contains(l[0], "urun pull localhost/nothing-here") {
		t.Errorf("want one line naming the fix, got:\n%s", r.stderr)
	}
	if r := urunEnv(t, env, "run", "--pull=sometimes", "localhost/x", "true"); r.code != 125 || len(lines(r.stderr)) != 1 {
		t.Errorf("bad --pull value: %s", r)
	}
}

func TestStoreTag(t *testing.T) {
	reg := startRegistry(t)
	ref := reg.push(t, "busybox", "busybox:1")
	env := storeEnv(t)
	mustRunEnv(t, env, "pull", "-q", "--tls-verify=false", ref)
	mustRunEnv(t, env, "tag", ref, "mine:v2", "localhost/other")
	list := listImages(t, env)
	if len(list) != 3 || list[0].ID != list[1].ID || list[1].ID != list[2].ID {
		t.Fatalf("images after tag: %+v", list)
	}
	// A short name finds localhost/NAME, as with podman.
	if out := mustRunEnv(t, env, "run", "--pull=never", "other", "echo", "ok").stdout; out != "ok\n" {
		t.Errorf("run by tag printed %q", out)
	}
	blobs := storeBlobs(t, env)
	mustRunEnv(t, env, "rmi", ref)
	if got := storeBlobs(t, env); len(got) != len(blobs) {
		t.Errorf("rmi of one name of three removed blobs: %v → %v", blobs, got)
	}
	mustRunEnv(t, env, "run", "--pull=never", "docker.io/library/mine:v2", "true")
	// rmi by id removes every name and the blobs.
	mustRunEnv(t, env, "rmi", list[0].ID)
	if list := listImages(t, env); len(list) != 0 {
		t.Errorf("images after rmi by id: %+v", list)
	}
	if b := storeBlobs(t, env); len(b) != 0 {
		t.Errorf("rmi by id left blobs: %v", b)
	}
}

func TestStoreSaveLoad(t *testing.T) {
	reg := startRegistry(t)
	ref := reg.push(t, "busybox", "busybox:save")
	env := storeEnv(t)
	mustRunEnv(t, env, "pull", "-q", "--tls-verify=false", ref)
	for _, format := range []string{"docker-archive", "oci-archive"} {
		t.Run(format, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "img.tar")
			mustRunEnv(t, env, "save", "-q", "--format", format, "-o", file, ref)
			mustRunEnv(t, env, "rmi", ref)
			r := mustRunEnv(t, env, "load", "-q", "-i", file)
			if !strings.Contains(r.stdout, ref) {
				t.Errorf("load should name %s: %s", ref, r)
			}
			if out := mustRunEnv(t, env, "run", "--pull=never", ref, "cat", "/etc/passwd").stdout; !strings.Contains(out, "root:") {
				t.Errorf("loaded image runs but shows no /etc/passwd")
			}
			// A name given to load wins over the one in the archive.
			mustRunEnv(t, env, "load", "-q", "-i", file, "localhost/renamed:"+format)
			mustRunEnv(t, env, "run", "--pull=never", "localhost/renamed:"+format, "true")
		})
	}
	if r := urunEnv(t, env, "load", "-i", "/etc/hostname"); r.code != 125 || len(lines(r.stderr)) != 1 {
		t.Errorf("load of a non-archive: %s", r)
	}
}

// layerDigest returns the digest (hex) of the first layer of a test image.
func layerDigest(t *testing.T, image string) string {
	return layerDigests(t, image)[0]
}

// layerDigests returns the layer digests (hex) of a test image.
func layerDigests(t *testing.T, image string) []string {
	t.Helper()
	dir := filepath.Join(imagesDir, image)
	var index struct{ Manifests []struct{ Digest string } }
	b, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err == nil {
		err = json.Unmarshal(b, &index)
	}
	if err != nil || len(index.Manifests) == 0 {
		t.Fatalf("reading %s index: %v", image, err)
	}
	var man struct{ Layers []struct{ Digest string } }
	b, err = os.ReadFile(filepath.Join(dir, "blobs", "sha256", strings.TrimPrefix(index.Manifests[0].Digest, "sha256:")))
	if err == nil {
		err = json.Unmarshal(b, &man)
	}
	if err != nil || len(man.Layers) == 0 {
		t.Fatalf("reading %s manifest: %v", image, err)
	}
	var out []string
	for _, l := range man.Layers {
		out = append(out, strings.TrimPrefix(l.Digest, "sha256:"))
	}
	return out
}

// A blob whose bytes do not match its digest is refused and nothing of
// the image is kept.
func TestStoreCorruptBlob(t *testing.T) {
	reg := startRegistry(t)
	ref := reg.push(t, "busybox", "corrupt")
	layer := layerDigest(t, "busybox")
	reg.corruptBlob(t, layer)
	env := storeEnv(t)
	r := urunEnv(t, env, "pull", "--tls-verify=false", ref)
	if r.code != 125 || !strings.Contains(strings.ToLower(r.stderr), "digest") {
		t.Fatalf("want a digest error and exit 125: %s", r)
	}
	if l := lines(r.stderr); !strings.HasPrefix(l[len(l)-1], "urun: ") {
		t.Errorf("last line should be urun's error: %q", l[len(l)-1])
	}
	if list := listImages(t, env); len(list) != 0 {
		t.Errorf("a corrupt image was stored: %+v", list)
	}
	for _, b := range storeBlobs(t, env) {
		if b == layer {
			t.Errorf("the corrupt layer was kept in the store")
		}
	}
}

// stallProxy forwards to the registry but, once armed, stops a layer
// download after its first bytes until released, so a test can kill the
// pull in the middle of a blob.
type stallProxy struct {
	addr    string
	layer   string
	stalled chan struct{}
	release chan struct{}
	once    sync.Once
}

// stallHardPull pushes the hard image as name and returns a proxy to the
// registry that stalls on a layer of hard's own (its busybox layer may be
// stored already, and is then not downloaded), and the image's name
// through that proxy.
func stallHardPull(t *testing.T, reg *registry, name string) (*stallProxy, string) {
	t.Helper()
	reg.push(t, "hard", name)
	shared := map[string]bool{}
	for _, l := range layerDigests(t, "busybox") {
		shared[l] = true
	}
	var stallOn string
	for _, l := range layerDigests(t, "hard") {
		if !shared[l] {
			stallOn = l
		}
	}
	proxy := startStallProxy(t, reg.addr, stallOn)
	return proxy, proxy.addr + "/" + name
}

// killWhenStalled runs urun with env and args, kills it with SIGKILL once
// the proxy holds a layer download, then lets the proxy go on.
func killWhenStalled(t *testing.T, proxy *stallProxy, env []string, args ...string) {
	t.Helper()
	cmd := exec.Command(urunBin, withRm(args)...)
	cmd.Env = append(os.Environ(), env...)
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
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	proxy.Release()
}

func startStallProxy(t *testing.T, target, layer string) *stallProxy {
	t.Helper()
	u, _ := url.Parse("http://" + target)
	p := &stallProxy{layer: layer, stalled: make(chan struct{}), release: make(chan struct{})}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.FlushInterval = -1
	rp.ModifyResponse = func(resp *http.Response) error {
		if resp.Request.Method == http.MethodGet && strings.HasSuffix(resp.Request.URL.Path, "/blobs/sha256:"+layer) {
			resp.Body = &stallBody{ReadCloser: resp.Body, p: p, ctx: resp.Request.Context(), after: max(resp.ContentLength/2, 1)}
		}
		return nil
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: rp}
	go srv.Serve(l)
	t.Cleanup(func() {
		p.Release()
		srv.Close()
	})
	p.addr = l.Addr().String()
	return p
}

// Release lets stalled and later downloads through.
func (p *stallProxy) Release() {
	select {
	case <-p.release:
	default:
		close(p.release)
	}
}

type stallBody struct {
	io.ReadCloser
	p     *stallProxy
	ctx   context.Context
	n     int64
	after int64
}

func (b *stallBody) Read(buf []byte) (int, error) {
	if b.n >= b.after {
		b.p.once.Do(func() { close(b.p.stalled) })
		select {
		case <-b.p.release:
		case <-b.ctx.Done():
			return 0, b.ctx.Err()
		}
	}
	if rest := b.after - b.n; rest > 0 && int64(len(buf)) > rest {
		buf = buf[:rest]
	}
	n, err := b.ReadCloser.Read(buf)
	b.n += int64(n)
	return n, err
}

// A pull killed with SIGKILL in the middle of a layer leaves the store
// usable, and the same pull then completes.
func TestStorePullKilled(t *testing.T) {
	reg := startRegistry(t)
	proxy, ref := stallHardPull(t, reg, "killed")
	env := storeEnv(t)
	// An image already in the store must survive the killed pull.
	other := reg.push(t, "busybox", "busybox")
	mustRunEnv(t, env, "pull", "-q", "--tls-verify=false", other)

	before := myProcesses(t)
	killWhenStalled(t, proxy, env, "pull", "--tls-verify=false", ref)
	checkNoLeftovers(t, before)

	if list := listImages(t, env); len(list) != 1 || list[0].Name != other+":latest" {
		t.Fatalf("after the killed pull the store should hold only %s: %+v", other, list)
	}
	mustRunEnv(t, env, "run", "--pull=never", other, "true")
	mustRunEnv(t, env, "pull", "-q", "--tls-verify=false", ref)
	if out := mustRunEnv(t, env, "run", "--pull=never", "--entrypoint", "/bin/sh", ref, "-c", "echo whole").stdout; out != "whole\n" {
		t.Errorf("run after the repeated pull printed %q", out)
	}
	dir := strings.TrimPrefix(env[0], "XDG_DATA_HOME=")
	if ents, _ := os.ReadDir(filepath.Join(dir, "urun", "images", "tmp")); len(ents) != 0 {
		t.Errorf("the killed pull's files are still there after the next pull")
	}
}

// The hard image pulled from the registry shows every owner, mode, link
// and whiteout as its layers say.
func TestStoreHardImageOwners(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(imagesDir, "hard", "expected.txt"))
	if err != nil {
		t.Fatal(err)
	}
	first, want, _ := strings.Cut(string(b), "\n")
	cmd, ok := strings.CutPrefix(first, "# cmd: ")
	if !ok {
		t.Fatalf("expected.txt has no command line: %q", first)
	}
	reg := startRegistry(t)
	ref := reg.push(t, "hard", "hard:1")
	env := storeEnv(t)
	r := mustRunEnv(t, env, "run", "--tls-verify=false", "--rootfs-tier", "native", "--user", "0:0", "--entrypoint", "/bin/sh", ref, "-c", cmd)
	if r.stdout != want {
		t.Errorf("tree differs from the image's layers:\n%s", diffLines(want, r.stdout))
	}
}

// snapshotTree lists every file under dir with its inode, size and
// change time: a copy, chown or rewrite changes a line.
func snapshotTree(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	n := 0
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		fmt.Fprintf(&b, "%s ino=%d size=%d ctime=%d.%d\n", p, st.Ino, st.Size, st.Ctim.Sec, st.Ctim.Nsec)
		n++
		return nil
	})
	if err != nil || n < 10 {
		t.Fatalf("walking the unpacked images in %s: %d files, %v", dir, n, err)
	}
	return b.String()
}

// --data-dir (and URUN_DATA_DIR, which it sets for urun's helpers and
// supervisors) moves the whole store: images, unpacked trees and kept
// containers' writable layers. The default store does not see it.
func TestDataDir(t *testing.T) {
	env := storeEnv(t)
	other := storeEnv(t) // its default data directory is the one moved to
	moved := filepath.Join(strings.TrimPrefix(other[0], "XDG_DATA_HOME="), "urun")
	before := myProcesses(t)

	mustRunEnv(t, env, "--data-dir", moved, "pull", "-q", busybox())
	if _, err := os.Stat(filepath.Join(moved, "images", "index.json")); err != nil {
		t.Fatalf("--data-dir: the store is not there: %v", err)
	}
	if list := listImages(t, env); len(list) != 0 {
		t.Errorf("the default store lists images pulled with --data-dir: %+v", list)
	}
	if list := listImages(t, other); len(list) != 1 {
		t.Errorf("the moved store: %+v", list)
	}
	img := "localhost/busybox:latest"
	if out := mustRunEnv(t, env, "--data-dir", moved, "run", "--pull=never", img, "echo", "moved").stdout; out != "moved\n" {
		t.Errorf("run from the moved store printed %q", out)
	}
	if out := mustRunEnv(t, append(env, "URUN_DATA_DIR="+moved), "run", "--pull=never", img, "echo", "env").stdout; out != "env\n" {
		t.Errorf("run with URUN_DATA_DIR printed %q", out)
	}
	// A kept container's writes live there too, across a restart by a
	// supervisor that got the directory from the environment.
	name := "datadir-keeper"
	urunEnv(t, env, "rm", "-f", name)
	mustRunEnv(t, env, "--data-dir", moved, "run", "-d", "--name", name, "--pull=never", img,
		"sh", "-c", "echo x >> /kept; sleep 300")
	t.Cleanup(func() { urunEnv(t, env, "--data-dir", moved, "rm", "-f", name) })
	waitFor(t, func() bool { return urunEnv(t, env, "exec", name, "cat", "/kept").code == 0 })
	ents, _ := os.ReadDir(filepath.Join(moved, "containers"))
	if len(ents) != 1 {
		t.Errorf("writable layers under the moved directory: %v", ents)
	}
	mustRunEnv(t, env, "--data-dir", moved, "restart", "-t", "1", name)
	waitFor(t, func() bool { return urunEnv(t, env, "exec", name, "cat", "/kept").stdout == "x\nx\n" })
	mustRunEnv(t, env, "--data-dir", moved, "rm", "-f", name)
	if ents, _ := os.ReadDir(filepath.Join(moved, "containers")); len(ents) != 0 {
		t.Errorf("rm left writable layers: %v", ents)
	}
	oneLine(t, urunEnv(t, append(env, "URUN_DATA_DIR=relative/dir"), "images"), "a relative URUN_DATA_DIR", "absolute")
	checkNoLeftovers(t, before)
}
