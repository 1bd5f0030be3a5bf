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
