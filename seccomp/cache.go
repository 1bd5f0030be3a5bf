package seccomp

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Cached compiles s for goarch, or reads the program compiled earlier
// from dir. The file name is the hash of the compiler version, the
// architecture and the profile, so a changed profile or a new urun never
// reads a stale program. An unreadable or damaged cache entry is compiled
// again and replaced; a cache that cannot be written is not an error
// (the program is still returned). dir "" disables the cache.
func Cached(dir string, s *specs.LinuxSeccomp, goarch string) (*Program, error) {
	if s == nil {
		return nil, errors.New("no seccomp profile")
	}
	if dir == "" {
		return Compile(s, goarch)
	}
	key, err := Key(s, goarch)
	if err != nil {
		return nil, err
	}
	file := filepath.Join(dir, key+".bpf")
	if b, err := os.ReadFile(file); err == nil {
		if valid(b) {
			flags, err := filterFlags(s.Flags)
			if err != nil {
				return nil, err
			}
			return &Program{Filter: b, Flags: flags, Notify: usesNotify(s)}, nil
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("reading the seccomp cache: %w", err)
	}
	p, err := Compile(s, goarch)
	if err != nil {
		return nil, err
	}
	store(dir, file, p.Filter)
	return p, nil
}

// Key names a compiled profile: sha256 over the compiler version, the
// architecture and the profile's JSON.
func Key(s *specs.LinuxSeccomp, goarch string) (string, error) {
	b, err := json.Marshal(s)
	if err != nil {
		return "", fmt.Errorf("encoding the seccomp profile: %w", err)
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00", Version, goarch)
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil)), nil
}

// valid checks a cached program is whole instructions ending in a return,
// so a truncated file is never installed.
func valid(b []byte) bool {
	insns, err := decode(b)
	return err == nil && len(insns) <= maxInsns && insns[len(insns)-1].code == opRetK
}

// store writes the program atomically (temporary file, rename); errors
// only cost the next run a compile.
func store(dir, file string, b []byte) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return
	}
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), file)
	}
	if err != nil {
		os.Remove(f.Name())
	}
}
