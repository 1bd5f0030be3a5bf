package store

import (
	"testing"

	"go.podman.io/image/v5/docker/reference"
)

// NormalizeName must agree with image/v5's reference package, which
// urun-image uses to talk to registries.
func TestNormalizeNameMatchesReference(t *testing.T) {
	for _, in := range []string{
		"busybox", "busybox:1.36", "library/busybox", "docker.io/busybox", "index.docker.io/library/busybox:x",
		"user/repo", "user/repo:tag", "localhost/x", "localhost:5000/a/b/c:v1.2-rc_3",
		"127.0.0.1:5931/busybox:1", "quay.io/podman/stable", "[::1]:5000/x:y",
		"a/b@sha256:" + hex64(), "a:t@sha256:" + hex64(), "registry.example.com/x__y/z-w.v",
		"Upper/case", "busybox:", "/x", "x//y", "x:bad tag", "-x", "a/-b",
	} {
		got, err := NormalizeName(in)
		var want string
		named, rerr := reference.ParseNormalizedNamed(in)
		if rerr == nil {
			want = reference.TagNameOnly(named).String()
		}
		if (err == nil) != (rerr == nil) || got != want {
			t.Errorf("NormalizeName(%q) = %q, %v; reference says %q, %v", in, got, err, want, rerr)
		}
	}
}
