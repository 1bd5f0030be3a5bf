package main

// The OCI runtime face: what podman (through conmon), containerd's shim
// and the runtime-tools validation suite call, with runc's flags. The
// engine underneath is the one `urun run` uses.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"

	"github.com/urun-dev/urun/cgroupdelegate"
	"github.com/urun-dev/urun/container"
	"github.com/urun-dev/urun/engine"
	"github.com/urun-dev/urun/fuse-overlay"
	"github.com/urun-dev/urun/idmap"
	"github.com/urun-dev/urun/userns"
)

// ociFlags are the flags of runc's create and run.
type ociFlags struct {
	bundle        string
	pidFile       string
	consoleSocket string
	noPivot       bool
	noNewKeyring  bool
	preserveFDs   int
}

func (o *ociFlags) add(fs *pflag.FlagSet) {
	fs.StringVarP(&o.bundle, "bundle", "b", "", "OCI bundle directory (config.json and the root filesystem): the OCI runtime face")
	fs.StringVar(&o.pidFile, "pid-file", "", "write the container's init pid to this file (OCI face)")
	fs.StringVar(&o.consoleSocket, "console-socket", "", "unix socket to send the pty master to, for a process with a terminal (OCI face)")
	fs.BoolVar(&o.noPivot, "no-pivot", false, "accepted for runc compatibility; urun always uses pivot_root")
	fs.BoolVar(&o.noNewKeyring, "no-new-keyring", false, "accepted for runc compatibility; the container keeps the session keyring")
	fs.IntVar(&o.preserveFDs, "preserve-fds", 0, "pass this many extra descriptors (from 3) to the container's process")
}

// loadBundle reads BUNDLE/config.json. A malformed file is reported with
// the JSON path or offset of the fault, never a panic.
func loadBundle(bundle string) (*specs.Spec, string, error) {
	if bundle == "" {
		bundle = "."
	}
	dir, err := filepath.Abs(bundle)
	if err != nil {
		return nil, "", err
	}
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return nil, "", fmt.Errorf("reading the bundle's config.json: %w", err)
	}
	spec, err := container.ParseOCIConfig(b)
	if err != nil {
		return nil, "", err
	}
	if os.Geteuid() != 0 {
		// Rootless, a limit that cannot apply is refused, as rootless
		// runc refuses it (as root, containerd's CRI is the caller).
		if err := cgroupdelegate.CheckOCI(spec); err != nil {
			return nil, "", fmt.Errorf("config.json: %w", err)
		}
	}
	return spec, dir, nil
}

// bundleRunConfig turns a bundle's spec into the engine's RunConfig: the
// rootfs used in place (as runc), a user namespace added when urun runs
// unprivileged and the config has none (as crun), default devices.
func bundleRunConfig(g *globals, spec *specs.Spec, bundle string, stdio [3]*os.File) (container.RunConfig, error) {
	rootfs := spec.Root.Path
	if !filepath.IsAbs(rootfs) {
		rootfs = filepath.Join(bundle, rootfs)
	}
	if st, err := os.Stat(rootfs); err != nil || !st.IsDir() {
		return container.RunConfig{}, fmt.Errorf("config.json: root.path %s is not a directory", rootfs)
	}
	for i := range spec.Mounts {
		m := &spec.Mounts[i]
		if (m.Type == "bind" || hasOption(m.Options, "bind") || hasOption(m.Options, "rbind")) && m.Source != "" && !filepath.IsAbs(m.Source) {
			m.Source = filepath.Join(bundle, m.Source)
		}
	}
	if spec.Process.CommandLine != "" && len(spec.Process.Args) == 0 {
		spec.Process.Args = []string{"/bin/sh", "-c", spec.Process.CommandLine}
	}
	container.EnsureDefaultDevices(spec)
	initPath, err := findInit()
	if err != nil {
		return container.RunConfig{}, err
	}
	cfg := container.RunConfig{
		Spec:         spec,
		SeccompCache: seccompCacheDir(),
		InitPath:     initPath,
		Rootfs:       fuseoverlay.Plan{Tier: fuseoverlay.Bind, Lower: []string{rootfs}},
		Stdin:        stdio[0], Stdout: stdio[1], Stderr: stdio[2],
		Debug: g.debug,
	}
	var userNS *specs.LinuxNamespace
	for i := range spec.Linux.Namespaces {
		if spec.Linux.Namespaces[i].Type == specs.UserNamespace {
			userNS = &spec.Linux.Namespaces[i]
		}
	}
	privileged := os.Getuid() == 0
	switch {
	case userNS == nil && privileged:
		// Real root, or root of the namespace our caller made (podman):
		// no namespace of our own, no maps.
		cfg.NoNewUser = true
	case userNS == nil || len(spec.Linux.UIDMappings) == 0:
		maps, err := userns.ResolveMaps(idmap.ModeAuto, false)
		if err != nil {
			return cfg, err
		}
		if maps.Warning != "" {
			fmt.Fprintln(os.Stderr, "urun: warning:", maps.Warning)
		}
		if userNS == nil {
			spec.Linux.Namespaces = append(spec.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
		}
		spec.Linux.UIDMappings = container.SpecMapping(maps.UID)
		spec.Linux.GIDMappings = container.SpecMapping(maps.GID)
		cfg.UseHelpers = maps.UseHelpers
	default:
		// The config's own maps: newuidmap checks them against the
		// user's ranges unless they map just the user's own ids.
		own := len(spec.Linux.UIDMappings) == 1 && spec.Linux.UIDMappings[0].Size == 1 &&
			spec.Linux.UIDMappings[0].HostID == uint32(os.Getuid()) &&
			len(spec.Linux.GIDMappings) == 1 && spec.Linux.GIDMappings[0].Size == 1 &&
			spec.Linux.GIDMappings[0].HostID == uint32(os.Getgid())
		cfg.UseHelpers = !own && !privileged
		if cfg.UseHelpers {
			// Host ids the user does not own are read in the user's
			// rootless id space (container.RootlessIDMaps).
			maps, err := userns.ResolveMaps(idmap.ModeAuto, false)
			if err != nil {
				return cfg, err
			}
			if maps.UseHelpers {
				if w := container.HostRootWarning("uidMappings", spec.Linux.UIDMappings, maps.UID); w != "" {
					fmt.Fprintln(os.Stderr, "urun: warning:", w)
				}
				u, g, err := container.RootlessIDMaps(spec.Linux.UIDMappings, spec.Linux.GIDMappings, maps.UID, maps.GID)
				if err != nil {
					return cfg, fmt.Errorf("config.json: %w", err)
				}
				spec.Linux.UIDMappings, spec.Linux.GIDMappings = u, g
			}
		}
	}
	return cfg, nil
}

func hasOption(opts []string, o string) bool {
	for _, x := range opts {
		if x == o {
			return true
		}
	}
	return false
}

// ociCreate is runc's create: the container waits for start.
func ociCreate(g *globals, o *ociFlags, id string) error {
	root, err := ociRoot(g)
	if err != nil {
		return err
	}
	spec, bundle, err := loadBundle(o.bundle)
	if err != nil {
		return err
	}
	cfg, err := bundleRunConfig(g, spec, bundle, [3]*os.File{os.Stdin, os.Stdout, os.Stderr})
	if err != nil {
		return err
	}
	if err := rootCgroups(id, spec, &cfg); err != nil {
		return err
	}
	cc := container.CreateConfig{RunConfig: cfg, Root: root, ID: id, Bundle: bundle}
	if o.consoleSocket != "" {
		cc.Console = func(master *os.File) error { return sendConsole(o.consoleSocket, master) }
	}
	if spec.Process.Terminal && o.consoleSocket == "" {
		return errors.New("process.terminal is true but no --console-socket was given")
	}
	st, err := container.Create(cc)
	if err != nil {
		cfg.Cgroups.Remove()
		return err
	}
	if o.pidFile != "" {
		if err := writePidFile(o.pidFile, st.Pid); err != nil {
			container.Delete(root, id, true)
			return err
		}
	}
	return nil
}

// sendConsole sends the pty master over the unix socket at path as one
// SCM_RIGHTS message, which is what conmon and containerd expect.
func sendConsole(path string, master *os.File) error {
	conn, err := net.Dial("unix", path)
	if err != nil {
		return fmt.Errorf("connecting to --console-socket %s: %w", path, err)
	}
	defer conn.Close()
	uc, ok := conn.(*net.UnixConn)
	if !ok {
		return fmt.Errorf("--console-socket %s is not a unix socket", path)
	}
	if _, _, err := uc.WriteMsgUnix([]byte("/dev/ptmx"), unix.UnixRights(int(master.Fd())), nil); err != nil {
		return fmt.Errorf("sending the pty to --console-socket %s: %w", path, err)
	}
	return nil
}

// writePidFile writes pid atomically: conmon reads the file as soon as
// it appears.
func writePidFile(path string, pid int) error {
	path, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(pid)), 0o644); err != nil {
		return fmt.Errorf("writing --pid-file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing --pid-file: %w", err)
	}
	return nil
}

// ociRunForeground is `run --bundle` without -d: the engine's foreground
// run on the bundle's config, urun waiting and exiting with the status.
func ociRun(g *globals, o *ociFlags, id string, detach bool) error {
	if detach {
		if err := ociCreate(g, o, id); err != nil {
			return err
		}
		root, err := ociRoot(g)
		if err != nil {
			return err
		}
		return container.Start(root, id)
	}
	if err := container.ValidID(id); err != nil {
		return err
	}
	spec, bundle, err := loadBundle(o.bundle)
	if err != nil {
		return err
	}
	cfg, err := bundleRunConfig(g, spec, bundle, [3]*os.File{os.Stdin, os.Stdout, os.Stderr})
	if err != nil {
		return err
	}
	root, err := ociRoot(g)
	if err != nil {
		return err
	}
	dir := container.Dir(root, id)
	// It has no state: the sweep of other commands must see it is ours,
	// from its creation (under the container's lock) on.
	unlock, err := container.Lock(root, id)
	if err != nil {
		return err
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		unlock()
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("container %s already exists: choose another id, or 'urun delete %s' first", id, id)
		}
		return err
	}
	defer func() {
		// Under the lock, whose file then goes with the directory.
		if u, err := container.Lock(root, id); err == nil {
			defer u()
		}
		os.RemoveAll(dir)
	}()
	hold, err := engine.HoldDir(dir)
	unlock()
	if err != nil {
		return err
	}
	defer hold.Close()
	cfg.RootfsDir = filepath.Join(dir, "rootfs")
	if err := os.Mkdir(cfg.RootfsDir, 0o700); err != nil {
		return err
	}
	if err := rootCgroups(id, spec, &cfg); err != nil {
		return err
	}
	defer cfg.Cgroups.Remove()
	status, err := container.Run(cfg)
	if err != nil {
		return err
	}
	return exitStatus(status)
}

// parseSignal accepts 9, KILL, SIGKILL, kill.
func parseSignal(s string) (unix.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n <= 0 || n > 64 {
			return 0, fmt.Errorf("signal %d is out of range (1-64)", n)
		}
		return unix.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, nil
	}
	return 0, fmt.Errorf("unknown signal %q (use a name like TERM or a number)", s)
}

// printJSON writes v indented, as runc's state does.
func printJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(w, string(b))
	return err
}
