package store

import (
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/urun-dev/urun/userns"
)

// UnpackMain is the unpack helper: it runs as root of a user namespace
// with the container's mapping, so the files it creates get the image's
// owners, and it answers the parent with MsgUnpacked or an error.
func UnpackMain() int {
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
	if UnpackLayers == nil {
		return res, errors.New("this helper does not unpack image layers (urun-image does: store/untar)")
	}
	return UnpackLayers(req)
}

// UnpackLayers unpacks req.Layers into a fresh req.Dir; set by the
// binary that links the unpacker (urun-image, through store/untar), so
// that urun itself does not carry go.podman.io/storage/pkg/archive and its
// decompressors into every start (docs/BENCHMARKS.md, issue 25 fourth
// round). urun's own helper removes trees and probes owners.
var UnpackLayers func(UnpackRequest) (UnpackResult, error)

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
