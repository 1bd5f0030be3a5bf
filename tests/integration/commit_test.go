package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// commit: a container's writable layer as a new image on its image's
// layers, in urun's store and the layer store (docs/STORE.md).

var commitID = regexp.MustCompile(`^sha256:[0-9a-f]{64}\n$`)

// changeScript writes a file, deletes one of the image's, chowns a
// file to 1000, replaces a directory of the image (opaque) and writes
// into root's 0700 home.
const changeScript = `echo hi > /f && rm /etc/group && mkdir /d && echo o > /d/o && chown 1000:1000 /d/o && rm -rf /home && mkdir /home && echo n > /home/new && echo s > /root/secret`

// checkCommitted runs the committed image img and checks the changes.
func checkCommitted(t *testing.T, env []string, img string) {
	t.Helper()
	r := mustRunEnv(t, env, "run", "--rm", "--pull=never", img, "sh", "-c",
		`cat /f; test -e /etc/group || echo group-gone; stat -c %u:%g /d/o; ls /home; cat /root/secret; test -e /etc/passwd && echo passwd-kept`)
	want := "hi\ngroup-gone\n1000:1000\nnew\ns\npasswd-kept\n"
	if r.stdout != want {
		t.Errorf("run of the committed image %s:\n%s", img, diffLines(want, r.stdout))
	}
}

func TestCommit(t *testing.T) {
	env := storeEnv(t)
	graph := layerGraph(env)
	mustRunEnv(t, env, "pull", "-q", busybox())
	base := storedLayers(t, graph)
	name := uniqueName(t, "c")

	// Running.
	id := strings.TrimSpace(mustRunEnv(t, env, "run", "-d", "--name", name, "--pull=never", "-e", "RUNENV=1", "localhost/busybox:latest", "sleep", "300").stdout)
	defer urunEnv(t, env, "rm", "-f", id)
	mustRunEnv(t, env, "exec", name, "sh", "-c", changeScript)
	r := mustRunEnv(t, env, "commit", "-a", "Ann <ann@example.com>", "-m", "first", "-c", `CMD ["cat", "/f"]`, "--change", "ENV A=b", "-c", "LABEL team=ci", name, "committed:v1")
	if !commitID.MatchString(r.stdout) {
		t.Fatalf("commit printed %q, want sha256:ID", r.stdout)
	}
	imgID := strings.TrimPrefix(strings.TrimSpace(r.stdout), "sha256:")
	checkCommitted(t, env, "committed:v1")
	if r := mustRunEnv(t, env, "run", "--rm", "--pull=never", "committed:v1"); r.stdout != "hi\n" {
		t.Errorf("the committed image's CMD (--change): %s", r)
	}
	r = mustRunEnv(t, env, "run", "--rm", "--pull=never", "committed:v1", "sh", "-c", `echo $A $RUNENV; test -n "$HOSTNAME" && echo host`)
	if r.stdout != "b 1\nhost\n" {
		t.Errorf("the committed image's env (ENV change, the container's -e): %s", r)
	}
	r = mustRunEnv(t, env, "inspect", "-f", `{{.Author}} {{index .Config.Labels "team"}} {{len .RootFS.Layers}}`, "committed:v1")
	if r.stdout != "Ann <ann@example.com> ci 2\n" {
		t.Errorf("inspect of the committed image: %s", r)
	}
	// The parent's layer is shared, the new one is the only one added.
	after := storedLayers(t, graph)
	if len(after) != len(base)+1 || !slices.Contains(after, base[0]) {
		t.Errorf("layers after commit: %v, before %v (want the base shared and one new)", after, base)
	}
	r = mustRunEnv(t, env, "images", "--format", "{{.ID}} {{.Repository}}:{{.Tag}}")
	if !strings.Contains(r.stdout, imgID[:12]+" localhost/committed:v1\n") {
		t.Errorf("images does not list the committed image %.12s: %s", imgID, r.stdout)
	}
	r = mustRunEnv(t, env, "--debug", "run", "--rm", "--pull=never", "committed:v1", "true")
	if !strings.Contains(r.stderr, "layer store") || !strings.Contains(r.stderr, "2 layers") {
		t.Errorf("the committed image did not run from the layer store: %s", r.stderr)
	}
	// The runtime's mount points (/etc/hosts…) are not the container's
	// changes: the new layer's /etc holds only the whiteout of group.
	for _, l := range after {
		if slices.Contains(base, l) {
			continue
		}
		ents, err := os.ReadDir(filepath.Join(graph, "overlay", l, "diff", "etc"))
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		if err != nil || !slices.Equal(names, []string{"group"}) {
			t.Errorf("the committed layer's /etc: %v %v, want only group's whiteout", names, err)
		}
	}
	checkLayerStore(t, env, "commit")

	// save of the committed image: its three blobs and the parent's.
	tar := filepath.Join(t.TempDir(), "c.tar")
	mustRunEnv(t, env, "save", "-o", tar, "committed:v1")
	out, err := exec.Command("tar", "-tf", tar).Output()
	if err != nil || !strings.Contains(string(out), "manifest.json") {
		t.Errorf("save of the committed image: %v\n%s", err, out)
	}

	// Stopped, with --format docker.
	mustRunEnv(t, env, "stop", "-t", "0", name)
	r = mustRunEnv(t, env, "commit", "--format", "docker", "-c", `ENTRYPOINT ["echo", "ep"]`, name, "committed:stopped")
	if !commitID.MatchString(r.stdout) {
		t.Fatalf("commit of a stopped container printed %q", r.stdout)
	}
	r = mustRunEnv(t, env, "run", "--rm", "--pull=never", "--entrypoint", "", "committed:stopped", "sh", "-c", `cat /f; test -e /etc/group || echo group-gone; stat -c %u:%g /d/o; ls /home; cat /root/secret`)
	if r.stdout != "hi\ngroup-gone\n1000:1000\nnew\ns\n" {
		t.Errorf("run of the image committed from a stopped container: %s", r)
	}
	// ENTRYPOINT (--change) drops the container's command, as a Dockerfile's does.
	if r := mustRunEnv(t, env, "run", "--rm", "--pull=never", "committed:stopped"); r.stdout != "ep\n" {
		t.Errorf("the ENTRYPOINT change: %s", r)
	}

	// rmi of a committed image frees its own layer only.
	mustRunEnv(t, env, "rm", "-f", id)
	mustRunEnv(t, env, "rmi", "committed:stopped")
	if got := storedLayers(t, graph); len(got) != len(base)+1 {
		t.Errorf("layers after rmi of one committed image: %v, want the base and the other's", got)
	}
	mustRunEnv(t, env, "run", "--rm", "--pull=never", "localhost/busybox:latest", "true")
	// rmi of the parent keeps the layers (and blobs) the committed
	// image stands on.
	mustRunEnv(t, env, "rmi", "localhost/busybox:latest")
	checkCommitted(t, env, "committed:v1")
	mustRunEnv(t, env, "save", "-o", tar, "committed:v1")
	mustRunEnv(t, env, "rmi", "committed:v1")
	if got := storedLayers(t, graph); len(got) != 0 {
		t.Errorf("layers after rmi of every image: %v", got)
	}
	if got := storeBlobs(t, env); len(got) != 0 {
		t.Errorf("blobs after rmi of every image: %v", got)
	}
}

// commit without a name makes an unnamed image (docker's <none>), known
// by its id: images lists it, run takes its id, tag names it (the <none>
// entry goes), image prune removes the unnamed ones.
func TestCommitUnnamed(t *testing.T) {
	env := storeEnv(t)
	graph := layerGraph(env)
	mustRunEnv(t, env, "pull", "-q", busybox())
	base := storedLayers(t, graph)
	name := uniqueName(t, "unnamed")
	mustRunEnv(t, env, "run", "--rm=false", "--name", name, "--pull=never", "localhost/busybox:latest", "sh", "-c", changeScript)
	defer urunEnv(t, env, "rm", "-f", name)
	r := mustRunEnv(t, env, "commit", name)
	if !commitID.MatchString(r.stdout) {
		t.Fatalf("commit without a name printed %q", r.stdout)
	}
	id := strings.TrimSpace(r.stdout)
	hex := strings.TrimPrefix(id, "sha256:")
	checkCommitted(t, env, id)
	checkCommitted(t, env, hex[:12])
	r = mustRunEnv(t, env, "images", "--format", "{{.Repository}} {{.Tag}} {{.ID}}")
	if !strings.Contains(r.stdout, "<none> <none> "+hex[:12]+"\n") {
		t.Errorf("images does not list the unnamed image: %s", r.stdout)
	}
	if r := mustRunEnv(t, env, "images", "-q", "--filter", "dangling=true"); r.stdout != hex[:12]+"\n" {
		t.Errorf("images --filter dangling=true: %q", r.stdout)
	}
	// A second unnamed image is a second entry, not a replacement.
	second := strings.TrimSpace(mustRunEnv(t, env, "commit", "-c", "ENV X=2", name).stdout)
	if r := mustRunEnv(t, env, "images", "-q", "--filter", "dangling=true"); len(lines(r.stdout)) != 2 {
		t.Errorf("two unnamed images listed as %q", r.stdout)
	}
	mustRunEnv(t, env, "tag", hex[:12], "named:1")
	if r := mustRunEnv(t, env, "images", "-q", "--filter", "dangling=true"); strings.TrimSpace(r.stdout) != strings.TrimPrefix(second, "sha256:")[:12] {
		t.Errorf("after tag, the unnamed images are %q, want only the second", r.stdout)
	}
	mustRunEnv(t, env, "rmi", "named:1")
	if r := mustRunEnv(t, env, "image", "prune", "-f"); strings.TrimSpace(r.stdout) != strings.TrimPrefix(second, "sha256:") {
		t.Errorf("image prune of the unnamed image printed %q", r.stdout)
	}
	if r := mustRunEnv(t, env, "images", "-q"); len(lines(r.stdout)) != 1 {
		t.Errorf("images after prune: %q, want busybox only", r.stdout)
	}
	if got := storedLayers(t, graph); !slices.Equal(got, base) {
		t.Errorf("layers after rmi and prune of the committed images: %v, want %v", got, base)
	}
	checkLayerStore(t, env, "commit without a name, tag, rmi, prune")
}

// A committed image's CMD is the container's command, as docker's.
func TestCommitKeepsCommand(t *testing.T) {
	env := storeEnv(t)
	mustRunEnv(t, env, "pull", "-q", busybox())
	name := uniqueName(t, "cmd")
	mustRunEnv(t, env, "run", "--rm=false", "--name", name, "--pull=never", "-w", "/tmp", "localhost/busybox:latest", "sh", "-c", "pwd > /where; cat /where")
	defer urunEnv(t, env, "rm", "-f", name)
	mustRunEnv(t, env, "commit", name, "kept:cmd")
	r := mustRunEnv(t, env, "run", "--rm", "--pull=never", "kept:cmd")
	if r.stdout != "/tmp\n" {
		t.Errorf("the committed image's command and working directory: %s", r)
	}
	// -u: the image runs as the container's user, unless --change says.
	user := uniqueName(t, "user")
	mustRunEnv(t, env, "run", "--rm=false", "--name", user, "-u", "1000:1000", "--pull=never", "localhost/busybox:latest", "true")
	defer urunEnv(t, env, "rm", "-f", user)
	mustRunEnv(t, env, "commit", user, "kept:user")
	mustRunEnv(t, env, "commit", "-c", "USER 0", user, "kept:root")
	if r := mustRunEnv(t, env, "run", "--rm", "--pull=never", "kept:user", "id", "-u"); r.stdout != "1000\n" {
		t.Errorf("the user of an image committed from a -u 1000 container: %s", r)
	}
	if r := mustRunEnv(t, env, "run", "--rm", "--pull=never", "kept:root", "id", "-u"); r.stdout != "0\n" {
		t.Errorf("USER 0 (--change): %s", r)
	}
	// -u NAME: the image's USER is the name as typed, as docker keeps it
	// (not the numbers it resolved to), and so is the container's
	// .Config.User; a container without -u shows the image's (none).
	named := uniqueName(t, "named")
	mustRunEnv(t, env, "run", "--rm=false", "--name", named, "-u", "nobody", "--pull=never", "localhost/busybox:latest", "true")
	defer urunEnv(t, env, "rm", "-f", named)
	if r := mustRunEnv(t, env, "inspect", "-f", "[{{.Config.User}}]", named, name); r.stdout != "[nobody]\n[]\n" {
		t.Errorf("inspect .Config.User of a -u nobody and a default container: %s, want [nobody] and []", r)
	}
	mustRunEnv(t, env, "commit", named, "kept:named")
	if r := mustRunEnv(t, env, "image", "inspect", "-f", "{{.Config.User}}", "kept:named"); r.stdout != "nobody\n" {
		t.Errorf("the User of an image committed from a -u nobody container: %s, want nobody", r)
	}
	if r := mustRunEnv(t, env, "run", "--rm", "--pull=never", "kept:named", "id", "-un"); r.stdout != "nobody\n" {
		t.Errorf("a container of the image committed from -u nobody: %s", r)
	}
}

// Every overlay tier's writable layer commits the same (fuse-overlayfs
// writes whiteouts its own way); the copy tier's, a whole copy of the
// image, is refused with the reason.
func TestCommitTiers(t *testing.T) {
	env := storeEnv(t)
	mustRunEnv(t, env, "pull", "-q", busybox())
	for _, tier := range []string{"native", "fuse"} {
		name := uniqueName(t, tier)
		mustRunEnv(t, env, "run", "-d", "--name", name, "--rootfs-tier", tier, "--pull=never", "localhost/busybox:latest", "sleep", "300")
		mustRunEnv(t, env, "exec", name, "sh", "-c", changeScript)
		mustRunEnv(t, env, "commit", name, "tier:"+tier)
		urunEnv(t, env, "rm", "-f", name)
		checkCommitted(t, env, "tier:"+tier)
	}
	name := uniqueName(t, "copy")
	mustRunEnv(t, env, "run", "-d", "--name", name, "--rootfs-tier", "copy", "--pull=never", "localhost/busybox:latest", "sleep", "300")
	defer urunEnv(t, env, "rm", "-f", name)
	r := urunEnv(t, env, "commit", name, "tier:copy")
	if r.code != 125 || len(lines(r.stderr)) != 1 || !strings.Contains(r.stderr, "copy tier") {
		t.Errorf("commit of a copy-tier container: want exit 125 and the reason, got %s", r)
	}
}

// A --userns=keep-id container's files carry the container's ids in the
// committed layer (mapped back out of its mapping, not the store's).
func TestCommitKeepID(t *testing.T) {
	env := storeEnv(t)
	mustRunEnv(t, env, "pull", "-q", busybox())
	name := uniqueName(t, "keepid")
	mustRunEnv(t, env, "run", "--rm=false", "--name", name, "--userns=keep-id", "--pull=never", "localhost/busybox:latest", "sh", "-c", "id -u > /tmp/me; touch /tmp/mine")
	defer urunEnv(t, env, "rm", "-f", name)
	mustRunEnv(t, env, "commit", name, "keepid:1")
	r := mustRunEnv(t, env, "run", "--rm", "--pull=never", "keepid:1", "sh", "-c", `test "$(stat -c %u /tmp/mine)" = "$(cat /tmp/me)" && echo same`)
	if r.stdout != "same\n" || strings.TrimSpace(mustRunEnv(t, env, "run", "--rm", "--pull=never", "keepid:1", "cat", "/tmp/me").stdout) != strconv.Itoa(os.Getuid()) {
		t.Errorf("owner of a keep-id container's file in the committed image: %s", r)
	}
}

// The container's health check (--health-cmd) is the committed image's
// HEALTHCHECK, which its containers run; --no-healthcheck commits NONE.
func TestCommitHealthcheck(t *testing.T) {
	env := storeEnv(t)
	mustRunEnv(t, env, "pull", "-q", busybox())
	name := uniqueName(t, "health")
	mustRunEnv(t, env, "run", "-d", "--name", name, "--health-cmd", "test -e /ok", "--health-interval", "1h", "--pull=never", "localhost/busybox:latest", "sleep", "300")
	defer urunEnv(t, env, "rm", "-f", name)
	mustRunEnv(t, env, "exec", name, "touch", "/ok")
	mustRunEnv(t, env, "commit", name, "health:1")
	r := mustRunEnv(t, env, "inspect", "-f", "{{json .Config.Healthcheck}}", "health:1")
	if !strings.Contains(r.stdout, `"Test":["CMD-SHELL","test -e /ok"]`) || !strings.Contains(r.stdout, `"Interval":3600000000000`) {
		t.Errorf("the committed image's HEALTHCHECK: %s", r)
	}
	c := strings.TrimSpace(mustRunEnv(t, env, "run", "-d", "--pull=never", "health:1", "sleep", "300").stdout)
	defer urunEnv(t, env, "rm", "-f", c)
	if r := urunEnv(t, env, "healthcheck", "run", c); r.code != 0 {
		t.Errorf("the committed HEALTHCHECK in a container of the image: %s", r)
	}
	off := uniqueName(t, "nohealth")
	mustRunEnv(t, env, "run", "--rm=false", "--name", off, "--no-healthcheck", "--pull=never", "health:1", "true")
	defer urunEnv(t, env, "rm", "-f", off)
	mustRunEnv(t, env, "commit", off, "health:none")
	if r := mustRunEnv(t, env, "inspect", "-f", "{{json .Config.Healthcheck}}", "health:none"); !strings.Contains(r.stdout, `"Test":["NONE"]`) {
		t.Errorf("commit of a --no-healthcheck container: %s", r)
	}
}

// podman reads a committed image from urun's layer store.
func TestCommitPodmanReads(t *testing.T) {
	if _, err := exec.LookPath("podman"); err != nil {
		t.Fatal("podman is not installed: tests/harness/lib.sh installs it")
	}
	env := storeEnv(t)
	graph := layerGraph(env)
	mustRunEnv(t, env, "pull", "-q", busybox())
	name := uniqueName(t, "pc")
	mustRunEnv(t, env, "run", "--rm=false", "--name", name, "--pull=never", "localhost/busybox:latest", "sh", "-c", changeScript)
	defer urunEnv(t, env, "rm", "-f", name)
	mustRunEnv(t, env, "commit", name, "forpodman:1")
	run := t.TempDir()
	cmd := exec.Command("podman", "--root", graph, "--runroot", run, "--storage-driver", "overlay", "--runtime", "runc", "--cgroup-manager", "cgroupfs", "--events-backend", "none",
		"run", "--rm", "--network", "none", "localhost/forpodman:1", "sh", "-c", "cat /f; test -e /etc/group || echo gone; stat -c %u /d/o; ls /home")
	out, err := cmd.Output()
	if ee, ok := err.(*exec.ExitError); ok {
		err = &podmanError{err, string(ee.Stderr)}
	}
	if err != nil || string(out) != "hi\ngone\n1000\nnew\n" {
		t.Errorf("podman run of the committed image from urun's store: %v\n%s", err, out)
	}
}

// Bad input: one line, exit 125, nothing left in either store.
func TestCommitBadInput(t *testing.T) {
	env := storeEnv(t)
	graph := layerGraph(env)
	mustRunEnv(t, env, "pull", "-q", busybox())
	name := uniqueName(t, "bad")
	mustRunEnv(t, env, "run", "--rm=false", "--name", name, "--pull=never", "localhost/busybox:latest", "sh", "-c", "echo x > /x")
	defer urunEnv(t, env, "rm", "-f", name)
	blobs, layers := storeBlobs(t, env), storedLayers(t, graph)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"commit", "nosuchcontainer", "x:1"}, "nosuchcontainer"},
		{[]string{"commit", "-c", "FROB x", name, "x:1"}, "unknown instruction FROB"},
		{[]string{"commit", "-c", `CMD ["a",]`, name, "x:1"}, "JSON"},
		{[]string{"commit", "-c", "EXPOSE 99999", name, "x:1"}, "port"},
		{[]string{"commit", name, "Bad Name!"}, "Bad Name!"},
		{[]string{"commit", name, "x:1", "extra"}, "REPO[:TAG]"},
		{[]string{"commit", "--format", "zip", name, "x:1"}, "oci or docker"},
	} {
		r := urunEnv(t, env, c.args...)
		if r.code != 125 || len(lines(r.stderr)) != 1 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("urun %s: want exit 125 and one line naming %q, got %s", strings.Join(c.args, " "), c.want, r)
		}
	}
	if got := storeBlobs(t, env); !slices.Equal(got, blobs) {
		t.Errorf("blobs after refused commits: %v, before %v", got, blobs)
	}
	if got := storedLayers(t, graph); !slices.Equal(got, layers) {
		t.Errorf("layers after refused commits: %v, before %v", got, layers)
	}
	if _, err := os.Stat(filepath.Join(strings.TrimPrefix(env[0], "XDG_DATA_HOME="), "urun", "images", "tmp")); err == nil {
		ents, _ := os.ReadDir(filepath.Join(strings.TrimPrefix(env[0], "XDG_DATA_HOME="), "urun", "images", "tmp"))
		if len(ents) > 0 {
			t.Errorf("refused commits left files in the store's tmp: %v", ents)
		}
	}
	checkLayerStore(t, env, "refused commits")
}

// kill -9 of urun while its helper commits: containers/storage's check
// passes, the next commit succeeds, and rmi of it leaves the base's
// layer only (and no blob of the killed commit).
func TestCommitKilled(t *testing.T) {
	env := storeEnv(t)
	graph := layerGraph(env)
	mustRunEnv(t, env, "pull", "-q", busybox())
	blobs := storeBlobs(t, env)
	name := uniqueName(t, "killed")
	mustRunEnv(t, env, "run", "--rm=false", "--name", name, "--pull=never", "localhost/busybox:latest", "sh", "-c", "head -c 8388608 /dev/urandom > /big; echo k > /k")
	defer urunEnv(t, env, "rm", "-f", name)
	hit := 0
	for _, delay := range killDelays {
		before := myProcesses(t)
		if killDuringHelper(t, env, delay, "commit", name, "killed:1") {
			hit++
		}
		checkNoLeftovers(t, before)
		checkLayerStore(t, env, "a killed commit")
		mustRunEnv(t, env, "commit", name, "killed:1")
		if r := mustRunEnv(t, env, "run", "--rm", "--pull=never", "killed:1", "sh", "-c", "cat /k; wc -c < /big"); r.stdout != "k\n8388608\n" {
			t.Errorf("delay %v: the image committed after a killed commit: %s", delay, r)
		}
		mustRunEnv(t, env, "rmi", "killed:1")
		checkLayerStore(t, env, "the next commit and rmi")
		if n := len(storedLayers(t, graph)); n != 1 {
			t.Errorf("delay %v: %d layers after rmi of the commit, want busybox's only", delay, n)
		}
		if got := storeBlobs(t, env); !slices.Equal(got, blobs) {
			t.Errorf("delay %v: blobs after rmi of the commit: %v, want %v", delay, got, blobs)
		}
	}
	t.Logf("%d of %d kills landed while the commit ran", hit, len(killDelays))
	if hit == 0 {
		t.Fatal("no kill landed while commit's layer store helper ran")
	}
}

// A committed image (both formats) pushes to the loopback registry;
// another store pulls it back with the same diff ids and runs it.
func TestCommitPush(t *testing.T) {
	reg := startRegistry(t)
	env := storeEnv(t)
	mustRunEnv(t, env, "pull", "-q", busybox())
	name := uniqueName(t, "push")
	mustRunEnv(t, env, "run", "--rm=false", "--name", name, "--pull=never", "localhost/busybox:latest", "sh", "-c", changeScript)
	defer urunEnv(t, env, "rm", "-f", name)
	for _, format := range []string{"oci", "docker"} {
		id := strings.TrimSpace(mustRunEnv(t, env, "commit", "--format", format, name, "topush:"+format).stdout)
		dest := reg.addr + "/committed/" + format + ":1"
		if !strings.HasPrefix(id, "sha256:") {
			t.Fatalf("%s: commit printed %q", format, id)
		}
		if l := layerBlobs(t, env); len(l) != 0 {
			t.Errorf("%s: layer blobs after the commit: %v (the layer store holds them)", format, l)
		}
		// The layers come from the layer store, compressed again, as
		// podman push does: the manifest digest is the registry's.
		pushed := strings.TrimSpace(mustRunEnv(t, env, "push", "-q", "--tls-verify=false", "topush:"+format, dest).stdout)
		other := storeEnv(t)
		if got := strings.TrimSpace(mustRunEnv(t, other, "pull", "-q", "--tls-verify=false", dest).stdout); got != pushed {
			t.Errorf("%s: pulled digest %s, pushed %s", format, got, pushed)
		}
		if a, b := diffIDs(t, env, "topush:"+format), diffIDs(t, other, dest); a != b {
			t.Errorf("%s: diff ids of the pushed image %s, committed %s", format, b, a)
		}
		checkCommitted(t, other, dest)
	}
}
