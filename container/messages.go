package container

// The messages of the handshakes between urun and urun-init, each over a
// userns.Conn (length-prefixed JSON, as rootlesskit's pkg/messages), in
// the order they are sent. userns/messages.go has the two every
// namespace child shares (mapped, error: a failure at any step, with its
// exit code, ends the handshake).

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/urun-dev/urun/seccomp"
)

// The init handshake: urun (run_parent.go, create_parent.go) and the
// container's init (init_child.go).
const (
	// MsgInit, urun → init: the container to set up; payload InitConfig.
	MsgInit = "init"
	// MsgRootfs, init → urun, when InitConfig.ReportRootfs: the tier
	// the init mounted the root filesystem with; payload
	// fuseoverlay.Mounted.
	MsgRootfs = "rootfs"
	// MsgConsole, init → urun, for a -t container: no payload; the pty
	// master follows as SCM_RIGHTS (console_child.go).
	MsgConsole = "console"
	// MsgNetWait, init → urun, when InitConfig.WaitNetwork: the init is
	// ready to exec and waits for the network; no payload.
	MsgNetWait = "net-wait"
	// MsgNetReady, urun → init: the network is up (and the ports
	// published); no payload.
	MsgNetReady = "net-ready"
	// MsgSeccomp, init (or an exec) → urun, when the profile has a
	// listener: no payload; the user-notification listener follows as
	// SCM_RIGHTS, for the profile's agent (seccomp_parent.go).
	MsgSeccomp = "seccomp"
	// MsgCreated, init → urun, for `create`: the container waits for
	// `start` on exec.fifo; no payload. Otherwise the end of the
	// socket (close-on-exec) says the process runs.
	MsgCreated = "created"
)

// The exec handshake: `urun exec` (exec_parent.go) and urun-init __exec
// in the container's namespaces (join_child.go).
const (
	// MsgSync, urun → exec over the bootstrap socket: no payload; the
	// exec's own sync socket follows as SCM_RIGHTS (nsenter keeps a
	// copy of every descriptor it passes on, so the first socket's end
	// of file would never come).
	MsgSync = "sync"
	// MsgExec, urun → exec over the sync socket: the process; payload
	// execRequest. MsgConsole (-t), MsgSeccomp and the end of the
	// socket follow as in the init handshake.
	MsgExec = "exec"
)

// execRequest is MsgExec's payload: the process, with the container's
// compiled seccomp filter (nil: none).
type execRequest struct {
	Process *specs.Process   `json:"process"`
	Seccomp *seccomp.Program `json:"seccomp,omitempty"`
	// Preserve: --preserve-fds.
	Preserve Preserved `json:"preserve,omitzero"`
}
