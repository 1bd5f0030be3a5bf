package fuseoverlay

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestParseTier(t *testing.T) {
	for _, s := range []string{"auto", "native", "fuse", "copy", "bind"} {
		if got, err := ParseTier(s); err != nil || string(got) != s {
			t.Errorf("ParseTier(%q) = %q, %v", s, got, err)
		}
	}
	for _, s := range []string{"", "vfs", "Copy", "overlay"} {
		if _, err := ParseTier(s); err == nil || !strings.Contains(err.Error(), "copy") || !strings.Contains(err.Error(), TierEnv) {
			t.Errorf("ParseTier(%q): %v, want an error listing the tiers and naming $%s", s, err, TierEnv)
		}
	}
}

func TestAutoOrder(t *testing.T) {
	// The cheap tiers first; the copy costs memory and time at each start.
	if want := []Tier{Native, Fuse, Copy}; !slices.Equal(autoOrder, want) {
		t.Errorf("auto order %v, want %v", autoOrder, want)
	}
}

func TestDefaultTierAndFuseBinary(t *testing.T) {
	t.Setenv(TierEnv, "")
	if got := DefaultTier(); got != "auto" {
		t.Errorf("DefaultTier() without $%s = %q", TierEnv, got)
	}
	t.Setenv(TierEnv, "copy")
	if got := DefaultTier(); got != "copy" {
		t.Errorf("DefaultTier() with $%s=copy = %q", TierEnv, got)
	}
	t.Setenv(FuseEnv, "/nonexistent/fuse-overlayfs")
	if got := FuseBinary(); got != "/nonexistent/fuse-overlayfs" {
		t.Errorf("FuseBinary() with $%s = %q", FuseEnv, got)
	}
	t.Setenv(FuseEnv, "")
	t.Setenv("PATH", t.TempDir())
	if got := FuseBinary(); got != "" {
		t.Errorf("FuseBinary() with no fuse-overlayfs in $PATH = %q, want empty", got)
	}
}

func TestValidateCopy(t *testing.T) {
	if err := (Plan{Tier: Copy, Lower: []string{"/a"}}).Validate(); err != nil {
		t.Errorf("copy of one directory: %v", err)
	}
	if err := (Plan{Tier: Copy, Lower: []string{"/a", "/b"}}).Validate(); err != nil {
		t.Errorf("copy of a layer stack: %v", err)
	}
	if err := (Plan{Tier: Bind, Lower: []string{"/a", "/b"}}).Validate(); err == nil {
		t.Error("bind of two directories: no error")
	}
	if err := (Plan{Tier: "vfs", Lower: []string{"/a"}}).Validate(); err == nil {
		t.Error("unknown tier: no error")
	}
}

func TestCopyWarningIsOneLine(t *testing.T) {
	w := copyWarning([]string{"native: EINVAL", "fuse: not installed"}, copyStats{bytes: 5_300_000, files: 12, skipped: []string{"/dev/null"}}, false)
	if strings.Contains(w, "\n") || !strings.HasPrefix(w, "urun: warning: ") {
		t.Errorf("warning is not one urun: warning line: %q", w)
	}
	for _, part := range []string{"native: EINVAL", "fuse: not installed", "5.3 MB", "12 files", "1 device nodes", "fuse-overlayfs", TierEnv + "=copy"} {
		if !strings.Contains(w, part) {
			t.Errorf("warning %q lacks %q", w, part)
		}
	}
}

// TestCopyTree copies a tree with every kind of entry the copy tier must
// keep and compares owner, mode, links, xattrs and times. Unit tests run as
// root (make test), which may chown and make device nodes.
func TestCopyTree(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to give files other owners (make test runs unit tests as root)")
	}
	src, dst := t.TempDir(), t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(src, "etc", "ro"), 0o755))
	must(os.WriteFile(filepath.Join(src, "etc", "passwd"), []byte("root:x:0:0\n"), 0o644))
	must(os.WriteFile(filepath.Join(src, "suid"), []byte("#!/bin/sh\n"), 0o755))
	must(os.Chown(filepath.Join(src, "suid"), 0, 1234))
	must(os.Chmod(filepath.Join(src, "suid"), 0o6755|os.ModeSetuid|os.ModeSetgid))
	must(os.WriteFile(filepath.Join(src, "owned"), bytes.Repeat([]byte("x"), 100_000), 0o600))
	must(os.Chown(filepath.Join(src, "owned"), 1000, 1001))
	must(os.Link(filepath.Join(src, "owned"), filepath.Join(src, "etc", "hardlink")))
	must(os.Symlink("/etc/passwd", filepath.Join(src, "abs")))
	must(os.Lchown(filepath.Join(src, "abs"), 7, 8))
	must(unix.Mkfifo(filepath.Join(src, "fifo"), 0o640))
	must(unix.Mknod(filepath.Join(src, "wh"), unix.S_IFCHR, 0)) // an overlay whiteout, mode 0
	must(unix.Setxattr(filepath.Join(src, "etc", "passwd"), "user.test", []byte("v"), 0))
	must(os.Chmod(filepath.Join(src, "etc", "ro"), 0o555))
	must(os.Chown(filepath.Join(src, "etc", "ro"), 5, 6))
	old := time.Date(2001, 2, 3, 4, 5, 6, 7000, time.UTC)
	for _, p := range []string{"etc/passwd", "etc/ro", "owned", "etc", "."} {
		must(os.Chtimes(filepath.Join(src, p), old, old))
	}
	must(unix.Lutimes(filepath.Join(src, "abs"), []unix.Timeval{unix.NsecToTimeval(old.UnixNano()), unix.NsecToTimeval(old.UnixNano())}))

	var st copyStats
	c := copier{links: map[devIno]string{}, stats: &st}
	if err := c.copyTree(src, dst); err != nil {
		t.Fatal(err)
	}
	if got, want := describe(t, dst), describe(t, src); got != want {
		t.Errorf("copy differs:\n got %s\nwant %s", got, want)
	}
	var a, b unix.Stat_t
	must(unix.Lstat(filepath.Join(dst, "owned"), &a))
	must(unix.Lstat(filepath.Join(dst, "etc", "hardlink"), &b))
	if a.Ino != b.Ino || a.Nlink != 2 {
		t.Errorf("hard link lost: inodes %d and %d, nlink %d", a.Ino, b.Ino, a.Nlink)
	}
	if v, err := getXattr(filepath.Join(dst, "etc", "passwd"), "user.test"); err != nil || string(v) != "v" {
		t.Errorf("xattr user.test: %q, %v", v, err)
	}
	if st.files != 3 || st.bytes != 100_000+11+10 {
		t.Errorf("stats %+v: want 3 files, %d bytes (the hard link once)", st, 100_000+11+10)
	}
}

// describe lists every entry under dir with type, owner, mode, size, link
// target and modification time.
func describe(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		link, _ := os.Readlink(p)
		b.WriteString(strings.Join([]string{rel, fi.Mode().String(), itoa(st.Uid), itoa(st.Gid), itoa(st.Nlink), itoa(st.Rdev), itoa(st.Size), link, fi.ModTime().UTC().Format(time.RFC3339Nano)}, "|") + "\n")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func itoa[T uint32 | uint64 | int64](v T) string { return strconv.FormatInt(int64(v), 10) }

// TestCopyLayers merges a stack of overlay layers (the layer store's diff
// directories) as overlayfs shows them: whiteouts remove, an opaque
// directory hides the layers below, a file replaces a directory, and
// overlay's own markers are not carried into the copy.
func TestCopyLayers(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to make whiteouts (make test runs unit tests as root)")
	}
	bottom, mid, top, dst := t.TempDir(), t.TempDir(), t.TempDir(), t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	file := func(p, body string) {
		must(os.MkdirAll(filepath.Dir(p), 0o755))
		must(os.WriteFile(p, []byte(body), 0o644))
	}
	file(filepath.Join(bottom, "a", "x"), "x")
	file(filepath.Join(bottom, "a", "y"), "y")
	file(filepath.Join(bottom, "b", "f"), "f")
	file(filepath.Join(bottom, "c", "old"), "old")
	file(filepath.Join(bottom, "e"), "bottom")
	must(os.MkdirAll(filepath.Join(mid, "a"), 0o750))
	must(unix.Mknod(filepath.Join(mid, "a", "x"), unix.S_IFCHR, 0))
	file(filepath.Join(mid, "b", "g"), "g")
	must(unix.Setxattr(filepath.Join(mid, "b"), "trusted.overlay.opaque", []byte("y"), 0))
	file(filepath.Join(mid, "c"), "now a file")
	file(filepath.Join(top, "a", "z"), "z")
	file(filepath.Join(top, "e"), "top")
	var st copyStats
	if err := copyLayers([]string{top, mid, bottom}, dst, &st); err != nil {
		t.Fatal(err)
	}
	var got []string
	filepath.Walk(dst, func(p string, fi os.FileInfo, err error) error {
		rel, _ := filepath.Rel(dst, p)
		if !fi.IsDir() {
			b, _ := os.ReadFile(p)
			rel += "=" + string(b)
		}
		got = append(got, rel)
		return nil
	})
	want := []string{".", "a", "a/y=y", "a/z=z", "b", "b/g=g", "c=now a file", "e=top"}
	if !slices.Equal(got, want) {
		t.Errorf("merged layers: %q, want %q", got, want)
	}
	if fi, err := os.Stat(filepath.Join(dst, "a")); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("a: %v %v, want the topmost layer's mode 0755", fi.Mode(), err)
	}
	if _, err := getXattr(filepath.Join(dst, "b"), "trusted.overlay.opaque"); err == nil {
		t.Error("the opaque marker was carried into the copy")
	}
}
