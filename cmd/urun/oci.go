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
	keep          bool
	noSubreaper   bool
}

func (o *ociFlags) add(fs *pflag.FlagSet) {
	fs.StringVarP(&o.bundle, "bundle", "b", "", "OCI bundle directory (config.json and the root filesystem): the OCI runtime face")
	fs.StringVar(&o.pidFile, "pid-file", "", "write the container's init pid to this file (OCI face)")
	fs.StringVar(&o.consoleSocket, "console-socket", "", "unix socket to send the pty master to, for a process with a terminal (OCI face)")
	fs.BoolVar(&o.noPivot, "no-pivot", false, "accepted for runc compatibility; urun always uses pivot_root")
	fs.BoolVar(&o.noNewKeyring, "no-new-keyring", false, "accepted for runc compatibility; the container keeps the session keyring")
	fs.IntVar(&o.preserveFDs, "preserve-fds", 0, "pass this many extra descriptors (from 3) to the container's process")
	fs.BoolVar(&o.keep, "keep", false, "OCI foreground run: keep the stopped container (delete it with 'urun delete')")
	fs.BoolVar(&o.noSubreaper, "no-subreaper", false, "accepted for runc compatibility; urun reaps its foreground container itself")
}

// ociFace is the rule that tells which face a call gets (docs/RUNTIME.md):
// runc's semantics when the global --root is given (every runtime client
// gives it: conmon, containerd's shim, CRI-O, runc's own tests) or when
// urun runs under the name runc (a link); run and create take the OCI
// face with --bundle too. People's `urun run IMAGE` has none of these, so
// an OCI container id is never read as an image name and never sent to a
// registry.
func ociFace(argv0 string, rootGiven bool) bool {
	return rootGiven || filepath.Base(argv0) == "runc"
}

// ociRunArgs checks run/create in the OCI face: one container id, and
// none of the flags that only mean something for an image.
func ociRunArgs(name string, fs *pflag.FlagSet, args []string) error {
	ociOnly := map[string]bool{"bundle": true, "pid-file": true, "console-socket": true, "no-pivot": true,
		"no-new-keyring": true, "preserve-fds": true, "detach": true, "keep": true, "no-subreaper": true, "help": true}
	var bad string
	fs.Visit(func(f *pflag.Flag) {
		if !ociOnly[f.Name] && bad == "" {
			bad = f.Name
		}
	})
	if bad != "" {
		return fmt.Errorf("--%s is a flag for running an image, but this %s is the OCI runtime face (--root, --bundle or the name runc select it): drop --%s, or run the image without --root and --bundle", bad, name, bad)
	}
	if len(args) != 1 {
		return fmt.Errorf("%s in the OCI runtime face (--root, --bundle or the name runc select it) takes exactly one container ID, the bundle being --bundle or the current directory; to run an image, call urun without --root and --bundle", name)
	}
	return nil
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

// ociCreateConfig reads the bundle (--bundle, else the current
// directory, as runc) into the engine's create config.
func ociCreateConfig(g *globals, o *ociFlags, id string) (container.CreateConfig, error) {
	// Before anything is made for it (its cgroups as root, below).
	if err := container.ValidNewID(id); err != nil {
		return container.CreateConfig{}, err
	}
	root, err := engine.StateRoot(g.root)
	if err != nil {
		return container.CreateConfig{}, err
	}
	spec, bundle, err := loadBundle(o.bundle)
	if err != nil {
		return container.CreateConfig{}, err
	}
	cfg, err := bundleRunConfig(g, spec, bundle, [3]*os.File{os.Stdin, os.Stdout, os.Stderr})
	if err != nil {
		return container.CreateConfig{}, err
	}
	// As real root, the container's own cgroups (rootcgroup.go): the
	// caller removes them when the container is not created.
	if err := rootCgroups(id, spec, &cfg); err != nil {
		return container.CreateConfig{}, err
	}
	cc := container.CreateConfig{RunConfig: cfg, Root: root, ID: id, Bundle: bundle}
	if o.consoleSocket != "" {
		cc.Console = func(master *os.File) error { return sendConsole(o.consoleSocket, master) }
	}
	if cc.PreserveFDs, err = preservedFDs(o.preserveFDs); err != nil {
		cc.Cgroups.Remove()
		return cc, err
	}
	return cc, nil
}

// ociCreate is runc's create: the container waits for start.
func ociCreate(g *globals, o *ociFlags, id string) error {
	cc, err := ociCreateConfig(g, o, id)
	if err != nil {
		return err
	}
	if cc.Spec.Process.Terminal && o.consoleSocket == "" {
		cc.Cgroups.Remove()
		return errors.New("process.terminal is true but no --console-socket was given")
	}
	st, err := container.Create(cc)
	if err != nil {
		cc.Cgroups.Remove()
		return err
	}
	if o.pidFile != "" {
		if err := writePidFile(o.pidFile, st.Pid); err != nil {
			container.Delete(cc.Root, id, true)
			return err
		}
	}
	return nil
}

// ociRun is runc's run: with -d create and start; in the foreground the
// container is registered in the state root while it runs, urun waits
// and exits with its status, and deletes it unless --keep.
func ociRun(g *globals, o *ociFlags, id string, detach bool) error {
	if detach {
		if err := ociCreate(g, o, id); err != nil {
			return err
		}
		root, err := engine.StateRoot(g.root)
		if err != nil {
			return err
		}
		return container.Start(root, id)
	}
	cc, err := ociCreateConfig(g, o, id)
	if err != nil {
		return err
	}
	var created func(int) error
	if o.pidFile != "" {
		created = func(pid int) error { return writePidFile(o.pidFile, pid) }
	}
	status, err := container.RunOCI(cc, o.keep, created)
	if err != nil {
		// Deleting the container removed them, if it got that far.
		cc.Cgroups.Remove()
		return err
	}
	return exitStatus(status)
}

// preservedFDs are --preserve-fds N's descriptors: 3 … 3+N-1 of urun,
// which the container's process gets at the same numbers.
func preservedFDs(n int) ([]*os.File, error) {
	if n < 0 {
		return nil, fmt.Errorf("--preserve-fds %d: give a count of descriptors, 0 or more", n)
	}
	var fds []*os.File
	for i := 0; i < n; i++ {
		fd := 3 + i
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != nil {
			return nil, fmt.Errorf("--preserve-fds %d: descriptor %d is not open", n, fd)
		}
		fds = append(fds, os.NewFile(uintptr(fd), fmt.Sprintf("preserved fd %d", fd)))
	}
	return fds, nil
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

// parseSignal accepts 9, KILL, SIGKILL, kill (and 0).
func parseSignal(s string) (unix.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		// 0 checks that the container runs, as kill(2) and runc.
		if n < 0 || n > 64 {
			return 0, fmt.Errorf("signal %d is out of range (0-64)", n)
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
