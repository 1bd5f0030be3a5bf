package store

import (
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"

	digest "github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"
)

// openRegular opens p for reading and makes sure it is a regular file.
// O_NONBLOCK keeps a FIFO from blocking the open; a device (/dev/zero), a
// FIFO or a socket planted in a hostile layout is refused before a byte is
// read. The flag does nothing to reads of a regular file.
func openRegular(p string, flags int) (*os.File, error) {
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NONBLOCK|flags, 0)
	if err != nil {
		return nil, openError(p, err)
	}
	return regular(fd, p)
}

// openBlob opens the blob d of the OCI layout at dir: a regular file at
// blobs/ALG/HEX, reached without following any symlink below dir (a blob
// that is a link to /dev/zero or to a file outside the layout is refused).
func openBlob(dir string, d digest.Digest) (*os.File, error) {
	if err := d.Validate(); err != nil {
		return nil, fmt.Errorf("invalid digest %q: %w", d, err)
	}
	rel := filepath.Join("blobs", d.Algorithm().String(), d.Encoded())
	p := filepath.Join(dir, rel)
	dirFD, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, openError(dir, err)
	}
	defer unix.Close(dirFD)
	fd, err := unix.Openat2(dirFD, rel, &unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_CLOEXEC | unix.O_NONBLOCK | unix.O_NOFOLLOW,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	})
	if errors.Is(err, unix.ENOSYS) {
		// Before Linux 5.6: at least the blob itself is no symlink.
		return openRegular(p, unix.O_NOFOLLOW)
	}
	if errors.Is(err, unix.ELOOP) {
		return nil, fmt.Errorf("blob %s is a symbolic link (or lies behind one) in the layout: refusing it; a layout's blobs must be regular files", d)
	}
	if err != nil {
		return nil, openError(p, err)
	}
	return regular(fd, p)
}

func regular(fd int, p string) (*os.File, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("reading %s: %w", p, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		unix.Close(fd)
		return nil, fmt.Errorf("%s is not a regular file (a device, FIFO, socket or directory): refusing it", p)
	}
	return os.NewFile(uintptr(fd), p), nil
}

func openError(p string, err error) error {
	switch {
	case errors.Is(err, unix.ENOENT):
		return fmt.Errorf("%s does not exist", p)
	case errors.Is(err, unix.ELOOP):
		return fmt.Errorf("%s is a symbolic link: refusing it; a layout's blobs must be regular files", p)
	}
	return fmt.Errorf("opening %s: %w", p, err)
}

// verifiedReader reads exactly size bytes of a blob and hashes them as
// they pass: its last read returns an error instead of io.EOF when the
// blob is shorter than its descriptor says or does not match its digest,
// so whoever consumes it fails at the end of the bytes, never reading
// more than the manifest declared.
type verifiedReader struct {
	r       io.Reader
	h       hash.Hash
	d       digest.Digest
	size, n int64
}

func newVerifiedReader(f *os.File, d digest.Digest, size int64) (*verifiedReader, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("reading layer %s: %w", d, err)
	}
	if st.Size() != size {
		return nil, fmt.Errorf("layer %s is %d bytes, its manifest says %d: the image is corrupt, pull it again", d, st.Size(), size)
	}
	if !d.Algorithm().Available() {
		return nil, fmt.Errorf("layer %s: digest algorithm %s is not supported", d, d.Algorithm())
	}
	return &verifiedReader{r: io.LimitReader(f, size), h: d.Algorithm().Hash(), d: d, size: size}, nil
}

func (v *verifiedReader) Read(p []byte) (int, error) {
	n, err := v.r.Read(p)
	if v.h != nil {
		v.h.Write(p[:n])
	}
	v.n += int64(n)
	if err == io.EOF {
		err = v.check()
	}
	return n, err
}

// check is nil when all size bytes were read and match the digest.
func (v *verifiedReader) check() error {
	if v.n != v.size {
		return fmt.Errorf("layer %s ended after %d of its %d bytes: the image is corrupt, pull it again", v.d, v.n, v.size)
	}
	if v.h != nil && digest.NewDigestFromBytes(v.d.Algorithm(), v.h.Sum(nil)) != v.d {
		return fmt.Errorf("layer %s does not match its digest: the image is corrupt, pull it again", v.d)
	}
	return io.EOF
}
