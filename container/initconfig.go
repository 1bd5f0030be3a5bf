package container

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/urun-dev/urun/fuse-overlay"
	"github.com/urun-dev/urun/seccomp"
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
	// ExecFifo, when set, makes the init stop before exec: it reports
	// MsgCreated, leaves its parent, and execs once `urun start` has
	// opened this FIFO (the OCI create/start split, as runc's exec.fifo).
	ExecFifo string `json:"execFifo,omitempty"`
	// Seccomp is linux.seccomp compiled by the parent; the init only
	// installs it, as the last step before execve.
	Seccomp *seccomp.Program `json:"seccomp,omitempty"`
	// HookState, when the spec has createContainer or startContainer
	// hooks, is the state the init passes them (it adds its host pid).
	HookState *specs.State `json:"hookState,omitempty"`
	// Preserve: the descriptors --preserve-fds passes to the process.
	Preserve Preserved `json:"preserve,omitzero"`
	// Debug makes the init report timestamps per phase on stderr.
	Debug bool `json:"debug,omitempty"`
	// CloneAt, with Debug, is CLOCK_MONOTONIC (ns) just before the
	// parent cloned the init: the init's first marks (its runtime up, its
	// maps and config in) are timed from it, on the parent's clock.
	CloneAt int64 `json:"cloneAt,omitempty"`
	// WaitNetwork: the network is set up from the host while the init
	// builds the container; before it execs, the init sends MsgNetWait
	// and waits for MsgNetReady.
	WaitNetwork bool `json:"waitNetwork,omitempty"`
	// ReportRootfs: the init sends MsgRootfs (a fuseoverlay.Mounted) once
	// the root filesystem is mounted.
	ReportRootfs bool `json:"reportRootfs,omitempty"`
	// ShmTree, when not 0, is the descriptor of a detached copy of the
	// /dev/shm mount of the container whose IPC namespace this one
	// shares (open_tree(2)): the init mounts it over its own /dev/shm.
	ShmTree int `json:"shmTree,omitempty"`
}
