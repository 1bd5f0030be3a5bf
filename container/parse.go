package container

import (
	"errors"
	"fmt"
	"math"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// ParseVolume parses -v SRC:DST[:OPTIONS] into a bind mount. SRC must be
// an absolute host path (named and anonymous volumes do not exist in
// urun); OPTIONS is a comma list of ro, rro, rw, z, Z (accepted and
// ignored: urun does no SELinux labelling), private, rprivate, shared,
// rshared, slave, rslave, unbindable, runbindable, nosuid, suid, nodev,
// dev, noexec, exec, bind and rbind. The mount is rbind and rprivate
// unless the options say otherwise.
//
// ro and rro are the same here: read-only all the way down, every mount
// below SRC included (runtime-spec "ro" plus "rro", which the init
// applies with mount_setattr(AT_RECURSIVE)); docker 25 does the same.
func ParseVolume(s string) (specs.Mount, error) {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("invalid -v %q: "+format, append([]any{s}, a...)...)
	}
	parts := strings.Split(s, ":")
	switch {
	case len(parts) == 1:
		return specs.Mount{}, bad("want SRC:DST[:OPTIONS] with SRC an absolute host path (anonymous volumes are not supported)")
	case len(parts) > 3:
		return specs.Mount{}, bad(`too many ":" (want SRC:DST[:OPTIONS]; paths containing ":" are not supported)`)
	}
	src := parts[0]
	if !path.IsAbs(src) {
		return specs.Mount{}, bad("volume source must be an absolute host path, not %q (named volumes are not supported)", src)
	}
	dst, err := mountDestination(parts[1])
	if err != nil {
		return specs.Mount{}, bad("%v", err)
	}
	bind, propagation := "rbind", "rprivate"
	var rest []string
	if len(parts) == 3 {
		seen := map[string]string{}
		for o := range strings.SplitSeq(parts[2], ",") {
			if o == "rro" {
				o = "ro"
			}
			group, ok := volumeOptionGroups[o]
			if !ok {
				if o == "" {
					return specs.Mount{}, bad("empty option (want a comma list such as ro,nosuid)")
				}
				return specs.Mount{}, bad("unknown option %q (want ro, rw, nosuid, nodev, noexec, bind, rbind, a propagation like rslave, or z/Z)", o)
			}
			if group == "selinux" {
				// urun does no SELinux labelling, so neither letter can
				// contradict anything.
				continue
			}
			if prev := seen[group]; prev != "" && prev != o {
				return specs.Mount{}, bad("options %q and %q contradict each other; keep one", prev, o)
			}
			if seen[group] == o {
				continue
			}
			seen[group] = o
			switch group {
			case "bind":
				bind = o
			case "propagation":
				propagation = o
			case "mode":
				rest = append(rest, o)
				if o == "ro" {
					rest = append(rest, "rro")
				}
			default:
				rest = append(rest, o)
			}
		}
	}
	return specs.Mount{
		Destination: dst,
		Type:        "bind",
		Source:      path.Clean(src),
		Options:     append([]string{bind, propagation}, rest...),
	}, nil
}

// volumeOptionGroups maps each -v option to the group of options it
// excludes: two different options of one group contradict each other.
var volumeOptionGroups = map[string]string{
	"ro": "mode", "rw": "mode",
	"nosuid": "suid", "suid": "suid",
	"nodev": "dev", "dev": "dev",
	"noexec": "exec", "exec": "exec",
	"bind": "bind", "rbind": "bind",
	"private": "propagation", "rprivate": "propagation",
	"shared": "propagation", "rshared": "propagation",
	"slave": "propagation", "rslave": "propagation",
	"unbindable": "propagation", "runbindable": "propagation",
	"z": "selinux", "Z": "selinux",
}

// ParseMount parses docker's --mount type=bind|tmpfs,KEY=VALUE,... into a
// mount. Keys: type; source (src); target (destination, dst); readonly
// (ro), alone or =true|false, read-only recursively as -v's ro;
// bind-propagation; for tmpfs, tmpfs-size and tmpfs-mode. type=volume
// needs named volumes, which urun does not have.
func ParseMount(s string) (specs.Mount, error) {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("invalid --mount %q: "+format, append([]any{s}, a...)...)
	}
	kv := map[string]string{}
	for f := range strings.SplitSeq(s, ",") {
		k, v, hasValue := strings.Cut(f, "=")
		switch k {
		case "src":
			k = "source"
		case "dst", "destination":
			k = "target"
		case "ro":
			k = "readonly"
		}
		if !hasValue && k != "readonly" {
			return specs.Mount{}, bad("%q has no value (want KEY=VALUE, e.g. type=bind,source=/data,target=/data,readonly)", f)
		}
		if _, dup := kv[k]; dup {
			return specs.Mount{}, bad("%s given twice", k)
		}
		if !hasValue {
			v = "true"
		}
		kv[k] = v
	}
	allowed := map[string][]string{
		"bind":  {"type", "source", "target", "readonly", "bind-propagation"},
		"tmpfs": {"type", "target", "readonly", "tmpfs-size", "tmpfs-mode"},
	}
	typ := kv["type"]
	switch typ {
	case "bind", "tmpfs":
	case "":
		return specs.Mount{}, bad("no type= (want type=bind or type=tmpfs)")
	case "volume":
		return specs.Mount{}, bad("urun has no named volumes: use type=bind,source=/host/dir,target=...")
	default:
		return specs.Mount{}, bad("type %q is not supported (want bind or tmpfs)", typ)
	}
	for k := range kv {
		if !slices.Contains(allowed[typ], k) {
			return specs.Mount{}, bad("key %q does not apply to type=%s (want %s)", k, typ, strings.Join(allowed[typ][1:], ", "))
		}
	}
	dst, err := mountDestination(kv["target"])
	if err != nil {
		return specs.Mount{}, bad("%v", err)
	}
	readonly := false
	if v, ok := kv["readonly"]; ok {
		if readonly, err = strconv.ParseBool(v); err != nil {
			return specs.Mount{}, bad("readonly=%q is not true or false", v)
		}
	}
	if typ == "tmpfs" {
		opts := []string{}
		if readonly {
			opts = append(opts, "ro")
		}
		if v, ok := kv["tmpfs-size"]; ok {
			opts = append(opts, "size="+v)
		}
		if v, ok := kv["tmpfs-mode"]; ok {
			opts = append(opts, "mode="+v)
		}
		spec := dst
		if len(opts) > 0 {
			spec += ":" + strings.Join(opts, ",")
		}
		m, err := ParseTmpfs(spec)
		if err != nil {
			return specs.Mount{}, bad("%v", strings.TrimPrefix(err.Error(), fmt.Sprintf("invalid --tmpfs %q: ", spec)))
		}
		return m, nil
	}
	src := kv["source"]
	if !path.IsAbs(src) {
		return specs.Mount{}, bad("source must be an absolute host path, not %q", src)
	}
	propagation := "rprivate"
	if v, ok := kv["bind-propagation"]; ok {
		if volumeOptionGroups[v] != "propagation" {
			return specs.Mount{}, bad("bind-propagation %q is not one of private, rprivate, shared, rshared, slave, rslave", v)
		}
		propagation = v
	}
	opts := []string{"rbind", propagation}
	if readonly {
		opts = append(opts, "ro", "rro")
	}
	return specs.Mount{Destination: dst, Type: "bind", Source: path.Clean(src), Options: opts}, nil
}

// ParseTmpfs parses --tmpfs DST[:OPTIONS] into a tmpfs mount with nosuid
// and nodev, then OPTIONS: mount flags (ro, noexec, suid, …) and the tmpfs
// settings size, mode, uid, gid, nr_inodes, nr_blocks, mpol and huge.
func ParseTmpfs(s string) (specs.Mount, error) {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("invalid --tmpfs %q: "+format, append([]any{s}, a...)...)
	}
	dstArg, optArg, hasOpts := strings.Cut(s, ":")
	dst, err := mountDestination(dstArg)
	if err != nil {
		return specs.Mount{}, bad("%v", err)
	}
	opts := []string{"nosuid", "nodev"}
	if hasOpts {
		for o := range strings.SplitSeq(optArg, ",") {
			if err := checkTmpfsOption(o); err != nil {
				return specs.Mount{}, bad("%v", err)
			}
			// A later flag overrides an earlier one when mounting; drop the
			// overridden default so the spec reads as what happens.
			switch o {
			case "suid":
				opts = slices.DeleteFunc(opts, func(x string) bool { return x == "nosuid" })
			case "dev":
				opts = slices.DeleteFunc(opts, func(x string) bool { return x == "nodev" })
			}
			if !slices.Contains(opts, o) {
				opts = append(opts, o)
			}
		}
	}
	return specs.Mount{Destination: dst, Type: "tmpfs", Source: "tmpfs", Options: opts}, nil
}

// checkTmpfsOption refuses what mount(2) would refuse later with a bare
// EINVAL, or what cannot mean anything for a tmpfs.
func checkTmpfsOption(o string) error {
	key, val, hasVal := strings.Cut(o, "=")
	if !hasVal {
		switch {
		case o == "":
			return errors.New("empty option (want a comma list such as size=64m,mode=1777)")
		case o == "bind" || o == "rbind":
			return fmt.Errorf("option %q is for bind mounts, not tmpfs", o)
		case o == "defaults":
			return nil
		}
		if _, ok := mountFlagTable[o]; ok {
			return nil
		}
		if _, ok := propagationTable[o]; ok {
			return nil
		}
		return fmt.Errorf("unknown option %q (want size=, mode=, uid=, gid=, nr_inodes=, or a mount flag such as ro or noexec)", o)
	}
	if val == "" {
		return fmt.Errorf("option %q has no value", o)
	}
	switch key {
	case "size", "nr_blocks", "nr_inodes":
		num := strings.TrimRight(val, "kKmMgGtTpPeE%")
		if len(val)-len(num) > 1 || num == "" || strings.Trim(num, "0123456789") != "" {
			return fmt.Errorf("%s %q is not a size (want a number with an optional k, m, g or %% suffix, e.g. %s=64m)", key, val, key)
		}
	case "mode":
		if m, err := strconv.ParseUint(val, 8, 32); err != nil || m > 0o7777 {
			return fmt.Errorf("mode %q is not an octal file mode (e.g. mode=1777)", val)
		}
	case "uid", "gid":
		if _, err := strconv.ParseUint(val, 10, 32); err != nil {
			return fmt.Errorf("%s %q is not a number", key, val)
		}
	case "mpol", "huge":
	default:
		return fmt.Errorf("unknown option %q (want size=, mode=, uid=, gid=, nr_inodes=, or a mount flag such as ro or noexec)", o)
	}
	return nil
}

// mountDestination checks and cleans a mount's path in the container.
func mountDestination(dst string) (string, error) {
	if !path.IsAbs(dst) {
		return "", fmt.Errorf("destination %q must be an absolute path in the container", dst)
	}
	dst = path.Clean(dst)
	if dst == "/" {
		return "", errors.New(`destination "/" would hide the container's root filesystem`)
	}
	return dst, nil
}

// ulimitTypes are docker's --ulimit names and their rlimit types.
var ulimitTypes = map[string]string{
	"as": "RLIMIT_AS", "core": "RLIMIT_CORE", "cpu": "RLIMIT_CPU", "data": "RLIMIT_DATA",
	"fsize": "RLIMIT_FSIZE", "locks": "RLIMIT_LOCKS", "memlock": "RLIMIT_MEMLOCK",
	"msgqueue": "RLIMIT_MSGQUEUE", "nice": "RLIMIT_NICE", "nofile": "RLIMIT_NOFILE",
	"nproc": "RLIMIT_NPROC", "rss": "RLIMIT_RSS", "rtprio": "RLIMIT_RTPRIO",
	"rttime": "RLIMIT_RTTIME", "sigpending": "RLIMIT_SIGPENDING", "stack": "RLIMIT_STACK",
}

// rlimInfinity is RLIM_INFINITY, what -1 and "unlimited" mean.
const rlimInfinity = math.MaxUint64

// ParseUlimit parses --ulimit NAME=SOFT[:HARD] (docker's names, such as
// nofile or nproc; -1 or "unlimited" for no limit; HARD defaults to SOFT).
func ParseUlimit(s string) (specs.POSIXRlimit, error) {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("invalid --ulimit %q: "+format, append([]any{s}, a...)...)
	}
	name, val, ok := strings.Cut(s, "=")
	if !ok {
		return specs.POSIXRlimit{}, bad("want NAME=SOFT[:HARD], e.g. nofile=1024:2048")
	}
	typ, ok := ulimitTypes[strings.TrimPrefix(strings.ToLower(name), "rlimit_")]
	if !ok {
		return specs.POSIXRlimit{}, bad("unknown limit %q (want one of %s)", name, strings.Join(ulimitNames(), ", "))
	}
	softArg, hardArg, hasHard := strings.Cut(val, ":")
	soft, err := parseLimit("soft", softArg)
	if err != nil {
		return specs.POSIXRlimit{}, bad("%v", err)
	}
	hard := soft
	if hasHard {
		if hard, err = parseLimit("hard", hardArg); err != nil {
			return specs.POSIXRlimit{}, bad("%v", err)
		}
	}
	if soft > hard {
		return specs.POSIXRlimit{}, bad("soft limit %s is above the hard limit %s", softArg, hardArg)
	}
	return specs.POSIXRlimit{Type: typ, Soft: soft, Hard: hard}, nil
}

func parseLimit(which, s string) (uint64, error) {
	if s == "-1" || s == "unlimited" {
		return rlimInfinity, nil
	}
	n, err := strconv.ParseUint(s, 10, 64)
	switch {
	case err == nil:
		return n, nil
	case strings.HasPrefix(s, "-") && strings.Trim(s[1:], "0123456789") == "" && len(s) > 1:
		return 0, fmt.Errorf("%s limit %q is negative (use -1 for unlimited)", which, s)
	case errors.Is(err, strconv.ErrRange):
		return 0, fmt.Errorf("%s limit %q is too large (use -1 for unlimited)", which, s)
	}
	return 0, fmt.Errorf("%s limit %q is not a number (want NAME=SOFT[:HARD])", which, s)
}

func ulimitNames() []string {
	names := make([]string, 0, len(ulimitTypes))
	for n := range ulimitTypes {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// NormalizeCapability turns a capability name in any case, with or
// without CAP_, into the spec's form: "net_admin" -> "CAP_NET_ADMIN".
func NormalizeCapability(name string) (string, error) {
	c := strings.ToUpper(strings.TrimSpace(name))
	if !strings.HasPrefix(c, "CAP_") {
		c = "CAP_" + c
	}
	if _, ok := capNumber(c); !ok {
		return "", fmt.Errorf("unknown capability %q (want a name from capabilities(7), such as NET_ADMIN or CAP_NET_ADMIN)", name)
	}
	return c, nil
}

// mountFlag is one mount(2) flag option: set or clear flag.
type mountFlag struct {
	clear bool
	flag  uintptr
}

// mountFlagTable is runc's table of flag options.
var mountFlagTable = map[string]mountFlag{
	"acl":           {false, syscall.MS_POSIXACL},
	"async":         {true, syscall.MS_SYNCHRONOUS},
	"atime":         {true, syscall.MS_NOATIME},
	"dev":           {true, syscall.MS_NODEV},
	"diratime":      {true, syscall.MS_NODIRATIME},
	"dirsync":       {false, syscall.MS_DIRSYNC},
	"exec":          {true, syscall.MS_NOEXEC},
	"iversion":      {false, syscall.MS_I_VERSION},
	"lazytime":      {false, msLazytime},
	"loud":          {true, syscall.MS_SILENT},
	"mand":          {false, syscall.MS_MANDLOCK},
	"noacl":         {true, syscall.MS_POSIXACL},
	"noatime":       {false, syscall.MS_NOATIME},
	"nodev":         {false, syscall.MS_NODEV},
	"nodiratime":    {false, syscall.MS_NODIRATIME},
	"noexec":        {false, syscall.MS_NOEXEC},
	"noiversion":    {true, syscall.MS_I_VERSION},
	"nolazytime":    {true, msLazytime},
	"nomand":        {true, syscall.MS_MANDLOCK},
	"norelatime":    {true, syscall.MS_RELATIME},
	"nostrictatime": {true, syscall.MS_STRICTATIME},
	"nosuid":        {false, syscall.MS_NOSUID},
	"nosymfollow":   {false, msNosymfollow},
	"relatime":      {false, syscall.MS_RELATIME},
	"remount":       {false, syscall.MS_REMOUNT},
	"ro":            {false, syscall.MS_RDONLY},
	"rw":            {true, syscall.MS_RDONLY},
	"silent":        {false, syscall.MS_SILENT},
	"strictatime":   {false, syscall.MS_STRICTATIME},
	"suid":          {true, syscall.MS_NOSUID},
	"symfollow":     {true, msNosymfollow},
	"sync":          {false, syscall.MS_SYNCHRONOUS},
}

// msLazytime is MS_LAZYTIME, which package syscall does not define.
const msLazytime = 1 << 25

// msNosymfollow is MS_NOSYMFOLLOW (Linux 5.10), which package syscall
// does not define either.
const msNosymfollow = 1 << 8

// runtimeOptionTable holds the options addressed to the runtime, or to
// the engine that wrote the config, never to the kernel: podman's,
// CRI-O's and crun's spec generators send them. The kernel would refuse
// each with EINVAL (or, on a bind, ignore it silently).
var runtimeOptionTable = map[string]string{
	"tmpcopyup":    "copy the image's directory into the new tmpfs (as crun and runc do)",
	"notmpcopyup":  "do not copy (the default)",
	"copy-symlink": "a bind of a symbolic link makes the same link, as crun does",
	// OptionalMount marks a mount urun's engine adds for convenience.
	OptionalMount: "skipped when its mount point cannot be made (urun's own /run/.containerenv)",
	"z":           "SELinux relabelling, which the engine does (podman, CRI-O)",
	"Z":           "SELinux relabelling, which the engine does (podman, CRI-O)",
	"U":           "chown of the source, which podman does",
	"copy":        "named-volume copy-up, which podman does",
	"nocopy":      "named-volume copy-up, which podman does",
}

// OptionalMount is the option of a mount the container can do without
// (/run/.containerenv, a marker for tools): where its mount point cannot
// be made (an image without /run on a fuse-overlayfs whose upper layer
// is itself on FUSE refuses the mkdir), the container starts without it.
const OptionalMount = "x-urun-optional"

// hasOption reports whether options holds o.
func hasOption(options []string, o string) bool {
	for _, x := range options {
		if x == o {
			return true
		}
	}
	return false
}

// propagationTable maps propagation options to their mount(2) flags.
var propagationTable = map[string]uintptr{
	"private":     syscall.MS_PRIVATE,
	"shared":      syscall.MS_SHARED,
	"slave":       syscall.MS_SLAVE,
	"unbindable":  syscall.MS_UNBINDABLE,
	"rprivate":    syscall.MS_PRIVATE | syscall.MS_REC,
	"rshared":     syscall.MS_SHARED | syscall.MS_REC,
	"rslave":      syscall.MS_SLAVE | syscall.MS_REC,
	"runbindable": syscall.MS_UNBINDABLE | syscall.MS_REC,
}

// MountFlags turns a runtime-spec mount's Options into mount(2) flags,
// propagation flags, the data string for the filesystem, and whether the
// mount is a (recursive) bind — like runc's parseMountOptions. Options
// for the runtime (runtimeOptionTable) are left out; all others are
// passed through in data (for filesystem-specific ones like mode=755),
// which planMounts refuses on a bind and the init checks against the
// filesystem when the kernel refuses the mount.
//
// Options apply in order, so a later "rw" undoes an earlier "ro". flags
// never holds MS_BIND or MS_REC: bind and recursive say so instead, since
// a bind mount takes its other flags only on a second, remounting call.
func MountFlags(options []string) (flags uintptr, propagation []uintptr, data string, bind, recursive bool) {
	var extra []string
	for _, o := range options {
		if f, ok := mountFlagTable[o]; ok {
			if f.clear {
				flags &^= f.flag
			} else {
				flags |= f.flag
			}
			continue
		}
		if p, ok := propagationTable[o]; ok {
			propagation = append(propagation, p)
			continue
		}
		if _, ok := recursiveAttrTable[o]; ok {
			continue
		}
		if _, ok := recursiveAtimeTable[o]; ok {
			continue
		}
		if _, ok := runtimeOptionTable[o]; ok {
			continue
		}
		switch o {
		case "bind":
			bind = true
		case "rbind":
			bind, recursive = true, true
		case "defaults", "":
		default:
			extra = append(extra, o)
		}
	}
	return flags, propagation, strings.Join(extra, ","), bind, recursive
}

// recursiveAttrTable holds runc's recursive mount options: they set (or
// clear) a mount attribute on the mount and every mount below it, with
// mount_setattr(2) and AT_RECURSIVE (Linux 5.12).
var recursiveAttrTable = map[string]struct {
	clear bool
	attr  uint64
}{
	"rro":     {false, unix.MOUNT_ATTR_RDONLY},
	"rrw":     {true, unix.MOUNT_ATTR_RDONLY},
	"rnosuid": {false, unix.MOUNT_ATTR_NOSUID},
	"rsuid":   {true, unix.MOUNT_ATTR_NOSUID},
	"rnodev":  {false, unix.MOUNT_ATTR_NODEV},
	"rdev":    {true, unix.MOUNT_ATTR_NODEV},
	"rnoexec": {false, unix.MOUNT_ATTR_NOEXEC},
	"rexec":   {true, unix.MOUNT_ATTR_NOEXEC},

	"rnodiratime":  {false, unix.MOUNT_ATTR_NODIRATIME},
	"rdiratime":    {true, unix.MOUNT_ATTR_NODIRATIME},
	"rnosymfollow": {false, unix.MOUNT_ATTR_NOSYMFOLLOW},
	"rsymfollow":   {true, unix.MOUNT_ATTR_NOSYMFOLLOW},
}

// recursiveAtimeTable holds the recursive atime options: the atime mode
// is one field of the mount attributes (MOUNT_ATTR__ATIME), set whole.
// The negative forms choose the kernel's default (relatime), except
// rnorelatime, which asks for access times always updated.
var recursiveAtimeTable = map[string]uint64{
	"rnoatime":       unix.MOUNT_ATTR_NOATIME,
	"rstrictatime":   unix.MOUNT_ATTR_STRICTATIME,
	"rrelatime":      unix.MOUNT_ATTR_RELATIME,
	"ratime":         unix.MOUNT_ATTR_RELATIME,
	"rnostrictatime": unix.MOUNT_ATTR_RELATIME,
	"rnorelatime":    unix.MOUNT_ATTR_STRICTATIME,
}

// RecursiveMountAttrs is what a mount's recursive options (rro, rnosuid…)
// set and clear on it and every mount below it; later options win.
func RecursiveMountAttrs(options []string) (set, clr uint64) {
	for _, o := range options {
		if a, ok := recursiveAtimeTable[o]; ok {
			set = set&^unix.MOUNT_ATTR__ATIME | a
			clr |= unix.MOUNT_ATTR__ATIME
			continue
		}
		if a, ok := recursiveAttrTable[o]; ok {
			if a.clear {
				set &^= a.attr
				clr |= a.attr
			} else {
				clr &^= a.attr
				set |= a.attr
			}
		}
	}
	return set, clr
}

// KnownMountOptions lists the mount options urun interprets itself (for
// `urun features`); others go to the filesystem as data.
func KnownMountOptions() []string {
	var out []string
	for o := range mountFlagTable {
		out = append(out, o)
	}
	for o := range propagationTable {
		out = append(out, o)
	}
	for o := range recursiveAttrTable {
		out = append(out, o)
	}
	for o := range recursiveAtimeTable {
		out = append(out, o)
	}
	for o := range runtimeOptionTable {
		out = append(out, o)
	}
	out = append(out, "bind", "rbind", "defaults")
	sort.Strings(out)
	return out
}
