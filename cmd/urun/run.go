package main

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"

	"github.com/urun-dev/urun/cgroupdelegate"
	"github.com/urun-dev/urun/container"
	"github.com/urun-dev/urun/engine"
	"github.com/urun-dev/urun/fuse-overlay"
	"github.com/urun-dev/urun/idmap"
	"github.com/urun-dev/urun/store"
	"github.com/urun-dev/urun/userns"
)

// runFlags are `urun run`'s flags, named as podman's.
type runFlags struct {
	opts        container.Options
	entrypoint  string
	envFiles    []string
	interactive bool
	userns      string
	net         netFlags
	rootfs      bool
	tier        string
	dryRun      bool
	format      string
	securityOpt []string
	seccomp     string
	rm          bool
	detach      bool
	createOnly  bool
	init        bool
	name        string
	rmExplicit  bool
	// restart is --restart (engine.ParseRestartPolicy).
	restart       string
	restartPolicy engine.RestartPolicy
	oci           ociFlags
	cgroups       cgroupdelegate.Flags
	pull          string
	tlsVerify     bool
	// squashIDs: --squash-ids / URUN_SQUASH_IDS=1 (docs/STORE.md).
	squashIDs bool
	// writableLayer: --writable-layer / URUN_WRITABLE_LAYER, disk or tmpfs.
	writableLayer         string
	writableLayerExplicit bool
	// image is the image the container runs, pinned until the container
	// is registered (engine/imagepin.go).
	image       engine.ImageUse
	imageStore  string
	storageRoot string
	// labels: --label/-l and --label-file, recorded for ps --filter and
	// inspect.
	// cidFile is --cidfile: the container's id is written there.
	cidFile string
	// user is -u as typed, else the image's USER (engine.Record.User).
	user          string
	ipc, pid, uts string
	// joins: the namespaces shared with another container (join.go).
	joins    *engine.Joins
	targets  joinTargets
	platform string
	// --stop-signal (or the image's STOPSIGNAL) and --stop-timeout.
	stopSignalArg  string
	stopTimeoutArg uint
	stopSignal     int
	stopTimeout    *uint
	labelArgs      []string
	labelFiles     []string
	labels         map[string]string
	// health are the --health-* flags; healthcheck what they and the
	// image's HEALTHCHECK resolve to (nil: no check).
	health      container.HealthFlags
	healthcheck *container.HealthConfig
}

func init() {
	register("run", func() *command { return newRunCommand("run") })
	register("create", func() *command { return newRunCommand("create") })
}

// newRunCommand is `run`, or `create` (the same flags; the container is
// only configured, and `start` runs it).
func newRunCommand(name string) *command {
	{
		f := &runFlags{createOnly: name == "create"}
		fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
		// `urun run img ls -l`: -l belongs to ls.
		fs.SetInterspersed(false)
		o := &f.opts
		fs.BoolVarP(&o.Tty, "tty", "t", false, "allocate a pseudo-terminal for the container")
		fs.BoolVarP(&f.interactive, "interactive", "i", false, "keep stdin open (without it the container reads /dev/null)")
		fs.StringArrayVarP(&o.Env, "env", "e", nil, "set an environment variable: KEY=VALUE, or KEY to copy it from urun's environment")
		fs.StringArrayVar(&f.envFiles, "env-file", nil, "read environment variables from a file, one KEY=VALUE per line")
		fs.StringVarP(&o.Workdir, "workdir", "w", "", "working directory inside the container")
		fs.StringVarP(&o.User, "user", "u", "", "run as USER[:GROUP], by name or number")
		fs.StringVarP(&o.Hostname, "hostname", "h", "", "container host name (default: the first 12 characters of its id)")
		fs.StringVar(&f.entrypoint, "entrypoint", "", "override the image's ENTRYPOINT (\"\" for none)")
		fs.StringArrayVarP(&o.Volumes, "volume", "v", nil, "bind-mount a host path: SRC:DST[:ro|rw,...] (ro: read-only, every mount below SRC too)")
		fs.StringArrayVar(&o.Tmpfs, "tmpfs", nil, "mount a tmpfs: DST[:OPTIONS]")
		fs.StringArrayVar(&o.Mounts, "mount", nil, "add a mount: type=bind,source=SRC,target=DST[,readonly][,bind-propagation=P] or type=tmpfs,target=DST[,tmpfs-size=N][,tmpfs-mode=M]")
		fs.StringArrayVar(&o.CapAdd, "cap-add", nil, "add a capability (e.g. NET_ADMIN, or ALL)")
		fs.StringArrayVar(&o.CapDrop, "cap-drop", nil, "drop a capability (e.g. CHOWN, or ALL)")
		fs.BoolVar(&o.Privileged, "privileged", false, "give every capability the user namespace allows; no masked paths")
		fs.BoolVar(&o.ReadOnly, "read-only", false, "mount the container's root filesystem read-only (with writable tmpfs at /tmp, /var/tmp and /run unless --read-only-tmpfs=false)")
		readOnlyTmpfs := fs.Bool("read-only-tmpfs", true, "with --read-only: mount writable tmpfs at /tmp, /var/tmp and /run, as podman")
		fs.StringArrayVar(&o.Ulimits, "ulimit", nil, "set a resource limit: NAME=SOFT[:HARD] (e.g. nofile=1024:2048)")
		fs.StringArrayVar(&f.securityOpt, "security-opt", nil, "security option: no-new-privileges, seccomp=unconfined, seccomp=PROFILE.json")
		fs.StringVar(&f.userns, "userns", "", "user namespace mode: auto (subordinate ids), keep-id (your uid inside too), host-single (one id, no helpers)")
		f.net.register(fs)
		fs.BoolVar(&f.rootfs, "rootfs", false, "the first argument is a root filesystem directory, not an image (it stays unchanged)")
		fs.StringVar(&f.tier, "rootfs-tier", fuseoverlay.DefaultTier(), "how to mount the root filesystem: auto, native (kernel overlayfs), fuse (fuse-overlayfs), copy (a private copy in memory) or bind (--rootfs only: the directory itself, writable); default $URUN_TIER or auto")
		fs.BoolVar(&f.rm, "rm", false, "remove the container when it exits (without it the container is kept until rm, as docker's and podman's)")
		fs.StringVar(&f.name, "name", "", "name the container (unique; default: a generated one)")
		fs.StringVar(&f.restart, "restart", "no", "restart policy when the container exits: no, always, unless-stopped, on-failure[:MAX_RETRIES] (with -d or create; always and unless-stopped also start it on the first urun command after a reboot)")
		fs.StringVar(&f.pull, "pull", "missing", "pull the image: missing (when not in the local store), always, or never")
		fs.StringVar(&f.imageStore, "image-store", "", "where IMAGE is looked up: urun (urun's store) or podman (your podman store, used in place; docs/STORE.md) (default $URUN_IMAGE_STORE, else urun)")
		fs.StringVar(&f.storageRoot, "storage-root", "", "with --image-store=podman: the containers/storage root to use (podman's --root; default: graphroot from storage.conf)")
		fs.BoolVar(&f.tlsVerify, "tls-verify", true, "require HTTPS with a trusted certificate when pulling (false for a local registry on plain HTTP)")
		fs.BoolVar(&f.squashIDs, "squash-ids", os.Getenv("URUN_SQUASH_IDS") == "1", "give image files owned by ids outside the user namespace to root instead of failing (default from URUN_SQUASH_IDS=1)")
		fs.StringVar(&f.writableLayer, "writable-layer", defaultWritableLayer(), "where a --rm container's writes go: disk (a directory in the data directory, removed at exit) or tmpfs (memory: everything the container writes costs RAM until it exits, up to half the RAM); default $URUN_WRITABLE_LAYER or disk")
		fs.BoolVar(&f.dryRun, "dry-run", false, "print the OCI runtime config the container would get, and exit")
		fs.StringVar(&f.format, "format", "json", "output format for --dry-run: json")
		fs.BoolVarP(&f.detach, "detach", "d", false, "run in the background and print the container's id")
		fs.StringArrayVarP(&f.labelArgs, "label", "l", nil, "set metadata on the container: KEY=VALUE (shown by inspect, matched by ps --filter label=)")
		fs.StringArrayVar(&f.labelFiles, "label-file", nil, "read labels from a file, one KEY=VALUE per line")
		fs.BoolVar(&f.init, "init", false, "run a small init as pid 1 that forwards signals and reaps zombies")
		fs.StringVar(&f.ipc, "ipc", "", "IPC namespace: private (the container's own, default), host, or container:NAME (a running container's)")
		fs.StringVar(&f.pid, "pid", "", "pid namespace: private (the container's own, default), host, or container:NAME (a running container's)")
		fs.StringVar(&f.uts, "uts", "", "UTS namespace (hostname): private (the container's own, default) or container:NAME (a running container's)")
		fs.StringVar(&f.stopSignalArg, "stop-signal", "", "signal `stop` sends first, e.g. SIGINT (default: the image's STOPSIGNAL, else SIGTERM)")
		fs.UintVar(&f.stopTimeoutArg, "stop-timeout", 10, "seconds `stop` waits after the stop signal before SIGKILL")
		fs.StringVar(&f.platform, "platform", "", "the image's platform, OS/ARCH[/VARIANT]: only this host's ("+hostPlatform()+"); urun has no emulation")
		fs.StringVar(&f.cidFile, "cidfile", "", "write the container's id to this file (refused when the file exists)")
		fs.StringArrayVar(&o.GroupAdd, "group-add", nil, "add a supplementary group to the process: a name in the image's /etc/group, or a number")
		fs.StringVar(&o.ShmSize, "shm-size", "", "size of /dev/shm, e.g. 256m (default 64m)")
		fs.StringArrayVar(&o.Sysctls, "sysctl", nil, "set a namespaced sysctl: KEY=VALUE (net.*, kernel.msg*, kernel.sem, kernel.shm*, fs.mqueue.*, kernel.domainname)")
		fs.StringArrayVar(&o.Devices, "device", nil, "give the container a host device node: HOST[:CONTAINER][:PERMISSIONS] (bound from the host: it opens where you may open it on the host)")
		h := &f.health
		fs.StringVar(&h.Cmd, "health-cmd", "", "health check: a shell command run as /bin/sh -c CMD inside the container, a JSON array [\"CMD\",\"prog\",\"arg\"] or [\"CMD-SHELL\",\"cmd\"], or none (overrides the image's HEALTHCHECK)")
		fs.StringVar(&h.Interval, "health-interval", "30s", "time between health checks (disable: only on 'urun healthcheck run')")
		fs.IntVar(&h.Retries, "health-retries", container.DefaultHealthRetries, "failures in a row that make the container unhealthy")
		fs.StringVar(&h.StartPeriod, "health-start-period", "0s", "time after the start in which failing checks do not count")
		fs.StringVar(&h.Timeout, "health-timeout", "30s", "how long a check may run before it is killed and counts as failed")
		fs.StringVar(&h.OnFailure, "health-on-failure", "none", "when the container turns unhealthy: none, kill, restart or stop")
		fs.BoolVar(&h.NoHealthcheck, "no-healthcheck", false, "no health check, not even the image's HEALTHCHECK")
		f.oci.add(fs)
		f.cgroups.AddFlags(fs)
		addRefusedRunFlags(fs)
		short := "Run a command in a new container"
		usage := "run [flags] IMAGE [COMMAND [ARG...]]\n       urun run --rootfs [flags] DIR COMMAND [ARG...]\n       urun run --bundle DIR [-d] ID   (OCI runtime face)\n\nIMAGE: a name in the local store (pulled when missing, see --pull),\n       docker://NAME, or oci:DIR[:TAG] (an OCI image layout, used in place)"
		if f.createOnly {
			short = "Create a container without starting it (or, with --bundle, the OCI runtime's create)"
			usage = "create [flags] IMAGE [COMMAND [ARG...]]\n       urun create --bundle DIR [--pid-file FILE] [--console-socket SOCKET] ID   (OCI runtime face)"
		}
		return &command{
			name:  name,
			short: short,
			usage: usage,
			flags: fs,
			run: func(g *globals, args []string) error {
				if err := refusedRunFlag(fs); err != nil {
					return err
				}
				if f.oci.bundle != "" || g.oci {
					g.oci = true
					if err := ociRunArgs(name, fs, args); err != nil {
						return err
					}
					if f.createOnly {
						return ociCreate(g, &f.oci, args[0])
					}
					return ociRun(g, &f.oci, args[0], f.detach)
				}
				f.rmExplicit = fs.Changed("rm")
				f.opts.NoReadOnlyTmpfs = !*readOnlyTmpfs
				f.writableLayerExplicit = fs.Changed("writable-layer")
				if fs.Changed("stop-timeout") {
					f.stopTimeout = &f.stopTimeoutArg
				}
				if fs.Changed("entrypoint") {
					f.opts.Entrypoint = &f.entrypoint
				}
				h.CmdSet, h.IntervalSet, h.TimeoutSet = fs.Changed("health-cmd"), fs.Changed("health-interval"), fs.Changed("health-timeout")
				h.StartSet, h.RetriesSet = fs.Changed("health-start-period"), fs.Changed("health-retries")
				return runContainer(g, f, args, fs.Changed("userns"))
			},
		}
	}
}

func runContainer(g *globals, f *runFlags, args []string, usernsExplicit bool) (err error) {
	if len(args) == 0 {
		return argsError("run", "an IMAGE argument")
	}
	ref := args[0]
	f.opts.Command = args[1:]
	if err := f.complete(); err != nil {
		return err
	}
	if f.opts.Volumes, f.opts.Mounts, err = resolveVolumeArgs(f.opts.Volumes, f.opts.Mounts); err != nil {
		return err
	}
	if err := f.resolveImageStore(); err != nil {
		return err
	}
	mode, err := idmap.ParseMode(f.userns)
	if err != nil {
		return fmt.Errorf("--userns: %w", err)
	}
	maps, err := userns.ResolveMaps(mode, usernsExplicit)
	if err != nil {
		return err
	}
	// The state root is swept once per run (engine.Tidy: abandoned
	// containers, names, the trash): before the joins, which read their
	// target's state, else once the init is cloned (startEarly), so the
	// sweep runs while it starts.
	root, err := engine.UnsweptStateRoot(g.root)
	if err != nil {
		return err
	}
	swept := false
	tidy := func() {
		if !swept {
			swept = true
			engine.Tidy(root)
		}
	}
	if f.joinsAny() || f.imageStore == imageStorePodman {
		tidy()
	}
	if err := f.resolveJoins(root, usernsExplicit, &mode, &maps); err != nil {
		return err
	}
	if mode == idmap.ModeKeepID && f.opts.User == "" {
		// As podman: keep-id runs the command as you (your uid is
		// mapped to itself), with a passwd entry (userEntries).
		f.opts.User = fmt.Sprintf("%d:%d", os.Getuid(), os.Getgid())
	}
	if maps.Warning != "" && !f.dryRun {
		fmt.Fprintln(os.Stderr, "urun: warning:", maps.Warning)
	}
	initPath, err := findInit()
	if err != nil {
		return err
	}
	data, err := engine.DataDir()
	if err != nil {
		return err
	}
	if _, _, oci := store.ParseOCIRef(ref); !f.rootfs && (oci || f.imageStore != imageStorePodman) {
		if err := checkOwners(&maps); err != nil {
			return err
		}
	}

	var imgConfig container.ImageConfig
	plan := fuseoverlay.Plan{Tier: fuseoverlay.Auto, FuseBin: fuseoverlay.FuseBinary()}
	if plan.Tier, err = fuseoverlay.ParseTier(f.tier); err != nil {
		return err
	}
	id := newID()
	var rootDir string
	var readFile container.ReadFile
	if f.rootfs {
		if rootDir, err = filepath.Abs(ref); err != nil {
			return err
		}
		if st, err := os.Stat(rootDir); err != nil || !st.IsDir() {
			return fmt.Errorf("--rootfs %s: not a directory", ref)
		}
	} else {
		if plan.Tier == fuseoverlay.Bind {
			return errors.New("--rootfs-tier bind works only with --rootfs: an image's files are shared by every container")
		}
		if _, _, oci := store.ParseOCIRef(ref); !oci && f.imageStore == imageStorePodman {
			q := engine.PodmanQuery{Root: root, Ref: ref, ID: id, Name: f.name, Pull: f.pull, TLSVerify: f.tlsVerify,
				DryRun: f.dryRun, StorageRoot: f.storageRoot, Debug: g.debug}
			var release func(error)
			if imgConfig, readFile, release, err = engine.PodmanImage(q, maps, &plan); err != nil {
				return err
			}
			defer func() { release(err) }()
		}
	}
	if !f.rootfs && readFile == nil {
		t0 := time.Now()
		img, err := openImage(ref, f)
		if err != nil {
			return err
		}
		// Held until the container is registered (engine.Run), at the
		// latest until this function returns.
		f.image.Img = img
		defer f.image.Release()
		if g.debug {
			fmt.Fprintf(os.Stderr, "urun: image lookup  %.2f ms\n", float64(time.Since(t0).Microseconds())/1000)
		}
		c := img.Config.Config
		if f.net.publishAll {
			if err := f.net.publishExposed(c.ExposedPorts); err != nil {
				return err
			}
		}
		if f.stopSignalArg == "" && c.StopSignal != "" {
			if f.stopSignal, err = stopSignal("the image's STOPSIGNAL", c.StopSignal); err != nil {
				return err
			}
		}
		imgConfig = container.ImageConfig{User: c.User, Env: c.Env, Entrypoint: c.Entrypoint, Cmd: c.Cmd, WorkingDir: c.WorkingDir,
			Healthcheck: img.Healthcheck}
		// Every tier takes the layer store's stack (the copy tier merges
		// its layers, fuse-overlay/copy_child.go).
		if _, _, inPlace := store.ParseOCIRef(ref); !inPlace {
			if s, err := openStore(); err == nil {
				if dirs, ok := engine.ImageLayers(s, img, data, maps, g.debug); ok {
					plan.Lower, readFile = dirs, engine.LayeredReader(dirs)
					f.image.Rootfs = store.LayerStoreUse(data, img.Digest)
				}
			}
		}
		if readFile == nil {
			// urun-image links the layer unpacker (store/untar).
			exe, err := engine.ImageHelper()
			if err != nil {
				return err
			}
			if rootDir, err = store.RootfsWith(img, maps, data, exe, store.RootfsOptions{SquashIDs: f.squashIDs, Warn: func(w string) {
				fmt.Fprintln(os.Stderr, "urun: warning:", w)
			}, LayerDiffs: engine.LayerDiffs(data)}); err != nil {
				return err
			}
			f.image.Rootfs = rootDir
		}
	}
	if readFile == nil {
		plan.Lower = []string{rootDir}
		readFile = engine.RootReader(rootDir)
	}
	// The image is local and its layers ready (pulled, unpacked): the
	// init starts while the rest is set up, which no longer waits for
	// anything slow.
	early := startEarly(g, f, maps, initPath)
	defer early.Abort()
	tidy()
	// The image's HEALTHCHECK (urun's store or podman's), under the flags.
	imgHealth, err := container.ParseImageHealthcheck(imgConfig.Healthcheck)
	if err != nil {
		return err
	}
	if f.healthcheck, err = container.ResolveHealth(imgHealth, f.health); err != nil {
		return err
	}

	// What .Config.User shows and commit keeps: the name as typed.
	f.user = f.opts.User
	if f.user == "" {
		f.user = imgConfig.User
	}
	f.opts.ContainerID = id
	f.opts.NofileHard = nofileHard()
	spec, err := container.BuildSpec(imgConfig, f.opts, readFile, os.LookupEnv)
	if err != nil {
		return err
	}
	f.net.files = engine.UserEntries(spec, readFile, mode == idmap.ModeKeepID)
	if f.init {
		if err := checkInitBind(initPath, spec); err != nil {
			return err
		}
		spec.Mounts = append(spec.Mounts, specs.Mount{Destination: container.TinyInitPath, Type: "bind",
			Source: initPath, Options: []string{"bind", "ro", "nosuid", "nodev"}})
		spec.Process.Args = append([]string{container.TinyInitPath, "--"}, spec.Process.Args...)
	}
	if spec.Linux.Resources, err = f.cgroups.Resources(); err != nil {
		return err
	}
	spec.Linux.UIDMappings = container.SpecMapping(maps.UID)
	spec.Linux.GIDMappings = container.SpecMapping(maps.GID)
	if f.opts.Privileged && f.seccomp == "" {
		f.seccomp = "unconfined" // as podman and docker
	}
	if spec.Linux.Seccomp, err = seccompProfile(f.seccomp, spec); err != nil {
		return err
	}
	if f.dryRun {
		out, err := json.MarshalIndent(spec, "", "  ")
		if err != nil {
			return err
		}
		fmt.Println(string(out))
		return nil
	}

	cfg := container.RunConfig{
		Spec:         spec,
		InitPath:     initPath,
		Rootfs:       plan,
		UseHelpers:   maps.UseHelpers,
		Debug:        g.debug,
		SeccompCache: filepath.Join(data, "seccomp"),
		Exit:         container.NewExitTrace(g.debug),
		Early:        early,
	}
	useStorageProbe(g, data, &cfg)
	return runEngine(f, root, ref, id, cfg)
}

// processStart is about when urun started (its package init): --debug
// says when the early clone came on this clock.
var processStart = time.Now()

// startEarly clones the init of a foreground --rm container before the
// container is set up on the host (container.StartEarly), from what
// decides the clone: the namespaces of the flags, the id maps, the
// terminal and stdin. Any error returned from here on ends it
// (EarlyInit.Abort): nothing of it is left, and the error is the one a
// late clone would have seen. nil (clone at the usual place) for a
// container that is kept, detached or only created, that joins another's
// namespaces, that has a cgroup to be cloned into, or when the clone
// fails here: the late clone then says why, where it always did.
func startEarly(g *globals, f *runFlags, maps userns.Maps, initPath string) *container.EarlyInit {
	m, err := cgroupdelegate.ParseMode(f.cgroups.Cgroups)
	if f.detach || f.createOnly || !f.rm || f.dryRun || f.joins != nil || err != nil || !cgroupdelegate.NoneFor(m) {
		return nil
	}
	stdin := os.Stdin
	if !f.interactive && !f.opts.Tty {
		if stdin, err = os.Open(os.DevNull); err != nil {
			return nil
		}
		// The init has its own copy once cloned; this one closes with
		// urun.
	}
	spec := &specs.Spec{
		Process: &specs.Process{Terminal: f.opts.Tty},
		Linux: &specs.Linux{Namespaces: container.Namespaces(f.opts),
			UIDMappings: container.SpecMapping(maps.UID), GIDMappings: container.SpecMapping(maps.GID)},
	}
	e, err := container.StartEarly(container.RunConfig{Spec: spec, InitPath: initPath, UseHelpers: maps.UseHelpers,
		Stdin: stdin, Stdout: os.Stdout, Stderr: os.Stderr, Debug: g.debug})
	if err != nil {
		return nil
	}
	if g.debug {
		fmt.Fprintf(os.Stderr, "urun: early clone %6.2f ms after urun's package init\n", float64(time.Since(processStart).Microseconds())/1000)
	}
	return e
}

// complete folds flags that need I/O or cross-checks into the options.
func (f *runFlags) complete() error {
	var env []string
	for _, p := range f.envFiles {
		lines, err := readEnvFile(p)
		if err != nil {
			return err
		}
		env = append(env, lines...)
	}
	f.opts.Env = append(env, f.opts.Env...)
	var labels []string
	for _, p := range f.labelFiles {
		lines, err := readKVFile("--label-file", p)
		if err != nil {
			return err
		}
		labels = append(labels, lines...)
	}
	for _, l := range append(labels, f.labelArgs...) {
		k, v, _ := strings.Cut(l, "=")
		if k == "" {
			return fmt.Errorf("--label %q: use KEY=VALUE", l)
		}
		if f.labels == nil {
			f.labels = map[string]string{}
		}
		f.labels[k] = v
	}
	if err := checkPlatform(f.platform); err != nil {
		return err
	}
	var err error
	// The flags are checked before anything is made; the image's
	// HEALTHCHECK joins them once the image is open.
	if f.healthcheck, err = container.ResolveHealth(nil, f.health); err != nil {
		return err
	}
	if f.stopSignalArg != "" {
		if f.stopSignal, err = stopSignal("--stop-signal", f.stopSignalArg); err != nil {
			return err
		}
	}
	var ipcTarget, pidTarget, utsTarget string
	if f.opts.IPCHost, ipcTarget, err = container.ParseNamespaceMode("--ipc", f.ipc); err != nil {
		return err
	}
	if f.opts.PIDHost, pidTarget, err = container.ParseNamespaceMode("--pid", f.pid); err != nil {
		return err
	}
	if _, utsTarget, err = container.ParseNamespaceMode("--uts", f.uts); err != nil {
		return err
	}
	f.targets = joinTargets{ipc: ipcTarget, pid: pidTarget, uts: utsTarget}
	for _, s := range f.opts.Devices {
		d, err := container.ParseDevice(s)
		if err != nil {
			return err
		}
		st, err := os.Stat(d.Host)
		if err != nil {
			return fmt.Errorf("--device %s: %w", s, err)
		}
		if st.Mode()&os.ModeDevice == 0 {
			return fmt.Errorf("--device %s: %s is not a device node", s, d.Host)
		}
	}
	if f.cidFile != "" {
		if _, err := os.Lstat(f.cidFile); err == nil {
			return fmt.Errorf("--cidfile %s: the file exists (another container's?): remove it, or give another path", f.cidFile)
		}
	}
	for _, o := range f.securityOpt {
		switch o {
		case "no-new-privileges", "no-new-privileges=true", "no-new-privileges:true":
			f.opts.NoNewPrivileges = true
		default:
			v, ok := strings.CutPrefix(o, "seccomp=")
			if !ok {
				v, ok = strings.CutPrefix(o, "seccomp:")
			}
			if !ok || v == "" {
				return fmt.Errorf("--security-opt %q is not supported (supported: no-new-privileges, seccomp=unconfined, seccomp=PROFILE.json)", o)
			}
			f.seccomp = v
		}
	}
	if err := f.net.parse(&f.opts); err != nil {
		return err
	}
	if _, err := cgroupdelegate.ParseMode(f.cgroups.Cgroups); err != nil {
		return err
	}
	if f.format != "json" {
		return fmt.Errorf("--format %q: only json is supported", f.format)
	}
	if f.restartPolicy, err = engine.ParseRestartPolicy(f.restart); err != nil {
		return err
	}
	if f.restartPolicy.Name != "" && (!f.detach && !f.createOnly || f.rmExplicit && f.rm) {
		return fmt.Errorf("--restart %s: only for containers that are kept and run in the background (create, run -d without --rm)", f.restart)
	}
	return f.checkWritableLayer()
}

// The --writable-layer values.
const (
	writableDisk  = "disk"
	writableTmpfs = "tmpfs"
)

// writableLayerEnv sets --writable-layer's default.
const writableLayerEnv = "URUN_WRITABLE_LAYER"

func defaultWritableLayer() string {
	if v := os.Getenv(writableLayerEnv); v != "" {
		return v
	}
	return writableDisk
}

// checkWritableLayer refuses a value urun does not know, and a tmpfs
// asked for on the command line by a container that is kept (its writes
// must survive stop and start); from the environment, tmpfs applies to
// --rm containers only.
func (f *runFlags) checkWritableLayer() error {
	switch f.writableLayer {
	case writableDisk, writableTmpfs:
	default:
		src := "--writable-layer"
		if !f.writableLayerExplicit {
			src = writableLayerEnv
		}
		return fmt.Errorf("%s %q: want disk or tmpfs", src, f.writableLayer)
	}
	kept := f.createOnly || !f.rm || (f.detach && !f.rmExplicit)
	if f.writableLayerExplicit && f.writableLayer == writableTmpfs && kept {
		return errors.New("--writable-layer=tmpfs is for --rm containers only: a kept container (create, or run without --rm) keeps its writes on disk across stop and start; add --rm, or drop --writable-layer")
	}
	return nil
}

// readEnvFile reads KEY=VALUE lines; blank lines and # comments are skipped.
func readEnvFile(p string) ([]string, error) { return readKVFile("--env-file", p) }

// readKVFile reads the KEY=VALUE lines of the file that flag names.
func readKVFile(flag, p string) ([]string, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flag, err)
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		out = append(out, line)
	}
	return out, nil
}

// openImage resolves an image reference: an OCI layout in place, else the
// local store, pulling first as --pull says.
func openImage(ref string, f *runFlags) (*store.Image, error) {
	s, err := openStore()
	if err != nil {
		return nil, err
	}
	if dir, tag, ok := store.ParseOCIRef(ref); ok {
		img, err := store.OpenOCILayout(ref, dir, tag)
		if err == nil {
			// Its unpacked tree is in the store's rootfs/ as well.
			err = s.Pin(img)
		}
		return img, err
	}
	return s.Resolve(ref, f.pull, func(ref string) (string, error) {
		return imageHelper(append(append([]string{"pull"}, pullFlags(f.tlsVerify, false)...), ref)...)
	})
}

// findInit locates urun-init: $URUN_INIT, else beside the urun binary,
// else on PATH (a copy of urun elsewhere, as podman's test of a
// --runtime path makes, still finds the installed one).
func findInit() (string, error) {
	if p := os.Getenv("URUN_INIT"); p != "" {
		return p, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("finding urun's own executable: %w", err)
	}
	p := filepath.Join(filepath.Dir(exe), "urun-init")
	if _, err := os.Stat(p); err == nil {
		return p, nil
	}
	if onPath, err := exec.LookPath("urun-init"); err == nil {
		return onPath, nil
	}
	return "", fmt.Errorf("urun-init is missing (looked for %s and on PATH): install it beside urun (make install)", p)
}

// runEngine hands the container to the engine with what the flags say
// about its lifecycle.
func runEngine(f *runFlags, root, ref, id string, cfg container.RunConfig) error {
	mode := engine.Foreground
	switch {
	case f.createOnly:
		mode = engine.CreateOnly
	case f.detach:
		mode = engine.Detach
	}
	return engine.Run(engine.Request{
		Root: root, ID: id, Name: f.name, Image: ref, Use: &f.image, Config: cfg, Mode: mode,
		// -d (and create) keep the container unless --rm was given.
		AutoRemove:    f.rm && (mode == engine.Foreground || f.rmExplicit),
		Interactive:   f.interactive || f.opts.Tty,
		TmpfsUpper:    f.writableLayer == writableTmpfs,
		Network:       f.net.config(),
		Cgroups:       f.cgroups.Cgroups,
		RestartPolicy: f.restartPolicy,
		Labels:        f.labels,
		Joins:         f.joins,
		CIDFile:       f.cidFile,
		StopSignal:    f.stopSignal,
		StopTimeout:   f.stopTimeout,
		Healthcheck:   f.healthcheck,
		User:          f.user,
	})
}

// stopSignal reads a stop signal (TERM, SIGINT, 2) given by what; 0 is
// refused (it would not stop anything).
func stopSignal(what, v string) (int, error) {
	sig, err := parseSignal(v)
	if err == nil && sig == 0 {
		err = errors.New("signal 0 stops nothing")
	}
	if err != nil {
		return 0, fmt.Errorf("%s %s: %w", what, v, err)
	}
	return int(sig), nil
}

// hostPlatform is this host's platform as images name it.
func hostPlatform() string { return "linux/" + runtime.GOARCH }

// checkPlatform accepts --platform naming this host's platform (linux,
// linux/ARCH, linux/ARCH/VARIANT, or ARCH) and refuses others: urun
// runs no emulation (podman and docker would pull another image and run
// it under qemu-user where binfmt is set up).
func checkPlatform(p string) error {
	if p == "" {
		return nil
	}
	parts := strings.Split(strings.ToLower(p), "/")
	goos, arch := parts[0], runtime.GOARCH
	if len(parts) == 1 && goos != "linux" {
		goos, arch = "linux", parts[0]
	} else if len(parts) > 1 {
		arch = parts[1]
	}
	switch arch {
	case "x86_64", "x86-64":
		arch = "amd64"
	case "aarch64":
		arch = "arm64"
	}
	if goos != "linux" || arch != runtime.GOARCH || len(parts) > 3 {
		return fmt.Errorf("--platform %s: urun runs images of this host's platform only (%s), without emulation; drop --platform or give %s", p, hostPlatform(), hostPlatform())
	}
	return nil
}

// nofileHard is the nofile limit a container gets without --ulimit
// nofile: the caller's hard limit, at most podman's 1048576, soft and
// hard (podman raises the soft limit to it).
func nofileHard() uint64 {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		return 0
	}
	return min(rl.Max, 1<<20)
}

func newID() string {
	b := make([]byte, 32)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Image store names for --image-store and URUN_IMAGE_STORE.
const (
	imageStoreURun   = "urun"
	imageStorePodman = "podman"
)

// resolveImageStore applies URUN_IMAGE_STORE and checks the flags.
func (f *runFlags) resolveImageStore() error {
	if f.imageStore == "" {
		f.imageStore = os.Getenv("URUN_IMAGE_STORE")
	}
	switch f.imageStore {
	case "", imageStoreURun, imageStorePodman:
	default:
		return fmt.Errorf("--image-store %q: use urun (urun's own store) or podman (the user's podman store)", f.imageStore)
	}
	if f.storageRoot != "" && f.imageStore != imageStorePodman {
		return errors.New("--storage-root names a podman store: use it with --image-store=podman")
	}
	return nil
}
