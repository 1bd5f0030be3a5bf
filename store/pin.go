package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	v1 "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"
)

// A pin keeps an image's blobs and unpacked root filesystems in place
// while a `urun run` goes from looking the image up to registering its
// container: a shared flock on images/pins/DIGEST, which `urun rmi` takes
// exclusively before it deletes anything of that image. Once the container
// is registered the pin is released, and rmi sees the container instead.
//
// Pins are per image, and apart from the writers' lock (Lock): a run
// takes no lock a pull holds, so a long pull never holds up a container
// start and a start (even one that unpacks) never holds up a pull; only
// rmi of the very image waits for the starts that already found it.

// lockPath opens p (creating it) and flocks it with how (LOCK_SH or
// LOCK_EX). A lock file may be removed by its holder (removeLocked); a
// waiter that then got the lock on the removed file tries again on the
// new one, so two holders never each think they have the only lock.
func lockPath(p string, how int) (*os.File, error) {
	for {
		f, err := os.OpenFile(p, os.O_CREATE|os.O_RDWR|unix.O_CLOEXEC, 0o600)
		if err != nil {
			return nil, err
		}
		if err := unix.Flock(int(f.Fd()), how); err != nil {
			f.Close()
			return nil, err
		}
		var held, named unix.Stat_t
		if unix.Fstat(int(f.Fd()), &held) == nil && unix.Stat(p, &named) == nil &&
			held.Ino == named.Ino && held.Dev == named.Dev {
			return f, nil
		}
		f.Close()
	}
}

// removeLocked deletes the lock file f holds, then releases it.
func removeLocked(f *os.File) {
	os.Remove(f.Name())
	f.Close()
}

func (s *Store) pinPath(d Digest) (string, error) {
	if err := d.Validate(); err != nil {
		return "", err
	}
	dir := filepath.Join(s.Dir, "pins")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("creating %s: %w", dir, err)
	}
	return filepath.Join(dir, d.Encoded()), nil
}

// Pin pins img (see above) until img.Release. Resolve pins the images it
// returns; a layout used in place (oci:DIR) is pinned with this, since
// its unpacked tree lives in this store's rootfs directory too.
func (s *Store) Pin(img *Image) error {
	p, err := s.pinPath(img.Digest)
	if err != nil {
		return err
	}
	f, err := lockPath(p, unix.LOCK_SH)
	if err != nil {
		return fmt.Errorf("pinning image %s: %w", img.Digest.Encoded()[:12], err)
	}
	img.pin = f
	return nil
}

// Release ends img's pin; it is a no-op for an image not pinned.
func (img *Image) Release() {
	if img != nil && img.pin != nil {
		img.pin.Close()
		img.pin = nil
	}
}

// lookupPinned is Lookup, pinned: it pins the image it found and then
// checks the store still has it, since an rmi may have removed it between
// the lookup and the pin (rmi removes under an exclusive pin, so once the
// pin is held and the image still listed, it stays).
func (s *Store) lookupPinned(name string) (*Image, error) {
	for attempt := 1; ; attempt++ {
		img, err := s.Lookup(name)
		if err != nil {
			return nil, err
		}
		if err := s.Pin(img); err != nil {
			return nil, err
		}
		index, err := s.readIndex()
		if err != nil {
			img.Release()
			return nil, err
		}
		if stillListed(index, img.Digest) {
			return img, nil
		}
		img.Release()
		if p, err := s.pinPath(img.Digest); err == nil {
			dropPin(p)
		}
		if attempt == 3 {
			full, _ := NormalizeName(name)
			if full == "" {
				full = name
			}
			return nil, fmt.Errorf("%s: %w (it was removed while starting)", full, ErrNotFound)
		}
		// The name may have moved to another image meanwhile: look again.
	}
}

// RemoveHooks let the caller act on an image that is about to go, while
// Remove holds the store's lock and the image's pin exclusively.
type RemoveHooks struct {
	// InUse runs before anything is removed, when no other name keeps
	// the image; an error leaves the store unchanged.
	InUse func(d Digest) error
	// Gone runs after the image's blobs are deleted (its unpacked root
	// filesystems go here); its error is returned with the digest.
	Gone func(d Digest) error
	// Unlisted runs, after Gone, for every other image that still has
	// unpacked trees but no name any more (a tag, pull or load moved its
	// name to another image) and that no run is starting from: the
	// caller removes its trees unless containers use them.
	Unlisted func(d Digest) error
}

// unlistedTrees returns the images with trees in the data directory's
// rootfs/ that index does not list but whose manifest is still in the
// store: images this store held whose name moved on. (A layout run in
// place, oci:DIR, has trees there too, but never blobs: its cache stays.)
// Called before collect deletes those manifests.
func (s *Store) unlistedTrees(index v1.Index) []Digest {
	ents, err := os.ReadDir(filepath.Join(filepath.Dir(s.Dir), "rootfs"))
	if err != nil {
		return nil
	}
	seen := map[Digest]bool{}
	var out []Digest
	for _, e := range ents {
		enc, _, ok := strings.Cut(e.Name(), "-")
		d := Digest("sha256:" + enc)
		if !ok || d.Validate() != nil || seen[d] || stillListed(index, d) {
			continue
		}
		if _, err := os.Stat(filepath.Join(s.Dir, "blobs", "sha256", enc)); err != nil {
			continue
		}
		seen[d] = true
		out = append(out, d)
	}
	return out
}

// sweepUnlisted calls fn for each of ds (from unlistedTrees) that no run
// holds a pin on, with its pin held exclusively meanwhile.
func (s *Store) sweepUnlisted(ds []Digest, fn func(Digest) error) error {
	var errs []error
	for _, d := range ds {
		p, err := s.pinPath(d)
		if err != nil {
			continue
		}
		f, err := lockPath(p, unix.LOCK_EX|unix.LOCK_NB)
		if err != nil {
			continue // a run is starting from it
		}
		if err := fn(d); err != nil {
			errs = append(errs, err)
		}
		removeLocked(f)
	}
	return errors.Join(errs...)
}

// pinExclusive waits until no run holds a pin on d and keeps others from
// pinning it until the returned function runs, which removes the pin file
// when the image is gone.
func (s *Store) pinExclusive(d Digest) (func(gone bool), error) {
	p, err := s.pinPath(d)
	if err != nil {
		return nil, err
	}
	f, err := lockPath(p, unix.LOCK_EX)
	if err != nil {
		return nil, fmt.Errorf("waiting for containers starting from image %s: %w", d.Encoded()[:12], err)
	}
	return func(gone bool) {
		if gone {
			removeLocked(f)
			return
		}
		f.Close()
	}, nil
}

// stillListed reports whether index names the manifest d.
func stillListed(index v1.Index, d Digest) bool {
	for _, m := range index.Manifests {
		if m.Digest == d {
			return true
		}
	}
	return false
}

// pinnedUnlisted returns the images a run holds a pin on that index no
// longer lists (their name was moved or removed while the run started),
// and deletes the pin files of unlisted images nobody holds (left by a
// killed rmi, or by a run that found its image gone). removing, the image
// the caller itself pins, is skipped. Called under Lock.
func (s *Store) pinnedUnlisted(index v1.Index, removing Digest) []Digest {
	ents, err := os.ReadDir(filepath.Join(s.Dir, "pins"))
	if err != nil {
		return nil
	}
	var held []Digest
	for _, e := range ents {
		d := Digest("sha256:" + e.Name())
		if d.Validate() != nil || d == removing || stillListed(index, d) {
			continue
		}
		if !dropPin(filepath.Join(s.Dir, "pins", e.Name())) {
			held = append(held, d)
		}
	}
	return held
}

// dropPin removes the pin file p if nobody holds it, and reports whether
// it is gone: a run of an oci: layout with the same digest may hold it
// without the image being in the store. A run that opened p and flocks
// it after the removal tries again on a new file (lockPath).
func dropPin(p string) bool {
	f, err := os.OpenFile(p, os.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return errors.Is(err, fs.ErrNotExist)
	}
	if unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) == nil {
		removeLocked(f)
		return true
	}
	f.Close()
	return false
}
