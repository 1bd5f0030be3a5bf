package transfer

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"go.podman.io/image/v5/pkg/sysregistriesv2"
	"go.podman.io/image/v5/types"
)

// confSystem writes conf as the only registries.conf (no drop-ins) and
// returns a SystemContext reading it.
func confSystem(t *testing.T, conf string) *types.SystemContext {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "registries.conf")
	if err := os.WriteFile(p, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "d"), 0o700); err != nil {
		t.Fatal(err)
	}
	sysregistriesv2.InvalidateCache()
	return &types.SystemContext{
		SystemRegistriesConfPath:    p,
		SystemRegistriesConfDirPath: filepath.Join(dir, "d"),
		UserShortNameAliasConfPath:  filepath.Join(dir, "aliases.conf"),
	}
}

func TestShortNameCandidates(t *testing.T) {
	for _, tc := range []struct {
		name, conf, in string
		local, pull    []string
		pullErr        string
	}{{
		name:  "no search registries: docker.io",
		in:    "busybox",
		local: []string{"localhost/busybox:latest", "docker.io/library/busybox:latest"},
		pull:  []string{"docker.io/library/busybox:latest"},
	}, {
		name:  "search registries in order, tag kept",
		conf:  `unqualified-search-registries = ["r1:5000", "quay.io"]`,
		in:    "team/app:2",
		local: []string{"localhost/team/app:2", "r1:5000/team/app:2", "quay.io/team/app:2"},
		pull:  []string{"r1:5000/team/app:2", "quay.io/team/app:2"},
	}, {
		name:  "an alias comes first, and alone for pulling",
		conf:  "unqualified-search-registries = [\"r1.test\"]\n[aliases]\n\"app\" = \"quay.io/x/app\"\n",
		in:    "app:3",
		local: []string{"quay.io/x/app:3", "localhost/app:3", "r1.test/app:3"},
		pull:  []string{"quay.io/x/app:3"},
	}, {
		name:    "enforcing and ambiguous",
		conf:    "unqualified-search-registries = [\"r1.test\", \"r2.test\"]\nshort-name-mode = \"enforcing\"\n",
		in:      "app",
		local:   []string{"localhost/app:latest", "r1.test/app:latest", "r2.test/app:latest"},
		pullErr: "ambiguous",
	}, {
		name:  "enforcing with one registry",
		conf:  "unqualified-search-registries = [\"r1.test\"]\nshort-name-mode = \"enforcing\"\n",
		in:    "app",
		local: []string{"localhost/app:latest", "r1.test/app:latest"},
		pull:  []string{"r1.test/app:latest"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			sys := confSystem(t, tc.conf)
			local, err := LocalCandidates(sys, tc.in)
			if err != nil || !reflect.DeepEqual(local, tc.local) {
				t.Errorf("LocalCandidates = %v, %v; want %v", local, err, tc.local)
			}
			pull, err := PullCandidates(sys, tc.in)
			if tc.pullErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.pullErr) || !strings.Contains(err.Error(), "r2.test/app:latest") {
					t.Errorf("PullCandidates = %v, %v; want an error listing the candidates", pull, err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(pull, tc.pull) {
				t.Errorf("PullCandidates = %v, %v; want %v", pull, err, tc.pull)
			}
		})
	}
}

// The inputs name the files sysregistriesv2 reads, present or not.
func TestShortNameInputs(t *testing.T) {
	sys := confSystem(t, "")
	os.WriteFile(filepath.Join(sys.SystemRegistriesConfDirPath, "10-x.conf"), nil, 0o600)
	in, err := ShortNameInputs(sys)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, f := range in {
		paths = append(paths, f.Path)
	}
	want := []string{sys.SystemRegistriesConfPath, sys.SystemRegistriesConfDirPath,
		filepath.Join(sys.SystemRegistriesConfDirPath, "10-x.conf"), sys.UserShortNameAliasConfPath}
	if !reflect.DeepEqual(paths, want) {
		t.Errorf("inputs %v, want %v", paths, want)
	}
	if !in[0].Exists || in[3].Exists {
		t.Errorf("existence wrong: %+v", in)
	}
}

func TestSplitShort(t *testing.T) {
	dig := "@sha256:" + strings.Repeat("a", 64)
	for in, want := range map[string][2]string{
		"app": {"app", ":latest"}, "team/app:1": {"team/app", ":1"},
		"app" + dig: {"app", dig}, "app:1" + dig: {"app", ":1" + dig},
	} {
		repo, suffix, err := splitShort(in)
		if err != nil || repo != want[0] || suffix != want[1] {
			t.Errorf("splitShort(%q) = %q, %q, %v; want %q", in, repo, suffix, err, want)
		}
	}
	if _, _, err := splitShort("Bad:Name:x"); err == nil {
		t.Error("an invalid name was split")
	}
}

func TestAuthKey(t *testing.T) {
	for in, want := range map[string]string{
		"quay.io": "quay.io", "https://quay.io/": "quay.io", "127.0.0.1:5000": "127.0.0.1:5000",
		"index.docker.io": "docker.io", "quay.io/team": "quay.io/team", "quay.io/team/app": "quay.io/team/app",
		"": "", "quay.io/a:tag": "", "us er": "",
	} {
		got, err := AuthKey(in)
		if (want == "") != (err != nil) || got != want {
			t.Errorf("AuthKey(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}
