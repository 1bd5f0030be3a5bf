package store

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/sirupsen/logrus"
	"go.podman.io/storage/pkg/archive"
	"go.podman.io/storage/pkg/idtools"

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
	err = conn.WaitMapped()
	if err == nil {
		err = conn.WaitFor(MsgUnpack, initTimeout, &req)
	}
	if err == nil {
		err = unpack(req)
	}
	if err != nil {
		conn.SendError(err)
		return 125
	}
	conn.Send(MsgUnpacked, nil)
	return 0
}

const initTimeout = 30 * time.Second

// unpack applies the layers into a fresh req.Dir. A leftover from an
// interrupted earlier unpack is removed first; on failure nothing is left.
func unpack(req UnpackRequest) (err error) {
	if err := os.RemoveAll(req.Dir); err != nil {
		return fmt.Errorf("removing an interrupted unpack at %s: %w", req.Dir, err)
	}
	if req.Remove {
		return nil
	}
	if err := os.Mkdir(req.Dir, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", req.Dir, err)
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
	if req.SquashIDs {
		// A single-id namespace maps root only: every file becomes root's.
		opts.ChownOpts = &idtools.IDPair{UID: 0, GID: 0}
	}
	for _, l := range req.Layers {
		if err := applyLayer(req.Dir, l, opts); err != nil {
			return err
		}
	}
	return nil
}

// applyLayer unpacks one layer blob, checking its digest on the way: the
// bytes are hashed as they are read, and a mismatch fails the unpack.
func applyLayer(dir string, l Layer, opts *archive.TarOptions) error {
	f, err := os.Open(l.Path)
	if err != nil {
		return fmt.Errorf("opening layer %s: %w", l.Digest, err)
	}
	defer f.Close()
	v := l.Digest.Verifier()
	r := io.TeeReader(f, v)
	tr, err := archive.DecompressStream(r)
	if err != nil {
		return fmt.Errorf("decompressing layer %s: %w", l.Digest, err)
	}
	defer tr.Close()
	if _, err := archive.ApplyUncompressedLayer(dir, tr, opts); err != nil {
		return fmt.Errorf("applying layer %s: %w", l.Digest, err)
	}
	// The tar reader may stop before trailing padding; hash all of it.
	if _, err := io.Copy(io.Discard, r); err != nil {
		return fmt.Errorf("reading layer %s: %w", l.Digest, err)
	}
	if !v.Verified() {
		return fmt.Errorf("layer %s does not match its digest: the image is corrupt, pull it again", l.Digest)
	}
	return nil
}
