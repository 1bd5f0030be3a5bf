package main

import (
	"path"
	"sort"
	"strings"
)

// entryType is the kind of filesystem object an entry describes.
type entryType int

const (
	typeDir entryType = iota
	typeFile
	typeSymlink
	typeHardlink
	typeFifo
)

// entry describes one tar member of a layer. Layers are kept as plain data so
// that the tar writer and the expected-tree computation read the same source.
type entry struct {
	Path     string // absolute and clean, e.g. "/data/f"
	Type     entryType
	Mode     int64 // permission bits including setuid/setgid/sticky (04000/02000/01000)
	UID, GID int
	Content  string // regular files only
	Linkname string // symlink target, or absolute path of the hard link target
}

// layer is a list of entries plus the history text recorded in the config.
type layer struct {
	CreatedBy string
	Entries   []entry
}

const (
	whiteoutPrefix = ".wh."
	opaqueMarker   = ".wh..wh..opq"
)

func dir(p string, mode int64, uid, gid int) entry {
	return entry{Path: p, Type: typeDir, Mode: mode, UID: uid, GID: gid}
}

func file(p string, mode int64, uid, gid int, content string) entry {
	return entry{Path: p, Type: typeFile, Mode: mode, UID: uid, GID: gid, Content: content}
}

func symlink(p, target string) entry {
	return entry{Path: p, Type: typeSymlink, Mode: 0o777, Linkname: target}
}

// hardlink takes the target's mode and owner because unpackers apply the
// header's attributes to the shared inode (containers/storage chmods it), so
// a link header must carry the same values the target has.
func hardlink(p, target string, mode int64, uid, gid int) entry {
	return entry{Path: p, Type: typeHardlink, Mode: mode, UID: uid, GID: gid, Linkname: target}
}

func fifo(p string, mode int64, uid, gid int) entry {
	return entry{Path: p, Type: typeFifo, Mode: mode, UID: uid, GID: gid}
}

// whiteout hides p of the lower layers.
func whiteout(p string) entry {
	return file(path.Join(path.Dir(p), whiteoutPrefix+path.Base(p)), 0o644, 0, 0, "")
}

// opaque hides every lower-layer child of directory d.
func opaque(d string) entry {
	return file(path.Join(d, opaqueMarker), 0o644, 0, 0, "")
}

// sortedEntries returns the entries in the order they are written to the tar:
// sorted by path so output is deterministic (a parent sorts before its
// children), with hard links after everything else so that a link whose target
// is in the same layer never precedes that target.
func sortedEntries(entries []entry) []entry {
	var plain, links []entry
	for _, e := range entries {
		if e.Type == typeHardlink {
			links = append(links, e)
		} else {
			plain = append(plain, e)
		}
	}
	byPath := func(s []entry) {
		sort.SliceStable(s, func(i, j int) bool { return s[i].Path < s[j].Path })
	}
	byPath(plain)
	byPath(links)
	return append(plain, links...)
}

const defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

const passwdContent = `root:x:0:0:root:/root:/bin/sh
user:x:1000:1000:user:/home/user:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
`

const groupContent = `root:x:0:
user:x:1000:
nogroup:x:65534:
`

// busyboxLayer is the minimal root filesystem: the static busybox binary, one
// symlink per applet and just enough /etc for user lookups.
func busyboxLayer(bin []byte, applets []string) layer {
	entries := []entry{
		dir("/bin", 0o755, 0, 0),
		file("/bin/busybox", 0o755, 0, 0, string(bin)),
		dir("/dev", 0o755, 0, 0),
		dir("/etc", 0o755, 0, 0),
		file("/etc/passwd", 0o644, 0, 0, passwdContent),
		file("/etc/group", 0o644, 0, 0, groupContent),
		// Present in the image so that runtimes which create it when
		// missing (podman does) leave the listed tree unchanged.
		symlink("/etc/mtab", "/proc/mounts"),
		dir("/home", 0o755, 0, 0),
		dir("/home/user", 0o755, 1000, 1000),
		dir("/proc", 0o755, 0, 0),
		dir("/root", 0o700, 0, 0),
		dir("/sys", 0o755, 0, 0),
		dir("/tmp", 0o1777, 0, 0),
		dir("/var", 0o755, 0, 0),
	}
	for _, a := range applets {
		// "busybox --list" names busybox itself; the binary is already there.
		if a == "busybox" {
			continue
		}
		entries = append(entries, symlink("/bin/"+a, "busybox"))
	}
	return layer{CreatedBy: "mkimage: busybox base layer", Entries: entries}
}

// name255 is a file name of exactly 255 bytes, the Linux NAME_MAX; it does
// not fit the 100-byte ustar name field.
var name255 = strings.Repeat("n", 251) + ".255"

// longPath is longer than 256 bytes, so it fits neither the ustar name field
// nor the ustar prefix+name split and needs a PAX path record.
var longPath = "/data/long/" +
	strings.Repeat("a", 60) + "/" +
	strings.Repeat("b", 60) + "/" +
	strings.Repeat("c", 60) + "/" +
	strings.Repeat("d", 60) + "/file-at-the-end"

// hardLayers are the layers stacked on top of the busybox base for the
// "hard" image. Each one exercises something unpackers commonly get wrong.
func hardLayers() []layer {
	longDirs := []entry{}
	for d := path.Dir(longPath); d != "/data/long"; d = path.Dir(d) {
		longDirs = append(longDirs, dir(d, 0o755, 0, 0))
	}

	layer2 := layer{
		CreatedBy: "mkimage: hard layer 2: owners, modes, special files, links, long names",
		Entries: append([]entry{
			dir("/data", 0o755, 0, 0),
			// Ownership and modes.
			file("/data/root-owned", 0o600, 0, 0, "root\n"),
			file("/data/user-owned", 0o640, 1000, 1000, "user\n"),
			file("/data/nobody-owned", 0o444, 65534, 65534, "nobody\n"),
			file("/data/empty", 0o644, 0, 0, ""),
			file("/data/setuid", 0o4755, 0, 0, "#!/bin/sh\necho setuid\n"),
			file("/data/setgid", 0o2755, 0, 1000, "#!/bin/sh\necho setgid\n"),
			dir("/data/setgid-dir", 0o2775, 0, 1000),
			dir("/data/sticky", 0o1777, 0, 0),
			dir("/data/work", 0o755, 1000, 1000),
			// Hard links across directories.
			dir("/data/hl", 0o755, 0, 0),
			dir("/data/hl/a", 0o755, 0, 0),
			dir("/data/hl/b", 0o755, 0, 0),
			file("/data/hl/a/file", 0o640, 1000, 1000, "shared\n"),
			hardlink("/data/hl/b/link", "/data/hl/a/file", 0o640, 1000, 1000),
			// Symlinks and a FIFO.
			symlink("/data/abs", "/etc/passwd"),
			symlink("/data/rel", "../etc/group"),
			symlink("/data/dangling", "/nonexistent/target"),
			fifo("/data/fifo", 0o644, 0, 0),
			// Long names.
			dir("/data/long", 0o755, 0, 0),
			file("/data/long/"+name255, 0o644, 0, 0, "name of 255 bytes\n"),
			file(longPath, 0o644, 0, 0, "long path\n"),
			// Targets for the whiteouts of layer 3.
			file("/data/gone", 0o644, 0, 0, "deleted in layer 3\n"),
			dir("/data/opq", 0o755, 0, 0),
			file("/data/opq/old1", 0o644, 0, 0, "old1\n"),
			file("/data/opq/old2", 0o644, 0, 0, "old2\n"),
			dir("/data/opq/oldsub", 0o755, 0, 0),
			file("/data/opq/oldsub/x", 0o644, 0, 0, "x\n"),
			file("/data/f2d", 0o644, 0, 0, "file, becomes a directory\n"),
			dir("/data/d2f", 0o755, 0, 0),
			file("/data/d2f/child", 0o644, 0, 0, "child\n"),
		}, longDirs...),
	}

	// Layer 3 has no entry for /data: the parent comes only from a lower
	// layer, which is valid and which a naive unpacker may not expect.
	layer3 := layer{
		CreatedBy: "mkimage: hard layer 3: whiteouts, opaque dir, type changes",
		Entries: []entry{
			whiteout("/data/gone"),
			dir("/data/opq", 0o755, 0, 0),
			opaque("/data/opq"),
			file("/data/opq/new", 0o644, 0, 0, "new\n"),
			// A file replaced by a directory needs no whiteout: the spec says
			// a non-directory at the path is removed first.
			dir("/data/f2d", 0o755, 0, 0),
			file("/data/f2d/inside", 0o644, 0, 0, "inside\n"),
			// A directory replaced by a file goes through a whiteout.
			whiteout("/data/d2f"),
			file("/data/d2f", 0o644, 0, 0, "directory, became a file\n"),
		},
	}

	layer4 := layer{
		CreatedBy: "mkimage: hard layer 4: hard link to a lower-layer file",
		Entries: []entry{
			// The link target exists only in layer 2, not in this tar.
			hardlink("/data/late-link", "/data/hl/a/file", 0o640, 1000, 1000),
			file("/data/work/hello", 0o644, 1000, 1000, "hello from layer 4\n"),
		},
	}

	return []layer{layer2, layer3, layer4}
}

// farIDsLayer goes on the busybox base for the "farids" image: a file
// whose owner lies beyond the 65536 subordinate ids a user usually has
// (useradd gives NAME:100000:65536), and one within them.
func farIDsLayer() layer {
	return layer{
		CreatedBy: "mkimage: farids layer: owners outside a 65536-id mapping",
		Entries: []entry{
			dir("/far", 0o755, 0, 0),
			file("/far/owned", 0o644, 200000, 300000, "far\n"),
			file("/far/near", 0o644, 1000, 1000, "near\n"),
		},
	}
}

// plusLayer goes on the busybox base for the "plus" image: 4 MiB of
// bytes that do not compress, the same on every build.
func plusLayer() layer {
	b := make([]byte, 4<<20)
	x := uint64(0x9e3779b97f4a7c15)
	for i := range b {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b[i] = byte(x)
	}
	return layer{
		CreatedBy: "mkimage: plus layer: 4 MiB of its own",
		Entries: []entry{
			dir("/plus", 0o755, 0, 0),
			file("/plus/blob", 0o644, 0, 0, string(b)),
		},
	}
}
