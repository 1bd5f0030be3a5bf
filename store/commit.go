package store

// Writing new blobs into the store's OCI layout for `urun commit`
// (urun-image's commit, in a user namespace, with Lock held): each blob
// is written to tmp/, synced and renamed to its digest, so a reader
// never sees half a blob and a killed writer leaves only tmp/ (which
// ClearTmp removes) or a whole blob no index entry refers to (which the
// next Remove collects).

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	digest "github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"
)

// PutBlob writes what write produces as a blob and returns its digest
// and size; created is false when the store had that blob already. The
// caller holds Lock.
func (s *Store) PutBlob(write func(w io.Writer) error) (d digest.Digest, size int64, created bool, err error) {
	tmpDir := filepath.Join(s.Dir, "tmp")
	if err := os.MkdirAll(tmpDir, 0o700); err != nil {
		return "", 0, false, err
	}
	f, err := os.CreateTemp(tmpDir, "commit-")
	if err != nil {
		return "", 0, false, err
	}
	defer func() {
		f.Close()
		if err != nil {
			os.Remove(f.Name())
		}
	}()
	h := sha256.New()
	cw := &countWriter{w: io.MultiWriter(f, h)}
	if err := write(cw); err != nil {
		return "", 0, false, err
	}
	if err := f.Sync(); err != nil {
		return "", 0, false, err
	}
	d = digest.NewDigest(digest.SHA256, h)
	p, err := blobPath(s.Dir, d)
	if err != nil {
		return "", 0, false, err
	}
	if _, err := os.Lstat(p); err == nil {
		os.Remove(f.Name())
		return d, cw.n, false, nil
	}
	if err := os.Rename(f.Name(), p); err != nil {
		return "", 0, false, err
	}
	return d, cw.n, true, nil
}

// RemoveBlob deletes blob d (one PutBlob created for an image that
// could not be completed). The caller holds Lock.
func (s *Store) RemoveBlob(d digest.Digest) error {
	p, err := blobPath(s.Dir, d)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing blob %s: %w", d, err)
	}
	return nil
}

// BlobFile is the path of blob d.
func (s *Store) BlobFile(d digest.Digest) (string, error) { return blobPath(s.Dir, d) }

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// FreeSpaceError is a write into the store that ran out of disk.
func FreeSpaceError(dir string, err error) error {
	if errors.Is(err, unix.ENOSPC) || errors.Is(err, unix.EDQUOT) {
		return fmt.Errorf("no space left in the data directory %s: free space there, or use a filesystem with room with --data-dir DIR", filepath.Dir(dir))
	}
	return err
}
