package container

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"golang.org/x/sys/unix"

	"github.com/urun-dev/urun/seccomp"
	"github.com/urun-dev/urun/userns"
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
	if p.Notify && !seccomp.NotifySupported() {
		return nil, fmt.Errorf("linux.seccomp: %w", seccomp.NotifyUnsupported())
	}
	return p, nil
}

// seccompAgent is where a container's listener goes: the profile's
// listenerPath, with the state runc sends (specs.ContainerProcessState).
type seccompAgent struct {
	path, metadata string
	state          specs.State
}

// newSeccompAgent is nil unless the filter notifies.
func newSeccompAgent(spec *specs.Spec, filter *seccomp.Program, state specs.State) *seccompAgent {
	if filter == nil || !filter.Notify {
		return nil
	}
	s := spec.Linux.Seccomp
	return &seccompAgent{path: s.ListenerPath, metadata: s.ListenerMetadata, state: state}
}

// forward sends the listener of process pid to the agent as runc does:
// one message, the state JSON with the descriptor as SCM_RIGHTS.
func (a *seccompAgent) forward(listener *os.File, pid int) error {
	if a == nil {
		return errors.New("container init sent a seccomp listener for a profile without SCMP_ACT_NOTIFY")
	}
	c, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: a.path, Net: "unix"})
	if err != nil {
		return fmt.Errorf("failed to connect with seccomp agent specified in the seccomp profile: %w; fix: start the agent, or correct linux.seccomp.listenerPath", err)
	}
	defer c.Close()
	st := a.state
	st.Pid = pid
	b, err := json.Marshal(specs.ContainerProcessState{
		Version: specs.Version, Fds: []string{specs.SeccompFdName}, Pid: pid, Metadata: a.metadata, State: st,
	})
	if err != nil {
		return err
	}
	if _, _, err := c.WriteMsgUnix(b, unix.UnixRights(int(listener.Fd())), nil); err != nil {
		return fmt.Errorf("sending the seccomp listener to the agent at %s: %w", a.path, err)
	}
	return nil
}

// receive is the init's next message; a seccomp listener on the way is
// handed to the agent first (pid names the process the filter is in).
func (a *seccompAgent) receive(child *userns.Child, pid func() int) (userns.Message, error) {
	for {
		m, err := child.Conn.Receive(execTimeout)
		if err != nil || m.Type != MsgSeccomp {
			return m, err
		}
		l, err := child.Conn.ReceiveFile("seccomp listener")
		if err != nil {
			return m, err
		}
		err = a.forward(l, pid())
		l.Close()
		if err != nil {
			return m, err
		}
	}
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
