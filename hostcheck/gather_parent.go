package hostcheck

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	fuseoverlay "github.com/urun-dev/urun/fuse-overlay"
	"github.com/urun-dev/urun/hostbin"
	"github.com/urun-dev/urun/idmap"
	"github.com/urun-dev/urun/userns"
)

// FuseDeviceEnv names the environment variable that points the fuse probe
// at another device path. It exists for tests, which cannot make the host's
// /dev/fuse inaccessible; it changes only the open check, not what
// fuse-overlayfs itself opens.
const FuseDeviceEnv = "URUN_FUSE_DEVICE"

// probeTimeout bounds each probe; a healthy host answers in milliseconds.
const probeTimeout = 5 * time.Second

// Options is what the caller knows that the probes need.
type Options struct {
	// Executable is the urun binary to re-execute as the probe child
	// (it must dispatch ProbeCommand to ChildMain).
	Executable string
	// Urun, Commit: urun's version.
	Urun, Commit string
	// Init is urun-init's path, or InitError why it is missing.
	Init, InitError string
	// State and Data are the directories urun uses, or why not.
	State, StateError string
	Data, DataError   string
	// DataFix is the fix for DataError, when urun knows it.
	DataFix string
	// Owners is why Data cannot store files owned by subordinate ids
	// (store.CheckOwners, the answer run and pull act on); OwnersFix its fix.
	Owners, OwnersFix string
	// NetworkDefault is `urun run`'s --network default, and why.
	NetworkDefault, NetworkWhy string
}

// Gather collects the facts, running the probes in parallel.
func Gather(o Options) Facts {
	start := time.Now()
	var f Facts
	f.Version = VersionFacts{Urun: o.Urun, Commit: o.Commit, Go: runtime.Version(), Executable: o.Executable, Init: o.Init, InitError: o.InitError}
	f.User = UserFacts{UID: os.Getuid(), GID: os.Getgid()}
	if u, err := userns.LookupUID(f.User.UID); err == nil {
		f.User.Name = u.Username
	}
	var uts unix.Utsname
	if unix.Uname(&uts) == nil {
		f.Kernel.Release = unix.ByteSliceToString(uts.Release[:])
	}
	f.Sysctl = readSysctls()
	f.Dirs = DirFacts{State: o.State, StateError: o.StateError, Data: o.Data, DataError: o.DataError, DataFix: o.DataFix}
	f.Storage.Owners, f.Storage.OwnersFix = o.Owners, o.OwnersFix
	f.Dirs.RuntimeEnv, f.Dirs.RuntimeProblem, f.Dirs.RuntimeOwner, f.Dirs.RuntimeMode = runtimeDirState(f.User.UID)
	f.Network.Default, f.Network.DefaultWhy = o.NetworkDefault, o.NetworkWhy
	f.Helpers = map[string]Helper{}
	for _, name := range []string{"newuidmap", "newgidmap", "fuse-overlayfs", "pasta", "slirp4netns", "systemd-run"} {
		f.Helpers[name] = findHelper(name)
	}
	if b := os.Getenv(fuseoverlay.FuseEnv); b != "" {
		// The program `urun run` will run, as it resolves it.
		f.Helpers["fuse-overlayfs"] = findHelper(b)
	}
	f.Cgroup = readCgroups()
	f.Systemd.Init, f.Systemd.Booted = initSystem()

	var wg sync.WaitGroup
	var mu sync.Mutex // guards f.Helpers during the version runs
	goProbe := func(fn func()) {
		wg.Add(1)
		go func() { defer wg.Done(); fn() }()
	}
	goProbe(func() { f.Kernel.Userns = probeUserns(o.Executable) })
	goProbe(func() { probeIDs(&f, o.Executable) })
	goProbe(func() { probeStorage(&f, o.Executable, o.Data, o.DataError) })
	goProbe(func() { probeSystemd(&f) })
	goProbe(func() { probeNetwork(&f, o.Executable) })
	for _, name := range []string{"fuse-overlayfs", "pasta", "slirp4netns"} {
		path := f.Helpers[name].Path
		if path == "" {
			continue
		}
		goProbe(func() {
			v := helperVersion(path)
			mu.Lock()
			h := f.Helpers[name]
			h.Version = v
			f.Helpers[name] = h
			mu.Unlock()
		})
	}
	wg.Wait()
	f.Duration = time.Since(start).Round(time.Millisecond).String()
	return f
}

// readSysctls reads the knobs; a missing file stays nil.
func readSysctls() SysctlFacts {
	num := func(path string) *int64 {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil
		}
		n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err != nil {
			return nil
		}
		return &n
	}
	s := SysctlFacts{
		MaxUserNamespaces:       num("/proc/sys/user/max_user_namespaces"),
		UnprivilegedUsernsClone: num("/proc/sys/kernel/unprivileged_userns_clone"),
		AppArmorRestrict:        num("/proc/sys/kernel/apparmor_restrict_unprivileged_userns"),
		UnprivilegedPortStart:   num("/proc/sys/net/ipv4/ip_unprivileged_port_start"),
	}
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ping_group_range"); err == nil {
		var r [2]int64
		if n, _ := fmt.Sscan(string(b), &r[0], &r[1]); n == 2 {
			s.PingGroupRange = &r
		}
	}
	return s
}

// runtimeDirState says what is wrong with $XDG_RUNTIME_DIR, by the same
// rule urun's state directory uses: a real directory, ours, mode 0700.
func runtimeDirState(uid int) (env, problem string, owner int, mode string) {
	env = os.Getenv("XDG_RUNTIME_DIR")
	if env == "" {
		return env, "unset", 0, ""
	}
	var st unix.Stat_t
	if err := unix.Lstat(env, &st); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return env, "missing", 0, ""
		}
		return env, err.Error(), 0, ""
	}
	mode = fileMode(st.Mode)
	switch {
	case st.Mode&unix.S_IFMT != unix.S_IFDIR:
		return env, "not a directory", int(st.Uid), mode
	case int(st.Uid) != uid:
		return env, "owner", int(st.Uid), mode
	case st.Mode&0o077 != 0:
		return env, "mode", int(st.Uid), mode
	}
	return env, "", int(st.Uid), mode
}

// fileMode formats a stat mode as ls does (drwx------, -rwsr-xr-x).
func fileMode(m uint32) string {
	b := []byte("----------")
	switch m & unix.S_IFMT {
	case unix.S_IFDIR:
		b[0] = 'd'
	case unix.S_IFCHR:
		b[0] = 'c'
	case unix.S_IFLNK:
		b[0] = 'l'
	}
	const rwx = "rwxrwxrwx"
	for i := 0; i < 9; i++ {
		if m&(1<<uint(8-i)) != 0 {
			b[i+1] = rwx[i]
		}
	}
	if m&unix.S_ISUID != 0 {
		b[3] = map[bool]byte{true: 's', false: 'S'}[b[3] == 'x']
	}
	if m&unix.S_ISGID != 0 {
		b[6] = map[bool]byte{true: 's', false: 'S'}[b[6] == 'x']
	}
	return string(b)
}

// findHelper looks a program up on PATH and records how privileged it is.
func findHelper(name string) Helper {
	path, err := exec.LookPath(name)
	if err != nil {
		return Helper{OffPath: hostbin.OffPath(name)}
	}
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	h := Helper{Path: path}
	var st unix.Stat_t
	if unix.Stat(path, &st) != nil {
		return h
	}
	h.Mode = fileMode(st.Mode)
	h.Setuid = st.Mode&unix.S_ISUID != 0 && st.Uid == 0
	if sz, err := unix.Getxattr(path, "security.capability", nil); err == nil && sz > 0 {
		h.Caps = true
	}
	var sfs unix.Statfs_t
	if unix.Statfs(path, &sfs) == nil && sfs.Flags&unix.ST_NOSUID != 0 {
		h.NosuidMount = hostbin.MountPoint(path)
	}
	if (name == "newuidmap" || name == "newgidmap") && (h.NosuidMount != "" || !h.Setuid && !h.Caps) {
		h.Shadowed = hostbin.PrivilegedCopy(name, path)
	}
	return h
}

// helperVersion runs PROGRAM --version and keeps the first line that
// names a version.
func helperVersion(path string) string {
	out, err := runQuiet(path, nil, "--version")
	if err != nil && len(out) == 0 {
		return ""
	}
	// fuse-overlayfs prints fusermount's version first: prefer a line
	// that names the program itself.
	var first string
	for _, l := range strings.Split(string(out), "\n") {
		l = strings.TrimSpace(l)
		if !strings.Contains(strings.ToLower(l), "version") {
			continue
		}
		if strings.HasPrefix(l, filepath.Base(path)) {
			return l
		}
		if first == "" {
			first = l
		}
	}
	return first
}

// runQuiet runs a short host command with a timeout, its output combined.
func runQuiet(path string, env []string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	if env != nil {
		cmd.Env = env
	}
	cmd.WaitDelay = time.Second
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		err = fmt.Errorf("no answer within %s", probeTimeout)
	}
	return out, err
}

// single is the map an ordinary user may write without helpers.
func single() (uid, gid idmap.Mapping) {
	return idmap.Mapping{{ContainerID: 0, HostID: uint32(os.Getuid()), Size: 1}},
		idmap.Mapping{{ContainerID: 0, HostID: uint32(os.Getgid()), Size: 1}}
}

// runProbe starts exe's ProbeCommand in new user and mount namespaces
// (plus extra), sends req and waits for the answer. For kindHold it
// returns the running child; the caller closes it.
func runProbe(exe string, req probeRequest, uidMap, gidMap idmap.Mapping, helpers bool, extra uintptr) (probeAnswer, *userns.Child, error) {
	var ans probeAnswer
	if exe == "" {
		return ans, nil, errors.New("urun's executable is unknown")
	}
	var stderr bytes.Buffer
	child, err := userns.Start(userns.Config{
		Path:       exe,
		Args:       []string{"urun", ProbeCommand},
		Env:        []string{"PATH=" + os.Getenv("PATH")},
		Cloneflags: unix.CLONE_NEWNS | extra,
		UIDMap:     uidMap,
		GIDMap:     gidMap,
		UseHelpers: helpers,
		Stderr:     &stderr,
	})
	if err != nil {
		return ans, nil, err
	}
	err = child.Conn.Send(msgProbe, req)
	if err == nil {
		err = child.Conn.WaitFor(msgProbed, probeTimeout, &ans)
	}
	if err == nil && req.Kind == kindHold {
		return ans, child, nil
	}
	if err != nil {
		child.Cmd.Process.Kill()
	}
	child.Conn.Close()
	werr := child.Cmd.Wait()
	if err == nil && werr != nil {
		err = fmt.Errorf("probe child: %w: %s", werr, bytes.TrimSpace(stderr.Bytes()))
	}
	return ans, nil, err
}

// endHold stops a kindHold child.
func endHold(c *userns.Child) {
	c.Conn.Close()
	done := make(chan struct{})
	go func() { c.Cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Second):
		c.Cmd.Process.Kill()
		<-done
	}
}

// probeResult turns an error into a Probe, splitting off the errno name
// the child puts in front ("EPERM|mount …").
func probeResult(start time.Time, err error) Probe {
	p := Probe{Ran: true, OK: err == nil, Duration: time.Since(start).Round(time.Millisecond).String()}
	if err == nil {
		return p
	}
	msg := err.Error()
	if i := strings.IndexByte(msg, '|'); i > 0 && strings.HasPrefix(msg, "E") && !strings.ContainsAny(msg[:i], " :") {
		p.Errno, msg = msg[:i], msg[i+1:]
	}
	var en unix.Errno
	if p.Errno == "" && errors.As(err, &en) {
		p.Errno = unix.ErrnoName(en)
	}
	p.Error = msg
	return p
}

func skipped(why string) Probe { return Probe{Skipped: why} }

// whyNot is a failed or skipped probe's reason.
func whyNot(p Probe) string {
	if p.Skipped != "" {
		return p.Skipped
	}
	return p.Error
}

// probeUserns: can this user make a user namespace whose root may mount?
func probeUserns(exe string) Probe {
	dir, err := os.MkdirTemp("", "urun-hostcheck-")
	if err != nil {
		return skipped(err.Error())
	}
	defer os.RemoveAll(dir)
	start := time.Now()
	u, g := single()
	_, _, err = runProbe(exe, probeRequest{Kind: kindUserns, Dir: dir}, u, g, false, 0)
	return probeResult(start, err)
}

// probeIDs finds the subordinate ids and runs newuidmap/newgidmap on a
// fresh namespace. Without subordinate ids the helpers still get a test:
// shadow lets a user map its own id through them.
func probeIDs(f *Facts, exe string) {
	ids := &f.IDs
	name := f.User.Name
	uid := uint32(f.User.UID)
	ur, src, err := idmap.LookupSubIDs(name, uid, false)
	var gr []idmap.SubIDRange
	if err == nil {
		gr, _, err = idmap.LookupSubIDs(name, uid, true)
	}
	if err != nil {
		ids.LookupError = err.Error()
	}
	ids.UIDRanges, ids.GIDRanges = toRanges(ur), toRanges(gr)
	ids.Source, ids.SourcePath = src.Kind, src.Path
	if len(ur) == 0 || len(gr) == 0 {
		ids.AddFix = idmap.AddSubIDsFix(userName(*f))
	}
	maps, rerr := userns.ResolveMaps(idmap.ModeAuto, false)
	if rerr == nil {
		ids.Mode, ids.UIDMap, ids.GIDMap = string(maps.Mode), compactMap(maps.UID), compactMap(maps.GID)
	}
	if !f.Helpers["newuidmap"].Found() || !f.Helpers["newgidmap"].Found() {
		ids.HelperProbe = skipped("newuidmap or newgidmap is not installed")
		return
	}
	u, g := single()
	if rerr == nil && maps.UseHelpers {
		u, g = maps.UID, maps.GID
	}
	start := time.Now()
	ans, _, err := runProbe(exe, probeRequest{Kind: kindMaps}, u, g, true, 0)
	if err == nil {
		if got, perr := idmap.ParseProcMap(ans.UIDMap); perr != nil || got.String() != u.String() {
			err = fmt.Errorf("the child sees uid map %q, want %q", strings.TrimSpace(ans.UIDMap), u.String())
		}
	}
	ids.HelperProbe = probeResult(start, err)
	var he *userns.HelperError
	if errors.As(err, &he) {
		ids.HelperCause, ids.HelperFix = he.Helper+": "+he.Cause, he.Fix
		if he.Output != "" && !strings.Contains(he.Cause, he.Output) {
			ids.HelperCause += " (" + he.Output + ")"
		}
	}
}

// probeStorage mounts kernel overlayfs, then fuse-overlayfs, over
// directories in the storage root, each in its own user namespace.
func probeStorage(f *Facts, exe, data, dataErr string) {
	f.Fuse.Device = "/dev/fuse"
	if d := os.Getenv(FuseDeviceEnv); d != "" {
		f.Fuse.Device = d
	}
	if fd, err := unix.Open(f.Fuse.Device, unix.O_RDWR|unix.O_CLOEXEC, 0); err != nil {
		f.Fuse.DeviceError = err.Error()
		f.Fuse.DeviceMissing = errors.Is(err, unix.ENOENT)
		var st unix.Stat_t
		if unix.Stat(f.Fuse.Device, &st) == nil {
			f.Fuse.DeviceMode = fmt.Sprintf("%s, owner uid %d", fileMode(st.Mode), st.Uid)
		}
	} else {
		unix.Close(fd)
	}
	if dataErr != "" {
		f.Storage.Overlay = skipped("no storage directory: " + dataErr)
		f.Fuse.Mount = skipped("no storage directory")
		f.Storage.IdmapLower = skipped("no storage directory")
		f.Storage.Tier, f.Storage.TierWhy = "none", "no storage directory"
		return
	}
	var sfs unix.Statfs_t
	if unix.Statfs(data, &sfs) == nil {
		f.Storage.FSType = fsName(sfs.Type)
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		f.Storage.IdmapLower = ProbeIdmapLower(exe, data)
		if path, err := SaveIdmapLower(data, f.Storage.IdmapLower, "urun doctor/info"); err == nil {
			f.Storage.IdmapLowerRecord = path
		}
	}()
	go func() {
		defer wg.Done()
		start := time.Now()
		err := withLayers(data, func(dir string) error {
			u, g := single()
			_, _, err := runProbe(exe, probeRequest{Kind: kindOverlay, Dir: dir}, u, g, false, 0)
			return err
		})
		f.Storage.Overlay = probeResult(start, err)
	}()
	switch fo := f.Helpers["fuse-overlayfs"]; {
	case f.Fuse.DeviceError != "":
		f.Fuse.Mount = skipped(f.Fuse.Device + " cannot be opened")
	case !fo.Found():
		f.Fuse.Mount = skipped("fuse-overlayfs is not installed")
	default:
		start := time.Now()
		err := withLayers(data, func(dir string) error {
			u, g := single()
			_, _, err := runProbe(exe, probeRequest{Kind: kindFuse, Dir: dir, FuseOverlayfs: fo.Path}, u, g, false, 0)
			return err
		})
		f.Fuse.Mount = probeResult(start, err)
	}
	wg.Wait()
	switch {
	case f.Storage.Overlay.passed():
		f.Storage.Tier, f.Storage.TierWhy = string(fuseoverlay.Native), "kernel overlayfs mounts in the storage directory inside a user namespace"
	case f.Fuse.Mount.passed():
		f.Storage.Tier, f.Storage.TierWhy = string(fuseoverlay.Fuse), "kernel overlayfs failed ("+f.Storage.Overlay.Error+"); fuse-overlayfs works"
	default:
		f.Storage.Tier, f.Storage.TierWhy = string(fuseoverlay.Copy), "neither kernel overlayfs ("+whyNot(f.Storage.Overlay)+") nor fuse-overlayfs ("+whyNot(f.Fuse.Mount)+") can be mounted: each container gets a copy of its image in memory"
	}
	// The answer `urun run` starts its containers with (issue 19: run,
	// info and doctor agree); a run whose container mounts another tier
	// replaces it.
	key := fuseoverlay.TierKey(data, fuseoverlay.FuseBinary(), f.Fuse.Device)
	rec := fuseoverlay.TierRecord{Key: key, Tier: fuseoverlay.Tier(f.Storage.Tier), Why: f.Storage.TierWhy, By: "urun doctor/info"}
	if err := fuseoverlay.SaveTier(data, rec); err == nil {
		f.Storage.TierRecord = filepath.Join(data, fuseoverlay.TierCacheFile)
	}
	if t, err := fuseoverlay.ParseTier(fuseoverlay.DefaultTier()); err == nil && t != fuseoverlay.Auto {
		f.Storage.TierWhy = fmt.Sprintf("forced by $%s (auto would use %s: %s)", fuseoverlay.TierEnv, f.Storage.Tier, f.Storage.TierWhy)
		f.Storage.Tier = string(t)
	}
}

// withLayers makes lower (with a file), upper, work and merged in a fresh
// directory under data, runs fn on it and removes it all again.
func withLayers(data string, fn func(dir string) error) error {
	dir, err := os.MkdirTemp(data, ".hostcheck-")
	if err != nil {
		return fmt.Errorf("creating a probe directory in %s: %w", data, err)
	}
	defer removeAll(dir)
	for _, d := range []string{"lower", "upper", "work", "merged"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "lower", "probe"), []byte("ok"), 0o644); err != nil {
		return err
	}
	return fn(dir)
}

// removeAll removes dir even where overlayfs left a work directory with
// mode 0000 (its owner is us: the probe ran with a single-id map).
func removeAll(dir string) {
	if os.RemoveAll(dir) == nil {
		return
	}
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && info.IsDir() {
			os.Chmod(p, 0o700)
		}
		return nil
	})
	os.RemoveAll(dir)
}

func fsName(magic int64) string {
	names := map[int64]string{
		0xEF53: "ext4", 0x58465342: "xfs", 0x9123683E: "btrfs", 0x01021994: "tmpfs",
		0x794c7630: "overlay", 0x65735546: "fuse", 0x6969: "nfs", 0x2fc12fc1: "zfs",
		0x73717368: "squashfs", 0xF2F52010: "f2fs", 0xf15f: "ecryptfs", 0xFF534D42: "cifs",
		0x4d44: "vfat", 0x01021997: "9p", 0x62656572: "sysfs", 0x9fa0: "proc",
	}
	if n, ok := names[magic]; ok {
		return n
	}
	return fmt.Sprintf("0x%x", magic)
}

// readCgroups finds the cgroup layout and the controllers of our cgroup.
func readCgroups() CgroupFacts {
	c := CgroupFacts{Layout: "none", Controllers: []string{}}
	const cgroup2Magic, tmpfsMagic = 0x63677270, 0x01021994
	var sfs unix.Statfs_t
	if unix.Statfs("/sys/fs/cgroup", &sfs) == nil {
		switch sfs.Type {
		case cgroup2Magic:
			c.Layout, c.V2Mount = "v2", "/sys/fs/cgroup"
		case tmpfsMagic:
			c.Layout = "v1"
			var u unix.Statfs_t
			if unix.Statfs("/sys/fs/cgroup/unified", &u) == nil && u.Type == cgroup2Magic {
				c.Layout, c.V2Mount = "hybrid", "/sys/fs/cgroup/unified"
			}
		}
	}
	if b, err := os.ReadFile("/proc/cgroups"); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			fl := strings.Fields(sc.Text())
			if len(fl) == 4 && !strings.HasPrefix(fl[0], "#") && fl[1] != "0" && fl[3] == "1" {
				c.V1Controllers = append(c.V1Controllers, fl[0])
			}
		}
	}
	if c.Layout == "v1" && len(c.V1Controllers) == 0 {
		c.Layout = "none"
	}
	if c.V2Mount == "" {
		return c
	}
	if b, err := os.ReadFile("/proc/self/cgroup"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if p, ok := strings.CutPrefix(l, "0::"); ok {
				c.Own = p
			}
		}
	}
	dir := filepath.Join(c.V2Mount, c.Own)
	if b, err := os.ReadFile(filepath.Join(dir, "cgroup.controllers")); err == nil {
		c.Controllers = append(c.Controllers, strings.Fields(string(b))...)
	}
	c.Writable = unix.Access(dir, unix.W_OK) == nil
	return c
}

// initSystem names PID 1 and applies sd_booted()'s rule.
func initSystem() (string, bool) {
	b, _ := os.ReadFile("/proc/1/comm")
	_, err := os.Lstat("/run/systemd/system")
	return strings.TrimSpace(string(b)), err == nil
}

// userBus returns the user bus socket path from DBUS_SESSION_BUS_ADDRESS,
// else $XDG_RUNTIME_DIR/bus when that directory is ours.
func userBus(runtimeOK bool) (addr, path string) {
	if a := os.Getenv("DBUS_SESSION_BUS_ADDRESS"); a != "" {
		for _, part := range strings.Split(a, ";") {
			rest, ok := strings.CutPrefix(part, "unix:")
			if !ok {
				continue
			}
			for _, kv := range strings.Split(rest, ",") {
				if p, ok := strings.CutPrefix(kv, "path="); ok {
					return a, p
				}
			}
		}
		return a, ""
	}
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" && runtimeOK {
		p := filepath.Join(d, "bus")
		return "unix:path=" + p, p
	}
	return "", ""
}

// probeSystemd connects to the user bus and asks the user's systemd for a
// delegated transient scope (systemd-run --user --scope -p Delegate=yes),
// which reports the controllers it got.
func probeSystemd(f *Facts) {
	sd := &f.Systemd
	addr, path := userBus(f.Dirs.RuntimeProblem == "")
	sd.Bus = addr
	switch {
	case addr == "" && f.Dirs.RuntimeProblem != "":
		sd.BusError = "no DBUS_SESSION_BUS_ADDRESS, and XDG_RUNTIME_DIR is " + f.Dirs.RuntimeProblem
	case addr == "":
		sd.BusError = "no DBUS_SESSION_BUS_ADDRESS"
	case path == "":
		sd.BusError = "only unix:path= bus addresses are supported, not " + addr
	default:
		c, err := net.DialTimeout("unix", path, time.Second)
		if err != nil {
			sd.BusError = err.Error()
		} else {
			c.Close()
		}
	}
	if sd.BusError != "" {
		sd.Scope = skipped("no user bus")
		return
	}
	run := f.Helpers["systemd-run"]
	if !run.Found() {
		sd.Scope = skipped("systemd-run is not installed")
		return
	}
	start := time.Now()
	env := append(os.Environ(), "DBUS_SESSION_BUS_ADDRESS="+addr)
	out, err := runQuiet(run.Path, env, "--user", "--scope", "--quiet", "-p", "Delegate=yes", "--",
		"/bin/sh", "-c", `read -r l </proc/self/cgroup; read -r c <"/sys/fs/cgroup${l#0::}/cgroup.controllers"; echo "$c"`)
	if err != nil {
		err = fmt.Errorf("%v: %s", err, bytes.TrimSpace(out))
	} else {
		sd.ScopeControllers = strings.Fields(string(out))
	}
	sd.Scope = probeResult(start, err)
}

// probeNetwork starts pasta and slirp4netns on throwaway namespaces.
func probeNetwork(f *Facts, exe string) {
	if fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0); err != nil {
		f.Network.TunError = err.Error()
	} else {
		unix.Close(fd)
	}
	var wg sync.WaitGroup
	if p := f.Helpers["pasta"]; p.Found() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			// pasta makes its own user and network namespace for the
			// command, configures it, and exits with the command's status.
			// -f: by default pasta forks into the background, and the
			// probe would leak it (reparented to pid 1) and read only
			// the parent's status, not the command's.
			out, err := runQuiet(p.Path, nil, "-f", "--config-net", "--quiet", "--", "/bin/sh", "-c", hasDefaultRoute)
			if err != nil {
				err = fmt.Errorf("%v: %s", err, lastLine(out))
			}
			f.Network.Pasta = probeResult(start, err)
		}()
	} else {
		f.Network.Pasta = skipped("pasta is not installed")
	}
	if s := f.Helpers["slirp4netns"]; s.Found() {
		start := time.Now()
		f.Network.Slirp = probeResult(start, probeSlirp(exe, s.Path))
	} else {
		f.Network.Slirp = skipped("slirp4netns is not installed")
	}
	wg.Wait()
}

// hasDefaultRoute succeeds in a namespace with an IPv4 default route; it
// uses only shell built-ins, so it does not depend on PATH.
const hasDefaultRoute = `while read -r _ dst _; do [ "$dst" = 00000000 ] && exit 0; done </proc/net/route; exit 1`

func lastLine(b []byte) string {
	l := strings.Split(strings.TrimSpace(string(b)), "\n")
	return l[len(l)-1]
}

// probeSlirp holds a user+network namespace open, attaches slirp4netns to
// it, waits until slirp4netns says the interface is configured, stops it.
func probeSlirp(exe, bin string) error {
	u, g := single()
	_, child, err := runProbe(exe, probeRequest{Kind: kindHold}, u, g, false, unix.CLONE_NEWNET)
	if err != nil {
		return err
	}
	defer endHold(child)
	readyR, readyW, err := os.Pipe()
	if err != nil {
		return err
	}
	defer readyR.Close()
	exitR, exitW, err := os.Pipe()
	if err != nil {
		readyW.Close()
		return err
	}
	pid := strconv.Itoa(child.Cmd.Process.Pid)
	var out bytes.Buffer
	cmd := exec.Command(bin, "--configure", "--mtu=65520", "--disable-host-loopback", "--ready-fd=3", "--exit-fd=4",
		"--userns-path=/proc/"+pid+"/ns/user", pid, "tap0")
	cmd.ExtraFiles = []*os.File{readyW, exitR}
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	err = cmd.Start()
	readyW.Close()
	exitR.Close()
	if err != nil {
		exitW.Close()
		return err
	}
	ready := make(chan error, 1)
	go func() {
		b := make([]byte, 1)
		_, err := readyR.Read(b)
		ready <- err
	}()
	select {
	case err = <-ready:
		if err != nil {
			err = errors.New("it exited before the interface was up")
		}
	case <-time.After(probeTimeout):
		err = fmt.Errorf("the interface was not up within %s", probeTimeout)
	}
	exitW.Close() // slirp4netns exits when this closes
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(time.Second):
		cmd.Process.Kill()
		<-done
	}
	if err != nil {
		return fmt.Errorf("%v: %s", err, lastLine(out.Bytes()))
	}
	return nil
}

func toRanges(rs []idmap.SubIDRange) []IDRange {
	out := []IDRange{}
	for _, r := range rs {
		out = append(out, IDRange{Start: r.Start, Count: r.Count})
	}
	return out
}

// compactMap writes a map as CONTAINER:HOST:SIZE triples, comma-separated.
func compactMap(m idmap.Mapping) string {
	parts := make([]string, len(m))
	for i, r := range m {
		parts[i] = fmt.Sprintf("%d:%d:%d", r.ContainerID, r.HostID, r.Size)
	}
	return strings.Join(parts, ",")
}
