package store

import (
	"errors"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// tryExclusive reports whether an exclusive lock on p could be had now.
func tryExclusive(t *testing.T, p string) bool {
	t.Helper()
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) == nil
}

func TestPinKeepsRmiOut(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	addImage(t, s, "localhost/pinned:1", "a")
	img, err := s.Resolve("localhost/pinned:1", "never", nil)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := s.pinPath(img.Digest)
	if tryExclusive(t, p) {
		t.Fatal("a resolved image is not pinned: rmi could remove it")
	}
	img.Release()
	if !tryExclusive(t, p) {
		t.Fatal("Release left the pin held")
	}

	// rmi refuses through InUse: nothing changes.
	refused := errors.New("in use")
	if _, err := s.RemoveWith("localhost/pinned:1", RemoveHooks{InUse: func(Digest) error { return refused }}); err != refused {
		t.Fatalf("RemoveWith: %v, want the InUse error", err)
	}
	if _, err := s.Lookup("localhost/pinned:1"); err != nil {
		t.Fatalf("a refused rmi removed the image: %v", err)
	}

	// A removal with Gone: blobs go, the pin file goes, a late pin finds
	// nothing.
	var goneDigest Digest
	gone, err := s.RemoveWith("localhost/pinned:1", RemoveHooks{Gone: func(d Digest) error { goneDigest = d; return nil }})
	if err != nil || len(gone) != 1 || goneDigest != img.Digest {
		t.Fatalf("RemoveWith: gone %v, Gone got %s, err %v", gone, goneDigest, err)
	}
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Errorf("the pin file of a removed image is left: %v", err)
	}
	if blobCount(t, s) != 0 {
		t.Errorf("%d blobs left", blobCount(t, s))
	}
	if _, err := s.Resolve("localhost/pinned:1", "never", nil); !errors.Is(err, ErrNotFound) {
		t.Errorf("Resolve after rmi: %v, want ErrNotFound", err)
	}
}

// A pin taken on an image rmi already removed (a run that looked it up
// just before) sees it unlisted, and its pin file can be dropped; the
// run-against-rmi race itself is tests/integration/rmi_test.go's.
func TestPinAfterRemoval(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	addImage(t, s, "localhost/late:1", "b")
	img, err := s.Lookup("localhost/late:1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Remove("localhost/late:1"); err != nil {
		t.Fatal(err)
	}
	if err := s.Pin(img); err != nil {
		t.Fatal(err)
	}
	defer img.Release()
	index, _ := s.readIndex()
	if stillListed(index, img.Digest) {
		t.Fatal("removed image still listed")
	}
	if _, err := s.lookupPinned("localhost/late:1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("lookupPinned of a removed image: %v", err)
	}
	img.Release()
	// A failed lookup leaves no pin file behind.
	img2 := &Image{Digest: img.Digest}
	p, _ := s.pinPath(img.Digest)
	if err := s.Pin(img2); err != nil {
		t.Fatal(err)
	}
	img2.Release()
	dropPin(p)
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Errorf("dropPin left %s: %v", p, err)
	}
}

// lockPath never hands out a lock on a file that was removed meanwhile.
func TestLockPathRetriesRemovedFile(t *testing.T) {
	p := t.TempDir() + "/l"
	a, err := lockPath(p, unix.LOCK_EX)
	if err != nil {
		t.Fatal(err)
	}
	removeLocked(a)
	b, err := lockPath(p, unix.LOCK_EX)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var held, named unix.Stat_t
	unix.Fstat(int(b.Fd()), &held)
	if err := unix.Stat(p, &named); err != nil || held.Ino != named.Ino {
		t.Errorf("lock not on the file at %s", p)
	}
}
