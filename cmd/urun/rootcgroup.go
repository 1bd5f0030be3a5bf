package main

import (
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/urun-dev/urun/cgroupdelegate"
	"github.com/urun-dev/urun/container"
)

// rootCgroups gives a container urun runs as real root (no user
// namespace of its own: containerd's CRI, rootful podman) its cgroup, as
// runc does: on a v1 or hybrid host a directory per hierarchy with the
// config's device rules and limits; on a v2 host a config with device
// rules is refused (cgroupdelegate.RootV2Refusal). Rootless, the user
// namespace keeps host devices out and limits go through delegation.
func rootCgroups(id string, spec *specs.Spec, cfg *container.RunConfig) error {
	if !cfg.NoNewUser || inUserNamespace() {
		return nil
	}
	if !cgroupdelegate.RootV1() {
		if err := cgroupdelegate.RootV2Refusal(spec); err != nil {
			return fmt.Errorf("config.json: %w", err)
		}
		return nil
	}
	dirs, err := cgroupdelegate.SetupV1(id, spec)
	if err != nil {
		return fmt.Errorf("config.json: %w", err)
	}
	cfg.Cgroups = dirs
	return nil
}
