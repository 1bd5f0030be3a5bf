package engine

// The container record: everything a kept or detached container needs to
// start again, written once at create, read by start, restart and the
// supervisor. It lives in the data directory, beside the container's
// writable layer, so it survives a reboot that empties the runtime
// directory (where the state of the live process is).

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/urun-dev/urun/container"
	"github.com/urun-dev/urun/fuse-overlay"
	"github.com/urun-dev/urun/netns"
)

// recordVersion is the layout of Record; a record of another version is
// refused with a message rather than misread.
const recordVersion = 1

// Record is one container as it was created. Every path in it is
// absolute: nothing depends on the directory or environment of the
// command that starts it.
type Record struct {
	Version int       `json:"version"`
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Created time.Time `json:"created"`
	// Root is the state root the container is registered in.
	Root string `json:"root"`
	// Image is the reference as given; ImageDigest and ImageRootfs what it
	// resolved to at create (a tag moved since does not change them).
	Image       string `json:"image,omitempty"`
	ImageDigest string `json:"imageDigest,omitempty"`
	ImageRootfs string `json:"imageRootfs,omitempty"`
	// Spec is the full runtime config, mappings, seccomp and mounts
	// included, without the per-start /etc mounts of the network.
	Spec     *specs.Spec `json:"spec"`
	InitPath string      `json:"initPath"`
	// Rootfs is the mount plan: the image's layer directories, and the
	// container's own upper and work directories when it is kept.
	Rootfs       fuseoverlay.Plan `json:"rootfs"`
	UseHelpers   bool             `json:"useHelpers,omitempty"`
	SeccompCache string           `json:"seccompCache,omitempty"`
	Network      NetConfig        `json:"network"`
	// Cgroups is the --cgroups mode.
	Cgroups    string `json:"cgroups,omitempty"`
	AutoRemove bool   `json:"autoRemove,omitempty"`
	// PodmanStore is the marker of the record the container holds in
	// podman's store (podmanMarker), kept here to be put back after a
	// reboot so rm still releases it.
	PodmanStore json.RawMessage `json:"podmanStore,omitempty"`
	// RestartPolicy says what the supervisor does when the container
	// exits (docker's --restart).
	RestartPolicy RestartPolicy `json:"restartPolicy,omitzero"`
	// Labels are --label/-l and --label-file (inspect's .Config.Labels,
	// ps --filter label=).
	Labels map[string]string `json:"labels,omitempty"`
	// StopSignal and StopTimeout are --stop-signal (or the image's
	// STOPSIGNAL) and --stop-timeout (container.State's).
	StopSignal  int   `json:"stopSignal,omitempty"`
	StopTimeout *uint `json:"stopTimeout,omitempty"`
	// Joins, when set, are the namespaces the container shares with
	// another (engine/join.go).
	Joins *Joins `json:"joins,omitempty"`
	// Healthcheck is the container's health check (--health-*, or the
	// image's HEALTHCHECK); nil: none.
	Healthcheck *container.HealthConfig `json:"healthcheck,omitempty"`
	// User is the user as typed (-u nobody, -u 1000:wheel), else the
	// image's USER (or keep-id's uid:gid): docker's and podman's
	// .Config.User, and what commit writes into the new image. The spec
	// has only the numbers it resolved to.
	User string `json:"user,omitempty"`
}

// RestartPolicy is docker's --restart: Name is "no" (or empty), "always",
// "unless-stopped" or "on-failure" (MaxRetries: 0 is no limit).
type RestartPolicy struct {
	Name       string `json:"name,omitempty"`
	MaxRetries int    `json:"maxRetries,omitempty"`
}

// Restart policy names.
const (
	RestartNo            = "no"
	RestartAlways        = "always"
	RestartUnlessStopped = "unless-stopped"
	RestartOnFailure     = "on-failure"
)

// ParseRestartPolicy reads docker's --restart value: no, always,
// unless-stopped, on-failure[:MAX_RETRIES].
func ParseRestartPolicy(s string) (RestartPolicy, error) {
	name, max, hasMax := strings.Cut(s, ":")
	switch name {
	case "", RestartNo, RestartAlways, RestartUnlessStopped:
		if hasMax {
			return RestartPolicy{}, fmt.Errorf("--restart %q: only on-failure takes a retry count", s)
		}
		if name == RestartNo {
			name = ""
		}
		return RestartPolicy{Name: name}, nil
	case RestartOnFailure:
		p := RestartPolicy{Name: name}
		if hasMax {
			n, err := strconv.Atoi(max)
			if err != nil || n < 0 {
				return RestartPolicy{}, fmt.Errorf("--restart %q: the retry count must be a number >= 0", s)
			}
			p.MaxRetries = n
		}
		return p, nil
	}
	return RestartPolicy{}, fmt.Errorf("--restart %q: use no, always, unless-stopped or on-failure[:MAX_RETRIES]", s)
}

// again says whether a container that ended with err (its status, or
// urun's failure), restarted restarts times so far, is started again.
// A stop by the user is checked by the caller.
func (p RestartPolicy) again(err error, restarts int) bool {
	code := 0
	var ce *container.CodedError
	if errors.As(err, &ce) && ce.Err == nil {
		code = ce.Code
	} else if err != nil {
		code = container.ExitCode(err)
	}
	switch p.Name {
	case RestartAlways, RestartUnlessStopped:
		return true
	case RestartOnFailure:
		return code != 0 && (p.MaxRetries == 0 || restarts < p.MaxRetries)
	}
	return false
}

// NetConfig is the container's network as the flags gave it; the
// attachment (pasta, slirp4netns) is made again at each start.
type NetConfig struct {
	Mode  netns.Mode      `json:"mode"`
	Ports []netns.Port    `json:"ports,omitempty"`
	Etc   netns.EtcConfig `json:"etc"`
	// Files are further /etc files the container gets: passwd and group
	// with an entry for its user (UserEntries).
	Files map[string][]byte `json:"files,omitempty"`
}

// Setup writes the container's /etc files into its runtime directory dir,
// adds their mounts to spec, and returns the network attachment (none for
// none and host).
func (n NetConfig) Setup(spec *specs.Spec, dir string, env ContainerEnv) ([]container.Attachment, error) {
	if n.Mode.Defaulted && n.Mode.Driver == netns.None {
		fmt.Fprintln(os.Stderr, "urun: warning:", n.Mode.Reason)
	}
	if n.Mode.Driver == netns.Container {
		// The target's network, and its /etc files with it, as docker's
		// --network container: (no helper of our own).
		if env.JoinedDir == "" {
			return nil, errors.New("--network container: the container to share the network of is not known")
		}
		spec.Mounts = append(spec.Mounts, netns.SharedEtc(env.JoinedDir)...)
		return nil, n.writeExtraEtc(spec, dir, env)
	}
	etc := n.Etc
	etc.Hostname = spec.Hostname
	etc.Driver = n.Mode.Driver
	etc.HostResolv, _ = os.ReadFile("/etc/resolv.conf")
	if n.Mode.Driver == netns.Host {
		etc.HostHosts, _ = os.ReadFile("/etc/hosts")
	}
	hostNames(&etc)
	mounts, err := netns.WriteEtc(dir, etc)
	if err != nil {
		return nil, err
	}
	spec.Mounts = append(spec.Mounts, mounts...)
	if err := n.writeExtraEtc(spec, dir, env); err != nil {
		return nil, err
	}
	a, err := netns.New(n.Mode, n.Ports, dir)
	if err != nil || a == nil {
		return nil, err
	}
	return []container.Attachment{a}, nil
}

// recordDir is where container id's record and writable layer live.
func recordDir(id string) (string, error) { return upperDir(id) }

// RecordPath is the file of container id's record.
func RecordPath(id string) (string, error) {
	dir, err := recordDir(id)
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "record.json"), nil
}

// save writes the record atomically (a crash leaves the old one or the
// new one, never half).
func (r *Record) save() error {
	p, err := RecordPath(r.ID)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return fmt.Errorf("writing the container record: %w", err)
	}
	r.Version = recordVersion
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("writing the container record: %w", err)
	}
	if err := os.Rename(tmp, p); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing the container record: %w", err)
	}
	return nil
}

// errNoRecord: the container has no record (the OCI face's, or a
// foreground --rm run).
var errNoRecord = errors.New("no container record")

// LoadRecord reads the record at path.
func LoadRecord(path string) (*Record, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w at %s", errNoRecord, path)
	}
	if err != nil {
		return nil, fmt.Errorf("reading the container record: %w", err)
	}
	var r Record
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("reading the container record %s: %w", path, err)
	}
	if r.Version != recordVersion {
		return nil, fmt.Errorf("the container record %s has version %d, this urun reads %d: remove the container ('urun rm %s') and create it again", path, r.Version, recordVersion, r.Name)
	}
	if r.Spec == nil || r.Spec.Process == nil || r.Spec.Linux == nil {
		return nil, fmt.Errorf("the container record %s has no complete spec: remove the container and create it again", path)
	}
	return &r, nil
}

// spec returns a copy of the record's spec for one start (a start adds
// mounts to it).
func (r *Record) spec() (*specs.Spec, error) {
	b, err := json.Marshal(r.Spec)
	if err != nil {
		return nil, err
	}
	var s specs.Spec
	return &s, json.Unmarshal(b, &s)
}

// restoreRecords registers again, in root, the kept containers whose
// state is gone while their records are not: after a reboot emptied the
// runtime directory they show in ps -a as exited and start again. Those
// whose restart policy is always (or unless-stopped, when not stopped by
// the user) are started. --rm containers' records are removed, as their
// supervisor would have. It costs one directory listing of the data
// directory's containers, a stat per container and a read of each
// record whose state is not in root: restoreOnce runs it once per state
// root.
func restoreRecords(root string) {
	data, err := DataDirPath()
	if err != nil {
		return
	}
	ents, err := os.ReadDir(filepath.Join(data, "containers"))
	if err != nil {
		return
	}
	for _, e := range ents {
		id := e.Name()
		if container.ValidID(id) != nil {
			continue
		}
		if _, err := os.Lstat(container.Dir(root, id)); !errors.Is(err, os.ErrNotExist) {
			continue
		}
		if restoreRecord(root, id) {
			if p, err := RecordPath(id); err == nil {
				spawnSupervisor(id, p)
			}
		}
	}
}

// restoredMark names, in a state root, the data directory whose records
// restoreRecords has registered there.
const restoredMark = ".restored" // not a container id

// restoreOnce runs restoreRecords (and sweepUppers, sweep.go) the first time a state root is used
// with a data directory (a reboot empties $XDG_RUNTIME_DIR, and the mark
// with it), not at every command: for a --root other than the one the
// records were made in, each record had to be read to find that out
// (250 ms per command with 700 records).
func restoreOnce(root string) {
	data, err := DataDirPath()
	if err != nil {
		return
	}
	mark := filepath.Join(root, restoredMark)
	if b, err := os.ReadFile(mark); err == nil && string(b) == data {
		return
	}
	restoreRecords(root)
	sweepUppers(root, nil)
	// Not in a root that is still empty: a refused create leaves the
	// root as it found it (the next command there restores again).
	if empty(root) {
		return
	}
	tmp := mark + ".tmp" + strconv.Itoa(os.Getpid())
	if os.WriteFile(tmp, []byte(data), 0o600) == nil && os.Rename(tmp, mark) != nil {
		os.Remove(tmp)
	}
}

// empty: dir has no entries (or cannot be read).
func empty(dir string) bool {
	f, err := os.Open(dir)
	if err != nil {
		return true
	}
	defer f.Close()
	names, _ := f.Readdirnames(1)
	return len(names) == 0
}

// restoreRecord registers container id from its record, if it has one
// for root and no state; start says its restart policy starts it now.
func restoreRecord(root, id string) (start bool) {
	p, err := RecordPath(id)
	if err != nil {
		return false
	}
	// A record of another root (the common case for a --root of its
	// own) is told by its bytes, without decoding its spec: it does not
	// hold root as json.Marshal writes it.
	if b, err := os.ReadFile(p); err != nil {
		return false
	} else if q, _ := json.Marshal(root); !bytes.Contains(b, q) {
		return false
	}
	rec, err := LoadRecord(p)
	if err != nil || rec.Root != root || rec.ID != id {
		return false
	}
	unlock, err := container.Lock(root, id)
	if err != nil {
		return false
	}
	defer unlock()
	if _, err := os.Lstat(container.Dir(root, id)); !errors.Is(err, os.ErrNotExist) {
		return false // registered meanwhile
	}
	if rec.AutoRemove {
		removeUpper(id)
		return false
	}
	if err := container.ReserveName(root, rec.Name, id); err != nil {
		return false // the name went to a newer container
	}
	dir := container.Dir(root, id)
	container.Unsettle(root, id)
	if err := os.Mkdir(dir, 0o700); err != nil {
		container.ReleaseName(root, rec.Name, id)
		return false
	}
	if rec.PodmanStore != nil {
		os.WriteFile(podmanMarker(root, id), rec.PodmanStore, 0o600)
	}
	st := stateOf(rec, dir)
	st.Status = specs.StateStopped
	// Nobody saw it end: ps shows "Exited (unknown)".
	st.ExitCode = nil
	if err := container.SaveSpec(dir, rec.Spec); err != nil || st.Save(root) != nil {
		container.Unsettle(root, id)
		os.RemoveAll(dir)
		container.ReleaseName(root, rec.Name, id)
		return false
	}
	return rec.RestartPolicy.Name == RestartAlways || rec.RestartPolicy.Name == RestartUnlessStopped && !stoppedByUser(id)
}

// stateOf is the state a container of rec starts with.
func stateOf(rec *Record, dir string) *container.State {
	return &container.State{
		State: specs.State{Version: specs.Version, ID: rec.ID, Status: container.StatusConfigured, Bundle: dir,
			Annotations: rec.Spec.Annotations},
		Created: rec.Created, Rootless: true,
		Name: rec.Name, Image: rec.Image, ImageDigest: rec.ImageDigest, ImageRootfs: rec.ImageRootfs,
		Command: rec.Spec.Process.Args, Tty: rec.Spec.Process.Terminal, Labels: rec.Labels,
		StopSignal: rec.StopSignal, StopTimeout: rec.StopTimeout, Healthcheck: rec.Healthcheck,
		LogPath:    filepath.Join(dir, "ctr.log"),
		Record:     mustRecordPath(rec.ID),
		SharesWith: rec.Joins.target(),
	}
}

func mustRecordPath(id string) string {
	p, _ := RecordPath(id)
	return p
}

// stoppedMarker is the file whose presence says the user stopped the
// container (urun stop), which unless-stopped honours across reboots.
func stoppedMarker(id string) string {
	dir, _ := recordDir(id)
	return filepath.Join(dir, "stopped")
}

// markStopped notes that the user stopped (or removes) container id,
// before its process is signalled: its supervisor does not restart it.
func markStopped(id string) {
	if p := stoppedMarker(id); filepath.Base(filepath.Dir(p)) == id {
		if _, err := os.Lstat(filepath.Dir(p)); err == nil {
			os.WriteFile(p, nil, 0o600)
		}
	}
}

func stoppedByUser(id string) bool {
	_, err := os.Lstat(stoppedMarker(id))
	return err == nil
}
