package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// epoch is the only timestamp written anywhere, so rebuilds are byte-identical.
var epoch = time.Unix(0, 0).UTC()

// builtLayer is a layer in its on-disk form.
type builtLayer struct {
	Gzip      []byte
	DiffID    string // "sha256:<hex>" of the uncompressed tar
	CreatedBy string
}

// buildLayer writes l as a tar and compresses it with gzip.
func buildLayer(l layer) (builtLayer, error) {
	var raw bytes.Buffer
	tw := tar.NewWriter(&raw)
	for _, e := range sortedEntries(l.Entries) {
		hdr, err := tarHeader(e)
		if err != nil {
			return builtLayer{}, err
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return builtLayer{}, fmt.Errorf("tar header %s: %w", e.Path, err)
		}
		if e.Type == typeFile {
			if _, err := tw.Write([]byte(e.Content)); err != nil {
				return builtLayer{}, fmt.Errorf("tar content %s: %w", e.Path, err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		return builtLayer{}, err
	}

	var gz bytes.Buffer
	// The zero gzip header has no name and mtime 0; OS is fixed by the
	// library, so the output only depends on the input bytes.
	zw, err := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	if err != nil {
		return builtLayer{}, err
	}
	if _, err := zw.Write(raw.Bytes()); err != nil {
		return builtLayer{}, err
	}
	if err := zw.Close(); err != nil {
		return builtLayer{}, err
	}
	return builtLayer{Gzip: gz.Bytes(), DiffID: sha256Digest(raw.Bytes()), CreatedBy: l.CreatedBy}, nil
}

// tarHeader converts an entry; names are relative to the archive root, as
// image layers are written by other tools.
func tarHeader(e entry) (*tar.Header, error) {
	if !strings.HasPrefix(e.Path, "/") || e.Path == "/" {
		return nil, fmt.Errorf("entry path %q must be absolute and not /", e.Path)
	}
	hdr := &tar.Header{
		Name:    strings.TrimPrefix(e.Path, "/"),
		Mode:    e.Mode,
		Uid:     e.UID,
		Gid:     e.GID,
		ModTime: epoch,
		// PAX carries names longer than the ustar fields; the writer still
		// emits plain ustar headers for entries that fit.
		Format: tar.FormatPAX,
	}
	switch e.Type {
	case typeDir:
		hdr.Typeflag = tar.TypeDir
		hdr.Name += "/"
	case typeFile:
		hdr.Typeflag = tar.TypeReg
		hdr.Size = int64(len(e.Content))
	case typeSymlink:
		hdr.Typeflag = tar.TypeSymlink
		hdr.Linkname = e.Linkname
	case typeHardlink:
		hdr.Typeflag = tar.TypeLink
		hdr.Linkname = strings.TrimPrefix(e.Linkname, "/")
	case typeFifo:
		hdr.Typeflag = tar.TypeFifo
	default:
		return nil, fmt.Errorf("entry %s: unknown type %d", e.Path, e.Type)
	}
	return hdr, nil
}

func sha256Digest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}
