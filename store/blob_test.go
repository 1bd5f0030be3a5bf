package store

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	digest "github.com/opencontainers/go-digest"
)

func TestOpenBlobRefusesNonFiles(t *testing.T) {
	dir := t.TempDir()
	blobs := filepath.Join(dir, "blobs", "sha256")
	os.MkdirAll(blobs, 0o755)
	good := []byte("layer bytes")
	d := digest.FromBytes(good)
	os.WriteFile(filepath.Join(blobs, d.Encoded()), good, 0o644)
	f, err := openBlob(dir, d)
	if err != nil {
		t.Fatalf("regular blob: %v", err)
	}
	f.Close()
	for name, mk := range map[string]func(p string) error{
		"symlink to /dev/zero": func(p string) error { return os.Symlink("/dev/zero", p) },
		"symlink to a file":    func(p string) error { return os.Symlink(filepath.Join(blobs, d.Encoded()), p) },
		"fifo":                 func(p string) error { return syscall.Mkfifo(p, 0o644) },
		"directory":            func(p string) error { return os.Mkdir(p, 0o755) },
	} {
		bad := digest.FromString(name)
		if err := mk(filepath.Join(blobs, bad.Encoded())); err != nil {
			t.Fatal(err)
		}
		if f, err := openBlob(dir, bad); err == nil {
			f.Close()
			t.Errorf("%s: opened", name)
		} else if strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error has more than one line: %v", name, err)
		}
	}
	// A symlinked blobs directory is outside the layout's own files too.
	other := t.TempDir()
	os.MkdirAll(filepath.Join(other, "real"), 0o755)
	os.WriteFile(filepath.Join(other, "real", d.Encoded()), good, 0o644)
	os.MkdirAll(filepath.Join(other, "blobs"), 0o755)
	os.Symlink(filepath.Join(other, "real"), filepath.Join(other, "blobs", "sha256"))
	if f, err := openBlob(other, d); err == nil {
		f.Close()
		t.Error("a blob behind a symlinked directory was opened")
	}
}

func TestVerifiedReader(t *testing.T) {
	dir := t.TempDir()
	good := []byte(strings.Repeat("x", 10000))
	p := filepath.Join(dir, "b")
	os.WriteFile(p, good, 0o644)
	read := func(d digest.Digest, size int64) error {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		r, err := newVerifiedReader(f, d, size)
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, r)
		return err
	}
	if err := read(digest.FromBytes(good), int64(len(good))); err != nil {
		t.Errorf("good blob: %v", err)
	}
	if err := read(digest.FromString("other"), int64(len(good))); err == nil || !strings.Contains(err.Error(), "does not match its digest") {
		t.Errorf("wrong digest: %v", err)
	}
	if err := read(digest.FromBytes(good), 100); err == nil || !strings.Contains(err.Error(), "its manifest says 100") {
		t.Errorf("size lie: %v", err)
	}
}
