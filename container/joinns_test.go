package container

import (
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestJoinedUser(t *testing.T) {
	spec := func(path string) *specs.Spec {
		return &specs.Spec{Linux: &specs.Linux{Namespaces: []specs.LinuxNamespace{
			{Type: specs.PIDNamespace, Path: "/proc/9/ns/pid"}, {Type: specs.UserNamespace, Path: path}}}}
	}
	if pid, err := joinedUser(spec("/proc/123/ns/user")); err != nil || pid != 123 {
		t.Errorf("/proc/123/ns/user: %d, %v", pid, err)
	}
	if pid, err := joinedUser(spec("")); err != nil || pid != 0 {
		t.Errorf("a new user namespace: %d, %v", pid, err)
	}
	if pid, err := joinedUser(&specs.Spec{}); err != nil || pid != 0 {
		t.Errorf("no linux section: %d, %v", pid, err)
	}
	for _, bad := range []string{"/run/netns/x", "/proc/self/ns/user", "/proc/0/ns/user", "/proc/12/ns/net", "/proc/12/ns/user/x"} {
		if _, err := joinedUser(spec(bad)); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

func TestCloneFlagsSkipJoined(t *testing.T) {
	s := &specs.Spec{Linux: &specs.Linux{Namespaces: []specs.LinuxNamespace{
		{Type: specs.MountNamespace}, {Type: specs.PIDNamespace, Path: "/proc/9/ns/pid"}, {Type: specs.IPCNamespace, Path: "/proc/9/ns/ipc"},
		{Type: specs.UTSNamespace}, {Type: specs.NetworkNamespace}, {Type: specs.UserNamespace, Path: "/proc/9/ns/user"}}}}
	const want = 0x00020000 | 0x04000000 | 0x40000000 // CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWNET
	if got := cloneFlags(s); got != want {
		t.Errorf("cloneFlags = %#x, want %#x", got, want)
	}
}
