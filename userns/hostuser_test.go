package userns

import (
	"os/user"
	"testing"
)

// The NSS fallback parses getent's line as os/user parses /etc/passwd:
// both answers for root must agree.
func TestGetentMatchesPasswd(t *testing.T) {
	want, err := user.LookupId("0")
	if err != nil {
		t.Fatal(err)
	}
	f, err := getent("passwd", 0)
	if err != nil {
		t.Fatal(err)
	}
	if f[0] != want.Username || f[3] != want.Gid || f[5] != want.HomeDir {
		t.Fatalf("getent passwd 0 = %q, os/user has %+v", f, want)
	}
	g, err := getent("group", 0)
	if err != nil || g[0] != "root" {
		t.Fatalf("getent group 0 = %q, %v", g, err)
	}
	if _, err := getent("passwd", 2147480000); err == nil {
		t.Fatal("getent found an entry for an unused uid")
	}
	if _, err := LookupUID(2147480000); err == nil {
		t.Fatal("LookupUID found an unused uid")
	}
	u, err := LookupUID(0)
	if err != nil || u.Username != want.Username {
		t.Fatalf("LookupUID(0) = %+v, %v", u, err)
	}
}
