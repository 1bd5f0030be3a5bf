package integration

// Hostile images: each is written here as an OCI layout with one base
// layer (a static busybox) and one layer or config crafted to attack the
// unpacker or the spec builder. Each must be refused with one line, or
// unpacked harmlessly inside the store; the host file it aims at must be
// unchanged, and the store must still run images afterwards.

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

type tarEntry struct {
	name, linkname string
	typ            byte
	body           string
	major, minor   int64
}

func tarLayer(t *testing.T, entries []tarEntry) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Linkname: e.linkname, Typeflag: e.typ, Mode: 0o755,
			Size: int64(len(e.body)), Devmajor: e.major, Devminor: e.minor, Format: tar.FormatPAX}
		if e.typ != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if e.typ == tar.TypeReg {
			tw.Write([]byte(e.body))
		}
	}
	tw.Close()
	return b.Bytes()
}

func baseLayer(t *testing.T) []byte {
	t.Helper()
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatalf("busybox-static not installed: %v", err)
	}
	var es []tarEntry
	for _, d := range []string{"bin/", "etc/", "tmp/", "proc/", "sys/", "dev/"} {
		es = append(es, tarEntry{name: d, typ: tar.TypeDir})
	}
	es = append(es, tarEntry{name: "bin/busybox", typ: tar.TypeReg, body: string(bb)})
	for _, a := range []string{"sh", "cat", "ls", "true", "test"} {
		es = append(es, tarEntry{name: "bin/" + a, typ: tar.TypeSymlink, linkname: "busybox"})
	}
	return tarLayer(t, es)
}

type layout struct {
	layers [][]byte
	config []byte // nil: a minimal valid config
	// corrupt changes a blob after its digest was taken.
	corrupt func(blobs map[string][]byte, layerDigests []string)
	// replace swaps files of the written layout (blob paths by digest)
	// for what the attack needs: a symlink, a FIFO.
	replace func(t *testing.T, blobPath func(digest string) string, layerDigests []string, configDigest string)
}

func writeBlob(t *testing.T, dir string, blobs map[string][]byte, b []byte) string {
	d := fmt.Sprintf("sha256:%x", sha256.Sum256(b))
	blobs[d] = b
	return d
}

// writeLayout writes l as an OCI layout and returns its oci: reference.
func writeLayout(t *testing.T, l layout) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "image")
	blobs := map[string][]byte{}
	var layerDescs []map[string]any
	var diffIDs, layerDigests []string
	for _, b := range l.layers {
		d := writeBlob(t, dir, blobs, b)
		layerDigests = append(layerDigests, d)
		diffIDs = append(diffIDs, d)
		layerDescs = append(layerDescs, map[string]any{
			"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": d, "size": len(b)})
	}
	cfg := l.config
	if cfg == nil {
		cfg, _ = json.Marshal(map[string]any{
			"architecture": "amd64", "os": "linux",
			"config": map[string]any{"Cmd": []string{"/bin/true"}, "Env": []string{"PATH=/bin"}},
			"rootfs": map[string]any{"type": "layers", "diff_ids": diffIDs},
		})
	}
	cd := writeBlob(t, dir, blobs, cfg)
	man, _ := json.Marshal(map[string]any{
		"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
		"config": map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": len(cfg)},
		"layers": layerDescs,
	})
	md := writeBlob(t, dir, blobs, man)
	if l.corrupt != nil {
		l.corrupt(blobs, layerDigests)
	}
	os.MkdirAll(filepath.Join(dir, "blobs", "sha256"), 0o755)
	blobPath := func(d string) string { return filepath.Join(dir, "blobs", "sha256", strings.TrimPrefix(d, "sha256:")) }
	for d, b := range blobs {
		os.WriteFile(blobPath(d), b, 0o644)
	}
	if l.replace != nil {
		l.replace(t, blobPath, layerDigests, cd)
	}
	index, _ := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"manifests": []any{map[string]any{"mediaType": "application/vnd.oci.image.manifest.v1+json",
			"digest": md, "size": len(man), "annotations": map[string]string{"org.opencontainers.image.ref.name": "latest"}}},
	})
	os.WriteFile(filepath.Join(dir, "index.json"), index, 0o644)
	os.WriteFile(filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644)
	return "oci:" + dir
}

func dataDirOfUser() string {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "urun")
	}
	return filepath.Join(os.Getenv("HOME"), ".local", "share", "urun")
}

func TestHostileImages(t *testing.T) {
	victim := t.TempDir()
	keep := filepath.Join(victim, "keep")
	os.WriteFile(keep, []byte("host\n"), 0o644)
	rel := strings.Repeat("../", 30) + victim[1:]
	before := treeHash(t, victim)
	base := baseLayer(t)

	cases := []struct {
		name   string
		layout layout
		// refuse: the image must be refused (125, or 126 when execve
		// itself refuses, one line); otherwise
		// it may also run, harmlessly.
		refuse bool
	}{
		{"dotdot path", layout{layers: [][]byte{base, tarLayer(t, []tarEntry{
			{name: rel + "/pwned", typ: tar.TypeReg, body: "x"}})}}, false},
		{"absolute path", layout{layers: [][]byte{base, tarLayer(t, []tarEntry{
			{name: victim + "/pwned", typ: tar.TypeReg, body: "x"}})}}, false},
		{"absolute symlink written through", layout{layers: [][]byte{base, tarLayer(t, []tarEntry{
			{name: "out", typ: tar.TypeSymlink, linkname: victim},
			{name: "out/pwned", typ: tar.TypeReg, body: "x"}})}}, false},
		{"relative symlink written through", layout{layers: [][]byte{base, tarLayer(t, []tarEntry{
			{name: "up", typ: tar.TypeSymlink, linkname: rel},
			{name: "up/pwned", typ: tar.TypeReg, body: "x"}})}}, false},
		{"symlink in one layer, write in the next", layout{layers: [][]byte{base,
			tarLayer(t, []tarEntry{{name: "out2", typ: tar.TypeSymlink, linkname: victim}}),
			tarLayer(t, []tarEntry{{name: "out2/pwned", typ: tar.TypeReg, body: "x"}})}}, false},
		{"hard link to a host file", layout{layers: [][]byte{base, tarLayer(t, []tarEntry{
			{name: "hl", typ: tar.TypeLink, linkname: keep}})}}, false},
		{"hard link climbing out", layout{layers: [][]byte{base, tarLayer(t, []tarEntry{
			{name: "hl2", typ: tar.TypeLink, linkname: rel + "/keep"}})}}, false},
		{"device node", layout{layers: [][]byte{base, tarLayer(t, []tarEntry{
			{name: "dev/mem", typ: tar.TypeChar, major: 1, minor: 1}})}}, false},
		{"layer digest mismatch", layout{layers: [][]byte{base, tarLayer(t, []tarEntry{{name: "f", typ: tar.TypeReg, body: "good"}})},
			corrupt: func(blobs map[string][]byte, ld []string) {
				blobs[ld[1]] = bytes.Replace(blobs[ld[1]], []byte("good"), []byte("evil"), 1)
			}}, true},
		{"config digest mismatch", layout{layers: [][]byte{base},
			corrupt: func(blobs map[string][]byte, ld []string) {
				for d, b := range blobs {
					if bytes.Contains(b, []byte(`"diff_ids"`)) {
						blobs[d] = bytes.Replace(b, []byte("/bin/true"), []byte("/bin/evil"), 1)
					}
				}
			}}, true},
		{"config bad JSON", layout{layers: [][]byte{base}, config: []byte(`{"architecture":`)}, true},
		{"config huge", layout{layers: [][]byte{base}, config: []byte(`{"os":"linux","x":"` + strings.Repeat("a", 64<<20) + `"}`)}, true},
		{"config absurd user", layout{layers: [][]byte{base}, config: absurdConfig(t, map[string]any{"User": "99999999999:-1"})}, true},
		{"config absurd workdir", layout{layers: [][]byte{base}, config: absurdConfig(t, map[string]any{"WorkingDir": "../../../../tmp"})}, false},
		{"config huge env", layout{layers: [][]byte{base}, config: absurdConfig(t, map[string]any{"Env": hugeEnv()})}, true},
		{"config layer count lies", layout{layers: [][]byte{base}, config: []byte(`{"os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)}, true},
		// Blobs that are not regular files of the layout: each would
		// spin, block or read the host before the digest check.
		{"layer blob a symlink to /dev/zero", layout{layers: [][]byte{base, tinyLayer(t)},
			replace: func(t *testing.T, p func(string) string, ld []string, cd string) {
				replaceWithSymlink(t, p(ld[1]), "/dev/zero")
			}}, true},
		{"layer blob a symlink to a host file", layout{layers: [][]byte{base, tinyLayer(t)},
			replace: func(t *testing.T, p func(string) string, ld []string, cd string) {
				replaceWithSymlink(t, p(ld[1]), keep)
			}}, true},
		{"layer blob a FIFO", layout{layers: [][]byte{base, tinyLayer(t)},
			replace: func(t *testing.T, p func(string) string, ld []string, cd string) { replaceWithFIFO(t, p(ld[1])) }}, true},
		{"config blob a symlink to /dev/zero", layout{layers: [][]byte{base},
			replace: func(t *testing.T, p func(string) string, ld []string, cd string) {
				replaceWithSymlink(t, p(cd), "/dev/zero")
			}}, true},
		{"config blob a FIFO", layout{layers: [][]byte{base},
			replace: func(t *testing.T, p func(string) string, ld []string, cd string) { replaceWithFIFO(t, p(cd)) }}, true},
		// /proc, /sys or /dev as a link: the mount would land on the
		// link's target inside the rootfs.
		{"proc a symlink to /", layout{layers: [][]byte{base, tarLayer(t, []tarEntry{
			{name: "proc", typ: tar.TypeSymlink, linkname: "/"}})}}, true},
		{"sys a symlink to /etc", layout{layers: [][]byte{base, tarLayer(t, []tarEntry{
			{name: "sys", typ: tar.TypeSymlink, linkname: "etc"}})}}, true},
		{"dev a symlink to /tmp", layout{layers: [][]byte{base, tarLayer(t, []tarEntry{
			{name: "dev", typ: tar.TypeSymlink, linkname: "/tmp"}})}}, true},
		{"layer longer than its manifest says", layout{layers: [][]byte{base, tinyLayer(t)},
			replace: func(t *testing.T, p func(string) string, ld []string, cd string) {
				appendTo(t, p(ld[1]), make([]byte, 1<<20))
			}}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ref := writeLayout(t, c.layout)
			procs := myProcesses(t)
			r := urun(t, "run", ref, "sh", "-c", "ls / >/dev/null; test ! -c /dev/mem || echo device-node")
			switch {
			case r.code == 0 && !c.refuse:
				if strings.Contains(r.stdout, "device-node") {
					t.Errorf("a device node from the image reached the container")
				}
			case (r.code == 125 || r.code == 126) && len(lines(r.stderr)) == 1 && strings.HasPrefix(r.stderr, "urun: "):
				t.Logf("refused: %s", strings.TrimSpace(r.stderr))
			default:
				t.Errorf("want a clean refusal (125 or 126, one line)%s, got %s", map[bool]string{false: " or a harmless run"}[c.refuse], r)
			}
			checkNoLeftovers(t, procs)
			for _, pat := range []string{"*.partial", "*.lock"} {
				if ents, _ := filepath.Glob(filepath.Join(dataDirOfUser(), "rootfs", pat)); len(ents) != 0 {
					t.Errorf("left behind in the store: %v", ents)
				}
			}
			if after := treeHash(t, victim); after != before {
				t.Errorf("host directory changed:\n%s", after)
			}
			var st syscall.Stat_t
			if err := syscall.Stat(keep, &st); err != nil || st.Nlink != 1 {
				t.Errorf("host file gained a hard link (nlink %d, %v)", st.Nlink, err)
			}
		})
	}
	// Unpacks that failed left nothing half-made that a later run would use.
	if ents, _ := filepath.Glob(filepath.Join(dataDirOfUser(), "rootfs", "*.partial")); len(ents) != 0 {
		t.Errorf("half-unpacked layers left behind: %v", ents)
	}
	// The store still works.
	if r := mustRun(t, "run", busybox(), "echo", "still-works"); r.stdout != "still-works\n" {
		t.Errorf("store unusable after the hostile images: %s", r)
	}
}

func absurdConfig(t *testing.T, c map[string]any) []byte {
	b, _ := json.Marshal(map[string]any{
		"architecture": "amd64", "os": "linux", "config": c,
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{"sha256:" + strings.Repeat("0", 64)}},
	})
	return b
}

// hugeEnv is more environment than execve takes (ARG_MAX).
func hugeEnv() []string {
	var env []string
	for i := range 40000 {
		env = append(env, fmt.Sprintf("V%d=%s", i, strings.Repeat("x", 64)))
	}
	return env
}

func tinyLayer(t *testing.T) []byte {
	return tarLayer(t, []tarEntry{{name: "f", typ: tar.TypeReg, body: "x"}})
}

func replaceWithSymlink(t *testing.T, p, target string) {
	t.Helper()
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, p); err != nil {
		t.Fatal(err)
	}
}

func replaceWithFIFO(t *testing.T, p string) {
	t.Helper()
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(p, 0o644); err != nil {
		t.Fatal(err)
	}
}

func appendTo(t *testing.T, p string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
}
