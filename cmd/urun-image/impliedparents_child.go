package main

// A layer's tar may leave out a parent directory of its entries (the
// "stacked" and "hard" test images' layer 3 has /data/opq but no /data):
// the OCI format says the directory is then the one of the lower layers.
// containers/storage's unpacker makes such a directory in the layer's
// diff as 0777 minus the umask, owned by root, with the time of the
// unpack; in the merged view overlay shows the upper layer's directory,
// so the container saw that mode, owner and time instead of the lower
// layers' (podman does the same), and containers/storage's own check
// (`urun system check`, which builds the expected tree from the layers'
// tar headers, where the directory has the lower layer's attributes)
// reported "layer content modified" for a correct layer (podman issue
// 25101 is the same false alarm). After the unpack, each such implied
// directory is given the merged lower layers' owner, mode, extended
// attributes and times: the merged view is then what the image says, and
// the check passes. The layer's tar-split says which directories the tar
// lists, so the blob is not read again. Runs in the layer store helper,
// in the user namespace with the full mapping, in its own mount
// namespace.

import (
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	tarsplit "github.com/vbatts/tar-split/tar/storage"
	"go.podman.io/storage"
	"golang.org/x/sys/unix"
)

// impliedParents lists the directories layer id's tar has entries under
// but no entry for, parents first, read from its tar-split.
func impliedParents(s storage.Store, id string) ([]string, error) {
	f, err := os.Open(filepath.Join(s.GraphRoot(), "overlay-layers", id+".tar-split.gz"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("reading the tar-split of layer %s: %w", id, err)
	}
	defer gz.Close()
	entries := map[string]bool{}
	up := tarsplit.NewJSONUnpacker(gz)
	for {
		e, err := up.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading the tar-split of layer %s: %w", id, err)
		}
		if e.Type == tarsplit.FileType {
			entries[cleanTarPath(e.GetName())] = true
		}
	}
	implied := map[string]bool{}
	for e := range entries {
		for d := path.Dir(e); d != "." && d != "/" && d != "" && !entries[d] && !implied[d]; d = path.Dir(d) {
			implied[d] = true
		}
	}
	out := make([]string, 0, len(implied))
	for d := range implied {
		out = append(out, d)
	}
	sort.Strings(out)
	return out, nil
}

// mergedLowers is the merged view of layer parent and the layers below
// it: parent's diff directory when it is the base, else a read-only
// overlay mount of their diff directories, undone by the returned func.
func mergedLowers(s storage.Store, parent string) (string, func(), error) {
	var lowers []string // topmost first
	for p := parent; p != ""; {
		pl, err := s.Layer(p)
		if err != nil {
			return "", nil, err
		}
		lowers = append(lowers, filepath.Join(s.GraphRoot(), "overlay", p, "diff"))
		p = pl.Parent
	}
	if len(lowers) == 1 {
		return lowers[0], func() {}, nil
	}
	m, err := os.MkdirTemp(s.RunRoot(), "urun-lower-")
	if err != nil {
		return "", nil, err
	}
	if err := unix.Mount("overlay", m, "overlay", unix.MS_RDONLY, "lowerdir="+strings.Join(lowers, ":")+",userxattr"); err != nil {
		os.Remove(m)
		return "", nil, fmt.Errorf("mounting the lower layers: %w", err)
	}
	return m, func() {
		unix.Unmount(m, unix.MNT_DETACH)
		os.Remove(m)
	}, nil
}

// pendingMark is the file that says layer id was stored and its
// implied directories may not have been fixed yet: made before PutLayer,
// removed after fixImpliedParents. A kill between the two leaves it, and
// the next import of the layer or `urun system check` (before the
// library's check) does the fix then; without it the check would report
// the layer until the next pull.
func pendingMark(s storage.Store, id string) string {
	return filepath.Join(s.GraphRoot(), "urun-pending", id)
}

func markPending(s storage.Store, id string) error {
	if err := os.MkdirAll(filepath.Dir(pendingMark(s, id)), 0o700); err != nil {
		return err
	}
	return os.WriteFile(pendingMark(s, id), nil, 0o600)
}

// finishPending fixes the stored layers a killed import left marked, and
// drops the marks of layers that are gone.
func finishPending(s storage.Store) error {
	ents, err := os.ReadDir(filepath.Join(s.GraphRoot(), "urun-pending"))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	}
	for _, e := range ents {
		l, err := s.Layer(e.Name())
		if err == nil && l.Flags["incomplete"] == nil {
			if err := fixImpliedParents(s, l.ID, l.Parent); err != nil {
				return err
			}
		}
		if err := os.Remove(pendingMark(s, e.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

// fixImpliedParents gives each directory of layer id (on parent) that
// its tar does not list the lower layers' metadata, where the lower
// layers have that directory. Doing it again changes nothing, so a
// stored layer is fixed when an import finds it (one left by a kill
// between the unpack and the fix).
func fixImpliedParents(s storage.Store, id, parent string) error {
	if parent == "" {
		// No lower layer says what the directory is.
		return nil
	}
	dirs, err := impliedParents(s, id)
	if err != nil || len(dirs) == 0 {
		return err
	}
	diff := filepath.Join(s.GraphRoot(), "overlay", id, "diff")
	var todo []string
	for _, d := range dirs {
		var have unix.Stat_t
		if err := unix.Lstat(filepath.Join(diff, d), &have); err != nil || have.Mode&unix.S_IFMT != unix.S_IFDIR {
			continue
		}
		todo = append(todo, d)
	}
	if len(todo) == 0 {
		return nil
	}
	merged, done, err := mergedLowers(s, parent)
	if err != nil {
		return fmt.Errorf("giving layer %.12s's implied directories the lower layers' metadata: %w", id, err)
	}
	defer done()
	c := &copyUp{from: merged, to: diff}
	for _, d := range todo {
		var st, have unix.Stat_t
		if unix.Lstat(filepath.Join(merged, d), &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR {
			continue // not in the lower layers: the unpacker's directory stays
		}
		if unix.Lstat(filepath.Join(diff, d), &have) != nil {
			continue
		}
		if have.Uid == st.Uid && have.Gid == st.Gid && have.Mode == st.Mode && have.Mtim == st.Mtim {
			continue
		}
		if err := c.meta(d, &st); err != nil {
			return fmt.Errorf("giving %s in layer %.12s the lower layers' metadata: %w", d, id, err)
		}
		if err := c.times(d); err != nil {
			return fmt.Errorf("giving %s in layer %.12s the lower layers' times: %w", d, id, err)
		}
	}
	return nil
}
