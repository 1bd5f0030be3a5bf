package engine

import (
	"net"
	"testing"

	"github.com/urun-dev/urun/netns"
)

func TestPortsColumn(t *testing.T) {
	lo := net.ParseIP("127.0.0.1")
	tcp := func(ip net.IP, h, c int) netns.Port {
		return netns.Port{HostIP: ip, HostPort: h, ContainerPort: c, Proto: "tcp"}
	}
	for _, tc := range []struct {
		ports []netns.Port
		want  string
	}{
		{nil, ""},
		{[]netns.Port{tcp(nil, 8080, 80)}, "0.0.0.0:8080->80/tcp"},
		{[]netns.Port{tcp(nil, 8000, 8000), tcp(nil, 8001, 8001), tcp(nil, 8002, 8002)}, "0.0.0.0:8000-8002->8000-8002/tcp"},
		{[]netns.Port{tcp(lo, 18390, 8000), tcp(lo, 18391, 8001)}, "127.0.0.1:18390-18391->8000-8001/tcp"},
		// Not a run: another address, protocol, or a gap on either side.
		{[]netns.Port{tcp(lo, 8000, 80), tcp(nil, 8001, 81)}, "127.0.0.1:8000->80/tcp, 0.0.0.0:8001->81/tcp"},
		{[]netns.Port{tcp(nil, 8000, 80), {HostPort: 8001, ContainerPort: 81, Proto: "udp"}}, "0.0.0.0:8000->80/tcp, 0.0.0.0:8001->81/udp"},
		{[]netns.Port{tcp(nil, 8000, 80), tcp(nil, 8002, 81)}, "0.0.0.0:8000->80/tcp, 0.0.0.0:8002->81/tcp"},
		{[]netns.Port{tcp(nil, 8000, 80), tcp(nil, 8001, 81), tcp(nil, 9000, 90)}, "0.0.0.0:8000-8001->80-81/tcp, 0.0.0.0:9000->90/tcp"},
	} {
		if got := PortsColumn(tc.ports); got != tc.want {
			t.Errorf("PortsColumn(%v) = %q, want %q", tc.ports, got, tc.want)
		}
	}
}
