// Package untar is the unpack helper's layer unpacker: image layers
// applied into a directory by go.podman.io/storage/pkg/archive, inside the
// user namespace of the mapping (store.UnpackMain). It is linked into
// urun-image, not urun: pkg/archive brings zstd, pgzip, xz and bzip2,
// whose code and package inits every urun start would pay for
// (docs/BENCHMARKS.md, issue 25 fourth round).
package untar

import (
	"fmt"
	"io"
	"os"

	"github.com/sirupsen/logrus"
	"go.podman.io/storage/pkg/archive"
	"go.podman.io/storage/pkg/idtools"
	"golang.org/x/sys/unix"

	"github.com/urun-dev/urun/store"
)

// Main runs the unpack helper (store.UnpackMain) with this unpacker.
func Main() int {
	// containers/storage logs through logrus; urun reports errors itself.
	logrus.SetOutput(io.Discard)
	store.UnpackLayers = unpackLayers
	return store.UnpackMain()
}

// unpackLayers applies the layers into a fresh req.Dir (store.UnpackMain
// removed any leftover of an interrupted unpack); on failure nothing is
// left.
func unpackLayers(req store.UnpackRequest) (res store.UnpackResult, err error) {
	if err := os.Mkdir(req.Dir, 0o755); err != nil {
		return res, fmt.Errorf("creating %s: %w", req.Dir, err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(req.Dir)
		}
	}()
	opts := &archive.TarOptions{
		// Device nodes cannot be created in a user namespace; the
		// container gets /dev from urun, not from the image.
		InUserNS: true,
	}
	var maps *nsMaps
	if req.SquashIDs {
		// A single-id namespace maps root only: every file becomes root's.
		opts.ChownOpts = &idtools.IDPair{UID: 0, GID: 0}
	} else {
		m, err := readNSMaps()
		if err != nil {
			return res, fmt.Errorf("reading this user namespace's id maps: %w", err)
		}
		maps = &m
	}
	if req.SquashUnmapped {
		// As containers/storage's ignore_chown_errors: the chown the
		// kernel refuses is skipped, and the file keeps the owner it was
		// created with, root. pkg/archive prints a line per such file;
		// the parent prints one warning with the count instead.
		opts.IgnoreChownErrors = true
		restore, err := quietStderr()
		if err != nil {
			return res, err
		}
		defer restore()
	}
	for _, l := range req.Layers {
		first, n, err := applyLayer(req.Dir, l, opts, maps)
		if err != nil {
			if first != nil && !req.SquashUnmapped {
				return res, maps.unmappedError(first, l.Digest.String())
			}
			return res, err
		}
		if first != nil && res.First == "" {
			res.First = fmt.Sprintf("%s (uid %d, gid %d)", first.Name, first.UID, first.GID)
		}
		res.Unmapped += n
	}
	return res, nil
}

// quietStderr points fd 2 at /dev/null until the returned function runs.
func quietStderr() (func(), error) {
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return nil, err
	}
	defer null.Close()
	saved, err := unix.Dup(2)
	if err != nil {
		return nil, err
	}
	if err := unix.Dup2(int(null.Fd()), 2); err != nil {
		unix.Close(saved)
		return nil, err
	}
	return func() {
		unix.Dup2(saved, 2)
		unix.Close(saved)
	}, nil
}

// applyLayer unpacks one layer blob, checking its digest on the way: the
// bytes are hashed as they are read, and a mismatch fails the unpack.
// With maps it also reports the first file whose owner maps does not
// hold, and how many there are.
func applyLayer(dir string, l store.Layer, opts *archive.TarOptions, maps *nsMaps) (first *unmappedFile, n int, err error) {
	// At most the size the manifest gives is read, and hashed as it is:
	// the last read fails on a mismatch, before the unpacker sees EOF.
	r, err := store.OpenLayerBlob(l)
	if err != nil {
		return nil, 0, err
	}
	defer r.Close()
	tr, err := archive.DecompressStream(r)
	if err != nil {
		return nil, 0, fmt.Errorf("decompressing layer %s: %w", l.Digest, err)
	}
	defer tr.Close()
	var layer io.Reader = tr
	if maps != nil {
		var c *idCheck
		layer, c = maps.watch(tr)
		defer func() {
			c.finish()
			first, n = c.first, c.count
		}()
	}
	if _, err := archive.ApplyUncompressedLayer(dir, layer, opts); err != nil {
		return nil, 0, fmt.Errorf("applying layer %s: %w", l.Digest, err)
	}
	// The tar reader may stop before trailing padding; hash all of it.
	if err := r.Finish(); err != nil {
		return nil, 0, err
	}
	return nil, 0, nil
}
