package netns

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseAddHost(t *testing.T) {
	for _, tc := range []struct{ in, name, ip, err string }{
		{in: "db:10.1.2.3", name: "db", ip: "10.1.2.3"},
		{in: "db=10.1.2.3", name: "db", ip: "10.1.2.3"},
		{in: "v6:fd00::1", name: "v6", ip: "fd00::1"},
		{in: "v6:[fd00::1]", name: "v6", ip: "fd00::1"},
		{in: "db", err: "want NAME:IP"},
		{in: ":1.2.3.4", err: "want NAME:IP"},
		{in: "d b:1.2.3.4", err: "not a host name"},
		{in: "db:nope", err: "not an IP address"},
	} {
		h, err := ParseAddHost(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseAddHost(%q) error = %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || h.Name != tc.name || !h.IP.Equal(net.ParseIP(tc.ip)) {
			t.Errorf("ParseAddHost(%q) = %+v, %v", tc.in, h, err)
		}
	}
	if _, err := ParseDNS("1.1.1.x"); err == nil {
		t.Error("ParseDNS accepted a bad address")
	}
}

func TestEtcFiles(t *testing.T) {
	hostResolv := []byte("# comment\nsearch example.org\nnameserver 192.0.2.53\noptions ndots:2\n")
	c := EtcConfig{
		Hostname:   "box",
		Driver:     Pasta,
		AddHosts:   []HostEntry{{Name: "db", IP: net.ParseIP("10.9.9.9")}},
		HostResolv: hostResolv,
	}
	for _, tc := range []struct {
		name string
		got  string
		want string
	}{
		{"pasta hosts", string(Hosts(c)), "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n10.0.2.100\tbox\n10.9.9.9\tdb\n"},
		{"pasta resolv", string(Resolv(c)), "search example.org\noptions ndots:2\nnameserver 10.0.2.3\n"},
		{"none hosts", string(Hosts(EtcConfig{Hostname: "box", Driver: None})), "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\tbox\n"},
		{"none resolv", string(Resolv(EtcConfig{Driver: None, HostResolv: hostResolv})), "search example.org\noptions ndots:2\nnameserver 192.0.2.53\n"},
		{"--dns", string(Resolv(EtcConfig{Driver: Slirp4netns, HostResolv: hostResolv, DNS: []net.IP{net.ParseIP("9.9.9.9"), net.ParseIP("::1")}})),
			"search example.org\noptions ndots:2\nnameserver 9.9.9.9\nnameserver ::1\n"},
		{"host hosts", string(Hosts(EtcConfig{Hostname: "box", Driver: Host, HostHosts: []byte("127.0.0.1 localhost\n10.0.0.1 gw")})),
			"127.0.0.1 localhost\n10.0.0.1 gw\n127.0.1.1\tbox\n"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, tc.got, tc.want)
		}
	}
	dir := t.TempDir()
	mounts, err := WriteEtc(dir, c)
	if err != nil {
		t.Fatal(err)
	}
	if len(mounts) != 3 {
		t.Fatalf("WriteEtc: %d mounts, want 3", len(mounts))
	}
	for _, m := range mounts {
		b, err := os.ReadFile(m.Source)
		if err != nil || filepath.Dir(m.Source) != dir || !strings.HasPrefix(m.Destination, "/etc/") || len(b) == 0 {
			t.Errorf("mount %+v: file %q, %v", m, b, err)
		}
	}
}
