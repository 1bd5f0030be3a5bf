package main

// urun commit's write path (engine/commit.go asks for it): in a user
// namespace with the user's full mapping, so every file of the writable
// layer is readable and its owners are ids this namespace maps, the
// container's writable layer becomes a tar diff (go.podman.io/storage's
// archive with overlay's whiteout conversion: a 0/0 character device is
// a .wh. file, an opaque directory over a lower one gets .wh..wh..opq),
// gzip-compressed into a blob of urun's OCI layout beside the parent's
// layers; then a config and a manifest, the image in the layer store
// (containers/storage's PutLayer unpacks only the new layer; the parent's
// are found by their chain ids and shared), and last the name in urun's
// index. The image store's lock is held throughout, so a concurrent rmi
// or pull waits; a failure removes what this commit wrote.

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/image/v5/manifest"
	"go.podman.io/storage"
	"go.podman.io/storage/pkg/archive"
	"go.podman.io/storage/pkg/idtools"

	"github.com/urun-dev/urun/idmap"
	"github.com/urun-dev/urun/store"
	"github.com/urun-dev/urun/store/podmanstore"
)

// layerMediaType is a parent layer's media type in the new manifest's
// format (the blob's bytes are the same in both).
func layerMediaType(format, mt string) (string, error) {
	toDocker := map[string]string{
		v1.MediaTypeImageLayerGzip:             manifest.DockerV2Schema2LayerMediaType,
		manifest.DockerV2Schema2LayerMediaType: manifest.DockerV2Schema2LayerMediaType,
		v1.MediaTypeImageLayer:                 "application/vnd.docker.image.rootfs.diff.tar",
	}
	toOCI := map[string]string{
		manifest.DockerV2Schema2LayerMediaType:         v1.MediaTypeImageLayerGzip,
		"application/vnd.docker.image.rootfs.diff.tar": v1.MediaTypeImageLayer,
	}
	if format == "docker" {
		if t, ok := toDocker[mt]; ok {
			return t, nil
		}
		return "", fmt.Errorf("the image has a %s layer, which a docker manifest cannot name: commit with --format oci", mt)
	}
	if t, ok := toOCI[mt]; ok {
		return t, nil
	}
	return mt, nil
}

func tarMaps(m []idmap.Range) []idtools.IDMap {
	var out []idtools.IDMap
	for _, r := range m {
		out = append(out, idtools.IDMap{ContainerID: int(r.ContainerID), HostID: int(r.HostID), Size: int(r.Size)})
	}
	return out
}

// commitImage does OpCommit into the layer store s; name is the new
// image's full name, or "" for an unnamed one.
func commitImage(s storage.Store, req *podmanstore.CommitRequest, name string) (imageID, manifestDigest string, err error) {
	if req == nil || req.Upper == "" || req.Store == "" {
		return "", "", errors.New("commit request without its writable layer or store")
	}
	tagged := "" // an unnamed image (docker's <none>)
	if name != "" {
		named, err := reference.ParseNormalizedNamed(name)
		if err != nil {
			return "", "", err
		}
		tagged = reference.TagNameOnly(named).String()
	}
	oci := &store.Store{Dir: req.Store}
	unlock, err := oci.Lock()
	if err != nil {
		return "", "", err
	}
	defer unlock()
	// What a killed pull, load or commit left in tmp/.
	if err := oci.ClearTmp(); err != nil {
		return "", "", err
	}
	parent, err := oci.Lookup(req.Parent)
	if err != nil {
		return "", "", fmt.Errorf("the container's image: %w", err)
	}
	var cfg v1.Image
	if err := json.Unmarshal(req.Config, &cfg); err != nil {
		return "", "", fmt.Errorf("commit config: %w", err)
	}
	var hist v1.History
	if err := json.Unmarshal(req.History, &hist); err != nil {
		return "", "", fmt.Errorf("commit history: %w", err)
	}

	// What this commit wrote, removed again on failure.
	var created []digest.Digest
	var storedImage string
	defer func() {
		if err == nil {
			return
		}
		if storedImage != "" {
			s.DeleteImage(storedImage, true)
		}
		dropUnusedLayers(s)
		for _, d := range created {
			oci.RemoveBlob(d)
		}
	}()

	// The layer: tar → (diff id) → gzip → blob (its digest).
	var diffID digest.Digest
	layerDigest, layerSize, isNew, err := oci.PutBlob(func(w io.Writer) error {
		rc, err := archive.TarWithOptions(req.Upper, &archive.TarOptions{
			Compression:     archive.Uncompressed,
			ExcludePatterns: req.Exclude,
			UIDMaps:         tarMaps(req.UIDMap),
			GIDMaps:         tarMaps(req.GIDMap),
			WhiteoutFormat:  archive.OverlayWhiteoutFormat,
			WhiteoutData:    req.Lower,
		})
		if err != nil {
			return err
		}
		defer rc.Close()
		gz, err := archive.CompressStream(w, archive.Gzip)
		if err != nil {
			return err
		}
		dig := digest.Canonical.Digester()
		if err := dedupeWhiteouts(io.MultiWriter(gz, dig.Hash()), rc); err != nil {
			return fmt.Errorf("reading the writable layer %s: %w", req.Upper, err)
		}
		diffID = dig.Digest()
		return gz.Close()
	})
	if err != nil {
		return "", "", store.FreeSpaceError(req.Store, err)
	}
	if isNew {
		created = append(created, layerDigest)
	}

	cfg.RootFS.Type = "layers"
	cfg.RootFS.DiffIDs = append(append([]digest.Digest{}, parent.Config.RootFS.DiffIDs...), diffID)
	cfg.History = append(append([]v1.History{}, parent.Config.History...), hist)
	cfg.Created = hist.Created
	if cfg.Created == nil {
		now := time.Now().UTC()
		cfg.Created = &now
	}
	ours, err := json.Marshal(cfg)
	if err != nil {
		return "", "", err
	}
	parentBlob, err := store.RawBlob(req.Store, parent.Manifest.Config.Digest)
	if err != nil {
		return "", "", err
	}
	configBlob, err := mergeConfig(parentBlob, ours, req.Healthcheck)
	if err != nil {
		return "", "", err
	}
	put := func(b []byte) (digest.Digest, int64, error) {
		d, n, isNew, err := oci.PutBlob(func(w io.Writer) error { _, err := w.Write(b); return err })
		if err == nil && isNew {
			created = append(created, d)
		}
		return d, n, store.FreeSpaceError(req.Store, err)
	}
	configDigest, configSize, err := put(configBlob)
	if err != nil {
		return "", "", err
	}

	m := v1.Manifest{MediaType: v1.MediaTypeImageManifest}
	m.SchemaVersion = 2
	m.Config = v1.Descriptor{MediaType: v1.MediaTypeImageConfig, Digest: configDigest, Size: configSize}
	newType := v1.MediaTypeImageLayerGzip
	if req.Format == "docker" {
		m.MediaType = manifest.DockerV2Schema2MediaType
		m.Config.MediaType = manifest.DockerV2Schema2ConfigMediaType
		newType = manifest.DockerV2Schema2LayerMediaType
	}
	img := &store.Image{Ref: name, Config: cfg}
	for _, l := range parent.Manifest.Layers {
		mt, err := layerMediaType(req.Format, l.MediaType)
		if err != nil {
			return "", "", err
		}
		m.Layers = append(m.Layers, v1.Descriptor{MediaType: mt, Digest: l.Digest, Size: l.Size, URLs: l.URLs})
	}
	m.Layers = append(m.Layers, v1.Descriptor{MediaType: newType, Digest: layerDigest, Size: layerSize})
	manifestBlob, err := json.Marshal(m)
	if err != nil {
		return "", "", err
	}
	md, msize, err := put(manifestBlob)
	if err != nil {
		return "", "", err
	}
	img.Digest, img.Manifest = md, m
	img.Layers = append(append([]store.Layer{}, parent.Layers...), store.Layer{Layout: req.Store, Digest: layerDigest, MediaType: newType, Size: layerSize})
	if img.Layers[len(img.Layers)-1].Path, err = oci.BlobFile(layerDigest); err != nil {
		return "", "", err
	}

	top, err := importLayers(s, img, nil)
	if err != nil {
		return "", "", fmt.Errorf("storing the new layer in the layer store: %w", err)
	}
	if _, err := s.Image(configDigest.Encoded()); errors.Is(err, storage.ErrImageUnknown) {
		storedImage = configDigest.Encoded()
	}
	if err := createImage(s, req.Store, "", img, top, tagged); err != nil {
		return "", "", fmt.Errorf("recording %s in the layer store: %w", name, err)
	}
	if err := oci.AddName(name, v1.Descriptor{MediaType: m.MediaType, Digest: md, Size: msize}); err != nil {
		return "", "", err
	}
	return configDigest.Encoded(), md.String(), nil
}

// dedupeWhiteouts copies the tar stream r to w, keeping the first of
// two whiteouts with one name: fuse-overlayfs marks an opaque directory
// both with a .wh..wh..opq file and with a whiteout device the
// conversion also names .wh..wh..opq, and containers/storage refuses a
// layer with a path twice.
func dedupeWhiteouts(w io.Writer, r io.Reader) error {
	tr, tw := tar.NewReader(r), tar.NewWriter(w)
	seen := map[string]bool{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		name := path.Clean(h.Name)
		if seen[name] && strings.HasPrefix(path.Base(name), archive.WhiteoutPrefix) {
			continue
		}
		seen[name] = true
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return err
		}
	}
	return tw.Close()
}

// The keys of an image config (and of its "config") that urun writes;
// the parent's other keys (docker's Healthcheck, OnBuild, Shell, …) are
// kept as they were.
var (
	ownTopKeys    = []string{"created", "author", "architecture", "os", "os.version", "os.features", "variant", "config", "rootfs", "history"}
	ownConfigKeys = []string{"User", "ExposedPorts", "Env", "Entrypoint", "Cmd", "Volumes", "WorkingDir", "Labels", "StopSignal", "ArgsEscaped"}
	// A docker build's record of the parent's build container describes
	// no part of the new image.
	staleTopKeys = []string{"container", "container_config"}
)

// mergeConfig is the parent's config blob with ours (a v1.Image's JSON)
// over it, and health (when not empty) as its config.Healthcheck.
func mergeConfig(parent, ours, health []byte) ([]byte, error) {
	var top, own map[string]json.RawMessage
	if err := json.Unmarshal(parent, &top); err != nil {
		return nil, fmt.Errorf("the parent's config: %w", err)
	}
	if err := json.Unmarshal(ours, &own); err != nil {
		return nil, err
	}
	var cfg, ownCfg map[string]json.RawMessage
	if b, ok := top["config"]; ok && string(b) != "null" {
		if err := json.Unmarshal(b, &cfg); err != nil {
			return nil, fmt.Errorf("the parent's config: %w", err)
		}
	}
	if b, ok := own["config"]; ok {
		if err := json.Unmarshal(b, &ownCfg); err != nil {
			return nil, err
		}
	}
	if cfg == nil {
		cfg = map[string]json.RawMessage{}
	}
	for _, k := range ownConfigKeys {
		delete(cfg, k)
	}
	for k, v := range ownCfg {
		cfg[k] = v
	}
	if len(health) > 0 {
		cfg["Healthcheck"] = health
	}
	for _, k := range append(ownTopKeys, staleTopKeys...) {
		delete(top, k)
	}
	for k, v := range own {
		top[k] = v
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	top["config"] = b
	return json.Marshal(top)
}
