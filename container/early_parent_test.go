package container

import (
	"os"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The early init is used only for a run whose final spec asks for the
// clone it was made with; anything that decides the clone differs and
// it is not.
func TestSameClone(t *testing.T) {
	base := func() RunConfig {
		return RunConfig{
			Spec: &specs.Spec{
				Process: &specs.Process{},
				Linux: &specs.Linux{
					Namespaces:  Namespaces(Options{}),
					UIDMappings: []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}, {ContainerID: 1, HostID: 100000, Size: 65536}},
					GIDMappings: []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}, {ContainerID: 1, HostID: 100000, Size: 65536}},
				},
			},
			UseHelpers: true, Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
		}
	}
	early := initUsernsConfig(base(), nil)
	if !sameClone(early, initUsernsConfig(base(), nil)) {
		t.Fatal("the same config is not the same clone")
	}
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer devnull.Close()
	for name, change := range map[string]func(*RunConfig){
		"host network": func(c *RunConfig) { c.Spec.Linux.Namespaces = Namespaces(Options{NetworkHost: true}) },
		"host pid":     func(c *RunConfig) { c.Spec.Linux.Namespaces = Namespaces(Options{PIDHost: true}) },
		"joined pid namespace": func(c *RunConfig) {
			c.Spec.Linux.Namespaces[0] = specs.LinuxNamespace{Type: specs.PIDNamespace, Path: "/proc/1/ns/pid"}
		},
		"other uid map": func(c *RunConfig) { c.Spec.Linux.UIDMappings[1].Size = 1000 },
		"other gid map": func(c *RunConfig) { c.Spec.Linux.GIDMappings = c.Spec.Linux.GIDMappings[:1] },
		"no helpers":    func(c *RunConfig) { c.UseHelpers = false },
		"no new user":   func(c *RunConfig) { c.NoNewUser = true },
		"cgroup":        func(c *RunConfig) { c.UseCgroup, c.CgroupFD = true, 5 },
		"terminal":      func(c *RunConfig) { c.Spec.Process.Terminal = true },
		"other stdin":   func(c *RunConfig) { c.Stdin = devnull },
		"other stdout":  func(c *RunConfig) { c.Stdout = devnull },
	} {
		c := base()
		change(&c)
		if sameClone(early, initUsernsConfig(c, nil)) {
			t.Errorf("%s: taken for the same clone", name)
		}
	}
}
