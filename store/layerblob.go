package store

// Reading an image of urun's OCI layout for the layer store's import
// (urun-image, cmd/urun-image/layerstore_child.go), which streams each
// layer blob once into go.podman.io/storage: the same checks as urun's
// own unpack (blob.go).

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	digest "github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// LayerBlob is a layer blob opened for one read through: a regular file
// below its layout, read to exactly its declared size, its digest checked
// as it passes (the read that reaches the end fails instead of returning
// io.EOF when size or digest do not match).
type LayerBlob struct {
	f *os.File
	v *verifiedReader
}

// OpenLayerBlob opens layer l's blob.
func OpenLayerBlob(l Layer) (*LayerBlob, error) {
	f, err := openBlob(l.Layout, l.Digest)
	if err != nil {
		return nil, err
	}
	v, err := newVerifiedReader(f, l.Digest, l.Size)
	if err != nil {
		f.Close()
		return nil, err
	}
	return &LayerBlob{f: f, v: v}, nil
}

// OpenPulledLayerBlob opens layer l's blob as the pull that wrote it left
// it: image/v5's copy checked its digest as it arrived and renamed it into
// blobs/ only then, so the read checks its size, not its digest again
// (a pass of SHA-256 over every byte saved: B4 lost ~50 ms over its four
// 24 MiB layers, docs/STORE.md, "On a quiet machine"). The
// unpacked content is still checked: containers/storage hashes it, and
// the import compares that with the diff id of the image's config, whose
// digest the manifest pins.
func OpenPulledLayerBlob(l Layer) (*LayerBlob, error) {
	b, err := OpenLayerBlob(l)
	if err == nil {
		b.v.h = nil
	}
	return b, err
}

func (b *LayerBlob) Read(p []byte) (int, error) { return b.v.Read(p) }

// Finish reads what the consumer left (a decompressor may stop before
// the end) and says whether the whole blob matched its size and digest.
func (b *LayerBlob) Finish() error {
	_, err := io.Copy(io.Discard, b.v)
	return err
}

// Close closes the blob's file.
func (b *LayerBlob) Close() error { return b.f.Close() }

// RawBlob is a small blob of the layout at dir (a manifest, a config),
// checked against its digest.
func RawBlob(dir string, d digest.Digest) ([]byte, error) {
	b, err := readBlob(dir, d)
	if err != nil {
		return nil, err
	}
	if !d.Algorithm().Available() || d.Algorithm().FromBytes(b) != d {
		return nil, fmt.Errorf("blob %s of %s does not match its digest: the image is corrupt, pull it again", d, dir)
	}
	return b, nil
}

// TopManifest is the descriptor index.json of the layout at dir gives
// tag: the image's manifest, or an image index whose instance for this
// platform OpenOCILayout picks.
func TopManifest(dir, tag string) (v1.Descriptor, error) {
	var index v1.Index
	if err := readJSON(filepath.Join(dir, "index.json"), &index); err != nil {
		return v1.Descriptor{}, fmt.Errorf("reading the layout's index: %w", err)
	}
	for _, m := range index.Manifests {
		if m.Annotations[v1.AnnotationRefName] == tag {
			return m, nil
		}
	}
	return v1.Descriptor{}, fmt.Errorf("no image tagged %q in %s", tag, dir)
}
