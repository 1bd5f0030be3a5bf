package container

import (
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestParseSysctls(t *testing.T) {
	got, err := ParseSysctls([]string{"net.ipv4.ip_forward=1", "kernel/shmmax=1", "fs.mqueue.msg_max=20", "kernel.domainname=x"}, false, false)
	if err != nil || len(got) != 4 || got["kernel.shmmax"] != "1" {
		t.Errorf("ParseSysctls = %v, %v", got, err)
	}
	for _, tc := range []struct {
		in             string
		netHost, ipcHo bool
		want           string
	}{
		{"kernel.pid_max=5", false, false, "not namespaced"},
		{"vm.swappiness=1", false, false, "not namespaced"},
		{"net.ipv4.ip_forward=1", true, false, "--network host"},
		{"kernel.sem=1", false, true, "--ipc host"},
		{"novalue", false, false, "KEY=VALUE"},
	} {
		if _, err := ParseSysctls([]string{tc.in}, tc.netHost, tc.ipcHo); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseSysctls(%q) error = %v, want %q", tc.in, err, tc.want)
		}
	}
}

func TestParseDevice(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Device
	}{
		{"/dev/fuse", Device{Host: "/dev/fuse", Container: "/dev/fuse"}},
		{"/dev/fuse:/dev/f2", Device{Host: "/dev/fuse", Container: "/dev/f2"}},
		{"/dev/fuse:r", Device{Host: "/dev/fuse", Container: "/dev/fuse", ReadOnly: true}},
		{"/dev/fuse:/dev/f2:rwm", Device{Host: "/dev/fuse", Container: "/dev/f2"}},
	} {
		if got, err := ParseDevice(tc.in); err != nil || got != tc.want {
			t.Errorf("ParseDevice(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "fuse", "/dev/fuse:/etc/x", "/dev/fuse:rx", "/a:/dev/b:r:w"} {
		if _, err := ParseDevice(bad); err == nil {
			t.Errorf("ParseDevice(%q): no error", bad)
		}
	}
	if m := (Device{Host: "/dev/fuse", Container: "/dev/fuse", ReadOnly: true}).Mount(); m.Type != "bind" || m.Options[len(m.Options)-1] != "ro" {
		t.Errorf("Mount() = %+v", m)
	}
}

func TestParseNamespaceMode(t *testing.T) {
	for in, want := range map[string]bool{"": false, "private": false, "host": true} {
		if got, target, err := ParseNamespaceMode("--pid", in); err != nil || got != want || target != "" {
			t.Errorf("ParseNamespaceMode(%q) = %v, %q, %v", in, got, target, err)
		}
	}
	if _, _, err := ParseNamespaceMode("--ipc", "shareable"); err != nil {
		t.Errorf("--ipc shareable: %v", err)
	}
	for _, flag := range []string{"--ipc", "--pid", "--uts"} {
		if host, target, err := ParseNamespaceMode(flag, "container:web"); err != nil || host || target != "web" {
			t.Errorf("%s container:web = %v, %q, %v", flag, host, target, err)
		}
	}
	for _, bad := range [][2]string{{"--pid", "container:"}, {"--pid", "none"}, {"--pid", "shareable"}, {"--uts", "host"}, {"--uts", "shareable"}} {
		if _, _, err := ParseNamespaceMode(bad[0], bad[1]); err == nil {
			t.Errorf("%s %s: no error", bad[0], bad[1])
		}
	}
}

func TestShmSizeAndGroupAdd(t *testing.T) {
	if got, err := shmSize("128m"); err != nil || got != "size=131072k" {
		t.Errorf("shmSize(128m) = %q, %v", got, err)
	}
	if got, err := shmSize("0"); err != nil || got != "" {
		t.Errorf("shmSize(0) = %q, %v", got, err)
	}
	if _, err := shmSize("lots"); err == nil {
		t.Error("shmSize(lots): no error")
	}
	read := func(p string) ([]byte, error) { return []byte("root:x:0:\naudio:x:29:\n"), nil }
	if got, err := groupAdd([]string{"audio", "1234", "29"}, read); err != nil || len(got) != 2 || got[0] != 29 || got[1] != 1234 {
		t.Errorf("groupAdd = %v, %v", got, err)
	}
	for _, bad := range []string{"nosuch", "keep-groups"} {
		if _, err := groupAdd([]string{bad}, read); err == nil {
			t.Errorf("groupAdd(%s): no error", bad)
		}
	}
}

// --ipc host and --pid host: no namespace of their own, and the host's
// /dev/shm and /proc bound.
func TestBuildSpecHostIPCPID(t *testing.T) {
	spec, err := BuildSpec(ImageConfig{Cmd: []string{"sh"}}, Options{ContainerID: "0123456789abcdef", IPCHost: true, PIDHost: true}, busyboxRoot, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, ns := range spec.Linux.Namespaces {
		if ns.Type == specs.IPCNamespace || ns.Type == specs.PIDNamespace {
			t.Errorf("namespace %s still made", ns.Type)
		}
	}
	for _, m := range spec.Mounts {
		switch m.Destination {
		case "/proc", "/dev/shm":
			if m.Type != "bind" {
				t.Errorf("%s: %+v, want the host's bound", m.Destination, m)
			}
		case "/dev/mqueue":
			t.Errorf("/dev/mqueue mounted: %+v", m)
		}
	}
}
