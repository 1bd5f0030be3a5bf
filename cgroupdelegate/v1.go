package cgroupdelegate

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/moby/sys/mountinfo"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Root mode on a cgroup v1 (or hybrid) host: urun as real root — the OCI
// face under containerd's CRI, CRI-O or rootful podman — gives each
// container a cgroup in every v1 hierarchy it uses, as runc does. The
// devices controller matters most: without it a container with
// CAP_MKNOD (in containerd's and docker's default set) opens the host's
// disks through a node it makes. The container package moves the init
// and exec'd processes into the directories and removes them at delete.

// v1Controllers are the hierarchies a container gets a directory in
// (cpuset is left out: a new cpuset cgroup has no cpus until one is
// written, and urun does not apply cpuset limits as root yet).
var v1Controllers = []string{"devices", "freezer", "memory", "pids", "cpu", "cpuacct", "blkio"}

// V1Write is one file to write in the container's directory of a v1
// hierarchy, and the config.json field it comes from.
type V1Write struct {
	Controller, File, Value, Field string
}

// defaultV1Devices are allowed after the config's rules, as runc allows
// them (libcontainer/specconv AllowedDevices): creating any node (m),
// and the nodes every container has.
var defaultV1Devices = []string{
	"c *:* m", "b *:* m",
	"c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm", // null zero full random urandom
	"c 5:0 rwm", "c 5:2 rwm", "c 136:* rwm", // tty ptmx pts
}

// V1Plan converts the config's resources to v1 files, in order: the
// device list starts from "deny all". A limit urun cannot apply this way
// is an error naming its field, never dropped. Pure.
func V1Plan(spec *specs.Spec) ([]V1Write, error) {
	w := []V1Write{{"devices", "devices.deny", "a", "linux.resources.devices"}}
	var r specs.LinuxResources
	if spec.Linux != nil && spec.Linux.Resources != nil {
		r = *spec.Linux.Resources
	}
	for i, d := range r.Devices {
		file := "devices.deny"
		if d.Allow {
			file = "devices.allow"
		}
		rule, err := deviceRule(d.Type, d.Major, d.Minor, d.Access)
		if err != nil {
			return nil, fmt.Errorf("linux.resources.devices[%d]: %w", i, err)
		}
		w = append(w, V1Write{"devices", file, rule, fmt.Sprintf("linux.resources.devices[%d]", i)})
	}
	if spec.Linux != nil {
		for i, d := range spec.Linux.Devices {
			if d.Type == "p" {
				continue // a FIFO: no device cgroup rule
			}
			major, minor := d.Major, d.Minor
			rule, err := deviceRule(d.Type, &major, &minor, "rwm")
			if err != nil {
				return nil, fmt.Errorf("linux.devices[%d]: %w", i, err)
			}
			w = append(w, V1Write{"devices", "devices.allow", rule, fmt.Sprintf("linux.devices[%d]", i)})
		}
	}
	for _, rule := range defaultV1Devices {
		w = append(w, V1Write{"devices", "devices.allow", rule, "(default devices)"})
	}
	limits, err := V1LimitPlan(&r)
	if err != nil {
		return nil, err
	}
	return append(w, limits...), nil
}

// V1LimitPlan converts the limits of resources (all but devices) to v1
// files: what create writes after the device rules, and what `update
// --resources` writes into a running container's cgroup. Pure.
func V1LimitPlan(r *specs.LinuxResources) ([]V1Write, error) {
	var w []V1Write
	if m := r.Memory; m != nil {
		if m.Limit != nil {
			w = append(w, V1Write{"memory", "memory.limit_in_bytes", strconv.FormatInt(*m.Limit, 10), "linux.resources.memory.limit"})
		}
		if m.Reservation != nil {
			w = append(w, V1Write{"memory", "memory.soft_limit_in_bytes", strconv.FormatInt(*m.Reservation, 10), "linux.resources.memory.reservation"})
		}
		if m.Swap != nil {
			w = append(w, V1Write{"memory", "memory.memsw.limit_in_bytes", strconv.FormatInt(*m.Swap, 10), "linux.resources.memory.swap"})
		}
		if m.Swappiness != nil {
			w = append(w, V1Write{"memory", "memory.swappiness", strconv.FormatUint(*m.Swappiness, 10), "linux.resources.memory.swappiness"})
		}
		if m.DisableOOMKiller != nil && *m.DisableOOMKiller {
			w = append(w, V1Write{"memory", "memory.oom_control", "1", "linux.resources.memory.disableOOMKiller"})
		}
		// memory.kernel is deprecated and "may be ignored by runtimes"
		// (runtime-spec; runc ignores it too); kernelTCP is not.
		if m.KernelTCP != nil {
			return nil, errors.New("linux.resources.memory.kernelTCP is not supported")
		}
	}
	if c := r.CPU; c != nil {
		if c.Shares != nil && *c.Shares != 0 {
			w = append(w, V1Write{"cpu", "cpu.shares", strconv.FormatUint(*c.Shares, 10), "linux.resources.cpu.shares"})
		}
		if c.Period != nil && *c.Period != 0 {
			w = append(w, V1Write{"cpu", "cpu.cfs_period_us", strconv.FormatUint(*c.Period, 10), "linux.resources.cpu.period"})
		}
		if c.Quota != nil && *c.Quota != 0 {
			w = append(w, V1Write{"cpu", "cpu.cfs_quota_us", strconv.FormatInt(*c.Quota, 10), "linux.resources.cpu.quota"})
		}
		switch {
		case c.Cpus != "" || c.Mems != "":
			return nil, errors.New("linux.resources.cpu.cpus and mems are not supported as root on cgroup v1 yet; fix: remove them")
		case c.RealtimeRuntime != nil || c.RealtimePeriod != nil:
			return nil, errors.New("linux.resources.cpu.realtimeRuntime and realtimePeriod are not supported")
		}
	}
	if p := r.Pids; p != nil && p.Limit != nil {
		v := "max"
		if p.Limit != nil && *p.Limit > 0 {
			v = strconv.FormatInt(*p.Limit, 10)
		}
		w = append(w, V1Write{"pids", "pids.max", v, "linux.resources.pids.limit"})
	}
	if b := r.BlockIO; b != nil {
		if b.Weight != nil {
			w = append(w, V1Write{"blkio", "blkio.weight", strconv.FormatUint(uint64(*b.Weight), 10), "linux.resources.blockIO.weight"})
		}
		if b.LeafWeight != nil || len(b.WeightDevice)+len(b.ThrottleReadBpsDevice)+len(b.ThrottleWriteBpsDevice)+len(b.ThrottleReadIOPSDevice)+len(b.ThrottleWriteIOPSDevice) > 0 {
			return nil, errors.New("linux.resources.blockIO: only weight is supported as root on cgroup v1; fix: remove the per-device settings")
		}
	}
	switch {
	case len(r.HugepageLimits) > 0:
		return nil, errors.New("linux.resources.hugepageLimits are not supported as root on cgroup v1 yet")
	case r.Network != nil:
		return nil, errors.New("linux.resources.network is not supported")
	case len(r.Rdma) > 0:
		return nil, errors.New("linux.resources.rdma is not supported")
	case len(r.Unified) > 0:
		return nil, errors.New("linux.resources.unified needs cgroup v2, and this host's controllers are on cgroup v1")
	}
	return w, nil
}

// deviceRule is one devices.allow/deny line: "TYPE MAJOR:MINOR ACCESS".
func deviceRule(typ string, major, minor *int64, access string) (string, error) {
	switch typ {
	case "", "a":
		return "a", nil
	case "c", "b":
	case "u":
		typ = "c"
	default:
		return "", fmt.Errorf("device type %q: want a, b, c or u", typ)
	}
	num := func(n *int64) string {
		if n == nil || *n < 0 {
			return "*"
		}
		return strconv.FormatInt(*n, 10)
	}
	if access == "" {
		access = "rwm"
	}
	if strings.Trim(access, "rwm") != "" {
		return "", fmt.Errorf("access %q: want letters of rwm", access)
	}
	return fmt.Sprintf("%s %s:%s %s", typ, num(major), num(minor), access), nil
}

// V1Path is the container's directory below each hierarchy's root:
// linux.cgroupsPath (systemd's "slice:prefix:name" form becomes the path
// systemd would use), or /urun/ID when the config gives none.
func V1Path(id, cgroupsPath string) (string, error) {
	p := cgroupsPath
	switch {
	case p == "":
		p = "/urun/" + id
	case strings.Count(p, ":") == 2:
		f := strings.SplitN(p, ":", 3)
		slice, err := expandSlice(f[0])
		if err != nil {
			return "", fmt.Errorf("linux.cgroupsPath %q: %w", cgroupsPath, err)
		}
		p = filepath.Join(slice, f[1]+"-"+f[2]+".scope")
	case strings.Contains(p, ":"):
		return "", fmt.Errorf("linux.cgroupsPath %q: want a path, or systemd's slice:prefix:name", cgroupsPath)
	}
	p = filepath.Clean("/" + p)
	if p == "/" {
		return "", fmt.Errorf("linux.cgroupsPath %q is the root cgroup; fix: give the container a cgroup of its own", cgroupsPath)
	}
	return p, nil
}

// expandSlice turns "a-b.slice" into "/a.slice/a-b.slice" (systemd's
// nesting of slice names); "" and "-.slice" are the root.
func expandSlice(s string) (string, error) {
	if s == "" || s == "-.slice" {
		return "/", nil
	}
	name, ok := strings.CutSuffix(s, ".slice")
	if !ok || strings.Contains(name, "/") || name == "" {
		return "", fmt.Errorf("%q is not a systemd slice name", s)
	}
	path, prefix := "/", ""
	for _, part := range strings.Split(name, "-") {
		if part == "" {
			return "", fmt.Errorf("%q is not a systemd slice name", s)
		}
		prefix += part
		path = filepath.Join(path, prefix+".slice")
		prefix += "-"
	}
	return path, nil
}

// RootV1 reports whether urun, as real root here, confines containers
// through cgroup v1: this process is root in the host's user namespace
// and /sys/fs/cgroup holds v1 hierarchies (a v1 or hybrid host).
func RootV1() bool {
	var st unix.Statfs_t
	return os.Geteuid() == 0 && unix.Statfs(cgroupRoot, &st) == nil && st.Type != unix.CGROUP2_SUPER_MAGIC
}

// RootV2Refusal is why urun as real root on a cgroup v2 host refuses a
// config with a device list: v2 filters devices with an eBPF program,
// which urun does not load yet; running without it would let the
// container open host devices.
func RootV2Refusal(spec *specs.Spec) error {
	if spec.Linux == nil || spec.Linux.Resources == nil || len(spec.Linux.Resources.Devices) == 0 {
		return nil
	}
	return errors.New("linux.resources.devices: urun does not filter devices on cgroup v2 yet (runc loads an eBPF device program), and without it the container could open host devices; fix: run this container with runc, or on a cgroup v1 host")
}

// SetupV1 makes the container's directory in each v1 hierarchy and
// writes the plan. It returns the directories, for the container's
// processes to join and for delete to remove; on error it removes what
// it made.
func SetupV1(id string, spec *specs.Spec) (dirs []string, err error) {
	plan, err := V1Plan(spec)
	if err != nil {
		return nil, err
	}
	cgroupsPath := ""
	if spec.Linux != nil {
		cgroupsPath = spec.Linux.CgroupsPath
	}
	rel, err := V1Path(id, cgroupsPath)
	if err != nil {
		return nil, err
	}
	mounts, err := v1Mounts()
	if err != nil {
		return nil, err
	}
	at := map[string]string{}
	defer func() {
		if err != nil {
			for i := len(dirs) - 1; i >= 0; i-- {
				os.Remove(dirs[i])
			}
			dirs = nil
		}
	}()
	for _, c := range v1Controllers {
		m, ok := mounts[c]
		if !ok {
			if c == "devices" {
				return nil, errors.New("the devices cgroup v1 hierarchy is not mounted: urun as root cannot confine the container's devices; fix: mount it (mount -t cgroup -o devices cgroup /sys/fs/cgroup/devices)")
			}
			continue
		}
		d := filepath.Join(m, rel)
		if _, seen := at[m]; !seen {
			if err := os.MkdirAll(filepath.Dir(d), 0o755); err != nil {
				return dirs, fmt.Errorf("creating cgroup %s: %w", d, err)
			}
			if err := os.Mkdir(d, 0o755); err != nil {
				if !errors.Is(err, os.ErrExist) {
					return dirs, fmt.Errorf("creating cgroup %s: %w", d, err)
				}
				// An empty one is taken over (a crash's leftover);
				// one with processes is another container's.
				if b, _ := os.ReadFile(filepath.Join(d, "cgroup.procs")); len(b) > 0 {
					return dirs, fmt.Errorf("linux.cgroupsPath: cgroup %s already holds processes (another container's?); fix: give each container its own cgroupsPath", d)
				}
			}
			dirs = append(dirs, d)
		}
		at[m] = d
		at[c] = d
	}
	for _, x := range plan {
		d, ok := at[x.Controller]
		if !ok {
			return dirs, fmt.Errorf("%s needs the %s controller, which is not mounted here", x.Field, x.Controller)
		}
		if err := os.WriteFile(filepath.Join(d, x.File), []byte(x.Value), 0); err != nil {
			return dirs, fmt.Errorf("%s: writing %q to %s: %w", x.Field, x.Value, filepath.Join(d, x.File), err)
		}
	}
	return dirs, nil
}

// v1Mounts maps each v1 controller to its hierarchy's mount point.
func v1Mounts() (map[string]string, error) {
	ms, err := mountinfo.GetMounts(mountinfo.FSTypeFilter("cgroup"))
	if err != nil {
		return nil, fmt.Errorf("reading the cgroup mounts: %w", err)
	}
	out := map[string]string{}
	for _, m := range ms {
		for _, o := range strings.Split(m.VFSOptions, ",") {
			if _, taken := out[o]; !taken {
				out[o] = m.Mountpoint
			}
		}
	}
	return out, nil
}
