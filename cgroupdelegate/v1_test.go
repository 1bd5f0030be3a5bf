package cgroupdelegate

import (
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestV1PlanDevices(t *testing.T) {
	major, minor := int64(8), int64(0)
	spec := &specs.Spec{Linux: &specs.Linux{
		Resources: &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{
			{Allow: false, Access: "rwm"},
			{Allow: true, Type: "b", Major: &major, Minor: &minor, Access: "r"},
			{Allow: true, Type: "c", Access: "m"},
		}},
		Devices: []specs.LinuxDevice{{Type: "c", Major: 10, Minor: 200}, {Type: "p", Path: "/dev/fifo"}},
	}}
	plan, err := V1Plan(spec)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range plan {
		got = append(got, w.File+" "+w.Value)
	}
	want := []string{
		"devices.deny a", // deny all first, whatever the config says
		"devices.deny a",
		"devices.allow b 8:0 r",
		"devices.allow c *:* m",
		"devices.allow c 10:200 rwm", // linux.devices get their node; the FIFO none
	}
	for i, w := range want {
		if i >= len(got) || got[i] != w {
			t.Fatalf("plan starts %q, want %q", got, want)
		}
	}
	if rest := strings.Join(got[len(want):], ","); !strings.Contains(rest, "devices.allow c 1:3 rwm") {
		t.Errorf("the default devices (runc's) are not allowed after the config's: %s", rest)
	}
	if _, err := V1Plan(&specs.Spec{Linux: &specs.Linux{}}); err != nil {
		t.Errorf("a config without resources: %v", err)
	}
}

func TestV1PlanLimitsAndRefusals(t *testing.T) {
	limit, shares, pids := int64(1<<20), uint64(2), int64(0)
	plan, err := V1Plan(&specs.Spec{Linux: &specs.Linux{Resources: &specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: &limit}, CPU: &specs.LinuxCPU{Shares: &shares}, Pids: &specs.LinuxPids{Limit: &pids},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for _, w := range plan {
		files[w.File] = w.Value
	}
	for f, v := range map[string]string{"memory.limit_in_bytes": "1048576", "cpu.shares": "2", "pids.max": "max"} {
		if files[f] != v {
			t.Errorf("%s = %q, want %q", f, files[f], v)
		}
	}
	for field, r := range map[string]*specs.LinuxResources{
		"linux.resources.cpu.cpus":       {CPU: &specs.LinuxCPU{Cpus: "0"}},
		"linux.resources.hugepageLimits": {HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB"}}},
		"linux.resources.unified":        {Unified: map[string]string{"memory.high": "1"}},
		"linux.resources.devices[0]":     {Devices: []specs.LinuxDeviceCgroup{{Type: "x"}}},
	} {
		if _, err := V1Plan(&specs.Spec{Linux: &specs.Linux{Resources: r}}); err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("%s: got %v, want an error naming it", field, err)
		}
	}
}

func TestV1Path(t *testing.T) {
	for in, want := range map[string]string{
		"":                           "/urun/ID",
		"/k8s.io/abc":                "/k8s.io/abc",
		"k8s.io/abc":                 "/k8s.io/abc",
		"/a/../../b":                 "/b",
		"machine-x.slice:libpod:abc": "/machine.slice/machine-x.slice/libpod-abc.scope",
		"system.slice:docker:abc":    "/system.slice/docker-abc.scope",
	} {
		got, err := V1Path("ID", in)
		if err != nil || got != want {
			t.Errorf("V1Path(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"/", "a:b", "bad:x:y"} {
		if got, err := V1Path("ID", bad); err == nil {
			t.Errorf("V1Path(%q) = %q, want an error", bad, got)
		}
	}
}
