package cgroupdelegate

import (
	"reflect"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestPlanFromFlags(t *testing.T) {
	tests := []struct {
		name  string
		flags Flags
		want  []Write
	}{
		{name: "no limits", flags: Flags{}, want: nil},
		{
			name:  "memory, swap and reservation",
			flags: Flags{Memory: "64m", MemorySwap: "96m", MemoryReservation: "16m"},
			want: []Write{
				{"memory", "memory.max", "67108864", "--memory"},
				{"memory", "memory.low", "16777216", "--memory-reservation"},
				{"memory", "memory.swap.max", "33554432", "--memory-swap"},
			},
		},
		{
			name:  "unlimited swap",
			flags: Flags{Memory: "1g", MemorySwap: "-1"},
			want: []Write{
				{"memory", "memory.max", "1073741824", "--memory"},
				{"memory", "memory.swap.max", "max", "--memory-swap"},
			},
		},
		{
			name:  "swap equal to memory means no swap",
			flags: Flags{Memory: "32m", MemorySwap: "32m"},
			want: []Write{
				{"memory", "memory.max", "33554432", "--memory"},
				{"memory", "memory.swap.max", "0", "--memory-swap"},
			},
		},
		{name: "pids", flags: Flags{PidsLimit: 20}, want: []Write{{"pids", "pids.max", "20", "--pids-limit"}}},
		// "Unlimited" is the default: it needs no cgroup (docker's -1).
		{name: "pids unlimited", flags: Flags{PidsLimit: -1}, want: nil},
		{name: "swap unlimited alone", flags: Flags{MemorySwap: "-1"}, want: nil},
		{name: "half a cpu", flags: Flags{CPUs: 0.5}, want: []Write{{"cpu", "cpu.max", "50000 100000", "--cpus"}}},
		{name: "two and a half cpus", flags: Flags{CPUs: 2.5}, want: []Write{{"cpu", "cpu.max", "250000 100000", "--cpus"}}},
		{name: "default shares", flags: Flags{CPUShares: 1024}, want: []Write{{"cpu", "cpu.weight", "39", "--cpu-shares"}}},
		{
			name:  "cpuset",
			flags: Flags{CPUSetCPUs: "0-1,3", CPUSetMems: "0"},
			want: []Write{
				{"cpuset", "cpuset.cpus", "0-1,3", "--cpuset-cpus"},
				{"cpuset", "cpuset.mems", "0", "--cpuset-mems"},
			},
		},
		{name: "io weight", flags: Flags{BlkioWeight: 500}, want: []Write{{"io", "io.weight", "default 4950", "--blkio-weight"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := tc.flags.Resources()
			if err != nil {
				t.Fatal(err)
			}
			if got := Plan(r); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Plan = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestSharesToWeight(t *testing.T) {
	for shares, want := range map[uint64]uint64{0: 0, 2: 1, 512: 20, 1024: 39, 2597: 99, 2623: 100, 262144: 10000, 1: 1, 1 << 20: 10000} {
		if got := SharesToWeight(shares); got != want {
			t.Errorf("SharesToWeight(%d) = %d, want %d", shares, got, want)
		}
	}
}

func TestBlkioToIOWeight(t *testing.T) {
	for w, want := range map[uint16]uint64{0: 0, 10: 1, 500: 4950, 1000: 10000, 5: 1, 2000: 10000} {
		if got := BlkioToIOWeight(w); got != want {
			t.Errorf("BlkioToIOWeight(%d) = %d, want %d", w, got, want)
		}
	}
}

func TestResourcesRejects(t *testing.T) {
	tests := []struct {
		flags Flags
		msg   string
	}{
		{Flags{Memory: "lots"}, "--memory"},
		{Flags{Memory: "0"}, "positive size"},
		{Flags{MemorySwap: "1g"}, "needs --memory"},
		{Flags{Memory: "1g", MemorySwap: "512m"}, "at least as large"},
		{Flags{PidsLimit: -5}, "--pids-limit"},
		{Flags{CPUs: -1}, "--cpus"},
		{Flags{CPUs: 0.001}, "--cpus"},
		{Flags{CPUShares: 1}, "--cpu-shares"},
		{Flags{CPUSetCPUs: "0-a"}, "--cpuset-cpus"},
		{Flags{CPUSetMems: ","}, "--cpuset-mems"},
		{Flags{BlkioWeight: 5}, "--blkio-weight"},
	}
	for _, tc := range tests {
		if _, err := tc.flags.Resources(); err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%+v: error %v, want one containing %q", tc.flags, err, tc.msg)
		}
	}
}

func TestParseMode(t *testing.T) {
	for _, s := range []string{"enabled", "best-effort", "disabled"} {
		if m, err := ParseMode(s); err != nil || string(m) != s {
			t.Errorf("ParseMode(%q) = %q, %v", s, m, err)
		}
	}
	if _, err := ParseMode("split"); err == nil {
		t.Error("ParseMode accepts split")
	}
}

func TestCheckDelegated(t *testing.T) {
	plan := Plan(&specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: ptr(int64(1 << 20))},
		CPU:    &specs.LinuxCPU{Quota: ptr(int64(50000))},
	})
	keep, warn, err := checkDelegated(Enabled, plan, []string{"cpu", "memory", "pids"})
	if err != nil || len(warn) != 0 || len(keep) != 2 {
		t.Errorf("all delegated: keep %v warn %v err %v", keep, warn, err)
	}
	_, _, err = checkDelegated(Enabled, plan, []string{"memory", "pids"})
	if err == nil || !strings.Contains(err.Error(), "--cpus") || !strings.Contains(err.Error(), "Delegate=cpu cpuset io memory pids") {
		t.Errorf("cpu missing: error %v, want one naming --cpus and the drop-in", err)
	}
	keep, warn, err = checkDelegated(BestEffort, plan, []string{"memory", "pids"})
	if err != nil || len(warn) != 1 || !strings.Contains(warn[0], "--cpus") || len(keep) != 1 || keep[0].Controller != "memory" {
		t.Errorf("best-effort: keep %v warn %v err %v", keep, warn, err)
	}
}

func TestUnavailable(t *testing.T) {
	u := &Unavailable{Cause: "cgroups are hybrid", Fix: "boot with v2"}
	plan := []Write{{"memory", "memory.max", "1", "--memory"}}
	if cg, warn, err := unavailable(Request{Mode: Enabled}, nil, u); cg != nil || warn != nil || err != nil {
		t.Errorf("no limits: %v %v %v, want nothing", cg, warn, err)
	}
	if _, _, err := unavailable(Request{Mode: Enabled}, plan, u); err == nil || strings.Count(err.Error(), "\n") != 0 ||
		!strings.Contains(err.Error(), "hybrid") || !strings.Contains(err.Error(), "boot with v2") || !strings.Contains(err.Error(), "--cgroups=best-effort") {
		t.Errorf("enabled: %v, want one line with cause, fix and best-effort", err)
	}
	if _, warn, err := unavailable(Request{Mode: BestEffort}, plan, u); err != nil || len(warn) != 1 || !strings.Contains(warn[0], "--memory") {
		t.Errorf("best-effort: %v %v", warn, err)
	}
	if _, warn, err := unavailable(Request{Mode: Enabled, Explain: true}, nil, u); err != nil || len(warn) != 1 || !strings.Contains(warn[0], "hybrid") {
		t.Errorf("explain: %v %v, want the cause as a warning", warn, err)
	}
}

func ptr[T any](v T) *T { return &v }
