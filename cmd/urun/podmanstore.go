package main

// `urun run --image-store=podman IMAGE`: the image comes from the user's
// podman store, used in place (store/podmanstore, docs/STORE.md "Sharing
// podman's store").

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/urun-dev/urun/container"
	"github.com/urun-dev/urun/fuse-overlay"
	"github.com/urun-dev/urun/idmap"
	"github.com/urun-dev/urun/store"
	"github.com/urun-dev/urun/store/podmanstore"
	"github.com/urun-dev/urun/userns"
)

// Image store names for --image-store and URUN_IMAGE_STORE.
const (
	imageStoreURun   = "urun"
	imageStorePodman = "podman"
)

// podmanMarker is the file beside a container's state that says it holds
// a record in podman's store; removing the container releases it.
func podmanMarker(root, id string) string { return container.Dir(root, id) + ".podman-store" }

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

// podmanImage looks ref up in podman's store and fills plan with its
// layer directories. Unless this is a dry run, it registers container id
// in that store first (the record that keeps `podman rmi` from removing
// the layers) and returns a release func to defer with the caller's
// error: a failure before the container exists deletes the record again.
func podmanImage(g *globals, f *runFlags, ref, id string, maps userns.Maps, plan *fuseoverlay.Plan) (container.ImageConfig, container.ReadFile, func(error), error) {
	noop := func(error) {}
	acquired := false
	if err := podmanstore.CheckMaps(maps); err != nil {
		return container.ImageConfig{}, nil, noop, err
	}
	helper, err := findImageHelper()
	if err != nil {
		return container.ImageConfig{}, nil, noop, err
	}
	root, err := ociRoot(g)
	if err != nil {
		return container.ImageConfig{}, nil, noop, err
	}
	name := f.name
	if name == "" {
		name = generatedName(id)
	}
	req := podmanstore.Request{Op: podmanstore.OpAcquire, Image: ref, ContainerID: id, Name: "urun-" + name, GraphRoot: f.storageRoot}
	if f.pull != "never" && !store.IsIDPrefix(ref) {
		req.Pull = &podmanstore.PullRequest{Policy: f.pull, Source: ref, TLSVerify: f.tlsVerify}
	}
	if f.dryRun {
		req.Op, req.Pull = podmanstore.OpLookup, nil
	} else {
		// The marker comes first: another urun's sweep of stale
		// records must see this container as live from now on. A
		// restart (start, a supervisor) finds it there.
		if _, err := os.Stat(podmanMarker(root, id)); err != nil {
			if err := os.WriteFile(podmanMarker(root, id), []byte("{}"), 0o600); err != nil {
				return container.ImageConfig{}, nil, noop, fmt.Errorf("recording the podman store container: %w", err)
			}
			defer func() {
				if !acquired {
					os.Remove(podmanMarker(root, id))
				}
			}()
		}
		req.StateRoot = root
		if req.Live, err = liveIDs(root); err != nil {
			return container.ImageConfig{}, nil, noop, err
		}
	}
	t0 := time.Now()
	reply, err := podmanstore.Call(helper, maps, req)
	if err != nil {
		return container.ImageConfig{}, nil, noop, err
	}
	acquired = true
	if g.debug {
		fmt.Fprintf(os.Stderr, "urun: podman store %s (%s driver) %.2f ms\n", req.Op, reply.Driver, ms(time.Since(t0)))
	}
	release := noop
	if req.Op == podmanstore.OpAcquire {
		b, _ := json.Marshal(podmanstore.Marker{GraphRoot: reply.GraphRoot})
		if err := os.WriteFile(podmanMarker(root, id), b, 0o600); err != nil {
			podmanstore.Call(helper, maps, podmanstore.Request{Op: podmanstore.OpRelease, ContainerID: id, GraphRoot: reply.GraphRoot})
			return container.ImageConfig{}, nil, noop, fmt.Errorf("recording the podman store container: %w", err)
		}
		release = func(err error) {
			if _, lerr := container.Load(root, id); err != nil && lerr != nil {
				// Failed before the container was registered: nobody
				// else will release the record.
				releasePodmanRecord(root, id)
			}
		}
	}
	// The OCI config's "config" object; its field names are ImageConfig's.
	var img struct {
		Config container.ImageConfig `json:"config"`
	}
	if err := json.Unmarshal(reply.Config, &img); err != nil {
		release(err)
		return container.ImageConfig{}, nil, noop, fmt.Errorf("reading the config of %s from podman's store: %w", ref, err)
	}
	var readFile container.ReadFile
	switch {
	case reply.Driver == "vfs":
		// A vfs record is a whole copy of the image, made by
		// containers/storage: the container runs on it, as with podman.
		if plan.Tier != fuseoverlay.Auto {
			release(errors.New("tier"))
			return container.ImageConfig{}, nil, noop, fmt.Errorf("--rootfs-tier %s: podman's store uses the vfs driver, whose container copy is mounted as it is; drop --rootfs-tier", plan.Tier)
		}
		dir := reply.Rootfs
		if dir == "" {
			dir = reply.Lower[0] // dry run: nothing is mounted
		}
		plan.Tier, plan.Lower = fuseoverlay.Bind, []string{dir}
		plan.Why = "podman's store, vfs driver: the container's own copy"
		readFile = rootReader(dir)
	default:
		plan.Lower, plan.Upper, plan.Work = reply.Lower, reply.Upper, reply.Work
		dirs := reply.Lower
		if reply.Upper != "" {
			dirs = append([]string{reply.Upper}, dirs...)
		}
		readFile = layeredReader(dirs)
	}
	return img.Config, readFile, release, nil
}

// liveIDs lists the containers in root that may hold a record: those
// with state, and those whose marker is younger than a start can take
// (podmanstore.StartWindow). An older marker without state is left from
// a urun killed while starting: it is removed, and its record is swept.
func liveIDs(root string) ([]string, error) {
	ents, err := os.ReadDir(root)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, e := range ents {
		id, marker := strings.CutSuffix(e.Name(), ".podman-store")
		if !marker {
			if e.IsDir() {
				ids = append(ids, id)
			}
			continue
		}
		if _, err := os.Stat(container.Dir(root, id)); err == nil {
			continue // listed as a directory
		}
		if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) < podmanstore.StartWindow {
			ids = append(ids, id)
		} else {
			os.Remove(filepath.Join(root, e.Name()))
		}
	}
	return ids, nil
}

// layeredReader reads a file of an overlay of dirs (topmost first): the
// first layer holding the path wins; a whiteout or other non-file there
// hides the lower ones. Opaque directories are not considered: it serves
// /etc/passwd and /etc/group lookups, not a general merge.
func layeredReader(dirs []string) container.ReadFile {
	return func(p string) ([]byte, error) {
		for _, d := range dirs {
			b, err := rootReader(d)(p)
			if err == nil || !errors.Is(err, fs.ErrNotExist) {
				return b, err
			}
		}
		return nil, fs.ErrNotExist
	}
}

// releasePodmanRecord deletes the record container id holds in podman's
// store, if it holds one.
func releasePodmanRecord(root, id string) error {
	b, err := os.ReadFile(podmanMarker(root, id))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var m podmanstore.Marker
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("reading %s: %w", podmanMarker(root, id), err)
	}
	maps, err := userns.ResolveMaps(idmap.ModeAuto, false)
	if err != nil {
		return err
	}
	if err := podmanstore.CheckMaps(maps); err != nil {
		return fmt.Errorf("releasing container %s in podman's store: %w", id[:12], err)
	}
	helper, err := findImageHelper()
	if err != nil {
		return err
	}
	if _, err := podmanstore.Call(helper, maps, podmanstore.Request{Op: podmanstore.OpRelease, ContainerID: id, GraphRoot: m.GraphRoot}); err != nil {
		return err
	}
	// A concurrent removal (rm -f racing the supervisor's --rm) may
	// have released it already.
	if err := os.Remove(podmanMarker(root, id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// podmanPull is `urun pull --image-store=podman SRC`: the image goes into
// podman's store, as podman pull would put it there.
func podmanPull(storageRoot string, p podmanstore.PullRequest) (*podmanstore.Reply, error) {
	maps, err := userns.ResolveMaps(idmap.ModeAuto, false)
	if err != nil {
		return nil, err
	}
	if err := podmanstore.CheckMaps(maps); err != nil {
		return nil, err
	}
	helper, err := findImageHelper()
	if err != nil {
		return nil, err
	}
	return podmanstore.Call(helper, maps, podmanstore.Request{Op: podmanstore.OpPull, GraphRoot: storageRoot, Pull: &p})
}
