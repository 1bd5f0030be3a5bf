package netns

import (
	"testing"

	"golang.org/x/sys/cpu"
)

// The kernel's flags and CPUID (what passt checks) agree on AVX2.
func TestCPUHasAVX2MatchesCPUID(t *testing.T) {
	if got, want := cpuHasAVX2(), cpu.X86.HasAVX2; got != want {
		t.Fatalf("/proc/cpuinfo says avx2=%v, CPUID says %v", got, want)
	}
}
