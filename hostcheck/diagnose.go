package hostcheck

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/urun-dev/urun/hostbin"
)

// Status is a check's verdict.
type Status string

// The statuses, from best to worst.
const (
	// OK: the feature works.
	OK Status = "ok"
	// Warn: urun runs containers, with this feature missing or slower.
	Warn Status = "warn"
	// Fail: urun cannot run containers until this is fixed.
	Fail Status = "fail"
)

// Exit statuses of `urun doctor`.
const (
	ExitFull     = 0 // full function
	ExitDegraded = 1 // runs containers, with something missing
	ExitCannot   = 2 // cannot run containers
)

// Check is one line of `urun doctor`.
type Check struct {
	// ID is a short stable name (userns, subids, …).
	ID     string `json:"id"`
	Status Status `json:"status"`
	// Cause says in plain words what works or what is wrong and what
	// that means for containers.
	Cause string `json:"cause"`
	// Fix is the command that fixes it (with sudo where root is needed);
	// empty when the status is OK or no command can help.
	Fix string `json:"fix,omitempty"`
	// Optional marks a check whose warning does not lower the exit
	// status: the feature is an extra (ping, low ports) or a fallback
	// that is not needed on this host.
	Optional bool `json:"optional,omitempty"`
}

// Report is the whole diagnosis.
type Report struct {
	Checks []Check `json:"checks"`
	// Exit is ExitFull, ExitDegraded or ExitCannot.
	Exit int `json:"exit"`
	// Summary is one sentence about Exit.
	Summary string `json:"summary"`
	// Duration is how long gathering the facts took.
	Duration string `json:"duration"`
}

// Diagnose turns facts into checks. It does no I/O.
func Diagnose(f Facts) Report {
	checks := []Check{
		checkUserns(f),
		checkInit(f),
		checkSubIDs(f),
		checkHelpers(f),
		checkRuntimeDir(f),
		checkStorage(f),
		checkFuse(f),
		checkIdmapLower(f),
		checkCgroups(f),
		checkSystemd(f),
		checkNetwork(f),
		checkPing(f),
		checkPorts(f),
	}
	r := Report{Checks: checks, Exit: ExitFull, Duration: f.Duration}
	for _, c := range checks {
		switch {
		case c.Status == Fail && !c.Optional:
			r.Exit = ExitCannot
		case c.Status == Warn && !c.Optional && r.Exit == ExitFull:
			r.Exit = ExitDegraded
		}
	}
	switch r.Exit {
	case ExitFull:
		r.Summary = "urun can run containers with full function"
	case ExitDegraded:
		r.Summary = "urun can run containers, with the limits above"
	default:
		r.Summary = "urun cannot run containers until the failures above are fixed"
	}
	return r
}

func ok(id, cause string) Check { return Check{ID: id, Status: OK, Cause: cause} }

func userName(f Facts) string {
	if f.User.Name != "" {
		return f.User.Name
	}
	return strconv.Itoa(f.User.UID)
}

// sysctlFix sets a sysctl now and for every boot.
func sysctlFix(key, value, file string) string {
	return fmt.Sprintf("sudo sysctl -w %s=%q && echo '%s=%s' | sudo tee /etc/sysctl.d/%s", key, value, key, value, file)
}

func checkUserns(f Facts) Check {
	p := f.Kernel.Userns
	if p.passed() {
		return ok("userns", "user namespaces work: a new one got a mount namespace and mounted a tmpfs")
	}
	c := Check{ID: "userns", Status: Fail}
	s := f.Sysctl
	switch {
	case s.MaxUserNamespaces != nil && *s.MaxUserNamespaces == 0:
		c.Cause = "user.max_user_namespaces is 0, so nobody may create a user namespace"
		c.Fix = sysctlFix("user.max_user_namespaces", "28633", "90-urun-userns.conf")
	case s.UnprivilegedUsernsClone != nil && *s.UnprivilegedUsernsClone == 0:
		c.Cause = "kernel.unprivileged_userns_clone is 0: the kernel lets only root create user namespaces"
		c.Fix = sysctlFix("kernel.unprivileged_userns_clone", "1", "90-urun-userns.conf")
	case s.AppArmorRestrict != nil && *s.AppArmorRestrict != 0:
		exe := f.Version.Executable
		if exe == "" {
			exe = "/usr/local/bin/urun"
		}
		c.Cause = "AppArmor restricts unprivileged user namespaces (kernel.apparmor_restrict_unprivileged_userns=1): urun's namespaces get no capabilities, so it cannot mount anything"
		c.Fix = fmt.Sprintf(`printf 'abi <abi/4.0>,\ninclude <tunables/global>\nprofile urun %s flags=(unconfined) {\n  userns,\n}\n' | sudo tee /etc/apparmor.d/urun && sudo apparmor_parser -r /etc/apparmor.d/urun`, exe)
	case !p.Ran:
		c.Cause = "user namespaces were not probed: " + p.Skipped
	default:
		c.Cause = "creating a user namespace failed: " + p.Error
		c.Fix = "check that the kernel has CONFIG_USER_NS=y and that no security module (SELinux, AppArmor, seccomp in a container) forbids unshare(CLONE_NEWUSER)"
	}
	return c
}

func checkInit(f Facts) Check {
	if f.Version.InitError != "" {
		return Check{ID: "init", Status: Fail, Cause: f.Version.InitError, Fix: "sudo make install (urun-init must sit beside urun), or set URUN_INIT to its path"}
	}
	return ok("init", "urun-init is "+f.Version.Init)
}

func checkSubIDs(f Facts) Check {
	ids := f.IDs
	name := userName(f)
	addFix := ids.AddFix
	if addFix == "" {
		addFix = fmt.Sprintf("sudo usermod --add-subuids START-END --add-subgids START-END %s (65536 ids that no line of /etc/subuid or /etc/subgid holds)", name)
	}
	single := "containers get a single-id user namespace (only root inside is mapped; files owned by other ids cannot be created)"
	switch {
	case ids.LookupError != "":
		return Check{ID: "subids", Status: Fail,
			Cause: ids.LookupError + ": `urun run` stops here",
			Fix:   "fix the broken line (format NAME:START:COUNT, see subuid(5)): sudoedit /etc/subuid /etc/subgid"}
	case ids.Source == "none":
		return Check{ID: "subids", Status: Warn, Cause: ids.SourcePath + " does not exist: " + single, Fix: addFix}
	case len(ids.UIDRanges) == 0:
		return Check{ID: "subids", Status: Warn, Cause: fmt.Sprintf("%s has no entry for %s: %s", sourceName(ids.Source, "/etc/subuid"), name, single), Fix: addFix}
	case len(ids.GIDRanges) == 0:
		return Check{ID: "subids", Status: Warn, Cause: fmt.Sprintf("%s has no entry for %s: %s", sourceName(ids.Source, "/etc/subgid"), name, single), Fix: addFix}
	}
	return ok("subids", fmt.Sprintf("%s has %d subordinate uids and %d gids (from %s)", name, count(ids.UIDRanges), count(ids.GIDRanges), ids.SourcePath))
}

func sourceName(s, file string) string {
	if s == "getsubids" {
		return "getsubids"
	}
	return file
}

func count(rs []IDRange) uint64 {
	var n uint64
	for _, r := range rs {
		n += uint64(r.Count)
	}
	return n
}

func checkHelpers(f Facts) Check {
	const id = "newuidmap"
	for _, h := range []string{"newuidmap", "newgidmap"} {
		if hp := f.Helpers[h]; !hp.Found() {
			cause, fix := hostbin.NotFoundText(h, hp.OffPath, "uidmap")
			return Check{ID: id, Status: Warn, Cause: cause + ": containers get a single-id user namespace", Fix: fix}
		}
	}
	for _, h := range []string{"newuidmap", "newgidmap"} {
		hp := f.Helpers[h]
		if hp.Shadowed != "" || hp.NosuidMount != "" && (hp.Setuid || hp.Caps) {
			// The same words as urun run's warning (hostbin).
			cause, fix := hostbin.UnprivilegedText(hp.Path, hp.Shadowed, hp.NosuidMount)
			return Check{ID: id, Status: Warn, Cause: cause + ": containers get a single-id user namespace", Fix: fix}
		}
	}
	p := f.IDs.HelperProbe
	switch {
	case p.passed():
		u := f.Helpers["newuidmap"]
		how := "setuid root"
		if !u.Setuid {
			how = "file capabilities"
		}
		return ok(id, fmt.Sprintf("%s and newgidmap (%s) wrote the maps of a new user namespace", u.Path, how))
	case !p.Ran:
		return Check{ID: id, Status: Warn, Cause: "newuidmap was not probed: " + p.Skipped}
	}
	c := Check{ID: id, Status: Warn, Cause: p.Error, Fix: f.IDs.HelperFix}
	if f.IDs.HelperCause != "" {
		c.Cause = f.IDs.HelperCause
	}
	if c.Fix == "" {
		u := f.Helpers["newuidmap"]
		if !u.Setuid && !u.Caps {
			c.Cause, c.Fix = hostbin.UnprivilegedText(u.Path, "", "")
		} else {
			c.Fix = "sudo apt-get install --reinstall uidmap"
		}
	}
	c.Cause += ": containers get a single-id user namespace"
	return c
}

func checkRuntimeDir(f Facts) Check {
	d := f.Dirs
	name, uid := userName(f), f.User.UID
	own := fmt.Sprintf("/run/user/%d", uid)
	login := fmt.Sprintf("log in with a real session (ssh, or sudo machinectl shell %s@) instead of su; or export XDG_RUNTIME_DIR=%s after: sudo install -d -m 0700 -o %s %s", name, own, name, own)
	var cause string
	switch d.RuntimeProblem {
	case "":
		if d.StateError != "" {
			return Check{ID: "runtime-dir", Status: Fail, Cause: d.StateError, Fix: fmt.Sprintf("export XDG_RUNTIME_DIR=%s after: sudo install -d -m 0700 -o %s %s", own, name, own)}
		}
		return ok("runtime-dir", "container state goes to "+d.State)
	case "unset":
		cause = "XDG_RUNTIME_DIR is unset (as after su, sudo or in a CI shell)"
	case "missing":
		cause = fmt.Sprintf("XDG_RUNTIME_DIR=%s does not exist", d.RuntimeEnv)
	case "not a directory":
		cause = fmt.Sprintf("XDG_RUNTIME_DIR=%s is not a directory", d.RuntimeEnv)
	case "owner":
		cause = fmt.Sprintf("XDG_RUNTIME_DIR=%s belongs to uid %d, not to you (uid %d): it was inherited through su or sudo", d.RuntimeEnv, d.RuntimeOwner, uid)
	case "mode":
		cause = fmt.Sprintf("XDG_RUNTIME_DIR=%s has mode %s: other users can look in", d.RuntimeEnv, d.RuntimeMode)
		login = "chmod 0700 " + d.RuntimeEnv
	default:
		cause = fmt.Sprintf("XDG_RUNTIME_DIR=%s: %s", d.RuntimeEnv, d.RuntimeProblem)
	}
	if d.StateError != "" {
		return Check{ID: "runtime-dir", Status: Fail, Cause: cause + "; and the fallback failed: " + d.StateError, Fix: login}
	}
	if strings.HasPrefix(d.State, own+"/") {
		// As podman: the login's own runtime directory, where a login
		// shell's containers are too.
		return ok("runtime-dir", cause+"; container state goes to "+d.State+", your login's runtime directory")
	}
	return Check{ID: "runtime-dir", Status: Warn,
		Cause: cause + "; container state goes to " + d.State + " instead, which is not cleaned at logout, and the user bus cannot be found",
		Fix:   login}
}

// storageFix moves the storage to a filesystem overlay accepts.
const storageFix = "keep urun's storage on a local filesystem such as ext4, xfs, btrfs or tmpfs: export URUN_DATA_DIR=/a/dir/on/ext4 (or urun --data-dir)"

func checkStorage(f Facts) Check {
	c := checkStorageTier(f)
	if s := f.Storage; s.Owners != "" && f.Dirs.DataError == "" {
		// run and pull refuse: a failure whatever the tier.
		c = Check{ID: c.ID, Status: Fail, Cause: s.Owners + "; " + c.Cause, Fix: s.OwnersFix}
	}
	return c
}

func checkStorageTier(f Facts) Check {
	s := f.Storage
	const id = "storage"
	if f.Dirs.DataError != "" {
		fix := f.Dirs.DataFix
		if fix == "" {
			fix = "export URUN_DATA_DIR=a directory of yours that you can write (or urun --data-dir)"
		}
		return Check{ID: id, Status: Fail, Cause: f.Dirs.DataError, Fix: fix}
	}
	on := f.Dirs.Data
	if s.FSType != "" {
		on += " (" + s.FSType + ")"
	}
	// The tier named is the one `urun run` starts containers with (the
	// recorded probe) and `urun info` shows.
	tier := " (rootfs tier " + s.Tier + ")"
	switch {
	case s.Overlay.passed():
		return ok(id, "kernel overlayfs mounts in "+on+" inside a user namespace"+tier)
	case !s.Overlay.Ran:
		return Check{ID: id, Status: Warn, Cause: "overlay was not probed: " + s.Overlay.Skipped}
	}
	why := "kernel overlayfs cannot be mounted in " + on + " inside a user namespace: " + s.Overlay.Error
	fix := storageFix
	if old, rel := kernelBefore(f.Kernel.Release, 5, 11); old {
		why = "kernel " + rel + " is older than 5.11 and cannot mount overlayfs in a user namespace"
		fix = "upgrade the kernel to 5.11 or later (sudo apt-get install linux-image-amd64 from a recent release)"
	}
	if f.Fuse.Mount.passed() {
		return Check{ID: id, Status: Warn, Cause: why + "; urun uses fuse-overlayfs instead, which is slower" + tier, Fix: fix}
	}
	return Check{ID: id, Status: Warn,
		Cause: why + "; and fuse-overlayfs cannot be used either (see the fuse line): every container gets a copy of its image in memory (tier copy), which costs the image's size in RAM and the copy's time at each start",
		Fix:   fix}
}

// kernelBefore reports whether release is older than major.minor.
func kernelBefore(release string, major, minor int) (bool, string) {
	parts := strings.SplitN(release, ".", 3)
	if len(parts) < 2 {
		return false, release
	}
	ma, err1 := strconv.Atoi(parts[0])
	mi, err2 := strconv.Atoi(strings.TrimLeftFunc(parts[1], func(r rune) bool { return r < '0' || r > '9' }))
	if err1 != nil || err2 != nil {
		return false, release
	}
	return ma < major || ma == major && mi < minor, release
}

func checkFuse(f Facts) Check {
	fu := f.Fuse
	c := Check{ID: "fuse", Status: Warn}
	switch {
	case fu.Mount.passed():
		v := f.Helpers["fuse-overlayfs"].Version
		if v != "" {
			v = " (" + v + ")"
		}
		return ok("fuse", "fuse-overlayfs mounts in a user namespace"+v)
	case fu.DeviceMissing:
		c.Cause = fu.Device + " does not exist (the fuse module is not loaded)"
		c.Fix = "sudo modprobe fuse && echo fuse | sudo tee -a /etc/modules"
	case fu.DeviceError != "":
		c.Cause = fmt.Sprintf("%s cannot be opened (%s, mode %s)", fu.Device, fu.DeviceError, fu.DeviceMode)
		c.Fix = "sudo chmod 0666 " + fu.Device + " (udev does this at boot on a normal install: sudo apt-get install udev)"
	case !f.Helpers["fuse-overlayfs"].Found():
		c.Cause, c.Fix = hostbin.NotFoundText("fuse-overlayfs", f.Helpers["fuse-overlayfs"].OffPath, "fuse-overlayfs")
	case !fu.Mount.Ran:
		c.Cause = "fuse-overlayfs was not probed: " + fu.Mount.Skipped
	default:
		c.Cause = "fuse-overlayfs failed in a user namespace: " + fu.Mount.Error
		c.Fix = "sudo apt-get install --reinstall fuse-overlayfs fuse3"
	}
	if f.Storage.Overlay.passed() {
		// fuse-overlayfs is only the fallback for kernel overlayfs.
		c.Optional = true
		c.Cause += "; not needed while kernel overlayfs works"
	} else {
		c.Cause += "; it is the fallback where kernel overlayfs fails"
	}
	return c
}

// limitFlags are the flags a host without cgroup delegation cannot honour.
const limitFlags = "--memory, --cpus and --pids-limit cannot be enforced"

// wantControllers are the controllers urun's limits need.
var wantControllers = []string{"cpu", "memory", "pids"}

func checkCgroups(f Facts) Check {
	cg := f.Cgroup
	const id = "cgroups"
	v2only := "boot with cgroup v2 only: add systemd.unified_cgroup_hierarchy=1 cgroup_no_v1=all to GRUB_CMDLINE_LINUX in /etc/default/grub, then sudo update-grub && sudo reboot"
	switch cg.Layout {
	case "hybrid":
		return Check{ID: id, Status: Warn,
			Cause: fmt.Sprintf("no limits possible: cgroups are hybrid — %s sit in v1 hierarchies and the v2 hierarchy at %s has only [%s]; %s",
				strings.Join(cg.V1Controllers, " "), cg.V2Mount, strings.Join(cg.Controllers, " "), limitFlags),
			Fix: v2only}
	case "v1":
		return Check{ID: id, Status: Warn,
			Cause: "no limits possible: only cgroup v1 is mounted, which cannot be delegated to a user; " + limitFlags,
			Fix:   v2only}
	case "none", "":
		return Check{ID: id, Status: Warn, Cause: "no limits possible: no cgroup filesystem is mounted at /sys/fs/cgroup; " + limitFlags,
			Fix: "sudo mount -t cgroup2 none /sys/fs/cgroup (systemd does this at boot)"}
	}
	have := cg.Controllers
	where := "your cgroup " + cg.Own
	if f.Systemd.Scope.passed() {
		have, where = f.Systemd.ScopeControllers, "a delegated systemd scope"
	}
	var missing []string
	for _, w := range wantControllers {
		if !slices.Contains(have, w) {
			missing = append(missing, w)
		}
	}
	if len(missing) == 0 {
		return ok(id, fmt.Sprintf("cgroup v2; %s offers [%s]", where, strings.Join(have, " ")))
	}
	return Check{ID: id, Status: Warn,
		Cause: fmt.Sprintf("cgroup v2, but %s offers only [%s]: [%s] are not delegated to you, so those limits cannot be enforced",
			where, strings.Join(have, " "), strings.Join(missing, " ")),
		Fix: `sudo mkdir -p /etc/systemd/system/user@.service.d && printf '[Service]\nDelegate=cpu cpuset io memory pids\n' | sudo tee /etc/systemd/system/user@.service.d/delegate.conf && sudo systemctl daemon-reload, then log out and in`}
}

func checkSystemd(f Facts) Check {
	sd := f.Systemd
	const id = "systemd"
	name := userName(f)
	switch {
	case sd.Scope.passed():
		return ok(id, fmt.Sprintf("the user's systemd (bus %s) gave a delegated scope", sd.Bus))
	case !sd.Booted:
		init := sd.Init
		if init == "" {
			init = "unknown"
		}
		return Check{ID: id, Status: Warn,
			Cause: fmt.Sprintf("no systemd: PID 1 is %q, so there is no user manager to hand out a delegated cgroup; containers run without limits", init),
			Fix:   "boot the host with systemd as init (sudo apt-get install systemd-sysv) and cgroup v2"}
	case sd.Bus == "" || sd.BusError != "":
		why := "no user D-Bus"
		if sd.BusError != "" {
			why += ": " + sd.BusError
		}
		return Check{ID: id, Status: Warn,
			Cause: why + "; urun cannot ask systemd for a delegated scope, so containers run without limits",
			Fix:   fmt.Sprintf("sudo apt-get install dbus-user-session && sudo loginctl enable-linger %s, then log in again (or export DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/%d/bus)", name, f.User.UID)}
	case !sd.Scope.Ran:
		return Check{ID: id, Status: Warn, Cause: "the systemd scope was not probed: " + sd.Scope.Skipped, Fix: "sudo apt-get install systemd"}
	}
	return Check{ID: id, Status: Warn,
		Cause: "the user's systemd did not start a delegated scope: " + sd.Scope.Error + "; containers run without limits",
		Fix:   fmt.Sprintf("systemctl --user status shows why; start the user manager with: sudo loginctl enable-linger %s", name)}
}

func checkNetwork(f Facts) Check {
	n := f.Network
	const id = "network"
	pasta, slirp := f.Helpers["pasta"], f.Helpers["slirp4netns"]
	switch {
	case n.Pasta.passed():
		return ok(id, "pasta gave a throwaway network namespace an address and a route")
	case n.Slirp.passed():
		why, fix := hostbin.NotFoundText("pasta", pasta.OffPath, "passt")
		if pasta.Found() {
			why = "pasta failed: " + n.Pasta.Error
		} else if pasta.OffPath != "" {
			// pasta is the default and the faster one: say how to get it.
			return Check{ID: id, Status: Warn, Optional: true,
				Cause: "slirp4netns works on a throwaway network namespace; " + why, Fix: fix}
		}
		return ok(id, "slirp4netns works on a throwaway network namespace ("+why+")")
	case n.TunError != "":
		return Check{ID: id, Status: Warn,
			Cause: "/dev/net/tun cannot be opened (" + n.TunError + "): pasta and slirp4netns need it, so containers get only --network none or host",
			Fix:   "sudo chmod 0666 /dev/net/tun (if it is missing: sudo modprobe tun)"}
	case !pasta.Found() && !slirp.Found():
		for _, h := range []struct{ name, pkg, off string }{{"pasta", "passt", pasta.OffPath}, {"slirp4netns", "slirp4netns", slirp.OffPath}} {
			if h.off != "" {
				cause, fix := hostbin.NotFoundText(h.name, h.off, h.pkg)
				return Check{ID: id, Status: Warn, Cause: cause + ": containers get only --network none or host", Fix: fix}
			}
		}
		return Check{ID: id, Status: Warn,
			Cause: "neither pasta nor slirp4netns is installed: containers get only --network none or host",
			Fix:   "sudo apt-get install passt"}
	}
	var errs []string
	if pasta.Found() {
		errs = append(errs, "pasta: "+orSkipped(n.Pasta))
	}
	if slirp.Found() {
		errs = append(errs, "slirp4netns: "+orSkipped(n.Slirp))
	}
	return Check{ID: id, Status: Warn,
		Cause: "no network helper works (" + strings.Join(errs, "; ") + "): containers get only --network none or host",
		Fix:   "sudo apt-get install --reinstall passt"}
}

func orSkipped(p Probe) string {
	if !p.Ran {
		return "not probed: " + p.Skipped
	}
	return p.Error
}

func checkPing(f Facts) Check {
	r := f.Sysctl.PingGroupRange
	gid := int64(f.User.GID)
	switch {
	case r == nil:
		return Check{ID: "ping", Status: Warn, Optional: true, Cause: "net.ipv4.ping_group_range is not readable; ping may not work in --network host containers"}
	case r[0] <= gid && gid <= r[1]:
		return ok("ping", fmt.Sprintf("net.ipv4.ping_group_range %d %d lets your group %d ping", r[0], r[1], gid))
	}
	return Check{ID: "ping", Status: Warn, Optional: true,
		Cause: fmt.Sprintf("net.ipv4.ping_group_range is \"%d %d\", which excludes your group %d: ping fails in containers on the host network (--network host)", r[0], r[1], gid),
		Fix:   sysctlFix("net.ipv4.ping_group_range", "0 2147483647", "90-urun-ping.conf")}
}

func checkPorts(f Facts) Check {
	p := f.Sysctl.UnprivilegedPortStart
	switch {
	case p == nil:
		return Check{ID: "ports", Status: Warn, Optional: true, Cause: "net.ipv4.ip_unprivileged_port_start is not readable; ports below 1024 may not be publishable"}
	case *p == 0:
		return ok("ports", "net.ipv4.ip_unprivileged_port_start is 0: any port can be published")
	}
	return Check{ID: "ports", Status: Warn, Optional: true,
		Cause: fmt.Sprintf("net.ipv4.ip_unprivileged_port_start is %d: ports below %d cannot be published (-p 80:80 fails)", *p, *p),
		Fix:   sysctlFix("net.ipv4.ip_unprivileged_port_start", "0", "90-urun-ports.conf")}
}

// checkIdmapLower: an idmapped lower layer would let a run with another
// id mapping share the layer store's files; without it the run copies
// them, which costs disk and time but works, so the check is optional.
func checkIdmapLower(f Facts) Check {
	const id = "idmap-lower"
	p := f.Storage.IdmapLower
	if p.passed() {
		return ok(id, IdmapLowerWhy(p))
	}
	return Check{ID: id, Status: Warn, Optional: true, Cause: IdmapLowerWhy(p),
		Fix: "none needed: runs with the default mapping share the layer store (the kernel gives idmapped mounts of the host's filesystem to root only)"}
}
