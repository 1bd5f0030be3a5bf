package store

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/urun-dev/urun/userns"
)

// unpackTimeout bounds one unpack of a whole image.
const unpackTimeout = 30 * time.Minute

// MsgUnpack carries an UnpackRequest to the unpack helper (UnpackMain,
// in `urun __unpack`, and in `urun-image __unpack` with layers);
// MsgUnpacked is its answer.
const (
	MsgUnpack   = "unpack"
	MsgUnpacked = "unpacked"
)

// UnpackRequest asks the helper to apply Layers in order into Dir.
type UnpackRequest struct {
	Dir    string  `json:"dir"`
	Layers []Layer `json:"layers"`
	// SquashIDs gives every file to root: the single-id fallback has
	// nothing but root to give.
	SquashIDs bool `json:"squashIDs,omitempty"`
	// SquashUnmapped gives files whose owner the mapping does not hold
	// to root (the --squash-ids opt-in) instead of failing the unpack.
	SquashUnmapped bool `json:"squashUnmapped,omitempty"`
	// Remove only deletes Dir: files owned by subordinate ids can be
	// removed only from inside the mapping too.
	Remove bool `json:"remove,omitempty"`
	// Owners asks only whether a file in Dir can be given to this
	// user namespace's id pair (owners_parent.go); nothing is unpacked.
	Owners *[2]int `json:"owners,omitempty"`
}

// UnpackResult is the helper's answer: how many files had owners outside
// the mapping (given to root with SquashUnmapped), and the first of them.
type UnpackResult struct {
	Unmapped int    `json:"unmapped,omitempty"`
	First    string `json:"first,omitempty"`
	// OwnersError is the refused chown of an Owners probe.
	OwnersError string `json:"ownersError,omitempty"`
}

// RootfsOptions are the choices a run makes about its image's files.
type RootfsOptions struct {
	// SquashIDs (--squash-ids): files owned by ids outside the mapping
	// are given to root instead of failing the unpack. Such a tree is
	// cached under its own name (KEY-squashed), so runs without the
	// opt-in never see it.
	SquashIDs bool
	// Warn receives one line when the opt-in changed owners.
	Warn func(string)
}

// Rootfs returns the directory holding img's files as the container with
// maps sees them, unpacking it first when needed. The directory is keyed
// by manifest digest and mapping, so a later run of the same image never
// copies or chowns anything, and an edit of /etc/subuid gets a fresh one.
// helperExe runs UnpackMain with the layer unpacker (UnpackLayers):
// urun-image; urun's own helper only removes and probes.
func Rootfs(img *Image, maps userns.Maps, dataDir, helperExe string) (string, error) {
	return RootfsWith(img, maps, dataDir, helperExe, RootfsOptions{})
}

// RootfsWith is Rootfs with options.
func RootfsWith(img *Image, maps userns.Maps, dataDir, helperExe string, o RootfsOptions) (string, error) {
	base := filepath.Join(dataDir, "rootfs")
	if err := os.MkdirAll(base, 0o700); err != nil {
		return "", fmt.Errorf("creating %s: %w", base, err)
	}
	h := sha256.Sum256([]byte(maps.UID.String() + "/" + maps.GID.String()))
	key := img.Digest.Encoded() + "-" + hex.EncodeToString(h[:6])
	final := filepath.Join(base, key)
	// An image with no unmapped owner has one tree, the plain one, used
	// with and without the opt-in.
	squashed := final + "-squashed"
	if p, ok := existingRootfs(final, squashed, o.SquashIDs); ok {
		return p, nil
	}
	// One unpack per image and mapping at a time; the lock dies with its
	// holder, and is removed when done so rootfs/ holds only trees.
	lock, err := lockPath(final+".lock", unix.LOCK_EX)
	if err != nil {
		return "", fmt.Errorf("locking %s: %w", final, err)
	}
	defer removeLocked(lock)
	if p, ok := existingRootfs(final, squashed, o.SquashIDs); ok {
		return p, nil // another urun finished it while we waited
	}
	partial := final + ".partial"
	req := UnpackRequest{Dir: partial, Layers: img.Layers, SquashIDs: len(maps.UID) == 1 && maps.UID[0].Size == 1}
	req.SquashUnmapped = o.SquashIDs && !req.SquashIDs
	res, err := unpackResult(req, maps, helperExe)
	if err != nil {
		return "", err
	}
	dst := final
	if res.Unmapped > 0 && req.SquashUnmapped {
		dst = squashed
		if o.Warn != nil {
			o.Warn(fmt.Sprintf("%d files of the image have owners outside the user namespace's ids (the first: %s); --squash-ids gave them to root", res.Unmapped, res.First))
		}
	}
	if err := os.Rename(partial, dst); err != nil {
		return "", fmt.Errorf("publishing unpacked image: %w", err)
	}
	return dst, nil
}

// existingRootfs returns the tree a run may use, if it is unpacked.
func existingRootfs(plain, squashed string, squash bool) (string, bool) {
	if _, err := os.Stat(plain); err == nil {
		return plain, true
	}
	if squash {
		if _, err := os.Stat(squashed); err == nil {
			return squashed, true
		}
	}
	return "", false
}

// RemoveRootfs deletes the unpacked root filesystems of the manifest d,
// for every mapping, inside a user namespace with maps.
func RemoveRootfs(d Digest, maps userns.Maps, dataDir, helperExe string) error {
	dirs, _ := filepath.Glob(filepath.Join(dataDir, "rootfs", d.Encoded()+"-*"))
	for _, dir := range dirs {
		if strings.HasSuffix(dir, ".lock") {
			continue
		}
		if err := runUnpack(UnpackRequest{Dir: dir, Remove: true}, maps, helperExe); err != nil {
			return fmt.Errorf("removing %s: %w", dir, err)
		}
		os.Remove(strings.TrimSuffix(strings.TrimSuffix(dir, ".partial"), "-squashed") + ".lock")
	}
	return nil
}

// runUnpack runs the unpack helper in a user namespace with maps.
func runUnpack(req UnpackRequest, maps userns.Maps, helperExe string) error {
	_, err := unpackResult(req, maps, helperExe)
	return err
}

// unpackResult is runUnpack returning the helper's answer.
func unpackResult(req UnpackRequest, maps userns.Maps, helperExe string) (res UnpackResult, err error) {
	child, err := userns.Start(userns.Config{
		Path:       helperExe,
		Args:       []string{"urun", UnpackCommand},
		Env:        []string{},
		UIDMap:     maps.UID,
		GIDMap:     maps.GID,
		UseHelpers: maps.UseHelpers,
		Stderr:     os.Stderr,
	})
	if err != nil {
		return res, fmt.Errorf("starting the unpack helper: %w", err)
	}
	err = child.Call(MsgUnpack, req, MsgUnpacked, unpackTimeout, &res)
	var pe *userns.PeerError
	if errors.As(err, &pe) {
		return res, fmt.Errorf("unpacking image: %s", pe.Msg)
	}
	if err != nil {
		return res, fmt.Errorf("unpacking image: %w", err)
	}
	return res, nil
}

// UnpackCommand is the hidden urun subcommand that runs UnpackMain.
const UnpackCommand = "__unpack"
