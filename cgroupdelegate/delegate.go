// Package cgroupdelegate gives a rootless container a cgroup of its own
// through the user's systemd: a transient scope with Delegate=yes, a leaf
// cgroup for the container inside it, and the limits written there. On a
// host where that cannot work (cgroup v1 or hybrid, no user bus, a
// controller not delegated) it says why and how to fix it, and never drops
// a requested limit silently.
package cgroupdelegate

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Request is one container's cgroup.
type Request struct {
	// ID is the container's id; the scope is urun-<first 12>.scope.
	ID        string
	Mode      Mode
	Resources *specs.LinuxResources
	// Explain turns the silence of a run without limits on a host that
	// cannot delegate into a warning that says why (urun --debug).
	Explain bool
}

// Cgroup is a container's cgroup, ready for its init.
type Cgroup struct {
	// Unit is the systemd scope holding urun and the container.
	Unit string
	// Path is the container's cgroup directory.
	Path string
	// Delegated are the controllers the scope got.
	Delegated []string
	// CloneInto: the kernel takes Dir() at clone time (clone3
	// CLONE_INTO_CGROUP); otherwise Attach moves the init after clone.
	CloneInto bool
	// ScopeTime is the D-Bus part (connect, create the scope, wait for
	// its job), ConnectTime the connecting in it; SetupTime the cgroupfs
	// part (leaf, controllers, limits).
	ScopeTime, ConnectTime, SetupTime time.Duration
	dir                               *os.File
}

// Setup creates the container's cgroup and writes the requested limits.
// It returns nil (and no error) when the container runs without a cgroup:
// --cgroups=disabled, or no limit asked for on a host that cannot delegate.
// Warnings are for the user, one line each.
func Setup(req Request) (*Cgroup, []string, error) {
	plan := Plan(req.Resources)
	if req.Mode == Disabled {
		if len(plan) > 0 {
			return nil, nil, fmt.Errorf("%s needs a cgroup, and --cgroups=disabled gives none: drop one of them", flagList(plan))
		}
		return nil, nil, nil
	}
	addr, u := probeHost()
	if u != nil {
		return unavailable(req, plan, u)
	}
	cg, warnings, err := create(req, plan, addr)
	if err != nil {
		if u := (*Unavailable)(nil); errors.As(err, &u) {
			return unavailable(req, plan, u)
		}
		return nil, nil, err
	}
	return cg, warnings, nil
}

// NoneFor reports whether Setup gives a container of this mode no
// cgroup whatever it asks for (disabled, or a host without delegation):
// its init may then be cloned before Setup runs (container.StartEarly),
// as nothing is to be cloned into. It costs a statfs and a stat.
func NoneFor(mode Mode) bool {
	if mode == Disabled {
		return true
	}
	_, u := probeHost()
	return u != nil
}

// unavailable is the outcome on a host without delegation: nothing to
// say when no limit was asked for, a warning under best-effort, else an
// error naming the flags, the cause and the fix.
func unavailable(req Request, plan []Write, u *Unavailable) (*Cgroup, []string, error) {
	switch {
	case len(plan) == 0 && req.Explain:
		return nil, []string{"no cgroup for the container: " + u.Cause}, nil
	case len(plan) == 0:
		return nil, nil, nil
	case req.Mode == BestEffort:
		return nil, []string{fmt.Sprintf("running without %s: %s", flagList(plan), u.Cause)}, nil
	}
	return nil, nil, fmt.Errorf("%s needs a cgroup, but %s; fix: %s, or pass --cgroups=best-effort to run without the limit", flagList(plan), u.Cause, u.Fix)
}

// create makes the scope and the container's leaf cgroup.
func create(req Request, plan []Write, addr string) (*Cgroup, []string, error) {
	id := req.ID
	if len(id) > 12 {
		id = id[:12]
	}
	cg := &Cgroup{Unit: "urun-" + id + ".scope", CloneInto: kernelHasCloneIntoCgroup()}
	if os.Getenv("URUN_CGROUP_ATTACH") == "procs" {
		// Exercises the fallback for kernels before 5.7 (the VM suite).
		cg.CloneInto = false
	}
	start := time.Now()
	var err error
	if cg.ConnectTime, err = startScope(addr, cg.Unit, "urun container "+id); err != nil {
		return nil, nil, &Unavailable{Cause: err.Error(), Fix: "check that `systemctl --user status` works in this session"}
	}
	cg.ScopeTime = time.Since(start)
	start = time.Now()
	rel, err := ownCgroup()
	if err != nil {
		return nil, nil, err
	}
	scope := filepath.Join(cgroupRoot, rel)
	if filepath.Base(scope) != cg.Unit {
		return nil, nil, fmt.Errorf("systemd created %s, but urun is in cgroup %s", cg.Unit, rel)
	}
	// cgroup v2 lets only leaves hold processes once controllers are
	// enabled below, so urun moves out of the scope's own cgroup first.
	if err := mkLeaf(filepath.Join(scope, "urun"), os.Getpid()); err != nil {
		return nil, nil, err
	}
	b, err := os.ReadFile(filepath.Join(scope, "cgroup.controllers"))
	if err != nil {
		return nil, nil, fmt.Errorf("reading the scope's controllers: %w", err)
	}
	cg.Delegated = strings.Fields(string(b))
	plan, warnings, err := checkDelegated(req.Mode, plan, cg.Delegated)
	if err != nil {
		return nil, nil, err
	}
	// Every delegated controller is enabled, not only the limited ones,
	// so the container's usage can be read.
	for _, c := range cg.Delegated {
		err := os.WriteFile(filepath.Join(scope, "cgroup.subtree_control"), []byte("+"+c), 0)
		if err != nil && contains(Controllers(plan), c) {
			return nil, nil, fmt.Errorf("enabling the %s controller in %s: %w", c, scope, err)
		}
	}
	cg.Path = filepath.Join(scope, "container")
	if err := os.Mkdir(cg.Path, 0o755); err != nil {
		return nil, nil, fmt.Errorf("creating the container's cgroup: %w", err)
	}
	for _, w := range plan {
		if err := os.WriteFile(filepath.Join(cg.Path, w.File), []byte(w.Value), 0); err != nil {
			err = fmt.Errorf("%s: writing %s %q: %w", w.Flag, w.File, w.Value, err)
			if req.Mode != BestEffort {
				cg.Close()
				return nil, nil, err
			}
			warnings = append(warnings, "running without "+err.Error())
		}
	}
	if cg.dir, err = os.OpenFile(cg.Path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err != nil {
		cg.Close()
		return nil, nil, fmt.Errorf("opening the container's cgroup: %w", err)
	}
	cg.SetupTime = time.Since(start)
	return cg, warnings, nil
}

// delegateFix is the drop-in that delegates every controller urun uses.
const delegateFix = `as root: mkdir -p /etc/systemd/system/user@.service.d && printf '[Service]\nDelegate=cpu cpuset io memory pids\n' >/etc/systemd/system/user@.service.d/delegate.conf && systemctl daemon-reload, then log in again`

// checkDelegated keeps the writes whose controller the scope got; a
// missing one is an error with the fix, or a warning under best-effort.
func checkDelegated(mode Mode, plan []Write, delegated []string) ([]Write, []string, error) {
	var keep, dropped []Write
	var missing []string
	for _, w := range plan {
		if contains(delegated, w.Controller) {
			keep = append(keep, w)
			continue
		}
		dropped = append(dropped, w)
		if !contains(missing, w.Controller) {
			missing = append(missing, w.Controller)
		}
	}
	if len(dropped) == 0 {
		return keep, nil, nil
	}
	cause := fmt.Sprintf("systemd does not delegate the %s controller to your user (delegated: %s)",
		strings.Join(missing, " and "), strings.Join(delegated, " "))
	if mode == BestEffort {
		return keep, []string{fmt.Sprintf("running without %s: %s", flagList(dropped), cause)}, nil
	}
	return nil, nil, fmt.Errorf("%s needs a cgroup, but %s; fix: %s, or pass --cgroups=best-effort to run without the limit", flagList(dropped), cause, delegateFix)
}

// mkLeaf creates a cgroup and moves pid into it.
func mkLeaf(dir string, pid int) error {
	if err := os.Mkdir(dir, 0o755); err != nil && !os.IsExist(err) {
		return fmt.Errorf("creating cgroup %s: %w", dir, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0); err != nil {
		return fmt.Errorf("moving pid %d into cgroup %s: %w", pid, dir, err)
	}
	return nil
}

// Dir is the container's cgroup directory, for clone3 CLONE_INTO_CGROUP.
func (c *Cgroup) Dir() int { return int(c.dir.Fd()) }

// Placer is the container.Attachment that moves the init into the cgroup
// after clone, on kernels without CLONE_INTO_CGROUP. Its Close leaves the
// cgroup to Cgroup.Close, which runs after urun has read the OOM count.
func (c *Cgroup) Placer() interface {
	Attach(pid int) error
	Close() error
} {
	return placer{c}
}

type placer struct{ c *Cgroup }

func (p placer) Attach(pid int) error {
	if p.c.CloneInto {
		return nil
	}
	return mkLeaf(p.c.Path, pid)
}

func (placer) Close() error { return nil }

// OOMKilled tells whether the kernel killed a process of the container
// for exceeding its memory limit.
func (c *Cgroup) OOMKilled() bool {
	b, err := os.ReadFile(filepath.Join(c.Path, "memory.events"))
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if n, ok := strings.CutPrefix(line, "oom_kill "); ok && n != "0" {
			return true
		}
	}
	return false
}

// Close removes the container's cgroup once its processes are gone. The
// scope goes away by itself when urun, its last process, exits.
func (c *Cgroup) Close() error {
	if c.dir != nil {
		c.dir.Close()
		c.dir = nil
	}
	if c.Path == "" {
		return nil
	}
	// The pid namespace's processes die with its init, but the cgroup
	// may still count them for a moment.
	var err error
	for i := 0; i < 200; i++ {
		if err = unix.Rmdir(c.Path); err == nil || errors.Is(err, unix.ENOENT) {
			return nil
		}
		if !errors.Is(err, unix.EBUSY) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	return fmt.Errorf("removing cgroup %s: %w", c.Path, err)
}

// flagList names the flags behind a plan: "--memory and --pids-limit".
func flagList(plan []Write) string {
	var flags []string
	for _, w := range plan {
		if !contains(flags, w.Flag) {
			flags = append(flags, w.Flag)
		}
	}
	return strings.Join(flags, " and ")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Usage is what the container used, read from its cgroup.
type Usage struct {
	// MemoryPeak is memory.peak in bytes (Linux 5.19+), -1 when unknown.
	MemoryPeak int64
	// CPU is cpu.stat's usage_usec, -1 when unknown.
	CPU time.Duration
}

// Usage reads the container's usage; call it after the container ended
// and before Close.
func (c *Cgroup) Usage() Usage {
	u := Usage{MemoryPeak: -1, CPU: -1}
	if b, err := os.ReadFile(filepath.Join(c.Path, "memory.peak")); err == nil {
		if v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil {
			u.MemoryPeak = v
		}
	}
	if b, err := os.ReadFile(filepath.Join(c.Path, "cpu.stat")); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "usage_usec "); ok {
				if n, err := strconv.ParseInt(v, 10, 64); err == nil {
					u.CPU = time.Duration(n) * time.Microsecond
				}
			}
		}
	}
	return u
}

// Scoped says whether Setup in mode would put the calling process into
// a systemd scope of the container's (the host delegates cgroups): a
// process that serves several containers must not run one of those.
func Scoped(mode Mode) bool {
	if mode == Disabled {
		return false
	}
	_, u := probeHost()
	return u == nil
}
