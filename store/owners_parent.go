package store

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	fuseoverlay "github.com/urun-dev/urun/fuse-overlay"
	"github.com/urun-dev/urun/idmap"
	"github.com/urun-dev/urun/userns"
)

// Unpacking an image with subordinate ids gives its files to ids other
// than the user's own. A data directory on a FUSE filesystem whose server
// runs as the user (sshfs, a fuse-overlayfs the user mounted) or on NFS
// cannot store such owners: the first lchown fails, after the image was
// copied and half unpacked. CheckOwners asks once per data directory and
// mapping, in the unpack helper's user namespace, and records the answer
// with the storage tier's (fuseoverlay.OwnersRecord), so run, pull, info
// and doctor give the same one.
//
// As podman, urun does not fall back to one id by itself there: one id
// makes every file root's and every other user of the image root too,
// which podman does only when asked (storage.conf's ignore_chown_errors).
// urun refuses before anything is written, and says both fixes.

// OwnersFix is the fix run, pull and doctor print for an OwnersError.
const OwnersFix = "keep urun's storage on a local filesystem such as ext4 or xfs: urun --data-dir /a/local/dir, or export URUN_DATA_DIR=/a/local/dir; or run with --userns=host-single (one id: every file root's, as podman's ignore_chown_errors)"

// OwnersError: the data directory cannot store files owned by
// subordinate ids.
type OwnersError struct {
	Dir, FS, Why string
}

func (e *OwnersError) Error() string { return "storage: " + e.Cause() + " — fix: " + OwnersFix }

// Cause names the directory and the refused chown.
func (e *OwnersError) Cause() string {
	on := e.Dir
	if e.FS != "" {
		on += " (" + e.FS + ")"
	}
	return on + " cannot store files owned by subordinate ids (" + e.Why + "), as on sshfs or an NFS home: images cannot be unpacked there"
}

// CheckOwners returns an *OwnersError when dataDir cannot store the
// owners maps gives, from the record when it has an answer for this
// mapping, else by probing (and recording what it found). A probe that
// cannot run is no answer: nil.
func CheckOwners(dataDir string, maps userns.Maps, helperExe string) error {
	return checkOwners(dataDir, maps, helperExe, "run", false)
}

// ProbeOwners is CheckOwners without the record: urun doctor and info
// ask again, and record the answer.
func ProbeOwners(dataDir string, maps userns.Maps, helperExe, by string) error {
	return checkOwners(dataDir, maps, helperExe, by, true)
}

func checkOwners(dataDir string, maps userns.Maps, helperExe, by string, fresh bool) error {
	uid, okU := otherID(maps.UID, uint32(os.Getuid()))
	gid, okG := otherID(maps.GID, uint32(os.Getgid()))
	if !okU && !okG {
		return nil // one id: every file is the user's own
	}
	key := fuseoverlay.OwnersKey(dataDir, maps.UID.String()+"/"+maps.GID.String())
	rec, hit := fuseoverlay.LoadOwners(dataDir, key)
	if fresh || !hit {
		res, err := unpackResult(UnpackRequest{Dir: dataDir, Owners: &[2]int{uid, gid}}, maps, helperExe)
		if err != nil && !fresh {
			// The probe could not run (the user namespace failed): no
			// answer, and the run goes on to fail, or not, on its own.
			return nil
		}
		if err != nil {
			return err
		}
		rec = fuseoverlay.OwnersRecord{Key: key, By: by}
		if res.OwnersError != "" {
			hu, _ := maps.UID.ToHost(uint32(uid))
			hg, _ := maps.GID.ToHost(uint32(gid))
			rec.Error = fmt.Sprintf("giving a file to uid %d, gid %d: %s", hu, hg, res.OwnersError)
		}
		fuseoverlay.SaveOwners(dataDir, rec)
	}
	if rec.Error == "" {
		return nil
	}
	return &OwnersError{Dir: dataDir, FS: fsType(dataDir), Why: rec.Error}
}

// otherID is an id inside the mapping whose host id is not own, or,
// when there is none, the id own has inside.
func otherID(m idmap.Mapping, own uint32) (int, bool) {
	for _, r := range m {
		switch {
		case r.Size == 0:
		case r.HostID != own:
			return int(r.ContainerID), true
		case r.Size > 1:
			return int(r.ContainerID) + 1, true
		}
	}
	in, _ := m.ToContainer(own)
	return int(in), false
}

func fsType(dir string) string {
	var sfs unix.Statfs_t
	if unix.Statfs(dir, &sfs) != nil {
		return ""
	}
	switch sfs.Type {
	case 0x65735546:
		return "fuse"
	case 0x6969:
		return "nfs"
	case 0xFF534D42:
		return "cifs"
	}
	return ""
}
