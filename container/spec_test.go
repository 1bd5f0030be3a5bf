package container

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata/golden from the current output")

const testID = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// busyboxConfig is the image config tests/mkimage gives its busybox image.
func busyboxConfig() ImageConfig {
	return ImageConfig{Env: []string{"PATH=" + defaultPath}, Cmd: []string{"/bin/sh"}}
}

// busyboxRoot holds busybox's account files, as in tests/mkimage.
var busyboxRoot = fakeRoot(map[string]string{
	"/etc/passwd": "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n",
	"/etc/group":  "root:x:0:\nuser:x:1000:\nwheel:x:10:user\nnogroup:x:65534:\n",
})

func ptr[T any](v T) *T { return &v }

func mustSpec(t *testing.T, img ImageConfig, opts Options) *specs.Spec {
	t.Helper()
	if opts.ContainerID == "" {
		opts.ContainerID = testID
	}
	s, err := BuildSpec(img, opts, busyboxRoot, nil)
	if err != nil {
		t.Fatalf("BuildSpec: %v", err)
	}
	return s
}

func TestSpecArgs(t *testing.T) {
	withEntry := ImageConfig{Entrypoint: []string{"/bin/echo", "entry"}, Cmd: []string{"cmd-default"}}
	cmdOnly := ImageConfig{Cmd: []string{"/bin/sh", "-c", "echo hi"}}
	entryOnly := ImageConfig{Entrypoint: []string{"/entry"}}
	for _, tc := range []struct {
		name string
		img  ImageConfig
		opts Options
		want []string
	}{
		{"entrypoint and cmd", withEntry, Options{}, []string{"/bin/echo", "entry", "cmd-default"}},
		{"command replaces cmd", withEntry, Options{Command: []string{"given"}}, []string{"/bin/echo", "entry", "given"}},
		{"cmd only", cmdOnly, Options{}, []string{"/bin/sh", "-c", "echo hi"}},
		{"command replaces cmd only", cmdOnly, Options{Command: []string{"ls", "-l"}}, []string{"ls", "-l"}},
		{"entrypoint only", entryOnly, Options{}, []string{"/entry"}},
		{"entrypoint only, command", entryOnly, Options{Command: []string{"x"}}, []string{"/entry", "x"}},
		{"--entrypoint drops image cmd", withEntry, Options{Entrypoint: ptr("/bin/sh")}, []string{"/bin/sh"}},
		{"--entrypoint and command", withEntry, Options{Entrypoint: ptr("/bin/sh"), Command: []string{"-c", "id"}}, []string{"/bin/sh", "-c", "id"}},
		{"--entrypoint is one path", cmdOnly, Options{Entrypoint: ptr("/bin/my prog")}, []string{"/bin/my prog"}},
		{"--entrypoint JSON", withEntry, Options{Entrypoint: ptr(`["/bin/sh","-c"]`), Command: []string{"id"}}, []string{"/bin/sh", "-c", "id"}},
		{"--entrypoint not quite JSON", cmdOnly, Options{Entrypoint: ptr("["), Command: []string{"1", "]"}}, []string{"[", "1", "]"}},
		{"--entrypoint bad JSON is a path", cmdOnly, Options{Entrypoint: ptr(`["/bin/sh",`)}, []string{`["/bin/sh",`}},
		{`--entrypoint "" and command`, withEntry, Options{Entrypoint: ptr(""), Command: []string{"/bin/true"}}, []string{"/bin/true"}},
		{`--entrypoint "[]" and command`, withEntry, Options{Entrypoint: ptr("[]"), Command: []string{"/bin/true"}}, []string{"/bin/true"}},
		{"--init", withEntry, Options{Init: true, InitPath: "/run/urun-init"}, []string{"/run/urun-init", "--", "/bin/echo", "entry", "cmd-default"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := mustSpec(t, tc.img, tc.opts)
			if !slices.Equal(s.Process.Args, tc.want) {
				t.Errorf("args = %q, want %q", s.Process.Args, tc.want)
			}
		})
	}
}

func TestSpecArgsErrors(t *testing.T) {
	const noCmd = "no command: the image has no ENTRYPOINT or CMD; give one after the image name"
	for _, tc := range []struct {
		name string
		img  ImageConfig
		opts Options
		want string
	}{
		{"empty image", ImageConfig{}, Options{}, noCmd},
		{`--entrypoint "" drops cmd`, busyboxConfig(), Options{Entrypoint: ptr("")}, noCmd},
		{"--entrypoint []", busyboxConfig(), Options{Entrypoint: ptr("[]")}, noCmd},
		{"--init alone is no command", ImageConfig{}, Options{Init: true, InitPath: "/init"}, noCmd},
		{"--init without a path", busyboxConfig(), Options{Init: true}, "--init: no init program path given"},
	} {
		_, err := BuildSpec(tc.img, tc.opts, busyboxRoot, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error = %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestSpecEnv(t *testing.T) {
	host := map[string]string{"FROM_HOST": "host value", "EMPTY": ""}
	lookup := func(k string) (string, bool) { v, ok := host[k]; return v, ok }
	for _, tc := range []struct {
		name     string
		image    []string
		given    []string
		tty      bool
		hostname string
		want     []string
	}{
		{
			name:  "image order kept, overrides in place, new appended",
			image: []string{"PATH=/bin", "A=1", "B=2"},
			given: []string{"B=two", "C=3", "A=one"},
			want:  []string{"PATH=/bin", "A=one", "B=two", "C=3", "HOSTNAME=0123456789ab", "HOME=/root", "container=oci"},
		},
		{
			name:  "default PATH, TERM with a tty",
			tty:   true,
			want:  []string{"PATH=" + defaultPath, "TERM=xterm", "HOSTNAME=0123456789ab", "HOME=/root", "container=oci"},
			image: nil,
		},
		{
			name:  "TERM, HOSTNAME and HOME given are kept",
			tty:   true,
			given: []string{"TERM=vt100", "HOSTNAME=mine", "HOME=/h", "PATH=/p"},
			want:  []string{"TERM=vt100", "HOSTNAME=mine", "HOME=/h", "PATH=/p", "container=oci"},
		},
		{
			name:     "--hostname in HOSTNAME",
			hostname: "box",
			want:     []string{"PATH=" + defaultPath, "HOSTNAME=box", "HOME=/root", "container=oci"},
		},
		{
			name:  "-e KEY copies the host's value, or leaves the variable alone",
			image: []string{"MISSING=image", "FROM_HOST=image"},
			given: []string{"FROM_HOST", "MISSING", "EMPTY", "ALSO_MISSING"},
			want:  []string{"MISSING=image", "FROM_HOST=host value", "EMPTY=", "PATH=" + defaultPath, "HOSTNAME=0123456789ab", "HOME=/root", "container=oci"},
		},
		{
			name:  "later -e wins, values may hold =, and may be empty",
			given: []string{"X=1", "X=a=b", "Y="},
			want:  []string{"X=a=b", "Y=", "PATH=" + defaultPath, "HOSTNAME=0123456789ab", "HOME=/root", "container=oci"},
		},
		{
			name:  "duplicate image variables collapse to the last",
			image: []string{"A=1", "A=2", "PATH=/x"},
			want:  []string{"A=2", "PATH=/x", "HOSTNAME=0123456789ab", "HOME=/root", "container=oci"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := BuildSpec(ImageConfig{Env: tc.image, Cmd: []string{"sh"}},
				Options{Env: tc.given, Tty: tc.tty, Hostname: tc.hostname, ContainerID: testID}, busyboxRoot, lookup)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(s.Process.Env, tc.want) {
				t.Errorf("env = %q\nwant  %q", s.Process.Env, tc.want)
			}
		})
	}
	// Without a LookupEnv, -e KEY sets nothing.
	s := mustSpec(t, busyboxConfig(), Options{Env: []string{"FROM_HOST"}})
	if slices.ContainsFunc(s.Process.Env, func(e string) bool { return strings.HasPrefix(e, "FROM_HOST") }) {
		t.Errorf("env %q has FROM_HOST without a LookupEnv", s.Process.Env)
	}
}

func TestSpecCwdAndHostname(t *testing.T) {
	img := busyboxConfig()
	if s := mustSpec(t, img, Options{}); s.Process.Cwd != "/" || s.Hostname != "0123456789ab" {
		t.Errorf("defaults: cwd %q, hostname %q", s.Process.Cwd, s.Hostname)
	}
	img.WorkingDir = "/data/work/"
	if s := mustSpec(t, img, Options{}); s.Process.Cwd != "/data/work" {
		t.Errorf("image WorkingDir: cwd %q", s.Process.Cwd)
	}
	if s := mustSpec(t, img, Options{Workdir: "/src/../tmp", Hostname: "h"}); s.Process.Cwd != "/tmp" || s.Hostname != "h" {
		t.Errorf("-w and --hostname: cwd %q, hostname %q", s.Process.Cwd, s.Hostname)
	}
	if s := mustSpec(t, img, Options{ContainerID: "abc"}); s.Hostname != "abc" {
		t.Errorf("short id: hostname %q", s.Hostname)
	}
	s, err := BuildSpec(img, Options{}, busyboxRoot, nil)
	if err != nil || s.Hostname != "" || slices.ContainsFunc(s.Process.Env, func(e string) bool { return strings.HasPrefix(e, "HOSTNAME=") }) {
		t.Errorf("no id and no --hostname: %v, hostname %q, env %q", err, s.Hostname, s.Process.Env)
	}
}

func TestSpecErrors(t *testing.T) {
	img := busyboxConfig()
	for _, tc := range []struct {
		name string
		img  ImageConfig
		opts Options
		want string
	}{
		{"relative -w", img, Options{Workdir: "src"}, `-w "src": the working directory must be an absolute path, starting with /`},
		{"relative image WorkingDir", ImageConfig{Cmd: []string{"sh"}, WorkingDir: "app"}, Options{}, `the image's WorkingDir "app" is not an absolute path; give one with -w`},
		{"long hostname", img, Options{Hostname: strings.Repeat("h", 65)}, "is longer than 64 characters"},
		{"unknown user", img, Options{User: "bob"}, `user "bob" not found in the image's /etc/passwd`},
		{"unknown image user", ImageConfig{Cmd: []string{"sh"}, User: "nobody"}, Options{}, `user "nobody" not found`},
		{"empty -e name", img, Options{Env: []string{"=x"}}, `invalid -e "=x": empty variable name`},
		{"empty -e", img, Options{Env: []string{""}}, `invalid -e "": empty variable name`},
		{"NUL in -e", img, Options{Env: []string{"A=\x00"}}, `contains a NUL byte`},
		{"bad --cap-add", img, Options{CapAdd: []string{"NET_ADMIN", "fly"}}, `--cap-add: unknown capability "fly"`},
		{"bad --cap-drop", img, Options{CapDrop: []string{"CAP_"}}, `--cap-drop: unknown capability "CAP_"`},
		{"bad --cap-add with --privileged", img, Options{Privileged: true, CapAdd: []string{"fly"}}, `unknown capability "fly"`},
		{"add and drop", img, Options{CapAdd: []string{"net_raw"}, CapDrop: []string{"CAP_NET_RAW"}}, "capability CAP_NET_RAW is both added and dropped; keep one of --cap-add and --cap-drop"},
		{"add and drop ALL", img, Options{CapAdd: []string{"all"}, CapDrop: []string{"ALL"}}, "--cap-add ALL and --cap-drop ALL contradict each other; keep one"},
		{"bad --ulimit", img, Options{Ulimits: []string{"nofile=abc"}}, `invalid --ulimit "nofile=abc": soft limit "abc" is not a number (want NAME=SOFT[:HARD])`},
		{"bad -v", img, Options{Volumes: []string{"data:/data"}}, "volume source must be an absolute host path"},
		{"bad --tmpfs", img, Options{Tmpfs: []string{"tmp"}}, `invalid --tmpfs "tmp"`},
		{"two -v at one place", img, Options{Volumes: []string{"/a:/data", "/b:/data/"}}, "two mounts at /data (-v /a:/data and -v /b:/data/); give each its own destination"},
		{"-v and --tmpfs at one place", img, Options{Tmpfs: []string{"/data"}, Volumes: []string{"/b:/data"}}, "two mounts at /data (--tmpfs /data and -v /b:/data)"},
	} {
		if tc.opts.ContainerID == "" {
			tc.opts.ContainerID = testID
		}
		_, err := BuildSpec(tc.img, tc.opts, busyboxRoot, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error = %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestSpecCapabilities(t *testing.T) {
	all := allCapabilities()
	without := func(set []string, drop ...string) []string {
		return slices.DeleteFunc(slices.Clone(set), func(c string) bool { return slices.Contains(drop, c) })
	}
	with := func(set []string, add ...string) []string { return sortedUnique(append(slices.Clone(set), add...)) }
	for _, tc := range []struct {
		name     string
		opts     Options
		bounding []string
		user     []string // effective etc. for a non-root process
	}{
		{"default", Options{}, defaultCapabilities, nil},
		{"add", Options{CapAdd: []string{"net_admin", "CAP_SYS_PTRACE", "NET_ADMIN"}}, with(defaultCapabilities, "CAP_NET_ADMIN", "CAP_SYS_PTRACE"), []string{"CAP_NET_ADMIN", "CAP_SYS_PTRACE"}},
		{"add a default one", Options{CapAdd: []string{"chown"}}, defaultCapabilities, []string{"CAP_CHOWN"}},
		{"drop", Options{CapDrop: []string{"chown", "kill", "CAP_SYS_ADMIN"}}, without(defaultCapabilities, "CAP_CHOWN", "CAP_KILL"), nil},
		{"add and drop", Options{CapAdd: []string{"mknod"}, CapDrop: []string{"setuid"}}, with(without(defaultCapabilities, "CAP_SETUID"), "CAP_MKNOD"), []string{"CAP_MKNOD"}},
		{"drop ALL", Options{CapDrop: []string{"ALL"}}, nil, nil},
		{"drop ALL, add some", Options{CapDrop: []string{"all"}, CapAdd: []string{"kill", "net_raw"}}, []string{"CAP_KILL", "CAP_NET_RAW"}, []string{"CAP_KILL", "CAP_NET_RAW"}},
		{"add ALL", Options{CapAdd: []string{"ALL"}}, all, all},
		{"add ALL, drop some", Options{CapAdd: []string{"ALL"}, CapDrop: []string{"sys_admin"}}, without(all, "CAP_SYS_ADMIN"), without(all, "CAP_SYS_ADMIN")},
		{"privileged", Options{Privileged: true}, all, nil},
		{"privileged ignores add and drop", Options{Privileged: true, CapDrop: []string{"ALL"}, CapAdd: []string{"kill"}}, all, []string{"CAP_KILL"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := mustSpec(t, busyboxConfig(), tc.opts)
			c := s.Process.Capabilities
			if !slices.Equal(c.Bounding, tc.bounding) || !slices.Equal(c.Effective, tc.bounding) || !slices.Equal(c.Permitted, tc.bounding) {
				t.Errorf("root: %+v, want bounding = effective = permitted = %v", c, tc.bounding)
			}
			if len(c.Inheritable) != 0 || len(c.Ambient) != 0 {
				t.Errorf("root: inheritable %v, ambient %v, want none", c.Inheritable, c.Ambient)
			}
			tc.opts.User = "1000"
			c = mustSpec(t, busyboxConfig(), tc.opts).Process.Capabilities
			if !slices.Equal(c.Bounding, tc.bounding) {
				t.Errorf("non-root: bounding %v, want %v", c.Bounding, tc.bounding)
			}
			for _, set := range [][]string{c.Effective, c.Permitted, c.Inheritable, c.Ambient} {
				if !slices.Equal(set, tc.user) {
					t.Errorf("non-root: %+v, want effective = permitted = inheritable = ambient = %v", c, tc.user)
					break
				}
			}
		})
	}
	if len(allCapabilities()) != 41 || !slices.IsSorted(allCapabilities()) || !slices.IsSorted(defaultCapabilities) {
		t.Error("capability lists are not the 41 known, sorted")
	}
}

func TestSpecMounts(t *testing.T) {
	dests := func(s *specs.Spec) []string {
		var d []string
		for _, m := range s.Mounts {
			d = append(d, m.Destination)
		}
		return d
	}
	defaults := []string{"/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/sys/fs/cgroup"}

	s := mustSpec(t, busyboxConfig(), Options{})
	if !slices.Equal(dests(s), defaults) {
		t.Errorf("default mounts %q, want %q", dests(s), defaults)
	}
	if sys := s.Mounts[5]; sys.Type != "sysfs" || !slices.Contains(sys.Options, "ro") {
		t.Errorf("/sys = %+v, want read-only sysfs", sys)
	}

	s = mustSpec(t, busyboxConfig(), Options{NetworkHost: true})
	if !slices.Equal(dests(s), defaults[:6]) {
		t.Errorf("--network host mounts %q, want no cgroup mount", dests(s))
	}
	if sys := s.Mounts[5]; sys.Type != "bind" || sys.Source != "/sys" || !slices.Equal(sys.Options, []string{"rbind", "nosuid", "noexec", "nodev", "ro"}) {
		t.Errorf("--network host /sys = %+v, want a read-only rbind of the host's", sys)
	}

	s = mustSpec(t, busyboxConfig(), Options{Privileged: true})
	for _, m := range s.Mounts[5:] {
		if slices.Contains(m.Options, "ro") || !slices.Contains(m.Options, "rw") {
			t.Errorf("--privileged %s options %q, want rw", m.Destination, m.Options)
		}
	}

	s = mustSpec(t, busyboxConfig(), Options{
		Tmpfs:   []string{"/dev/shm:size=1g", "/tmp"},
		Volumes: []string{"/host/a:/data/sub:ro", "/host/sys:/sys", "/host/b:/data", "/host/c:/z"},
	})
	want := []string{"/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/sys/fs/cgroup", "/tmp", "/data", "/z", "/data/sub"}
	if !slices.Equal(dests(s), want) {
		t.Errorf("mounts %q, want %q", dests(s), want)
	}
	if m := s.Mounts[3]; m.Type != "tmpfs" || !slices.Contains(m.Options, "size=1g") {
		t.Errorf("--tmpfs /dev/shm did not replace the default: %+v", m)
	}
	if m := s.Mounts[5]; m.Type != "bind" || m.Source != "/host/sys" {
		t.Errorf("-v at /sys did not replace the default: %+v", m)
	}
	if m := s.Mounts[10]; m.Source != "/host/a" || !slices.Equal(m.Options, []string{"rbind", "rprivate", "ro", "rro"}) {
		t.Errorf("-v /host/a = %+v", m)
	}
}

func TestSpecLinux(t *testing.T) {
	s := mustSpec(t, busyboxConfig(), Options{Annotations: map[string]string{"a": "b"}, ReadOnly: true, Tty: true, NoNewPrivileges: true})
	var ns []specs.LinuxNamespaceType
	for _, n := range s.Linux.Namespaces {
		ns = append(ns, n.Type)
	}
	if want := []specs.LinuxNamespaceType{"pid", "ipc", "uts", "mount", "user", "cgroup", "network"}; !slices.Equal(ns, want) {
		t.Errorf("namespaces %v, want %v", ns, want)
	}
	if len(s.Linux.MaskedPaths) != 11 || len(s.Linux.ReadonlyPaths) != 6 {
		t.Errorf("masked %v, read-only %v", s.Linux.MaskedPaths, s.Linux.ReadonlyPaths)
	}
	if len(s.Linux.UIDMappings) != 0 || len(s.Linux.GIDMappings) != 0 {
		t.Error("id mappings set; they are the caller's")
	}
	if !s.Root.Readonly || s.Root.Path != "rootfs" || !s.Process.Terminal || !s.Process.NoNewPrivileges || s.Annotations["a"] != "b" || s.Version != specs.Version {
		t.Errorf("root %+v, terminal %v, no_new_privs %v, annotations %v, version %s",
			s.Root, s.Process.Terminal, s.Process.NoNewPrivileges, s.Annotations, s.Version)
	}
	want := map[string][2]int64{"/dev/null": {1, 3}, "/dev/zero": {1, 5}, "/dev/full": {1, 7}, "/dev/random": {1, 8}, "/dev/urandom": {1, 9}, "/dev/tty": {5, 0}}
	if len(s.Linux.Devices) != len(want) {
		t.Errorf("devices %+v", s.Linux.Devices)
	}
	for _, d := range s.Linux.Devices {
		if mm, ok := want[d.Path]; !ok || d.Type != "c" || d.Major != mm[0] || d.Minor != mm[1] ||
			d.FileMode == nil || *d.FileMode != 0o666 || d.UID == nil || *d.UID != 0 || d.GID == nil || *d.GID != 0 {
			t.Errorf("device %+v", d)
		}
	}

	s = mustSpec(t, busyboxConfig(), Options{Privileged: true, NetworkHost: true})
	if len(s.Linux.MaskedPaths) != 0 || len(s.Linux.ReadonlyPaths) != 0 {
		t.Errorf("--privileged: masked %v, read-only %v", s.Linux.MaskedPaths, s.Linux.ReadonlyPaths)
	}
	if slices.ContainsFunc(s.Linux.Namespaces, func(n specs.LinuxNamespace) bool { return n.Type == specs.NetworkNamespace }) {
		t.Error("--network host: a network namespace")
	}
}

func TestSpecRlimits(t *testing.T) {
	s := mustSpec(t, busyboxConfig(), Options{})
	if len(s.Process.Rlimits) != 0 {
		t.Errorf("default rlimits %+v, want none", s.Process.Rlimits)
	}
	s = mustSpec(t, busyboxConfig(), Options{Ulimits: []string{"nofile=10:20", "core=0", "nofile=30"}})
	want := []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 30, Hard: 30}, {Type: "RLIMIT_CORE"}}
	if !slices.Equal(s.Process.Rlimits, want) {
		t.Errorf("rlimits %+v, want %+v", s.Process.Rlimits, want)
	}
}

// BuildSpec must not keep or change the caller's slices and maps.
func TestSpecDoesNotAlias(t *testing.T) {
	img := busyboxConfig()
	ann := map[string]string{"a": "b"}
	s := mustSpec(t, img, Options{Annotations: ann})
	s.Process.Env[0] = "changed"
	s.Annotations["a"] = "changed"
	s.Linux.MaskedPaths[0] = "changed"
	if img.Env[0] == "changed" || ann["a"] == "changed" || defaultMaskedPaths[0] == "changed" {
		t.Error("the spec shares memory with its inputs or the defaults")
	}
}

var goldenCases = []struct {
	name string
	img  ImageConfig
	opts Options
}{
	{"busybox", busyboxConfig(), Options{ContainerID: testID}},
	{"busybox-options", busyboxConfig(), Options{
		Command:         []string{"sh", "-c", "id"},
		Env:             []string{"GREETING=hello", "PATH=/bin"},
		Workdir:         "/home/user",
		User:            "user",
		Hostname:        "box",
		ContainerID:     testID,
		ReadOnly:        true,
		Volumes:         []string{"/srv/data:/data:ro,nosuid", "/srv/cache:/var/cache:rslave"},
		Tmpfs:           []string{"/tmp:size=64m,mode=1777"},
		CapAdd:          []string{"net_raw"},
		CapDrop:         []string{"CAP_CHOWN"},
		Ulimits:         []string{"nofile=1024:4096", "core=0"},
		NoNewPrivileges: true,
		Tty:             true,
		Annotations:     map[string]string{"org.opencontainers.image.title": "busybox"},
	}},
	{"busybox-privileged-host", ImageConfig{Entrypoint: []string{"/bin/echo"}, Cmd: []string{"hi"}, WorkingDir: "/root"}, Options{
		ContainerID: testID,
		Privileged:  true,
		NetworkHost: true,
		Init:        true,
		InitPath:    "/dev/init",
	}},
}

func TestSpecGolden(t *testing.T) {
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := BuildSpec(tc.img, tc.opts, busyboxRoot, nil)
			if err != nil {
				t.Fatal(err)
			}
			got, err := json.MarshalIndent(s, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			file := filepath.Join("testdata", "golden", tc.name+".json")
			if *updateGolden {
				if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(file, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatalf("%v (run go test -run TestSpecGolden -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("spec differs from %s (run with -update after checking the change):\n%s", file, got)
			}
		})
	}
}

// FuzzBuildSpec feeds BuildSpec arbitrary image configs, account files and
// flag values. Lists are newline-separated; flags' bits are Tty, ReadOnly,
// Privileged, NetworkHost, Init, NoNewPrivileges, and whether entrypoint
// is given at all.
func FuzzBuildSpec(f *testing.F) {
	f.Add([]byte(`{"Env":["PATH=/bin"],"Cmd":["/bin/sh"]}`), "root:x:0:0:root:/root:/bin/sh\n", "root:x:0:\n",
		"", "", "", "", "", "", "", "", "", "", uint16(0))
	f.Add([]byte(`{"User":"1000:1000","Entrypoint":["/bin/echo","entry"],"Cmd":["x"],"WorkingDir":"/data/work"}`),
		"user:x:1000:1000::/home/user:/bin/sh\n", "wheel:x:10:user\n",
		"user", "[\"/bin/sh\",\"-c\"]", "/w", "A=1\nB", "id", "/a:/b:ro\n/c:/b/d", "/tmp:size=1m", "nofile=1:2", "net_admin\nALL", "chown", uint16(0x7f))
	f.Fuzz(func(t *testing.T, config []byte, passwd, group, user, entrypoint, workdir, env, command, volumes, tmpfs, ulimits, capAdd, capDrop string, flags uint16) {
		var img ImageConfig
		if json.Unmarshal(config, &img) != nil {
			return
		}
		lines := func(s string) []string {
			if s == "" {
				return nil
			}
			return strings.Split(s, "\n")
		}
		opts := Options{
			Command: lines(command), Env: lines(env), Workdir: workdir, User: user,
			ContainerID: testID, Volumes: lines(volumes), Tmpfs: lines(tmpfs), Ulimits: lines(ulimits),
			CapAdd: lines(capAdd), CapDrop: lines(capDrop),
			Tty: flags&1 != 0, ReadOnly: flags&2 != 0, Privileged: flags&4 != 0, NetworkHost: flags&8 != 0,
			Init: flags&16 != 0, InitPath: "/init", NoNewPrivileges: flags&32 != 0,
		}
		if flags&64 != 0 {
			opts.Entrypoint = &entrypoint
		}
		root := fakeRoot(map[string]string{"/etc/passwd": passwd, "/etc/group": group})
		s, err := BuildSpec(img, opts, root, func(k string) (string, bool) { return "host-" + k, len(k)%2 == 0 })
		if err != nil {
			if err.Error() == "" || strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
			return
		}
		if len(s.Process.Args) == 0 {
			t.Error("no error, but no args")
		}
		if !path.IsAbs(s.Process.Cwd) {
			t.Errorf("cwd %q is not absolute", s.Process.Cwd)
		}
		seen := map[string]bool{}
		for _, m := range s.Mounts {
			if !path.IsAbs(m.Destination) || m.Destination == "/" || seen[m.Destination] {
				t.Errorf("bad or duplicate mount destination %q", m.Destination)
			}
			seen[m.Destination] = true
			if m.Type == "bind" && !path.IsAbs(m.Source) {
				t.Errorf("bind source %q is not absolute", m.Source)
			}
		}
		if _, err := json.Marshal(s); err != nil {
			t.Errorf("spec does not marshal: %v", err)
		}
	})
}
