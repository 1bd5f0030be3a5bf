package netns

import (
	"net"
	"reflect"
	"strings"
	"testing"
)

func TestParseMode(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    Mode
		wantErr string
	}{
		{in: "none", want: Mode{Driver: None}},
		{in: "host", want: Mode{Driver: Host}},
		{in: "pasta", want: Mode{Driver: Pasta}},
		{in: "slirp4netns", want: Mode{Driver: Slirp4netns}},
		{in: "pasta:allow_host_loopback", want: Mode{Driver: Pasta, AllowHostLoopback: true}},
		{in: "pasta:--mtu=1500,-I,tap1", want: Mode{Driver: Pasta, PastaArgs: []string{"--mtu=1500", "-I", "tap1"}}},
		{in: "slirp4netns:allow_host_loopback=true,mtu=1500,enable_sandbox,enable_seccomp=false",
			want: Mode{Driver: Slirp4netns, AllowHostLoopback: true, MTU: 1500, Sandbox: true}},
		{in: "slirp4netns:allow_host_loopback=false", want: Mode{Driver: Slirp4netns}},
		{in: "none:x", wantErr: "takes no options"},
		{in: "bridge", wantErr: "not supported"},
		{in: "wifi", wantErr: "unknown mode"},
		{in: "", wantErr: "unknown mode"},
		{in: "pasta:", wantErr: "empty option list"},
		{in: "pasta:-T,auto", wantErr: "set by urun"},
		{in: "pasta:--netns=/x", wantErr: "set by urun"},
		{in: "pasta:-f", wantErr: "set by urun"},
		{in: "pasta:a,,b", wantErr: "empty pasta argument"},
		{in: "slirp4netns:mtu=10", wantErr: "out of range"},
		{in: "slirp4netns:mtu=x", wantErr: "mtu"},
		{in: "slirp4netns:cidr=10.1.0.0/24", wantErr: "unknown slirp4netns option"},
		{in: "slirp4netns:allow_host_loopback=maybe", wantErr: "not true or false"},
	} {
		got, err := ParseMode(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseMode(%q) error = %v, want one containing %q", tc.in, err, tc.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "\n") {
				t.Errorf("ParseMode(%q): error is not one line: %q", tc.in, err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseMode(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

func TestParsePort(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    Port
		wantErr string
	}{
		{in: "8080:80", want: Port{HostPort: 8080, ContainerPort: 80, Proto: "tcp"}},
		{in: "127.0.0.1:8080:80", want: Port{HostIP: net.ParseIP("127.0.0.1"), HostPort: 8080, ContainerPort: 80, Proto: "tcp"}},
		{in: "127.0.0.1:53:53/udp", want: Port{HostIP: net.ParseIP("127.0.0.1"), HostPort: 53, ContainerPort: 53, Proto: "udp"}},
		{in: "[::1]:8080:80/tcp", want: Port{HostIP: net.ParseIP("::1"), HostPort: 8080, ContainerPort: 80, Proto: "tcp"}},
		{in: ":8080:80", want: Port{HostPort: 8080, ContainerPort: 80, Proto: "tcp"}},
		{in: "80", want: Port{ContainerPort: 80, Proto: "tcp"}},
		{in: "127.0.0.1::80/udp", want: Port{HostIP: net.ParseIP("127.0.0.1"), ContainerPort: 80, Proto: "udp"}},
		{in: "x", wantErr: "container port"},
		{in: "8080:80/sctp", wantErr: "not tcp or udp"},
		{in: "x:8080:80", wantErr: "not an IP address"},
		{in: "0:80", wantErr: "host port"},
		{in: "8080:70000", wantErr: "container port"},
		{in: "8080-8090:80", wantErr: "host port"},
	} {
		got, err := ParsePort(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParsePort(%q) error = %v, want one containing %q", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParsePort(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
	a, _ := ParsePort("127.0.0.1:8080:80")
	b, _ := ParsePort("127.0.0.1:8080:81")
	c, _ := ParsePort("127.0.0.1:8080:80/udp")
	if err := CheckPorts([]Port{a, c}); err != nil {
		t.Errorf("tcp and udp on one port: %v", err)
	}
	if err := CheckPorts([]Port{a, b}); err == nil {
		t.Error("one host port published twice: no error")
	}
}

func TestParsePorts(t *testing.T) {
	lo := net.ParseIP("127.0.0.1")
	for _, tc := range []struct {
		in      string
		want    []Port
		wantErr string
	}{
		{in: "8080:80", want: []Port{{HostPort: 8080, ContainerPort: 80, Proto: "tcp"}}},
		{in: "127.0.0.1:8000-8002:9000-9002/udp", want: []Port{
			{HostIP: lo, HostPort: 8000, ContainerPort: 9000, Proto: "udp"},
			{HostIP: lo, HostPort: 8001, ContainerPort: 9001, Proto: "udp"},
			{HostIP: lo, HostPort: 8002, ContainerPort: 9002, Proto: "udp"}}},
		{in: "8000-8001", want: []Port{{ContainerPort: 8000, Proto: "tcp"}, {ContainerPort: 8001, Proto: "tcp"}}},
		{in: "8000-8001:80", wantErr: "give ranges of one length"},
		{in: "8000-8002:80-81", wantErr: "host range has 3 ports and the container range 2"},
		{in: "8002-8000:80-82", wantErr: "ends before it starts"},
		{in: "8000-x:80-81", wantErr: "host port"},
		{in: "80-0", wantErr: "container port"},
	} {
		got, err := ParsePorts(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParsePorts(%q) error = %v, want one containing %q", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParsePorts(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

func FuzzParsePort(f *testing.F) {
	for _, s := range []string{"8080:80", "127.0.0.1:1:2/udp", "[::1]:3:4", "::::", "/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePort(s)
		if err != nil {
			return
		}
		again, err := ParsePort(p.String())
		if err != nil || !reflect.DeepEqual(again, p) {
			t.Fatalf("ParsePort(%q) = %+v, but its String %q parses to %+v, %v", s, p, p.String(), again, err)
		}
	})
}

func TestPastaArgs(t *testing.T) {
	ports := []Port{
		{HostIP: net.ParseIP("127.0.0.1"), HostPort: 8080, ContainerPort: 80, Proto: "tcp"},
		{HostPort: 5353, ContainerPort: 53, Proto: "udp"},
	}
	p := &pastaNet{mode: Mode{Driver: Pasta}, ports: ports}
	got := strings.Join(p.args(42, "/run/p.pid"), " ")
	for _, want := range []string{"-f ", "--config-net", "-T none -U none", "--no-map-gw",
		"-t 127.0.0.1/8080:80", "-u 5353:53", "-P /run/p.pid 42"} {
		if !strings.Contains(got, want) {
			t.Errorf("pasta args %q lack %q", got, want)
		}
	}
	p = &pastaNet{mode: Mode{Driver: Pasta, AllowHostLoopback: true, PastaArgs: []string{"--mtu=1500"}}}
	got = strings.Join(p.args(42, "/p"), " ")
	if strings.Contains(got, "--no-map-gw") {
		t.Errorf("allow_host_loopback: args still have --no-map-gw: %q", got)
	}
	for _, want := range []string{"-t none", "-u none", "--mtu=1500 -P"} {
		if !strings.Contains(got, want) {
			t.Errorf("pasta args %q lack %q", got, want)
		}
	}
}
