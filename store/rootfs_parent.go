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

// MsgUnpack carries an UnpackRequest to the unpack helper; MsgUnpacked
// is its answer.
const (
	MsgUnpack   = "unpack"
	MsgUnpacked = "unpacked"
)

// UnpackRequest asks the helper to apply Layers in order into Dir.
type UnpackRequest struct {
	Dir    string  `json:"dir"`
	Layers []Layer `json:"layers"`
	// SquashIDs gives files whose owner is not mapped to root instead of
	// failing: the single-id fallback has nothing but root to give.
	SquashIDs bool `json:"squashIDs,omitempty"`
	// Remove only deletes Dir: files owned by subordinate ids can be
	// removed only from inside the mapping too.
	Remove bool `json:"remove,omitempty"`
}

// Rootfs returns the directory holding img's files as the container with
// maps sees them, unpacking it first when needed. The directory is keyed
// by manifest digest and mapping, so a later run of the same image never
// copies or chowns anything, and an edit of /etc/subuid gets a fresh one.
func Rootfs(img *Image, maps userns.Maps, dataDir, helperExe string) (string, error) {
	base := filepath.Join(dataDir, "rootfs")
	if err := os.MkdirAll(base, 0o700); err != nil {
		return "", fmt.Errorf("creating %s: %w", base, err)
	}
	h := sha256.Sum256([]byte(maps.UID.String() + "/" + maps.GID.String()))
	key := img.Digest.Encoded() + "-" + hex.EncodeToString(h[:6])
	final := filepath.Join(base, key)
	if _, err := os.Stat(final); err == nil {
		return final, nil
	}
	// One unpack per image at a time; the lock dies with its holder.
	lock, err := os.OpenFile(final+".lock", os.O_CREATE|os.O_RDWR|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return "", fmt.Errorf("locking %s: %w", final, err)
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		return "", fmt.Errorf("locking %s: %w", final, err)
	}
	if _, err := os.Stat(final); err == nil {
		return final, nil // another urun finished it while we waited
	}
	partial := final + ".partial"
	if err := runUnpack(UnpackRequest{Dir: partial, Layers: img.Layers, SquashIDs: len(maps.UID) == 1 && maps.UID[0].Size == 1}, maps, helperExe); err != nil {
		return "", err
	}
	if err := os.Rename(partial, final); err != nil {
		return "", fmt.Errorf("publishing unpacked image: %w", err)
	}
	return final, nil
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
		os.Remove(strings.TrimSuffix(dir, ".partial") + ".lock")
	}
	return nil
}

// runUnpack runs the unpack helper in a user namespace with maps.
func runUnpack(req UnpackRequest, maps userns.Maps, helperExe string) error {
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
		return fmt.Errorf("starting the unpack helper: %w", err)
	}
	defer child.Conn.Close()
	err = child.Conn.Send(MsgUnpack, req)
	if err == nil {
		err = child.Conn.WaitFor(MsgUnpacked, unpackTimeout, nil)
	}
	if err != nil {
		child.Cmd.Process.Kill()
	}
	werr := child.Cmd.Wait()
	if err != nil {
		var pe *userns.PeerError
		if errors.As(err, &pe) {
			return fmt.Errorf("unpacking image: %s", pe.Msg)
		}
		return fmt.Errorf("unpacking image: %w", err)
	}
	if werr != nil {
		return fmt.Errorf("unpack helper: %w", werr)
	}
	return nil
}

// UnpackCommand is the hidden urun subcommand that runs UnpackMain.
const UnpackCommand = "__unpack"
