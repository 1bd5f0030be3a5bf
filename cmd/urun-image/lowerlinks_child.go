package main

// A hard link in one layer to a file of a lower layer (the OCI format
// allows it; the "hard" test image has one): containers/storage's
// overlay driver unpacks each layer into a directory of its own, where
// the link's target does not exist, and fails with ENOENT, as podman
// does. urun stores such a layer anyway, exactly as the image says: the
// layer is created empty, the target (and every other name the target's
// file has in the image so far) is copied up into it from the merged
// lower layers, with its owner, mode, times and extended attributes, so
// that the link's names share one file in the merged view as the image
// says; each parent directory the layer's tar does not list is made with
// the lower layers' metadata (containers/storage would make it 0755 and
// owned by root); then the layer's own tar is applied on top of that. The
// tar stream is the layer's, unchanged: containers/storage records the
// same diff id and tar-split, so podman reads the layer and
// `urun system check` verifies it. Runs in the layer store helper, in
// the user namespace with the full mapping, in its own mount namespace.

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	digest "github.com/opencontainers/go-digest"
	"go.podman.io/storage"
	"go.podman.io/storage/pkg/archive"
	"golang.org/x/sys/unix"

	"github.com/urun-dev/urun/store"
)

// errNoLowerLinks: the layer's failure is not a hard link to a lower
// layer's file.
var errNoLowerLinks = errors.New("no hard link to a lower layer")

// layerTarScan is what storing a layer with lower links needs from its
// tar: every entry's path, and the hard links whose target is not an
// earlier entry of the same tar.
type layerTarScan struct {
	entries map[string]bool
	lower   []string // link targets found in no earlier entry
}

func cleanTarPath(p string) string {
	return strings.TrimPrefix(path.Clean("/"+p), "/")
}

func scanLayerTar(l store.Layer) (*layerTarScan, error) {
	b, err := store.OpenLayerBlob(l)
	if err != nil {
		return nil, err
	}
	defer b.Close()
	r, err := archive.DecompressStream(b)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	sc := &layerTarScan{entries: map[string]bool{}}
	seen := map[string]bool{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading layer %s: %w", l.Digest, err)
		}
		name := cleanTarPath(h.Name)
		sc.entries[name] = true
		if h.Typeflag == tar.TypeLink {
			t := cleanTarPath(h.Linkname)
			if !sc.entries[t] && !seen[t] {
				seen[t] = true
				sc.lower = append(sc.lower, t)
			}
		}
	}
	return sc, nil
}

// putLayerWithLowerLinks stores layer l (diff id diffID) as id on parent
// where PutLayer failed; errNoLowerLinks when its tar has no hard link
// to a lower layer's file (the failure was something else).
func putLayerWithLowerLinks(s storage.Store, id, parent string, l store.Layer, diffID digest.Digest) (err error) {
	if parent == "" {
		return errNoLowerLinks
	}
	sc, err := scanLayerTar(l)
	if err != nil {
		return err
	}
	if len(sc.lower) == 0 {
		return errNoLowerLinks
	}
	merged, done, err := mergedLowers(s, parent)
	if err != nil {
		return fmt.Errorf("copying a hard link's target up: %w", err)
	}
	defer done()
	if _, err := s.CreateLayer(id, parent, nil, "", false, nil); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			s.DeleteLayer(id)
		}
	}()
	diff := filepath.Join(s.GraphRoot(), "overlay", id, "diff")
	c := &copyUp{from: merged, to: diff, made: map[string]bool{}}
	for _, t := range sc.lower {
		if err := c.file(t); err != nil {
			return fmt.Errorf("copying %s up for the hard link to it: %w", t, err)
		}
	}
	for e := range sc.entries {
		for d := path.Dir(e); d != "." && d != "/" && !sc.entries[d]; d = path.Dir(d) {
			if err := c.dir(d); err != nil {
				return err
			}
		}
	}
	b, err := store.OpenLayerBlob(l)
	if err != nil {
		return err
	}
	defer b.Close()
	if _, err := s.ApplyDiff(id, b); err != nil {
		return err
	}
	if err := b.Finish(); err != nil {
		return err
	}
	// Adding entries moved the made directories' times: set them again.
	for d := range c.made {
		if sc.entries[d] {
			continue // the tar's own times
		}
		if err := c.times(d); err != nil {
			return err
		}
	}
	have, err := s.Layer(id)
	if err != nil {
		return err
	}
	if have.UncompressedDigest != diffID {
		return fmt.Errorf("layer %s unpacks to %s, the image's config says %s: the image is corrupt, pull it again", l.Digest, have.UncompressedDigest, diffID)
	}
	return nil
}

// copyUp copies paths of the merged lower layers (from) into a new
// layer's directory (to).
type copyUp struct {
	from, to string
	made     map[string]bool // directories made, whose times to set last
}

// dir makes directory d (and its parents) in the new layer as the lower
// layers have it, unless it is there.
func (c *copyUp) dir(d string) error {
	if d == "." || d == "/" || d == "" {
		return nil
	}
	dst := filepath.Join(c.to, d)
	if _, err := os.Lstat(dst); err == nil {
		return nil
	}
	var st unix.Stat_t
	if err := unix.Lstat(filepath.Join(c.from, d), &st); err != nil {
		// Not in the lower layers either: the layer's tar makes it.
		return nil
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return nil
	}
	if err := c.dir(path.Dir(d)); err != nil {
		return err
	}
	if err := unix.Mkdir(dst, st.Mode&0o7777); err != nil {
		return err
	}
	c.made[d] = true
	return c.meta(d, &st)
}

// file copies regular file t up, with the other names its file has in
// the merged lower layers as hard links to the copy.
func (c *copyUp) file(t string) error {
	var st unix.Stat_t
	src := filepath.Join(c.from, t)
	if err := unix.Lstat(src, &st); err != nil {
		return fmt.Errorf("the hard link's target is in no lower layer: %w", err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return fmt.Errorf("the hard link's target is not a regular file (mode %o)", st.Mode)
	}
	names := []string{t}
	if st.Nlink > 1 {
		// The other names of the same file, wherever they are.
		err := filepath.WalkDir(c.from, func(p string, d os.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() || p == src {
				return nil
			}
			var o unix.Stat_t
			if unix.Lstat(p, &o) == nil && o.Ino == st.Ino && o.Dev == st.Dev {
				rel, _ := filepath.Rel(c.from, p)
				names = append(names, rel)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	for _, n := range names {
		if err := c.dir(path.Dir(n)); err != nil {
			return err
		}
	}
	dst := filepath.Join(c.to, t)
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := c.meta(t, &st); err != nil {
		return err
	}
	if err := c.times(t); err != nil {
		return err
	}
	for _, n := range names[1:] {
		if err := os.Link(dst, filepath.Join(c.to, n)); err != nil {
			return err
		}
	}
	return nil
}

// meta gives p in the new layer the lower layers' owner, mode and
// extended attributes (overlay's own excepted).
func (c *copyUp) meta(p string, st *unix.Stat_t) error {
	src, dst := filepath.Join(c.from, p), filepath.Join(c.to, p)
	if err := unix.Lchown(dst, int(st.Uid), int(st.Gid)); err != nil {
		return err
	}
	// After chown, which clears setuid and setgid.
	if err := unix.Chmod(dst, st.Mode&0o7777); err != nil {
		return err
	}
	sz, err := unix.Llistxattr(src, nil)
	if err != nil || sz <= 0 {
		return nil
	}
	buf := make([]byte, sz)
	sz, err = unix.Llistxattr(src, buf)
	if err != nil {
		return nil
	}
	for _, name := range strings.Split(strings.TrimRight(string(buf[:sz]), "\x00"), "\x00") {
		if name == "" || strings.HasPrefix(name, "user.overlay.") || strings.HasPrefix(name, "trusted.overlay.") {
			continue
		}
		n, err := unix.Lgetxattr(src, name, nil)
		if err != nil {
			continue
		}
		v := make([]byte, n)
		if n, err = unix.Lgetxattr(src, name, v); err != nil {
			continue
		}
		if err := unix.Lsetxattr(dst, name, v[:n], 0); err != nil {
			return fmt.Errorf("copying extended attribute %s of %s: %w", name, p, err)
		}
	}
	return nil
}

// times gives p in the new layer the lower layers' access and
// modification times.
func (c *copyUp) times(p string) error {
	var st unix.Stat_t
	if err := unix.Lstat(filepath.Join(c.from, p), &st); err != nil {
		return err
	}
	ts := []unix.Timespec{st.Atim, st.Mtim}
	return unix.UtimesNanoAt(unix.AT_FDCWD, filepath.Join(c.to, p), ts, unix.AT_SYMLINK_NOFOLLOW)
}
