package idmap

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// useFiles points SubUIDFile and SubGIDFile at temporary files holding
// subuid and subgid ("" leaves that file missing) and hides any real
// getsubids by emptying PATH.
func useFiles(t *testing.T, subuid, subgid string) {
	t.Helper()
	dir := t.TempDir()
	oldUID, oldGID := SubUIDFile, SubGIDFile
	t.Cleanup(func() { SubUIDFile, SubGIDFile = oldUID, oldGID })
	SubUIDFile = filepath.Join(dir, "subuid")
	SubGIDFile = filepath.Join(dir, "subgid")
	for path, text := range map[string]string{SubUIDFile: subuid, SubGIDFile: subgid} {
		if text == "" {
			continue
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	emptyDir := t.TempDir()
	t.Setenv("PATH", emptyDir)
	useNSSwitch(t, "passwd: files\n")
}

// fakeGetsubids puts a getsubids shell script with body on PATH and
// names an NSS subid service, so that LookupSubIDs asks getsubids.
func fakeGetsubids(t *testing.T, body string) string {
	t.Helper()
	dir := t.TempDir()
	useNSSwitch(t, "passwd: files\nsubid: sss # LDAP\n")
	path := filepath.Join(dir, "getsubids")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir)
	return path
}

// useNSSwitch points NSSwitchFile at a temporary file holding text.
func useNSSwitch(t *testing.T, text string) {
	t.Helper()
	old := NSSwitchFile
	t.Cleanup(func() { NSSwitchFile = old })
	NSSwitchFile = filepath.Join(t.TempDir(), "nsswitch.conf")
	if err := os.WriteFile(NSSwitchFile, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestSubidService(t *testing.T) {
	tests := []struct{ text, want string }{
		{"passwd: files\n", ""},
		{"subid: files\n", ""},
		{"subid:\n", ""},
		{"# subid: sss\n", ""},
		{"passwd: files systemd\nsubid:   sss  extra\n", "sss"},
		{"subid: freeipa # comment\n", "freeipa"},
	}
	for _, tt := range tests {
		useNSSwitch(t, tt.text)
		if got := subidService(); got != tt.want {
			t.Errorf("subidService(%q) = %q, want %q", tt.text, got, tt.want)
		}
	}
	NSSwitchFile = filepath.Join(t.TempDir(), "missing")
	if got := subidService(); got != "" {
		t.Errorf("subidService without nsswitch.conf = %q, want the files", got)
	}
}

// Without a subid service getsubids is not run: libsubid would read the
// same files, and each run costs milliseconds of every start.
func TestLookupSubIDsFilesServiceSkipsGetsubids(t *testing.T) {
	useFiles(t, "alice:100000:65536\n", "")
	fakeGetsubids(t, "echo '0: alice 300000 65536'\n")
	useNSSwitch(t, "subid: files\n")
	got, src, err := LookupSubIDs("alice", 1000, false)
	if err != nil || src.Kind != "file" || !reflect.DeepEqual(got, []SubIDRange{{100000, 65536}}) {
		t.Errorf("LookupSubIDs = %+v, %+v, %v; want the range from the file", got, src, err)
	}
}

func TestLookupSubIDsFile(t *testing.T) {
	subuid := "# users\nalice:100000:65536\nbob:165536:65536\n1000:231072:1000\n"
	subgid := "alice:300000:65536\n"
	tests := []struct {
		name     string
		userName string
		uid      uint32
		gid      bool
		want     []SubIDRange
	}{
		{"uid by name and uid", "alice", 1000, false, []SubIDRange{{100000, 65536}, {231072, 1000}}},
		{"uid other user", "bob", 1001, false, []SubIDRange{{165536, 65536}}},
		{"uid no entry", "carol", 1002, false, nil},
		{"gid", "alice", 1000, true, []SubIDRange{{300000, 65536}}},
		{"gid no entry", "bob", 1001, true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			useFiles(t, subuid, subgid)
			got, src, err := LookupSubIDs(tt.userName, tt.uid, tt.gid)
			if err != nil {
				t.Fatalf("LookupSubIDs: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ranges %+v, want %+v", got, tt.want)
			}
			wantPath := SubUIDFile
			if tt.gid {
				wantPath = SubGIDFile
			}
			if want := (Source{Kind: "file", Path: wantPath}); src != want {
				t.Errorf("source %+v, want %+v", src, want)
			}
		})
	}
}

func TestLookupSubIDsMissingFile(t *testing.T) {
	useFiles(t, "", "")
	for _, gid := range []bool{false, true} {
		got, src, err := LookupSubIDs("alice", 1000, gid)
		if err != nil || got != nil || src.Kind != "none" {
			t.Errorf("LookupSubIDs(gid=%v) = %+v, %+v, %v; want no ranges, Kind none, nil", gid, got, src, err)
		}
	}
}

func TestLookupSubIDsMalformedFile(t *testing.T) {
	useFiles(t, "alice:100000:65536\nbob:x:1\n", "")
	_, _, err := LookupSubIDs("alice", 1000, false)
	want := "reading subordinate ids: " + SubUIDFile + `:2: start "x" is not a number`
	if err == nil || err.Error() != want {
		t.Errorf("error %v, want %q", err, want)
	}
}

func TestLookupSubIDsUnreadableFile(t *testing.T) {
	useFiles(t, "", "")
	// A directory opens but cannot be read, which works even as root.
	if err := os.Mkdir(SubUIDFile, 0o755); err != nil {
		t.Fatal(err)
	}
	_, _, err := LookupSubIDs("alice", 1000, false)
	if err == nil || !strings.Contains(err.Error(), SubUIDFile) {
		t.Errorf("error %v, want one naming %s", err, SubUIDFile)
	}
}

func TestLookupSubIDsGetsubids(t *testing.T) {
	useFiles(t, "alice:100000:65536\n", "alice:100000:65536\n")
	script := fakeGetsubids(t, `if [ "$1" = -g ]; then
	echo "0: $2 400000 65536"
	echo "1: $2 500000 10"
else
	echo "0: $1 300000 65536"
fi
`)
	tests := []struct {
		gid  bool
		want []SubIDRange
	}{
		{false, []SubIDRange{{300000, 65536}}},
		{true, []SubIDRange{{400000, 65536}, {500000, 10}}},
	}
	for _, tt := range tests {
		got, src, err := LookupSubIDs("alice", 1000, tt.gid)
		if err != nil {
			t.Fatalf("LookupSubIDs(gid=%v): %v", tt.gid, err)
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("LookupSubIDs(gid=%v) ranges %+v, want %+v", tt.gid, got, tt.want)
		}
		if want := (Source{Kind: "getsubids", Path: script}); src != want {
			t.Errorf("LookupSubIDs(gid=%v) source %+v, want %+v", tt.gid, src, want)
		}
	}
}

func TestLookupSubIDsGetsubidsUsesUIDWithoutName(t *testing.T) {
	useFiles(t, "", "")
	fakeGetsubids(t, `[ "$1" = 1000 ] && echo "0: 1000 300000 65536"`+"\n")
	got, src, err := LookupSubIDs("", 1000, false)
	if err != nil || src.Kind != "getsubids" || !reflect.DeepEqual(got, []SubIDRange{{300000, 65536}}) {
		t.Errorf("LookupSubIDs = %+v, %+v, %v; want the range from getsubids", got, src, err)
	}
}

func TestLookupSubIDsGetsubidsFallsBack(t *testing.T) {
	tests := []struct {
		name string
		body string
	}{
		{"fails", "echo 'Error fetching ranges' >&2\nexit 1\n"},
		{"no ranges", "exit 0\n"},
		{"garbage", "echo 'something unexpected'\n"},
		{"ranges but fails", "echo '0: alice 300000 65536'\nexit 1\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			useFiles(t, "alice:100000:65536\n", "")
			fakeGetsubids(t, tt.body)
			got, src, err := LookupSubIDs("alice", 1000, false)
			if err != nil {
				t.Fatalf("LookupSubIDs: %v", err)
			}
			if src.Kind != "file" || !reflect.DeepEqual(got, []SubIDRange{{100000, 65536}}) {
				t.Errorf("LookupSubIDs = %+v, %+v; want the range from the file", got, src)
			}
		})
	}
}
