package engine

// commit: a container's writable layer as a new image on top of its
// image's layers (docker commit). urun prepares here what the new image
// is (the parent's config with the container's run config and the
// --change instructions, the history entry, which paths are the
// runtime's mount points, how the owners map back to the container's
// ids); urun-image writes it (cmd/urun-image/commit_child.go): the layer
// blob, config and manifest in urun's OCI layout, the image in the layer
// store through go.podman.io/storage, then the name.

import (
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	v1 "github.com/opencontainers/image-spec/specs-go/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/urun-dev/urun/container"
	"github.com/urun-dev/urun/idmap"
	"github.com/urun-dev/urun/store"
	"github.com/urun-dev/urun/store/podmanstore"
	"github.com/urun-dev/urun/userns"
)

// CommitOptions are docker commit's flags.
type CommitOptions struct {
	// Name is the new image's REPO[:TAG]; empty: an unnamed image.
	Name    string
	Author  string
	Message string
	// Changes are --change instructions (Dockerfile syntax).
	Changes []string
	// Pause freezes a running container while its layer is read;
	// PauseAsked says the user gave -p (a container that cannot be
	// frozen is then named on stderr).
	Pause, PauseAsked bool
	// Format is "oci" (default) or "docker".
	Format string
}

// CommitResult is the new image.
type CommitResult struct {
	// ID is the manifest digest (urun's image id), Name the full name.
	ID, Name string
}

// Commit makes container ref's writable layer a new image.
func Commit(root, ref string, o CommitOptions) (*CommitResult, error) {
	full := "" // no name: an unnamed image, known by its id (docker's <none>)
	if o.Name != "" {
		n := o.Name
		if store.IsShortName(n) {
			// As podman commit names it: a short name is a local image.
			n = "localhost/" + n
		}
		var err error
		if full, err = store.NormalizeName(n); err != nil {
			return nil, fmt.Errorf("commit: %w", err)
		}
		if strings.Contains(full, "@") {
			return nil, fmt.Errorf("commit: %s: a new image's name has a tag, not a digest", o.Name)
		}
	}
	switch o.Format {
	case "":
		o.Format = "oci"
	case "oci", "docker":
	default:
		return nil, fmt.Errorf("commit --format %q: use oci or docker", o.Format)
	}
	var changes []change
	for _, c := range o.Changes {
		ch, err := parseChange(c)
		if err != nil {
			return nil, err
		}
		changes = append(changes, ch)
	}

	l, st, err := layersOf(root, ref)
	if err != nil {
		return nil, err
	}
	id := st.ID
	data, err := DataDir()
	if err != nil {
		return nil, err
	}
	if st.ImageDigest == "" {
		return nil, fmt.Errorf("commit: container %s was not made from an image of urun's store (a --rootfs or OCI bundle container)", ref)
	}
	s, err := store.OpenStore(data)
	if err != nil {
		return nil, err
	}
	parent, err := s.Lookup(strings.TrimPrefix(st.ImageDigest, "sha256:"))
	if err != nil {
		return nil, fmt.Errorf("commit: container %s's image %s is not in urun's store (an image of podman's store, or an oci: layout run in place: pull it into urun's store and run the container from there)", ref, st.Image)
	}

	upper := l.upper
	if _, err := os.Lstat(upper); err != nil {
		if st.Status == specs.StateRunning {
			return nil, fmt.Errorf("commit: container %s keeps its writes in memory (--writable-layer=tmpfs), where urun cannot read them as a layer: run it with a writable layer on disk (the default)", ref)
		}
		if st.Status != container.StatusConfigured {
			return nil, fmt.Errorf("commit: container %s has no writable layer left (a --rm container's is removed at exit)", ref)
		}
		// Never started: nothing written yet, an empty layer.
		tmp, err := os.MkdirTemp(filepath.Dir(filepath.Dir(upper)), "commit-empty-")
		if err != nil {
			return nil, err
		}
		defer os.Remove(tmp)
		upper = tmp
	}
	if _, err := os.Lstat(filepath.Join(filepath.Dir(upper), "work", "urun-copy")); err == nil {
		return nil, fmt.Errorf("commit: container %s runs on the copy tier: its writable layer is a whole copy of the image, not its changes; run it on an overlay tier (--rootfs-tier native or fuse) to commit it", ref)
	}

	lowers := l.lowers
	if _, err := os.Stat(lowers[0]); err != nil {
		// A foreground container from the layer store records no
		// directories: its image's own.
		if dirs, _, err := store.LayerStack(store.LayerStoreDir(data), parent.Manifest.Config.Digest.Encoded()); err == nil {
			lowers = dirs
		}
	}
	l.lowers = lowers

	maps, err := userns.ResolveMaps(idmap.ModeAuto, false)
	if err != nil {
		return nil, err
	}
	if err := podmanstore.CheckMaps(maps); err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	var rec *Record
	if st.Record != "" {
		rec, _ = LoadRecord(st.Record)
	}
	cfg, hist := commitConfig(parent.Config, l.spec, rec, st, changes, o, LayeredReader(lowers))
	cfgJSON, _ := json.Marshal(cfg)
	histJSON, _ := json.Marshal(hist)
	req := &podmanstore.CommitRequest{
		Store:       s.Dir,
		Parent:      parent.Digest.Encoded(),
		Upper:       upper,
		Lower:       lowers,
		Exclude:     l.mountExcludes(upper),
		Config:      cfgJSON,
		History:     histJSON,
		Healthcheck: commitHealth(parent.Healthcheck, rec, st),
		Format:      o.Format,
	}
	if l.spec != nil && l.spec.Linux != nil {
		req.UIDMap = composeMaps(l.spec.Linux.UIDMappings, maps.UID)
		req.GIDMap = composeMaps(l.spec.Linux.GIDMappings, maps.GID)
	}

	if o.Pause && st.Status == specs.StateRunning {
		if err := container.Pause(root, id); err == nil {
			defer container.Resume(root, id)
		} else if o.PauseAsked {
			fmt.Fprintf(os.Stderr, "urun: note: commit: container %s cannot be paused (%v); its layer is read while it runs\n", ref, err)
		}
	}
	reply, err := CallLayerStore(data, maps, podmanstore.Request{Op: podmanstore.OpCommit, Image: full, Commit: req})
	if err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	// The new layer is in the layer store: its blob goes.
	DropStoredBlobs(data, false)
	return &CommitResult{ID: reply.Digest, Name: full}, nil
}

// commitHealth is the container's health check in docker's config form
// (--health-* or the image's HEALTHCHECK, as the container resolved
// it), {"Test":["NONE"]} where the image had one and the container ran
// without (--no-healthcheck), or nil (the parent's stays: none).
func commitHealth(parent json.RawMessage, rec *Record, st *container.State) json.RawMessage {
	h := st.Healthcheck
	if rec != nil {
		h = rec.Healthcheck
	}
	if h == nil {
		if len(parent) > 0 {
			return json.RawMessage(`{"Test":["NONE"]}`)
		}
		return nil
	}
	b, _ := json.Marshal(container.ImageHealthcheck{Test: h.Test, Interval: h.Interval, Timeout: h.Timeout, StartPeriod: h.StartPeriod, Retries: h.Retries})
	return b
}

// composeMaps maps the ids the helper sees (its user namespace's m) to
// the container's (c: container id → host id), through the host ids
// both name. Nil: they are the same ids.
func composeMaps(c []specs.LinuxIDMapping, m idmap.Mapping) []idmap.Range {
	var out []idmap.Range
	same := true
	for _, cr := range c {
		for _, hr := range m {
			lo := max(uint64(cr.HostID), uint64(hr.HostID))
			hi := min(uint64(cr.HostID)+uint64(cr.Size), uint64(hr.HostID)+uint64(hr.Size))
			if lo >= hi {
				continue
			}
			r := idmap.Range{ContainerID: cr.ContainerID + uint32(lo-uint64(cr.HostID)), HostID: hr.ContainerID + uint32(lo-uint64(hr.HostID)), Size: uint32(hi - lo)}
			if r.ContainerID != r.HostID {
				same = false
			}
			out = append(out, r)
		}
	}
	if same {
		return nil
	}
	return out
}

// runtimeMounts are the files urun mounts in every container.
var runtimeMounts = []string{"/etc/hostname", "/etc/hosts", "/etc/resolv.conf", "/run/.containerenv"}

// mountExcludes are the paths of the writable layer the runtime made as
// mount points (and directories made only to hold them), relative to
// the root, as go.podman.io/storage's archive excludes them: not the
// container's changes (docker keeps them in a layer of its own).
func (l *ctrLayers) mountExcludes(upper string) []string {
	points := slices.Clone(runtimeMounts)
	if l.spec != nil {
		for _, m := range l.spec.Mounts {
			points = append(points, path.Clean(m.Destination))
		}
	}
	excluded := map[string]bool{}
	var out []string
	for _, p := range points {
		rel := strings.TrimPrefix(p, "/")
		if rel == "" || excluded[rel] || l.inLowers(rel) {
			continue
		}
		excluded[rel] = true
		out = append(out, rel)
	}
	// Parents, deepest first, when they hold nothing but excluded paths.
	for changed := true; changed; {
		changed = false
		for _, rel := range slices.Clone(out) {
			d := path.Dir(rel)
			if d == "." || excluded[d] || l.inLowers(d) {
				continue
			}
			ents, err := os.ReadDir(filepath.Join(upper, d))
			if err != nil {
				continue
			}
			only := true
			for _, e := range ents {
				if !excluded[path.Join(d, e.Name())] {
					only = false
					break
				}
			}
			if only {
				excluded[d] = true
				out = append(out, d)
				changed = true
			}
		}
	}
	return out
}

// commitConfig is the new image's config (without its layer) and its
// history entry: the parent's config, with what the container ran with
// (its command, environment, working directory, labels and published
// ports, as docker commit keeps them), then the --change instructions.
func commitConfig(parent v1.Image, spec *specs.Spec, rec *Record, st *container.State, changes []change, o CommitOptions, readFile container.ReadFile) (v1.Image, v1.History) {
	img := parent
	img.History, img.RootFS = nil, v1.RootFS{}
	c := cloneConfig(parent.Config)
	if spec != nil && spec.Process != nil {
		args := spec.Process.Args
		if len(args) >= 2 && args[0] == container.TinyInitPath && args[1] == "--" {
			args = args[2:] // --init's
		}
		switch ep := parent.Config.Entrypoint; {
		case len(ep) > 0 && len(args) >= len(ep) && slices.Equal(args[:len(ep)], ep):
			c.Cmd = nilIfEmpty(args[len(ep):])
		case len(ep) > 0 && len(args) > 0:
			c.Entrypoint, c.Cmd = args[:1], nilIfEmpty(args[1:])
		default:
			c.Cmd = nilIfEmpty(args)
		}
		c.Env = commitEnv(parent.Config.Env, spec.Process.Env)
		// The user it ran as, as docker keeps it: -u as typed (a name
		// stays a name). A record from before urun kept that has only
		// the numbers, written where they are not the image's user.
		u := spec.Process.User
		if rec != nil && rec.User != "" {
			c.User = rec.User
		} else if img, err := container.ResolveUser(parent.Config.User, readFile); err != nil || img.UID != u.UID || img.GID != u.GID {
			c.User = strconv.FormatUint(uint64(u.UID), 10) + ":" + strconv.FormatUint(uint64(u.GID), 10)
		}
		if cwd := spec.Process.Cwd; cwd != "" && !(cwd == "/" && parent.Config.WorkingDir == "") {
			c.WorkingDir = cwd
		}
	}
	labels := st.Labels
	if rec != nil && len(rec.Labels) > 0 {
		labels = rec.Labels
	}
	for k, v := range labels {
		if c.Labels == nil {
			c.Labels = map[string]string{}
		}
		c.Labels[k] = v
	}
	if rec != nil {
		for _, p := range rec.Network.Ports {
			if c.ExposedPorts == nil {
				c.ExposedPorts = map[string]struct{}{}
			}
			c.ExposedPorts[strconv.Itoa(p.ContainerPort)+"/"+p.Proto] = struct{}{}
		}
	}
	cmdSet := false
	for _, ch := range changes {
		ch.apply(&c, &cmdSet)
	}
	img.Config = c
	now := time.Now().UTC()
	img.Created = &now
	if o.Author != "" {
		img.Author = o.Author
	}
	h := v1.History{Created: &now, Author: o.Author, Comment: o.Message}
	if spec != nil && spec.Process != nil {
		h.CreatedBy = strings.Join(spec.Process.Args, " ")
	}
	return img, h
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return slices.Clone(s)
}

func cloneConfig(c v1.ImageConfig) v1.ImageConfig {
	out := c
	out.Env, out.Cmd, out.Entrypoint = slices.Clone(c.Env), slices.Clone(c.Cmd), slices.Clone(c.Entrypoint)
	out.Labels, out.ExposedPorts, out.Volumes = nil, nil, nil
	for k, v := range c.Labels {
		if out.Labels == nil {
			out.Labels = map[string]string{}
		}
		out.Labels[k] = v
	}
	for k := range c.ExposedPorts {
		if out.ExposedPorts == nil {
			out.ExposedPorts = map[string]struct{}{}
		}
		out.ExposedPorts[k] = struct{}{}
	}
	for k := range c.Volumes {
		if out.Volumes == nil {
			out.Volumes = map[string]struct{}{}
		}
		out.Volumes[k] = struct{}{}
	}
	return out
}

// commitEnv is the container's environment without what urun's runtime
// adds to every process (HOSTNAME, container=, and HOME and TERM where
// the image has none): the image's variables in its order, then the
// container's own.
func commitEnv(image, ctr []string) []string {
	key := func(e string) string { k, _, _ := strings.Cut(e, "="); return k }
	inImage := map[string]bool{}
	for _, e := range image {
		inImage[key(e)] = true
	}
	var out []string
	for _, e := range ctr {
		switch k := key(e); k {
		case "HOSTNAME", "container":
			continue
		case "HOME", "TERM":
			if !inImage[k] {
				continue
			}
		}
		out = append(out, e)
	}
	return out
}
