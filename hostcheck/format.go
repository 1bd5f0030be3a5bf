package hostcheck

import (
	"fmt"
	"io"
	"strings"
)

// WriteChecks prints one line per check: status, id, cause, and the fix.
func WriteChecks(w io.Writer, r Report) {
	for _, c := range r.Checks {
		line := fmt.Sprintf("%-4s  %-11s %s", c.Status, c.ID, c.Cause)
		if c.Fix != "" && c.Status != OK {
			line += " — fix: " + c.Fix
		}
		fmt.Fprintln(w, line)
	}
	fmt.Fprintf(w, "%s (exit %d)\n", r.Summary, r.Exit)
}

// WriteInfo prints the facts for people; --format json gives all of them.
func WriteInfo(w io.Writer, f Facts) {
	p := func(k, format string, a ...any) {
		fmt.Fprintf(w, "%-16s "+format+"\n", append([]any{k + ":"}, a...)...)
	}
	p("urun", "%s (commit %s, %s) at %s", f.Version.Urun, f.Version.Commit, f.Version.Go, f.Version.Executable)
	if f.Version.InitError != "" {
		p("urun-init", "missing: %s", f.Version.InitError)
	} else {
		p("urun-init", "%s", f.Version.Init)
	}
	p("user", "%s (uid %d, gid %d)", f.User.Name, f.User.UID, f.User.GID)
	p("kernel", "%s; user namespaces: %s", f.Kernel.Release, probeWord(f.Kernel.Userns))
	src := f.IDs.Source
	if f.IDs.SourcePath != "" {
		src += " " + f.IDs.SourcePath
	}
	p("id mapping", "%s from %s: uid %s; gid %s", f.IDs.Mode, src, f.IDs.UIDMap, f.IDs.GIDMap)
	p("id helpers", "newuidmap/newgidmap on a new namespace: %s", probeWord(f.IDs.HelperProbe))
	for _, name := range []string{"newuidmap", "newgidmap", "fuse-overlayfs", "pasta", "slirp4netns", "systemd-run"} {
		h := f.Helpers[name]
		if !h.Found() {
			p(name, "not found")
			continue
		}
		var extra []string
		if h.Mode != "" {
			extra = append(extra, h.Mode)
		}
		if h.Caps {
			extra = append(extra, "file capabilities")
		}
		if h.NosuidMount != "" {
			extra = append(extra, "on nosuid mount "+h.NosuidMount)
		}
		if h.Version != "" {
			extra = append(extra, h.Version)
		}
		p(name, "%s (%s)", h.Path, strings.Join(extra, ", "))
	}
	recorded := ""
	if f.Storage.TierRecord != "" {
		recorded = "; recorded for urun run in " + f.Storage.TierRecord
	}
	p("storage", "%s (%s); rootfs tier %s: %s%s", f.Dirs.Data, f.Storage.FSType, f.Storage.Tier, f.Storage.TierWhy, recorded)
	p("idmapped lower", "%s", IdmapLowerWhy(f.Storage.IdmapLower))
	p("fuse", "%s: %s", f.Fuse.Device, firstOf(f.Fuse.DeviceError, "opens"))
	p("cgroups", "%s; own cgroup %q offers [%s]", f.Cgroup.Layout, f.Cgroup.Own, strings.Join(f.Cgroup.Controllers, " "))
	p("systemd", "init %q (booted with systemd: %v); delegated scope: %s",
		f.Systemd.Init, f.Systemd.Booted, probeWord(f.Systemd.Scope))
	switch sd := f.Systemd; {
	case sd.Bus == "":
		p("user bus", "none (%s)", firstOf(sd.BusError, "not found"))
	case sd.BusError != "":
		p("user bus", "%s, not reachable (%s)", sd.Bus, sd.BusError)
	default:
		p("user bus", "%s, reachable", sd.Bus)
	}
	p("network", "default %s: %s; pasta: %s; slirp4netns: %s", f.Network.Default, f.Network.DefaultWhy, probeWord(f.Network.Pasta), probeWord(f.Network.Slirp))
	p("state", "%s", firstOf(f.Dirs.StateError, f.Dirs.State))
	p("data", "%s", firstOf(f.Dirs.DataError, f.Dirs.Data))
}

func firstOf(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func probeWord(p Probe) string {
	switch {
	case !p.Ran:
		return "not probed (" + p.Skipped + ")"
	case p.OK:
		return "works"
	}
	return "fails: " + p.Error
}
