package engine

import (
	"io/fs"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// podman's entry for -u N without one in the image; none when it has one.
func TestUserEntries(t *testing.T) {
	files := map[string]string{"/etc/passwd": "root:x:0:0:root:/root:/bin/sh\n", "/etc/group": "root:x:0:\n"}
	read := func(p string) ([]byte, error) {
		if s, ok := files[p]; ok {
			return []byte(s), nil
		}
		return nil, fs.ErrNotExist
	}
	spec := &specs.Spec{Process: &specs.Process{Cwd: "/w", User: specs.User{UID: 1234, GID: 1234}}}
	got := UserEntries(spec, read, false)
	if want := files["/etc/passwd"] + "1234:*:1234:1234:container user:/w:/bin/sh\n"; string(got["passwd"]) != want {
		t.Errorf("passwd = %q, want %q", got["passwd"], want)
	}
	if want := files["/etc/group"] + "1234:x:1234:1234\n"; string(got["group"]) != want {
		t.Errorf("group = %q, want %q", got["group"], want)
	}
	spec.Process.User = specs.User{UID: 0}
	if got := UserEntries(spec, read, false); got != nil {
		t.Errorf("root: %v, want nothing added", got)
	}
}
