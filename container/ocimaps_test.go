package container

import (
	"reflect"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/urun-dev/urun/idmap"
)

func TestRootlessIDMaps(t *testing.T) {
	auto := idmap.Mapping{{ContainerID: 0, HostID: 1000, Size: 1}, {ContainerID: 1, HostID: 100000, Size: 65536}}
	// Real host ids the user owns: used as they are.
	own := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 10}}
	u, g, err := RootlessIDMaps(own, own, auto, auto)
	if err != nil || !reflect.DeepEqual(u, own) || !reflect.DeepEqual(g, own) {
		t.Errorf("owned ids: %v %v %v", u, g, err)
	}
	// runtime-tools' linux_uid_mappings: 0-1999 -> 1000-2999, read in the
	// user's rootless id space.
	cfg := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 2000}}
	u, _, err = RootlessIDMaps(cfg, cfg, auto, auto)
	want := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100999, Size: 2000}}
	if err != nil || !reflect.DeepEqual(u, want) {
		t.Errorf("composed: %v %v, want %v", u, err, want)
	}
	// A range across the user's own id and the subordinate ids splits.
	cfg = []specs.LinuxIDMapping{{ContainerID: 5, HostID: 0, Size: 3}}
	u, _, err = RootlessIDMaps(cfg, cfg, auto, auto)
	want = []specs.LinuxIDMapping{{ContainerID: 5, HostID: 1000, Size: 1}, {ContainerID: 6, HostID: 100000, Size: 2}}
	if err != nil || !reflect.DeepEqual(u, want) {
		t.Errorf("split: %v %v, want %v", u, err, want)
	}
	// Beyond the user's ids: an error naming the id.
	cfg = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 65000, Size: 1000}}
	if _, _, err := RootlessIDMaps(cfg, cfg, auto, auto); err == nil {
		t.Error("ids beyond the subordinate range were accepted")
	}
}

func TestHostRootWarning(t *testing.T) {
	outer := idmap.Mapping{{ContainerID: 0, HostID: 1000, Size: 1}, {ContainerID: 1, HostID: 100000, Size: 65536}}
	w := HostRootWarning("uidMappings", []specs.LinuxIDMapping{{ContainerID: 0, HostID: 0, Size: 1}}, outer)
	if !strings.Contains(w, "container id 0 to host id 0") || !strings.Contains(w, "your own id 1000") || strings.Contains(w, "\n") {
		t.Errorf("warning = %q", w)
	}
	if w := HostRootWarning("uidMappings", []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}}, outer); w != "" {
		t.Errorf("a map of the user's own id warned: %q", w)
	}
	if w := HostRootWarning("uidMappings", []specs.LinuxIDMapping{{ContainerID: 0, HostID: 0, Size: 1}}, idmap.Mapping{{ContainerID: 0, HostID: 0, Size: 1}}); w != "" {
		t.Errorf("root's own map warned: %q", w)
	}
}
