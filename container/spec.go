package container

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// defaultPath is the PATH a container gets when its image sets none (docker's).
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// hostNameMax is the kernel's HOST_NAME_MAX: sethostname refuses longer names.
const hostNameMax = 64

// ImageConfig is what a container's process takes from its image's
// config (image-spec's v1.ImageConfig, same names). urun-init links this
// package: its own type keeps image-spec, and go-digest's regexps compiled
// at package init, out of every container start.
type ImageConfig struct {
	User       string
	Env        []string
	Entrypoint []string
	Cmd        []string
	WorkingDir string
	// Healthcheck is the config's HEALTHCHECK as written (nil: none);
	// ParseImageHealthcheck reads it.
	Healthcheck json.RawMessage
}

// BuildSpec produces the OCI runtime config for a rootless container as
// podman 4 would, from the image's config and the command line. It reads
// only the image's /etc/passwd and /etc/group (through readFile) and the
// host variables -e KEY names (through lookupEnv). The id mappings are
// left for the caller.
func BuildSpec(img ImageConfig, opts Options, readFile ReadFile, lookupEnv LookupEnv) (*specs.Spec, error) {
	args, err := processArgs(img, opts)
	if err != nil {
		return nil, err
	}
	cwd, err := workingDir(img, opts)
	if err != nil {
		return nil, err
	}
	hostname := opts.Hostname
	if hostname == "" {
		hostname = opts.ContainerID[:min(12, len(opts.ContainerID))]
	}
	if len(hostname) > hostNameMax {
		return nil, fmt.Errorf("--hostname %q is longer than %d characters, the kernel's limit", hostname, hostNameMax)
	}
	userSpec := opts.User
	if userSpec == "" {
		userSpec = img.User
	}
	user, err := resolveUser(userSpec, readFile)
	if err != nil {
		return nil, err
	}
	extraGids, err := groupAdd(opts.GroupAdd, readFile)
	if err != nil {
		return nil, err
	}
	for _, g := range extraGids {
		if !slices.Contains(user.AdditionalGids, g) {
			user.AdditionalGids = append(user.AdditionalGids, g)
		}
	}
	shm, err := shmSize(opts.ShmSize)
	if err != nil {
		return nil, err
	}
	sysctl, err := ParseSysctls(opts.Sysctls, opts.NetworkHost, opts.IPCHost)
	if err != nil {
		return nil, err
	}
	env, err := buildEnv(img.Env, opts.Env, lookupEnv)
	if err != nil {
		return nil, err
	}
	env.setDefault("PATH", defaultPath)
	if opts.Tty {
		env.setDefault("TERM", "xterm")
	}
	if hostname != "" {
		env.setDefault("HOSTNAME", hostname)
	}
	home := user.Home
	if home == "" {
		home = "/"
	}
	env.setDefault("HOME", home)
	// Tools detect a container by it (podman sets "podman"; systemd
	// knows "oci" as a container of another engine).
	env.setDefault("container", "oci")
	caps, err := capabilitySets(opts, user.UID == 0)
	if err != nil {
		return nil, err
	}
	rlimits, err := buildRlimits(opts.Ulimits, opts.NofileHard)
	if err != nil {
		return nil, err
	}
	mounts, err := buildMounts(opts)
	if err != nil {
		return nil, err
	}
	spec := &specs.Spec{
		Version:  specs.Version,
		Hostname: hostname,
		Root:     &specs.Root{Path: "rootfs", Readonly: opts.ReadOnly},
		Process: &specs.Process{
			Terminal: opts.Tty,
			User: specs.User{
				UID: user.UID, GID: user.GID, AdditionalGids: user.AdditionalGids,
			},
			Args:            args,
			Env:             env.vars,
			Cwd:             cwd,
			Capabilities:    caps,
			Rlimits:         rlimits,
			NoNewPrivileges: opts.NoNewPrivileges,
		},
		Mounts: mounts,
		Linux: &specs.Linux{
			Namespaces: namespaces(opts),
			Devices:    defaultDevices(),
		},
	}
	spec.Linux.Sysctl = sysctl
	if shm != "" && opts.IPCHost {
		return nil, errors.New("--shm-size with --ipc host: the container uses the host's /dev/shm; drop one of them")
	}
	if shm != "" {
		for i, m := range spec.Mounts {
			if m.Destination == "/dev/shm" && m.Type == "tmpfs" {
				spec.Mounts[i].Options = append(slices.DeleteFunc(slices.Clone(m.Options), func(o string) bool {
					return strings.HasPrefix(o, "size=")
				}), shm)
			}
		}
	}
	for _, s := range opts.Devices {
		d, err := ParseDevice(s)
		if err != nil {
			return nil, err
		}
		if slices.ContainsFunc(spec.Mounts, func(m specs.Mount) bool { return m.Destination == d.Container }) {
			return nil, fmt.Errorf("--device %s: %s is mounted already; give the device its own path", s, d.Container)
		}
		spec.Mounts = append(spec.Mounts, d.Mount())
	}
	if !opts.Privileged {
		spec.Linux.MaskedPaths = slices.Clone(defaultMaskedPaths)
		spec.Linux.ReadonlyPaths = slices.Clone(defaultReadonlyPaths)
	}
	if len(opts.Annotations) > 0 {
		spec.Annotations = maps.Clone(opts.Annotations)
	}
	return spec, nil
}

// processArgs applies docker's rules: the entrypoint (given or the
// image's) followed by the command (given or the image's), except that
// overriding the entrypoint also drops the image's Cmd, which was written
// for the old entrypoint.
func processArgs(img ImageConfig, opts Options) ([]string, error) {
	entrypoint := img.Entrypoint
	cmd := img.Cmd
	if opts.Entrypoint != nil {
		entrypoint = parseEntrypoint(*opts.Entrypoint)
		cmd = nil
	}
	if len(opts.Command) > 0 {
		cmd = opts.Command
	}
	args := slices.Concat(entrypoint, cmd)
	if len(args) == 0 {
		return nil, errors.New("no command: the image has no ENTRYPOINT or CMD; give one after the image name")
	}
	if opts.Init {
		if opts.InitPath == "" {
			return nil, errors.New("--init: no init program path given (Options.InitPath is empty)")
		}
		args = slices.Concat([]string{opts.InitPath, "--"}, args)
	}
	return args, nil
}

// parseEntrypoint reads --entrypoint: a JSON array as podman accepts it,
// or else one program path (docker's meaning, so "/bin/sh -c" is a path
// with a space, not two words). A value that only looks like JSON, such
// as "[" (test(1)'s other name), is a path.
func parseEntrypoint(s string) []string {
	if s == "" {
		return nil
	}
	if strings.HasPrefix(s, "[") {
		var list []string
		if err := json.Unmarshal([]byte(s), &list); err == nil {
			return list
		}
	}
	return []string{s}
}

// workingDir is -w, else the image's WorkingDir, else "/".
func workingDir(img ImageConfig, opts Options) (string, error) {
	switch {
	case opts.Workdir != "":
		if !path.IsAbs(opts.Workdir) {
			return "", fmt.Errorf("-w %q: the working directory must be an absolute path, starting with /", opts.Workdir)
		}
		return path.Clean(opts.Workdir), nil
	case img.WorkingDir != "":
		if !path.IsAbs(img.WorkingDir) {
			return "", fmt.Errorf("the image's WorkingDir %q is not an absolute path; give one with -w", img.WorkingDir)
		}
		return path.Clean(img.WorkingDir), nil
	}
	return "/", nil
}

// envList is an environment that keeps the order variables were first
// set in, with later values replacing earlier ones in place.
type envList struct {
	vars  []string
	index map[string]int
}

func envKey(kv string) string {
	k, _, _ := strings.Cut(kv, "=")
	return k
}

func (e *envList) set(kv string) {
	k := envKey(kv)
	if i, ok := e.index[k]; ok {
		e.vars[i] = kv
		return
	}
	e.index[k] = len(e.vars)
	e.vars = append(e.vars, kv)
}

func (e *envList) setDefault(key, value string) {
	if _, ok := e.index[key]; !ok {
		e.set(key + "=" + value)
	}
}

// buildEnv is the image's environment with -e applied over it. -e KEY
// copies the host's value, and leaves the variable alone when the host has
// none, as podman does (docker would unset it).
func buildEnv(image, given []string, lookupEnv LookupEnv) (*envList, error) {
	e := &envList{index: map[string]int{}}
	for _, kv := range image {
		e.set(kv)
	}
	for _, kv := range given {
		key, _, hasValue := strings.Cut(kv, "=")
		switch {
		case key == "":
			return nil, fmt.Errorf("invalid -e %q: empty variable name (want KEY=VALUE, or KEY to copy it from urun's environment)", kv)
		case strings.ContainsRune(kv, 0):
			return nil, fmt.Errorf("invalid -e %q: contains a NUL byte, which no environment can hold", kv)
		case hasValue:
			e.set(kv)
		case lookupEnv != nil:
			if v, ok := lookupEnv(key); ok {
				e.set(key + "=" + v)
			}
		}
	}
	return e, nil
}

// buildRlimits parses --ulimit values; a later limit of the same type
// replaces an earlier one. Without a nofile limit, nofileHard (when not
// 0) becomes both its soft and hard limit, as podman raises the soft
// limit of a rootless container to the hard one.
func buildRlimits(ulimits []string, nofileHard uint64) ([]specs.POSIXRlimit, error) {
	var out []specs.POSIXRlimit
	for _, s := range ulimits {
		l, err := ParseUlimit(s)
		if err != nil {
			return nil, err
		}
		if i := slices.IndexFunc(out, func(o specs.POSIXRlimit) bool { return o.Type == l.Type }); i >= 0 {
			out[i] = l
		} else {
			out = append(out, l)
		}
	}
	if nofileHard != 0 && !slices.ContainsFunc(out, func(o specs.POSIXRlimit) bool { return o.Type == "RLIMIT_NOFILE" }) {
		out = append(out, specs.POSIXRlimit{Type: "RLIMIT_NOFILE", Soft: nofileHard, Hard: nofileHard})
	}
	return out, nil
}

// defaultMounts are podman's rootless mounts. --network host binds the
// host's /sys instead of mounting sysfs: sysfs may only be mounted by the
// user namespace owning the network namespace. It leaves out the cgroup
// mount too, which would then show the host's cgroup tree.
func defaultMounts(opts Options) []specs.Mount {
	access := "ro"
	if opts.Privileged {
		access = "rw"
	}
	m := []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}},
		{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
		{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
	}
	if opts.PIDHost {
		// proc cannot be mounted for a pid namespace the user namespace
		// does not own: the host's is bound, as podman's --pid host.
		m[0] = specs.Mount{Destination: "/proc", Type: "bind", Source: "/proc", Options: []string{"rbind", "nosuid", "noexec", "nodev"}}
	}
	if opts.IPCHost {
		// The host's IPC: its /dev/shm, bound. mqueue cannot be mounted
		// for an ipc namespace the user namespace does not own, and the
		// host need not have it mounted: no /dev/mqueue then.
		m[3] = specs.Mount{Destination: "/dev/shm", Type: "bind", Source: "/dev/shm", Options: []string{"rbind", "nosuid", "noexec", "nodev"}}
		m = slices.Delete(m, 4, 5)
	}
	if opts.ReadOnly && !opts.NoReadOnlyTmpfs {
		// podman's --read-only-tmpfs: programs need somewhere to write.
		for _, d := range []string{"/tmp", "/var/tmp", "/run"} {
			m = append(m, specs.Mount{Destination: d, Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev", "mode=1777"}})
		}
	}
	if opts.NetworkHost {
		return append(m, specs.Mount{Destination: "/sys", Type: "bind", Source: "/sys", Options: []string{"rbind", "nosuid", "noexec", "nodev", access}})
	}
	return append(m,
		specs.Mount{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", access}},
		specs.Mount{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"nosuid", "noexec", "nodev", "relatime", access}},
	)
}

// buildMounts is the default mounts, then --tmpfs and -v. A user mount
// at a default's destination takes that default's place; two user mounts
// at one destination are an error, as in podman. User mounts are ordered
// by depth (stably), so -v a:/x/y -v b:/x does not hide /x/y under /x.
func buildMounts(opts Options) ([]specs.Mount, error) {
	type userMount struct {
		m    specs.Mount
		flag string
	}
	var user []userMount
	for _, s := range opts.Tmpfs {
		m, err := ParseTmpfs(s)
		if err != nil {
			return nil, err
		}
		user = append(user, userMount{m, "--tmpfs " + s})
	}
	for _, s := range opts.Volumes {
		m, err := ParseVolume(s)
		if err != nil {
			return nil, err
		}
		user = append(user, userMount{m, "-v " + s})
	}
	for _, s := range opts.Mounts {
		m, err := ParseMount(s)
		if err != nil {
			return nil, err
		}
		user = append(user, userMount{m, "--mount " + s})
	}
	seen := map[string]string{}
	for _, u := range user {
		if err := checkProcMount(u.m); err != nil {
			return nil, fmt.Errorf("%s: %w", u.flag, err)
		}
		if prev, ok := seen[u.m.Destination]; ok {
			return nil, fmt.Errorf("two mounts at %s (%s and %s); give each its own destination", u.m.Destination, prev, u.flag)
		}
		seen[u.m.Destination] = u.flag
	}
	slices.SortStableFunc(user, func(a, b userMount) int {
		return pathDepth(a.m.Destination) - pathDepth(b.m.Destination)
	})
	mounts := defaultMounts(opts)
	for _, u := range user {
		i := slices.IndexFunc(mounts, func(m specs.Mount) bool { return m.Destination == u.m.Destination })
		if i >= 0 {
			mounts[i] = u.m
		} else {
			mounts = append(mounts, u.m)
		}
	}
	return mounts, nil
}

// pathDepth counts the components of a clean absolute path.
func pathDepth(p string) int {
	return strings.Count(p, "/")
}

// namespaces are all of them; --network host shares the host's network.
// Namespaces are the namespaces BuildSpec gives a container of opts:
// what decides its init's clone before the spec is built (StartEarly).
func Namespaces(opts Options) []specs.LinuxNamespace { return namespaces(opts) }

func namespaces(opts Options) []specs.LinuxNamespace {
	var ns []specs.LinuxNamespace
	if !opts.PIDHost {
		ns = append(ns, specs.LinuxNamespace{Type: specs.PIDNamespace})
	}
	if !opts.IPCHost {
		ns = append(ns, specs.LinuxNamespace{Type: specs.IPCNamespace})
	}
	ns = append(ns, []specs.LinuxNamespace{{Type: specs.UTSNamespace},
		{Type: specs.MountNamespace}, {Type: specs.UserNamespace}, {Type: specs.CgroupNamespace}}...)
	if !opts.NetworkHost {
		ns = append(ns, specs.LinuxNamespace{Type: specs.NetworkNamespace})
	}
	return ns
}

// defaultMaskedPaths and defaultReadonlyPaths are podman's: kernel information a
// container should not read, and kernel knobs it should not turn.
var (
	defaultMaskedPaths = []string{
		"/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
		"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
		"/proc/scsi", "/sys/firmware", "/sys/fs/selinux", "/sys/dev/block",
	}
	defaultReadonlyPaths = []string{
		"/proc/asound", "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
		"/proc/sysrq-trigger",
	}
)

// defaultDevices are the device nodes every container gets. The init
// bind-mounts the host's nodes onto them, since a rootless process cannot
// mknod.
func defaultDevices() []specs.LinuxDevice {
	nodes := []struct {
		name         string
		major, minor int64
	}{
		{"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7},
		{"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0},
	}
	devs := make([]specs.LinuxDevice, len(nodes))
	for i, n := range nodes {
		mode := fs.FileMode(0o666)
		var uid, gid uint32
		devs[i] = specs.LinuxDevice{
			Path: "/dev/" + n.name, Type: "c", Major: n.major, Minor: n.minor,
			FileMode: &mode, UID: &uid, GID: &gid,
		}
	}
	return devs
}

// EnsureDefaultDevices adds the devices every OCI container has (runtime-
// spec "Default Devices") to a spec from a bundle that does not list them.
func EnsureDefaultDevices(spec *specs.Spec) {
	if spec.Linux == nil {
		spec.Linux = &specs.Linux{}
	}
	have := map[string]bool{}
	for _, d := range spec.Linux.Devices {
		have[path.Clean(d.Path)] = true
	}
	for _, m := range spec.Mounts {
		have[path.Clean(m.Destination)] = true
	}
	for _, d := range defaultDevices() {
		if !have[d.Path] {
			spec.Linux.Devices = append(spec.Linux.Devices, d)
		}
	}
}
