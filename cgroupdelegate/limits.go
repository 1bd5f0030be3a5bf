package cgroupdelegate

import (
	"sort"
	"strconv"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Write is one cgroup v2 interface file to write in the container's
// cgroup, the controller that provides it and the flag that asked for it.
type Write struct {
	Controller string
	File       string
	Value      string
	Flag       string
}

// Plan converts the spec's resources to cgroup v2 files, in the order
// they must be written (memory.max before memory.swap.max). Pure.
func Plan(r *specs.LinuxResources) []Write {
	if r == nil {
		return nil
	}
	var w []Write
	if m := r.Memory; m != nil {
		if m.Limit != nil {
			w = append(w, Write{"memory", "memory.max", maxOrValue(*m.Limit), "--memory"})
		}
		if m.Reservation != nil {
			w = append(w, Write{"memory", "memory.low", maxOrValue(*m.Reservation), "--memory-reservation"})
		}
		if m.Swap != nil {
			w = append(w, Write{"memory", "memory.swap.max", swapMax(*m.Swap, m.Limit), "--memory-swap"})
		}
	}
	if p := r.Pids; p != nil && p.Limit != nil {
		w = append(w, Write{"pids", "pids.max", maxOrValue(*p.Limit), "--pids-limit"})
	}
	if c := r.CPU; c != nil {
		if c.Quota != nil {
			period := uint64(cpuPeriod)
			if c.Period != nil && *c.Period != 0 {
				period = *c.Period
			}
			w = append(w, Write{"cpu", "cpu.max", maxOrValue(*c.Quota) + " " + strconv.FormatUint(period, 10), "--cpus"})
		}
		if c.Shares != nil {
			w = append(w, Write{"cpu", "cpu.weight", strconv.FormatUint(SharesToWeight(*c.Shares), 10), "--cpu-shares"})
		}
		if c.Cpus != "" {
			w = append(w, Write{"cpuset", "cpuset.cpus", c.Cpus, "--cpuset-cpus"})
		}
		if c.Mems != "" {
			w = append(w, Write{"cpuset", "cpuset.mems", c.Mems, "--cpuset-mems"})
		}
	}
	if b := r.BlockIO; b != nil && b.Weight != nil {
		w = append(w, Write{"io", "io.weight", "default " + strconv.FormatUint(BlkioToIOWeight(*b.Weight), 10), "--blkio-weight"})
	}
	return w
}

// Controllers lists the controllers a plan needs, sorted, without repeats.
func Controllers(w []Write) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range w {
		if !seen[x.Controller] {
			seen[x.Controller] = true
			out = append(out, x.Controller)
		}
	}
	sort.Strings(out)
	return out
}

// SharesToWeight maps cgroup v1 cpu.shares [2, 262144] onto cgroup v2
// cpu.weight [1, 10000] linearly, the conversion runc and crun use, so the
// default 1024 shares become weight 39 (v2's default weight 100 is about 2600 shares).
func SharesToWeight(shares uint64) uint64 {
	if shares == 0 {
		return 0
	}
	shares = min(max(shares, 2), 262144)
	return 1 + ((shares-2)*9999)/262142
}

// BlkioToIOWeight maps blkio.weight [10, 1000] onto io.weight [1, 10000]
// linearly, as runc does.
func BlkioToIOWeight(w uint16) uint64 {
	if w == 0 {
		return 0
	}
	v := uint64(min(max(w, 10), 1000))
	return 1 + (v-10)*9999/990
}

// swapMax converts OCI's swap (memory plus swap, -1 unlimited) to cgroup
// v2's memory.swap.max, which counts swap alone.
func swapMax(swap int64, limit *int64) string {
	if swap == -1 || limit == nil || *limit == -1 {
		return "max"
	}
	return strconv.FormatInt(max(swap-*limit, 0), 10)
}

func maxOrValue(v int64) string {
	if v < 0 {
		return "max"
	}
	return strconv.FormatInt(v, 10)
}
