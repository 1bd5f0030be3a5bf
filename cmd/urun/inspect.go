package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"

	"github.com/urun-dev/urun/container"
	"github.com/urun-dev/urun/engine"
	"github.com/urun-dev/urun/store"
)

// inspectEntry follows podman inspect's shape (which keeps docker's
// names), so that `inspect -f '{{.State.Running}}'` and the other
// templates of CI scripts read the same fields.
type inspectEntry struct {
	ID              string            `json:"Id"`
	Created         time.Time         `json:"Created"`
	Path            string            `json:"Path"`
	Args            []string          `json:"Args"`
	State           inspectState      `json:"State"`
	Image           string            `json:"Image"`
	ImageName       string            `json:"ImageName"`
	Rootfs          string            `json:"Rootfs"`
	ResolvConfPath  string            `json:"ResolvConfPath"`
	HostnamePath    string            `json:"HostnamePath"`
	HostsPath       string            `json:"HostsPath"`
	Name            string            `json:"Name"`
	RestartCount    int               `json:"RestartCount"`
	Driver          string            `json:"Driver"`
	OCIRuntime      string            `json:"OCIRuntime"`
	LogPath         string            `json:"LogPath"`
	Mounts          []inspectMount    `json:"Mounts"`
	NetworkSettings inspectNetwork    `json:"NetworkSettings"`
	Config          inspectConfig     `json:"Config"`
	HostConfig      inspectHostConfig `json:"HostConfig"`
	AutoRemove      bool              `json:"AutoRemove"`
	Spec            *specs.Spec       `json:"OCIConfig,omitempty"`
}

// Id is the id under podman's and docker's JSON name: templates of CI
// scripts say {{.Id}} (and {{.ID}}, the field, works too).
func (e inspectEntry) Id() string { return e.ID } //nolint:revive // docker's name

// Id is the image id under its JSON name, as for containers.
func (e imageInspect) Id() string { return e.ID } //nolint:revive // docker's name

type inspectState struct {
	Status     string        `json:"Status"`
	Running    bool          `json:"Running"`
	Paused     bool          `json:"Paused"`
	Restarting bool          `json:"Restarting"`
	OOMKilled  bool          `json:"OOMKilled"`
	Dead       bool          `json:"Dead"`
	Pid        int           `json:"Pid"`
	ExitCode   int           `json:"ExitCode"`
	Error      string        `json:"Error"`
	StartedAt  time.Time     `json:"StartedAt"`
	FinishedAt time.Time     `json:"FinishedAt"`
	Health     inspectHealth `json:"Health"`
}

// Healthcheck is .State.Health under podman's old name (podman keeps it
// for templates written for podman 3).
func (s inspectState) Healthcheck() inspectHealth { return s.Health }

// inspectHealth is there even without a health check (Status ""), so
// `{{.State.Health.Status}}` prints an empty line instead of failing.
type inspectHealth struct {
	Status        string                   `json:"Status"`
	FailingStreak int                      `json:"FailingStreak"`
	Log           []container.HealthResult `json:"Log"`
}

// inspectHealthcheck is .Config.Healthcheck as docker and podman show
// it: the test and durations in nanoseconds.
type inspectHealthcheck struct {
	Test        []string      `json:"Test"`
	Interval    time.Duration `json:"Interval"`
	Timeout     time.Duration `json:"Timeout"`
	StartPeriod time.Duration `json:"StartPeriod"`
	Retries     int           `json:"Retries"`
}

type inspectMount struct {
	Type        string   `json:"Type"`
	Name        string   `json:"Name,omitempty"`
	Source      string   `json:"Source"`
	Destination string   `json:"Destination"`
	Driver      string   `json:"Driver"`
	Mode        string   `json:"Mode"`
	Options     []string `json:"Options"`
	RW          bool     `json:"RW"`
	Propagation string   `json:"Propagation"`
}

type inspectNetwork struct {
	IPAddress string                   `json:"IPAddress"`
	Gateway   string                   `json:"Gateway"`
	Ports     map[string][]inspectPort `json:"Ports"`
}

type inspectPort struct {
	HostIP   string `json:"HostIp"`
	HostPort string `json:"HostPort"`
}

type inspectConfig struct {
	Hostname    string              `json:"Hostname"`
	User        string              `json:"User"`
	Env         []string            `json:"Env"`
	Cmd         []string            `json:"Cmd"`
	Image       string              `json:"Image"`
	WorkingDir  string              `json:"WorkingDir"`
	Entrypoint  []string            `json:"Entrypoint"`
	Labels      map[string]string   `json:"Labels"`
	Annotations map[string]string   `json:"Annotations"`
	Tty         bool                `json:"Tty"`
	OpenStdin   bool                `json:"OpenStdin"`
	StopSignal  string              `json:"StopSignal"`
	Healthcheck *inspectHealthcheck `json:"Healthcheck,omitempty"`
	// HealthcheckOnFailureAction is podman's --health-on-failure.
	HealthcheckOnFailureAction string `json:"HealthcheckOnFailureAction,omitempty"`
}

type inspectHostConfig struct {
	// The namespace modes, in podman 4.3.1's words: private, host or
	// container:ID (nsModes).
	NetworkMode string `json:"NetworkMode"`
	IpcMode     string `json:"IpcMode"`
	PidMode     string `json:"PidMode"`
	UTSMode     string `json:"UTSMode"`
	UsernsMode  string `json:"UsernsMode"`
	// CgroupnsMode is docker's name, CgroupMode podman's.
	CgroupnsMode  string                   `json:"CgroupnsMode"`
	CgroupMode    string                   `json:"CgroupMode"`
	PortBindings  map[string][]inspectPort `json:"PortBindings"`
	RestartPolicy struct {
		Name              string `json:"Name"`
		MaximumRetryCount int    `json:"MaximumRetryCount"`
	} `json:"RestartPolicy"`
	AutoRemove     bool     `json:"AutoRemove"`
	Binds          []string `json:"Binds"`
	ReadonlyRootfs bool     `json:"ReadonlyRootfs"`
	Privileged     bool     `json:"Privileged"`
}

// imageInspect follows podman image inspect's shape.
type imageInspect struct {
	ID           string    `json:"Id"`
	Digest       string    `json:"Digest"`
	RepoTags     []string  `json:"RepoTags"`
	RepoDigests  []string  `json:"RepoDigests"`
	Created      time.Time `json:"Created"`
	Config       imageCfg  `json:"Config"`
	Architecture string    `json:"Architecture"`
	Os           string    `json:"Os"`
	Size         int64     `json:"Size"`
	VirtualSize  int64     `json:"VirtualSize"`
	Author       string    `json:"Author"`
	RootFS       struct {
		Type   string   `json:"Type"`
		Layers []string `json:"Layers"`
	} `json:"RootFS"`
	Labels       map[string]string `json:"Labels"`
	ManifestType string            `json:"ManifestType"`
	User         string            `json:"User"`
}

type imageCfg struct {
	User         string              `json:"User"`
	ExposedPorts map[string]struct{} `json:"ExposedPorts"`
	Env          []string            `json:"Env"`
	Entrypoint   []string            `json:"Entrypoint"`
	Cmd          []string            `json:"Cmd"`
	Volumes      map[string]struct{} `json:"Volumes"`
	WorkingDir   string              `json:"WorkingDir"`
	Labels       map[string]string   `json:"Labels"`
	StopSignal   string              `json:"StopSignal"`
	// Healthcheck is the config's HEALTHCHECK, as written.
	Healthcheck json.RawMessage `json:"Healthcheck,omitempty"`
}

func init() {
	register("inspect", func() *command {
		fs := pflag.NewFlagSet("inspect", pflag.ContinueOnError)
		format := fs.StringP("format", "f", "json", "json, or a Go template applied to each object (e.g. '{{.State.Running}}', '{{json .Config.Env}}')")
		kind := fs.StringP("type", "t", "all", "what NAME is: container, image or all (a container first, then an image)")
		size := fs.BoolP("size", "s", false, "accepted for docker compatibility (sizes are not computed)")
		_ = size
		return &command{
			name:  "inspect",
			short: "Show containers' and images' configuration and state (JSON or a Go template)",
			usage: "inspect [-f FORMAT] [--type container|image|all] NAME...",
			flags: fs,
			run: func(g *globals, args []string) error {
				if len(args) == 0 {
					return argsError("inspect", "at least one container or image")
				}
				switch *kind {
				case "all", "container", "image":
				default:
					return fmt.Errorf("--type %q: use container, image or all", *kind)
				}
				return inspect(g, args, *kind, *format)
			},
		}
	})
}

// inspect prints every object, then fails (125, as docker and podman)
// when one of them was not found.
func inspect(g *globals, refs []string, kind, format string) error {
	root, err := engine.StateRoot(g.root)
	if err != nil {
		return err
	}
	var out []any
	var missing []string
	for _, ref := range refs {
		obj, err := inspectOne(root, ref, kind)
		if err != nil {
			if !errors.Is(err, errNoSuchObject) {
				return err
			}
			missing = append(missing, ref)
			continue
		}
		out = append(out, obj)
	}
	if format == "json" || format == "" {
		if out == nil {
			out = []any{}
		}
		if err := printJSON(os.Stdout, out); err != nil {
			return err
		}
	} else {
		t, err := parseTemplate(format)
		if err != nil {
			return err
		}
		t.table = false
		if err := t.write(os.Stdout, out, ""); err != nil {
			return err
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("no such object: %s", strings.Join(missing, ", "))
	}
	return nil
}

var errNoSuchObject = errors.New("no such object")

func inspectOne(root, ref, kind string) (any, error) {
	if kind != "image" {
		id, st, err := engine.Find(root, ref)
		if err == nil {
			return containerInspect(root, id, st), nil
		}
		if !errors.Is(err, errNoSuchContainer) {
			return nil, err
		}
		if kind == "container" {
			return nil, errNoSuchObject
		}
	}
	img, err := lookupImageForInspect(ref)
	if err != nil {
		return nil, err
	}
	return img, nil
}

func lookupImageForInspect(ref string) (*imageInspect, error) {
	var img *store.Image
	if dir, tag, ok := store.ParseOCIRef(ref); ok {
		i, err := store.OpenOCILayout(ref, dir, tag)
		if err != nil {
			return nil, errNoSuchObject
		}
		img = i
	} else {
		s, err := openStore()
		if err != nil {
			return nil, err
		}
		if img, err = s.Lookup(ref); err != nil {
			return nil, errNoSuchObject
		}
	}
	defer img.Release()
	return imageInspectOf(ref, img), nil
}

func imageInspectOf(ref string, img *store.Image) *imageInspect {
	c := img.Config
	e := &imageInspect{ID: img.Digest.Encoded(), Digest: img.Digest.String(), RepoTags: []string{ref},
		RepoDigests: []string{}, Architecture: c.Architecture, Os: c.OS, Author: c.Author,
		ManifestType: img.Manifest.MediaType, User: c.Config.User, Labels: c.Config.Labels}
	if e.ManifestType == "" {
		e.ManifestType = "application/vnd.oci.image.manifest.v1+json"
	}
	if c.Created != nil {
		e.Created = *c.Created
	}
	e.Config = imageCfg{User: c.Config.User, ExposedPorts: c.Config.ExposedPorts, Env: c.Config.Env,
		Entrypoint: c.Config.Entrypoint, Cmd: c.Config.Cmd, Volumes: c.Config.Volumes,
		WorkingDir: c.Config.WorkingDir, Labels: c.Config.Labels, StopSignal: c.Config.StopSignal,
		Healthcheck: img.Healthcheck}
	e.RootFS.Type = "layers"
	for _, d := range c.RootFS.DiffIDs {
		e.RootFS.Layers = append(e.RootFS.Layers, d.String())
	}
	for _, l := range img.Layers {
		e.Size += l.Size
	}
	e.VirtualSize = e.Size
	return e
}

func containerInspect(root, id string, st *container.State) inspectEntry {
	e := inspectEntry{ID: id, Name: st.Name, Created: st.Created, ImageName: st.Image, LogPath: st.LogPath,
		AutoRemove: st.AutoRemove, Driver: "overlay", OCIRuntime: "urun", Mounts: []inspectMount{}}
	e.Image = strings.TrimPrefix(st.ImageDigest, "sha256:")
	if len(st.Command) > 0 {
		e.Path, e.Args = st.Command[0], st.Command[1:]
	}
	pe := entryOf(st)
	e.State = inspectState{Status: pe.State, Running: pe.State == "running", Paused: st.Status == container.StatusPaused,
		Pid: pe.Pid, ExitCode: pe.ExitCode, StartedAt: st.StartedAt, FinishedAt: st.FinishedAt, Health: inspectHealth{Log: []container.HealthResult{}}}
	if hc := st.Healthcheck; hc != nil {
		e.State.Health.Status = pe.Health
		if st.Health != nil {
			e.State.Health.FailingStreak = st.Health.FailingStreak
			e.State.Health.Log = append(e.State.Health.Log, st.Health.Log...)
		}
	}
	if e.State.ExitCode < 0 {
		e.State.ExitCode = 0
	}
	dir := container.Dir(root, id)
	stopSig := "SIGTERM"
	if st.StopSignal != 0 {
		stopSig = unix.SignalName(unix.Signal(st.StopSignal))
	}
	e.Config = inspectConfig{Image: st.Image, Labels: st.Labels, Annotations: st.Annotations, StopSignal: stopSig}
	if hc := st.Healthcheck; hc != nil {
		e.Config.Healthcheck = &inspectHealthcheck{Test: hc.Test, Interval: hc.Interval, Timeout: hc.Timeout, StartPeriod: hc.StartPeriod, Retries: hc.Retries}
		e.Config.HealthcheckOnFailureAction = hc.OnFailure
		if e.Config.HealthcheckOnFailureAction == "" {
			e.Config.HealthcheckOnFailureAction = container.HealthActionNone
		}
	}
	if e.Config.Labels == nil {
		e.Config.Labels = map[string]string{}
	}
	e.NetworkSettings.Ports = map[string][]inspectPort{}
	e.HostConfig.PortBindings = map[string][]inspectPort{}
	var rec *engine.Record
	if st.Record != "" {
		if r, err := engine.LoadRecord(st.Record); err == nil {
			rec = r
			// -p and -P: "8080/tcp": [{HostIp, HostPort}], as podman's.
			for _, p := range rec.Network.Ports {
				k := fmt.Sprintf("%d/%s", p.ContainerPort, p.Proto)
				b := inspectPort{HostPort: strconv.Itoa(p.HostPort)}
				if p.HostIP != nil {
					b.HostIP = p.HostIP.String()
				}
				e.NetworkSettings.Ports[k] = append(e.NetworkSettings.Ports[k], b)
				e.HostConfig.PortBindings[k] = append(e.HostConfig.PortBindings[k], b)
			}
		}
	}
	e.HostConfig.RestartPolicy.Name = "no"
	e.HostConfig.AutoRemove = st.AutoRemove
	e.HostConfig.Binds = []string{}
	spec, err := container.LoadSpec(dir)
	if err != nil || spec.Process == nil {
		return e
	}
	e.Spec = spec
	e.Rootfs = filepath.Join(dir, "rootfs")
	e.Config.Hostname, e.Config.Env, e.Config.Cmd = spec.Hostname, spec.Process.Env, spec.Process.Args
	e.Config.WorkingDir, e.Config.Tty = spec.Process.Cwd, spec.Process.Terminal
	e.Config.User = fmtUser(spec.Process.User)
	if rec != nil {
		// -u as typed (or the image's USER), as docker and podman show it.
		e.Config.User = rec.User
	}
	if spec.Root != nil {
		e.HostConfig.ReadonlyRootfs = spec.Root.Readonly
	}
	nsModes(&e.HostConfig, spec, rec)
	for _, m := range spec.Mounts {
		switch {
		case m.Destination == "/etc/resolv.conf":
			e.ResolvConfPath = m.Source
			continue
		case m.Destination == "/etc/hosts":
			e.HostsPath = m.Source
			continue
		case m.Destination == "/etc/hostname":
			e.HostnamePath = m.Source
			continue
		case m.Destination == container.TinyInitPath:
			continue
		}
		if m.Type != "bind" && !(m.Type == "tmpfs" && !defaultMount(m.Destination)) {
			continue
		}
		if m.Type == "bind" && (strings.HasPrefix(m.Source, dir+"/") || defaultMount(m.Destination)) {
			continue
		}
		im := inspectMount{Type: m.Type, Source: m.Source, Destination: m.Destination, Options: m.Options, RW: true, Propagation: "rprivate"}
		for _, o := range m.Options {
			switch o {
			case "ro":
				im.RW = false
			case "shared", "rshared", "slave", "rslave", "private", "rprivate":
				im.Propagation = o
			}
		}
		if !im.RW {
			im.Mode = "ro"
		}
		e.Mounts = append(e.Mounts, im)
		if m.Type == "bind" {
			b := m.Source + ":" + m.Destination
			if !im.RW {
				b += ":ro"
			}
			e.HostConfig.Binds = append(e.HostConfig.Binds, b)
		}
	}
	return e
}

// nsModes fills HostConfig's namespace modes as podman 4.3.1 shows a
// rootless container's: "private" for the container's own namespace
// ("shareable" for IPC, which others may join), "host" for none of its
// own, "container:ID" for one shared with another container (engine
// Joins). NetworkMode is the network's driver (slirp4netns, pasta,
// none, host). UsernsMode is "" for urun's default mapping (podman's
// rootless default, in which your uid is root) and "private" for
// keep-id, as podman's.
func nsModes(h *inspectHostConfig, spec *specs.Spec, rec *engine.Record) {
	own := map[specs.LinuxNamespaceType]string{}
	if spec.Linux != nil {
		for _, ns := range spec.Linux.Namespaces {
			own[ns.Type] = "private"
			if ns.Path != "" {
				own[ns.Type] = "ns:" + ns.Path // podman's --pid ns:PATH
			}
		}
	}
	mode := func(t specs.LinuxNamespaceType, joined bool) string {
		if joined {
			return "container:" + rec.Joins.Target
		}
		if m, ok := own[t]; ok {
			return m
		}
		return "host"
	}
	var j engine.Joins
	if rec != nil && rec.Joins != nil {
		j = *rec.Joins
	}
	h.PidMode = mode(specs.PIDNamespace, j.PID)
	h.IpcMode = mode(specs.IPCNamespace, j.IPC)
	if h.IpcMode == "private" {
		h.IpcMode = "shareable"
	}
	h.UTSMode = mode(specs.UTSNamespace, j.UTS)
	h.CgroupnsMode = mode(specs.CgroupNamespace, false)
	h.CgroupMode = h.CgroupnsMode
	h.NetworkMode = mode(specs.NetworkNamespace, j.Net)
	if rec != nil && !j.Net && rec.Network.Mode.Driver != "" {
		h.NetworkMode = string(rec.Network.Mode.Driver)
	}
	if spec.Linux != nil {
		uids := container.MappingFromSpec(spec.Linux.UIDMappings)
		if inside, ok := uids.ToContainer(uint32(os.Getuid())); ok && inside != 0 {
			h.UsernsMode = "private" // keep-id
		}
	}
}

// defaultMount tells whether a destination is one every container gets.
func defaultMount(dst string) bool {
	switch dst {
	case "/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/sys/fs/cgroup", "/run/.containerenv":
		return true
	}
	return strings.HasPrefix(dst, "/dev/")
}

func fmtUser(u specs.User) string {
	return strconv.FormatUint(uint64(u.UID), 10) + ":" + strconv.FormatUint(uint64(u.GID), 10)
}
