package container

import (
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"testing"
)

// fakeRoot is a container root filesystem holding only the given files.
func fakeRoot(files map[string]string) ReadFile {
	return func(p string) ([]byte, error) {
		s, ok := files[p]
		if !ok {
			return nil, fmt.Errorf("open %s: %w", p, fs.ErrNotExist)
		}
		return []byte(s), nil
	}
}

const testPasswd = `root:x:0:0:root:/root:/bin/sh
# a comment, and a blank line

daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
user:x:1000:1000:user:/home/user:/bin/sh
nohome:x:1001:1001
bad:x:notanumber:1:bad:/bad:/bin/sh
huge:x:4294967296:1:huge:/huge:/bin/sh
+nis
1002:x:1500:1500:numeric name:/home/n:/bin/sh
`

const testGroup = `root:x:0:
daemon:x:1:user
wheel:x:10:root,user
staff:x:50: user , other
users:x:100:
user:x:1000:
dup:x:10:user
bad:x:x:user
`

func TestUserResolve(t *testing.T) {
	root := fakeRoot(map[string]string{"/etc/passwd": testPasswd, "/etc/group": testGroup})
	for _, tc := range []struct {
		spec string
		want execUser
	}{
		{"", execUser{UID: 0, GID: 0, AdditionalGids: []uint32{10}, Home: "/root"}},
		{"root", execUser{UID: 0, GID: 0, AdditionalGids: []uint32{10}, Home: "/root"}},
		{"0", execUser{UID: 0, GID: 0, AdditionalGids: []uint32{10}, Home: "/root"}},
		{"user", execUser{UID: 1000, GID: 1000, AdditionalGids: []uint32{1, 10, 50}, Home: "/home/user"}},
		{"1000", execUser{UID: 1000, GID: 1000, AdditionalGids: []uint32{1, 10, 50}, Home: "/home/user"}},
		{"user:users", execUser{UID: 1000, GID: 100, Home: "/home/user"}},
		{"user:100", execUser{UID: 1000, GID: 100, Home: "/home/user"}},
		{"user:4242", execUser{UID: 1000, GID: 4242, Home: "/home/user"}},
		{"1000:1000", execUser{UID: 1000, GID: 1000, Home: "/home/user"}},
		{"4242", execUser{UID: 4242, GID: 0}},
		{"4242:staff", execUser{UID: 4242, GID: 50}},
		{"4242:4343", execUser{UID: 4242, GID: 4343}},
		{":staff", execUser{UID: 0, GID: 50, Home: "/root"}},
		{"nohome", execUser{UID: 1001, GID: 1001}},
		{"daemon", execUser{UID: 1, GID: 1, Home: "/usr/sbin"}},
		// A user named by digits is found by name before the number is
		// taken as a uid.
		{"1002", execUser{UID: 1500, GID: 1500, Home: "/home/n"}},
		{"2147483647", execUser{UID: 2147483647}},
	} {
		got, err := resolveUser(tc.spec, root)
		if err != nil {
			t.Errorf("resolveUser(%q): %v", tc.spec, err)
			continue
		}
		if !equalUser(got, tc.want) {
			t.Errorf("resolveUser(%q) = %+v, want %+v", tc.spec, got, tc.want)
		}
	}
}

func equalUser(a, b execUser) bool {
	return a.UID == b.UID && a.GID == b.GID && a.Home == b.Home && slices.Equal(a.AdditionalGids, b.AdditionalGids)
}

func TestUserWithoutAccountFiles(t *testing.T) {
	for _, root := range []ReadFile{fakeRoot(nil), nil} {
		for _, tc := range []struct {
			spec string
			want execUser
		}{
			{"", execUser{}},
			{"0", execUser{}},
			{"1000", execUser{UID: 1000}},
			{"1000:1000", execUser{UID: 1000, GID: 1000}},
		} {
			got, err := resolveUser(tc.spec, root)
			if err != nil || !equalUser(got, tc.want) {
				t.Errorf("resolveUser(%q) without /etc/passwd = %+v, %v; want %+v", tc.spec, got, err, tc.want)
			}
		}
		if _, err := resolveUser("bob", root); err == nil || !strings.Contains(err.Error(), `user "bob" not found in the image's /etc/passwd`) {
			t.Errorf("named user without /etc/passwd: %v", err)
		}
	}
	// Only /etc/passwd: a named group cannot be found, a numeric one can.
	root := fakeRoot(map[string]string{"/etc/passwd": testPasswd})
	if u, err := resolveUser("user", root); err != nil || u.GID != 1000 || len(u.AdditionalGids) != 0 {
		t.Errorf("user without /etc/group = %+v, %v", u, err)
	}
	if _, err := resolveUser("user:staff", root); err == nil {
		t.Error("named group without /etc/group accepted")
	}
}

func TestUserErrors(t *testing.T) {
	root := fakeRoot(map[string]string{"/etc/passwd": testPasswd, "/etc/group": testGroup})
	for _, tc := range []struct{ spec, want string }{
		{"bob", `user "bob" not found in the image's /etc/passwd`},
		{"bad", `user "bad" not found`},
		{"user:nogroup", `group "nogroup" not found in the image's /etc/group`},
		{"user:", `invalid user "user:": want USER[:GROUP]`},
		{"a:b:c", `invalid user "a:b:c": want USER[:GROUP]`},
		{"-1", `user "-1" not found`},
		{"2147483648", `invalid user "2147483648": id 2147483648 is out of range (want 0-2147483647)`},
		{"99999999999999999999999", `out of range`},
		{"user:4294967295", `invalid group in user "user:4294967295": id 4294967295 is out of range`},
	} {
		_, err := resolveUser(tc.spec, root)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("resolveUser(%q) error = %v, want %q", tc.spec, err, tc.want)
		}
	}
	broken := func(string) ([]byte, error) { return nil, errors.New("permission denied") }
	if _, err := resolveUser("0", broken); err == nil || !strings.Contains(err.Error(), "reading the image's /etc/passwd: permission denied") {
		t.Errorf("unreadable /etc/passwd: %v", err)
	}
}

func TestUserInSpec(t *testing.T) {
	img := busyboxConfig()
	root := fakeRoot(map[string]string{"/etc/passwd": testPasswd, "/etc/group": testGroup})
	for _, tc := range []struct {
		name      string
		imgUser   string
		optUser   string
		env       []string
		uid, gid  uint32
		gids      []uint32
		home      string
		effective bool
	}{
		{"image default is root", "", "", nil, 0, 0, []uint32{10}, "HOME=/root", true},
		{"image user", "user", "", nil, 1000, 1000, []uint32{1, 10, 50}, "HOME=/home/user", false},
		{"-u overrides the image", "user", "0:0", nil, 0, 0, nil, "HOME=/root", true},
		{"unknown uid gets / as home", "", "4242", nil, 4242, 0, nil, "HOME=/", false},
		{"HOME from -e wins", "", "user", []string{"HOME=/elsewhere"}, 1000, 1000, []uint32{1, 10, 50}, "HOME=/elsewhere", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img.User = tc.imgUser
			s, err := BuildSpec(img, Options{User: tc.optUser, Env: tc.env, ContainerID: testID}, root, nil)
			if err != nil {
				t.Fatal(err)
			}
			u := s.Process.User
			if u.UID != tc.uid || u.GID != tc.gid || !slices.Equal(u.AdditionalGids, tc.gids) {
				t.Errorf("user = %+v, want %d:%d %v", u, tc.uid, tc.gid, tc.gids)
			}
			if !slices.Contains(s.Process.Env, tc.home) {
				t.Errorf("env %q lacks %s", s.Process.Env, tc.home)
			}
			if got := len(s.Process.Capabilities.Effective) > 0; got != tc.effective {
				t.Errorf("effective capabilities %v, want some: %v", s.Process.Capabilities.Effective, tc.effective)
			}
		})
	}
}
