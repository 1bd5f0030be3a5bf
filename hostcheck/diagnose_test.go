package hostcheck

import (
	"encoding/json"
	"strings"
	"testing"
)

func i64(n int64) *int64 { return &n }

var passed = Probe{Ran: true, OK: true}

func failed(msg string) Probe { return Probe{Ran: true, Error: msg} }

// healthy is a host where everything works: a Debian desktop with
// systemd, cgroup v2 delegation, and the sysctls opened up.
func healthy() Facts {
	return Facts{
		Version: VersionFacts{Urun: "0.1.0", Executable: "/usr/local/bin/urun", Init: "/usr/local/bin/urun-init"},
		User:    UserFacts{Name: "dev", UID: 1000, GID: 1000},
		Kernel:  KernelFacts{Release: "6.1.0-18-amd64", Userns: passed},
		Sysctl: SysctlFacts{
			MaxUserNamespaces:       i64(63000),
			UnprivilegedUsernsClone: i64(1),
			PingGroupRange:          &[2]int64{0, 2147483647},
			UnprivilegedPortStart:   i64(0),
		},
		IDs: IDFacts{
			UIDRanges: []IDRange{{100000, 65536}}, GIDRanges: []IDRange{{100000, 65536}},
			Source: "file", SourcePath: "/etc/subuid", Mode: "auto", HelperProbe: passed,
		},
		Helpers: map[string]Helper{
			"newuidmap":      {Path: "/usr/bin/newuidmap", Setuid: true},
			"newgidmap":      {Path: "/usr/bin/newgidmap", Setuid: true},
			"fuse-overlayfs": {Path: "/usr/bin/fuse-overlayfs", Version: "fuse-overlayfs: version 1.10"},
			"pasta":          {Path: "/usr/bin/pasta"},
			"slirp4netns":    {Path: "/usr/bin/slirp4netns"},
			"systemd-run":    {Path: "/usr/bin/systemd-run"},
		},
		Dirs:    DirFacts{RuntimeEnv: "/run/user/1000", State: "/run/user/1000/urun", Data: "/home/dev/.local/share/urun"},
		Storage: StorageFacts{FSType: "ext4", Overlay: passed, IdmapLower: passed, Tier: "native"},
		Fuse:    FuseFacts{Device: "/dev/fuse", Mount: passed},
		Cgroup:  CgroupFacts{Layout: "v2", V2Mount: "/sys/fs/cgroup", Own: "/user.slice/user-1000.slice/session-2.scope", Controllers: []string{"memory", "pids"}},
		Systemd: SystemdFacts{Init: "systemd", Booted: true, Bus: "unix:path=/run/user/1000/bus", Scope: passed,
			ScopeControllers: []string{"cpu", "memory", "pids"}},
		Network: NetworkFacts{Default: "none", Pasta: passed, Slirp: passed},
	}
}

func find(r Report, id string) Check {
	for _, c := range r.Checks {
		if c.ID == id {
			return c
		}
	}
	return Check{}
}

func TestHealthyHostIsFullFunction(t *testing.T) {
	r := Diagnose(healthy())
	for _, c := range r.Checks {
		if c.Status != OK {
			t.Errorf("%s: %s %s (fix %s), want ok", c.ID, c.Status, c.Cause, c.Fix)
		}
		if c.Cause == "" {
			t.Errorf("%s: no text", c.ID)
		}
	}
	if r.Exit != ExitFull {
		t.Errorf("exit %d, want %d", r.Exit, ExitFull)
	}
}

// TestCauses breaks one fact at a time and checks the line that results:
// its status, words the cause must contain, words the fix must contain,
// and the exit status of the whole diagnosis.
func TestCauses(t *testing.T) {
	tests := []struct {
		name   string
		breakF func(f *Facts)
		id     string
		status Status
		cause  []string
		fix    []string
		exit   int
	}{
		{
			name: "max_user_namespaces=0",
			breakF: func(f *Facts) {
				f.Kernel.Userns = Probe{Ran: true, Error: "no space left on device", Errno: "ENOSPC"}
				f.Sysctl.MaxUserNamespaces = i64(0)
			},
			id: "userns", status: Fail, cause: []string{"user.max_user_namespaces is 0"},
			fix: []string{"sudo sysctl -w user.max_user_namespaces=", "/etc/sysctl.d/"}, exit: ExitCannot,
		},
		{
			name: "unprivileged_userns_clone=0",
			breakF: func(f *Facts) {
				f.Kernel.Userns = Probe{Ran: true, Error: "operation not permitted", Errno: "EPERM"}
				f.Sysctl.UnprivilegedUsernsClone = i64(0)
			},
			id: "userns", status: Fail, cause: []string{"kernel.unprivileged_userns_clone is 0"},
			fix: []string{`sudo sysctl -w kernel.unprivileged_userns_clone="1"`}, exit: ExitCannot,
		},
		{
			name: "AppArmor restricts unprivileged userns",
			breakF: func(f *Facts) {
				f.Kernel.Userns = Probe{Ran: true, Error: "mounting a tmpfs in the new namespaces: operation not permitted", Errno: "EPERM"}
				f.Sysctl.AppArmorRestrict = i64(1)
			},
			id: "userns", status: Fail, cause: []string{"AppArmor", "kernel.apparmor_restrict_unprivileged_userns=1"},
			fix: []string{"profile urun /usr/local/bin/urun", "userns,", "sudo apparmor_parser -r /etc/apparmor.d/urun"}, exit: ExitCannot,
		},
		{
			name:   "user namespaces fail for an unknown reason",
			breakF: func(f *Facts) { f.Kernel.Userns = failed("clone: invalid argument") },
			id:     "userns", status: Fail, cause: []string{"clone: invalid argument"}, fix: []string{"CONFIG_USER_NS"}, exit: ExitCannot,
		},
		{
			name:   "urun-init missing",
			breakF: func(f *Facts) { f.Version.InitError = "urun-init is missing (looked for /opt/urun-init)" },
			id:     "init", status: Fail, cause: []string{"/opt/urun-init"}, fix: []string{"sudo make install"}, exit: ExitCannot,
		},
		{
			name: "no subuid entry",
			breakF: func(f *Facts) {
				f.IDs.UIDRanges, f.IDs.GIDRanges = nil, nil
				f.IDs.AddFix = "sudo usermod --add-subuids 231072-296607 --add-subgids 231072-296607 dev"
			},
			id: "subids", status: Warn, cause: []string{"/etc/subuid has no entry for dev", "single-id"},
			fix: []string{"sudo usermod --add-subuids 231072-296607 --add-subgids 231072-296607 dev"}, exit: ExitDegraded,
		},
		{
			name:   "no subgid entry",
			breakF: func(f *Facts) { f.IDs.GIDRanges = nil },
			id:     "subids", status: Warn, cause: []string{"/etc/subgid has no entry for dev"},
			fix: []string{"sudo usermod"}, exit: ExitDegraded,
		},
		{
			name:   "no subuid file",
			breakF: func(f *Facts) { f.IDs = IDFacts{Source: "none", SourcePath: "/etc/subuid", HelperProbe: passed} },
			id:     "subids", status: Warn, cause: []string{"/etc/subuid does not exist"}, fix: []string{"sudo usermod"}, exit: ExitDegraded,
		},
		{
			name:   "broken subuid file",
			breakF: func(f *Facts) { f.IDs.LookupError = "reading subordinate ids: /etc/subuid:3: bad count" },
			id:     "subids", status: Fail, cause: []string{"/etc/subuid:3"}, fix: []string{"sudoedit /etc/subuid"}, exit: ExitCannot,
		},
		{
			name: "uidmap installed but not on PATH",
			breakF: func(f *Facts) {
				f.Helpers["newuidmap"] = Helper{OffPath: "/usr/bin/newuidmap"}
				f.IDs.HelperProbe = Probe{Skipped: "not installed"}
			},
			id: "newuidmap", status: Warn, cause: []string{"newuidmap is installed at /usr/bin/newuidmap, but /usr/bin is not on PATH"},
			fix: []string{`export PATH="$PATH:/usr/bin"`}, exit: ExitDegraded,
		},
		{
			name: "pasta installed but not on PATH, slirp4netns works",
			breakF: func(f *Facts) {
				f.Helpers["pasta"] = Helper{OffPath: "/usr/sbin/pasta"}
				f.Network.Pasta = Probe{Skipped: "not installed"}
			},
			id: "network", status: Warn, cause: []string{"slirp4netns works", "pasta is installed at /usr/sbin/pasta, but /usr/sbin is not on PATH"},
			fix: []string{`export PATH="$PATH:/usr/sbin"`}, exit: ExitFull,
		},
		{
			name:   "uidmap not installed",
			breakF: func(f *Facts) { delete(f.Helpers, "newuidmap"); f.IDs.HelperProbe = Probe{Skipped: "not installed"} },
			id:     "newuidmap", status: Warn, cause: []string{"newuidmap is not installed"}, fix: []string{"sudo apt-get install uidmap"}, exit: ExitDegraded,
		},
		{
			name: "newuidmap not setuid",
			breakF: func(f *Facts) {
				f.Helpers["newuidmap"] = Helper{Path: "/usr/bin/newuidmap", Mode: "-rwxr-xr-x"}
				f.IDs.HelperProbe = failed("newuidmap: write to uid_map failed: Operation not permitted")
				f.IDs.HelperCause = "newuidmap: /usr/bin/newuidmap is neither setuid root nor has file capabilities"
				f.IDs.HelperFix = "sudo chmod u+s /usr/bin/newuidmap, or reinstall the uidmap package"
			},
			id: "newuidmap", status: Warn, cause: []string{"neither setuid root nor has file capabilities", "single-id"},
			fix: []string{"sudo chmod u+s /usr/bin/newuidmap"}, exit: ExitDegraded,
		},
		{
			name: "a copy without setuid first on PATH",
			breakF: func(f *Facts) {
				f.Helpers["newuidmap"] = Helper{Path: "/home/dev/bin/newuidmap", Mode: "-rwxr-xr-x", Shadowed: "/usr/bin/newuidmap"}
				f.IDs.HelperProbe = failed("newuidmap: write to uid_map failed: Operation not permitted")
			},
			id: "newuidmap", status: Warn, cause: []string{"PATH finds /home/dev/bin/newuidmap first", "neither setuid", "/usr/bin/newuidmap can"},
			fix: []string{"remove /home/dev/bin/newuidmap, or put /usr/bin before /home/dev/bin in PATH"}, exit: ExitDegraded,
		},
		{
			name: "newuidmap on a nosuid mount",
			breakF: func(f *Facts) {
				f.Helpers["newuidmap"] = Helper{Path: "/opt/bin/newuidmap", Setuid: true, NosuidMount: "/opt"}
				f.IDs.HelperProbe = failed("newuidmap: write to uid_map failed: Operation not permitted")
			},
			id: "newuidmap", status: Warn, cause: []string{"/opt/bin/newuidmap cannot map ids: its filesystem /opt is mounted nosuid"},
			fix: []string{"sudo mount -o remount,suid /opt"}, exit: ExitDegraded,
		},
		{
			name:   "XDG_RUNTIME_DIR unset",
			breakF: func(f *Facts) { f.Dirs.RuntimeEnv, f.Dirs.RuntimeProblem, f.Dirs.State = "", "unset", "/tmp/urun-1000" },
			id:     "runtime-dir", status: Warn, cause: []string{"XDG_RUNTIME_DIR is unset", "/tmp/urun-1000"},
			fix: []string{"machinectl shell dev@", "export XDG_RUNTIME_DIR=/run/user/1000"}, exit: ExitDegraded,
		},
		{
			name: "XDG_RUNTIME_DIR unset, the login's directory used",
			breakF: func(f *Facts) {
				f.Dirs.RuntimeEnv, f.Dirs.RuntimeProblem, f.Dirs.State = "", "unset", "/run/user/1000/urun"
			},
			id: "runtime-dir", status: OK, cause: []string{"XDG_RUNTIME_DIR is unset", "/run/user/1000/urun, your login's runtime directory"}, exit: ExitFull,
		},
		{
			name: "XDG_RUNTIME_DIR of another user",
			breakF: func(f *Facts) {
				f.Dirs.RuntimeEnv, f.Dirs.RuntimeProblem, f.Dirs.RuntimeOwner, f.Dirs.State = "/run/user/0", "owner", 0, "/tmp/urun-1000"
			},
			id: "runtime-dir", status: Warn, cause: []string{"XDG_RUNTIME_DIR=/run/user/0 belongs to uid 0, not to you (uid 1000)", "su"},
			fix: []string{"export XDG_RUNTIME_DIR=/run/user/1000"}, exit: ExitDegraded,
		},
		{
			name: "XDG_RUNTIME_DIR readable by others",
			breakF: func(f *Facts) {
				f.Dirs.RuntimeProblem, f.Dirs.RuntimeMode, f.Dirs.State = "mode", "drwxr-xr-x", "/tmp/urun-1000"
			},
			id: "runtime-dir", status: Warn, cause: []string{"has mode drwxr-xr-x"}, fix: []string{"chmod 0700 /run/user/1000"}, exit: ExitDegraded,
		},
		{
			name: "state fallback unusable",
			breakF: func(f *Facts) {
				f.Dirs.RuntimeProblem, f.Dirs.RuntimeEnv = "unset", ""
				f.Dirs.StateError = "runtime directory /tmp/urun-1000 is not a private directory owned by uid 1000"
			},
			id: "runtime-dir", status: Fail, cause: []string{"fallback failed", "/tmp/urun-1000"}, fix: []string{"XDG_RUNTIME_DIR"}, exit: ExitCannot,
		},
		{
			name: "overlay impossible on the home fs, fuse works",
			breakF: func(f *Facts) {
				f.Storage.FSType = "fuse"
				f.Storage.Overlay = Probe{Ran: true, Error: "mount -t overlay: invalid argument", Errno: "EINVAL"}
			},
			id: "storage", status: Warn, cause: []string{"kernel overlayfs cannot be mounted in /home/dev/.local/share/urun (fuse)", "invalid argument", "fuse-overlayfs instead"},
			fix: []string{"export URUN_DATA_DIR="}, exit: ExitDegraded,
		},
		{
			name: "storage cannot hold subordinate ids (sshfs)",
			breakF: func(f *Facts) {
				f.Storage.FSType = "fuse"
				f.Storage.Overlay = Probe{Ran: true, Error: "mount -t overlay: invalid argument", Errno: "EINVAL"}
				f.Storage.Owners = "/home/dev/.local/share/urun (fuse) cannot store files owned by subordinate ids (giving a file to uid 100000, gid 100000: operation not permitted)"
				f.Storage.OwnersFix = "urun --data-dir /a/local/dir"
			},
			id: "storage", status: Fail, cause: []string{"cannot store files owned by subordinate ids", "fuse-overlayfs instead"},
			fix: []string{"--data-dir"}, exit: ExitCannot,
		},
		{
			name: "the kernel refuses an idmapped lower layer (optional)",
			breakF: func(f *Facts) {
				f.Storage.IdmapLower = Probe{Ran: true, Error: "mount_setattr(MOUNT_ATTR_IDMAP) on a clone of a directory in the storage root: operation not permitted", Errno: "EPERM"}
			},
			id: "idmap-lower", status: Warn, cause: []string{"refuses you an idmapped lower layer", "EPERM", "keep-id", "own copy"}, exit: ExitFull,
		},
		{
			name: "overlay and fuse both impossible",
			breakF: func(f *Facts) {
				f.Storage.Overlay = failed("mount -t overlay: invalid argument")
				f.Fuse.Mount = failed("fuse-overlayfs: exit status 1: fuse: device not found")
			},
			id: "storage", status: Warn, cause: []string{"cannot be used either", "copy of its image in memory", "tier copy"}, fix: []string{"URUN_DATA_DIR"}, exit: ExitDegraded,
		},
		{
			name: "old kernel",
			breakF: func(f *Facts) {
				f.Kernel.Release = "5.10.0-28-amd64"
				f.Storage.Overlay = failed("mount -t overlay: operation not permitted")
			},
			id: "storage", status: Warn, cause: []string{"kernel 5.10.0-28-amd64 is older than 5.11"}, fix: []string{"upgrade the kernel"}, exit: ExitDegraded,
		},
		{
			name: "/dev/fuse missing while overlay works",
			breakF: func(f *Facts) {
				f.Fuse.DeviceMissing, f.Fuse.DeviceError = true, "no such file or directory"
				f.Fuse.Mount = Probe{Skipped: "/dev/fuse cannot be opened"}
			},
			id: "fuse", status: Warn, cause: []string{"/dev/fuse does not exist", "not needed while kernel overlayfs works"},
			fix: []string{"sudo modprobe fuse"}, exit: ExitFull,
		},
		{
			name: "/dev/fuse not accessible, overlay fails too",
			breakF: func(f *Facts) {
				f.Fuse.DeviceError, f.Fuse.DeviceMode = "permission denied", "crw-------, owner uid 0"
				f.Fuse.Mount = Probe{Skipped: "/dev/fuse cannot be opened"}
				f.Storage.Overlay = failed("mount -t overlay: invalid argument")
			},
			id: "fuse", status: Warn, cause: []string{"/dev/fuse cannot be opened (permission denied, mode crw-------", "fallback"},
			fix: []string{"sudo chmod 0666 /dev/fuse"}, exit: ExitDegraded,
		},
		{
			name:   "no fuse-overlayfs",
			breakF: func(f *Facts) { delete(f.Helpers, "fuse-overlayfs"); f.Fuse.Mount = Probe{Skipped: "not installed"} },
			id:     "fuse", status: Warn, cause: []string{"fuse-overlayfs is not installed"}, fix: []string{"sudo apt-get install fuse-overlayfs"}, exit: ExitFull,
		},
		{
			name: "hybrid cgroups without systemd (this CI host)",
			breakF: func(f *Facts) {
				f.Cgroup = CgroupFacts{Layout: "hybrid", V2Mount: "/sys/fs/cgroup/unified", Own: "/", Controllers: []string{"hugetlb"},
					V1Controllers: []string{"cpu", "memory", "pids"}}
				f.Systemd = SystemdFacts{Init: "process_api", Scope: Probe{Skipped: "no user bus"}}
			},
			id: "cgroups", status: Warn, cause: []string{"no limits possible", "hybrid", "cpu memory pids", "/sys/fs/cgroup/unified has only [hugetlb]"},
			fix: []string{"systemd.unified_cgroup_hierarchy=1", "sudo update-grub"}, exit: ExitDegraded,
		},
		{
			name:   "cgroup v1",
			breakF: func(f *Facts) { f.Cgroup = CgroupFacts{Layout: "v1", V1Controllers: []string{"memory"}} },
			id:     "cgroups", status: Warn, cause: []string{"only cgroup v1"}, fix: []string{"systemd.unified_cgroup_hierarchy=1"}, exit: ExitDegraded,
		},
		{
			name: "controllers not delegated",
			breakF: func(f *Facts) {
				f.Systemd.ScopeControllers = []string{"pids"}
			},
			id: "cgroups", status: Warn, cause: []string{"offers only [pids]", "[cpu memory] are not delegated"},
			fix: []string{"Delegate=cpu cpuset io memory pids", "/etc/systemd/system/user@.service.d/delegate.conf"}, exit: ExitDegraded,
		},
		{
			name:   "no systemd",
			breakF: func(f *Facts) { f.Systemd = SystemdFacts{Init: "process_api", Scope: Probe{Skipped: "no user bus"}} },
			id:     "systemd", status: Warn, cause: []string{`PID 1 is "process_api"`, "without limits"}, fix: []string{"systemd-sysv"}, exit: ExitDegraded,
		},
		{
			name: "no user D-Bus",
			breakF: func(f *Facts) {
				f.Systemd.Bus, f.Systemd.BusError = "unix:path=/run/user/1000/bus", "dial unix /run/user/1000/bus: connect: no such file or directory"
				f.Systemd.Scope = Probe{Skipped: "no user bus"}
			},
			id: "systemd", status: Warn, cause: []string{"no user D-Bus", "no such file"},
			fix: []string{"sudo apt-get install dbus-user-session", "loginctl enable-linger dev"}, exit: ExitDegraded,
		},
		{
			name:   "systemd refuses the scope",
			breakF: func(f *Facts) { f.Systemd.Scope = failed("Failed to start transient scope unit: Access denied") },
			id:     "systemd", status: Warn, cause: []string{"Access denied"}, fix: []string{"loginctl enable-linger dev"}, exit: ExitDegraded,
		},
		{
			name: "no network helper",
			breakF: func(f *Facts) {
				delete(f.Helpers, "pasta")
				delete(f.Helpers, "slirp4netns")
				f.Network.Pasta, f.Network.Slirp = Probe{Skipped: "not installed"}, Probe{Skipped: "not installed"}
			},
			id: "network", status: Warn, cause: []string{"neither pasta nor slirp4netns is installed"}, fix: []string{"sudo apt-get install passt"}, exit: ExitDegraded,
		},
		{
			name: "tun not accessible",
			breakF: func(f *Facts) {
				f.Network.TunError = "permission denied"
				f.Network.Pasta, f.Network.Slirp = failed("tun: permission denied"), failed("tun: permission denied")
			},
			id: "network", status: Warn, cause: []string{"/dev/net/tun cannot be opened"}, fix: []string{"sudo chmod 0666 /dev/net/tun"}, exit: ExitDegraded,
		},
		{
			name:   "only slirp4netns",
			breakF: func(f *Facts) { delete(f.Helpers, "pasta"); f.Network.Pasta = Probe{Skipped: "not installed"} },
			id:     "network", status: OK, cause: []string{"slirp4netns works", "pasta is not installed"}, exit: ExitFull,
		},
		{
			name:   "ping blocked",
			breakF: func(f *Facts) { f.Sysctl.PingGroupRange = &[2]int64{1, 0} },
			id:     "ping", status: Warn, cause: []string{`"1 0"`, "excludes your group 1000"},
			fix: []string{`sudo sysctl -w net.ipv4.ping_group_range="0 2147483647"`}, exit: ExitFull,
		},
		{
			name:   "low ports blocked",
			breakF: func(f *Facts) { f.Sysctl.UnprivilegedPortStart = i64(1024) },
			id:     "ports", status: Warn, cause: []string{"ip_unprivileged_port_start is 1024", "-p 80:80"},
			fix: []string{`net.ipv4.ip_unprivileged_port_start="0"`}, exit: ExitFull,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := healthy()
			tt.breakF(&f)
			r := Diagnose(f)
			c := find(r, tt.id)
			if c.Status != tt.status {
				t.Errorf("%s: status %s, want %s (%s)", tt.id, c.Status, tt.status, c.Cause)
			}
			for _, w := range tt.cause {
				if !strings.Contains(c.Cause, w) {
					t.Errorf("cause %q lacks %q", c.Cause, w)
				}
			}
			for _, w := range tt.fix {
				if !strings.Contains(c.Fix, w) {
					t.Errorf("fix %q lacks %q", c.Fix, w)
				}
			}
			if tt.status != OK && c.Fix == "" {
				t.Errorf("%s: %s without a fix", tt.id, c.Status)
			}
			if r.Exit != tt.exit {
				t.Errorf("exit %d, want %d", r.Exit, tt.exit)
			}
			for _, o := range r.Checks {
				if o.ID != tt.id && o.Status != OK && !(tt.id == "storage" && o.ID == "fuse") && !(tt.id == "fuse" && o.ID == "storage") &&
					!(tt.id == "cgroups" && o.ID == "systemd") && !(tt.id == "systemd" && o.ID == "cgroups") {
					t.Errorf("breaking %s also made %s %s: %s", tt.id, o.ID, o.Status, o.Cause)
				}
			}
		})
	}
}

// TestFactsJSONRoundTrip: --format json of info must decode back into
// the same facts, nil sysctls staying absent.
func TestFactsJSONRoundTrip(t *testing.T) {
	f := healthy()
	f.Sysctl.AppArmorRestrict = nil
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "apparmor") {
		t.Errorf("a sysctl that does not exist appears in %s", b)
	}
	var back Facts
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	b2, _ := json.Marshal(back)
	if string(b) != string(b2) {
		t.Errorf("round trip changed the facts:\n%s\n%s", b, b2)
	}
}

func TestKernelBefore(t *testing.T) {
	for rel, want := range map[string]bool{"5.10.0-28-amd64": true, "5.11.0": false, "6.18.44-fc": false, "4.19.0": true, "garbage": false} {
		if got, _ := kernelBefore(rel, 5, 11); got != want {
			t.Errorf("kernelBefore(%q) = %v, want %v", rel, got, want)
		}
	}
}

func TestFileMode(t *testing.T) {
	for m, want := range map[uint32]string{0o104755: "-rwsr-xr-x", 0o40700: "drwx------", 0o20600: "crw-------", 0o104644: "-rwSr--r--"} {
		if got := fileMode(m); got != want {
			t.Errorf("fileMode(%o) = %s, want %s", m, got, want)
		}
	}
}

// TestSchemas: the documented schemas describe what urun prints, every
// field of it, and reject what they should.
func TestSchemas(t *testing.T) {
	f := healthy()
	f.Storage.Overlay = failed("x")
	f.Dirs.RuntimeProblem = "owner"
	b, _ := json.Marshal(f)
	if err := Validate(InfoSchema, b); err != nil {
		t.Errorf("info: %v\n%s", err, b)
	}
	r, _ := json.Marshal(Diagnose(f))
	if err := Validate(DoctorSchema, r); err != nil {
		t.Errorf("doctor: %v\n%s", err, r)
	}
	for name, doc := range map[string]string{
		"missing field": strings.Replace(string(b), `"cgroup":`, `"cgroupX":`, 1),
		"wrong type":    strings.Replace(string(b), `"uid":1000`, `"uid":"1000"`, 1),
		"bad enum":      strings.Replace(string(b), `"layout":"v2"`, `"layout":"v3"`, 1),
	} {
		if doc == string(b) {
			t.Fatalf("%s: the replacement did not apply", name)
		}
		if err := Validate(InfoSchema, []byte(doc)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
