package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	digest "github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"
)

// Store is urun's image store: one OCI image layout (blobs shared by every
// image, index.json naming each image by its full reference) under
// $XDG_DATA_HOME/urun/images. urun itself writes index.json, always by
// rename, so a reader never sees half of it and a killed writer leaves the
// previous one; image/v5 writes layers and configs by rename after their
// digest was checked, and manifests in place (readBlobJSON waits out a
// rewrite of one that exists).
type Store struct {
	Dir string
	// ShortNames, when set, returns the full names a short name may have
	// locally, in order (registries.conf, see shortnames.go); nil means
	// docker.io, then localhost/.
	ShortNames func(short string) ([]string, error)
}

// ErrNotFound is returned when no local image has the name asked for.
var ErrNotFound = errors.New("image not known locally")

// OpenStore returns the store under dataDir, creating its layout once.
func OpenStore(dataDir string) (*Store, error) {
	s := &Store{Dir: filepath.Join(dataDir, "images")}
	if _, err := os.Stat(filepath.Join(s.Dir, "index.json")); err == nil {
		return s, nil
	}
	if err := os.MkdirAll(filepath.Join(s.Dir, "blobs", "sha256"), 0o700); err != nil {
		return nil, fmt.Errorf("creating the image store: %w", err)
	}
	// Another urun may be creating it too, and may already have added a
	// name: write the empty index only under the lock, only if still absent.
	unlock, err := s.Lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	if _, err := os.Stat(filepath.Join(s.Dir, "index.json")); err == nil {
		return s, nil
	}
	layout, _ := json.Marshal(v1.ImageLayout{Version: v1.ImageLayoutVersion})
	if err := writeFileAtomic(filepath.Join(s.Dir, v1.ImageLayoutFile), layout); err != nil {
		return nil, err
	}
	if err := s.writeIndex(v1.Index{}); err != nil {
		return nil, err
	}
	return s, nil
}

// Lookup resolves a local image by name or by a prefix (12 or more hex
// digits) of its id, the manifest digest. It only reads small JSON files:
// this is the whole cost of a warm `urun run IMAGE`.
func (s *Store) Lookup(name string) (*Image, error) {
	for attempt := 1; ; attempt++ {
		index, err := s.readIndex()
		if err != nil {
			return nil, err
		}
		i, err := s.find(index, name)
		if err != nil {
			return nil, err
		}
		full := index.Manifests[i].Annotations[v1.AnnotationRefName]
		if full == "" {
			full = index.Manifests[i].Digest.Encoded() // an unnamed image (commit)
		}
		img, err := openManifest(name, s.Dir, index.Manifests[i])
		if err == nil {
			return img, nil
		}
		// An rmi, tag, pull or load may have moved or removed the name
		// (and an rmi deleted the blobs) between the two reads of the
		// index: only a name still on the same manifest means damage.
		now, rerr := s.readIndex()
		if rerr == nil {
			j, ferr := s.find(now, name)
			if ferr != nil {
				return nil, ferr
			}
			if now.Manifests[j].Digest != index.Manifests[i].Digest && attempt < 3 {
				continue
			}
		}
		return nil, fmt.Errorf("image %s is damaged in the store (%w): remove it with 'urun rmi %s' and pull it again", full, err, full)
	}
}

// find returns the index entry for name (a reference or an id prefix).
func (s *Store) find(index v1.Index, name string) (int, error) {
	if IsIDPrefix(name) {
		id := strings.TrimPrefix(name, "sha256:")
		hit := -1
		for i, m := range index.Manifests {
			if strings.HasPrefix(m.Digest.Encoded(), id) {
				if hit >= 0 && index.Manifests[hit].Digest != m.Digest {
					return 0, fmt.Errorf("image id %s is ambiguous: give more digits", id)
				}
				hit = i
			}
		}
		if hit >= 0 {
			return hit, nil
		}
	}
	full, err := NormalizeName(name)
	if err != nil {
		return 0, err
	}
	// As podman: a short name also finds an image named localhost/NAME
	// (tagged, loaded or pulled from a layout) and NAME in the
	// unqualified-search registries.
	names, err := s.candidates(name, full)
	if err != nil {
		return 0, err
	}
	for _, n := range names {
		for i, m := range index.Manifests {
			if m.Annotations[v1.AnnotationRefName] == n {
				return i, nil
			}
		}
	}
	if len(names) > 1 {
		return 0, fmt.Errorf("%s (looked for %s): %w", name, strings.Join(names, ", "), ErrNotFound)
	}
	return 0, fmt.Errorf("%s: %w", full, ErrNotFound)
}

// tagOf returns ":TAG" or "@DIGEST" of a normalized name.
func tagOf(full string) string {
	if i := strings.LastIndex(full, "@"); i >= 0 {
		return full[i:]
	}
	if i := strings.LastIndex(full, ":"); i > strings.LastIndex(full, "/") {
		return full[i:]
	}
	return ""
}

// IsIDPrefix reports whether name is an image id or a prefix of one (12
// or more hex digits, "sha256:" allowed), as `urun images` and podman
// print them: such a name means a local image and is never pulled.
func IsIDPrefix(name string) bool {
	id := strings.TrimPrefix(name, "sha256:")
	return len(id) >= 12 && len(id) <= 64 && isHex(id)
}

func isHex(s string) bool {
	for _, c := range s {
		if !strings.ContainsRune("0123456789abcdef", c) {
			return false
		}
	}
	return true
}

// Entry is one name in the store, for `urun images`.
type Entry struct {
	Name    string        `json:"name"`
	ID      string        `json:"id"`
	Digest  digest.Digest `json:"digest"`
	Created string        `json:"created,omitempty"`
	// Size is what the image's blobs take in the store (compressed);
	// `urun images` shows the unpacked size (engine.UnpackedSizes).
	Size int64 `json:"size"`
	// desc is the index entry.
	desc v1.Descriptor
}

// Dangling: the image has no name (docker's <none>:<none>, what commit
// without a name makes); it is known by its id.
func (e Entry) Dangling() bool { return e.Name == "" }

// Ref is a reference that finds the entry's image: its name, or the id
// of an unnamed one.
func (e Entry) Ref() string {
	if e.Name == "" {
		return e.Digest.Encoded()
	}
	return e.Name
}

// OpenEntry opens the image of a List entry.
func (s *Store) OpenEntry(e Entry) (*Image, error) { return openManifest(e.Ref(), s.Dir, e.desc) }

// List returns every name in the store, sorted.
func (s *Store) List() ([]Entry, error) {
	index, err := s.readIndex()
	if err != nil {
		return nil, err
	}
	var out []Entry
	for _, m := range index.Manifests {
		name := m.Annotations[v1.AnnotationRefName]
		e := Entry{Name: name, ID: m.Digest.Encoded()[:12], Digest: m.Digest, desc: m}
		if img, err := openManifest(name, s.Dir, m); err == nil {
			e.Size = m.Size + img.Manifest.Config.Size
			for _, l := range img.Layers {
				e.Size += l.Size
			}
			if img.Config.Created != nil {
				e.Created = img.Config.Created.UTC().Format("2006-01-02T15:04:05Z")
			}
		}
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Tag gives the image called src a second name.
func (s *Store) Tag(src, dst string) error {
	unlock, err := s.Lock()
	if err != nil {
		return err
	}
	defer unlock()
	index, err := s.readIndex()
	if err != nil {
		return err
	}
	i, err := s.find(index, src)
	if err != nil {
		return err
	}
	full, err := NormalizeName(dst)
	if err != nil {
		return err
	}
	return s.setName(index, full, index.Manifests[i])
}

// Find returns the full name of the local image name (a name or an id).
func (s *Store) Find(name string) (string, error) {
	index, err := s.readIndex()
	if err != nil {
		return "", err
	}
	i, err := s.find(index, name)
	if err != nil {
		return "", err
	}
	return index.Manifests[i].Annotations[v1.AnnotationRefName], nil
}

// AddName points full at the manifest desc, whose blobs are in the store.
// The caller holds Lock.
func (s *Store) AddName(full string, desc v1.Descriptor) error {
	index, err := s.readIndex()
	if err != nil {
		return err
	}
	return s.setName(index, full, desc)
}

// setName points full at desc in index and writes the index. An empty
// full records desc as an unnamed image (once); a name given to an
// unnamed image replaces its unnamed entry, as docker's tag does.
func (s *Store) setName(index v1.Index, full string, desc v1.Descriptor) error {
	d := v1.Descriptor{MediaType: desc.MediaType, Digest: desc.Digest, Size: desc.Size,
		Annotations: map[string]string{v1.AnnotationRefName: full}}
	if full == "" {
		d.Annotations = nil
		for _, m := range index.Manifests {
			if m.Digest == desc.Digest {
				return nil // it has a name (or is unnamed) already
			}
		}
	}
	kept := index.Manifests[:0:0]
	for _, m := range index.Manifests {
		name := m.Annotations[v1.AnnotationRefName]
		if name == "" && m.Digest == desc.Digest || name != "" && name == full {
			continue
		}
		kept = append(kept, m)
	}
	index.Manifests = append(kept, d)
	return s.writeIndex(index)
}

// Remove drops the name (or every name of an id) and deletes the blobs no
// other image uses. It returns the digests of manifests that no name refers
// to any more, whose unpacked root filesystems can go too. The index is
// written before any blob is deleted, so a kill in between leaves only
// unreferenced blobs, which the next Remove collects.
func (s *Store) Remove(name string) (gone []digest.Digest, err error) {
	return s.RemoveWith(name, RemoveHooks{})
}

// RemoveWith is Remove, calling hooks for an image that goes (pin.go).
func (s *Store) RemoveWith(name string, hooks RemoveHooks) (gone []digest.Digest, err error) {
	unlock, err := s.Lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	index, err := s.readIndex()
	if err != nil {
		return nil, err
	}
	i, err := s.find(index, name)
	if err != nil {
		return nil, err
	}
	target := index.Manifests[i]
	byID := strings.HasPrefix(target.Digest.Encoded(), strings.TrimPrefix(name, "sha256:"))
	kept := index.Manifests[:0:0]
	for j, m := range index.Manifests {
		if j == i || (byID && m.Digest == target.Digest) {
			continue
		}
		kept = append(kept, m)
	}
	index.Manifests = kept
	if stillListed(index, target.Digest) {
		if err := s.writeIndex(index); err != nil {
			return nil, err
		}
		var err error
		if hooks.Unlisted != nil {
			err = s.sweepUnlisted(s.unlistedTrees(index), hooks.Unlisted)
		}
		return nil, errors.Join(err, s.collect(index, ""))
	}
	// The image goes: wait for the runs that found it to register their
	// containers, and keep new ones out until its files are gone.
	unpin, err := s.pinExclusive(target.Digest)
	if err != nil {
		return nil, err
	}
	removed := false
	defer func() { unpin(removed) }()
	if hooks.InUse != nil {
		if err := hooks.InUse(target.Digest); err != nil {
			return nil, err
		}
	}
	if err := s.writeIndex(index); err != nil {
		return nil, err
	}
	removed = true
	gone = append(gone, target.Digest)
	// Trees first, blobs last: collect keeps the manifest of an image
	// whose trees are still there (see collect).
	var errs []error
	if hooks.Gone != nil {
		errs = append(errs, hooks.Gone(target.Digest))
	}
	if hooks.Unlisted != nil {
		others := slices.DeleteFunc(s.unlistedTrees(index), func(d Digest) bool { return d == target.Digest })
		errs = append(errs, s.sweepUnlisted(others, hooks.Unlisted))
	}
	errs = append(errs, s.collect(index, target.Digest))
	return gone, errors.Join(errs...)
}

// collect deletes blobs that no manifest in index refers to.
func (s *Store) collect(index v1.Index, removing digest.Digest) error {
	used := map[digest.Digest]bool{}
	for _, m := range index.Manifests {
		used[m.Digest] = true
		var man v1.Manifest
		if err := readBlobJSON(s.Dir, m, &man); err != nil {
			return fmt.Errorf("reading manifest %s: %w", m.Digest, err)
		}
		used[man.Config.Digest] = true
		for _, l := range man.Layers {
			used[l.Digest] = true
		}
	}
	// An image whose name moved on (tag, pull, load) but whose unpacked
	// trees are left (containers use them) keeps its manifest blob, so a
	// later rmi still knows the trees are this store's to remove
	// (unlistedTrees); a layout run in place has trees but no blobs here.
	if ents, err := os.ReadDir(filepath.Join(filepath.Dir(s.Dir), "rootfs")); err == nil {
		for _, e := range ents {
			if enc, _, ok := strings.Cut(e.Name(), "-"); ok {
				used[digest.NewDigestFromEncoded(digest.SHA256, enc)] = true
			}
		}
	}
	// A run may still be starting from an image whose name moved to
	// another one (tag, pull, load): its pin keeps its blobs.
	for _, d := range s.pinnedUnlisted(index, removing) {
		var man v1.Manifest
		if readBlobJSON(s.Dir, v1.Descriptor{Digest: d}, &man) == nil {
			used[d], used[man.Config.Digest] = true, true
			for _, l := range man.Layers {
				used[l.Digest] = true
			}
		}
	}
	dir := filepath.Join(s.Dir, "blobs", "sha256")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if !used[digest.NewDigestFromEncoded(digest.SHA256, e.Name())] {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
				return fmt.Errorf("removing unused blob: %w", err)
			}
		}
	}
	return nil
}

func (s *Store) readIndex() (v1.Index, error) {
	var index v1.Index
	err := readJSON(filepath.Join(s.Dir, "index.json"), &index)
	if err != nil {
		return index, fmt.Errorf("reading the image store's index: %w", err)
	}
	return index, nil
}

func (s *Store) writeIndex(index v1.Index) error {
	index.SchemaVersion = 2
	index.MediaType = v1.MediaTypeImageIndex
	if index.Manifests == nil {
		index.Manifests = []v1.Descriptor{}
	}
	b, err := json.Marshal(index)
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(s.Dir, "index.json"), b)
}

// Lock takes the store's writer lock: one pull, load, tag or rmi at a time.
// flock dies with its holder, so a killed urun leaves no stale lock.
func (s *Store) Lock() (func(), error) {
	f, err := os.OpenFile(filepath.Join(s.Dir, "lock"), os.O_CREATE|os.O_RDWR|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("locking the image store: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("locking the image store: %w", err)
	}
	return func() { f.Close() }, nil
}

// writeFileAtomic writes p by rename, after an fsync, so it is either the
// old or the new content after a crash.
func writeFileAtomic(p string, b []byte) error {
	tmp := p + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, p)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", p, err)
	}
	return nil
}

// ClearTmp removes what killed pulls left behind (called with Lock held).
func (s *Store) ClearTmp() error {
	err := os.RemoveAll(filepath.Join(s.Dir, "tmp"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("removing an interrupted pull's files: %w", err)
	}
	return nil
}

// Digest is an image id: the digest of its manifest.
type Digest = digest.Digest

// Resolve finds ref in the store for `urun run`, calling pull first when
// policy ("missing", "always", "never") says so; pull returns the name
// the image got. The image is pinned (pin.go) until img.Release; no pin
// is held while pull runs.
func (s *Store) Resolve(ref, policy string, pull func(ref string) (string, error)) (*Image, error) {
	switch policy {
	case "missing", "always", "never":
	default:
		return nil, fmt.Errorf("--pull %q: use missing, always or never", policy)
	}
	if policy != "always" {
		img, err := s.lookupPinned(ref)
		if err == nil || !errors.Is(err, ErrNotFound) {
			return img, err
		}
		if policy == "never" {
			return nil, fmt.Errorf("%w and --pull=never was given: run 'urun pull %s' first", err, ref)
		}
	}
	name, err := pull(ref)
	if err != nil {
		return nil, err
	}
	return s.lookupPinned(name)
}
