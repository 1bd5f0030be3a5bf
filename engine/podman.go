package engine

// `urun run --image-store=podman IMAGE`: the image comes from the user's
// podman store, used in place (store/podmanstore, docs/STORE.md "Sharing
// podman's store").

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"

	"github.com/urun-dev/urun/container"
	"github.com/urun-dev/urun/fuse-overlay"
	"github.com/urun-dev/urun/idmap"
	"github.com/urun-dev/urun/store"
	"github.com/urun-dev/urun/store/podmanstore"
	"github.com/urun-dev/urun/userns"
)

// PodmanQuery is what PodmanImage looks up, and for which container.
type PodmanQuery struct {
	Root, Ref, ID, Name string
	// Pull is the --pull policy; TLSVerify its --tls-verify.
	Pull      string
	TLSVerify bool
	// DryRun looks the image up without registering the container.
	DryRun      bool
	StorageRoot string
	Debug       bool
}

// podmanMarker is the file beside a container's state that says it holds
// a record in podman's store; removing the container releases it.
func podmanMarker(root, id string) string { return container.Dir(root, id) + ".podman-store" }

// PodmanImage looks ref up in podman's store and fills plan with its
// layer directories. Unless this is a dry run, it registers container id
// in that store first (the record that keeps `podman rmi` from removing
// the layers) and returns a release func to defer with the caller's
// error: a failure before the container exists deletes the record again.
func PodmanImage(q PodmanQuery, maps userns.Maps, plan *fuseoverlay.Plan) (container.ImageConfig, container.ReadFile, func(error), error) {
	root, ref, id := q.Root, q.Ref, q.ID
	noop := func(error) {}
	acquired := false
	if err := podmanstore.CheckMaps(maps); err != nil {
		return container.ImageConfig{}, nil, noop, err
	}
	helper, err := ImageHelper()
	if err != nil {
		return container.ImageConfig{}, nil, noop, err
	}
	name := q.Name
	if name == "" {
		name = GeneratedName(id)
	}
	req := podmanstore.Request{Op: podmanstore.OpAcquire, Image: ref, ContainerID: id, Name: "urun-" + name, GraphRoot: q.StorageRoot}
	if q.Pull != "never" && !store.IsIDPrefix(ref) {
		req.Pull = &podmanstore.PullRequest{Policy: q.Pull, Source: ref, TLSVerify: q.TLSVerify}
	}
	if q.DryRun {
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
		if req.Live, err = LiveIDs(root); err != nil {
			return container.ImageConfig{}, nil, noop, err
		}
	}
	t0 := time.Now()
	reply, err := podmanstore.Call(helper, maps, req)
	if err != nil {
		return container.ImageConfig{}, nil, noop, err
	}
	acquired = true
	if q.Debug {
		fmt.Fprintf(os.Stderr, "urun: podman store %s (%s driver) %.2f ms\n", req.Op, reply.Driver, float64(time.Since(t0).Microseconds())/1000)
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
				ReleasePodmanRecord(root, id)
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
		readFile = RootReader(dir)
	default:
		plan.Lower, plan.Upper, plan.Work = reply.Lower, reply.Upper, reply.Work
		dirs := reply.Lower
		if reply.Upper != "" {
			dirs = append([]string{reply.Upper}, dirs...)
		}
		readFile = LayeredReader(dirs)
	}
	return img.Config, readFile, release, nil
}

// LiveIDs lists the containers in root that may hold a record: those
// with state, and those whose marker is younger than a start can take
// (podmanstore.StartWindow). An older marker without state is left from
// a urun killed while starting: it is removed, and its record is swept.
func LiveIDs(root string) ([]string, error) {
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

// LayeredReader reads a file of an overlay of dirs (topmost first): the
// first layer holding the path wins; a whiteout or other non-file there
// hides the lower ones. Opaque directories are not considered: it serves
// /etc/passwd and /etc/group lookups, not a general merge.
func LayeredReader(dirs []string) container.ReadFile {
	return func(p string) ([]byte, error) {
		for _, d := range dirs {
			b, err := RootReader(d)(p)
			if err == nil || !errors.Is(err, fs.ErrNotExist) {
				return b, err
			}
		}
		return nil, fs.ErrNotExist
	}
}

// ReleasePodmanRecord deletes the record container id holds in podman's
// store, if it holds one.
func ReleasePodmanRecord(root, id string) error {
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
	helper, err := ImageHelper()
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

// PodmanPull is `urun pull --image-store=podman SRC`: the image goes into
// podman's store, as podman pull would put it there.
func PodmanPull(storageRoot string, p podmanstore.PullRequest) (*podmanstore.Reply, error) {
	maps, err := userns.ResolveMaps(idmap.ModeAuto, false)
	if err != nil {
		return nil, err
	}
	if err := podmanstore.CheckMaps(maps); err != nil {
		return nil, err
	}
	helper, err := ImageHelper()
	if err != nil {
		return nil, err
	}
	return podmanstore.Call(helper, maps, podmanstore.Request{Op: podmanstore.OpPull, GraphRoot: storageRoot, Pull: &p})
}

// ImageHelper locates urun-image: $URUN_IMAGE_HELPER, else beside urun,
// else on PATH (a copy of urun elsewhere, as podman's test of a
// --runtime path makes, finds the installed one, as findInit does).
func ImageHelper() (string, error) {
	if p := os.Getenv("URUN_IMAGE_HELPER"); p != "" {
		return p, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("finding urun's own executable: %w", err)
	}
	p := filepath.Join(filepath.Dir(exe), "urun-image")
	if _, err := os.Stat(p); err == nil {
		return p, nil
	}
	if onPath, err := exec.LookPath("urun-image"); err == nil {
		return onPath, nil
	}
	return "", fmt.Errorf("urun-image is missing (looked for %s and on PATH): install it beside urun (make install)", p)
}

// RootReader reads files of a root filesystem, every path resolved inside
// it (a symlink in an image cannot point urun at a host file).
func RootReader(rootDir string) container.ReadFile {
	return func(p string) ([]byte, error) {
		// OpenInRoot gives an O_PATH handle resolved inside the rootfs;
		// only a regular file is reopened for reading (a FIFO planted as
		// /etc/passwd must not block urun).
		h, err := pathrs.OpenInRoot(rootDir, p)
		if err != nil {
			return nil, err
		}
		defer h.Close()
		if st, err := h.Stat(); err != nil {
			return nil, err
		} else if sys, ok := st.Sys().(*syscall.Stat_t); ok && st.Mode()&fs.ModeCharDevice != 0 && sys.Rdev == 0 {
			// An overlay whiteout (a layer of the layer store deleting
			// the file): the file is not there.
			return nil, fs.ErrNotExist
		} else if !st.Mode().IsRegular() {
			return nil, fmt.Errorf("%s in the image is not a regular file", p)
		}
		fh, err := pathrs.Reopen(h, unix.O_RDONLY|unix.O_CLOEXEC)
		if err != nil {
			return nil, err
		}
		defer fh.Close()
		return io.ReadAll(io.LimitReader(fh, 1<<20))
	}
}
