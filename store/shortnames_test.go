package store

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestIsShortName(t *testing.T) {
	for in, want := range map[string]bool{
		"busybox": true, "busybox:1": true, "team/app": true, "a/b/c@sha256:00": true,
		"docker.io/busybox": false, "localhost/x": false, "reg:5000/x": false, "quay.io/a/b": false,
		"127.0.0.1:5000/x": false,
	} {
		if got := IsShortName(in); got != want {
			t.Errorf("IsShortName(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestShortNameCacheFresh(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "registries.conf")
	if err := os.WriteFile(conf, []byte("a"), 0o600); err != nil {
		t.Fatal(err)
	}
	absent := filepath.Join(dir, "absent.conf")
	env := []string{"HOME=/h"}
	c := ShortNameCache{Inputs: []FileState{StatFile(conf), StatFile(absent)}, Env: env}
	if !c.fresh(env, StatFile) {
		t.Fatal("a cache is stale right after it was made")
	}
	if c.fresh([]string{"HOME=/other"}, StatFile) {
		t.Error("a cache stays fresh when HOME changes")
	}
	if err := os.WriteFile(absent, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if c.fresh(env, StatFile) {
		t.Error("a cache stays fresh when a config file appears")
	}
	os.Remove(absent)
	if err := os.WriteFile(conf, []byte("ab"), 0o600); err != nil {
		t.Fatal(err)
	}
	if c.fresh(env, StatFile) {
		t.Error("a cache stays fresh when a config file changes")
	}
	if (ShortNameCache{Env: env}).fresh(env, StatFile) {
		t.Error("a cache without inputs is fresh")
	}
}

func TestCachedShortNames(t *testing.T) {
	dir := t.TempDir()
	asked := 0
	ask := func(name string) ([]string, error) {
		asked++
		return []string{"reg/" + name + ":latest"}, nil
	}
	resolve := CachedShortNames(dir, ask)
	if got, _ := resolve("x"); !reflect.DeepEqual(got, []string{"reg/x:latest"}) || asked != 1 {
		t.Fatalf("without a cache: %v, asked %d", got, asked)
	}
	conf := filepath.Join(dir, "registries.conf")
	os.WriteFile(conf, []byte("a"), 0o600)
	c := ShortNameCache{Inputs: []FileState{StatFile(conf)}, Env: CurrentEnv(), Names: map[string][]string{"x": {"localhost/x:latest", "cached/x:latest"}}}
	if err := WriteShortNameCache(dir, c); err != nil {
		t.Fatal(err)
	}
	if got, _ := resolve("x"); !reflect.DeepEqual(got, c.Names["x"]) || asked != 1 {
		t.Errorf("with a fresh cache: %v, asked %d", got, asked)
	}
	if _, _ = resolve("y"); asked != 2 {
		t.Error("a name not in the cache was not asked for")
	}
	os.WriteFile(conf, []byte("changed"), 0o600)
	if got, _ := resolve("x"); got[0] != "reg/x:latest" || asked != 3 {
		t.Errorf("with a stale cache: %v, asked %d", got, asked)
	}
}

func TestCandidates(t *testing.T) {
	s := &Store{}
	for _, tc := range []struct {
		in, full string
		want     []string
	}{
		{"busybox", "docker.io/library/busybox:latest", []string{"docker.io/library/busybox:latest", "localhost/busybox:latest"}},
		{"docker://busybox", "docker.io/library/busybox:latest", []string{"docker.io/library/busybox:latest"}},
		{"quay.io/a/b:1", "quay.io/a/b:1", []string{"quay.io/a/b:1"}},
	} {
		if got, err := s.candidates(tc.in, tc.full); err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("candidates(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	s.ShortNames = func(name string) ([]string, error) { return []string{"localhost/" + name, "r/" + name}, nil }
	if got, _ := s.candidates("team/x:1", "docker.io/team/x:1"); !reflect.DeepEqual(got, []string{"localhost/team/x:1", "r/team/x:1"}) {
		t.Errorf("with a resolver: %v", got)
	}
	if got, _ := s.candidates("localhost/x", "localhost/x:latest"); !reflect.DeepEqual(got, []string{"localhost/x:latest"}) {
		t.Errorf("a full name went to the resolver: %v", got)
	}
	s.ShortNames = func(string) ([]string, error) { return nil, errors.New("boom") }
	if _, err := s.candidates("x", "docker.io/library/x:latest"); err == nil {
		t.Error("a resolver error was dropped")
	}
}
