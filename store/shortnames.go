package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Short names ("busybox", "team/tool:1") are resolved as podman resolves
// them, through registries.conf: an alias (registries.conf [aliases],
// shortnames.conf, the user's short-name-aliases.conf), then localhost/,
// then each unqualified-search registry in order; docker.io when none is
// configured. Reading registries.conf the way go.podman.io/image/v5 does
// (system, user and rootless drop-in directories, override files,
// CONTAINERS_REGISTRIES_CONF) is its sysregistriesv2 package's job, which
// urun does not link (docs/STORE.md "Two programs"). So urun-image
// resolves a name once and urun keeps the answer in shortnames.json with
// the state of every file the answer came from; a later lookup of that
// name costs a few stat calls, and any edit of those files makes urun ask
// urun-image again.

// IsShortName reports whether name (without a transport) names no
// registry: its first path component has no '.' or ':' and is not
// localhost.
func IsShortName(name string) bool {
	first, _, ok := strings.Cut(name, "/")
	if !ok {
		return true
	}
	return !strings.ContainsAny(first, ".:") && first != "localhost"
}

// ShortNameCache is shortnames.json in the data directory.
type ShortNameCache struct {
	// Inputs is every file and directory whose content the answers depend
	// on, present or not, as urun-image saw them.
	Inputs []FileState `json:"inputs"`
	// Env is the environment the answers depend on (HOME,
	// CONTAINERS_REGISTRIES_CONF…), as NAME=VALUE.
	Env []string `json:"env"`
	// Names maps a short name, as typed, to the full names to look for
	// locally, in order.
	Names map[string][]string `json:"names"`
}

// FileState is what urun compares to tell whether a file changed.
type FileState struct {
	Path    string `json:"path"`
	Exists  bool   `json:"exists"`
	Size    int64  `json:"size,omitempty"`
	ModTime int64  `json:"mtime,omitempty"` // nanoseconds
}

// ShortNameEnv lists the environment variables that change where
// registries.conf and the alias cache are read from.
var ShortNameEnv = []string{"HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "CONTAINERS_REGISTRIES_CONF", "CONTAINERS_REGISTRIES_CONF_OVERRIDE"}

// StatFile returns the state of path now.
func StatFile(path string) FileState {
	st, err := os.Stat(path)
	if err != nil {
		return FileState{Path: path}
	}
	return FileState{Path: path, Exists: true, Size: st.Size(), ModTime: st.ModTime().UnixNano()}
}

// CurrentEnv returns the ShortNameEnv values of this process.
func CurrentEnv() []string {
	out := make([]string, len(ShortNameEnv))
	for i, k := range ShortNameEnv {
		out[i] = k + "=" + os.Getenv(k)
	}
	return out
}

// ShortNameCachePath is where the cache of the data directory lives.
func ShortNameCachePath(dataDir string) string {
	return filepath.Join(dataDir, "shortnames.json")
}

// ReadShortNameCache reads the cache and reports whether it still holds:
// same environment, and every input file as it was. A missing or
// unreadable cache is an empty, stale one.
func ReadShortNameCache(dataDir string) (c ShortNameCache, fresh bool) {
	b, err := os.ReadFile(ShortNameCachePath(dataDir))
	if err != nil || json.Unmarshal(b, &c) != nil {
		return ShortNameCache{}, false
	}
	return c, c.fresh(CurrentEnv(), StatFile)
}

// fresh reports whether env and the files (as stat reports them) are
// those the cache was made from.
func (c ShortNameCache) fresh(env []string, stat func(string) FileState) bool {
	if len(c.Inputs) == 0 || strings.Join(env, "\x00") != strings.Join(c.Env, "\x00") {
		return false
	}
	for _, in := range c.Inputs {
		if stat(in.Path) != in {
			return false
		}
	}
	return true
}

// WriteShortNameCache replaces the cache by rename. Two writers racing
// lose one answer at worst, which the next lookup asks for again.
func WriteShortNameCache(dataDir string, c ShortNameCache) error {
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return err
	}
	// A temporary file of its own: writers do not hold the store lock.
	f, err := os.CreateTemp(dataDir, "shortnames-*.tmp")
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), ShortNameCachePath(dataDir))
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("writing the short-name cache: %w", err)
	}
	return nil
}

// CachedShortNames returns a resolver for Store.ShortNames: the cached
// answer when the cache is fresh, else ask (urun-image), whose answer it
// records in the cache.
func CachedShortNames(dataDir string, ask func(name string) ([]string, error)) func(string) ([]string, error) {
	return func(name string) ([]string, error) {
		if c, fresh := ReadShortNameCache(dataDir); fresh {
			if names, ok := c.Names[name]; ok {
				return names, nil
			}
		}
		return ask(name)
	}
}

// candidates returns the full names a local lookup of name tries, in
// order; full is name normalised the docker way.
func (s *Store) candidates(name, full string) ([]string, error) {
	bare := strings.TrimPrefix(name, "docker://")
	if bare != name || !IsShortName(bare) {
		return []string{full}, nil
	}
	if s.ShortNames == nil {
		// Without a resolver (tests, tools): docker.io, then localhost/.
		names := []string{full}
		_, path := splitName(full)
		if alt, err := NormalizeName("localhost/" + strings.TrimPrefix(path, "library/") + tagOf(full)); err == nil {
			names = append(names, alt)
		}
		return names, nil
	}
	names, err := s.ShortNames(bare)
	if err != nil {
		return nil, fmt.Errorf("resolving the short name %s: %w", bare, err)
	}
	if len(names) == 0 {
		return nil, errors.New("resolving the short name " + bare + ": no candidates")
	}
	return names, nil
}
