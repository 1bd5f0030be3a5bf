package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// writeLayout writes a complete OCI image layout for one image into dir,
// which must not exist yet or be empty. It returns the index.json bytes.
func writeLayout(dir, tag string, layers []builtLayer, cfg v1.ImageConfig, arch string) ([]byte, error) {
	if err := os.MkdirAll(filepath.Join(dir, "blobs", "sha256"), 0o755); err != nil {
		return nil, err
	}

	image := v1.Image{
		Created:  &epoch,
		Platform: v1.Platform{Architecture: arch, OS: "linux"},
		Config:   cfg,
		RootFS:   v1.RootFS{Type: "layers"},
	}
	manifest := v1.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: v1.MediaTypeImageManifest,
	}
	for _, l := range layers {
		desc, err := writeBlob(dir, v1.MediaTypeImageLayerGzip, l.Gzip)
		if err != nil {
			return nil, err
		}
		manifest.Layers = append(manifest.Layers, desc)
		image.RootFS.DiffIDs = append(image.RootFS.DiffIDs, digest.Digest(l.DiffID))
		image.History = append(image.History, v1.History{Created: &epoch, CreatedBy: l.CreatedBy})
	}

	configJSON, err := json.Marshal(image)
	if err != nil {
		return nil, err
	}
	manifest.Config, err = writeBlob(dir, v1.MediaTypeImageConfig, configJSON)
	if err != nil {
		return nil, err
	}

	manifestJSON, err := json.Marshal(manifest)
	if err != nil {
		return nil, err
	}
	manifestDesc, err := writeBlob(dir, v1.MediaTypeImageManifest, manifestJSON)
	if err != nil {
		return nil, err
	}
	manifestDesc.Annotations = map[string]string{v1.AnnotationRefName: tag}
	manifestDesc.Platform = &image.Platform

	index := v1.Index{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: v1.MediaTypeImageIndex,
		Manifests: []v1.Descriptor{manifestDesc},
	}
	indexJSON, err := json.Marshal(index)
	if err != nil {
		return nil, err
	}

	layoutJSON, err := json.Marshal(v1.ImageLayout{Version: v1.ImageLayoutVersion})
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, v1.ImageLayoutFile), layoutJSON, 0o644); err != nil {
		return nil, err
	}
	// index.json goes last: a layout with an index refers only to blobs
	// that are already complete.
	if err := os.WriteFile(filepath.Join(dir, v1.ImageIndexFile), indexJSON, 0o644); err != nil {
		return nil, err
	}
	return indexJSON, nil
}

// writeBlob stores data under blobs/sha256 and returns its descriptor.
func writeBlob(dir, mediaType string, data []byte) (v1.Descriptor, error) {
	d := sha256Digest(data)
	p := filepath.Join(dir, "blobs", "sha256", strings.TrimPrefix(d, "sha256:"))
	if err := os.WriteFile(p, data, 0o644); err != nil {
		return v1.Descriptor{}, fmt.Errorf("write blob: %w", err)
	}
	return v1.Descriptor{MediaType: mediaType, Digest: digest.Digest(d), Size: int64(len(data))}, nil
}
