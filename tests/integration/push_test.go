package integration

import (
	"os/exec"
	"strings"
	"testing"
)

// urun push sends a local image to the loopback registry; another store
// pulls it back with the same digest and runs it. Bad destinations, a
// missing image, a plain-HTTP registry without --tls-verify=false and a
// registry that wants a login each get one line and exit 125.
func TestPushPullRoundTrip(t *testing.T) {
	reg := startRegistry(t)
	env := storeEnv(t)
	mustRunEnv(t, env, "pull", "-q", busybox())
	local := "localhost/busybox:latest"
	dest := reg.addr + "/pushed/busybox:1"

	if l := layerBlobs(t, env); len(l) != 0 {
		t.Fatalf("layer blobs after the pull: %v (the layer store holds them)", l)
	}
	// The layer comes from the layer store, compressed again.
	r := mustRunEnv(t, env, "push", "--tls-verify=false", local, dest)
	digest := strings.TrimSpace(r.stdout)
	if !strings.HasPrefix(digest, "sha256:") || !strings.Contains(r.stderr, "Copying blob") {
		t.Fatalf("push: %s", r)
	}
	// The registry serves it (skopeo asks, not urun).
	out, err := exec.Command("skopeo", "inspect", "--tls-verify=false", "--format", "{{.Digest}}", "docker://"+dest).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != digest {
		t.Errorf("skopeo inspect of the pushed image: %v: %s, push printed %s", err, out, digest)
	}
	other := storeEnv(t)
	if got := strings.TrimSpace(mustRunEnv(t, other, "pull", "-q", "--tls-verify=false", dest).stdout); got != digest {
		t.Errorf("pulled digest %s, pushed %s", got, digest)
	}
	if out := mustRunEnv(t, other, "run", "--pull=never", dest, "echo", "pushed").stdout; out != "pushed\n" {
		t.Errorf("run of the pushed image printed %q", out)
	}
	// The same content: diff ids and files as the original.
	if a, b := diffIDs(t, env, local), diffIDs(t, other, dest); a != b {
		t.Errorf("diff ids: pushed image %s, original %s", b, a)
	}
	sum := "find /bin -type f -exec md5sum {} + | sort | md5sum"
	if a, b := mustRunEnv(t, env, "run", "--pull=never", local, "sh", "-c", sum).stdout, mustRunEnv(t, other, "run", "--pull=never", dest, "sh", "-c", sum).stdout; a != b {
		t.Errorf("files of the pushed image differ from the original's: %s vs %s", b, a)
	}

	// Again, with the transport spelled out: the same manifest.
	r = mustRunEnv(t, env, "push", "--tls-verify=false", local, "docker://"+dest)
	if strings.TrimSpace(r.stdout) != digest {
		t.Errorf("second push: %s", r)
	}

	oneLine(t, urunEnv(t, env, "push", "-q", local, dest), "push to plain HTTP", "--tls-verify=false")
	oneLine(t, urunEnv(t, env, "push", "-q", "--tls-verify=false", "localhost/nosuch:1", dest), "push of a missing image", "nosuch")
	oneLine(t, urunEnv(t, env, "push", "-q", "--tls-verify=false", local, "oci:/tmp/x"), "push to a layout", "urun save")
	oneLine(t, urunEnv(t, env, "push", "-q", "--tls-verify=false", local, reg.addr+"/x@sha256:"+strings.Repeat("a", 64)), "push to a digest", "give a tag")

	auth := startAuthRegistry(t)
	home, _ := privateHome(t)
	mustRunEnv(t, home, "pull", "-q", busybox())
	oneLine(t, urunEnv(t, home, "push", "-q", "--tls-verify=false", local, auth.addr+"/team/app:1"), "push without credentials", "urun login "+auth.addr)
	if r := loginWith(t, home, testPassword, auth.addr); r.code != 0 {
		t.Fatalf("login: %s", r)
	}
	mustRunEnv(t, home, "push", "-q", "--tls-verify=false", local, auth.addr+"/team/app:1")
}
