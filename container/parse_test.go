package container

import (
	"maps"
	"math"
	"path"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func TestParseVolume(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want specs.Mount
	}{
		{"/src:/dst", specs.Mount{Destination: "/dst", Type: "bind", Source: "/src", Options: []string{"rbind", "rprivate"}}},
		{"/src/../x/:/dst/sub/../:ro", specs.Mount{Destination: "/dst", Type: "bind", Source: "/x", Options: []string{"rbind", "rprivate", "ro", "rro"}}},
		{"/src:/dst:rro", specs.Mount{Destination: "/dst", Type: "bind", Source: "/src", Options: []string{"rbind", "rprivate", "ro", "rro"}}},
		{"/src:/dst:ro,rro,rslave", specs.Mount{Destination: "/dst", Type: "bind", Source: "/src", Options: []string{"rbind", "rslave", "ro", "rro"}}},
		{"/src:/dst:rw,z", specs.Mount{Destination: "/dst", Type: "bind", Source: "/src", Options: []string{"rbind", "rprivate", "rw"}}},
		{"/src:/dst:Z,z,ro,ro", specs.Mount{Destination: "/dst", Type: "bind", Source: "/src", Options: []string{"rbind", "rprivate", "ro", "rro"}}},
		{"/src:/dst:bind,rslave", specs.Mount{Destination: "/dst", Type: "bind", Source: "/src", Options: []string{"bind", "rslave"}}},
		{"/src:/dst:nosuid,nodev,noexec,shared", specs.Mount{Destination: "/dst", Type: "bind", Source: "/src", Options: []string{"rbind", "shared", "nosuid", "nodev", "noexec"}}},
		{"/:/host:ro,suid,dev,exec,runbindable", specs.Mount{Destination: "/host", Type: "bind", Source: "/", Options: []string{"rbind", "runbindable", "ro", "rro", "suid", "dev", "exec"}}},
	} {
		got, err := ParseVolume(tc.in)
		if err != nil {
			t.Errorf("ParseVolume(%q): %v", tc.in, err)
			continue
		}
		if !equalMount(got, tc.want) {
			t.Errorf("ParseVolume(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

func equalMount(a, b specs.Mount) bool {
	return a.Destination == b.Destination && a.Type == b.Type && a.Source == b.Source && slices.Equal(a.Options, b.Options)
}

func TestParseVolumeErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"/data", `invalid -v "/data": want SRC:DST[:OPTIONS] with SRC an absolute host path`},
		{"", `invalid -v "": want SRC:DST`},
		{"/a:/b:ro:x", `too many ":"`},
		{"data:/data", `invalid -v "data:/data": volume source must be an absolute host path, not "data"`},
		{"./data:/data", `volume source must be an absolute host path`},
		{":/data", `volume source must be an absolute host path, not ""`},
		{"/a:data", `destination "data" must be an absolute path in the container`},
		{"/a:", `destination "" must be an absolute path`},
		{"/a:/", `destination "/" would hide the container's root filesystem`},
		{"/a:/x/..", `destination "/" would hide`},
		{"/a:/b:", `empty option`},
		{"/a:/b:ro,", `empty option`},
		{"/a:/b:U", `unknown option "U"`},
		{"/a:/b:RO", `unknown option "RO"`},
		{"/a:/b:ro,rw", `options "ro" and "rw" contradict each other; keep one`},
		{"/a:/b:bind,rbind", `options "bind" and "rbind" contradict`},
		{"/a:/b:private,rshared", `options "private" and "rshared" contradict`},
		{"/a:/b:nosuid,suid", `options "nosuid" and "suid" contradict`},
		{"/a:/b:dev,nodev", `contradict`},
		{"/a:/b:exec,noexec", `contradict`},
	} {
		_, err := ParseVolume(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseVolume(%q) error = %v, want %q", tc.in, err, tc.want)
		}
	}
}

func TestParseTmpfs(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		dst  string
	}{
		{"/tmp", []string{"nosuid", "nodev"}, "/tmp"},
		{"/run/", []string{"nosuid", "nodev"}, "/run"},
		{"/tmp:size=64m,mode=1777", []string{"nosuid", "nodev", "size=64m", "mode=1777"}, "/tmp"},
		{"/tmp:ro,noexec,nosuid", []string{"nosuid", "nodev", "ro", "noexec"}, "/tmp"},
		{"/tmp:suid,dev,exec", []string{"suid", "dev", "exec"}, "/tmp"},
		{"/tmp:uid=1000,gid=1000,nr_inodes=1k,size=50%,mpol=local,huge=within_size,rprivate,defaults", []string{"nosuid", "nodev", "uid=1000", "gid=1000", "nr_inodes=1k", "size=50%", "mpol=local", "huge=within_size", "rprivate", "defaults"}, "/tmp"},
	} {
		got, err := ParseTmpfs(tc.in)
		if err != nil {
			t.Errorf("ParseTmpfs(%q): %v", tc.in, err)
			continue
		}
		want := specs.Mount{Destination: tc.dst, Type: "tmpfs", Source: "tmpfs", Options: tc.want}
		if !equalMount(got, want) {
			t.Errorf("ParseTmpfs(%q) = %+v, want %+v", tc.in, got, want)
		}
	}
}

func TestParseTmpfsErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", `invalid --tmpfs "": destination "" must be an absolute path`},
		{"tmp", `destination "tmp" must be an absolute path`},
		{"/", `destination "/" would hide`},
		{"/tmp:", `empty option`},
		{"/tmp:size=1m,,", `empty option`},
		{"/tmp:rbind", `option "rbind" is for bind mounts, not tmpfs`},
		{"/tmp:bogus", `unknown option "bogus"`},
		{"/tmp:colour=blue", `unknown option "colour=blue"`},
		{"/tmp:size=", `option "size=" has no value`},
		{"/tmp:size=big", `size "big" is not a size`},
		{"/tmp:size=1mm", `is not a size`},
		{"/tmp:size=m", `is not a size`},
		{"/tmp:mode=999", `mode "999" is not an octal file mode`},
		{"/tmp:mode=17777", `is not an octal file mode`},
		{"/tmp:uid=me", `uid "me" is not a number`},
	} {
		_, err := ParseTmpfs(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseTmpfs(%q) error = %v, want %q", tc.in, err, tc.want)
		}
	}
}

func TestParseUlimit(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want specs.POSIXRlimit
	}{
		{"nofile=1024", specs.POSIXRlimit{Type: "RLIMIT_NOFILE", Soft: 1024, Hard: 1024}},
		{"nofile=1024:2048", specs.POSIXRlimit{Type: "RLIMIT_NOFILE", Soft: 1024, Hard: 2048}},
		{"NPROC=-1", specs.POSIXRlimit{Type: "RLIMIT_NPROC", Soft: math.MaxUint64, Hard: math.MaxUint64}},
		{"core=0:-1", specs.POSIXRlimit{Type: "RLIMIT_CORE", Soft: 0, Hard: math.MaxUint64}},
		{"stack=unlimited", specs.POSIXRlimit{Type: "RLIMIT_STACK", Soft: math.MaxUint64, Hard: math.MaxUint64}},
		{"rlimit_as=1:2", specs.POSIXRlimit{Type: "RLIMIT_AS", Soft: 1, Hard: 2}},
		{"rttime=18446744073709551614", specs.POSIXRlimit{Type: "RLIMIT_RTTIME", Soft: math.MaxUint64 - 1, Hard: math.MaxUint64 - 1}},
	} {
		got, err := ParseUlimit(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseUlimit(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
	for name := range ulimitTypes {
		if _, err := ParseUlimit(name + "=1"); err != nil {
			t.Errorf("ParseUlimit(%s=1): %v", name, err)
		}
	}
}

func TestParseUlimitErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"nofile=abc", `invalid --ulimit "nofile=abc": soft limit "abc" is not a number (want NAME=SOFT[:HARD])`},
		{"nofile=1:abc", `hard limit "abc" is not a number`},
		{"nofile=", `soft limit "" is not a number`},
		{"nofile=1:", `hard limit "" is not a number`},
		{"nofile=1:2:3", `hard limit "2:3" is not a number`},
		{"nofile", `invalid --ulimit "nofile": want NAME=SOFT[:HARD], e.g. nofile=1024:2048`},
		{"host", `want NAME=SOFT[:HARD]`},
		{"files=1", `unknown limit "files" (want one of as, core, cpu, data, fsize, locks, memlock, msgqueue, nice, nofile, nproc, rss, rtprio, rttime, sigpending, stack)`},
		{"=1", `unknown limit ""`},
		{"nofile=-2", `soft limit "-2" is negative (use -1 for unlimited)`},
		{"nofile=1:-5", `hard limit "-5" is negative`},
		{"nofile=2048:1024", `soft limit 2048 is above the hard limit 1024`},
		{"nofile=-1:1024", `soft limit -1 is above the hard limit 1024`},
		{"nofile=18446744073709551616", `soft limit "18446744073709551616" is too large (use -1 for unlimited)`},
		{"nofile=1.5", `not a number`},
		{"nofile=+5", `not a number`},
	} {
		_, err := ParseUlimit(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseUlimit(%q) error = %v, want %q", tc.in, err, tc.want)
		}
	}
}

func TestParseCapability(t *testing.T) {
	for in, want := range map[string]string{
		"net_admin":              "CAP_NET_ADMIN",
		"NET_ADMIN":              "CAP_NET_ADMIN",
		"CAP_NET_ADMIN":          "CAP_NET_ADMIN",
		"cap_sys_admin":          "CAP_SYS_ADMIN",
		" chown ":                "CAP_CHOWN",
		"Checkpoint_Restore":     "CAP_CHECKPOINT_RESTORE",
		"CAP_CHECKPOINT_RESTORE": "CAP_CHECKPOINT_RESTORE",
	} {
		if got, err := NormalizeCapability(in); err != nil || got != want {
			t.Errorf("NormalizeCapability(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "CAP_", "ALL", "net-admin", "CAP_CAP_CHOWN", "SYS_EVERYTHING"} {
		_, err := NormalizeCapability(in)
		if err == nil || !strings.Contains(err.Error(), "unknown capability "+strconv.Quote(in)) {
			t.Errorf("NormalizeCapability(%q) error = %v", in, err)
		}
	}
}

func TestCapNumbers(t *testing.T) {
	if len(capabilityNames) != 41 || capabilityNames[40] != "CAP_CHECKPOINT_RESTORE" {
		t.Fatalf("capability list has %d entries ending in %s", len(capabilityNames), capabilityNames[len(capabilityNames)-1])
	}
	// Spot checks against include/uapi/linux/capability.h.
	for name, want := range map[string]int{
		"CAP_CHOWN": 0, "CAP_KILL": 5, "CAP_NET_BIND_SERVICE": 10, "CAP_SYS_CHROOT": 18,
		"CAP_SYS_ADMIN": 21, "CAP_MKNOD": 27, "CAP_SETFCAP": 31, "CAP_AUDIT_READ": 37, "CAP_BPF": 39,
	} {
		if got, ok := capNumber(name); !ok || got != want {
			t.Errorf("capNumber(%s) = %d, %v; want %d", name, got, ok, want)
		}
	}
	if _, ok := capNumber("CAP_NOPE"); ok {
		t.Error("capNumber accepted an unknown name")
	}
	// The default set as a mask is what /proc/self/status shows in a
	// default container (the integration suite checks the same value).
	var mask uint64
	for _, c := range defaultCapabilities {
		n, _ := capNumber(c)
		mask |= 1 << n
	}
	if mask != 0x800405fb {
		t.Errorf("default capability mask = %#x, want 0x800405fb", mask)
	}
}

func TestParseMount(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want specs.Mount
	}{
		{"type=bind,source=/src,target=/dst", specs.Mount{Destination: "/dst", Type: "bind", Source: "/src", Options: []string{"rbind", "rprivate"}}},
		{"type=bind,src=/src/,dst=/dst,readonly", specs.Mount{Destination: "/dst", Type: "bind", Source: "/src", Options: []string{"rbind", "rprivate", "ro", "rro"}}},
		{"type=bind,src=/src,destination=/dst,ro=true,bind-propagation=rslave", specs.Mount{Destination: "/dst", Type: "bind", Source: "/src", Options: []string{"rbind", "rslave", "ro", "rro"}}},
		{"type=bind,src=/src,target=/dst,readonly=false", specs.Mount{Destination: "/dst", Type: "bind", Source: "/src", Options: []string{"rbind", "rprivate"}}},
		{"type=tmpfs,target=/t,tmpfs-size=1m,tmpfs-mode=1777", specs.Mount{Destination: "/t", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev", "size=1m", "mode=1777"}}},
	} {
		got, err := ParseMount(tc.in)
		if err != nil {
			t.Errorf("ParseMount(%q): %v", tc.in, err)
			continue
		}
		if !equalMount(got, tc.want) {
			t.Errorf("ParseMount(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{"type=volume,source=v,target=/d", "no named volumes"},
		{"source=/a,target=/d", "no type="},
		{"type=nfs,target=/d", `type "nfs" is not supported`},
		{"type=bind,source=a,target=/d", "absolute host path"},
		{"type=bind,source=/a,target=d", "absolute path in the container"},
		{"type=bind,source=/a,target=/d,readonly=maybe", "not true or false"},
		{"type=bind,source=/a,target=/d,bind-propagation=sideways", "bind-propagation"},
		{"type=bind,source=/a,target=/d,tmpfs-size=1m", `key "tmpfs-size" does not apply to type=bind`},
		{"type=bind,source=/a,src=/b,target=/d", "source given twice"},
		{"type=bind,source", `"source" has no value`},
		{"type=tmpfs,target=/t,tmpfs-size=huge", "not a size"},
	} {
		_, err := ParseMount(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("ParseMount(%q) error = %v, want one line with %q", tc.in, err, tc.want)
		}
	}
}

func TestRecursiveMountAttrs(t *testing.T) {
	for _, tc := range []struct {
		opts     []string
		set, clr uint64
	}{
		{[]string{"rbind", "ro"}, 0, 0},
		{[]string{"rbind", "ro", "rro"}, unix.MOUNT_ATTR_RDONLY, 0},
		{[]string{"rro", "rrw"}, 0, unix.MOUNT_ATTR_RDONLY},
		{[]string{"rnosuid", "rnodev", "rnoexec", "rdev"}, unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NOEXEC, unix.MOUNT_ATTR_NODEV},
	} {
		set, clr := RecursiveMountAttrs(tc.opts)
		if set != tc.set || clr != tc.clr {
			t.Errorf("RecursiveMountAttrs(%q) = %#x, %#x; want %#x, %#x", tc.opts, set, clr, tc.set, tc.clr)
		}
		if _, _, data, _, _ := MountFlags(tc.opts); data != "" {
			t.Errorf("MountFlags(%q) passed %q to the filesystem", tc.opts, data)
		}
	}
}

func TestMountFlags(t *testing.T) {
	for _, tc := range []struct {
		opts      []string
		flags     uintptr
		prop      []uintptr
		data      string
		bind, rec bool
	}{
		{nil, 0, nil, "", false, false},
		{[]string{"nosuid", "noexec", "nodev"}, syscall.MS_NOSUID | syscall.MS_NOEXEC | syscall.MS_NODEV, nil, "", false, false},
		{[]string{"nosuid", "strictatime", "mode=755", "size=65536k"}, syscall.MS_NOSUID | syscall.MS_STRICTATIME, nil, "mode=755,size=65536k", false, false},
		{[]string{"rbind", "rprivate", "ro"}, syscall.MS_RDONLY, []uintptr{syscall.MS_PRIVATE | syscall.MS_REC}, "", true, true},
		{[]string{"bind", "slave", "shared"}, 0, []uintptr{syscall.MS_SLAVE, syscall.MS_SHARED}, "", true, false},
		{[]string{"ro", "rw"}, 0, nil, "", false, false},
		{[]string{"rw", "ro"}, syscall.MS_RDONLY, nil, "", false, false},
		{[]string{"nosuid", "suid", "nodev", "dev", "noexec", "exec"}, 0, nil, "", false, false},
		{[]string{"sync", "dirsync", "mand", "remount", "noatime", "nodiratime", "relatime"},
			syscall.MS_SYNCHRONOUS | syscall.MS_DIRSYNC | syscall.MS_MANDLOCK | syscall.MS_REMOUNT | syscall.MS_NOATIME | syscall.MS_NODIRATIME | syscall.MS_RELATIME, nil, "", false, false},
		{[]string{"sync", "async", "mand", "nomand", "noatime", "atime", "nodiratime", "diratime", "relatime", "norelatime", "strictatime", "nostrictatime"}, 0, nil, "", false, false},
		{[]string{"defaults", "", "private", "rshared", "rslave", "unbindable", "runbindable"}, 0,
			[]uintptr{syscall.MS_PRIVATE, syscall.MS_SHARED | syscall.MS_REC, syscall.MS_SLAVE | syscall.MS_REC, syscall.MS_UNBINDABLE, syscall.MS_UNBINDABLE | syscall.MS_REC}, "", false, false},
		{[]string{"newinstance", "ptmxmode=0666", "mode=0620", "nosuid"}, syscall.MS_NOSUID, nil, "newinstance,ptmxmode=0666,mode=0620", false, false},
		{[]string{"rbind", "bind"}, 0, nil, "", true, true},
		{[]string{"lazytime", "iversion", "silent", "acl"}, 1<<25 | syscall.MS_I_VERSION | syscall.MS_SILENT | syscall.MS_POSIXACL, nil, "", false, false},
	} {
		flags, prop, data, bind, rec := MountFlags(tc.opts)
		if flags != tc.flags || !slices.Equal(prop, tc.prop) || data != tc.data || bind != tc.bind || rec != tc.rec {
			t.Errorf("MountFlags(%q) = %#x %#x %q %v %v; want %#x %#x %q %v %v",
				tc.opts, flags, prop, data, bind, rec, tc.flags, tc.prop, tc.data, tc.bind, tc.rec)
		}
	}
}

// Every option ParseVolume and ParseTmpfs emit is one MountFlags knows,
// except tmpfs settings, which go to the filesystem as data.
func TestParseOptionsAreMountFlags(t *testing.T) {
	v, err := ParseVolume("/a:/b:ro,nosuid,nodev,noexec,rshared")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, data, bind, rec := MountFlags(v.Options); data != "" || !bind || !rec {
		t.Errorf("volume options %q: data %q, bind %v, recursive %v", v.Options, data, bind, rec)
	}
	tm, err := ParseTmpfs("/t:ro,size=1m")
	if err != nil {
		t.Fatal(err)
	}
	if flags, _, data, bind, _ := MountFlags(tm.Options); data != "size=1m" || bind || flags != syscall.MS_RDONLY|syscall.MS_NOSUID|syscall.MS_NODEV {
		t.Errorf("tmpfs options %q: flags %#x data %q", tm.Options, flags, data)
	}
}

func FuzzParseVolume(f *testing.F) {
	for _, s := range []string{"/src:/dst", "/a:/b:ro,z", "/a/../b:/c/./d:rslave,bind,nosuid", "a:/b", "/a:/", "/a:/b:ro,rw", "/a:/b:"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseVolume(s)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "invalid -v ") {
				t.Errorf("error without context: %v", err)
			}
			return
		}
		if m.Type != "bind" || !path.IsAbs(m.Source) || path.Clean(m.Source) != m.Source {
			t.Errorf("bad source in %+v", m)
		}
		if !path.IsAbs(m.Destination) || path.Clean(m.Destination) != m.Destination || m.Destination == "/" {
			t.Errorf("bad destination in %+v", m)
		}
		if len(m.Options) < 2 || (m.Options[0] != "bind" && m.Options[0] != "rbind") {
			t.Errorf("bad options in %+v", m)
		}
		if _, _, data, bind, _ := MountFlags(m.Options); data != "" || !bind {
			t.Errorf("options %q are not all mount flags (data %q)", m.Options, data)
		}
	})
}

func FuzzParseUlimit(f *testing.F) {
	for _, s := range []string{"nofile=1024", "nofile=1024:2048", "nproc=-1", "core=0:unlimited", "stack=5:1", "x=1", "nofile=-2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := ParseUlimit(s)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "invalid --ulimit ") {
				t.Errorf("error without context: %v", err)
			}
			return
		}
		if l.Soft > l.Hard {
			t.Errorf("%q: soft %d above hard %d", s, l.Soft, l.Hard)
		}
		if !slices.Contains(slices.Collect(maps.Values(ulimitTypes)), l.Type) {
			t.Errorf("%q: unknown type %s", s, l.Type)
		}
	})
}

// Without --ulimit nofile the caller's hard limit is the soft one too
// (podman's rootless default); a --ulimit nofile wins.
func TestBuildRlimitsNofileDefault(t *testing.T) {
	got, err := buildRlimits(nil, 4096)
	if err != nil || len(got) != 1 || got[0] != (specs.POSIXRlimit{Type: "RLIMIT_NOFILE", Soft: 4096, Hard: 4096}) {
		t.Errorf("buildRlimits(nil, 4096) = %+v, %v", got, err)
	}
	got, err = buildRlimits([]string{"nofile=10:20"}, 4096)
	if err != nil || len(got) != 1 || got[0].Soft != 10 || got[0].Hard != 20 {
		t.Errorf("buildRlimits(nofile=10:20, 4096) = %+v, %v", got, err)
	}
	if got, _ := buildRlimits(nil, 0); len(got) != 0 {
		t.Errorf("buildRlimits(nil, 0) = %+v, want none", got)
	}
}
