// Package store finds images and turns them into root filesystems the
// container init can mount. Reading image metadata happens in urun's own
// process; writing files owned by container ids happens in a user
// namespace with the container's mapping (unpack_child.go), because an
// ordinary user cannot chown to subordinate ids from outside one.
package store

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	digest "github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// maxJSON bounds index, manifest and config blobs: real ones are a few
// KiB, and a hostile layout must not make us read gigabytes into memory.
const maxJSON = 4 << 20

// Image is a resolved image: its manifest, config and layer blobs.
type Image struct {
	// Ref is what the user typed.
	Ref string
	// Digest is the manifest digest; it names the unpacked rootfs.
	Digest   digest.Digest
	Manifest v1.Manifest
	Config   v1.Image
	// Healthcheck is the config's HEALTHCHECK as written (docker's
	// config.Healthcheck, which OCI configs written by BuildKit keep
	// too; the OCI struct has no field for it); nil without one.
	Healthcheck json.RawMessage
	// Layers are the layer blob files, base layer first.
	Layers []Layer
	// pin is held from the lookup until the container is registered
	// (pin.go); Release drops it.
	pin *os.File
}

// Layer is one layer blob on disk.
type Layer struct {
	// Layout is the OCI layout holding the blob, at Path below it.
	Layout    string
	Path      string
	Digest    digest.Digest
	MediaType string
	Size      int64
	// DiffID is the digest of the layer's uncompressed tar (the config's
	// diff_id).
	DiffID digest.Digest `json:"diffID,omitempty"`
	// FD, when not 0, is the descriptor (in the unpack helper) from which
	// the layer's uncompressed tar comes instead of its blob: the layer
	// store's copy, where the blob was dropped (blobsweep.go).
	FD int `json:"fd,omitempty"`
}

// ParseOCIRef splits "oci:DIR[:TAG]" into the layout directory and tag
// ("latest" when absent), as skopeo and podman read it.
func ParseOCIRef(ref string) (dir, tag string, ok bool) {
	rest, ok := strings.CutPrefix(ref, "oci:")
	if !ok {
		return "", "", false
	}
	dir, tag = rest, ""
	if i := strings.LastIndex(rest, ":"); i >= 0 && !strings.Contains(rest[i:], "/") {
		dir, tag = rest[:i], rest[i+1:]
	}
	return dir, tag, true
}

// OpenOCILayout resolves tag in the OCI image layout at dir.
func OpenOCILayout(ref, dir, tag string) (*Image, error) {
	var layout v1.ImageLayout
	if err := readJSON(filepath.Join(dir, v1.ImageLayoutFile), &layout); err != nil {
		return nil, fmt.Errorf("%s is not an OCI image layout: %w", dir, err)
	}
	var index v1.Index
	if err := readJSON(filepath.Join(dir, "index.json"), &index); err != nil {
		return nil, fmt.Errorf("reading the layout's index: %w", err)
	}
	desc, err := pickManifest(dir, index, tag)
	if err != nil {
		return nil, err
	}
	return openManifest(ref, dir, desc)
}

// openManifest opens the image whose manifest (or image index, whose
// instance for this platform is taken) desc describes in the layout at dir.
func openManifest(ref, dir string, desc v1.Descriptor) (*Image, error) {
	desc, err := platformManifest(dir, desc)
	if err != nil {
		return nil, err
	}
	img := &Image{Ref: ref, Digest: desc.Digest}
	if err := readBlobJSON(dir, desc, &img.Manifest); err != nil {
		return nil, fmt.Errorf("reading manifest: %w", err)
	}
	var extra struct {
		Config struct {
			Healthcheck json.RawMessage `json:"Healthcheck"`
		} `json:"config"`
	}
	if err := readBlobJSON(dir, img.Manifest.Config, &img.Config, &extra); err != nil {
		return nil, fmt.Errorf("reading image config: %w", err)
	}
	if h := extra.Config.Healthcheck; len(h) > 0 && string(h) != "null" {
		img.Healthcheck = h
	}
	if len(img.Config.RootFS.DiffIDs) != len(img.Manifest.Layers) {
		return nil, fmt.Errorf("image config lists %d layers, the manifest %d", len(img.Config.RootFS.DiffIDs), len(img.Manifest.Layers))
	}
	for i, l := range img.Manifest.Layers {
		p, err := blobPath(dir, l.Digest)
		if err != nil {
			return nil, err
		}
		switch l.MediaType {
		case v1.MediaTypeImageLayer, v1.MediaTypeImageLayerGzip, v1.MediaTypeImageLayerZstd,
			"application/vnd.docker.image.rootfs.diff.tar.gzip":
		default:
			return nil, fmt.Errorf("layer %s has media type %q, which urun cannot unpack", l.Digest, l.MediaType)
		}
		img.Layers = append(img.Layers, Layer{Layout: dir, Path: p, Digest: l.Digest, MediaType: l.MediaType, Size: l.Size, DiffID: img.Config.RootFS.DiffIDs[i]})
	}
	return img, nil
}

// pickManifest finds the manifest for tag, following an image index to
// the entry for this machine's platform.
func pickManifest(dir string, index v1.Index, tag string) (v1.Descriptor, error) {
	var found []v1.Descriptor
	for _, m := range index.Manifests {
		name := m.Annotations[v1.AnnotationRefName]
		if name == tag || (tag == "" && (name == "" || name == "latest")) {
			found = append(found, m)
		}
	}
	if tag == "" && len(found) == 0 && len(index.Manifests) == 1 {
		found = index.Manifests
	}
	if len(found) == 0 {
		if tag == "" {
			tag = "latest"
		}
		return v1.Descriptor{}, fmt.Errorf("no image tagged %q in %s: list the tags in its index.json", tag, dir)
	}
	return found[0], nil
}

// platformManifest is d, or where d is an image index, its manifest for
// this machine's platform.
func platformManifest(dir string, d v1.Descriptor) (v1.Descriptor, error) {
	if d.MediaType == v1.MediaTypeImageIndex {
		var sub v1.Index
		if err := readBlobJSON(dir, d, &sub); err != nil {
			return v1.Descriptor{}, fmt.Errorf("reading image index %s: %w", d.Digest, err)
		}
		for _, m := range sub.Manifests {
			if m.Platform == nil || (m.Platform.OS == "linux" && m.Platform.Architecture == runtime.GOARCH) {
				return m, nil
			}
		}
		return v1.Descriptor{}, fmt.Errorf("image index %s has no manifest for linux/%s", d.Digest, runtime.GOARCH)
	}
	return d, nil
}

func blobPath(dir string, d digest.Digest) (string, error) {
	if err := d.Validate(); err != nil {
		return "", fmt.Errorf("invalid digest %q: %w", d, err)
	}
	return filepath.Join(dir, "blobs", d.Algorithm().String(), d.Encoded()), nil
}

// readBlobJSON reads a small blob, checks it against its digest and size,
// and decodes it.
func readBlobJSON(dir string, d v1.Descriptor, v any, more ...any) error {
	b, err := readBlob(dir, d.Digest)
	if err != nil {
		return err
	}
	// image/v5's OCI layout destination writes a manifest in place
	// (os.WriteFile), also when a pull or load of the same image rewrites
	// one that exists: a run reading it meanwhile finds it cut short for
	// the moment the identical bytes take to land. Wait that out; a blob
	// that stays short is corrupt.
	for wait := time.Millisecond; d.Size != 0 && int64(len(b)) < d.Size && wait < 512*time.Millisecond; wait *= 2 {
		time.Sleep(wait)
		if b, err = readBlob(dir, d.Digest); err != nil {
			return err
		}
	}
	if d.Size != 0 && int64(len(b)) != d.Size {
		return fmt.Errorf("blob %s is %d bytes, its descriptor says %d", d.Digest, len(b), d.Size)
	}
	if got := d.Digest.Algorithm().FromBytes(b); got != d.Digest {
		return fmt.Errorf("blob %s has digest %s: the layout is corrupt", d.Digest, got)
	}
	for _, m := range more {
		if err := json.Unmarshal(b, m); err != nil {
			return err
		}
	}
	return json.Unmarshal(b, v)
}

func readJSON(p string, v any) error {
	b, err := readLimited(p)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("parsing %s: %w", p, err)
	}
	return nil
}

// readLimited reads a small JSON file of a layout (index.json,
// oci-layout), which must be a regular file.
func readLimited(p string) ([]byte, error) {
	f, err := openRegular(p, 0)
	if err != nil {
		return nil, err
	}
	return readAllLimited(f, p)
}

// readBlob reads a small blob (openBlob says which files it accepts).
func readBlob(dir string, d digest.Digest) ([]byte, error) {
	f, err := openBlob(dir, d)
	if err != nil {
		return nil, err
	}
	return readAllLimited(f, f.Name())
}

func readAllLimited(f *os.File, p string) ([]byte, error) {
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxJSON+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", p, err)
	}
	if len(b) > maxJSON {
		return nil, fmt.Errorf("%s is larger than %d bytes", p, maxJSON)
	}
	return b, nil
}
