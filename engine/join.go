package engine

import (
	"errors"
	"fmt"
	"os"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/urun-dev/urun/container"
)

// Joins are the namespaces a container shares with another one (docker's
// --ipc, --pid, --network container:NAME; podman's --uts container:NAME).
// The target is named by id: the namespaces are found again at each
// start, from its init's pid, so a restarted target is joined anew.
type Joins struct {
	Target string `json:"target"`
	// TargetName is the target's name when the container was created
	// (for messages; a rename later leaves it).
	TargetName string `json:"targetName,omitempty"`
	IPC        bool   `json:"ipc,omitempty"`
	PID        bool   `json:"pid,omitempty"`
	Net        bool   `json:"net,omitempty"`
	UTS        bool   `json:"uts,omitempty"`
}

// JoinTarget is the container ref names, for a container that shares
// its namespaces: its id, state and record. It must be running when
// running (run, run -d); a created container is checked at each start.
// flag says which flag named it, for the messages.
func JoinTarget(root, flag, ref string, running bool) (string, *container.State, *Record, error) {
	id, st, err := Find(root, ref)
	if err != nil {
		return "", nil, nil, &container.CodedError{Code: container.ExitRuntime, Err: fmt.Errorf("%s container:%s: %w", flag, ref, err)}
	}
	if running {
		if err := joinable(st, flag, ref); err != nil {
			return "", nil, nil, err
		}
	}
	if st.Record == "" {
		return "", nil, nil, fmt.Errorf("%s container:%s: it is a foreground --rm container or one of the OCI face's; share the namespaces of a container run with -d, or kept (run without --rm)", flag, ref)
	}
	rec, err := LoadRecord(st.Record)
	if err != nil {
		return "", nil, nil, fmt.Errorf("%s container:%s: %w", flag, ref, err)
	}
	if rec.Joins != nil {
		// Its user namespace is its target's: the chain is one.
		return "", nil, nil, fmt.Errorf("%s container:%s: it shares the namespaces of container %s itself; name %s instead", flag, ref, rec.Joins.TargetName, rec.Joins.TargetName)
	}
	return id, st, rec, nil
}

// joinable: st runs (its namespaces exist to share).
func joinable(st *container.State, flag, ref string) error {
	if st.Status == specs.StateRunning && container.ProcessAlive(st.Pid, st.InitStart) {
		return nil
	}
	status := string(st.Status)
	if st.Status == container.StatusConfigured {
		status = "created, never started"
	}
	return &container.CodedError{Code: container.ExitRuntime, Err: fmt.Errorf("%s container:%s: the container is not running (%s): start it first ('urun start %s')", flag, ref, status, ref)}
}

// flags are the namespace flags the joins were given by, for messages.
func (j *Joins) flags() string {
	var f []string
	for _, x := range []struct {
		on   bool
		name string
	}{{j.IPC, "--ipc"}, {j.PID, "--pid"}, {j.Net, "--network"}, {j.UTS, "--uts"}} {
		if x.on {
			f = append(f, x.name)
		}
	}
	return strings.Join(f, "/")
}

// apply points spec's namespaces at the target's, found from its init
// now; the target must be running. It returns the target's state
// directory (its /etc files, for a shared network).
func (j *Joins) apply(root string, spec *specs.Spec) (string, error) {
	name := j.TargetName
	if name == "" {
		name = j.Target
	}
	st, err := container.Load(root, j.Target)
	if errors.Is(err, container.ErrNotExist) {
		return "", &container.CodedError{Code: container.ExitRuntime, Err: fmt.Errorf("%s container:%s: the container was removed; create this one again with another", j.flags(), name)}
	}
	if err != nil {
		return "", err
	}
	if err := joinable(st, j.flags(), name); err != nil {
		return "", err
	}
	proc := func(ns string) string { return fmt.Sprintf("/proc/%d/ns/%s", st.Pid, ns) }
	want := map[specs.LinuxNamespaceType]string{specs.UserNamespace: proc("user")}
	if j.IPC {
		want[specs.IPCNamespace] = proc("ipc")
	}
	if j.PID {
		want[specs.PIDNamespace] = proc("pid")
	}
	if j.Net {
		want[specs.NetworkNamespace] = proc("net")
	}
	if j.UTS {
		want[specs.UTSNamespace] = proc("uts")
	}
	for i, ns := range spec.Linux.Namespaces {
		if p, ok := want[ns.Type]; ok {
			spec.Linux.Namespaces[i].Path = p
			delete(want, ns.Type)
		}
	}
	for _, t := range []specs.LinuxNamespaceType{specs.UserNamespace, specs.IPCNamespace, specs.PIDNamespace, specs.NetworkNamespace, specs.UTSNamespace} {
		if p, ok := want[t]; ok {
			spec.Linux.Namespaces = append(spec.Linux.Namespaces, specs.LinuxNamespace{Type: t, Path: p})
		}
	}
	if _, err := os.Stat(proc("user")); err != nil {
		return "", fmt.Errorf("%s container:%s: %w", j.flags(), name, err)
	}
	return container.Dir(root, j.Target), nil
}

// target is the id of the container joined, or "".
func (j *Joins) target() string {
	if j == nil {
		return ""
	}
	return j.Target
}

// ErrDependents: rm of a container whose namespaces others share.
var ErrDependents = errors.New("has dependent containers which must be removed before it")

// dependents are the containers that share the namespaces of id.
func dependents(root, id string) []string {
	ids, err := container.List(root)
	if err != nil {
		return nil
	}
	var out []string
	for _, other := range ids {
		if other == id {
			continue
		}
		if st, err := container.Load(root, other); err == nil && st.SharesWith == id {
			n := st.Name
			if n == "" {
				n = other
			}
			out = append(out, n)
		}
	}
	return out
}
