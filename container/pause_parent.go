package container

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// errNoCgroup is why pause, resume, update and stats cannot work on a
// container without a cgroup of its own.
func errNoCgroup(id, what string) error {
	return fmt.Errorf("container %s has no cgroup of its own, which %s needs: urun makes one as root on a cgroup v1 or hybrid host (containerd's CRI, rootful podman), and rootless with the user's systemd delegating cgroup v2 (urun run); the rootless OCI face keeps none for a container that outlives urun (docs/CGROUPS.md)", id, what)
}

// dirOf is the container's directory in the hierarchy that holds
// controller (mounted at /sys/fs/cgroup/NAME, NAME the controllers
// joined by commas), or "".
func (c Cgroups) dirOf(controller string) string {
	for _, d := range c {
		for _, n := range strings.Split(filepath.Base(hierarchyOf(d)), ",") {
			if n == controller {
				return d
			}
		}
	}
	return ""
}

// Pause freezes every process of a running container (runc pause):
// the cgroup v1 freezer of its own cgroup (root), or cgroup.freeze of the
// v2 cgroup the user's systemd delegated for it (rootless urun run).
func Pause(root, id string) error { return setFrozen(root, id, true) }

// Resume thaws a paused container (runc resume).
func Resume(root, id string) error { return setFrozen(root, id, false) }

func setFrozen(root, id string, freeze bool) error {
	st, unlock, err := LoadLocked(root, id)
	if err != nil {
		return err
	}
	defer unlock()
	want, from, to := "FROZEN", specs.StateRunning, StatusPaused
	if !freeze {
		want, from, to = "THAWED", StatusPaused, specs.StateRunning
	}
	if st.Status != from {
		return fmt.Errorf("container %s is %s, not %s", id, st.Status, from)
	}
	d := st.Cgroups.dirOf("freezer")
	if d == "" {
		v2, err := ownV2Cgroup(id, st.Pid)
		if err != nil {
			return err
		}
		if err := freezeV2(v2, freeze); err != nil {
			return fmt.Errorf("container %s: %w", id, err)
		}
		st.Status = to
		return st.Save(root)
	}
	f := filepath.Join(d, "freezer.state")
	if err := os.WriteFile(f, []byte(want), 0); err != nil {
		return fmt.Errorf("writing %s to %s: %w", want, f, err)
	}
	// FREEZING until every task stopped; runc retries the same way.
	for deadline := time.Now().Add(5 * time.Second); ; {
		b, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("reading %s: %w", f, err)
		}
		if strings.TrimSpace(string(b)) == want {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("container %s: the freezer did not reach %s within 5 s (it reads %s)", id, want, strings.TrimSpace(string(b)))
		}
		os.WriteFile(f, []byte(want), 0)
		time.Sleep(time.Millisecond)
	}
	st.Status = to
	return st.Save(root)
}

// Stats are a container's cgroup v1 counters, in the shape of runc's
// `events --stats` data (libcontainer/intelrdt-free types.Stats).
type Stats struct {
	CPU    CPUStats    `json:"cpu"`
	Memory MemoryStats `json:"memory"`
	Pids   PidsStats   `json:"pids"`
}

// CPUStats: nanoseconds of CPU time, in total and per CPU.
type CPUStats struct {
	Usage struct {
		Total  uint64   `json:"total"`
		PerCPU []uint64 `json:"percpu,omitempty"`
		Kernel uint64   `json:"kernel"`
		User   uint64   `json:"user"`
	} `json:"usage"`
	Throttling struct {
		Periods          uint64 `json:"periods,omitempty"`
		ThrottledPeriods uint64 `json:"throttledPeriods,omitempty"`
		ThrottledTime    uint64 `json:"throttledTime,omitempty"`
	} `json:"throttling"`
}

// MemoryStats: bytes, as the memory controller counts them.
type MemoryStats struct {
	Cache uint64            `json:"cache,omitempty"`
	Usage MemoryCounter     `json:"usage"`
	Swap  MemoryCounter     `json:"swap"`
	Raw   map[string]uint64 `json:"raw,omitempty"`
}

// MemoryCounter is one memory counter with its limit and peak.
type MemoryCounter struct {
	Limit   uint64 `json:"limit"`
	Usage   uint64 `json:"usage,omitempty"`
	Max     uint64 `json:"max,omitempty"`
	Failcnt uint64 `json:"failcnt"`
}

// PidsStats: processes now, and the limit (0: none).
type PidsStats struct {
	Current uint64 `json:"current,omitempty"`
	Limit   uint64 `json:"limit,omitempty"`
}

// ReadStats reads a running container's counters from its cgroup.
func ReadStats(root, id string) (*Stats, error) {
	st, err := Load(root, id)
	if err != nil {
		return nil, err
	}
	if st.Status != specs.StateRunning && st.Status != StatusPaused {
		return nil, fmt.Errorf("%w: %s", ErrNotRunning, id)
	}
	if len(st.Cgroups) == 0 {
		return nil, errNoCgroup(id, "stats")
	}
	var s Stats
	if d := st.Cgroups.dirOf("cpuacct"); d != "" {
		s.CPU.Usage.Total = readUint(d, "cpuacct.usage")
		for _, f := range strings.Fields(readString(d, "cpuacct.usage_percpu")) {
			n, _ := strconv.ParseUint(f, 10, 64)
			s.CPU.Usage.PerCPU = append(s.CPU.Usage.PerCPU, n)
		}
		// cpuacct.stat counts USER_HZ ticks (100 a second).
		kv := readKV(d, "cpuacct.stat")
		s.CPU.Usage.User, s.CPU.Usage.Kernel = kv["user"]*1e7, kv["system"]*1e7
	}
	if d := st.Cgroups.dirOf("cpu"); d != "" {
		kv := readKV(d, "cpu.stat")
		s.CPU.Throttling.Periods, s.CPU.Throttling.ThrottledPeriods, s.CPU.Throttling.ThrottledTime = kv["nr_periods"], kv["nr_throttled"], kv["throttled_time"]
	}
	if d := st.Cgroups.dirOf("memory"); d != "" {
		s.Memory.Usage = MemoryCounter{Limit: readUint(d, "memory.limit_in_bytes"), Usage: readUint(d, "memory.usage_in_bytes"),
			Max: readUint(d, "memory.max_usage_in_bytes"), Failcnt: readUint(d, "memory.failcnt")}
		s.Memory.Swap = MemoryCounter{Limit: readUint(d, "memory.memsw.limit_in_bytes"), Usage: readUint(d, "memory.memsw.usage_in_bytes"),
			Max: readUint(d, "memory.memsw.max_usage_in_bytes"), Failcnt: readUint(d, "memory.memsw.failcnt")}
		s.Memory.Raw = readKV(d, "memory.stat")
		s.Memory.Cache = s.Memory.Raw["cache"]
	}
	if d := st.Cgroups.dirOf("pids"); d != "" {
		s.Pids.Current = readUint(d, "pids.current")
		s.Pids.Limit = readUint(d, "pids.max") // "max" reads as 0: no limit
	}
	return &s, nil
}

func readString(dir, file string) string {
	b, _ := os.ReadFile(filepath.Join(dir, file))
	return strings.TrimSpace(string(b))
}

func readUint(dir, file string) uint64 {
	n, _ := strconv.ParseUint(readString(dir, file), 10, 64)
	return n
}

func readKV(dir, file string) map[string]uint64 {
	out := map[string]uint64{}
	for _, line := range strings.Split(readString(dir, file), "\n") {
		if k, v, ok := strings.Cut(line, " "); ok {
			n, _ := strconv.ParseUint(v, 10, 64)
			out[k] = n
		}
	}
	return out
}

// Update writes new limits into a container's cgroup (runc update); w
// are the files to write, from cgroupdelegate.V1LimitPlan.
func Update(root, id string, w []CgroupWrite) error {
	st, unlock, err := LoadLocked(root, id)
	if err != nil {
		return err
	}
	defer unlock()
	if st.Status == specs.StateStopped {
		return fmt.Errorf("%w: %s", ErrNotRunning, id)
	}
	if len(st.Cgroups) == 0 {
		return errNoCgroup(id, "update")
	}
	for _, x := range w {
		d := st.Cgroups.dirOf(x.Controller)
		if d == "" {
			return fmt.Errorf("%s needs the %s controller, which container %s has no cgroup in", x.Field, x.Controller, id)
		}
		if err := os.WriteFile(filepath.Join(d, x.File), []byte(x.Value), 0); err != nil {
			return fmt.Errorf("%s: writing %q to %s: %w", x.Field, x.Value, filepath.Join(d, x.File), err)
		}
	}
	return nil
}

// CgroupWrite is one cgroup file to write for a config field.
type CgroupWrite struct {
	Controller, File, Value, Field string
}

// ownV2Cgroup is the cgroup v2 directory urun's delegation made for the
// container (cgroupdelegate: <scope urun-ID12.scope>/container), found
// from the init's /proc/PID/cgroup; any other cgroup (urun's own, a
// shared one) is not the container's to freeze.
func ownV2Cgroup(id string, pid int) (string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return "", fmt.Errorf("reading the cgroup of container %s: %w", id, err)
	}
	short := id
	if len(short) > 12 {
		short = short[:12]
	}
	for _, line := range strings.Split(string(b), "\n") {
		p, ok := strings.CutPrefix(line, "0::")
		if ok && filepath.Base(p) == "container" && filepath.Base(filepath.Dir(p)) == "urun-"+short+".scope" {
			return filepath.Join("/sys/fs/cgroup", p), nil
		}
	}
	return "", errNoCgroup(id, "pause")
}

// freezeV2 writes cgroup.freeze and waits for cgroup.events to agree.
func freezeV2(dir string, freeze bool) error {
	want := map[bool]string{true: "1", false: "0"}[freeze]
	if err := os.WriteFile(filepath.Join(dir, "cgroup.freeze"), []byte(want), 0); err != nil {
		return fmt.Errorf("writing cgroup.freeze in %s: %w", dir, err)
	}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		b, err := os.ReadFile(filepath.Join(dir, "cgroup.events"))
		if err != nil {
			return fmt.Errorf("reading cgroup.events in %s: %w", dir, err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if line == "frozen "+want {
				return nil
			}
		}
	}
	return fmt.Errorf("the cgroup %s did not report frozen %s within 5 s", dir, want)
}
