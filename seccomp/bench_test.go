package seccomp

import (
	"encoding/json"
	"runtime"
	"testing"

	mobyseccomp "github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// What urun run pays per start for seccomp: building the default profile
// from moby's Go tables, then compiling it (cold) or hashing it and
// reading the cached program (warm).

func BenchmarkDefaultProfile(b *testing.B) {
	spec := &specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{Bounding: dockerCaps}}}
	for b.Loop() {
		if _, err := mobyseccomp.GetDefaultProfile(spec); err != nil {
			b.Fatal(err)
		}
	}
}

func benchProfile(b *testing.B) *specs.LinuxSeccomp {
	spec := &specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{Bounding: dockerCaps}}}
	s, err := mobyseccomp.GetDefaultProfile(spec)
	if err != nil {
		b.Fatal(err)
	}
	return s
}

func BenchmarkCompileDefault(b *testing.B) {
	s := benchProfile(b)
	for b.Loop() {
		if _, err := Compile(s, runtime.GOARCH); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCachedDefault(b *testing.B) {
	s := benchProfile(b)
	dir := b.TempDir()
	if _, err := Cached(dir, s, runtime.GOARCH); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := Cached(dir, s, runtime.GOARCH); err != nil {
			b.Fatal(err)
		}
	}
}

// The program crosses to the init inside InitConfig's JSON.
func BenchmarkProgramJSON(b *testing.B) {
	p, err := Compile(benchProfile(b), runtime.GOARCH)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		out, _ := json.Marshal(p)
		var q Program
		if err := json.Unmarshal(out, &q); err != nil {
			b.Fatal(err)
		}
	}
}
