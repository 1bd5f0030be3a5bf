package engine

// diff and export: a container's files as layers (its writable layer
// over the image's), read with overlayfs' rules: the topmost layer that
// has a name wins, a whiteout (a 0/0 character device, or fuse-overlayfs'
// .wh.NAME) hides the name below, an opaque directory hides everything
// below it.

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/urun-dev/urun/container"
)

// Change is one line of diff: Kind A (added), C (changed) or D (deleted).
type Change struct {
	Kind byte
	Path string
}

// ctrLayers is container id's writable layer and image layers, topmost
// first, and its id mappings.
type ctrLayers struct {
	upper  string
	lowers []string
	spec   *specs.Spec
}

func layersOf(root, ref string) (*ctrLayers, *container.State, error) {
	id, st, err := Find(root, ref)
	if err != nil {
		return nil, nil, err
	}
	l := &ctrLayers{}
	l.spec, _ = container.LoadSpec(container.Dir(root, id))
	if st.Record != "" {
		if rec, err := LoadRecord(st.Record); err == nil {
			l.upper, l.lowers = rec.Rootfs.Upper, rec.Rootfs.Lower
		}
	}
	if l.upper == "" {
		if dir, err := upperDir(id); err == nil {
			l.upper = filepath.Join(dir, "upper")
		}
	}
	if len(l.lowers) == 0 && st.ImageRootfs != "" {
		l.lowers = []string{st.ImageRootfs}
	}
	if len(l.lowers) == 0 {
		return nil, nil, fmt.Errorf("container %s has no image layers urun can read (a --rootfs or --bundle container: its files are its directory's)", ref)
	}
	return l, st, nil
}

func whiteout(dir, name string, fi fs.FileInfo) bool {
	if strings.HasPrefix(name, ".wh.") {
		return true
	}
	if fi.Mode()&fs.ModeCharDevice != 0 {
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Rdev == 0 {
			return true
		}
	}
	return false
}

func opaque(full string) bool {
	for _, x := range []string{"trusted.overlay.opaque", "user.overlay.opaque"} {
		if n, _ := unix.Lgetxattr(full, x, make([]byte, 1)); n > 0 {
			return true
		}
	}
	_, err := os.Lstat(filepath.Join(full, ".wh..wh..opq"))
	return err == nil
}

// inLowers tells whether p (relative, slash-separated) is in the image's
// merged view.
func (l *ctrLayers) inLowers(p string) bool {
	for _, lower := range l.lowers {
		full := filepath.Join(lower, p)
		fi, err := os.Lstat(full)
		if err == nil {
			return !whiteout(filepath.Dir(full), filepath.Base(full), fi)
		}
		if _, err := os.Lstat(filepath.Join(lower, path.Dir(p), ".wh."+path.Base(p))); err == nil {
			return false
		}
	}
	return false
}

// Changes lists what container ref changed against its image (docker
// diff): every entry of its writable layer, in path order.
func Changes(root, ref string) ([]Change, error) {
	l, _, err := layersOf(root, ref)
	if err != nil {
		return nil, err
	}
	// Mount points the runtime made in the writable layer are not the
	// container's changes (podman does not list them either).
	mountPoints := map[string]bool{"/etc/hostname": true, "/etc/hosts": true, "/etc/resolv.conf": true, "/run/.containerenv": true}
	if l.spec != nil {
		for _, m := range l.spec.Mounts {
			mountPoints[path.Clean(m.Destination)] = true
		}
	}
	var out []Change
	var unreadable []string
	err = filepath.WalkDir(l.upper, func(full string, de fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrPermission) {
				unreadable = append(unreadable, full)
				return nil
			}
			if full == l.upper && errors.Is(err, fs.ErrNotExist) {
				return fs.SkipAll // no writes yet
			}
			return err
		}
		if full == l.upper {
			return nil
		}
		rel, _ := filepath.Rel(l.upper, full)
		p := "/" + filepath.ToSlash(rel)
		name := de.Name()
		if name == ".wh..wh..opq" {
			return nil
		}
		fi, err := de.Info()
		if err != nil {
			return nil
		}
		if mountPoints[p] && !l.inLowers(rel) {
			if de.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if whiteout(filepath.Dir(full), name, fi) {
			out = append(out, Change{'D', path.Join(path.Dir(p), strings.TrimPrefix(name, ".wh."))})
			return nil
		}
		kind := byte('A')
		if l.inLowers(rel) {
			kind = 'C'
		}
		out = append(out, Change{kind, p})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("diff: %w", err)
	}
	if len(unreadable) > 0 {
		return out, fmt.Errorf("diff: %d directories of the writable layer are not readable from outside the container (mode 0700 of another container user): %s", len(unreadable), unreadable[0])
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	// A directory added only to hold the runtime's mount points (/run
	// for /run/.containerenv) is not the container's change either.
	parents := map[string]bool{}
	for m := range mountPoints {
		for d := path.Dir(m); d != "/"; d = path.Dir(d) {
			parents[d] = true
		}
	}
	kept := out[:0]
	for i, c := range out {
		if c.Kind == 'A' && parents[c.Path] && (i+1 == len(out) || !strings.HasPrefix(out[i+1].Path, c.Path+"/")) {
			continue
		}
		kept = append(kept, c)
	}
	return kept, nil
}

// Export writes container ref's whole filesystem to w as a tar (docker
// export): the running root when it runs, else its layers merged. Owners
// are the container's ids (mapped back through its id mappings).
func Export(root, ref string, w io.Writer) error {
	l, st, err := layersOf(root, ref)
	if err != nil {
		return err
	}
	// The writable layer on disk is live while the container runs; one
	// in a tmpfs (--writable-layer=tmpfs) is only reached through the
	// running root, without what is mounted on it.
	layers := append([]string{l.upper}, l.lowers...)
	rootDev := uint64(0)
	if _, err := os.Stat(l.upper); err != nil && st.Status == specs.StateRunning && st.Pid > 0 {
		layers = []string{"/proc/" + strconv.Itoa(st.Pid) + "/root"}
		var rs unix.Stat_t
		if err := unix.Stat(layers[0], &rs); err != nil {
			return fmt.Errorf("export: %w", err)
		}
		rootDev = rs.Dev
	}
	var uids, gids []specs.LinuxIDMapping
	if l.spec != nil && l.spec.Linux != nil {
		uids, gids = l.spec.Linux.UIDMappings, l.spec.Linux.GIDMappings
	}
	tw := tar.NewWriter(w)
	if err := exportDir(tw, layers, "", rootDev, uids, gids); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	return tw.Close()
}

// toContainer maps a host id back into the container.
func toContainer(id uint32, m []specs.LinuxIDMapping) int {
	if len(m) == 0 {
		return int(id)
	}
	for _, e := range m {
		if id >= e.HostID && id < e.HostID+e.Size {
			return int(e.ContainerID + id - e.HostID)
		}
	}
	return 65534 // nobody: an id the container does not map
}

// exportDir writes the merged directory rel of layers (topmost first).
// rootDev, when not 0, is the running root's device: what is mounted on
// it (proc, sys, volumes) is left out, its mount point kept.
func exportDir(tw *tar.Writer, layers []string, rel string, rootDev uint64, uids, gids []specs.LinuxIDMapping) error {
	type entry struct {
		full string
		fi   fs.FileInfo
	}
	seen := map[string]*entry{}
	hidden := map[string]bool{}
	var names []string
	// below: the layers a subdirectory merges from (down to an opaque
	// directory or a file).
	below := layers
	for i, layer := range layers {
		dir := filepath.Join(layer, rel)
		stat := os.Lstat
		if rel == "" {
			stat = os.Stat // /proc/PID/root is a link to the root
		}
		fi, err := stat(dir)
		if err != nil || !fi.IsDir() {
			if err == nil {
				below = layers[:i]
				break // a file here hides the directories below
			}
			continue
		}
		ents, err := os.ReadDir(dir)
		if err != nil {
			return err
		}
		for _, de := range ents {
			n := de.Name()
			if n == ".wh..wh..opq" {
				continue
			}
			fi, err := de.Info()
			if err != nil {
				return err
			}
			if whiteout(dir, n, fi) {
				hidden[strings.TrimPrefix(n, ".wh.")] = true
				continue
			}
			if seen[n] != nil || hidden[n] {
				continue
			}
			seen[n] = &entry{filepath.Join(dir, n), fi}
			names = append(names, n)
		}
		if len(layers) > 1 && opaque(dir) {
			below = layers[:i+1]
			break
		}
	}
	sort.Strings(names)
	for _, n := range names {
		e := seen[n]
		p := path.Join(rel, n)
		link := ""
		if e.fi.Mode()&fs.ModeSymlink != 0 {
			link, _ = os.Readlink(e.full)
		}
		h, err := tar.FileInfoHeader(e.fi, link)
		if err != nil {
			continue // sockets: not in a tar
		}
		h.Name = p
		if e.fi.IsDir() {
			h.Name += "/"
		}
		if st, ok := e.fi.Sys().(*syscall.Stat_t); ok {
			h.Uid, h.Gid = toContainer(st.Uid, uids), toContainer(st.Gid, gids)
		}
		h.Uname, h.Gname = "", ""
		mounted := false
		if st, ok := e.fi.Sys().(*syscall.Stat_t); ok && rootDev != 0 && uint64(st.Dev) != rootDev {
			if !e.fi.IsDir() {
				continue
			}
			mounted = true
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if mounted {
			continue
		}
		switch {
		case e.fi.Mode().IsRegular():
			f, err := os.Open(e.full)
			if err != nil {
				return err
			}
			_, err = io.Copy(tw, f)
			f.Close()
			if err != nil {
				return err
			}
		case e.fi.IsDir():
			if err := exportDir(tw, below, p, rootDev, uids, gids); err != nil {
				return err
			}
		}
	}
	return nil
}
