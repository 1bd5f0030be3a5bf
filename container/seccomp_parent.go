package container

import (
	"fmt"
	"runtime"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/urun-dev/urun/seccomp"
)

// seccompProgram compiles the spec's linux.seccomp for the init to
// install, from the cache in cacheDir when it was compiled before; nil
// when the spec asks for none. It runs before any process is started, so
// a bad profile leaves nothing behind.
func seccompProgram(spec *specs.Spec, cacheDir string) (*seccomp.Program, error) {
	if spec.Linux == nil || spec.Linux.Seccomp == nil {
		return nil, nil
	}
	p, err := seccomp.Cached(cacheDir, spec.Linux.Seccomp, runtime.GOARCH)
	if err != nil {
		return nil, fmt.Errorf("linux.seccomp: %w", err)
	}
	return p, nil
}

// withoutSeccompProfile is spec as the init needs it: the init installs
// the compiled program only, and docker's default profile is nine tenths
// of the spec's JSON (24 kB), which both sides would otherwise encode and
// decode on every start. spec itself is not changed.
func withoutSeccompProfile(spec *specs.Spec) *specs.Spec {
	if spec.Linux == nil || spec.Linux.Seccomp == nil {
		return spec
	}
	s, l := *spec, *spec.Linux
	l.Seccomp = nil
	s.Linux = &l
	return &s
}
