package engine

import (
	"os"
	"reflect"
	"strings"
	"testing"

	v1 "github.com/opencontainers/image-spec/specs-go/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/urun-dev/urun/container"
	"github.com/urun-dev/urun/idmap"
	"github.com/urun-dev/urun/netns"
)

func applyChanges(t *testing.T, c v1.ImageConfig, texts ...string) v1.ImageConfig {
	t.Helper()
	set := false
	for _, text := range texts {
		ch, err := parseChange(text)
		if err != nil {
			t.Fatalf("%q: %v", text, err)
		}
		ch.apply(&c, &set)
	}
	return c
}

func TestParseChange(t *testing.T) {
	base := v1.ImageConfig{Env: []string{"PATH=/bin", "A=old"}, Cmd: []string{"sh"}, WorkingDir: "/srv"}
	for _, tc := range []struct {
		changes []string
		check   func(c v1.ImageConfig) bool
	}{
		{[]string{`CMD ["cat", "/f"]`}, func(c v1.ImageConfig) bool { return reflect.DeepEqual(c.Cmd, []string{"cat", "/f"}) }},
		{[]string{`cmd echo $HOME`}, func(c v1.ImageConfig) bool {
			return reflect.DeepEqual(c.Cmd, []string{"/bin/sh", "-c", "echo $HOME"})
		}},
		{[]string{`ENTRYPOINT ["/e"]`}, func(c v1.ImageConfig) bool { return c.Cmd == nil && c.Entrypoint[0] == "/e" }},
		{[]string{`CMD ["x"]`, `ENTRYPOINT ["/e"]`}, func(c v1.ImageConfig) bool { return c.Cmd[0] == "x" && c.Entrypoint[0] == "/e" }},
		{[]string{`ENV A=b C="two words"`}, func(c v1.ImageConfig) bool {
			return reflect.DeepEqual(c.Env, []string{"PATH=/bin", "A=b", "C=two words"})
		}},
		{[]string{`ENV D some value`}, func(c v1.ImageConfig) bool { return c.Env[2] == "D=some value" }},
		{[]string{`LABEL k=v "x y"=z`}, func(c v1.ImageConfig) bool { return c.Labels["k"] == "v" && c.Labels["x y"] == "z" }},
		{[]string{`WORKDIR sub`}, func(c v1.ImageConfig) bool { return c.WorkingDir == "/srv/sub" }},
		{[]string{`WORKDIR /abs`}, func(c v1.ImageConfig) bool { return c.WorkingDir == "/abs" }},
		{[]string{`EXPOSE 80 53/udp 8000-8001`}, func(c v1.ImageConfig) bool {
			_, a := c.ExposedPorts["80/tcp"]
			_, b := c.ExposedPorts["53/udp"]
			_, d := c.ExposedPorts["8001/tcp"]
			return a && b && d && len(c.ExposedPorts) == 4
		}},
		{[]string{`USER 1000:1000`}, func(c v1.ImageConfig) bool { return c.User == "1000:1000" }},
		{[]string{`VOLUME ["/v", "/w"]`}, func(c v1.ImageConfig) bool { return len(c.Volumes) == 2 }},
		{[]string{`VOLUME /v`}, func(c v1.ImageConfig) bool { _, ok := c.Volumes["/v"]; return ok }},
		{[]string{`STOPSIGNAL SIGINT`}, func(c v1.ImageConfig) bool { return c.StopSignal == "SIGINT" }},
	} {
		if c := applyChanges(t, cloneConfig(base), tc.changes...); !tc.check(c) {
			t.Errorf("%q: got %+v", tc.changes, c)
		}
	}
	if base.Env[1] != "A=old" {
		t.Errorf("a change wrote through to the parent's config: %v", base.Env)
	}
	for _, bad := range []string{"", "FROB x", "CMD", `CMD ["a",]`, "EXPOSE 0", "EXPOSE 80/icmp", "EXPOSE 9-8", "ENV =x", "VOLUME rel", "STOPSIGNAL SIGNOPE", "ONBUILD RUN x", `LABEL a="open`} {
		if _, err := parseChange(bad); err == nil {
			t.Errorf("%q: accepted", bad)
		} else if strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: error of more than one line: %v", bad, err)
		}
	}
}

func TestComposeMaps(t *testing.T) {
	// The store's mapping: 0 → 1000, 1… → 100000….
	store := idmap.Mapping{{ContainerID: 0, HostID: 1000, Size: 1}, {ContainerID: 1, HostID: 100000, Size: 65536}}
	same := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}, {ContainerID: 1, HostID: 100000, Size: 65536}}
	if m := composeMaps(same, store); m != nil {
		t.Errorf("the same mapping: %v, want nil", m)
	}
	// keep-id: container 1000 → host 1000 (ns 0), 0..999 → 100000.. (ns 1..).
	keepID := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 1000}, {ContainerID: 1000, HostID: 1000, Size: 1}, {ContainerID: 1001, HostID: 101000, Size: 64536}}
	got := composeMaps(keepID, store)
	want := []idmap.Range{{ContainerID: 0, HostID: 1, Size: 1000}, {ContainerID: 1000, HostID: 0, Size: 1}, {ContainerID: 1001, HostID: 1001, Size: 64536}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("keep-id: %v, want %v", got, want)
	}
}

func TestCommitConfig(t *testing.T) {
	parent := v1.Image{Author: "old", Config: v1.ImageConfig{Env: []string{"PATH=/bin"}, Entrypoint: []string{"/ep"}, Cmd: []string{"def"},
		Labels: map[string]string{"a": "1"}}, History: []v1.History{{CreatedBy: "base"}}, RootFS: v1.RootFS{Type: "layers"}}
	spec := &specs.Spec{Process: &specs.Process{Args: []string{container.TinyInitPath, "--", "/ep", "run", "it"}, Cwd: "/",
		Env: []string{"PATH=/bin", "X=1", "HOSTNAME=abc", "HOME=/root", "container=oci", "TERM=xterm"}}}
	rec := &Record{Labels: map[string]string{"b": "2"}, Network: NetConfig{Ports: []netns.Port{{ContainerPort: 80, Proto: "tcp"}}}}
	noFiles := func(string) ([]byte, error) { return nil, os.ErrNotExist }
	img, h := commitConfig(parent, spec, rec, &container.State{}, nil, CommitOptions{Author: "me", Message: "msg"}, noFiles)
	c := img.Config
	if !reflect.DeepEqual(c.Entrypoint, []string{"/ep"}) || !reflect.DeepEqual(c.Cmd, []string{"run", "it"}) {
		t.Errorf("command: %v %v", c.Entrypoint, c.Cmd)
	}
	if !reflect.DeepEqual(c.Env, []string{"PATH=/bin", "X=1"}) {
		t.Errorf("env: %v", c.Env)
	}
	if c.WorkingDir != "" || c.Labels["a"] != "1" || c.Labels["b"] != "2" || len(c.ExposedPorts) != 1 {
		t.Errorf("config: %+v", c)
	}
	if c.User != "" {
		t.Errorf("user: %q, want the image's (root)", c.User)
	}
	spec.Process.User = specs.User{UID: 1000, GID: 100}
	if img, _ := commitConfig(parent, spec, rec, &container.State{}, nil, CommitOptions{}, noFiles); img.Config.User != "1000:100" {
		t.Errorf("user of a -u 1000:100 container: %q", img.Config.User)
	}
	// -u nobody: the name as typed, as docker keeps it (not 65534:65534).
	spec.Process.User = specs.User{UID: 65534, GID: 65534}
	named := *rec
	named.User = "nobody"
	if img, _ := commitConfig(parent, spec, &named, &container.State{}, nil, CommitOptions{}, noFiles); img.Config.User != "nobody" {
		t.Errorf("user of a -u nobody container: %q, want nobody", img.Config.User)
	}
	if img.Author != "me" || h.Author != "me" || h.Comment != "msg" || img.History != nil || parent.Config.Labels["b"] != "" {
		t.Errorf("image %+v history %+v (parent %+v)", img, h, parent.Config)
	}
}
