package main

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/spf13/pflag"

	"github.com/urun-dev/urun/engine"
	"golang.org/x/sys/unix"
)

// urun cp copies between a container and the host, as docker cp: either
// side may be `-` (a tar stream on stdin or stdout). Every path in the
// container is resolved inside its root (securejoin: a symlink in the
// container cannot point urun at a host file). A running container is
// reached through its init's /proc/PID/root; a stopped one through its
// writable layer over the image's tree (read: the top layer that has the
// path wins, whiteouts hide the lower ones; written: into the writable
// layer). Files copied in belong to the container's root (your own uid
// outside), as docker's do without -a; files copied out to you.

func init() {
	register("cp", func() *command {
		fs := pflag.NewFlagSet("cp", pflag.ContinueOnError)
		fs.BoolP("archive", "a", false, "accepted for docker compatibility (owners are the container root's, as without it)")
		follow := fs.BoolP("follow-link", "L", false, "follow a symbolic link given as SRC (inside the container's root)")
		return &command{
			name:  "cp",
			short: "Copy files between a container and the host (- for a tar stream)",
			usage: "cp [-L] CONTAINER:SRC DEST|-\n       urun cp [-L] SRC|- CONTAINER:DEST",
			flags: fs,
			run: func(g *globals, args []string) error {
				if len(args) != 2 {
					return argsError("cp", "a SRC and a DEST, one of them CONTAINER:PATH")
				}
				root, err := engine.StateRoot(g.root)
				if err != nil {
					return err
				}
				srcCtr, srcPath, srcIn := splitCtrPath(args[0])
				dstCtr, dstPath, dstIn := splitCtrPath(args[1])
				switch {
				case srcIn && dstIn:
					return errors.New("cp: copying between two containers is not supported: copy to the host first")
				case srcIn:
					view, err := openCtrFS(root, srcCtr)
					if err != nil {
						return err
					}
					return copyOut(view, srcPath, dstPath, *follow)
				case dstIn:
					view, err := openCtrFS(root, dstCtr)
					if err != nil {
						return err
					}
					return copyIn(view, srcPath, dstPath, *follow)
				}
				return errors.New("cp: one of SRC and DEST must be CONTAINER:PATH")
			},
		}
	})
}

// splitCtrPath splits "NAME:/path"; a path with a slash before the colon
// (./a:b, /x:y) is a host path, as docker reads it.
func splitCtrPath(arg string) (ctr, p string, ok bool) {
	if arg == "-" || strings.HasPrefix(arg, "/") || strings.HasPrefix(arg, ".") {
		return "", arg, false
	}
	ctr, p, ok = strings.Cut(arg, ":")
	if !ok || ctr == "" || strings.Contains(ctr, "/") {
		return "", arg, false
	}
	if !strings.HasPrefix(p, "/") {
		p = "/" + p // relative to the container's root (docker: its workdir)
	}
	return ctr, p, true
}

// ctrFS is a container's root as layers, the topmost first: one for a
// running container (its mounted root), the writable layer and the
// image's tree for a stopped one.
type ctrFS struct {
	layers []string
	// merged: layers[0] is the container's real root (no whiteouts).
	merged bool
}

func openCtrFS(root, ref string) (*ctrFS, error) {
	id, st, err := engine.Find(root, ref)
	if err != nil {
		return nil, err
	}
	if e := entryOf(st); e.State == "running" && st.Pid > 0 {
		return &ctrFS{layers: []string{"/proc/" + strconv.Itoa(st.Pid) + "/root"}, merged: true}, nil
	}
	data, err := engine.DataDirPath()
	if err != nil {
		return nil, err
	}
	v := &ctrFS{}
	if st.Record != "" {
		// The record's mount plan: the writable layer over the image's
		// layers (the layer store's stack, or one unpacked tree).
		if rec, err := engine.LoadRecord(st.Record); err == nil && len(rec.Rootfs.Lower) > 0 {
			if rec.Rootfs.Upper != "" {
				v.layers = append(v.layers, rec.Rootfs.Upper)
			}
			v.layers = append(v.layers, rec.Rootfs.Lower...)
			return v, nil
		}
	}
	upper := filepath.Join(data, "containers", id, "upper")
	if _, err := os.Stat(upper); err == nil {
		v.layers = append(v.layers, upper)
	}
	if st.ImageRootfs != "" {
		v.layers = append(v.layers, st.ImageRootfs)
	}
	if len(v.layers) == 0 {
		return nil, fmt.Errorf("cp: container %s has no files to reach while stopped (a --rootfs container: copy from its directory)", ref)
	}
	return v, nil
}

// resolve is where p is on the host in layer i. p is first resolved in
// the container's merged view (realpath), so a symlink in the writable
// layer may point into the image's tree, and no symlink ever leads out
// of the root; the last component is kept as it is (a symlink is copied
// as one) unless follow.
func (v *ctrFS) resolve(i int, p string, follow bool) (string, error) {
	clean, err := v.realpath(p, follow)
	if err != nil {
		return "", err
	}
	// Resolved again inside the layer: a running container may change
	// its files meanwhile.
	dir, base := path.Split(clean)
	d, err := securejoin.SecureJoin(v.layers[i], dir)
	if err != nil {
		return "", err
	}
	return filepath.Join(d, base), nil
}

// realpath resolves every symlink of p (the last one only with
// followLast) in the merged view, as the kernel would inside the
// container with its root as /.
func (v *ctrFS) realpath(p string, followLast bool) (string, error) {
	parts := strings.Split(strings.Trim(path.Clean("/"+p), "/"), "/")
	cur, links := "/", 0
	for len(parts) > 0 {
		name := parts[0]
		parts = parts[1:]
		switch name {
		case "", ".":
			continue
		case "..":
			cur = path.Dir(cur)
			continue
		}
		next := path.Join(cur, name)
		if len(parts) == 0 && !followLast {
			return next, nil
		}
		full, fi := v.lookup(next)
		if fi == nil || fi.Mode()&fs.ModeSymlink == 0 {
			cur = next
			continue
		}
		if links++; links > 40 {
			return "", fmt.Errorf("cp: %s: too many levels of symbolic links", p)
		}
		target, err := os.Readlink(full)
		if err != nil {
			return "", fmt.Errorf("cp: %w", err)
		}
		if strings.HasPrefix(target, "/") {
			cur = "/"
		}
		parts = append(strings.Split(target, "/"), parts...)
	}
	return cur, nil
}

// lookup is the topmost layer's entry for a path without symlinks in
// its directories, or nil when there is none (or a whiteout hides it).
func (v *ctrFS) lookup(p string) (string, fs.FileInfo) {
	for _, l := range v.layers {
		full := filepath.Join(l, p)
		fi, err := os.Lstat(full)
		if err != nil {
			continue
		}
		if !v.merged && isWhiteout(full, fi) {
			return "", nil
		}
		return full, fi
	}
	return "", nil
}

// isWhiteout tells whether fi hides a lower layer's file (overlayfs: a
// 0/0 character device; fuse-overlayfs without one: .wh.NAME).
func isWhiteout(full string, fi fs.FileInfo) bool {
	if fi.Mode()&fs.ModeCharDevice != 0 {
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Rdev == 0 {
			return true
		}
	}
	_, err := os.Lstat(filepath.Join(filepath.Dir(full), ".wh."+filepath.Base(full)))
	return err == nil
}

// sources lists where p is, lowest layer first (a directory merges over
// every layer down to an opaque one or a file).
func (v *ctrFS) sources(p string, follow bool) ([]string, fs.FileInfo, error) {
	var found []string
	var top fs.FileInfo
	for i := range v.layers {
		full, err := v.resolve(i, p, follow)
		if err != nil {
			return nil, nil, err
		}
		fi, err := os.Lstat(full)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return nil, nil, err
		}
		if !v.merged && isWhiteout(full, fi) {
			break
		}
		if top == nil {
			top = fi
		} else if !fi.IsDir() || !top.IsDir() {
			break
		}
		found = append([]string{full}, found...)
		if !fi.IsDir() {
			break
		}
		if x, _ := unix.Lgetxattr(full, "trusted.overlay.opaque", make([]byte, 1)); x > 0 {
			break
		}
		if x, _ := unix.Lgetxattr(full, "user.overlay.opaque", make([]byte, 1)); x > 0 {
			break
		}
	}
	if top == nil {
		return nil, nil, fmt.Errorf("cp: %s: no such file or directory in the container", p)
	}
	return found, top, nil
}

// copyOut copies the container's src to the host's dst (or stdout).
func copyOut(v *ctrFS, src, dst string, follow bool) error {
	srcs, top, err := v.sources(src, follow)
	if err != nil {
		return err
	}
	contents := strings.HasSuffix(src, "/.")
	name := path.Base(path.Clean(src))
	if dst == "-" {
		tw := tar.NewWriter(os.Stdout)
		prefix := name
		if contents {
			prefix = "."
		}
		for _, s := range srcs {
			if err := tarTree(tw, s, prefix, !v.merged); err != nil {
				return err
			}
		}
		return tw.Close()
	}
	target := dst
	if fi, err := os.Stat(dst); err == nil && fi.IsDir() && !contents {
		target = filepath.Join(dst, name)
	} else if err == nil && !fi.IsDir() && top.IsDir() {
		return fmt.Errorf("cp: cannot copy the directory %s onto the file %s", src, dst)
	} else if errors.Is(err, fs.ErrNotExist) && strings.HasSuffix(dst, "/") && !top.IsDir() {
		return fmt.Errorf("cp: %s: the directory does not exist", dst)
	}
	for _, s := range srcs {
		if err := copyTree(s, target, !v.merged); err != nil {
			return err
		}
	}
	return nil
}

// copyIn copies the host's src (or a tar stream on stdin) to the
// container's dst.
func copyIn(v *ctrFS, src, dst string, follow bool) error {
	top := 0 // the running root, or the writable layer
	if !v.merged && len(v.layers) < 2 {
		return fmt.Errorf("cp: the container has no writable layer to copy into")
	}
	if src == "-" {
		d, err := v.resolve(top, dst, true)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("cp: %w", err)
		}
		return untar(os.Stdin, d)
	}
	sfi, err := os.Stat(src)
	if err != nil {
		return fmt.Errorf("cp: %w", err)
	}
	if !follow {
		if sfi, err = os.Lstat(src); err != nil {
			return fmt.Errorf("cp: %w", err)
		}
	}
	contents := strings.HasSuffix(src, "/.")
	target := dst
	// What dst is in the container's view (any layer).
	if _, dfi, err := v.sources(dst, true); err == nil && dfi.IsDir() && !contents {
		target = path.Join(dst, filepath.Base(filepath.Clean(src)))
	} else if err == nil && !dfi.IsDir() && sfi.IsDir() {
		return fmt.Errorf("cp: cannot copy the directory %s onto the file %s", src, dst)
	}
	d, err := v.resolve(top, target, false)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(d), 0o755); err != nil {
		return fmt.Errorf("cp: %w", err)
	}
	return copyTree(src, d, false)
}

// copyTree copies src (file, link or directory) to dst, merging into an
// existing directory; with whiteouts, a lower layer's file hidden by one
// is removed from dst.
func copyTree(src, dst string, whiteouts bool) error {
	return filepath.WalkDir(src, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("cp: %w", err)
		}
		rel, _ := filepath.Rel(src, p)
		out := filepath.Join(dst, rel)
		fi, err := de.Info()
		if err != nil {
			return fmt.Errorf("cp: %w", err)
		}
		if whiteouts && p != src {
			if name, ok := strings.CutPrefix(de.Name(), ".wh."); ok {
				if name != ".wh..opq" {
					os.RemoveAll(filepath.Join(filepath.Dir(out), name))
				}
				return nil
			}
			if isWhiteout(p, fi) {
				os.RemoveAll(out)
				return nil
			}
		}
		return copyEntry(p, out, fi)
	})
}

func copyEntry(p, out string, fi fs.FileInfo) error {
	mode := fi.Mode()
	switch {
	case mode.IsDir():
		if err := os.MkdirAll(out, 0o700); err != nil {
			return fmt.Errorf("cp: %w", err)
		}
		return os.Chmod(out, mode.Perm())
	case mode&fs.ModeSymlink != 0:
		target, err := os.Readlink(p)
		if err != nil {
			return fmt.Errorf("cp: %w", err)
		}
		os.Remove(out)
		return os.Symlink(target, out)
	case mode.IsRegular():
		in, err := os.Open(p)
		if err != nil {
			return fmt.Errorf("cp: %w", err)
		}
		defer in.Close()
		os.Remove(out) // a read-only file, or a link, of the same name
		f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|os.O_EXCL, mode.Perm())
		if err != nil {
			return fmt.Errorf("cp: %w", err)
		}
		if _, err := io.Copy(f, in); err != nil {
			f.Close()
			return fmt.Errorf("cp: %w", err)
		}
		return f.Close()
	}
	return nil // devices, fifos and sockets are not copied
}

// tarTree writes src as prefix/... to tw.
func tarTree(tw *tar.Writer, src, prefix string, whiteouts bool) error {
	return filepath.WalkDir(src, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("cp: %w", err)
		}
		fi, err := de.Info()
		if err != nil {
			return err
		}
		if whiteouts && p != src && (strings.HasPrefix(de.Name(), ".wh.") || isWhiteout(p, fi)) {
			return nil
		}
		rel, _ := filepath.Rel(src, p)
		link := ""
		if fi.Mode()&fs.ModeSymlink != 0 {
			link, _ = os.Readlink(p)
		} else if !fi.Mode().IsRegular() && !fi.IsDir() {
			return nil
		}
		h, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return err
		}
		h.Name = path.Join(prefix, filepath.ToSlash(rel))
		if fi.IsDir() {
			h.Name += "/"
		}
		h.Uid, h.Gid, h.Uname, h.Gname = 0, 0, "", ""
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if fi.Mode().IsRegular() {
			f, err := os.Open(p)
			if err != nil {
				return fmt.Errorf("cp: %w", err)
			}
			defer f.Close()
			_, err = io.Copy(tw, f)
			return err
		}
		return nil
	})
}

// untar extracts a tar stream into dir; every name stays inside it.
func untar(r io.Reader, dir string) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("cp: reading the tar stream: %w", err)
		}
		out, err := securejoin.SecureJoin(dir, h.Name)
		if err != nil {
			return err
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(out, 0o700); err != nil {
				return fmt.Errorf("cp: %w", err)
			}
			os.Chmod(out, fs.FileMode(h.Mode).Perm())
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
				return fmt.Errorf("cp: %w", err)
			}
			os.Remove(out)
			f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fs.FileMode(h.Mode).Perm())
			if err != nil {
				return fmt.Errorf("cp: %w", err)
			}
			_, err = io.Copy(f, tr)
			f.Close()
			if err != nil {
				return fmt.Errorf("cp: %w", err)
			}
		case tar.TypeSymlink:
			if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
				return fmt.Errorf("cp: %w", err)
			}
			os.Remove(out)
			if err := os.Symlink(h.Linkname, out); err != nil {
				return fmt.Errorf("cp: %w", err)
			}
		}
	}
}
