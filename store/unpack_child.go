package store

import (
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"time"

	digest "github.com/opencontainers/go-digest"
	"github.com/sirupsen/logrus"
	"go.podman.io/storage/pkg/archive"
	"go.podman.io/storage/pkg/idtools"
	"golang.org/x/sys/unix"

	"github.com/urun-dev/urun/userns"
)

// UnpackMain is the unpack helper: it runs as root of a user namespace
// with the container's mapping, so the files it creates get the image's
// owners, and it answers the parent with MsgUnpacked or an error.
func UnpackMain() int {
	// containers/storage logs through logrus; urun reports errors itself.
	logrus.SetOutput(io.Discard)
	conn, err := userns.ChildConn()
	if err != nil {
		fmt.Fprintln(os.Stderr, "urun:", err)
		return 125
	}
	var req UnpackRequest
	var res UnpackResult
	err = conn.WaitMapped()
	if err == nil {
		err = conn.WaitFor(MsgUnpack, initTimeout, &req)
	}
	if err == nil {
		res, err = unpack(req)
	}
	if err != nil {
		conn.SendError(err)
		return 125
	}
	conn.Send(MsgUnpacked, res)
	return 0
}

const initTimeout = 30 * time.Second

// unpack applies the layers into a fresh req.Dir. A leftover from an
// interrupted earlier unpack is removed first; on failure nothing is left.
func unpack(req UnpackRequest) (res UnpackResult, err error) {
	if req.Owners != nil {
		return probeOwners(req.Dir, req.Owners[0], req.Owners[1])
	}
	if err := os.RemoveAll(req.Dir); err != nil {
		return res, fmt.Errorf("removing an interrupted unpack at %s: %w", req.Dir, err)
	}
	if req.Remove {
		return res, nil
	}
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
func applyLayer(dir string, l Layer, opts *archive.TarOptions, maps *nsMaps) (first *unmappedFile, n int, err error) {
	var r io.Reader
	var tr io.ReadCloser
	if l.FD != 0 {
		// The layer store's copy of the layer, uncompressed, from the
		// layer store helper (LayerDiffs): checked against the diff id.
		f := os.NewFile(uintptr(l.FD), "layer-"+l.DiffID.Encoded())
		defer f.Close()
		if l.DiffID.Validate() != nil {
			return nil, 0, fmt.Errorf("layer %s: no diff id to check its tar against", l.Digest)
		}
		r = &streamVerifier{r: f, h: l.DiffID.Algorithm().Hash(), d: l.DiffID}
		tr = io.NopCloser(r)
	} else {
		f, err := openBlob(l.Layout, l.Digest)
		if err != nil {
			return nil, 0, err
		}
		defer f.Close()
		// At most the size the manifest gives is read, and hashed as it is:
		// the last read fails on a mismatch, before the unpacker sees EOF.
		v, err := newVerifiedReader(f, l.Digest, l.Size)
		if err != nil {
			return nil, 0, err
		}
		r = v
		if tr, err = archive.DecompressStream(r); err != nil {
			return nil, 0, fmt.Errorf("decompressing layer %s: %w", l.Digest, err)
		}
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
	if _, err := io.Copy(io.Discard, r); err != nil {
		return nil, 0, err
	}
	return nil, 0, nil
}

// probeOwners gives a new file in dir to uid:gid: an unnamed one
// (O_TMPFILE, gone with the process even when it is killed) where the
// filesystem has them, else a named one it removes. A filesystem that
// cannot store that owner refuses the chown with EPERM (sshfs, a user's
// FUSE mount, NFS) or EINVAL; that is an answer, not an error.
func probeOwners(dir string, uid, gid int) (res UnpackResult, err error) {
	var chown error
	if fd, err := unix.Open(dir, unix.O_TMPFILE|unix.O_WRONLY|unix.O_CLOEXEC, 0o600); err == nil {
		chown = unix.Fchown(fd, uid, gid)
		unix.Close(fd)
	} else {
		f, err := os.CreateTemp(dir, ".owners-probe-")
		if err != nil {
			return res, fmt.Errorf("creating a probe file in %s: %w", dir, err)
		}
		f.Close()
		defer os.Remove(f.Name())
		chown = unix.Lchown(f.Name(), uid, gid)
	}
	if errors.Is(chown, unix.EPERM) || errors.Is(chown, unix.EINVAL) || errors.Is(chown, unix.EACCES) {
		res.OwnersError = chown.Error()
	} else if chown != nil {
		return res, fmt.Errorf("probing %s: %w", dir, chown)
	}
	return res, nil
}

// streamVerifier hashes a stream of unknown length; the read that meets
// its end fails instead of returning io.EOF when the digest differs.
type streamVerifier struct {
	r io.Reader
	h hash.Hash
	d digest.Digest
}

func (v *streamVerifier) Read(p []byte) (int, error) {
	n, err := v.r.Read(p)
	v.h.Write(p[:n])
	if err == io.EOF {
		if got := digest.NewDigest(v.d.Algorithm(), v.h); got != v.d {
			return n, fmt.Errorf("layer %s from the layer store is %s: the layer store is damaged, run urun system check", v.d, got)
		}
	}
	return n, err
}
