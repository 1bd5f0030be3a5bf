package main

// The podman store side of `urun run --image-store=podman`: it runs as
// root of a user namespace with podman's rootless mapping (started by
// store/podmanstore.Call), opens the user's containers/storage store as
// podman would, and answers one podmanstore.Request. Every lock is taken
// by containers/storage itself, through its API.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/sirupsen/logrus"
	"go.podman.io/image/v5/docker/reference"
	istorage "go.podman.io/image/v5/storage"
	imagetypes "go.podman.io/image/v5/types"
	"go.podman.io/storage"
	graphdriver "go.podman.io/storage/drivers"
	"go.podman.io/storage/types"

	"github.com/urun-dev/urun/store"
	"github.com/urun-dev/urun/store/podmanstore"
	"github.com/urun-dev/urun/store/transfer"
	"github.com/urun-dev/urun/userns"
)

const requestTimeout = 30 * time.Second

func podmanStoreMain() int {
	// containers/storage logs through logrus; its debug chatter is not
	// the user's business, its errors come back as ours.
	logrus.SetOutput(io.Discard)
	conn, err := userns.ChildConn()
	if err != nil {
		fmt.Fprintln(os.Stderr, "urun:", err)
		return 125
	}
	defer conn.Close()
	var req podmanstore.Request
	err = conn.WaitMapped()
	if err == nil {
		err = conn.WaitFor(podmanstore.MsgRequest, requestTimeout, &req)
	}
	var reply *podmanstore.Reply
	if err == nil {
		reply, err = servePodmanStore(req)
	}
	if err != nil {
		conn.SendError(err)
		return 125
	}
	conn.Send(podmanstore.MsgReply, reply)
	return 0
}

func servePodmanStore(req podmanstore.Request) (reply *podmanstore.Reply, err error) {
	if req.Own {
		return serveLayerStore(req)
	}
	// storage.conf, $XDG_DATA_HOME and the driver podman already uses,
	// read the way podman reads them.
	opts, err := types.DefaultStoreOptions()
	if err != nil {
		return nil, fmt.Errorf("reading podman's storage configuration: %w", err)
	}
	if req.GraphRoot != "" {
		opts.GraphRoot = req.GraphRoot
	}
	if _, err := os.Stat(opts.GraphRoot); err != nil {
		// Only podman knows which driver it would choose (podman 4.3
		// takes vfs where containers/storage would take overlay): let it
		// create the store.
		return nil, fmt.Errorf("podman's store %s does not exist yet: run 'podman info' once so that podman creates it with its storage driver, or use urun's store", opts.GraphRoot)
	}
	if opts.GraphDriverName == "" && len(opts.GraphDriverPriority) == 0 {
		// No driver configured: use the one podman's store already has.
		// containers/storage would pick its own preference instead
		// (never vfs), and create that driver's directories beside
		// podman's data, after which podman refuses the store.
		var found []string
		for d := range graphdriver.ScanPriorDrivers(opts.GraphRoot) {
			found = append(found, d)
		}
		switch len(found) {
		case 0:
			return nil, fmt.Errorf("podman's store %s has no storage driver yet: run 'podman info' once so that podman picks one, or use urun's store", opts.GraphRoot)
		case 1:
			opts.GraphDriverName = found[0]
		default:
			return nil, fmt.Errorf("podman's store %s holds data of several drivers (%s): set driver in ~/.config/containers/storage.conf", opts.GraphRoot, strings.Join(found, ", "))
		}
	}
	s, err := storage.GetStore(opts)
	if err != nil {
		return nil, fmt.Errorf("opening podman's store %s: %w", opts.GraphRoot, err)
	}
	defer s.Shutdown(false)
	if req.Op == podmanstore.OpRelease {
		return &podmanstore.Reply{GraphRoot: s.GraphRoot()}, release(s, req.ContainerID)
	}
	if len(s.UIDMap()) > 0 || len(s.GIDMap()) > 0 {
		return nil, fmt.Errorf("podman's store %s remaps ids (remap-uids/remap-gids in storage.conf): urun cannot use it", s.GraphRoot())
	}
	drv, err := s.GraphDriver()
	if err != nil {
		return nil, fmt.Errorf("opening podman's store %s: %w", s.GraphRoot(), err)
	}
	reply = &podmanstore.Reply{GraphRoot: s.GraphRoot(), Driver: drv.String()}
	if drv.String() != "overlay" && drv.String() != "vfs" {
		return nil, fmt.Errorf("podman's store %s uses the %s driver: urun supports overlay and vfs", s.GraphRoot(), drv.String())
	}
	if req.Op == podmanstore.OpPull {
		return pullIntoStore(s, req, reply)
	}
	if req.Pull != nil && req.Pull.Policy == "always" {
		if _, err := pullIntoStore(s, req, reply); err != nil {
			return nil, err
		}
		req.Image = reply.Name
	}

	var img *storage.Image
	var c *storage.Container
	if req.Op == podmanstore.OpAcquire {
		// A restart (urun start of a created container) finds its
		// record and keeps the image it was created from.
		if c, err = s.Container(req.ContainerID); err == nil {
			img, err = s.Image(c.ImageID)
		} else if !errors.Is(err, storage.ErrContainerUnknown) {
			return nil, fmt.Errorf("looking up container %s in podman's store: %w", req.ContainerID, err)
		}
	}
	if img == nil {
		img, err = findImage(s, req.Image)
		var missing notInStoreError
		if errors.As(err, &missing) && req.Pull != nil && req.Pull.Policy == "missing" {
			if _, err = pullIntoStore(s, req, reply); err != nil {
				return nil, err
			}
			img, err = findImage(s, reply.Name)
		}
		if err != nil {
			return nil, err
		}
	}
	reply.ImageID = img.ID
	if reply.Config, err = s.ImageBigData(img.ID, digest.NewDigestFromEncoded(digest.SHA256, img.ID).String()); err != nil {
		return nil, fmt.Errorf("reading the config of image %s in podman's store: %w", img.ID[:12], err)
	}
	for id := img.TopLayer; id != ""; {
		l, err := s.Layer(id)
		if err != nil {
			return nil, fmt.Errorf("looking up layer %s of image %s: %w", id[:12], img.ID[:12], err)
		}
		if len(l.UIDMap) > 0 || len(l.GIDMap) > 0 {
			return nil, fmt.Errorf("layer %s of image %s is stored for another id mapping: urun cannot use it", id[:12], img.ID[:12])
		}
		dir, err := layerDir(drv, l.ID)
		if err != nil {
			return nil, err
		}
		reply.Lower = append(reply.Lower, dir)
		if drv.String() == "vfs" {
			break // a vfs layer holds the whole tree
		}
		id = l.Parent
	}
	if req.Op != podmanstore.OpAcquire {
		return reply, nil
	}

	if c == nil {
		sweepStale(s, req)
		meta, _ := json.Marshal(map[string]any{
			podmanstore.MetaStateRoot: req.StateRoot,
			// podman's RuntimeContainerMetadata fields, as buildah
			// writes them: podman ps --external shows them.
			"image-name": req.Image, "image-id": img.ID, "name": req.Name,
			"created-at": time.Now().Unix(),
		})
		names := []string{req.Name}
		// Not Volatile (no fsync, faster): podman 4.3 does not read
		// volatile records, and its rmi deleted the image under one
		// (tests/integration/podman_store_test.go caught it).
		c, err = s.CreateContainer(req.ContainerID, names, img.ID, "", string(meta), nil)
		if errors.Is(err, storage.ErrDuplicateName) {
			c, err = s.CreateContainer(req.ContainerID, nil, img.ID, "", string(meta), nil)
		}
		if err != nil {
			return nil, fmt.Errorf("registering the container in podman's store: %w", err)
		}
		defer func() {
			if err != nil {
				s.DeleteContainer(c.ID)
			}
		}()
	}
	switch drv.String() {
	case "overlay":
		md, err := drv.Metadata(c.LayerID)
		if err != nil {
			return nil, fmt.Errorf("finding the container's layer %s: %w", c.LayerID[:12], err)
		}
		reply.Upper, reply.Work = md["UpperDir"], md["WorkDir"]
		if reply.Upper == "" || reply.Work == "" {
			return nil, fmt.Errorf("the container's layer %s has no diff or work directory", c.LayerID[:12])
		}
	case "vfs":
		if reply.Rootfs, err = layerDir(drv, c.LayerID); err != nil {
			return nil, err
		}
	}
	return reply, nil
}

// layerDir is the directory holding layer id's files: overlay's diff
// directory, or vfs's whole tree. Neither needs a mount.
func layerDir(drv graphdriver.Driver, id string) (string, error) {
	if drv.String() == "vfs" {
		dir, err := drv.Get(id, graphdriver.MountOpts{})
		if err != nil {
			return "", fmt.Errorf("finding layer %s: %w", id[:12], err)
		}
		drv.Put(id)
		return dir, nil
	}
	md, err := drv.Metadata(id)
	if err != nil {
		return "", fmt.Errorf("finding layer %s: %w", id[:12], err)
	}
	if md["UpperDir"] == "" {
		return "", fmt.Errorf("layer %s has no diff directory", id[:12])
	}
	return md["UpperDir"], nil
}

// findImage looks ref up as podman would: an id or id prefix, a full
// name, then the normalised name (busybox → docker.io/library/busybox:latest)
// and localhost/NAME.
func findImage(s storage.Store, ref string) (*storage.Image, error) {
	cands := []string{ref}
	if n, err := store.NormalizeName(ref); err == nil {
		cands = append(cands, n)
		if !strings.Contains(ref, "/") {
			cands = append(cands, "localhost/"+strings.TrimPrefix(n, "docker.io/library/"))
		}
	}
	for _, c := range cands {
		img, err := s.Image(c)
		if err == nil {
			return img, nil
		}
		if !errors.Is(err, storage.ErrImageUnknown) {
			return nil, fmt.Errorf("looking up %s in podman's store: %w", ref, err)
		}
	}
	return nil, notInStoreError(fmt.Sprintf("image %s is not in podman's store %s: pull it with 'urun pull --image-store=podman %s' (or podman pull), or drop --image-store=podman to use urun's store", ref, s.GraphRoot(), ref))
}

// notInStoreError is findImage's answer for an image the store lacks.
type notInStoreError string

func (e notInStoreError) Error() string { return string(e) }

// release deletes urun's record (and its layer), if it is still there.
func release(s storage.Store, id string) error {
	err := s.DeleteContainer(id)
	if err != nil && !errors.Is(err, storage.ErrContainerUnknown) && !errors.Is(err, storage.ErrNotAContainer) {
		return fmt.Errorf("removing container %s from podman's store: %w", id[:12], err)
	}
	return nil
}

// sweepStale deletes the records of req.StateRoot that no urun container
// owns any more. Failures are left for the next sweep: they must not stop
// this container.
func sweepStale(s storage.Store, req podmanstore.Request) {
	if req.StateRoot == "" {
		return
	}
	live := map[string]bool{req.ContainerID: true}
	for _, id := range req.Live {
		live[id] = true
	}
	cs, err := s.Containers()
	if err != nil {
		return
	}
	for _, c := range cs {
		var meta map[string]any
		if live[c.ID] || json.Unmarshal([]byte(c.Metadata), &meta) != nil || meta[podmanstore.MetaStateRoot] != req.StateRoot {
			continue
		}
		s.DeleteContainer(c.ID)
	}
}

// pullIntoStore copies req.Pull.Source into podman's store with image/v5's
// containers-storage transport, the way podman pull does: layers go in
// one by one under containers/storage's locks, already owned by the ids
// of this user namespace (podman's mapping), and podman sees the image.
func pullIntoStore(s storage.Store, req podmanstore.Request, reply *podmanstore.Reply) (*podmanstore.Reply, error) {
	p := req.Pull
	if p == nil {
		return nil, errors.New("pull request without a source")
	}
	o := transfer.TransferOptions{TLSVerify: p.TLSVerify, AuthFile: p.AuthFile}
	if !p.Quiet {
		o.Progress = os.Stderr
	}
	var id string
	sink := func(ctx context.Context, src imagetypes.ImageReference, name string, o transfer.TransferOptions) error {
		named, err := reference.ParseNormalizedNamed(name)
		if err != nil {
			return err
		}
		dst, err := istorage.Transport.NewStoreReference(s, named, "")
		if err != nil {
			return err
		}
		if _, err := transfer.CopyImage(ctx, dst, src, o); err != nil {
			return transfer.ExplainPullError(name, err)
		}
		img, err := s.Image(reference.TagNameOnly(named).String())
		if err != nil {
			return fmt.Errorf("finding %s in podman's store after the pull: %w", name, err)
		}
		id = img.ID
		return nil
	}
	name, err := transfer.PullInto(context.Background(), sink, p.Source, o)
	if err != nil {
		return nil, err
	}
	reply.Name, reply.ImageID = name, id
	return reply, nil
}
