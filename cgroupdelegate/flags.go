package cgroupdelegate

import (
	"fmt"
	"math"
	"strings"

	"github.com/docker/go-units"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/pflag"
)

// Mode is --cgroups: what to do when a limit cannot be applied.
type Mode string

const (
	// Enabled applies every requested limit or fails saying why.
	Enabled Mode = "enabled"
	// BestEffort applies what the host allows and warns about the rest.
	BestEffort Mode = "best-effort"
	// Disabled gives the container no cgroup of its own.
	Disabled Mode = "disabled"
)

// ParseMode reads a --cgroups value.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case Enabled, BestEffort, Disabled:
		return m, nil
	}
	return "", fmt.Errorf("--cgroups %q: use enabled, best-effort or disabled", s)
}

// Flags are the resource flags of `urun run`, named as podman's.
type Flags struct {
	Cgroups           string
	Memory            string
	MemorySwap        string
	MemoryReservation string
	PidsLimit         int64
	CPUs              float64
	CPUShares         uint64
	CPUSetCPUs        string
	CPUSetMems        string
	BlkioWeight       uint16
}

// AddFlags registers the flags on fs.
func (f *Flags) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&f.Cgroups, "cgroups", string(Enabled), "cgroup mode: enabled (a limit the host cannot apply is an error), best-effort (warn and run without it), disabled (no cgroup)")
	fs.StringVarP(&f.Memory, "memory", "m", "", "memory limit (e.g. 64m, 1g)")
	fs.StringVar(&f.MemorySwap, "memory-swap", "", "memory plus swap limit (-1: unlimited swap)")
	fs.StringVar(&f.MemoryReservation, "memory-reservation", "", "memory soft limit (memory.low)")
	fs.Int64Var(&f.PidsLimit, "pids-limit", 0, "maximum number of processes (-1: unlimited)")
	fs.Float64Var(&f.CPUs, "cpus", 0, "number of CPUs the container may use (e.g. 0.5)")
	fs.Uint64VarP(&f.CPUShares, "cpu-shares", "c", 0, "relative CPU weight, 2-262144 (1024 is the default weight)")
	fs.StringVar(&f.CPUSetCPUs, "cpuset-cpus", "", "CPUs the container may run on (e.g. 0-1,3)")
	fs.StringVar(&f.CPUSetMems, "cpuset-mems", "", "memory nodes the container may use (e.g. 0)")
	fs.Uint16Var(&f.BlkioWeight, "blkio-weight", 0, "relative block I/O weight, 10-1000")
}

// cpuPeriod is the CFS period --cpus is expressed in, as docker and podman.
const cpuPeriod = 100000

// Resources turns the flags into the spec's linux.resources; nil when no
// limit was asked for.
func (f *Flags) Resources() (*specs.LinuxResources, error) {
	var r specs.LinuxResources
	any := false
	mem := &specs.LinuxMemory{}
	if f.Memory != "" {
		v, err := parseBytes("--memory", f.Memory)
		if err != nil {
			return nil, err
		}
		mem.Limit = &v
	}
	if f.MemoryReservation != "" {
		v, err := parseBytes("--memory-reservation", f.MemoryReservation)
		if err != nil {
			return nil, err
		}
		mem.Reservation = &v
	}
	// "Unlimited" alone asks for no limit at all, as docker and podman
	// take it: no cgroup is needed for it.
	if f.MemorySwap != "" && !(f.MemorySwap == "-1" && mem.Limit == nil) {
		var v int64 = -1
		if f.MemorySwap != "-1" {
			var err error
			if v, err = parseBytes("--memory-swap", f.MemorySwap); err != nil {
				return nil, err
			}
		}
		if mem.Limit == nil {
			return nil, fmt.Errorf("--memory-swap needs --memory: it is memory plus swap")
		}
		if v != -1 && v < *mem.Limit {
			return nil, fmt.Errorf("--memory-swap %s is below --memory %s: it is memory plus swap, so it must be at least as large", f.MemorySwap, f.Memory)
		}
		mem.Swap = &v
	}
	if mem.Limit != nil || mem.Reservation != nil || mem.Swap != nil {
		r.Memory, any = mem, true
	}
	if f.PidsLimit != 0 && f.PidsLimit != -1 {
		if f.PidsLimit < -1 {
			return nil, fmt.Errorf("--pids-limit %d: use a positive number, or -1 for unlimited", f.PidsLimit)
		}
		r.Pids, any = &specs.LinuxPids{Limit: &f.PidsLimit}, true
	}
	cpu := &specs.LinuxCPU{}
	if f.CPUs != 0 {
		if f.CPUs < 0.01 || math.IsNaN(f.CPUs) || math.IsInf(f.CPUs, 0) {
			return nil, fmt.Errorf("--cpus %g: use a positive number of CPUs, at least 0.01", f.CPUs)
		}
		quota := int64(math.Round(f.CPUs * cpuPeriod))
		period := uint64(cpuPeriod)
		cpu.Quota, cpu.Period = &quota, &period
	}
	if f.CPUShares != 0 {
		if f.CPUShares < 2 || f.CPUShares > 262144 {
			return nil, fmt.Errorf("--cpu-shares %d: use a value from 2 to 262144", f.CPUShares)
		}
		cpu.Shares = &f.CPUShares
	}
	if f.CPUSetCPUs != "" {
		if err := checkCPUList("--cpuset-cpus", f.CPUSetCPUs); err != nil {
			return nil, err
		}
		cpu.Cpus = f.CPUSetCPUs
	}
	if f.CPUSetMems != "" {
		if err := checkCPUList("--cpuset-mems", f.CPUSetMems); err != nil {
			return nil, err
		}
		cpu.Mems = f.CPUSetMems
	}
	if cpu.Quota != nil || cpu.Shares != nil || cpu.Cpus != "" || cpu.Mems != "" {
		r.CPU, any = cpu, true
	}
	if f.BlkioWeight != 0 {
		if f.BlkioWeight < 10 || f.BlkioWeight > 1000 {
			return nil, fmt.Errorf("--blkio-weight %d: use a value from 10 to 1000", f.BlkioWeight)
		}
		r.BlockIO, any = &specs.LinuxBlockIO{Weight: &f.BlkioWeight}, true
	}
	if !any {
		return nil, nil
	}
	return &r, nil
}

// parseBytes reads a size as docker does: 64m, 1g, 512k, or plain bytes.
func parseBytes(flag, s string) (int64, error) {
	v, err := units.RAMInBytes(s)
	if err != nil || v <= 0 {
		return 0, fmt.Errorf("%s %q: use a positive size such as 64m or 1g", flag, s)
	}
	return v, nil
}

// checkCPUList accepts the kernel's list syntax: 0-3,5,7.
func checkCPUList(flag, s string) error {
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		if !isNumber(lo) || (isRange && !isNumber(hi)) {
			return fmt.Errorf("%s %q: use a list such as 0-3,5", flag, s)
		}
	}
	return nil
}

func isNumber(s string) bool {
	if s == "" || len(s) > 6 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
