package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	mobyseccomp "github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/urun-dev/urun/engine"
)

// maxProfileSize bounds a --security-opt seccomp=FILE profile; docker's
// default is about 20 KiB.
const maxProfileSize = 4 << 20

// seccompProfile turns --security-opt seccomp=VALUE into the spec's
// linux.seccomp: "" means docker's default profile, filtered by the
// process's bounding capabilities and this architecture as docker and
// podman do; "unconfined" means none; anything else is a profile file in
// docker's format.
func seccompProfile(opt string, spec *specs.Spec) (*specs.LinuxSeccomp, error) {
	switch opt {
	case "unconfined":
		return nil, nil
	case "":
		s, err := mobyseccomp.GetDefaultProfile(spec)
		if err != nil {
			return nil, fmt.Errorf("building the default seccomp profile: %w", err)
		}
		return s, nil
	}
	f, err := os.Open(opt)
	if err != nil {
		return nil, fmt.Errorf("--security-opt seccomp: %w", err)
	}
	defer f.Close()
	body, err := io.ReadAll(io.LimitReader(f, maxProfileSize+1))
	if err != nil {
		return nil, fmt.Errorf("--security-opt seccomp: reading %s: %w", opt, err)
	}
	if len(body) > maxProfileSize {
		return nil, fmt.Errorf("--security-opt seccomp: %s is larger than %d MiB: not a seccomp profile", opt, maxProfileSize>>20)
	}
	s, err := mobyseccomp.LoadProfile(string(body), spec)
	if err != nil {
		return nil, fmt.Errorf("--security-opt seccomp: %s: %w", opt, err)
	}
	return s, nil
}

// seccompCacheDir is where compiled profiles are kept: under the data
// directory, or nowhere (compile each time) when there is none.
func seccompCacheDir() string {
	d, err := engine.DataDir()
	if err != nil {
		return ""
	}
	return filepath.Join(d, "seccomp")
}
