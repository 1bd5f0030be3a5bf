package container

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

// A writable init program runs from a sealed copy that nothing can
// change: not a write, not a truncation, not a growth, not new seals.
func TestOpenInitSealsWritableProgram(t *testing.T) {
	p := filepath.Join(t.TempDir(), "urun-init")
	content := bytes.Repeat([]byte("#!/bin/true\n"), 1000)
	if err := os.WriteFile(p, content, 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := OpenInit(p) // as root (unit tests) every file is writable
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	seals, err := unix.FcntlInt(f.Fd(), unix.F_GET_SEALS, 0)
	if err != nil {
		t.Fatalf("not a memfd: %v", err)
	}
	want := unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE
	if seals&want != want {
		t.Errorf("seals %#x, want %#x", seals, want)
	}
	// The attack: reopen the running program's file for writing.
	w, err := os.OpenFile(filepath.Join("/proc/self/fd", strconv.Itoa(int(f.Fd()))), os.O_WRONLY, 0)
	if err == nil {
		_, err = w.Write([]byte("pwned"))
		w.Close()
	}
	if !errors.Is(err, unix.EPERM) {
		t.Errorf("writing the sealed copy: %v, want EPERM", err)
	}
	if err := unix.Ftruncate(int(f.Fd()), 0); !errors.Is(err, unix.EPERM) {
		t.Errorf("truncating the sealed copy: %v, want EPERM", err)
	}
	got, err := os.ReadFile(filepath.Join("/proc/self/fd", strconv.Itoa(int(f.Fd()))))
	if err != nil || !bytes.Equal(got, content) {
		t.Errorf("sealed copy differs from the program (%v)", err)
	}
	// The original is untouched and still ours to replace.
	if b, _ := os.ReadFile(p); !bytes.Equal(b, content) {
		t.Error("original changed")
	}
}

// BenchmarkSealedCopy is what a user-writable urun-init costs per start:
// memfd_create, copying the program, sealing.
func BenchmarkSealedCopy(b *testing.B) {
	p := filepath.Join(b.TempDir(), "urun-init")
	if err := os.WriteFile(p, bytes.Repeat([]byte{0x90}, 3<<20), 0o755); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		f, err := OpenInit(p)
		if err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
}
