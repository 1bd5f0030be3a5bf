package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/urun-dev/urun/container"
	"github.com/urun-dev/urun/engine"
	"github.com/urun-dev/urun/idmap"
	"github.com/urun-dev/urun/userns"
)

// joinTargets are the NAMEs of --ipc, --pid, --uts container:NAME
// (--network's is netFlags.joinNet).
type joinTargets struct{ ipc, pid, uts string }

// resolveJoins finds the container whose namespaces the flags share and
// gives the new one its user namespace's id mapping (and keep-id with
// it): the new init starts in that user namespace (engine/join.go).
func (f *runFlags) resolveJoins(root string, usernsExplicit bool, mode *idmap.Mode, maps *userns.Maps) error {
	t := f.targets
	named := []struct{ flag, name string }{{"--ipc", t.ipc}, {"--pid", t.pid}, {"--network", f.net.joinNet}, {"--uts", t.uts}}
	var flag, name string
	for _, n := range named {
		if n.name == "" {
			continue
		}
		if name != "" && n.name != name {
			return fmt.Errorf("%s container:%s and %s container:%s: urun shares the namespaces of one container at a time (they live in its user namespace, and the new container can be in one only)", flag, name, n.flag, n.name)
		}
		flag, name = n.flag, n.name
	}
	if name == "" {
		return nil
	}
	if usernsExplicit {
		return fmt.Errorf("--userns cannot be combined with %s container:%s: the container runs in %s's user namespace, with its mapping; leave --userns out", flag, name, name)
	}
	if f.net.joinNet != "" && f.opts.Hostname != "" || t.uts != "" && f.opts.Hostname != "" {
		return fmt.Errorf("--hostname cannot be combined with %s container:%s: the hostname is that container's", flag, name)
	}
	for _, s := range f.opts.Sysctls {
		key, _, _ := strings.Cut(s, "=")
		shared := f.net.joinNet != "" && strings.HasPrefix(key, "net.") ||
			t.ipc != "" && (strings.HasPrefix(key, "kernel.msg") || strings.HasPrefix(key, "kernel.sem") || strings.HasPrefix(key, "kernel.shm") || strings.HasPrefix(key, "fs.mqueue.")) ||
			t.uts != "" && key == "kernel.domainname"
		if shared {
			return fmt.Errorf("--sysctl %s cannot be combined with %s container:%s: it would change that container's namespace; set it on %s", key, flag, name, name)
		}
	}
	id, st, rec, err := engine.JoinTarget(root, flag, name, !f.createOnly)
	if err != nil {
		return err
	}
	if rec.Spec == nil || rec.Spec.Linux == nil || len(rec.Spec.Linux.UIDMappings) == 0 {
		return fmt.Errorf("%s container:%s: its record has no id mapping (it runs in urun's own user namespace); share the namespaces of a container urun made the user namespace for", flag, name)
	}
	maps.UID = container.MappingFromSpec(rec.Spec.Linux.UIDMappings)
	maps.GID = container.MappingFromSpec(rec.Spec.Linux.GIDMappings)
	// The helpers are not run for the init (the user namespace exists),
	// but the image's layers for this mapping are made with them.
	maps.UseHelpers, maps.Warning = rec.UseHelpers, ""
	*mode = idmap.ModeAuto
	if inside, ok := maps.UID.ToContainer(uint32(os.Getuid())); ok && inside != 0 {
		// The target runs with --userns=keep-id: so does this one.
		*mode = idmap.ModeKeepID
	}
	maps.Mode = *mode
	if f.net.joinNet != "" || t.uts != "" {
		// docker's: a container on another's network has its hostname.
		f.opts.Hostname = rec.Spec.Hostname
	}
	f.joins = &engine.Joins{Target: id, TargetName: st.Name, IPC: t.ipc != "", PID: t.pid != "", Net: f.net.joinNet != "", UTS: t.uts != ""}
	return nil
}

// joinsAny: a flag names another container's namespaces
// (container:NAME), which resolveJoins looks up.
func (f *runFlags) joinsAny() bool {
	t := f.targets
	return t.ipc != "" || t.pid != "" || t.uts != "" || f.net.joinNet != ""
}
