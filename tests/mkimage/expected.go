package main

import (
	"fmt"
	"path"
	"sort"
	"strings"
)

// expectedCmd is run inside a container to list the merged tree. It prints
// only fields that depend on the image, not on the filesystem underneath:
//   - directories show "-" for link count and size (both differ between
//     overlay, vfs, tmpfs, ...);
//   - only regular files show a size;
//   - /root is pruned so the listing works unchanged as uid 1000 (it is 0700);
//   - files that runtimes bind-mount into /etc are skipped.
//
// Output is sorted bytewise (busybox sort in the C locale).
const expectedCmd = `find /data /etc /home /root /tmp \( ! -path /root -o -prune \) ` +
	`! -path /etc/hosts ! -path /etc/hostname ! -path /etc/resolv.conf ` +
	`\( -type d -exec stat -c '%n|%u|%g|%a|%F|-|-|%N' {} \; ` +
	`-o -type f -exec stat -c '%n|%u|%g|%a|%F|%h|%s|%N' {} \; ` +
	`-o -exec stat -c '%n|%u|%g|%a|%F|%h|-|%N' {} \; \) | sort`

// expectedRoots are the starting points of expectedCmd.
var expectedRoots = []string{"/data", "/etc", "/home", "/root", "/tmp"}

// expectedSkip are the paths expectedCmd excludes.
var expectedSkip = map[string]bool{"/etc/hosts": true, "/etc/hostname": true, "/etc/resolv.conf": true}

// inode is one filesystem object; hard links are several paths sharing one.
type inode struct {
	Type     entryType // never typeHardlink
	Mode     int64
	UID, GID int
	Size     int64
	Target   string // symlink target
}

// tree is a merged root filesystem, keyed by absolute clean path.
type tree map[string]*inode

func newTree() tree {
	return tree{"/": {Type: typeDir, Mode: 0o755}}
}

// applyLayers merges layers in order, as a runtime's unpacker should.
func applyLayers(layers []layer) (tree, error) {
	t := newTree()
	for i, l := range layers {
		if err := t.apply(l.Entries); err != nil {
			return nil, fmt.Errorf("layer %d: %w", i+1, err)
		}
	}
	return t, nil
}

// apply merges one layer. Whiteouts only hide lower-layer content (OCI image
// spec, "Whiteouts"), so they are all applied before any entry of the same
// layer is added; this makes the result independent of tar member order.
func (t tree) apply(entries []entry) error {
	for _, e := range entries {
		base := path.Base(e.Path)
		parent := path.Dir(e.Path)
		switch {
		case base == opaqueMarker:
			t.removeChildren(parent)
		case strings.HasPrefix(base, whiteoutPrefix):
			t.remove(path.Join(parent, strings.TrimPrefix(base, whiteoutPrefix)))
		}
	}
	for _, e := range sortedEntries(entries) {
		if strings.HasPrefix(path.Base(e.Path), whiteoutPrefix) {
			continue
		}
		if err := t.add(e); err != nil {
			return err
		}
	}
	return nil
}

func (t tree) add(e entry) error {
	if e.Path != path.Clean(e.Path) || !path.IsAbs(e.Path) || e.Path == "/" {
		return fmt.Errorf("%s: path must be absolute, clean and not /", e.Path)
	}
	if p := t[path.Dir(e.Path)]; p == nil || p.Type != typeDir {
		return fmt.Errorf("%s: parent directory missing", e.Path)
	}

	old := t[e.Path]
	// Directory over directory only replaces attributes and keeps the
	// children; anything else replaces the old object entirely.
	if old != nil && old.Type == typeDir && e.Type == typeDir {
		old.Mode, old.UID, old.GID = e.Mode, e.UID, e.GID
		return nil
	}

	var n *inode
	switch e.Type {
	case typeHardlink:
		n = t[e.Linkname]
		if n == nil {
			return fmt.Errorf("%s: hard link target %s missing", e.Path, e.Linkname)
		}
		if n.Type == typeDir {
			return fmt.Errorf("%s: hard link target %s is a directory", e.Path, e.Linkname)
		}
		// Unpackers apply the link header's attributes to the shared inode,
		// so differing values would change the target behind our back.
		if n.Mode != e.Mode || n.UID != e.UID || n.GID != e.GID {
			return fmt.Errorf("%s: hard link mode/owner differ from target %s", e.Path, e.Linkname)
		}
	case typeDir, typeFifo:
		n = &inode{Type: e.Type, Mode: e.Mode, UID: e.UID, GID: e.GID}
	case typeFile:
		n = &inode{Type: e.Type, Mode: e.Mode, UID: e.UID, GID: e.GID, Size: int64(len(e.Content))}
	case typeSymlink:
		n = &inode{Type: e.Type, Mode: 0o777, UID: e.UID, GID: e.GID, Target: e.Linkname}
	default:
		return fmt.Errorf("%s: unknown type %d", e.Path, e.Type)
	}
	if old != nil {
		t.remove(e.Path)
	}
	t[e.Path] = n
	return nil
}

// remove deletes p and, for a directory, everything below it.
func (t tree) remove(p string) {
	delete(t, p)
	t.removeChildren(p)
}

func (t tree) removeChildren(dir string) {
	prefix := strings.TrimSuffix(dir, "/") + "/"
	for p := range t {
		if strings.HasPrefix(p, prefix) {
			delete(t, p)
		}
	}
}

// lines renders the tree as expectedCmd prints it, sorted.
func (t tree) lines() []string {
	nlink := map[*inode]int{}
	for _, n := range t {
		nlink[n]++
	}
	var out []string
	for p, n := range t {
		if !underRoots(p) || expectedSkip[p] {
			continue
		}
		out = append(out, statLine(p, n, nlink[n]))
	}
	sort.Strings(out)
	return out
}

func underRoots(p string) bool {
	for _, r := range expectedRoots {
		if p == r || strings.HasPrefix(p, r+"/") {
			return true
		}
	}
	return false
}

// statLine matches busybox stat: %a is octal without a leading zero and
// includes the setuid/setgid/sticky bits; %N quotes only symlinks.
func statLine(p string, n *inode, nlink int) string {
	prefix := fmt.Sprintf("%s|%d|%d|%o|", p, n.UID, n.GID, n.Mode&0o7777)
	switch n.Type {
	case typeDir:
		return prefix + "directory|-|-|" + p
	case typeFile:
		kind := "regular file"
		if n.Size == 0 {
			kind = "regular empty file"
		}
		return prefix + fmt.Sprintf("%s|%d|%d|%s", kind, nlink, n.Size, p)
	case typeSymlink:
		return prefix + fmt.Sprintf("symbolic link|%d|-|'%s' -> '%s'", nlink, p, n.Target)
	case typeFifo:
		return prefix + fmt.Sprintf("fifo|%d|-|%s", nlink, p)
	}
	return prefix + "unknown"
}

// expectedFile is the content of expected.txt: the command, then the lines.
func expectedFile(t tree) string {
	var b strings.Builder
	b.WriteString("# cmd: " + expectedCmd + "\n")
	for _, l := range t.lines() {
		b.WriteString(l + "\n")
	}
	return b.String()
}
