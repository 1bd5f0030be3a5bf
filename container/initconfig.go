package container

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/urun-dev/urun/fuse-overlay"
)

// InitConfig is everything the container init needs, sent by the parent
// once the id maps are written. It crosses the namespace boundary as JSON,
// so it holds data only.
type InitConfig struct {
	Spec *specs.Spec `json:"spec"`
	// RootfsDir is an empty directory on the host where the init mounts
	// the container's root before pivot_root.
	RootfsDir string `json:"rootfsDir"`
	// Rootfs says how to build the root filesystem there.
	Rootfs fuseoverlay.Plan `json:"rootfs"`
	// WaitStart makes the init stop before exec until the parent sends
	// MsgStart (the OCI create/start split).
	WaitStart bool `json:"waitStart,omitempty"`
	// Debug makes the init report timestamps per phase on stderr.
	Debug bool `json:"debug,omitempty"`
}

// MsgInit carries InitConfig from the parent to the init.
const MsgInit = "init"

// MsgStart lets a created container exec its process.
const MsgStart = "start"
