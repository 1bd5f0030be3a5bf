package container

import (
	"strings"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func TestPlanMounts(t *testing.T) {
	spec := &specs.Spec{
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "mode=755"}},
			{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"ro"}},
			{Destination: "/data/../data/", Type: "bind", Source: "/home/u/data", Options: []string{"rbind", "ro"}},
		},
		Linux: &specs.Linux{Devices: []specs.LinuxDevice{{Path: "/dev/null", Type: "c", Major: 1, Minor: 3}}},
	}
	ops, err := planMounts(spec)
	if err != nil {
		t.Fatal(err)
	}
	kinds := []opKind{opMount, opMount, opCgroup, opMount, opDevice, opSymlink, opSymlink, opSymlink, opSymlink, opSymlink}
	if len(ops) != len(kinds) {
		t.Fatalf("got %d ops, want %d: %+v", len(ops), len(kinds), ops)
	}
	for i, k := range kinds {
		if ops[i].Kind != k {
			t.Errorf("op %d: kind %d, want %d", i, ops[i].Kind, k)
		}
	}
	if ops[0].Flags != syscall.MS_NOSUID|syscall.MS_NOEXEC|syscall.MS_NODEV {
		t.Errorf("proc flags = %#x", ops[0].Flags)
	}
	if ops[1].Data != "mode=755" {
		t.Errorf("dev data = %q", ops[1].Data)
	}
	if b := ops[3]; !b.Bind || !b.Recursive || b.Target != "/data" || b.Flags&syscall.MS_RDONLY == 0 {
		t.Errorf("bind op = %+v", b)
	}
	if ops[9].Target != "/dev/ptmx" || ops[9].Source != "pts/ptmx" {
		t.Errorf("ptmx link = %+v", ops[9])
	}
}

func TestPlanMountsRefuses(t *testing.T) {
	for _, m := range []specs.Mount{
		{Destination: "relative", Type: "tmpfs"},
		{Destination: "/", Type: "tmpfs"},
		{Destination: "/../", Type: "tmpfs"},
		{Destination: "/x", Type: "bind", Source: "relative/src"},
	} {
		if _, err := planMounts(&specs.Spec{Mounts: []specs.Mount{m}}); err == nil {
			t.Errorf("planMounts(%+v) succeeded, want an error", m)
		}
	}
	_, err := planMounts(&specs.Spec{Linux: &specs.Linux{Devices: []specs.LinuxDevice{{Path: "/etc/passwd"}}}})
	if err == nil {
		t.Error("a device outside /dev was accepted")
	}
}

func TestProcMountRefused(t *testing.T) {
	for _, m := range []specs.Mount{
		{Destination: "/proc", Type: "bind", Source: "/tmp", Options: []string{"rbind"}},
		{Destination: "/proc/", Type: "tmpfs", Source: "tmpfs"},
		{Destination: "/proc", Type: "bind", Source: "/proc/self", Options: []string{"rbind"}},
	} {
		err := checkProcMount(m)
		if err == nil || !strings.Contains(err.Error(), "only a proc filesystem") {
			t.Errorf("checkProcMount(%+v) = %v, want a refusal", m, err)
		}
		if _, err := planMounts(&specs.Spec{Mounts: []specs.Mount{m}}); err == nil {
			t.Errorf("planMounts accepted %+v", m)
		}
	}
	for _, m := range []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc"},
		{Destination: "/proc", Type: "bind", Source: "/proc", Options: []string{"rbind"}},
		{Destination: "/proc/cpuinfo", Type: "bind", Source: "/tmp"},
	} {
		if err := checkProcMount(m); err != nil {
			t.Errorf("checkProcMount(%+v) = %v, want nil", m, err)
		}
	}
}

// A read-only tmpfs is mounted writable and remounted read-only after
// everything else, so mount points under it can still be made.
func TestPlanReadonlyTmpfsLast(t *testing.T) {
	spec := &specs.Spec{Mounts: []specs.Mount{
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "ro"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts"},
	}}
	ops, err := planMounts(spec)
	if err != nil {
		t.Fatal(err)
	}
	if ops[0].Flags&syscall.MS_RDONLY != 0 {
		t.Errorf("/dev mounted read-only first: %+v", ops[0])
	}
	l := ops[len(ops)-1]
	if l.Kind != opRemount || l.Target != "/dev" || l.Flags != syscall.MS_NOSUID|syscall.MS_RDONLY {
		t.Errorf("last op %+v, want /dev remounted nosuid,ro", l)
	}
}

// The options podman, containerd and CRI-O send: the runtime's own ones
// are planned (tmpcopyup, copy-symlink) or refused by name (idmap, an
// unknown option on a bind), never handed to the kernel.
func TestPlanRuntimeMountOptions(t *testing.T) {
	spec := &specs.Spec{Mounts: []specs.Mount{
		// podman --tmpfs /x and --read-only's /tmp
		{Destination: "/x", Type: "tmpfs", Source: "tmpfs", Options: []string{"rw", "rprivate", "noexec", "nosuid", "nodev", "tmpcopyup"}},
		{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"rw", "rprivate", "nosuid", "nodev", "tmpcopyup", "mode=1777", "size=64m"}},
		// podman -v with z/U/nocopy left in, and crun's copy-symlink
		{Destination: "/v", Type: "bind", Source: "/h/v", Options: []string{"rbind", "rprivate", "z", "Z", "U", "nocopy", "nosymfollow"}},
		{Destination: "/etc/localtime", Type: "bind", Source: "/etc/localtime", Options: []string{"bind", "copy-symlink", "ro"}},
		// CRI-O and containerd
		{Destination: "/c", Type: "bind", Source: "/h/c", Options: []string{"rbind", "rro", "rnoatime", "rnosymfollow"}},
	}}
	ops, err := planMounts(spec)
	if err != nil {
		t.Fatal(err)
	}
	if o := ops[0]; !o.CopyUp || !o.KeepDirMode || o.Data != "" || o.Flags != syscall.MS_NOEXEC|syscall.MS_NOSUID|syscall.MS_NODEV {
		t.Errorf("--tmpfs /x: %+v", o)
	}
	if o := ops[1]; !o.CopyUp || o.KeepDirMode || o.Data != "mode=1777,size=64m" {
		t.Errorf("/tmp with mode=: %+v", o)
	}
	if o := ops[2]; o.Data != "" || o.CopyUp || o.Flags != msNosymfollow {
		t.Errorf("volume with engine options: %+v", o)
	}
	if o := ops[3]; !o.CopySymlink || !o.Bind || o.Recursive {
		t.Errorf("copy-symlink bind: %+v", o)
	}
	if o := ops[4]; o.AttrSet != unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NOATIME|unix.MOUNT_ATTR_NOSYMFOLLOW || o.AttrClr != unix.MOUNT_ATTR__ATIME {
		t.Errorf("recursive attrs: set %#x clr %#x", o.AttrSet, o.AttrClr)
	}
	for _, tc := range []struct {
		m    specs.Mount
		want string
	}{
		{specs.Mount{Destination: "/v", Type: "bind", Source: "/h", Options: []string{"rbind", "idmap"}}, `option "idmap"`},
		{specs.Mount{Destination: "/v", Type: "bind", Source: "/h", Options: []string{"rbind", "idmap=uids=0-1-10;gids=0-1-10"}}, `"idmap=uids=0-1-10;gids=0-1-10"`},
		{specs.Mount{Destination: "/v", Type: "bind", Source: "/h", Options: []string{"rbind", "frobnicate"}}, `unknown bind mount option "frobnicate"`},
		{specs.Mount{Destination: "/v", Type: "bind", Source: "/h", Options: []string{"rbind", "rdonly"}}, `unknown bind mount option "rdonly"`},
		{specs.Mount{Destination: "/v", Type: "bind", Source: "/h", Options: []string{"rbind", "tmpcopyup"}}, "tmpcopyup is for tmpfs mounts only"},
		{specs.Mount{Destination: "/v", Type: "tmpfs", Source: "tmpfs", Options: []string{"copy-symlink"}}, "copy-symlink is for bind mounts only"},
	} {
		_, err := planMounts(&specs.Spec{Mounts: []specs.Mount{tc.m}})
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "/v") {
			t.Errorf("planMounts(%v) = %v, want an error with %q and the destination", tc.m.Options, err, tc.want)
		}
	}
}
