// Package hostcheck finds out what this host lets an ordinary user do with
// containers, and explains what is missing. It has two halves: gathering
// facts, which runs real probes (a user namespace, newuidmap on it, an
// overlay mount in the storage directory, a fuse-overlayfs mount, a
// systemd scope, pasta on a throwaway network namespace), and diagnosing
// them, which is pure: Diagnose turns Facts into one Check per feature,
// each with a status, a cause in plain words and the command that fixes
// it. `urun info` prints the facts, `urun doctor` the checks.
package hostcheck

// Facts is everything urun learnt about the host. Zero values mean "not
// found" or "not probed"; probes record their error text, not an error
// value, so Facts round-trips through JSON and tests can build it by hand.
type Facts struct {
	Version VersionFacts `json:"version"`
	User    UserFacts    `json:"user"`
	Kernel  KernelFacts  `json:"kernel"`
	IDs     IDFacts      `json:"idMapping"`
	// Helpers are the host programs urun runs, by name.
	Helpers  map[string]Helper `json:"helpers"`
	Dirs     DirFacts          `json:"directories"`
	Storage  StorageFacts      `json:"storage"`
	Fuse     FuseFacts         `json:"fuse"`
	Cgroup   CgroupFacts       `json:"cgroup"`
	Systemd  SystemdFacts      `json:"systemd"`
	Network  NetworkFacts      `json:"network"`
	Sysctl   SysctlFacts       `json:"sysctl"`
	Duration string            `json:"probeDuration,omitempty"`
}

// VersionFacts are urun's own versions.
type VersionFacts struct {
	Urun   string `json:"urun"`
	Commit string `json:"commit"`
	Go     string `json:"go"`
	// Executable is the urun binary's own path.
	Executable string `json:"executable"`
	// Init is the urun-init urun would run, or empty with InitError.
	Init      string `json:"init,omitempty"`
	InitError string `json:"initError,omitempty"`
}

// UserFacts is who runs urun.
type UserFacts struct {
	Name string `json:"name"`
	UID  int    `json:"uid"`
	GID  int    `json:"gid"`
}

// KernelFacts describe the kernel and its user-namespace switches.
type KernelFacts struct {
	Release string `json:"release"`
	// Userns is the real probe: clone a process into a new user and
	// mount namespace with a single-id map and mount a tmpfs there.
	Userns Probe `json:"usernsProbe"`
}

// SysctlFacts are the knobs that block rootless containers. A nil
// pointer means the file does not exist on this kernel.
type SysctlFacts struct {
	// MaxUserNamespaces is user.max_user_namespaces (0 forbids them).
	MaxUserNamespaces *int64 `json:"user.max_user_namespaces,omitempty"`
	// UnprivilegedUsernsClone is Debian's kernel.unprivileged_userns_clone.
	UnprivilegedUsernsClone *int64 `json:"kernel.unprivileged_userns_clone,omitempty"`
	// AppArmorRestrict is Ubuntu's kernel.apparmor_restrict_unprivileged_userns.
	AppArmorRestrict *int64 `json:"kernel.apparmor_restrict_unprivileged_userns,omitempty"`
	// PingGroupRange is net.ipv4.ping_group_range (low, high).
	PingGroupRange *[2]int64 `json:"net.ipv4.ping_group_range,omitempty"`
	// UnprivilegedPortStart is net.ipv4.ip_unprivileged_port_start.
	UnprivilegedPortStart *int64 `json:"net.ipv4.ip_unprivileged_port_start,omitempty"`
}

// IDFacts describe the id mapping urun would use and the newuidmap probe.
type IDFacts struct {
	// UIDRanges and GIDRanges are the user's subordinate ranges.
	UIDRanges []IDRange `json:"subuidRanges"`
	GIDRanges []IDRange `json:"subgidRanges"`
	// Source says where the ranges came from: file, getsubids or none
	// (the file does not exist); SourcePath is the file or program.
	Source     string `json:"source"`
	SourcePath string `json:"sourcePath"`
	// AddFix is the usermod command giving the user a range no other
	// user holds (computed from every line of /etc/subuid and /etc/subgid).
	AddFix string `json:"addSubIDsFix,omitempty"`
	// LookupError is set when the subordinate id files could not be read.
	LookupError string `json:"lookupError,omitempty"`
	// Mode is the mapping `urun run` uses by default: auto, or
	// host-single after a fallback; UIDMap and GIDMap the maps themselves
	// as CONTAINER:HOST:SIZE triples.
	Mode   string `json:"mode"`
	UIDMap string `json:"uidMap"`
	GIDMap string `json:"gidMap"`
	// Helpers is the real probe: newuidmap and newgidmap run on a fresh
	// user namespace, and the child reads its maps back.
	HelperProbe Probe `json:"helperProbe"`
	// HelperCause and HelperFix are the userns package's explanation of
	// a helper failure (the same text `urun run` prints).
	HelperCause string `json:"helperCause,omitempty"`
	HelperFix   string `json:"helperFix,omitempty"`
}

// IDRange is one subordinate id range.
type IDRange struct {
	Start uint32 `json:"start"`
	Count uint32 `json:"count"`
}

// Helper is one host program.
type Helper struct {
	Path    string `json:"path,omitempty"`
	Version string `json:"version,omitempty"`
	// Mode is the file mode as ls shows it; Setuid means setuid and
	// owned by root; Caps means it carries file capabilities.
	Mode   string `json:"mode,omitempty"`
	Setuid bool   `json:"setuid,omitempty"`
	Caps   bool   `json:"fileCaps,omitempty"`
	// NosuidMount is the mount point when the file sits on a filesystem
	// mounted nosuid, where setuid bits and file capabilities do nothing.
	NosuidMount string `json:"nosuidMount,omitempty"`
	// Shadowed is a privileged copy of the same program that PATH finds
	// only later (or in /usr/bin), when the first one found is not.
	Shadowed string `json:"shadowedBy,omitempty"`
	// OffPath is where the program is installed when PATH does not find
	// it (a standard directory PATH lacks).
	OffPath string `json:"offPath,omitempty"`
}

// Found reports whether the program is on PATH.
func (h Helper) Found() bool { return h.Path != "" }

// DirFacts are the directories urun uses and XDG_RUNTIME_DIR's state.
type DirFacts struct {
	// RuntimeEnv is $XDG_RUNTIME_DIR as urun found it ("" when unset).
	RuntimeEnv string `json:"xdgRuntimeDir"`
	// RuntimeProblem says what is wrong with it: "unset", "missing",
	// "not a directory", "owner" or "mode"; empty when it is usable.
	RuntimeProblem string `json:"xdgRuntimeDirProblem,omitempty"`
	// RuntimeOwner and RuntimeMode describe it when it exists.
	RuntimeOwner int    `json:"xdgRuntimeDirOwner,omitempty"`
	RuntimeMode  string `json:"xdgRuntimeDirMode,omitempty"`
	// State is where per-container state goes, or StateError.
	State      string `json:"state"`
	StateError string `json:"stateError,omitempty"`
	// Data holds images and unpacked layers (the storage root).
	Data      string `json:"data"`
	DataError string `json:"dataError,omitempty"`
	DataFix   string `json:"dataFix,omitempty"`
}

// StorageFacts is the overlay probe in the storage root.
type StorageFacts struct {
	// FSType is the filesystem the storage root lives on.
	FSType string `json:"fsType,omitempty"`
	// Overlay is the real probe: kernel overlayfs with userxattr, lower,
	// upper and work directories in the storage root, mounted inside a
	// user namespace, one file written through it.
	Overlay Probe `json:"overlayProbe"`
	// Tier is the rootfs tier `urun run` will use, and TierWhy why.
	Tier    string `json:"tier"`
	TierWhy string `json:"tierWhy"`
	// TierRecord is the file the answer was recorded in for `urun run`
	// (fuseoverlay.TierRecord), "" when it could not be written.
	TierRecord string `json:"tierRecord,omitempty"`
	// IdmapLower is the real probe of an idmapped lower layer: a
	// directory of the storage root cloned, idmapped (mount_setattr
	// MOUNT_ATTR_IDMAP) and stacked under kernel overlayfs inside a user
	// namespace. IdmapLowerRecord is the file the answer was recorded in.
	IdmapLower       Probe  `json:"idmapLowerProbe"`
	IdmapLowerRecord string `json:"idmapLowerRecord,omitempty"`
	// Owners is why the storage cannot hold files owned by subordinate
	// ids, so that images cannot be unpacked there with the default
	// mapping (empty: it can, or there is one id); OwnersFix the fix.
	Owners    string `json:"owners,omitempty"`
	OwnersFix string `json:"ownersFix,omitempty"`
}

// FuseFacts is /dev/fuse and the fuse-overlayfs probe.
type FuseFacts struct {
	Device string `json:"device"`
	// DeviceError is why the device could not be opened read-write
	// (empty: it could); DeviceMissing says it does not exist at all.
	DeviceError   string `json:"deviceError,omitempty"`
	DeviceMissing bool   `json:"deviceMissing,omitempty"`
	DeviceMode    string `json:"deviceMode,omitempty"`
	// Mount is the real probe: fuse-overlayfs mounted in a user namespace
	// over directories in the storage root.
	Mount Probe `json:"mountProbe"`
}

// CgroupFacts describe the cgroup layout and what the user may control.
type CgroupFacts struct {
	// Layout is "v2" (unified), "hybrid" (v1 hierarchies plus a v2 one
	// at /sys/fs/cgroup/unified), "v1" or "none".
	Layout string `json:"layout"`
	// V1Controllers are controllers bound to v1 hierarchies.
	V1Controllers []string `json:"v1Controllers,omitempty"`
	// V2Mount is where the v2 hierarchy is mounted, if anywhere.
	V2Mount string `json:"v2Mount,omitempty"`
	// Own is this process's v2 cgroup path; Controllers are the
	// controllers available in it (its cgroup.controllers).
	Own         string   `json:"ownCgroup,omitempty"`
	Controllers []string `json:"controllers"`
	// Writable says the user may create a child cgroup there.
	Writable bool `json:"writable"`
}

// SystemdFacts describe the init system and the user's bus.
type SystemdFacts struct {
	// Init is PID 1's command name; Booted is sd_booted(): /run/systemd/system exists.
	Init   string `json:"init"`
	Booted bool   `json:"booted"`
	// Bus is the user bus address urun would use ("" when none is known);
	// BusError is why it could not be reached.
	Bus      string `json:"userBus,omitempty"`
	BusError string `json:"userBusError,omitempty"`
	// Scope is the real probe: a transient scope with Delegate=yes from
	// the user's systemd, and the controllers it got.
	Scope            Probe    `json:"scopeProbe"`
	ScopeControllers []string `json:"scopeControllers,omitempty"`
}

// NetworkFacts describe network helpers and probes.
type NetworkFacts struct {
	// Default is the --network default of `urun run`, and DefaultWhy why.
	Default    string `json:"default"`
	DefaultWhy string `json:"defaultWhy"`
	// Pasta and Slirp are real probes: the helper started on a throwaway
	// network namespace, brought up, then stopped.
	Pasta Probe `json:"pastaProbe"`
	Slirp Probe `json:"slirp4netnsProbe"`
	// TunError is why /dev/net/tun could not be opened (both need it).
	TunError string `json:"tunError,omitempty"`
}

// Probe is the outcome of one real probe.
type Probe struct {
	// Ran is false when the probe could not be attempted; Skipped says why.
	Ran     bool   `json:"ran"`
	Skipped string `json:"skipped,omitempty"`
	OK      bool   `json:"ok"`
	// Error is the failure as the kernel or the helper put it.
	Error string `json:"error,omitempty"`
	// Errno is the symbolic errno when one is known (EPERM, ENOSPC…).
	Errno    string `json:"errno,omitempty"`
	Duration string `json:"duration,omitempty"`
}

// passed: ran and succeeded.
func (p Probe) passed() bool { return p.Ran && p.OK }
